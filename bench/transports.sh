#!/usr/bin/env bash
# bench/transports.sh — the same export over every transport: `ipfix probe`
# meters one synthetic pcap (tools/gen_probe_bench.c) and exports it to
# `ipfix collect` over UDP, TCP, TLS, DTLS, SCTP over UDP (RFC 6951) and, with
# raw sockets (root), native SCTP on
# loopback; per transport: flow records received by the collector (its own
# statistics), records lost, wall time of the probe (start to exit: reading,
# metering, export and, for TCP/TLS/SCTP, delivery), records/s and the ratio
# to UDP. The probe is the sender, so this measures the whole exporter over
# each transport (metering included), not a transport in isolation. The
# collector only counts (no -w), probe and collector pinned to different
# cores, best of REPEAT runs.
#
# Usage: bench/transports.sh          env: PACKETS (4000000), FLOWS (1000000),
#        REPEAT (2), BUILD_DIR (build-bench-transports, Release), TMPDIR
set -uo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build-bench-transports}
PACKETS=${PACKETS:-4000000}
FLOWS=${FLOWS:-1000000}
REPEAT=${REPEAT:-2}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target ipfix gen_probe_bench >/dev/null ||
  { echo "build failed" >&2; exit 1; }
IPFIX=$BUILD_DIR/ipfix
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-transports.XXXXXX")
CPID=
cleanup() { [ -n "$CPID" ] && kill -KILL "$CPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

sysctl -q -w net.core.rmem_max=268435456 2>/dev/null || true
bash "$SOURCE_DIR/tests/tls/make_certs.sh" "$T/pki" >/dev/null || { echo "PKI failed" >&2; exit 1; }
"$BUILD_DIR/gen_probe_bench" "$T/trace.pcap" "$PACKETS" "$FLOWS" 10 >/dev/null
cat "$T/trace.pcap" > /dev/null
CPU_PROBE=0
CPU_COLLECT=$(( $(nproc) > 1 ? 1 : 0 ))

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

run() { # scheme -> "records lost seconds"
  local scheme=$1 port sec=() log=$T/collect.err
  port=$(free_port)
  case $scheme in tls|dtls) sec=(--cert "$T/pki/collector.pem" --key "$T/pki/collector.key"
                                 --ca "$T/pki/ca.pem");; esac
  taskset -c "$CPU_COLLECT" "$IPFIX" collect --listen "$scheme://127.0.0.1:$port" "${sec[@]}" \
    --workers 1 2>"$log" >/dev/null &
  CPID=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
  case $scheme in tls|dtls) sec=(--cert "$T/pki/exporter.pem" --key "$T/pki/exporter.key"
                                 --ca "$T/pki/ca.pem");; esac
  local t0 t1
  t0=$(date +%s.%N)
  taskset -c "$CPU_PROBE" "$IPFIX" probe -r "$T/trace.pcap" -e "$scheme://127.0.0.1:$port" \
    "${sec[@]}" -q 2>"$T/probe.err"
  t1=$(date +%s.%N)
  sleep 0.5
  kill -TERM "$CPID"; wait "$CPID"; CPID=
  local total records lost
  total=$(grep "^total:" "$log")
  records=$(echo "$total" | sed -n -E 's/.* records ([0-9]+) .*/\1/p')
  lost=$(echo "$total" | sed -n -E 's/.* lost ([0-9]+) .*/\1/p')
  echo "${records:-0} ${lost:-?} $(echo "$t1 - $t0" | bc)"
}

echo "bench/transports: $PACKETS packets, $FLOWS flows, best of $REPEAT, $(nproc) CPUs"
printf "%-10s %12s %8s %9s %14s %8s\n" transport records lost seconds "records/s" "vs udp"
UDP_RATE=
SCHEMES="udp tcp tls dtls sctp+udp"
# native SCTP needs raw IP sockets (root or CAP_NET_RAW)
if /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)' 2>/dev/null; then
  SCHEMES="$SCHEMES sctp"
fi
for scheme in $SCHEMES; do
  best=
  for _ in $(seq "$REPEAT"); do
    read -r rec lost sec <<< "$(run "$scheme")"
    if [ -z "$best" ] || [ "$(echo "$sec < $best" | bc)" = 1 ]; then best=$sec; brec=$rec; blost=$lost; fi
  done
  rate=$(echo "$brec / $best" | bc)
  [ "$scheme" = udp ] && UDP_RATE=$rate
  printf "%-10s %12s %8s %9.3f %14s %8s\n" "$scheme" "$brec" "$blost" "$best" "$rate" \
    "$(echo "scale=2; $rate / $UDP_RATE" | bc)"
done
