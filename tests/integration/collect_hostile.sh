#!/usr/bin/env bash
# `ipfix collect` with bad and hostile input.
#   - A UDP datagram that is not IPFIX, and an IPFIX message whose set
#     length runs past the message: each counted as malformed and logged with
#     the exporter, the offset and the RFC rule; other exporters unaffected.
#   - A TCP exporter whose stream has a bad message header is disconnected
#     (RFC 7011 §10.4.2.2) and the log says so.
#   - --allow: exporters outside the allowed prefixes are rejected (logged,
#     counted per listener) and nothing of theirs is stored.
#   - --max-sessions: the session limit is enforced with a clear log line.
#   - UDP data that arrives before its template is held (--max-pending) and
#     stored once the template arrives, after it, so the file decodes alone.
set -uo pipefail

NAME=collect_hostile
. "$(dirname "$0")/../lib/common.sh"

[ -x "$SENDER" ] || fail "test sender not found: $SENDER"

# ------------------------------------------------------------ malformed input
PORT=$(free_port)
start_collect "$T/c1.err" --listen "udp://127.0.0.1:$PORT" --listen "tcp://127.0.0.1:$PORT" \
  -w "$T/store" --no-fsync
"$PY" - "$PORT" <<'EOF' || fail "hostile client failed"
import socket, struct, sys, time
port = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"GET / HTTP/1.0\r\n\r\n", ("127.0.0.1", port))             # not IPFIX
# IPFIX header (length 24) + a set header claiming 100 bytes
msg = struct.pack("!HHIII", 10, 24, int(time.time()), 0, 5) + struct.pack("!HH", 256, 100) + b"\0" * 4
u.sendto(msg, ("127.0.0.1", port))
t = socket.create_connection(("127.0.0.1", port))
t.sendall(struct.pack("!HHIII", 9, 16, 0, 0, 1))                       # version 9 on TCP
t.settimeout(5)
try:
    data = t.recv(10)                                                  # the collector closes
    assert data == b"", data
except ConnectionResetError:
    pass
EOF
timeout 20 "$SENDER" exporters --host 127.0.0.1 --port "$PORT" --udp 2 --tcp 2 --records 40 \
  > "$T/s1.out" 2>&1 || fail "good exporters failed"
sleep 0.3
kill -TERM "$COLLECT_PID"; wait "$COLLECT_PID" || fail "exit status after SIGTERM"
grep -q "udp 127.0.0.1:[0-9]*: malformed message: offset 0: RFC 7011 §3.1" "$T/c1.err" ||
  { cat "$T/c1.err" >&2; fail "non-IPFIX datagram not logged with exporter, offset and rule"; }
grep -q "udp 127.0.0.1:[0-9]*: odid 5: malformed message at offset 1[68]: RFC 7011 §3.3.2" "$T/c1.err" ||
  { cat "$T/c1.err" >&2; fail "bad set length not logged with exporter, offset and rule"; }
grep -q "tcp 127.0.0.1:[0-9]*: bad message header at stream offset +0: .*disconnecting (RFC 7011 §10.4.2.2)" "$T/c1.err" ||
  { cat "$T/c1.err" >&2; fail "TCP bad header: no disconnect logged"; }
grep "^total:" "$T/c1.err" | grep -q " records 160 " || { grep "^total:" "$T/c1.err" >&2; fail "good exporters disturbed"; }
grep "^total:" "$T/c1.err" | grep -q " malformed 3 " || { grep "^total:" "$T/c1.err" >&2; fail "malformed count is not 3"; }
for f in $(find "$T/store" -name '*.ipfix'); do
  "$IPFIX" dump --count "$f" > "$T/count.txt" 2>/dev/null
  [ "$(awk -F': *' '$1=="errors"{print $2}' "$T/count.txt")" = 0 ] || fail "$f: stored file has errors"
done
echo "$NAME: malformed UDP input and a bad TCP header logged with exporter/offset/rule, TCP disconnected; 4 good exporters: 160 records"

