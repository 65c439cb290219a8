#!/usr/bin/env bash
# Decode benchmark: ipfixkit's `ipfix dump` against libfixbuf's ipfixDump.
#
#   bash bench/decode.sh                 # 10M records, ~2-3 minutes on 2 cores
#   RECORDS=2000000 bash bench/decode.sh # quicker
#
# Builds ipfix (Release) in $BUILD_DIR (default build-bench/), writes a
# RECORDS-record sample file with `ipfix generate` (IPv4/IPv6 5-tuple, TCP
# flags, octet/packet counters, millisecond start/end, end reason, ingress
# interface, class of service: 53 or 77 bytes per record), and measures on
# one core (taskset -c 0), wall clock, output to /dev/null:
#   ipfix dump FILE            full text, one line per record
#   ipfix dump --json FILE     JSON Lines
#   ipfix dump --count FILE    decode every field of every record, print counters
#   ipfixDump -i FILE          libfixbuf's full text dump
#   ipfixDump -s -i FILE       libfixbuf's statistics only
# ipfixDump runs at ~0.1-0.3M records/s: when the full file would take it more
# than IPFIXDUMP_MAX_SECONDS (60), it runs on the first SUBSET records
# (default 1M: a second file generated with the same seed) and ipfix is
# measured on that subset too, so that every ratio compares the same input.
# Commands that take under 10 s are run REPEAT times (default 3), best kept.
#
# Env: RECORDS (10000000), SUBSET (1000000), SEED (1), REPEAT (3),
#      IPFIXDUMP_MAX_SECONDS (60), BUILD_DIR, CPU (0: the core for taskset).
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build-bench}
RECORDS=${RECORDS:-10000000}
SUBSET=${SUBSET:-1000000}
SEED=${SEED:-1}
REPEAT=${REPEAT:-3}
MAX_FB=${IPFIXDUMP_MAX_SECONDS:-60}
CPU=${CPU:-0}
[ "$SUBSET" -le "$RECORDS" ] || SUBSET=$RECORDS

for tool in cmake taskset awk; do
  command -v $tool >/dev/null || { echo "decode.sh: $tool not found (run scripts/setup-deps.sh)" >&2; exit 1; }
