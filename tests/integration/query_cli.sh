#!/usr/bin/env bash
# `ipfix query` end to end on files written by `ipfix generate`, checked
# against an independent reference computed in Python from
# `ipfix dump --json` of the same files:
#   - listings (CSV row count, JSON Lines identical to `ipfix dump --json`)
#     for filters using every kind of primitive;
#   - --group-by with prefix masks, --top/--order, --interval bins,
#     --totals, --bidirectional, --threads 1 vs 2 identical;
#   - storage directories (recursive, hidden .tmp skipped, -t selection),
#     standard input;
#   - a truncated + corrupted file is reported and skipped: exit 3 and the
#     answer of the good files is still given;
#   - usage errors (exit 2, filter errors with their column), --help.
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=query_cli

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"
T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT

q() { timeout 60 "$IPFIX" query "$@"; }

# Two inputs: 30000 + 20000 records (different seeds), in a storage layout.
"$IPFIX" generate -n 30000 --seed 7 -w "$T/a.ipfix" >/dev/null 2>&1 || fail "generate a"
"$IPFIX" generate -n 20000 --seed 8 -w "$T/b.ipfix" >/dev/null 2>&1 || fail "generate b"
mkdir -p "$T/store/2024/01/01" "$T/store/2024/01/02"
cp "$T/a.ipfix" "$T/store/2024/01/01/ipfix-20240101000000-w0.ipfix"
cp "$T/b.ipfix" "$T/store/2024/01/02/ipfix-20240102120000-w1.ipfix"
printf 'garbage' > "$T/store/2024/01/01/.ipfix-20240101000500-w0.ipfix.tmp"
( "$IPFIX" dump --json --no-templates "$T/a.ipfix"; "$IPFIX" dump --json --no-templates "$T/b.ipfix" ) \
  > "$T/all.jsonl" || fail "dump"

# ---------------------------------------------------------------- reference
cat > "$T/ref.py" <<'EOF'
import ipaddress, json, sys
from collections import defaultdict

recs = []
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "record" in o:
        recs.append(o["record"])

def src(r): return r.get("sourceIPv4Address") or r.get("sourceIPv6Address")
def dst(r): return r.get("destinationIPv4Address") or r.get("destinationIPv6Address")
def net(a, n):
    ip = ipaddress.ip_address(a)
    if ip.version == 4 and n < 32: return str(ipaddress.ip_network("%s/%d" % (a, n), strict=False))
    return a
def ts(s):
    from datetime import datetime, timezone
    return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() * 1000 + 0.5)

FILTERS = {
  "proto tcp and dst port 443": lambda r: r["protocolIdentifier"] == 6 and r["destinationTransportPort"] == 443,
  "src net 10.0.0.0/8 and bytes > 10K": lambda r: src(r).startswith("10.") and ":" not in src(r) and r["octetDeltaCount"] > 10000,
  "not proto tcp": lambda r: r["protocolIdentifier"] != 6,
  "proto udp or port 22 and packets < 5": lambda r: r["protocolIdentifier"] == 17 or ((r["sourceTransportPort"] == 22 or r["destinationTransportPort"] == 22) and r["packetDeltaCount"] < 5),
  "(proto udp or port 22) and packets < 5": lambda r: (r["protocolIdentifier"] == 17 or r["sourceTransportPort"] == 22 or r["destinationTransportPort"] == 22) and r["packetDeltaCount"] < 5,
  "ipv6 and dst net 2001:db8::/16": lambda r: "destinationIPv6Address" in r and ipaddress.ip_address(r["destinationIPv6Address"]) in ipaddress.ip_network("2001::/16"),
  "flowEndReason = idleTimeout": lambda r: r["flowEndReason"] == 1,
  "octetDeltaCount >= 1000 && !proto icmp": lambda r: r["octetDeltaCount"] >= 1000 and r["protocolIdentifier"] != 1,
  "flags S and not flags R": lambda r: r["tcpControlBits"] & 2 and not r["tcpControlBits"] & 4,
  "in if 2 or tos 0x20": lambda r: r["ingressInterface"] == 2 or r["ipClassOfService"] == 32,
}

