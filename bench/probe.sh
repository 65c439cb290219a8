#!/usr/bin/env bash
# Metering benchmark: `ipfix probe -r` against `softflowd -r` on the same
# synthetic pcap, same flow definition (5-tuple, unidirectional records) and
# timeouts (idle 15 s, active 1800 s), both exporting IPFIX over UDP to a
# local discard receiver.
#
#   bash bench/probe.sh                       # 5M packets, 200k flows, then 10M / 1M flows
#   PACKETS=2000000 FLOWS=100000 SCENARIOS=1 bash bench/probe.sh   # quicker
#
# The pcap comes from tools/gen_probe_bench.c (IMIX frame sizes, 90% IPv4,
# TCP/UDP/ICMP mix, half the packets on 1% heavy flows, 96-byte snap
# length, spread over DURATION seconds of packet time so that all flows are
# concurrent and no timeout splits any: softflowd checks its timeouts
# against the wall clock when reading a file, so with a longer trace the
# two tools would not see the same flows; here both must export exactly
# FLOWS flows). Each tool runs pinned to one core (taskset -c $CPU), REPEAT
# times, best wall-clock time kept (process start to exit, file reading
# included); the receiver runs on another core when there is one.
# Printed per tool: packets/s, flows exported, and the ratio. softflowd
# counts frame bytes, ipfix probe IP bytes, so octets are not compared.
#
# Env: PACKETS (5000000), FLOWS (200000), PACKETS2 (10000000), FLOWS2
#      (1000000), SCENARIOS (2: also the PACKETS2/FLOWS2 one), DURATION (10),
#      REPEAT (3), CPU (0), MEMORY (ipfix probe cache budget, 128M: 1.2M flows),
#      BUILD_DIR (build-bench-probe, Release), TMPDIR.
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build-bench-probe}
PACKETS=${PACKETS:-5000000}
FLOWS=${FLOWS:-200000}
PACKETS2=${PACKETS2:-10000000}
FLOWS2=${FLOWS2:-1000000}
SCENARIOS=${SCENARIOS:-2}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
CPU=${CPU:-0}
MEMORY=${MEMORY:-128M}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

echo "== building ipfix (Release) in $BUILD_DIR"
cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target ipfix gen_probe_bench >/dev/null
IPFIX=$BUILD_DIR/ipfix
GEN=$BUILD_DIR/gen_probe_bench

PIN=()
command -v taskset >/dev/null 2>&1 && PIN=(taskset -c "$CPU")
OTHER_CPU=$(( (CPU + 1) % $(nproc) ))

T=$(mktemp -d "${TMPDIR:-/tmp}/bench_probe.XXXXXX")
RECV_PID=
cleanup() { [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# discard receiver so that both exporters send to a live port
"$PY" - "$T/port" <<'EOF' &
import socket, sys, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    s.recv(65535)
EOF
RECV_PID=$!
command -v taskset >/dev/null 2>&1 && taskset -pc "$OTHER_CPU" "$RECV_PID" >/dev/null 2>&1 || true
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port")

now() { date +%s.%N; }

# best of REPEAT: sets BEST (seconds) and keeps the last output in $2
measure() { # label outfile cmd...
  local label=$1 out=$2; shift 2
  BEST=
  for _ in $(seq "$REPEAT"); do
    local t0 t1
    t0=$(now)
    "$@" > "$out" 2>&1 || { tail -5 "$out" >&2; echo "$label failed" >&2; exit 1; }
    t1=$(now)
    BEST=$(echo "$t0 $t1 ${BEST:-}" | awk '{d=$2-$1; if ($3=="" || d<$3) print d; else print $3}')
  done
}

scenario() { # packets flows
  local packets=$1 flows=$2 pcap=$T/bench.pcap
  echo
  echo "== $packets packets, $flows flows, $DURATION s of packet time"
  "$GEN" "$pcap" "$packets" "$flows" "$DURATION" 1
  ls -la "$pcap" | awk '{printf "pcap: %.0f MB\n", $5/1e6}'
  cat "$pcap" > /dev/null # page cache

  measure "ipfix probe" "$T/ipfix.out" "${PIN[@]}" "$IPFIX" probe -r "$pcap" -e "udp://127.0.0.1:$PORT" \
    --idle-timeout 15 --active-timeout 1800 -m "$MEMORY" --stats-interval 0 --no-progress
  local ipfix_s=$BEST
  local ipfix_flows ipfix_bpf
  ipfix_flows=$(sed -n 's/.*flows: [0-9]* created, \([0-9]*\) exported.*/\1/p' "$T/ipfix.out")
  ipfix_bpf=$(sed -n 's/.*bytes, \([0-9]*\) bytes per flow.*/\1/p' "$T/ipfix.out")
  grep -q "not sent: 0 records" "$T/ipfix.out" || { cat "$T/ipfix.out"; echo "ipfix probe lost records"; }

  local sf_s=NA sf_flows=NA
  if command -v softflowd >/dev/null 2>&1; then
    # never add -c after -r (it can hang)
    measure "softflowd" "$T/softflowd.out" "${PIN[@]}" timeout 600 softflowd -r "$pcap" \
      -n "127.0.0.1:$PORT" -v 10 -d -a -A milli -m $((flows * 2 + 65536)) \
      -t maxlife=1800 -t general=15 -t tcp=15 -t udp=15 -t icmp=15 -t tcp.rst=15 -t tcp.fin=15 \
      -t expint=1
    sf_s=$BEST
    sf_flows=$(sed -n 's/^Flows exported: \([0-9]*\).*/\1/p' "$T/softflowd.out")
  else
    echo "(softflowd not installed: Debian package softflowd)"
  fi

  awk -v p="$packets" -v a="$ipfix_s" -v b="$sf_s" -v fa="$ipfix_flows" -v fb="$sf_flows" -v bpf="$ipfix_bpf" 'BEGIN {
    printf "%-12s %10s %14s %10s\n", "tool", "seconds", "packets/s", "flows"
    printf "%-12s %10.3f %14.0f %10s   (%s bytes per cached flow)\n", "ipfix probe", a, p / a, fa, bpf
    if (b != "NA") {
      printf "%-12s %10.3f %14.0f %10s\n", "softflowd", b, p / b, fb
      printf "ratio: ipfix probe is %.1fx softflowd\n", b / a
    }
  }'
}

scenario "$PACKETS" "$FLOWS"
[ "$SCENARIOS" -ge 2 ] && scenario "$PACKETS2" "$FLOWS2"
exit 0
