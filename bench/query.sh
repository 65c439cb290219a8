#!/usr/bin/env bash
# bench/query.sh — query speed: `ipfix query` vs nfdump on the same flows.
#
# Input: tools/ipfix_test_sender (replay mode) prebuilds an IPFIX stream of
# 200 000 distinct typical IPv4 flow records (~1400-byte messages of 25
# records; 2/3 TCP to port 443, 1/3 UDP to 53; ~130 000 source addresses)
# and sends RECORDS records of it:
#   - over TCP to `ipfix collect -w DIR --rotate ROTATE` (lossless; stored as
#     IPFIX files rotated every ROTATE (2) seconds, so 50M records make a
#     handful of files that the query reads in parallel),
#   - over UDP to nfcapd at NFCAPD_RATE records/s (default 1M/s: nfcapd
#     stores everything at that rate on this machine; the script checks
#     nfdump's flow count and says so if anything was lost).
# The two runs send the same records (keys, counters); only the timestamps
# differ (the sender stamps them with the time of its start), which none of
# the measured queries looks at. The answers of both tools are compared.
#
# Measured (wall clock, output to /dev/null, inputs in the page cache; each
# command once, the fast ones best of REPEAT):
#   A. filter + top-N: -s srcip/bytes -n 10 'proto tcp and dst port 443'
#   B. top-N without filter: -s srcip/bytes -n 10
#   C. CSV listing of every record (nfdump -o csv is slow: it is measured on
#      its first NFDUMP_CSV_RECORDS records with -c and its rate extrapolated)
#   D. JSON Lines listing (same treatment; nfdump -o json)
# and prints records/s of each tool and the ratios ipfix/nfdump.
#
# Usage: bench/query.sh           (RECORDS=50000000: ~5 minutes)
#        RECORDS=5000000 bench/query.sh
# env: BUILD_DIR (Release build, made if missing; default build-query-release),
#      RECORDS, NFCAPD_RATE, NFDUMP_CSV_RECORDS (2000000), REPEAT (2), ROTATE (2),
#      KEEP_DATA=DIR (keep/reuse the stored data in DIR).
set -uo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build-query-release}
RECORDS=${RECORDS:-50000000}
NFCAPD_RATE=${NFCAPD_RATE:-1000000}
NFDUMP_CSV_RECORDS=${NFDUMP_CSV_RECORDS:-2000000}
REPEAT=${REPEAT:-2}
FILTER='proto tcp and dst port 443'

for tool in nfcapd nfdump python3; do
  command -v $tool >/dev/null 2>&1 || { echo "$tool is needed (Debian package nfdump)" >&2; exit 1; }
done
if [ ! -x "$BUILD_DIR/ipfix" ] || [ ! -x "$BUILD_DIR/ipfix_test_sender" ]; then
  echo "building a Release build in $BUILD_DIR ..." >&2
  cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release > /dev/null &&
    cmake --build "$BUILD_DIR" -j2 --target ipfix ipfix_test_sender > /dev/null ||
    { echo "build failed" >&2; exit 1; }
fi
IPFIX=$BUILD_DIR/ipfix
SENDER=$BUILD_DIR/ipfix_test_sender

if [ -n "${KEEP_DATA:-}" ]; then
  T=$KEEP_DATA; mkdir -p "$T"
else
  T=$(mktemp -d "${TMPDIR:-/tmp}/bench-query.XXXXXX")
fi
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -z "${KEEP_DATA:-}" ] && rm -rf "$T"
}
trap cleanup EXIT
sysctl -q -w net.core.rmem_max=268435456 2>/dev/null || true

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }

echo "bench/query: $RECORDS records; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------- ingest
if [ ! -f "$T/ipfix.done" ]; then
  rm -rf "$T/ipfix"; mkdir -p "$T/ipfix"
  port=$(free_port)
  "$IPFIX" collect --listen "tcp://127.0.0.1:$port" -w "$T/ipfix" --no-fsync --rotate "${ROTATE:-2}" \
    2> "$T/collect.err" > /dev/null &
  cpid=$!; PIDS+=("$cpid")
  for _ in $(seq 100); do grep -q "listening on" "$T/collect.err" && break; sleep 0.05; done
  t0=$(now)
  "$SENDER" replay --tcp --host 127.0.0.1 --port "$port" --records "$RECORDS" > "$T/sender-ipfix.out" ||
    { echo "sender (tcp) failed" >&2; exit 1; }
  kill -TERM "$cpid"; wait "$cpid"
  echo "ingest: ipfix collect (TCP): $(cat "$T/sender-ipfix.out"); stored in $(find "$T/ipfix" -name '*.ipfix' | wc -l) files, $(du -sh "$T/ipfix" | cut -f1) ($(echo "$(now) - $t0" | bc) s)"
  touch "$T/ipfix.done"