mode = sys.argv[2]
if mode == "filters":
    for name, f in FILTERS.items():
        print("%s\t%d" % (name, sum(1 for r in recs if f(r))))
elif mode == "group":   # srcip/24,dstport for proto tcp, CSV body sorted
    g = defaultdict(lambda: [0, 0, 0])
    for r in recs:
        if r["protocolIdentifier"] != 6: continue
        v = g[(net(src(r), 24), r["destinationTransportPort"])]
        v[0] += 1; v[1] += r["packetDeltaCount"]; v[2] += r["octetDeltaCount"]
    for k, v in sorted(g.items()):
        print("%s,%d,%d,%d,%d" % (k[0], k[1], v[0], v[1], v[2]))
elif mode == "top":     # top 10 srcip by bytes: "ip bytes"
    g = defaultdict(int)
    for r in recs: g[src(r)] += r["octetDeltaCount"]
    for k, v in sorted(g.items(), key=lambda kv: -kv[1])[:10]:
        print("%s %d" % (k, v))
elif mode == "bins":    # 10-second bins by flow start: "bin_ms flows bytes"
    g = defaultdict(lambda: [0, 0])
    for r in recs:
        b = ts(r["flowStartMilliseconds"]) // 10000 * 10000
        g[b][0] += 1; g[b][1] += r["octetDeltaCount"]
    for k, v in sorted(g.items()):
        print("%d %d %d" % (k, v[0], v[1]))
elif mode == "totals":
    print("%d %d %d" % (len(recs), sum(r["packetDeltaCount"] for r in recs), sum(r["octetDeltaCount"] for r in recs)))
elif mode == "bidir":   # flows of unordered (ip,port) pairs for proto tcp
    g = defaultdict(int)
    for r in recs:
        if r["protocolIdentifier"] != 6: continue
        a, b = (src(r), r["sourceTransportPort"]), (dst(r), r["destinationTransportPort"])
        g[tuple(sorted([a, b], key=lambda x: (ipaddress.ip_address(x[0]).version, ipaddress.ip_address(x[0]).packed, x[1])))] += 1
    print(len(g), sum(g.values()), max(g.values()))
EOF
"$PY" "$T/ref.py" "$T/all.jsonl" filters > "$T/ref_filters.txt" || fail "reference"

# ----------------------------------------------------------- filters (listing)
while IFS=$'\t' read -r filter expected; do
  n=$(q --csv -q "$T/a.ipfix" "$T/b.ipfix" "$filter" | tail -n +2 | wc -l)
  [ "$n" = "$expected" ] || fail "filter '$filter': $n records listed, reference $expected"
  n=$(q --csv -q "$T/store" "$filter" | tail -n +2 | wc -l)
  [ "$n" = "$expected" ] || fail "filter '$filter' on the storage directory: $n, reference $expected"
  echo "$NAME: filter '$filter': $n records (= reference)"
done < "$T/ref_filters.txt"

# JSON listing is exactly `ipfix dump --json` of the matching records
q --json -q "$T/a.ipfix" 'proto udp' > "$T/q.jsonl" || fail "--json listing"
"$IPFIX" dump --json --no-templates "$T/a.ipfix" | "$PY" -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    if "record" in o and o["record"]["protocolIdentifier"] == 17: sys.stdout.write(l)' > "$T/ref_udp.jsonl"
cmp -s "$T/q.jsonl" "$T/ref_udp.jsonl" || fail "--json listing is not identical to ipfix dump --json"
echo "$NAME: --json listing identical to ipfix dump --json ($(wc -l < "$T/q.jsonl") records)"

# table listing: header + one line per record + footer
q "$T/a.ipfix" 'proto tcp and dst port 443' > "$T/table.txt" || fail "table listing"
head -1 "$T/table.txt" | grep -q "Date first seen" || fail "table header"
grep -q "^files read: 1 (bad: 0), records scanned: 30000, matched: " "$T/table.txt" || { tail -2 "$T/table.txt"; fail "footer"; }

