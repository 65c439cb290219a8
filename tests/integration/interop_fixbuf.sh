#!/usr/bin/env bash
# Interoperability with libfixbuf (CERT NetSA), both directions.
#
#  1. ipfixkit -> libfixbuf: `ipfix generate` writes a file; libfixbuf's
#     ipfixDump must read it with exit 0 and no error/warning; for every
#     record every field of `ipfix dump --json` must equal the value parsed
#     from ipfixDump's text (tools/compare_ipfixdump.py); the message and
#     record counts of `ipfix dump --count` must equal `ipfixDump --stats`
#     (and ipfix must count no error, no missing template, no lost record).
#     The same for two generated files of different Observation Domains
#     (same template IDs) concatenated into one file.
#  2. libfixbuf -> ipfixkit: Debian's libfixbuf-tools has no program that
#     writes IPFIX, so tools/interop_fixbuf_write.py drives libfixbuf's own
#     encoder (libfixbuf.so.9, through ctypes) to write a file: IPv4 and IPv6
#     flow templates with reduced-size counters, MAC addresses, an options
#     template with variable-length UTF-8 strings, and a template of other
#     types (micro/nanosecond and seconds timestamps, float64, boolean,
#     signed32 reduced to 2 bytes, reverse element, variable-length
#     octetArray/string longer than 254 bytes, IPv6). `ipfix dump --json` must
#     read it without error and give exactly the values the writer put in,
#     and the same values as ipfixDump's decode of that file (ipfixDump 2.4.1
#     prints micro/nanosecond fractions as zero: only their seconds are
#     compared against it).
#
# Env (set by CTest): IPFIX (the ipfix binary), SOURCE_DIR, BUILD_DIR.
# Exit: 0 pass, 77 skip (libfixbuf-tools not installed), 1 fail.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
TOOLS=$SOURCE_DIR/tools
NAME=interop_fixbuf

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
skip() { echo "$NAME: SKIP: $*" >&2; exit 77; }

command -v ipfixDump >/dev/null 2>&1 || skip "ipfixDump not found (Debian package libfixbuf-tools)"
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX (set IPFIX=...)"

T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT

# ipfixDump reports problems on stderr (GLib messages: "** (ipfixDump:PID):
# WARNING **: ...", or "ipfixDump: ..."); stdout must not carry any either.
check_ipfixdump_clean() { # label stdout stderr
  if [ -s "$3" ]; then
    echo "--- ipfixDump stderr ($1):" >&2; head -20 "$3" >&2
    fail "$1: ipfixDump wrote to stderr"
  fi
  if grep -n -E '^ipfixDump|\(ipfixDump:[0-9]+\)|(WARNING|CRITICAL|ERROR) \*\*' "$2" | head -5 | grep . >&2; then
    fail "$1: ipfixDump output reports a problem"
  fi
}

# counts: ipfix dump --count vs ipfixDump --stats (messages, data records)
# and no errors, no missing templates, no lost records
check_counts() { # label file
  local label=$1 f=$2 st ic
  timeout 60 ipfixDump --stats -i "$f" > "$T/stats.txt" 2>"$T/stats.err" || fail "$label: ipfixDump --stats failed"
  st=$(grep -o 'File Stats: [0-9]* Messages, [0-9]* Data Records' "$T/stats.txt") ||
    fail "$label: no File Stats line from ipfixDump --stats"
  timeout 60 "$IPFIX" dump --count "$f" > "$T/count.txt" 2>"$T/count.err"
  local rc=$?
  [ $rc -eq 0 ] || { cat "$T/count.err" >&2; fail "$label: ipfix dump --count exit $rc"; }
  local fm fr im ir
  fm=$(echo "$st" | sed -E 's/.*Stats: ([0-9]+) Messages.*/\1/')
  fr=$(echo "$st" | sed -E 's/.*Messages, ([0-9]+) Data.*/\1/')
  im=$(awk -F': *' '$1=="messages"{print $2}' "$T/count.txt")
  # ipfixDump's "Data Records" include options records; ipfix counts them apart
  ir=$(awk -F': *' '$1=="data_records"{d=$2} $1=="options_records"{o=$2} END{if (d!="" && o!="") print d+o}' "$T/count.txt")
  [ "$fm" = "$im" ] || fail "$label: messages: ipfix dump --count says '$im', ipfixDump --stats says $fm"
  [ "$fr" = "$ir" ] || fail "$label: data records: ipfix dump --count says '$ir', ipfixDump --stats says $fr"
  local k v
  for k in errors missing_template_sets lost_records; do
    v=$(awk -F': *' -v k=$k '$1==k{print $2}' "$T/count.txt")
    [ "$v" = "0" ] || { cat "$T/count.txt" >&2; fail "$label: ipfix dump --count: $k: '${v}' (expected 0)"; }
  done
  echo "$NAME: $label: counts agree: $im messages, $ir data records"
}

# ---------------------------------------------------------------- 1. ipfixkit -> libfixbuf
timeout 60 "$IPFIX" generate -n 10000 --seed 4242 --odid 7 -w "$T/gen.ipfix" 2>"$T/gen.err" ||
  { cat "$T/gen.err" >&2; fail "ipfix generate failed"; }
