#!/usr/bin/env bash
# `ipfix probe -i` (live capture through libpcap) in a network namespace of
# its own, so no other traffic of the machine is seen: 200 UDP datagrams of
# 100 payload bytes from one socket to a listening socket and one TCP
# connection (handshake, 3 writes, close) on the namespace's loopback. After
# SIGINT the probe must flush the cache to its IPFIX file and exit 0; the
# file must hold the UDP flow with exactly 200 packets and 200*128 IP octets
# (loopback shows each packet once), 32 more UDP flows of exactly 10
# packets, and the two directions of the TCP connection with SYN and FIN
# seen. With --threads 2 (two libpcap rings in one PACKET_FANOUT group) the
# flows must be the same: none split between the workers. With no traffic
# the idle timeout must still end the flows. `-f` (BPF) must keep the TCP
# packets out.
# Needs root and iproute2 (`ip netns`); skipped (77) otherwise.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=probe_live

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"
[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null || { echo "$NAME: skip (needs root and ip)"; exit 77; }

NS=ipfixkit-live-$$
T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
PROBE=
cleanup() {
  [ -n "$PROBE" ] && kill -KILL "$PROBE" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS" || { echo "$NAME: skip (cannot create a network namespace)"; exit 77; }
ip -n "$NS" link set lo up || fail "lo up"

traffic() {
  ip netns exec "$NS" "$PY" - <<'PYEOF'
import socket, threading
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 7001))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind(("127.0.0.1", 7000))
for _ in range(200):
    tx.sendto(b"x" * 100, ("127.0.0.1", 7001))
    rx.recv(2048)
for port in range(7100, 7132):  # 32 more flows of 10 packets, for the fanout workers
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    for _ in range(10):
        s.sendto(b"z" * 50, ("127.0.0.1", 7001))
        rx.recv(2048)
    s.close()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 7080)); srv.listen(1)
def serve():
    c, _ = srv.accept()
    while c.recv(4096): pass
    c.close()
t = threading.Thread(target=serve); t.start()
c = socket.create_connection(("127.0.0.1", 7080))
for _ in range(3): c.sendall(b"y" * 1000)
c.close(); t.join()
PYEOF
}

run_live() { # label [probe options]; env QUIET_WAIT: seconds without traffic before SIGINT
  local label=$1; shift
  ip netns exec "$NS" timeout 30 "$IPFIX" probe -i lo -w "$T/$label.ipfix" --idle-timeout 60 \
    -m 1M "$@" 2>"$T/$label.summary" &
  PROBE=$!
  # wait until every ring is active: the probe says so, as tcpdump does (a
  # packet socket shows in /proc/net/packet before its ring is set up, and
  # what arrives in between is not captured: CI lost 123 of 200 packets so)
  local up=
  for _ in $(seq 200); do
    grep -q "listening on lo" "$T/$label.summary" 2>/dev/null && { up=1; break; }
    kill -0 "$PROBE" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$up" ] || { cat "$T/$label.summary" >&2; fail "$label: probe did not start listening"; }
  traffic || fail "$label: traffic generator"
  sleep "${QUIET_WAIT:-0.3}"
  kill -INT "$PROBE"
  wait "$PROBE"; local rc=$?
  PROBE=
  [ $rc -eq 0 ] || { cat "$T/$label.summary" >&2; fail "$label: probe exit $rc after SIGINT"; }
  "$IPFIX" dump --json "$T/$label.ipfix" > "$T/$label.jsonl" || fail "$label: dump"
}

check_all() { # label
"$PY" - "$T/$1.jsonl" <<'PYEOF' || fail "$1: flows of the live capture"
import json, sys
flows = [json.loads(l)["record"] for l in open(sys.argv[1]) if l.startswith('{"record"')]
udp = [f for f in flows if f["protocolIdentifier"] == 17 and f["sourceTransportPort"] == 7000]
assert len(udp) == 1, udp
assert udp[0]["packetDeltaCount"] == 200 and udp[0]["octetDeltaCount"] == 200 * 128, udp
assert udp[0]["flowEndReason"] == 4, udp  # forcedEnd: flushed at SIGINT
tcp = [f for f in flows if f["protocolIdentifier"] == 6 and 7080 in
       (f["sourceTransportPort"], f["destinationTransportPort"])]
assert len(tcp) == 2, tcp
for f in tcp:
    flags = f["tcpControlBits"]
    assert flags & 0x02 and flags & 0x01, f  # SYN and FIN seen in both directions
assert all(f["ingressInterface"] == 1 for f in flows), flows  # lo's ifindex
small = [f for f in flows if f["protocolIdentifier"] == 17 and 7100 <= f["sourceTransportPort"] < 7132]
assert len(small) == 32 and all(f["packetDeltaCount"] == 10 for f in small), small
PYEOF
}
run_live all
check_all all
# two workers on one PACKET_FANOUT group: the same flows, none split
run_live threads --threads 2
check_all threads
grep -q "workers: 2 (PACKET_FANOUT)" "$T/threads.summary" || { cat "$T/threads.summary" >&2; fail "no fanout workers"; }
# a quiet interface still expires its flows (idle timeout 1 s, 6 s of silence)
QUIET_WAIT=6 run_live quiet --idle-timeout 1
# every flow ended before SIGINT: by the idle timeout, or (the TCP flows
# that saw FIN, depending on when the sweep passes) endOfFlowDetected
"$PY" - "$T/quiet.summary" <<'PYEOF' ||
import re, sys
m = re.search(r"idleTimeout (\d+), activeTimeout \d+, endOfFlowDetected (\d+), forcedEnd (\d+)",
              open(sys.argv[1]).read())
assert m and int(m.group(3)) == 0 and int(m.group(1)) + int(m.group(2)) >= 35, m and m.groups()
PYEOF
  { cat "$T/quiet.summary" >&2; fail "flows did not expire while the interface was quiet"; }
run_live filtered -f "udp"
"$PY" - "$T/filtered.jsonl" <<'PYEOF' || fail "BPF filter"
import json, sys
flows = [json.loads(l)["record"] for l in open(sys.argv[1]) if l.startswith('{"record"')]
assert flows and all(f["protocolIdentifier"] == 17 for f in flows), flows
PYEOF
echo "$NAME: ok"
