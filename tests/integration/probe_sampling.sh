#!/usr/bin/env bash
# `ipfix probe --sample` (PSAMP, RFC 5475/5476) on the hand-checked trace of
# tools/probe_test_pcap.py: systematic 1-in-2 and 2-in-5, random 2-out-of-5
# and probability 0.5 selection. For each: the Selector Report options
# record (template 261) names the algorithm and its parameters with
# selectorIdTotalPktsObserved = every frame of the trace and
# selectorIdTotalPktsSelected = what the summary says was selected; every
# flow record carries selectorId 1; the packets in the flow records are the
# selected packets the summary says were metered. Systematic selection is
# exact, so 1-in-2 must select exactly 21 of the 42 frames.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=probe_sampling

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"
T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT

"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"

check() { # spec selectorAlgorithm expected-parameters(json fragment) [exact selected]
  local spec=$1 algo=$2 params=$3 exact=${4:-}
  timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -w "$T/s.ipfix" -s "$spec" -m 1M \
    2>"$T/summary" || { cat "$T/summary" >&2; fail "$spec: probe exit $?"; }
  timeout 30 "$IPFIX" dump --json "$T/s.ipfix" > "$T/s.jsonl" || fail "$spec: dump"
  "$PY" - "$T/s.jsonl" "$T/summary" "$algo" "$params" "$exact" <<'PYEOF' || fail "$spec"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
records = [l.get("record") or l.get("options") for l in lines if "record" in l or "options" in l]
summary = open(sys.argv[2]).read()
algo, params, exact = sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
m = re.search(r"sampling: (\d+) packets selected of (\d+) observed", summary)
assert m, "summary has no sampling line:\n" + summary
selected, observed = int(m.group(1)), int(m.group(2))
assert observed == 42, summary
if exact:
    assert selected == int(exact), (selected, exact)
reports = [r for r in records if "selectorAlgorithm" in r]
assert len(reports) == 1, reports
rep = reports[0]
assert rep["selectorId"] == 1 and rep["selectorAlgorithm"] == int(algo), rep
for k, v in params.items():
    assert rep[k] == v, (k, rep)
assert rep["selectorIdTotalPktsObserved"] == 42, rep
assert rep["selectorIdTotalPktsSelected"] == selected, rep
flows = [r for r in records if "packetDeltaCount" in r]
assert flows and all(f.get("selectorId") == 1 for f in flows), flows
metered = int(re.search(r"(\d+) metered", summary).group(1))
assert sum(f["packetDeltaCount"] for f in flows) == metered, (metered, flows)
assert metered <= selected
PYEOF
}

check 2 1 '{"samplingPacketInterval": 1, "samplingPacketSpace": 1}' 21
check count:2/5 1 '{"samplingPacketInterval": 2, "samplingPacketSpace": 3}' 18
check random:2/5 3 '{"samplingSize": 2, "samplingPopulation": 5}'
check probability:0.5 4 '{"samplingProbability": 0.5}'

# a bad spec is a usage error
"$IPFIX" probe -r "$T/trace.pcap" -w "$T/x.ipfix" -s 0 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "bad --sample: exit $rc, expected 2"
grep -q "expected N" "$T/err" || fail "bad --sample message: $(cat "$T/err")"
echo "$NAME: ok"