# ------------------------------------------------------------------ group-by
"$PY" "$T/ref.py" "$T/all.jsonl" group > "$T/ref_group.txt"
for threads in 1 2; do
  q --csv -q --threads $threads -g srcip/24,dstport "$T/a.ipfix" "$T/b.ipfix" 'proto tcp' |
    tail -n +2 | cut -d, -f1-5 | sort > "$T/group.txt"
  sort "$T/ref_group.txt" | cmp -s - "$T/group.txt" ||
    { diff <(sort "$T/ref_group.txt") "$T/group.txt" | head; fail "--group-by srcip/24,dstport (threads $threads)"; }
done
q --csv -q -g sourceIPv4Address/24,destinationTransportPort "$T/a.ipfix" "$T/b.ipfix" 'proto tcp and ipv4' |
  tail -n +2 | cut -d, -f1-5 | sort > "$T/group_el.txt"
grep -v ':' "$T/ref_group.txt" | sort | cmp -s - "$T/group_el.txt" || fail "--group-by with element names"
echo "$NAME: --group-by srcip/24,dstport: $(wc -l < "$T/group.txt") groups (= reference, 1 and 2 threads)"

"$PY" "$T/ref.py" "$T/all.jsonl" top > "$T/ref_top.txt"
q --csv -q -g srcip --top 10 --order bytes "$T/a.ipfix" "$T/b.ipfix" | tail -n +2 |
  awk -F, '{print $1, $4}' > "$T/top.txt"
cmp -s "$T/ref_top.txt" "$T/top.txt" || { paste "$T/ref_top.txt" "$T/top.txt"; fail "--top 10 --order bytes"; }
q -g srcip -n 3 -O bytes "$T/a.ipfix" > "$T/top_table.txt" || fail "top table"
grep -q "%)" "$T/top_table.txt" || fail "table percentages"
[ "$(grep -c '^20' "$T/top_table.txt")" = 3 ] || { cat "$T/top_table.txt"; fail "--top 3 table rows"; }
echo "$NAME: --top 10 --order bytes = reference"