fi
if [ ! -f "$T/nfcapd.done" ]; then
  rm -rf "$T/nfcapd"; mkdir -p "$T/nfcapd"
  port=$(free_port)
  nfcapd -w "$T/nfcapd" -p "$port" -b 127.0.0.1 -B 67108864 -t 3600 > "$T/nfcapd.log" 2>&1 &
  npid=$!; PIDS+=("$npid")
  for _ in $(seq 100); do grep -q "Startup" "$T/nfcapd.log" 2>/dev/null && break; sleep 0.05; done
  "$SENDER" replay --udp --host 127.0.0.1 --port "$port" --records "$RECORDS" --rate "$NFCAPD_RATE" \
    > "$T/sender-nfcapd.out" || { echo "sender (udp) failed" >&2; exit 1; }
  sleep 1
  kill -TERM "$npid"; wait "$npid"
  echo "ingest: nfcapd (UDP, --rate $NFCAPD_RATE): $(cat "$T/sender-nfcapd.out"); $(grep -o 'Flows: [0-9]*.*' "$T/nfcapd.log" | head -1)"
  touch "$T/nfcapd.done"
fi
NF_FLOWS=$(nfdump -R "$T/nfcapd" -I | sed -n 's/^Flows: //p' | head -1)
IP_FLOWS=$("$IPFIX" query -q --csv --totals "$T/ipfix" | tail -1 | cut -d, -f1)
echo "stored: ipfix $IP_FLOWS flow records ($(du -sh "$T/ipfix" | cut -f1)), nfcapd $NF_FLOWS ($(du -sh "$T/nfcapd" | cut -f1))"
[ "$NF_FLOWS" = "$IP_FLOWS" ] || echo "NOTE: nfcapd stored $NF_FLOWS records, ipfix collect $IP_FLOWS: rates below are per record each tool read"

# warm the page cache
cat "$T"/ipfix/*/*/*/*.ipfix > /dev/null; cat "$T"/nfcapd/nfcapd.* > /dev/null

# time CMD...: best wall-clock seconds of REPEAT runs (1 run if it takes > 20 s)
best() {
  local b= t s e i
  for i in $(seq "$REPEAT"); do
    s=$(now); "$@" > /dev/null 2>&1; e=$(now)
    t=$(echo "$e - $s" | bc)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    [ "$(echo "$t > 20" | bc)" = 1 ] && break
  done
  echo "$b"
}
rate() { echo "scale=2; $1 / $2 / 1000000" | bc; }
ratio() { echo "scale=1; $1 / $2" | bc; }

row() { # label records_ipfix seconds_ipfix records_nf seconds_nf
  local ri rn
  ri=$(rate "$2" "$3"); rn=$(rate "$4" "$5")
  printf "%-34s ipfix %7.3f s %8sM rec/s | nfdump %8.3f s %7sM rec/s | ratio %6sx\n" \
    "$1" "$3" "$ri" "$5" "$rn" "$(ratio "$ri" "$rn")"
}

# ---------------------------------------------------------- answers agree
"$IPFIX" query -q --csv -g srcip --top 10 --order bytes "$T/ipfix" "$FILTER" | tail -n +2 | cut -d, -f1-4 > "$T/ans-ipfix.txt"
nfdump -R "$T/nfcapd" -s srcip/bytes -n 10 -o csv "$FILTER" | sed -n '2,11p' |
  awk -F, '{print $5","$6","$8","$10}' > "$T/ans-nfdump.txt"
if cmp -s <(cut -d, -f2- "$T/ans-ipfix.txt") <(cut -d, -f2- "$T/ans-nfdump.txt"); then
  echo "answers: top 10 srcip by bytes for '$FILTER': same counters from both tools"
else
  echo "answers differ (top 10 srcip by bytes):"; paste -d'|' "$T/ans-ipfix.txt" "$T/ans-nfdump.txt"
fi

# ------------------------------------------------------------- measure
echo
A_I=$(best "$IPFIX" query -q -g srcip --top 10 --order bytes "$T/ipfix" "$FILTER")
A_N=$(best nfdump -R "$T/nfcapd" -s srcip/bytes -n 10 "$FILTER")
row "A filter + top-10 srcip/bytes" "$IP_FLOWS" "$A_I" "$NF_FLOWS" "$A_N"
B_I=$(best "$IPFIX" query -q -g srcip --top 10 --order bytes "$T/ipfix")
B_N=$(best nfdump -R "$T/nfcapd" -s srcip/bytes -n 10)
row "B top-10 srcip/bytes (no filter)" "$IP_FLOWS" "$B_I" "$NF_FLOWS" "$B_N"
C_I=$(best "$IPFIX" query -q --csv "$T/ipfix")
C_N=$(best nfdump -R "$T/nfcapd" -q -o csv -c "$NFDUMP_CSV_RECORDS")
row "C CSV listing (nfdump: first $NFDUMP_CSV_RECORDS)" "$IP_FLOWS" "$C_I" "$NFDUMP_CSV_RECORDS" "$C_N"
D_I=$(best "$IPFIX" query -q --json "$T/ipfix")
D_N=$(best nfdump -R "$T/nfcapd" -q -o json -c "$NFDUMP_CSV_RECORDS")
row "D JSON listing (nfdump: first $NFDUMP_CSV_RECORDS)" "$IP_FLOWS" "$D_I" "$NFDUMP_CSV_RECORDS" "$D_N"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
