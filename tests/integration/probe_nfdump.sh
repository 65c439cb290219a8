#!/usr/bin/env bash
# Interoperability of `ipfix probe`'s UDP export with nfdump's collector:
# nfcapd (Debian nfdump) receives the export of the hand-checked trace
# (tools/probe_test_pcap.py); nfdump must list exactly the hand-checked
# flows (protocol, addresses, ports or ICMP type.code, packets, bytes,
# start/end times: tests/integration/probe_expected.py --nfdump) and nfcapd
# must report no sequence error and no bad packet.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 77 skip
# (nfcapd/nfdump missing), 1 fail.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=probe_nfdump

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
skip() { echo "$NAME: SKIP: $*" >&2; exit 77; }
for tool in nfcapd nfdump; do
  command -v $tool >/dev/null 2>&1 || skip "$tool not found (Debian package nfdump)"
done
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"

T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
NFC_PID=
cleanup() { [ -n "$NFC_PID" ] && kill "$NFC_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"
mkdir -p "$T/flows"

# nfcapd cannot report an ephemeral port: try a few random free ones
started=
for _ in 1 2 3 4 5; do
  PORT=$("$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  nfcapd -w "$T/flows" -p "$PORT" -b 127.0.0.1 > "$T/nfcapd.log" 2>&1 &
  NFC_PID=$!
  for _ in $(seq 40); do
    grep -q "Startup" "$T/nfcapd.log" 2>/dev/null && break
    kill -0 $NFC_PID 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 $NFC_PID 2>/dev/null && grep -q "Startup" "$T/nfcapd.log"; then started=1; break; fi
  wait $NFC_PID 2>/dev/null; NFC_PID=
done
[ -n "$started" ] || { cat "$T/nfcapd.log" >&2; fail "nfcapd did not start"; }
sleep 0.3

timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -e "udp://127.0.0.1:$PORT" --idle-timeout 5 \
  --active-timeout 10 -m 1M -q || fail "probe failed"
sleep 0.5
kill -TERM $NFC_PID
for _ in $(seq 100); do kill -0 $NFC_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $NFC_PID 2>/dev/null && fail "nfcapd did not stop"
wait $NFC_PID 2>/dev/null; NFC_PID=

grep -q "Flows: 21, Packets: 36, Bytes: 4734, Sequence Errors: 0, Bad Packets: 0" "$T/nfcapd.log" ||
  { cat "$T/nfcapd.log" >&2; fail "nfcapd statistics"; }
timeout 30 nfdump -R "$T/flows" -q -o "fmt:%pr %sa %da %sp %dp %pkt %byt %ts %te" > "$T/nfdump.txt" 2>&1 ||
  { cat "$T/nfdump.txt" >&2; fail "nfdump failed"; }
"$PY" "$SOURCE_DIR/tests/integration/probe_expected.py" --nfdump "$T/nfdump.txt" ||
  fail "nfdump's flows differ from the hand-checked ones"
echo "$NAME: ok"
