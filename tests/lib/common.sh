# common.sh — helpers shared by the integration tests (tests/integration/*.sh).
# Source it after setting NAME:
#     NAME=my_test
#     . "$(dirname "$0")/../lib/common.sh"
# It sets SOURCE_DIR, BUILD_DIR, IPFIX, SENDER (the test sender) and PY
# (Debian's python3, which sees Debian's python packages), creates the
# scratch directory $T (removed at exit unless KEEP=1) and gives:
#   fail MSG / skip MSG        exit 1 / exit 77 (CTest's skip code)
#   track PID                  the process is stopped at exit (TERM, then KILL)
#   free_port                  a port free for both UDP and TCP on 127.0.0.1
#   start_collect LOG ARGS...  `ipfix collect ARGS` (stderr to LOG), waits
#                              until it listens; sets COLLECT_PID; a watchdog
#                              kills it after COLLECT_WATCHDOG seconds (40)
#   wait_for_file FILE PATTERN [TRIES]   poll (0.05 s steps) until grep matches
#   records_of FILE            the "records" figure of the last `total:` line
#                              of a collector's log or statistics file
#   wait_records PID STATS MIN [stable]  SIGUSR1 the collector until STATS
#                              shows >= MIN records (and, with "stable", the
#                              count stopped growing); prints the count
# Restart tests (a collector replaced in the middle of an export):
#   make_restart_trace         $T/half1.pcap + $T/half2.raw: 20000 one-packet
#                              UDP flows 1 ms apart, in two halves
#   start_piped_probe LABEL URI [PROBE ARGS...]   `ipfix probe -r -` fed
#                              half1 at once and half2 once $T/go-LABEL
#                              exists (at most 30 s); stderr in
#                              $T/probe-LABEL.err; sets PIPED_PROBE (its PID)
#   check_restarted LABEL PROBE_LOG COLLECTOR2_LOG EXPORTER
#                              after such a restart: the probe exported all
#                              20000 flows; the second collector reports no
#                              loss or errors and got the 5 templates (or
#                              refreshes of them) on its session named
#                              EXPORTER (tls, sctp, ...)

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
IPFIX=${IPFIX:-$BUILD_DIR/ipfix}
SENDER=$BUILD_DIR/ipfix_test_sender
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
skip() { echo "$NAME: SKIP: $*" >&2; exit 77; }

[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"

T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
PIDS=()
track() { PIDS+=("$@"); }
common_cleanup() {
  local p
  # TERM first: `timeout` passes it on to its child (KILL would orphan it)
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  [ ${#PIDS[@]} -gt 0 ] && sleep 0.2
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap common_cleanup EXIT

free_port() {
  "$PY" - <<'PYEOF'
import socket
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close(); u.close(); continue
    t.close(); u.close()
    print(port)
    break
PYEOF
}

wait_for_file() { # file pattern [tries]
  local i
  for i in $(seq "${3:-100}"); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

start_collect() { # log args...
  local log=$1; shift
  "$IPFIX" collect "$@" 2>"$log" >/dev/null &
  COLLECT_PID=$!
  track "$COLLECT_PID"
  # watchdog: the collector never outlives the test's time budget
  ( sleep "${COLLECT_WATCHDOG:-40}" & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s
    kill -KILL "$COLLECT_PID" 2>/dev/null ) >/dev/null 2>&1 &
  track "$!"
  local i
  for i in $(seq 100); do
    grep -q "listening on" "$log" 2>/dev/null && return 0
    kill -0 "$COLLECT_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$log" >&2
  fail "ipfix collect did not start"
}

records_of() { # file
  awk '/^total:/{for(i=1;i<NF;i++) if($i=="records") print $(i+1)}' "$1" 2>/dev/null | tail -1
}

wait_records() { # collector-pid stats-file min [stable]
  local pid=$1 stats=$2 min=$3 stable=${4:-} got=0 prev=-1 i
  for i in $(seq 150); do
    kill -USR1 "$pid"
    sleep 0.1
    got=$(records_of "$stats")
    if [ "${got:-0}" -ge "$min" ]; then
      [ -z "$stable" ] || [ "$got" = "$prev" ] && break
    fi
    prev=${got:-0}
  done
  echo "${got:-0}"
}

make_restart_trace() {
  "$PY" - "$T/half1.pcap" "$T/half2.raw" <<'PYEOF' || fail "building the restart trace"
import struct, sys
def packet(i):
    src = bytes([10, 0, (i >> 8) & 255, i & 255])
    udp = struct.pack("!HHHH", 1024 + i % 50000, 4000, 8 + 18, 0) + b"x" * 18
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                     src, bytes([10, 1, 0, 1]))
    s = sum(struct.unpack("!10H", ip)); s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
    frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp
    t = 1700000000 * 1000000 + i * 1000
    return struct.pack("<IIII", t // 1000000, t % 1000000, len(frame), len(frame)) + frame
n = 20000
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(n // 2): f.write(packet(i))
with open(sys.argv[2], "wb") as f:
    for i in range(n // 2, n): f.write(packet(i))
PYEOF
  [ -s "$T/half2.raw" ] || fail "building the restart trace"
}

check_restarted() { # label probe-log collector2-log exporter-name
  grep -q "flows: 20000 created, 20000 exported" "$2" ||
    { cat "$2" >&2; fail "$1: not every flow exported"; }
  # the new session starts with the templates: no missing template sets, 5 templates known
  grep "^total:" "$3" | grep -q " lost 0 out_of_order 0 malformed 0 missing_template_sets 0 " ||
    { grep "^total:" "$3" >&2; fail "$1: the second collector reports errors"; }
  # exactly once; DTLS also refreshes them every 100 messages (RFC 7011 §10.3.6)
  grep "^exporter $4 " "$3" |
    awk -v dtls="$([ "$4" = dtls ] && echo 1)" '$NF == 5 || (dtls && $NF > 0 && $NF % 5 == 0) {ok = 1}
                                               END {exit !ok}' ||
    { grep "^exporter" "$3" >&2; fail "$1: templates not resent on the new session"; }
}

start_piped_probe() { # label uri [probe args...]
  local label=$1 uri=$2; shift 2
  rm -f "$T/pipe-$label" "$T/go-$label"
  mkfifo "$T/pipe-$label" || fail "mkfifo"
  timeout 60 "$IPFIX" probe -r - -e "$uri" --idle-timeout 1 --stats-interval 0 -m 16M "$@" \
    < "$T/pipe-$label" 2>"$T/probe-$label.err" &
  PIPED_PROBE=$!
  track "$PIPED_PROBE"
  ( cat "$T/half1.pcap"
    for _ in $(seq 600); do [ -e "$T/go-$label" ] && break; sleep 0.05; done
    cat "$T/half2.raw" ) > "$T/pipe-$label" &
  track "$!"
}
