#!/usr/bin/env bash
# Installs dependencies, builds ipfixkit and runs the demo pipeline on
# built-in defaults, all on loopback:
#   a generated pcap (200k packets, 5000 flows)
#   -> ipfix probe (metering + export over UDP)
#   -> ipfix collect (stores rotated IPFIX files under out/flows/)
#   -> ipfix dump / ipfix query (top talkers) on the stored files.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ipfix gen_probe_bench >/dev/null
ipfix=build/ipfix
out=out
rm -rf "$out/flows"
mkdir -p "$out"

echo "== a sample trace: 200000 packets, 5000 flows over 60 s (tools/gen_probe_bench)"
build/gen_probe_bench "$out/demo.pcap" 200000 5000 60

port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== ipfix collect --listen udp://127.0.0.1:$port -w $out/flows"
"$ipfix" collect --listen "udp://127.0.0.1:$port" -w "$out/flows" 2>"$out/collect.log" &
collector=$!
trap 'kill "$collector" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out/collect.log" && break; sleep 0.05; done

echo "== ipfix probe -r $out/demo.pcap -e udp://127.0.0.1:$port"
"$ipfix" probe -r "$out/demo.pcap" -e "udp://127.0.0.1:$port"
sleep 0.5
kill -TERM "$collector"
wait "$collector" || true
trap - EXIT
echo "== the collector's statistics"
grep -E "^(exporter|total)" "$out/collect.log"

echo "== stored files"
find "$out/flows" -name '*.ipfix' | sort
file=$(find "$out/flows" -name '*.ipfix' | sort | head -1)
echo "== ipfix dump (first records of $file)"
{ "$ipfix" dump "$file" | grep -m 3 '^record'; } || true  # grep stops dump early (SIGPIPE)
echo "== ipfix dump --count"
"$ipfix" dump --count "$file"
echo "== ipfix query: top 10 source addresses by bytes"
"$ipfix" query --group-by srcip --top 10 --order bytes "$out/flows"
echo "== ipfix query: TCP flows to port 443, totals"
"$ipfix" query --totals "$out/flows" 'proto tcp and dst port 443'
echo "== ipfix query: bytes per 10 s"
"$ipfix" query --interval 10s --totals "$out/flows"
