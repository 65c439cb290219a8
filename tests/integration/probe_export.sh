#!/usr/bin/env bash
# `ipfix probe` exporting to Collectors over UDP and TCP (loopback, free
# ports picked by the receivers): a small Python receiver stores what
# arrives (UDP datagrams / the TCP byte stream) as concatenated messages;
# then
#   - `ipfix dump --json` of what arrived gives exactly the hand-checked
#     flows (tests/integration/probe_expected.py);
#   - UDP: every datagram is one message of at most --max-message bytes,
#     and templates are re-sent (refresh by message count, RFC 7011
#     §10.3.6);
#   - tshark decodes the export (wrapped into pcaps by tools/interop_pcap.py,
#     UDP datagrams unchanged / one TCP stream) with no malformed packet and
#     no expert warning or error (skipped if tshark is missing);
#   - TCP Collector down: the probe finishes, and reports the records it
#     could not send (24 = 21 flows + 3 statistics records).
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=probe_export
CHECK=$SOURCE_DIR/tests/integration/probe_expected.py

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"

T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
RECV_PID=
cleanup() { [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export HOME=$T XDG_CONFIG_HOME=$T/.config

"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"

# receiver: udp|tcp OUT PORTFILE — binds 127.0.0.1:0, writes the port, stores
# messages; UDP ends 2 s after the last datagram, TCP at EOF; 20 s at most.
cat > "$T/recv.py" <<'EOF'
import socket, struct, sys, time
proto, out, portfile = sys.argv[1:4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
if proto == "tcp":
    s.listen(1)
open(portfile + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(portfile + ".tmp", portfile)
deadline = time.time() + 20
sizes = []
with open(out, "wb") as f:
    if proto == "udp":
        s.settimeout(20)
        while time.time() < deadline:
            try:
                data = s.recv(65535)
            except socket.timeout:
                break
            f.write(data); f.flush()
            sizes.append(len(data))
            s.settimeout(2)
    else:
        s.settimeout(20)
        c, _ = s.accept()
        c.settimeout(20)
        while True:
            data = c.recv(65536)
            if not data:
                break
            f.write(data)
open(out + ".sizes", "w").write(" ".join(map(str, sizes)))
EOF

start_receiver() { # proto out
  rm -f "$T/port"
  "$PY" "$T/recv.py" "$1" "$2" "$T/port" &
  RECV_PID=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  [ -s "$T/port" ] || fail "$1 receiver did not start"
  PORT=$(cat "$T/port")
}

wait_receiver() {
  for _ in $(seq 250); do kill -0 "$RECV_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$RECV_PID" 2>/dev/null && fail "receiver did not finish"
  wait "$RECV_PID"; RECV_PID=
}

tshark_check() { # label proto stream
  command -v tshark >/dev/null 2>&1 || { echo "$NAME: note: tshark missing, $1 decode check skipped"; return; }
  "$PY" "$SOURCE_DIR/tools/interop_pcap.py" "$2" "$3" "$T/$1.pcap" --port 4739 >/dev/null ||
    fail "$1: building the capture"
  timeout 60 tshark -n -r "$T/$1.pcap" -d "$2.port==4739,cflow" -q -z expert > "$T/$1.expert" 2>&1 ||
    fail "$1: tshark failed"
  if grep -q -E '^(Errors|Warns) \(' "$T/$1.expert"; then
    cat "$T/$1.expert" >&2; fail "$1: tshark reports expert warnings/errors"
  fi
  n=$(timeout 60 tshark -n -r "$T/$1.pcap" -d "$2.port==4739,cflow" -Y cflow -T fields -e cflow.od_id 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] || fail "$1: tshark decoded no IPFIX message"
  timeout 60 tshark -n -r "$T/$1.pcap" -d "$2.port==4739,cflow" -Y '_ws.malformed' 2>/dev/null | grep -q . &&
    fail "$1: tshark finds malformed packets"
  echo "$NAME: $1: tshark decodes $n packets, no warnings"
}

OPTS=(--idle-timeout 5 --active-timeout 10 -m 1M --odid 7)

# --- UDP ---
start_receiver udp "$T/udp.ipfix"
timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -e "udp://127.0.0.1:$PORT" "${OPTS[@]}" \
  --max-message 512 --template-refresh-messages 3 2>"$T/udp.summary" ||
  { cat "$T/udp.summary" >&2; fail "udp: probe failed"; }
wait_receiver
timeout 30 "$IPFIX" dump --json "$T/udp.ipfix" > "$T/udp.jsonl" 2>"$T/udp.err" ||
  { head "$T/udp.err" >&2; fail "udp: ipfix dump failed"; }
"$PY" "$CHECK" "$T/udp.jsonl" || fail "udp: flows differ from the hand-checked ones"
for s in $(cat "$T/udp.ipfix.sizes"); do [ "$s" -le 512 ] || fail "udp: datagram of $s bytes > 512"; done
n_tmpl=$(grep -c '"template":{"id":256' "$T/udp.jsonl")
[ "$n_tmpl" -ge 2 ] || fail "udp: templates sent $n_tmpl times, expected refreshes"
grep -q '"odid":7' "$T/udp.jsonl" || fail "udp: --odid not applied"
tshark_check udp udp "$T/udp.ipfix"

# --- TCP ---
start_receiver tcp "$T/tcp.ipfix"
timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -e "tcp://127.0.0.1:$PORT" "${OPTS[@]}" 2>"$T/tcp.summary" ||
  { cat "$T/tcp.summary" >&2; fail "tcp: probe failed"; }
wait_receiver
timeout 30 "$IPFIX" dump --json "$T/tcp.ipfix" > "$T/tcp.jsonl" 2>"$T/tcp.err" ||
  { head "$T/tcp.err" >&2; fail "tcp: ipfix dump failed"; }
"$PY" "$CHECK" "$T/tcp.jsonl" || fail "tcp: flows differ from the hand-checked ones"
tshark_check tcp tcp "$T/tcp.ipfix"

# --- TCP Collector down: bounded wait, records counted as not sent ---
# a port with no listener: bind, note the port, close
DOWN_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -e "tcp://127.0.0.1:$DOWN_PORT" "${OPTS[@]}" 2>"$T/down.summary" ||
  { cat "$T/down.summary" >&2; fail "tcp down: probe failed"; }
grep -q "not sent: 24 records (36 packets)" "$T/down.summary" ||
  { cat "$T/down.summary" >&2; fail "tcp down: lost records not reported"; }
echo "$NAME: ok"
