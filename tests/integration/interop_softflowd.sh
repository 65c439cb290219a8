#!/usr/bin/env bash
# Interoperability with a real IPFIX exporter: softflowd.
#
# tools/interop_pcap.py writes a small traffic trace (a TCP connection, a UDP
# request/response exchange, ICMP echo, UDP over IPv6 and 60 small UDP
# flows); softflowd meters it (-r, -v 10 IPFIX, -A milli) and exports to
# 127.0.0.1 while tcpdump captures the loopback interface. Done twice: export
# over UDP, and over TCP (-P tcp) to a local listener. Then, per capture:
#   - `ipfix dump --json --port PORT CAPTURE` decodes softflowd's templates
#     and records with exit 0 and `ipfix dump --count` reports 0 errors;
#   - every record and every field equals tshark's decode of the same capture
#     (tools/interop_compare_tshark.py: flows, addresses, ports, protocol,
#     packets and bytes per flow, timestamps, TCP flags, ...), and tshark
#     reports no malformed packet and no expert warning other than
#     "Unexpected flow sequence" (softflowd 1.1.0's sequence numbers are off
#     by one message; that is softflowd's bug, not a decoding problem).
# softflowd's byte counts are not compared with the trace itself: the
# reference is tshark's decode of what softflowd exported.
#
# Needs root (packet capture on lo); exits 77 (skip) when softflowd, tcpdump
# or tshark is missing or capturing is not permitted.
set -uo pipefail

NAME=interop_softflowd
. "$(dirname "$0")/../lib/common.sh"
TOOLS=$SOURCE_DIR/tools

for tool in softflowd tcpdump tshark; do
  command -v $tool >/dev/null 2>&1 || skip "$tool not found (Debian package $tool)"
done

export HOME=$T XDG_CONFIG_HOME=$T/.config

"$PY" "$TOOLS/interop_pcap.py" traffic "$T/traffic.pcap" > "$T/traffic.txt" || fail "building the traffic trace failed"
NFLOWS=$(wc -l < "$T/traffic.txt")

start_capture() { # label filter
  local label=$1 filter=$2 i
  timeout 60 tcpdump -i lo -n -U --immediate-mode -Z root -s 0 -w "$T/$label.pcap" "$filter" \
    2>"$T/$label.tcpdump.err" &
  CAP_PID=$!
  track "$CAP_PID"
  for i in $(seq 50); do
    grep -q "listening on" "$T/$label.tcpdump.err" 2>/dev/null && return 0
    kill -0 "$CAP_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$T/$label.tcpdump.err" >&2
  skip "cannot capture on the loopback interface with tcpdump (needs root / CAP_NET_RAW)"
}

stop_capture() { # label: waits until the capture holds the whole export
  local label=$1 i n
  for i in $(seq 50); do
    if [ "$label" = udp ]; then
      n=$(tshark -r "$T/$label.pcap" 2>/dev/null | wc -l)
      [ "$n" -ge "$EXPORTED" ] && break
    else
      n=$(tshark -r "$T/$label.pcap" -Y "tcp.flags.fin==1" 2>/dev/null | wc -l)
      [ "$n" -ge 2 ] && break
    fi
    sleep 0.1
  done
  # stop tcpdump cleanly (SIGINT flushes the file)
  kill -INT "$CAP_PID" 2>/dev/null
  wait "$CAP_PID" 2>/dev/null
}

run_softflowd() { # label extra-args...
  local label=$1; shift
  timeout 30 softflowd -r "$T/traffic.pcap" -n "127.0.0.1:$PORT" -v 10 -d -a -A milli -m 65536 \
    -p "$T/softflowd.pid" "$@" > "$T/$label.softflowd.out" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || { tail -20 "$T/$label.softflowd.out" >&2; fail "$label: softflowd exit $rc"; }
  # "Flows exported: 65 (67 records) in 3 packets (0 failures)"
  local line
  line=$(grep -E "Flows exported" "$T/$label.softflowd.out") ||
    { tail -20 "$T/$label.softflowd.out" >&2; fail "$label: softflowd exported nothing"; }
  echo "$NAME: $label: softflowd: $line"
  EXPORTED=$(echo "$line" | sed -n -E 's/.* in ([0-9]+) packets.*/\1/p')
  echo "$line" | grep -q "(0 failures)" || fail "$label: softflowd failed to send some export packets: $line"
}

