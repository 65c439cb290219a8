#!/usr/bin/env bash
# `ipfix collect` with many simultaneous exporters (RFC 3917 §8.2).
#
# tools/ipfix_test_sender runs 300 exporters on loopback, 150 over UDP and
# 150 over TCP, each with its own ODID, all using Template ID 256 with one of
# four different layouts; every record carries its exporter's ODID
# (ingressInterface) and index (sourceIPv4Address 10.0.i/256.i%256). Every
# 7th exporter drops its 3rd data message on purpose (a sequence gap).
# Checks:
#   - every record sent is in the stored files, decoded by `ipfix dump` with
#     0 errors, and attributed to the right exporter through the file's
#     exporter map (domain-0 options records: file-local ODID ->
#     originalObservationDomainId, exporter port, protocol);
#   - the collector's statistics report exactly the records dropped on
#     purpose as lost, per exporter, and nothing else;
#   - libfixbuf's ipfixDump reads every stored file and counts the same records;
#   - SIGTERM exits 0.
# Then UDP exporters that restart (same address and port, sequence numbers
# from 0 again, other template layouts) get a fresh session (RFC 5471
# §3.6.2): a restart is logged per exporter, nothing is counted lost or out
# of order, and every record of both runs is stored and decodes.
set -uo pipefail

NAME=collect_exporters
. "$(dirname "$0")/../lib/common.sh"
UDP_N=${UDP_N:-150}
TCP_N=${TCP_N:-150}
RECORDS=${RECORDS:-100}

[ -x "$SENDER" ] || fail "test sender not found: $SENDER"

PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_collect "$T/collect.err" --listen "udp://127.0.0.1:$PORT" --listen "tcp://127.0.0.1:$PORT" \
  -w "$T/store" --no-fsync --stats "$T/stats.txt" --workers 2

timeout 30 "$SENDER" exporters --host 127.0.0.1 --port "$PORT" --udp "$UDP_N" --tcp "$TCP_N" \
  --records "$RECORDS" --per-message 10 --odid-base 1000 --gap-every 7 --pace-us 2000 \
  > "$T/sender.out" 2>"$T/sender.err" || { cat "$T/sender.err" >&2; fail "sender failed"; }
tail -1 "$T/sender.out" | sed "s/^/$NAME: sender: /"

# Wait until the collector has seen every sent record (or 10 s).
SENT=$(awk '/^total/{print $5}' "$T/sender.out")
SKIPPED=$(awk '/^total/{print $7}' "$T/sender.out")
for i in $(seq 100); do
  kill -USR1 "$COLLECT_PID"
  sleep 0.1
  got=$(sed -n -E 's/^total: .* records ([0-9]+) .*/\1/p' "$T/stats.txt" 2>/dev/null)
  [ "${got:-0}" -ge "$SENT" ] && break
done
kill -TERM "$COLLECT_PID"
wait "$COLLECT_PID"; rc=$?
[ $rc -eq 0 ] || { tail -20 "$T/collect.err" >&2; fail "ipfix collect exit $rc after SIGTERM"; }
grep -E "^total:" "$T/collect.err" | sed "s/^/$NAME: collector: /"

FILES=$(find "$T/store" -name '*.ipfix' | sort)
[ -n "$FILES" ] || fail "no file stored"
: > "$T/all.jsonl"
for f in $FILES; do
  echo "== $f" >> "$T/all.jsonl"
  timeout 30 "$IPFIX" dump --json "$f" >> "$T/all.jsonl" 2>>"$T/dump.err"
  "$IPFIX" dump --count "$f" > "$T/count.txt" 2>/dev/null
  errors=$(awk -F': *' '$1=="errors"{print $2}' "$T/count.txt")
  [ "$errors" = 0 ] || { cat "$T/count.txt" >&2; fail "$f: ipfix dump errors: $errors"; }
done
find "$T/store" -name '.*.tmp' | grep -q . && fail "temporary files left after SIGTERM"

"$PY" - "$T/all.jsonl" "$T/sender.out" "$T/collect.err" <<'EOF' || fail "records or statistics do not match"
import json, re, sys, collections
jsonl, sender, report = sys.argv[1:4]
sent = {}      # odid -> (proto, layout, sent, skipped)
for line in open(sender):
    p = line.split()
    if p[0] == "exporter":
        sent[int(p[2])] = (p[1], int(p[3]), int(p[5]), int(p[7]))