# ------------------------------------------------------------ allow-list
PORT=$(free_port)
start_collect "$T/c2.err" --listen "udp://127.0.0.1:$PORT" --listen "tcp://127.0.0.1:$PORT" \
  -w "$T/store2" --no-fsync --allow 192.0.2.0/24 --allow 2001:db8::/32
timeout 20 "$SENDER" exporters --host 127.0.0.1 --port "$PORT" --udp 1 --tcp 1 --records 10 \
  > "$T/s2.out" 2>&1
sleep 0.3
kill -TERM "$COLLECT_PID"; wait "$COLLECT_PID" || fail "exit status after SIGTERM (allow-list)"
grep -q "rejected: address not in the allowed prefixes" "$T/c2.err" || { cat "$T/c2.err" >&2; fail "rejection not logged"; }
grep "^total:" "$T/c2.err" | grep -q " records 0 .* rejected [1-9]" || { grep "^total:" "$T/c2.err" >&2; fail "allow-list not enforced"; }
[ -z "$(find "$T/store2" -name '*.ipfix' 2>/dev/null)" ] || fail "records of a rejected exporter were stored"
echo "$NAME: --allow rejects exporters outside the prefixes"

# ------------------------------------------------------------ session limit
PORT=$(free_port)
start_collect "$T/c3.err" --listen "tcp://127.0.0.1:$PORT" --no-fsync --max-sessions 3
# (the sender fails when the collector closes the connections it refuses)
timeout 20 "$SENDER" exporters --host 127.0.0.1 --port "$PORT" --udp 0 --tcp 5 --records 20 \
  --pace-us 300000 > "$T/s3.out" 2>&1
sleep 0.3
kill -TERM "$COLLECT_PID"; wait "$COLLECT_PID" || fail "exit status after SIGTERM (limit)"
grep -q "rejected: session limit reached (--max-sessions)" "$T/c3.err" || { cat "$T/c3.err" >&2; fail "session limit not logged"; }
grep "^total:" "$T/c3.err" | grep -q " rejected [1-9]" || { grep "^total:" "$T/c3.err" >&2; fail "session limit not enforced"; }
echo "$NAME: --max-sessions 3 rejects TCP exporters beyond 3 open sessions"
# ------------------------------------------------------------ data before template
PORT=$(free_port)
start_collect "$T/c4.err" --listen "udp://127.0.0.1:$PORT" -w "$T/store4" --no-fsync --max-pending 64K
"$PY" - "$PORT" <<'EOF' || fail "early-data client failed"
import socket, struct, sys, time
port = int(sys.argv[1]); now = int(time.time())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def msg(seq, sets):
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), now, seq, 9) + body
data = lambda *ips: struct.pack("!HH", 300, 4 + 4 * len(ips)) + b"".join(socket.inet_aton(i) for i in ips)
tmpl = struct.pack("!HH", 2, 12) + struct.pack("!HHHH", 300, 1, 8, 4)   # sourceIPv4Address
u.sendto(msg(0, [data("10.9.0.1", "10.9.0.2")]), ("127.0.0.1", port))   # before the template
time.sleep(0.1)
u.sendto(msg(2, [tmpl, data("10.9.0.3")]), ("127.0.0.1", port))
EOF
sleep 0.3
kill -TERM "$COLLECT_PID"; wait "$COLLECT_PID" || fail "exit status after SIGTERM (early data)"
f=$(find "$T/store4" -name '*.ipfix')
[ -n "$f" ] || fail "early data: nothing stored"
"$IPFIX" dump --count $f > "$T/count.txt" 2>/dev/null
[ "$(awk -F': *' '$1=="errors"{print $2}' "$T/count.txt")" = 0 ] || { cat "$T/count.txt" >&2; fail "early data: file has errors"; }
n=$("$IPFIX" dump $f 2>/dev/null | grep -c "^record .*sourceIPv4Address=10\.9\.0\.")
[ "$n" -eq 3 ] || { "$IPFIX" dump $f >&2; fail "early data: $n of 3 records stored"; }
echo "$NAME: data sent before its template held and stored after it: 3 of 3 records, file decodes alone"
echo "$NAME: PASS"
exit 0