check_capture() { # label proto
  local label=$1 proto=$2 rc
  local cap=$T/$label.pcap
  [ -s "$cap" ] || fail "$label: nothing captured"
  timeout 60 "$IPFIX" dump --json --port "$PORT" "$cap" > "$T/$label.jsonl" 2>"$T/$label.dump.err"
  rc=$?
  [ $rc -eq 0 ] || { head -20 "$T/$label.dump.err" >&2; fail "$label: ipfix dump --json exit $rc on softflowd's export"; }
  # diagnostics that are not errors (softflowd's sequence numbers) are shown
  sed "s|^$T/||; s/^/$NAME: $label: ipfix dump notes: /" "$T/$label.dump.err" | head -10
  timeout 60 "$IPFIX" dump --count --port "$PORT" "$cap" > "$T/$label.count" 2>"$T/$label.count.err"
  rc=$?
  [ $rc -eq 0 ] || { head -20 "$T/$label.count.err" >&2; fail "$label: ipfix dump --count exit $rc"; }
  local errors templates records
  errors=$(awk -F': *' '$1=="errors"{print $2}' "$T/$label.count")
  templates=$(awk -F': *' '$1=="templates"{print $2}' "$T/$label.count")
  records=$(awk -F': *' '$1=="data_records"{print $2}' "$T/$label.count")
  [ "${errors:-missing}" = "0" ] || { cat "$T/$label.count" >&2; fail "$label: ipfix dump --count: errors: ${errors:-missing}"; }
  [ "${templates:-0}" -gt 0 ] || { cat "$T/$label.count" >&2; fail "$label: ipfix dump saw no templates in softflowd's export"; }
  # flow records (options records excluded) must cover every flow of the trace
  local flows
  flows=$(grep -c '"record"' "$T/$label.jsonl")
  [ "$flows" -eq "$NFLOWS" ] || fail "$label: ipfix dump decoded $flows flow records, the trace has $NFLOWS flows"
  timeout 60 tshark -n -r "$cap" -d "$proto.port==$PORT,cflow" -T pdml > "$T/$label.pdml" 2>"$T/$label.tshark.err" ||
    { head "$T/$label.tshark.err" >&2; fail "$label: tshark failed"; }
  "$PY" "$TOOLS/interop_compare_tshark.py" --data "$SOURCE_DIR/data" --label "$NAME: $label" \
    --allow-expert "Unexpected flow sequence" --summary 12 "$T/$label.jsonl" "$T/$label.pdml" ||
    fail "$label: ipfix dump and tshark disagree on softflowd's export"
  echo "$NAME: $label: $records data records ($flows flows), $templates templates decoded; values identical to tshark"
}

# A collector stand-in on 127.0.0.1:PORT: UDP (datagrams are read and dropped,
# so that softflowd's connected socket gets no ICMP port-unreachable errors)
# or TCP (accepts one connection, reads it to EOF). Creates READY once bound;
# a UDP sink stops when STOP exists. Prints what it received.
cat > "$T/listener.py" <<'EOF'
import os, socket, sys, time
proto, port, ready, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
deadline = time.time() + 25
n = msgs = 0
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.1)
    open(ready, "w").close()
    while time.time() < deadline and not os.path.exists(stop):
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        n += len(d)
        msgs += 1
    print("received %d datagrams, %d bytes" % (msgs, n))
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    s.settimeout(25)
    open(ready, "w").close()
    c, _ = s.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
    c.close()
    print("received %d bytes over TCP" % n)
EOF

start_listener() { # proto
  rm -f "$T/listener.ready" "$T/listener.stop"
  timeout 30 "$PY" "$T/listener.py" "$1" "$PORT" "$T/listener.ready" "$T/listener.stop" \
    > "$T/listener.out" 2>&1 &
  LISTENER=$!
  track "$LISTENER"
  local i
  for i in $(seq 50); do
    [ -e "$T/listener.ready" ] && return 0
    sleep 0.1
  done
  cat "$T/listener.out" >&2
  fail "$1: the local $1 listener did not start"
}

stop_listener() { # label
  touch "$T/listener.stop"
  wait "$LISTENER" || { cat "$T/listener.out" >&2; fail "$1: the $1 listener failed"; }
  sed "s/^/$NAME: $1: listener: /" "$T/listener.out"
}

# ---------------------------------------------------------------- UDP export
PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_capture udp "udp and port $PORT"
start_listener udp
run_softflowd udp
stop_capture udp
stop_listener udp
check_capture udp udp

# ---------------------------------------------------------------- TCP export
PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_capture tcp "tcp and port $PORT"
start_listener tcp
run_softflowd tcp -P tcp
stop_listener tcp
stop_capture tcp
check_capture tcp tcp

echo "$NAME: PASS"
exit 0
