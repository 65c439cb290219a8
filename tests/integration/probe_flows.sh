#!/usr/bin/env bash
# `ipfix probe` on the hand-checked trace of tools/probe_test_pcap.py: the
# flows exported to an IPFIX file (-w) must be exactly the flows worked out
# by hand below (count, addresses, ports, packets, IP octets, TCP flags,
# start/end times, flowEndReason, ICMP type/code, ToS, TTL, flow label, MPLS
# top label), with --idle-timeout 5 --active-timeout 10 (FIN timeout 2 s).
# The same trace converted to pcapng (editcap, if installed) must give the
# same records. The summary must count the 5 malformed packets by reason,
# the ARP frame as not IP, and the statistics options records must be there.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=probe_flows

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"

T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT

"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"

CHECK="$SOURCE_DIR/tests/integration/probe_expected.py"

run_probe() { # label input
  local label=$1 input=$2
  timeout 30 "$IPFIX" probe -r "$input" -w "$T/$label.ipfix" --idle-timeout 5 --active-timeout 10 \
    -m 1M 2>"$T/$label.summary" || { cat "$T/$label.summary" >&2; fail "$label: probe exit $?"; }
  timeout 30 "$IPFIX" dump --json "$T/$label.ipfix" > "$T/$label.jsonl" 2>"$T/$label.dump.err" ||
    { cat "$T/$label.dump.err" >&2; fail "$label: ipfix dump failed"; }
  "$PY" "$CHECK" "$T/$label.jsonl" || fail "$label: exported flows differ from the hand-checked ones"
}

run_probe pcap "$T/trace.pcap"
S=$T/pcap.summary
grep -q "42 packets read, 36 metered (4734 IP octets), 1 not IP, 5 ignored" "$S" || { cat "$S" >&2; fail "summary packet counts"; }
for r in "truncatedL2 1" "truncatedIp 1" "badIpHeader 1" "truncatedIpv6ExtensionHeader 1" "truncatedL4 1"; do
  grep -q "$r" "$S" || { cat "$S" >&2; fail "summary lacks '$r'"; }
done
grep -q "21 created, 21 exported; ended by idleTimeout 14, activeTimeout 2, endOfFlowDetected 3, forcedEnd 2, lackOfResources 0" "$S" ||
  { cat "$S" >&2; fail "summary flow counts"; }
grep -q "2 non-initial mapped to their flow, 1 unmapped" "$S" || { cat "$S" >&2; fail "summary fragment counts"; }

if command -v editcap >/dev/null 2>&1; then
  editcap -F pcapng "$T/trace.pcap" "$T/trace.pcapng" || fail "editcap"
  run_probe pcapng "$T/trace.pcapng"
else
  echo "$NAME: note: editcap not installed, pcapng variant skipped"
fi

# microsecond timestamps on request
timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -w "$T/us.ipfix" --time-unit us -q || fail "--time-unit us"
timeout 30 "$IPFIX" dump --json "$T/us.ipfix" > "$T/us.jsonl" || fail "--time-unit us: ipfix dump failed"
grep -q '"flowStartMicroseconds":"2023-11-14T22:13:20.001000Z"' "$T/us.jsonl" ||
  fail "--time-unit us: flowStartMicroseconds missing or wrong"

# flow keys by name with a prefix mask, and a chosen set of non-key fields
timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -w "$T/keys.ipfix" -q --idle-timeout 5 --active-timeout 10 \
  --keys sourceIPv4Address/16,destinationIPv4Address --fields flowStartMilliseconds,packetDeltaCount ||
  fail "--keys/--fields run"
timeout 30 "$IPFIX" dump --json "$T/keys.ipfix" > "$T/keys.jsonl" || fail "--keys: ipfix dump failed"
"$PY" - "$T/keys.jsonl" <<'EOF' || fail "--keys/--fields: wrong records"
import json, sys
recs = [json.loads(l)["record"] for l in open(sys.argv[1]) if '"record"' in l]
assert sum(r["packetDeltaCount"] for r in recs) == 36, "packets"
v4 = [r for r in recs if r["ipVersion"] == 4]
assert all(r["sourceIPv4PrefixLength"] == 16 and r["sourceIPv4Address"].endswith(".0.0") for r in v4), "mask"
assert all("sourceTransportPort" not in r and "octetDeltaCount" not in r for r in recs), "fields"
assert all(set(r) == {"protocolIdentifier", "ipVersion", "flowStartMilliseconds",
                      "flowEndMilliseconds", "packetDeltaCount"} for r in recs if r["ipVersion"] == 6), "v6 keys"
# 10.0.0.0/16 -> 10.0.0.2 over TCP: connection A (5 packets, FIN) and C's SYN from
# 10.0.0.3 now share a key; the SYN after A's FIN starts a new flow
a = [r for r in v4 if r["destinationIPv4Address"] == "10.0.0.2" and r["protocolIdentifier"] == 6]
assert sorted(r["packetDeltaCount"] for r in a) == [1, 5], a
EOF

# usage errors
"$IPFIX" probe -r "$T/trace.pcap" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing -e/-w must exit 2"
"$IPFIX" probe -r "$T/trace.pcap" -w "$T/x.ipfix" --keys bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --keys must exit 2"
"$IPFIX" probe --help > "$T/help.txt" || fail "--help exit status"
grep -q "usage: ipfix probe" "$T/help.txt" || fail "--help"
echo "$NAME: ok"