done
HAVE_FB=1
command -v ipfixDump >/dev/null || { HAVE_FB=0; echo "decode.sh: ipfixDump not found (libfixbuf-tools): measuring ipfix only" >&2; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== building ipfix (Release) in $BUILD_DIR"
cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target ipfix >/dev/null
IPFIX=$BUILD_DIR/ipfix

W=$(mktemp -d "${TMPDIR:-/tmp}/ipfix-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a-b}'; }

# time_cmd OUTVAR cmd... : best wall time of up to REPEAT runs (one run if it takes >= 10 s)
time_cmd() {
  local __var=$1; shift
  local best="" t s e i
  for i in $(seq "$REPEAT"); do
    s=$(now)
    taskset -c "$CPU" "$@" >/dev/null || { echo "decode.sh: '$*' failed (exit $?)" >&2; exit 1; }
    e=$(now)
    t=$(sub "$e" "$s")
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$t; fi
    awk -v a="$t" 'BEGIN{exit !(a>=10)}' && break
  done
  printf -v "$__var" '%s' "$best"
}

# records (data + options) in FILE according to ipfix dump --count
ipfix_records() {
  "$IPFIX" dump --count "$1" | awk -F': *' '$1=="data_records"||$1=="options_records"{n+=$2} END{print n}'
}
fixbuf_records() {
  ipfixDump -s -i "$1" | sed -n -E 's/.*File Stats: [0-9]+ Messages, ([0-9]+) Data Records.*/\1/p'
}

echo "== generating $RECORDS records (seed $SEED)"
s=$(now)
taskset -c "$CPU" "$IPFIX" generate -q -n "$RECORDS" --seed "$SEED" -w "$W/full.ipfix"
GEN_T=$(sub "$(now)" "$s")
SIZE=$(stat -c %s "$W/full.ipfix")
NREC=$(ipfix_records "$W/full.ipfix")
NMSG=$("$IPFIX" dump --count "$W/full.ipfix" | awk -F': *' '$1=="messages"{print $2}')
cat "$W/full.ipfix" > /dev/null   # page cache warm for everybody

RESULTS=()   # "label|file|records|seconds"
add() { RESULTS+=("$1|$2|$3|$4"); }

echo "== ipfix dump on the full file"
time_cmd T1 "$IPFIX" dump "$W/full.ipfix";          add "ipfix dump (text)" full "$NREC" "$T1"
time_cmd T2 "$IPFIX" dump --json "$W/full.ipfix";   add "ipfix dump --json" full "$NREC" "$T2"
time_cmd T3 "$IPFIX" dump --count "$W/full.ipfix";  add "ipfix dump --count" full "$NREC" "$T3"

FB_NOTE=""
if [ $HAVE_FB = 1 ]; then
  if [ "$SUBSET" -lt "$RECORDS" ]; then
    taskset -c "$CPU" "$IPFIX" generate -q -n "$SUBSET" --seed "$SEED" -w "$W/subset.ipfix"
    cat "$W/subset.ipfix" > /dev/null
    SREC=$(ipfix_records "$W/subset.ipfix")
    [ "$(fixbuf_records "$W/subset.ipfix")" = "$SREC" ] ||
      { echo "decode.sh: ipfixDump and ipfix count different records in the subset file" >&2; exit 1; }
    echo "== ipfixDump on the $SUBSET-record subset (same seed)"
    time_cmd F1s ipfixDump -i "$W/subset.ipfix"
    time_cmd F2s ipfixDump -s -i "$W/subset.ipfix"
    # would the full file stay under the limit?
    EST1=$(awk -v t="$F1s" -v n="$NREC" -v m="$SREC" 'BEGIN{printf "%.0f", t*n/m}')
    EST2=$(awk -v t="$F2s" -v n="$NREC" -v m="$SREC" 'BEGIN{printf "%.0f", t*n/m}')
  else
    EST1=0; EST2=0
  fi
  run_full_fb() { # label estimate args...
    local label=$1 est=$2; shift 2
    if [ "$est" -le "$MAX_FB" ]; then
      echo "== $label on the full file"
      time_cmd FT ipfixDump "$@" -i "$W/full.ipfix"; add "$label" full "$NREC" "$FT"
      return 0
    fi
    return 1
  }
  SUBSET_USED=0
  run_full_fb "ipfixDump -i (text)" "$EST1" || { add "ipfixDump -i (text)" subset "$SREC" "$F1s"; SUBSET_USED=1
    FB_NOTE+="  ipfixDump -i on the full file would take ~${EST1} s (> ${MAX_FB} s): measured on the first $SUBSET records"$'\n'; }
  run_full_fb "ipfixDump -s" "$EST2" -s || { add "ipfixDump -s" subset "$SREC" "$F2s"; SUBSET_USED=1
    FB_NOTE+="  ipfixDump -s on the full file would take ~${EST2} s (> ${MAX_FB} s): measured on the first $SUBSET records"$'\n'; }
  if [ $SUBSET_USED = 1 ]; then
    echo "== ipfix dump on the subset (same input as ipfixDump)"
    time_cmd S1 "$IPFIX" dump "$W/subset.ipfix";         add "ipfix dump (text)" subset "$SREC" "$S1"
    time_cmd S3 "$IPFIX" dump --count "$W/subset.ipfix"; add "ipfix dump --count" subset "$SREC" "$S3"
  fi
fi

# ---------------------------------------------------------------- report
rate() { awk -v n="$1" -v t="$2" 'BEGIN{ if (t <= 0) print "inf"; else printf "%.0f", n/t }'; }
human() { awk -v r="$1" 'BEGIN{ if (r=="inf") print "inf"; else if (r>=1e6) printf "%.2fM", r/1e6; else printf "%.0fk", r/1e3 }'; }
lookup() { # label file -> rate
  local r
  for r in "${RESULTS[@]}"; do
    IFS='|' read -r l f n t <<<"$r"
    if [ "$l" = "$1" ] && [ "$f" = "$2" ]; then rate "$n" "$t"; return; fi
  done
  echo ""
}

echo
echo "ipfixkit decode benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; measured on core $CPU (taskset), wall clock"
echo "ipfix: $("$IPFIX" --version); ipfixDump: libfixbuf $(dpkg-query -W -f='${Version}' libfixbuf-tools 2>/dev/null || echo '?')"
echo "file: $NREC records ($RECORDS flows + options) in $NMSG messages, $(awk -v s="$SIZE" 'BEGIN{printf "%.0f MB", s/1e6}'); generated in ${GEN_T} s ($(human "$(rate "$NREC" "$GEN_T")") records/s)"
[ "$SUBSET" -lt "$RECORDS" ] && [ -n "${SREC:-}" ] && echo "subset: first $SREC records (same seed)"
echo "best of $REPEAT runs for commands under 10 s; load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "%-22s %-7s %10s %9s %12s\n" "command" "input" "records" "seconds" "records/s"
for r in "${RESULTS[@]}"; do
  IFS='|' read -r l f n t <<<"$r"
  printf "%-22s %-7s %10s %9s %12s\n" "$l" "$f" "$n" "$t" "$(human "$(rate "$n" "$t")")"
done
[ -n "$FB_NOTE" ] && { echo; printf "%s" "$FB_NOTE"; }

if [ $HAVE_FB = 1 ]; then
  echo
  # ratios on the same input as ipfixDump
  for pair in "ipfix dump (text)|ipfixDump -i (text)|ipfix text / ipfixDump text" \
              "ipfix dump --count|ipfixDump -s|ipfix --count / ipfixDump -s"; do
    IFS='|' read -r a b label <<<"$pair"
    fa=full; fb=full
    [ -n "$(lookup "$b" full)" ] || fb=subset
    fa=$fb
    ra=$(lookup "$a" "$fa"); rb=$(lookup "$b" "$fb")
    [ -n "$ra" ] && [ -n "$rb" ] || continue
    awk -v a="$ra" -v b="$rb" -v l="$label" -v f="$fb" 'BEGIN{printf "ratio %-30s %6.1fx  (same input: %s file)\n", l, a/b, f}'
  done
fi
