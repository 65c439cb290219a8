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
