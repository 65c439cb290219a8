#!/usr/bin/env bash
# bench/collect.sh — collecting throughput: `ipfix collect` vs nfcapd.
#
# tools/ipfix_test_sender (replay mode) prebuilds an IPFIX stream (one
# template, then ~1400-byte messages of 25 typical IPv4 flow records) and
# sends RECORDS records over loopback as fast as it can (or at each rate of
# RATES, records/s), renumbering sequence numbers so the stream is gap-free.
# For each offered rate:
#   ipfix collect -w DIR (UDP)   records stored, records lost (sequence gaps)
#   nfcapd -w DIR (UDP)          records stored (nfdump -I "Flows"), lost = sent - stored
#   ipfix collect -w DIR (TCP)   records stored (must be all), records/s
# records/s stored = records stored / the sender's time (over TCP the sender
# waits until the collector's kernel acknowledged everything; the collectors'
# final counts are taken after they have drained: ipfix collect's statistics
# are polled until they stop moving, nfcapd is stopped after 0.5 s).
# Prints one line per run and the ipfix/nfcapd ratio of stored records/s.
#
# Usage: bench/collect.sh [RECORDS]
#   env: BUILD_DIR, RATES="max 4000000", COLLECT_ARGS="--workers 1" (extra options),
#        CPU_COLLECTOR (0), CPU_SENDER (1): the cores they are pinned to
# Needs root for SO_RCVBUFFORCE / raising net.core.rmem_max.
set -uo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
IPFIX=$BUILD_DIR/ipfix
SENDER=$BUILD_DIR/ipfix_test_sender
RECORDS=${1:-10000000}
RATES=${RATES:-max}
RCVBUF=33554432
# the collector (all its threads) on one core, the sender on the other
CPU_COLLECTOR=${CPU_COLLECTOR:-0}
CPU_SENDER=${CPU_SENDER:-$(( $(nproc) > 1 ? 1 : 0 ))}

[ -x "$IPFIX" ] && [ -x "$SENDER" ] || { echo "build first (BUILD_DIR=$BUILD_DIR)" >&2; exit 1; }
sysctl -q -w net.core.rmem_max=268435456 2>/dev/null ||
  echo "note: could not raise net.core.rmem_max ($(sysctl -n net.core.rmem_max))" >&2

T=$(mktemp -d "${TMPDIR:-/tmp}/bench-collect.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
offered() { sed -n -E 's/.*\(([0-9]+) rec\/s\).*/\1/p' "$T/sender.out"; }
sent_seconds() { sed -n -E 's/.* in ([0-9.]+) s .*/\1/p' "$T/sender.out"; }

# Records processed so far by `ipfix collect` (SIGUSR1 -> stats file).
collect_records() { # pid stats
  kill -USR1 "$1" 2>/dev/null
  sleep 0.05
  sed -n -E 's/^total: .* records ([0-9]+) .* lost ([0-9]+) .*/\1 \2/p' "$2" 2>/dev/null
}

run_ipfix() { # proto rate -> "stored lost seconds"
  local proto=$1 rate=$2 port dir=$T/ipfix-$1-$2 stats=$T/stats-$1-$2
  port=$(free_port)
  taskset -c "$CPU_COLLECTOR" "$IPFIX" collect --listen "$proto://127.0.0.1:$port" -w "$dir" --stats "$stats" \
    --stats-interval 3600 --rcvbuf $RCVBUF ${COLLECT_ARGS:-} 2>"$T/collect.err" >/dev/null &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do grep -q "listening on" "$T/collect.err" && break; sleep 0.05; done
  local extra=()
  [ "$rate" != max ] && extra=(--rate "$rate")
  local last="" cur
  timeout 120 taskset -c "$CPU_SENDER" "$SENDER" replay --"$proto" --port "$port" --records "$RECORDS" "${extra[@]}" \
    > "$T/sender.out" || echo "sender failed" >&2
  # wait until the collector's count stops moving
  for _ in $(seq 200); do
    cur=$(collect_records "$pid" "$stats")
    [ -n "$cur" ] && [ "$cur" = "$last" ] && break
    last=$cur
    sleep 0.1
  done
  kill -TERM "$pid"; wait "$pid"
  read -r stored lost <<< "$cur"
  echo "$stored $lost $(sent_seconds) $(offered)"
  rm -rf "$dir"
}

run_nfcapd() { # rate -> "stored lost seconds"
  local rate=$1 port dir=$T/nfcapd-$1
  mkdir -p "$dir"
  port=$(free_port)
  taskset -c "$CPU_COLLECTOR" nfcapd -w "$dir" -p "$port" -B $RCVBUF > "$T/nfcapd.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  sleep 0.5
  local extra=()
  [ "$rate" != max ] && extra=(--rate "$rate")
  timeout 120 taskset -c "$CPU_SENDER" "$SENDER" replay --udp --port "$port" --records "$RECORDS" "${extra[@]}" \
    > "$T/sender.out" || echo "sender failed" >&2
  sleep 0.5
  kill -TERM "$pid"; wait "$pid"
  local stored
  stored=$(nfdump -R "$dir" -I 2>/dev/null | awk '/^Flows:/{print $2}')
  echo "${stored:-0} $((RECORDS - ${stored:-0})) $(sent_seconds) $(offered)"
  rm -rf "$dir"
}

report() { # label offered stored lost seconds
  local rate
  rate=$(echo "$3 / $5" | bc)
  printf "%-22s offered %10s rec/s  stored %10s  lost %10s (%5.2f%%)  %10s rec/s stored\n" \
    "$1" "$2" "$3" "$4" "$(echo "100 * $4 / $RECORDS" | bc -l)" "$rate"
  LAST_RATE=$rate
}

# Warm the page cache: on a VM, memory the guest has never touched costs a
# host page fault per 4 KiB the first time (seen here: 0.3 GB/s for the
# first write of a file, 3 GB/s after), which would penalise whichever
# collector runs first. Write and delete a file as large as one run stores.
warm_page_cache() {
  dd if=/dev/zero of="$T/warm" bs=4M count=$(( RECORDS * 60 / 4194304 + 1 )) status=none
  rm -f "$T/warm"
}

echo "bench/collect: $RECORDS records per run, $(nproc) CPUs, $(nfcapd -V 2>&1 | head -1)"
for rate in $RATES; do
  warm_page_cache
  read -r s l t o <<< "$(run_ipfix udp "$rate")"; report "ipfix collect UDP" "$o" "$s" "$l" "$t"
  IPFIX_UDP=$LAST_RATE
  if command -v nfcapd >/dev/null 2>&1; then
    warm_page_cache
    read -r s l t o <<< "$(run_nfcapd "$rate")"; report "nfcapd UDP" "$o" "$s" "$l" "$t"
    NF_UDP=$LAST_RATE
    echo "ratio ipfix collect / nfcapd (UDP, stored rec/s): $(echo "scale=2; $IPFIX_UDP / $NF_UDP" | bc)"
  fi
  warm_page_cache
  read -r s l t o <<< "$(run_ipfix tcp "$rate")"; report "ipfix collect TCP" "$o" "$s" "$l" "$t"
done
