#!/usr/bin/env bash
# `ipfix collect --per-exporter`: 6 UDP and 6 TCP exporters
# (tools/ipfix_test_sender) from three source addresses 127.0.0.1-3
# (exporter i from 127.0.0.(1 + i % 3)) store into DIR/ADDRESS/YYYY/MM/DD/
# files tagged with transport and port. Every record must be stored, in the
# directory of the address its exporter sent from (each record carries its
# exporter's ODID in ingressInterface), every file must decode without
# error, no temporary file may be left after SIGTERM, and the collector's
# file count must equal the files on disk.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail.
set -uo pipefail

NAME=collect_per_exporter
. "$(dirname "$0")/../lib/common.sh"
[ -x "$SENDER" ] || fail "build first ($SENDER)"

PORT=$(free_port)
start_collect "$T/collect.err" --listen "udp://127.0.0.1:$PORT" --listen "tcp://127.0.0.1:$PORT" \
  -w "$T/store" --per-exporter --no-fsync --stats "$T/stats.txt"
CPID=$COLLECT_PID

timeout 30 "$SENDER" exporters --host 127.0.0.1 --port "$PORT" --udp 6 --tcp 6 --records 500 \
  --per-message 10 --odid-base 100 --source-hosts 3 --pace-us 500 > "$T/sender.out" ||
  fail "sender failed"
SENT=$(awk '/^total/{print $5}' "$T/sender.out")
for _ in $(seq 100); do
  kill -USR1 "$CPID"; sleep 0.1
  got=$(sed -n -E 's/^total: .* records ([0-9]+) .*/\1/p' "$T/stats.txt" 2>/dev/null)
  [ "${got:-0}" -ge "$SENT" ] && break
done
kill -TERM "$CPID"
wait "$CPID" || { tail "$T/collect.err" >&2; fail "collector exit $? on SIGTERM"; }
TOTAL=$(grep "^total:" "$T/collect.err")
echo "$NAME: $TOTAL"
find "$T/store" -name '.*.tmp' | grep -q . && fail "temporary files left after SIGTERM"

: > "$T/all.txt"
for f in $(find "$T/store" -name '*.ipfix' | sort); do
  "$IPFIX" dump --count "$f" | grep -q "^errors: 0$" || fail "$f: decode errors"
  "$IPFIX" dump --json "$f" | sed "s|^|${f#$T/store/} |" >> "$T/all.txt"
done
"$PY" - "$T/all.txt" "$T/sender.out" "$TOTAL" <<'PYEOF' || fail "records not where they belong"
import json, re, sys, collections
sent = {}
for line in open(sys.argv[2]):
    p = line.split()
    if p[0] == "exporter":
        sent[int(p[2])] = int(p[5])
files, got = set(), collections.Counter()
for line in open(sys.argv[1]):
    path, text = line.split(" ", 1)
    files.add(path)
    o = json.loads(text)
    if "record" not in o:
        continue
    address, y, m, d, name = path.split("/")
    assert re.fullmatch(r"ipfix-\d{14}-(udp|tcp)\d+(-\d+)?\.ipfix", name), name
    odid = o["record"]["ingressInterface"]
    i = odid - 100
    assert address == "127.0.0.%d" % (1 + i % 3), (path, odid)
    # exporters 0-5 are UDP, 6-11 TCP
    assert name.split("-")[2].startswith("udp" if i < 6 else "tcp"), (path, odid)
    got[odid] += 1
assert got == collections.Counter(sent), (got, sent)
dirs = {p.split("/")[0] for p in files}
assert dirs == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}, dirs
n = int(re.search(r" files (\d+) ", sys.argv[3]).group(1))
assert n == len(files), (n, len(files))
print("collect_per_exporter: %d records in %d files under %s" % (sum(got.values()), len(files), sorted(dirs)))
PYEOF
echo "$NAME: ok"