got = collections.Counter()
serials = collections.defaultdict(set)
bad = 0
fmap = {}
for line in open(jsonl):
    if line.startswith("== "):
        fmap = {}
        continue
    o = json.loads(line)
    if "options" in o and o["odid"] == 0:
        m = o["options"]
        fmap[m["observationDomainId"]] = (m["originalObservationDomainId"],
                                          m["exporterTransportPort"], m["protocolIdentifier"])
        continue
    if "record" not in o:
        continue
    r = o["record"]
    orig, port, proto = fmap[o["odid"]]
    index = orig - 1000
    want_src = "10.0.%d.%d" % (index >> 8, index & 255)
    want_proto = 6 if sent[orig][0] == "tcp" else 17
    if r["ingressInterface"] != orig or r["sourceIPv4Address"] != want_src or proto != want_proto:
        bad += 1
        continue
    got[orig] += 1
    serials[orig].add(r["octetDeltaCount"])
errors = 0
for odid, (proto, layout, n, skipped) in sent.items():
    if got[odid] != n or len(serials[odid]) != n:
        print("exporter odid %d: sent %d, stored %d (%d distinct)" % (odid, n, got[odid], len(serials[odid])))
        errors += 1
# per-exporter lost counts in the final report
lost = {}
for line in open(report):
    m = re.match(r"exporter (\w+) \S+ odid (\d+).*? lost (\d+)", line)
    if m:
        lost[int(m.group(2))] = lost.get(int(m.group(2)), 0) + int(m.group(3))
for odid, (proto, layout, n, skipped) in sent.items():
    if lost.get(odid, -1) != skipped:
        print("exporter odid %d: %d records skipped on purpose, collector reports %s lost" % (odid, skipped, lost.get(odid)))
        errors += 1
print("collect_exporters: %d exporters, %d records stored and attributed, %d misattributed; "
      "%d records lost reported exactly" % (len(sent), sum(got.values()), bad, sum(lost.values())))
sys.exit(1 if errors or bad else 0)
EOF

# libfixbuf reads every file and counts the same records.
if command -v ipfixDump >/dev/null 2>&1; then
  total=0
  for f in $FILES; do
    n=$(timeout 30 ipfixDump --in "$f" --stats 2>/dev/null | sed -n -E 's/.*File Stats: [0-9]+ Messages, ([0-9]+) Data Records.*/\1/p')
    [ -n "$n" ] || fail "ipfixDump could not read $f"
    total=$((total + n))
  done
  maps=$(grep -c '^{"options".*originalObservationDomainId' "$T/all.jsonl")
  [ "$total" -eq $((SENT + maps)) ] || fail "ipfixDump counted $total data records, expected $SENT + $maps map records"
  echo "$NAME: ipfixDump read $(echo "$FILES" | wc -l) files: $total data records ($maps exporter map records)"
else
  echo "$NAME: ipfixDump not installed: libfixbuf check skipped"
fi
# ------------------------------------------------- UDP exporter restarts
rm -rf "$T/store"
PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_collect "$T/restart.err" --listen "udp://127.0.0.1:$PORT" -w "$T/store" --no-fsync
SRC=$((20000 + RANDOM % 20000))
for shift in 0 1; do
  timeout 20 "$SENDER" exporters --host 127.0.0.1 --port "$PORT" --udp 4 --tcp 0 --records 50 \
    --per-message 10 --odid-base 77 --source-port-base "$SRC" --layout-shift $shift \
    > "$T/restart-sender.out" 2>&1 || { cat "$T/restart-sender.out" >&2; fail "restart sender failed"; }
  sleep 0.3
done
kill -TERM "$COLLECT_PID"
wait "$COLLECT_PID" || fail "ipfix collect exit status after SIGTERM (restart phase)"
restarts=$(grep -c "exporter restarted" "$T/restart.err")
[ "$restarts" -eq 4 ] || { grep -E "warning|error" "$T/restart.err" >&2; fail "expected 4 exporter restarts logged, got $restarts"; }
total=$(grep "^total:" "$T/restart.err")
echo "$total" | grep -q " records 400 " || fail "restart phase: $total"
echo "$total" | grep -q " lost 0 out_of_order 0 " || fail "restart phase counted loss: $total"
stored=0
for f in $(find "$T/store" -name '*.ipfix'); do
  "$IPFIX" dump --count "$f" > "$T/count.txt" 2>/dev/null
  [ "$(awk -F': *' '$1=="errors"{print $2}' "$T/count.txt")" = 0 ] || fail "restart phase: $f has errors"
  stored=$((stored + $(awk -F': *' '$1=="data_records"{print $2}' "$T/count.txt")))
done
[ "$stored" -eq 400 ] || fail "restart phase: stored $stored records, expected 400"
echo "$NAME: 4 UDP exporters restarted with new templates: 4 restarts logged, 400 records stored, no loss counted"
echo "$NAME: PASS"
exit 0