timeout 60 ipfixDump --hexdump=65535 -i "$T/gen.ipfix" > "$T/gen.txt" 2>"$T/gen.fb.err"
rc=$?
[ $rc -eq 0 ] || { head -20 "$T/gen.fb.err" >&2; fail "ipfixDump exit $rc on the generated file"; }
check_ipfixdump_clean "generated file" "$T/gen.txt" "$T/gen.fb.err"
timeout 60 "$IPFIX" dump --json "$T/gen.ipfix" > "$T/gen.jsonl" 2>"$T/gen.dump.err"
rc=$?
[ $rc -eq 0 ] || { head -20 "$T/gen.dump.err" >&2; fail "ipfix dump --json exit $rc on its own generated file"; }
"$PY" "$TOOLS/compare_ipfixdump.py" --data "$SOURCE_DIR/data" --label "$NAME: generated" \
  "$T/gen.jsonl" --ipfixdump "$T/gen.txt" || fail "ipfix dump and ipfixDump disagree on the generated file"
check_counts "generated" "$T/gen.ipfix"

# two files of different Observation Domains (same template IDs) concatenated:
# still one valid IPFIX File, templates must be kept per domain by both tools
timeout 60 "$IPFIX" generate -q -n 3000 --seed 5 --odid 8 -w "$T/gen8.ipfix" || fail "ipfix generate --odid 8 failed"
cat "$T/gen.ipfix" "$T/gen8.ipfix" > "$T/two.ipfix"
timeout 60 ipfixDump --hexdump=65535 -i "$T/two.ipfix" > "$T/two.txt" 2>"$T/two.fb.err" || fail "ipfixDump failed on the two-domain file"
check_ipfixdump_clean "two-domain file" "$T/two.txt" "$T/two.fb.err"
timeout 60 "$IPFIX" dump --json "$T/two.ipfix" > "$T/two.jsonl" 2>"$T/two.dump.err" ||
  { head "$T/two.dump.err" >&2; fail "ipfix dump --json failed on the two-domain file"; }
"$PY" "$TOOLS/compare_ipfixdump.py" --data "$SOURCE_DIR/data" --label "$NAME: two domains" \
  "$T/two.jsonl" --ipfixdump "$T/two.txt" || fail "ipfix dump and ipfixDump disagree on the two-domain file"
check_counts "two domains" "$T/two.ipfix"

# ---------------------------------------------------------------- 2. libfixbuf -> ipfixkit
"$PY" "$TOOLS/interop_fixbuf_write.py" -n 5000 --seed 99 --odid 3 -w "$T/fb.ipfix" \
  --expect "$T/fb.expect.jsonl" 2>"$T/fbw.err"
rc=$?
[ $rc -eq 77 ] && { cat "$T/fbw.err" >&2; skip "libfixbuf shared library not loadable"; }
[ $rc -eq 0 ] || { cat "$T/fbw.err" >&2; fail "writing a file with libfixbuf failed"; }
timeout 60 "$IPFIX" dump --json "$T/fb.ipfix" > "$T/fb.jsonl" 2>"$T/fb.dump.err"
rc=$?
[ $rc -eq 0 ] || { head -20 "$T/fb.dump.err" >&2; fail "ipfix dump --json exit $rc on the libfixbuf-written file"; }
[ -s "$T/fb.dump.err" ] && { head -20 "$T/fb.dump.err" >&2; fail "ipfix dump wrote diagnostics for the libfixbuf-written file"; }
"$PY" "$TOOLS/compare_ipfixdump.py" --data "$SOURCE_DIR/data" --label "$NAME: libfixbuf-written vs values written" \
  "$T/fb.jsonl" --expect "$T/fb.expect.jsonl" || fail "ipfix dump does not return the values libfixbuf wrote"
timeout 60 ipfixDump --hexdump=65535 -i "$T/fb.ipfix" > "$T/fb.txt" 2>"$T/fb.fb.err" || fail "ipfixDump failed on its own library's file"
check_ipfixdump_clean "libfixbuf-written file" "$T/fb.txt" "$T/fb.fb.err"
"$PY" "$TOOLS/compare_ipfixdump.py" --data "$SOURCE_DIR/data" --label "$NAME: libfixbuf-written vs ipfixDump" \
  "$T/fb.jsonl" --ipfixdump "$T/fb.txt" || fail "ipfix dump and ipfixDump disagree on the libfixbuf-written file"
check_counts "libfixbuf-written" "$T/fb.ipfix"

# text output must decode the same file without diagnostics, too
timeout 60 "$IPFIX" dump "$T/fb.ipfix" > "$T/fb.text" 2>"$T/fb.text.err" || fail "ipfix dump (text) failed on the libfixbuf-written file"
n=$(grep -c -E '^(record|options) ' "$T/fb.text")
want=$(wc -l < "$T/fb.expect.jsonl")
[ "$n" -eq "$want" ] || fail "ipfix dump (text) printed $n records, libfixbuf wrote $want"

echo "$NAME: PASS"
exit 0
