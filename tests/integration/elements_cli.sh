#!/usr/bin/env bash
# ipfix elements: IANA lookups by name/ID, reverse elements, enterprise
# elements loaded with --elements, JSON output and exit codes.
set -euo pipefail
IPFIX=${IPFIX:-build/ipfix}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$IPFIX" elements octetDeltaCount 8 reverseOctetDeltaCount)
grep -q '^1 .*octetDeltaCount .*unsigned64 .*deltaCounter .*octets' <<<"$out" || fail "octetDeltaCount: $out"
grep -q '^8 .*sourceIPv4Address .*ipv4Address' <<<"$out" || fail "id 8: $out"
grep -q '^29305:1 .*reverseOctetDeltaCount' <<<"$out" || fail "reverse: $out"
[ "$("$IPFIX" elements | tail -n +2 | wc -l)" -ge 500 ] || fail "fewer than 500 IANA elements"
"$IPFIX" elements --json flowEndReason | grep -q '"name":"flowEndReason"' || fail "json"

printf 'ElementID,Name,Abstract Data Type,Data Type Semantics,Status,Units,PEN\n12,silkAppLabel,unsigned16,identifier,current,,6871\n' >"$tmp/ent.csv"
"$IPFIX" elements --elements "$tmp/ent.csv" silkAppLabel 6871:12 | grep -c silkAppLabel | grep -q 2 || fail "enterprise element"
set +e
"$IPFIX" elements noSuchElement 2>/dev/null; rc=$?
[ $rc -eq 1 ] || fail "unknown element exit $rc"
"$IPFIX" elements --elements "$tmp/missing.csv" 1 2>/dev/null; rc=$?
[ $rc -eq 1 ] || fail "missing CSV exit $rc"
"$IPFIX" elements --bogus 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad option exit $rc"
echo "elements_cli: ok"
