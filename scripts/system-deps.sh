#!/usr/bin/env bash
# Installs the Debian packages the integration tests run for real: InfluxDB 1.x, librdkafka's
# mock cluster (headers + library) and a C compiler for it, the OpenStack monasca CLI, and
# OpenJDK 17 for Elasticsearch and OpenSearch, PostgreSQL (the alert engine's shared store)
# and Python's aiosmtpd (the SMTP server email notifications are tested against).
# Idempotent: installs only what is missing.
set -euo pipefail

need=()
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || need+=(librdkafka-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v monasca >/dev/null 2>&1 || need+=(python3-monascaclient)
# Elasticsearch and OpenSearch run on Debian's Java 17, not their bundled JDKs (scripts/search-engines.sh).
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || need+=(openjdk-17-jre-headless)
# The tests start their own PostgreSQL from these binaries (initdb on a temp dir, 127.0.0.1).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/aiosmtpd ] || need+=(python3-aiosmtpd)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "system-deps: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "system-deps: MISSING ${need[*]} and not root: run 'apt-get install -y ${need[*]}' as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
