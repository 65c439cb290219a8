#!/usr/bin/env bash
# Installs dependencies, builds ipfixkit and runs the demo on built-in
# defaults: generate a sample IPFIX file, then decode it with `ipfix dump`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ipfix
mkdir -p out
ipfix=build/ipfix
echo "== ipfix generate -n 1000 -w out/demo.ipfix"
"$ipfix" generate -n 1000 -w out/demo.ipfix
echo "== ipfix dump out/demo.ipfix (first records)"
"$ipfix" dump out/demo.ipfix | head -n 8
echo "== ipfix dump --json out/demo.ipfix (first records)"
"$ipfix" dump --json out/demo.ipfix | head -n 4
echo "== ipfix dump --count out/demo.ipfix"
"$ipfix" dump --count out/demo.ipfix