"$PY" "$T/ref.py" "$T/all.jsonl" bins > "$T/ref_bins.txt"
q --json -q --interval 10s --totals "$T/store" | "$PY" -c '
import json, sys
from datetime import datetime, timezone
for l in sys.stdin:
    o = json.loads(l)
    b = int(datetime.strptime(o["bin"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() * 1000)
    print(b, o["flows"], o["bytes"])' > "$T/bins.txt"
cmp -s "$T/ref_bins.txt" "$T/bins.txt" || { diff "$T/ref_bins.txt" "$T/bins.txt" | head; fail "--interval 10s"; }
echo "$NAME: --interval 10s: $(wc -l < "$T/bins.txt") bins (= reference)"

read -r rf rp rb < <("$PY" "$T/ref.py" "$T/all.jsonl" totals)
IFS=, read -r f p b _ < <(q --csv -q --totals "$T/a.ipfix" - < "$T/b.ipfix" | tail -1)
[ "$f $p $b" = "$rf $rp $rb" ] || fail "--totals with a file and stdin: $f $p $b, reference $rf $rp $rb"
echo "$NAME: --totals (file + stdin): $f flows, $p packets, $b bytes (= reference)"

read -r rgroups rflows rmax < <("$PY" "$T/ref.py" "$T/all.jsonl" bidir)
q --csv -q -B -g srcip,srcport,dstip,dstport "$T/a.ipfix" "$T/b.ipfix" 'proto tcp' | tail -n +2 |
  awk -F, '{n++; s+=$5; if ($5>m) m=$5} END{print n, s, m}' > "$T/bidir.txt"
[ "$(cat "$T/bidir.txt")" = "$rgroups $rflows $rmax" ] ||
  fail "--bidirectional: $(cat "$T/bidir.txt"), reference $rgroups $rflows $rmax"
echo "$NAME: --bidirectional: $rgroups conversations (= reference)"

# ------------------------------------------------------------- time selection
# file a: 2024-01-01 00:00 (its flows start from 2024-01-01T00:00), b named 2024-01-02 12:00
n_all=$(q --csv -q --totals "$T/store" | tail -1 | cut -d, -f1)
n_a=$(q --csv -q --totals -t 2024-01-01T00:00..2024-01-01T06:00 "$T/store" | tail -1 | cut -d, -f1)
n_a5=$(q --csv -q --totals -t 2024-01-01T00:00..2024-01-01T00:00:10 "$T/store" | tail -1 | cut -d, -f1)
ref_a5=$(q --csv -q "$T/a.ipfix" 'flowStartMilliseconds < 2024-01-01T00:00:10' | tail -n +2 | wc -l)
[ "$n_all" = 50000 ] || fail "storage directory: $n_all flows, expected 50000"
[ "$n_a5" = "$ref_a5" ] && [ "$n_a5" -lt 30000 ] || fail "-t 00:00..00:00:10: $n_a5 flows, the filter on flowStart gives $ref_a5"
q -q --totals -t 2024-01-01T00:00..2024-01-01T00:05 "$T/store" > /dev/null || fail "-t"
out=$(q --csv --totals -t 2024-01-03T00:00..2024-01-03T01:00 "$T/store" 2>&1 >/dev/null)
echo "$out" | grep -q "files read: 0" || fail "-t outside the stored range still read files: $out"
echo "$NAME: -t: $n_a5 flows in the first 10 seconds ($n_a in the first 6 hours, $n_all in all)"

# ------------------------------------------------------------------ bad files
head -c 100000 "$T/a.ipfix" > "$T/trunc.ipfix"
# corrupt the header of the third message (version 9) and a set length in the fifth
"$PY" - "$T/b.ipfix" "$T/corrupt.ipfix" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
pos, n = 0, 0
while pos + 16 <= len(d):
    length = struct.unpack(">H", d[pos + 2:pos + 4])[0]
    if n == 2: d[pos:pos + 2] = b"\x00\x09"
    if n == 4: d[pos + 18:pos + 20] = b"\xff\xf0"
    pos += length; n += 1
open(sys.argv[2], "wb").write(d)
EOF
q --csv --totals "$T/a.ipfix" "$T/trunc.ipfix" > "$T/bad.csv" 2> "$T/bad.err"
rc=$?
[ "$rc" = 3 ] || { cat "$T/bad.err"; fail "truncated file: exit $rc, expected 3 (partial)"; }
grep -q "trunc.ipfix: offset" "$T/bad.err" || { cat "$T/bad.err"; fail "truncated file not reported"; }
grep -q "bad: 1" "$T/bad.err" || fail "footer does not count the bad file"
f=$(tail -1 "$T/bad.csv" | cut -d, -f1)
[ "$f" -gt 30000 ] || fail "the good file's records are missing from the partial answer ($f)"
q --csv -q --totals "$T/corrupt.ipfix" "$T/a.ipfix" > /dev/null 2> "$T/corrupt.err"
rc=$?
[ "$rc" = 3 ] || { cat "$T/corrupt.err"; fail "corrupt file: exit $rc, expected 3"; }
grep -q "corrupt.ipfix: offset" "$T/corrupt.err" || fail "corrupt file not reported"
q --csv -q --totals "$T/nonexistent.ipfix" "$T/a.ipfix" > /dev/null 2>&1
rc=$?
[ "$rc" = 3 ] || fail "missing file among PATHs: exit $rc, expected 3"
echo "$NAME: truncated/corrupt files reported and skipped, exit 3, partial answer given"

# ------------------------------------------- one big file split over workers
# A collector file (few sets per message) of >= 8 MiB is split into parts,
# each owning every other 4 MiB block; answers and listing order must not
# depend on the number of workers.
SENDER=${BUILD_DIR:-$SOURCE_DIR/build}/ipfix_test_sender
if [ -x "$SENDER" ]; then
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$IPFIX" collect --listen "tcp://127.0.0.1:$port" -w "$T/big" --no-fsync --workers 1 \
    2> "$T/collect.err" > /dev/null &
  cpid=$!
  for _ in $(seq 100); do grep -q "listening on" "$T/collect.err" 2>/dev/null && break; sleep 0.05; done
  timeout 60 "$SENDER" replay --tcp --host 127.0.0.1 --port "$port" --records 300000 > /dev/null ||
    { kill "$cpid"; fail "test sender"; }
  kill -TERM "$cpid"; wait "$cpid" || fail "ipfix collect did not exit 0"
  big=$(find "$T/big" -name '*.ipfix' | head -1)
  [ "$(stat -c %s "$big")" -ge 8388608 ] || fail "collector file smaller than 8 MiB"
  for threads in 1 2 3; do
    q --csv -q --threads $threads "$T/big" 'proto tcp and src net 10.0.0.0/12' | md5sum > "$T/big-list-$threads"
    q --csv -q --threads $threads -g srcip/16,dstport -O bytes "$T/big" | md5sum > "$T/big-group-$threads"
  done
  cmp -s "$T/big-list-1" "$T/big-list-2" && cmp -s "$T/big-list-1" "$T/big-list-3" ||
    fail "listing of a split file differs between 1, 2 and 3 workers"
  cmp -s "$T/big-group-1" "$T/big-group-2" && cmp -s "$T/big-group-1" "$T/big-group-3" ||
    fail "aggregation of a split file differs between 1, 2 and 3 workers"
  n=$(q --csv -q --threads 2 --totals "$T/big" | tail -1 | cut -d, -f1)
  [ "$n" = 300000 ] || fail "split file: $n flows, expected 300000"
  echo "$NAME: a $(stat -c %s "$big")-byte collector file split over 1/2/3 workers: same answers"
fi

# ------------------------------------------------------------------ usage
q "$T/a.ipfix" 'host foo' > /dev/null 2> "$T/err.txt"; rc=$?
[ "$rc" = 2 ] || fail "bad filter: exit $rc, expected 2"
grep -q "filter: column 6: expected ADDRESS after 'host', got 'foo'" "$T/err.txt" || { cat "$T/err.txt"; fail "filter error message"; }
q "$T/a.ipfix" '(proto tcp' > /dev/null 2> "$T/err.txt"; rc=$?
[ "$rc" = 2 ] && grep -q "column 11: expected ')'" "$T/err.txt" || fail "unclosed parenthesis error"
q --bogus "$T/a.ipfix" > /dev/null 2>&1; [ $? = 2 ] || fail "unknown option: not exit 2"
q --top 5 "$T/a.ipfix" > /dev/null 2>&1; [ $? = 2 ] || fail "--top without --group-by: not exit 2"
q -g nosuch "$T/a.ipfix" > /dev/null 2>&1; [ $? = 2 ] || fail "bad --group-by: not exit 2"
q --interval 5x --totals "$T/a.ipfix" > /dev/null 2>&1; [ $? = 2 ] || fail "bad --interval: not exit 2"
q > /dev/null 2>&1; [ $? = 2 ] || fail "no PATH: not exit 2"
q --help > "$T/help.txt" || fail "--help"
for opt in --group-by --top --order --interval --bin-by-end --bidirectional --totals --time \
           --filter --csv --json --numeric --threads --quiet --explain --elements --help; do
  grep -q -- "$opt" "$T/help.txt" || fail "--help does not list $opt"
done
[ "$(q --explain 'proto tcp and not port 80')" = \
  "(and (= protocolIdentifier 6) (not (= sourceTransportPort|destinationTransportPort 80)))" ] ||
  fail "--explain"
echo "$NAME: usage errors exit 2, --help lists every option"
echo "$NAME: PASS"
