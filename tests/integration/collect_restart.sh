#!/usr/bin/env bash
# `ipfix collect` crash safety and clean shutdown.
#
# 1. SIGKILL during a high-rate run (UDP and TCP replay, files rotated every
#    second): afterwards every file under a final name (*.ipfix) decodes
#    completely (`ipfix dump --count`: 0 errors; libfixbuf's ipfixDump reads
#    it); partial files exist only as hidden temporary files (.NAME.tmp).
# 2. Restart on the same directory: the interrupted temporary files are cut
#    after their last complete message and renamed (readable like the rest).
#    Then replay a fixed number of records over
#    TCP (the sender waits until the collector's kernel has acknowledged
#    every byte), then SIGTERM at once: exit 0 and every record is stored.
# 3. SIGHUP rotates: a new file appears without stopping.
set -uo pipefail

NAME=collect_restart
. "$(dirname "$0")/../lib/common.sh"

[ -x "$SENDER" ] || fail "test sender not found: $SENDER"

check_files() { # label: every final file decodes without errors
  local label=$1 f n errors count=0 records=0
  for f in $(find "$T/store" -name '*.ipfix' | sort); do
    "$IPFIX" dump --count "$f" > "$T/count.txt" 2>"$T/count.err"
    errors=$(awk -F': *' '$1=="errors"{print $2}' "$T/count.txt")
    [ "$errors" = 0 ] || { head -5 "$T/count.err" >&2; fail "$label: $f: ipfix dump errors: ${errors:-?}"; }
    n=$(awk -F': *' '$1=="data_records"{print $2}' "$T/count.txt")
    records=$((records + n))
    if command -v ipfixDump >/dev/null 2>&1; then
      timeout 30 ipfixDump --in "$f" --stats > /dev/null 2>&1 || fail "$label: ipfixDump cannot read $f"
    fi
    count=$((count + 1))
  done
  FILE_COUNT=$count
  FILE_RECORDS=$records
}

# ------------------------------------------------------------ 1. SIGKILL
PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_collect "$T/run1.err" --listen "udp://127.0.0.1:$PORT" --listen "tcp://127.0.0.1:$PORT" \
  -w "$T/store" --rotate 1
SENDERS=()
timeout 20 "$SENDER" replay --udp --port "$PORT" --records 50000000 --rate 500000 > /dev/null 2>&1 &
SENDERS+=("$!")
timeout 20 "$SENDER" replay --tcp --port "$PORT" --records 50000000 --rate 500000 > /dev/null 2>&1 &
SENDERS+=("$!")
track "${SENDERS[@]}"
sleep 1.6
kill -KILL "$COLLECT_PID"
wait "$COLLECT_PID" 2>/dev/null
check_files "after SIGKILL"
TEMPS=$(find "$T/store" -name '.*.tmp' | wc -l)
[ "$FILE_COUNT" -gt 0 ] || fail "no complete file before SIGKILL (rotation every second)"
echo "$NAME: after SIGKILL: $FILE_COUNT complete files ($FILE_RECORDS records) all readable; $TEMPS temporary file(s) left"
# (TERM: `timeout` passes it on to the sender; KILL would orphan the sender)
for p in "${SENDERS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done

# ------------------------------------------------------------ 2. restart: recovery
# The interrupted temporary file is cut after its last complete message and
# renamed; it must decode like the others.
PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_collect "$T/run2a.err" --listen "udp://127.0.0.1:$PORT" -w "$T/store"
kill -TERM "$COLLECT_PID"
wait "$COLLECT_PID" || { tail "$T/run2a.err" >&2; fail "exit status after SIGTERM (recovery)"; }
LEFT=$(find "$T/store" -name '.*.tmp' | wc -l)
[ "$LEFT" -eq 0 ] || fail "$LEFT temporary files left after a restart"
# Each temporary file is either recovered (cut after its last complete
# message) or, when it holds no complete message yet (a file just opened,
# its data still in the collector's buffer at the SIGKILL), removed.
RECOVERED=$(grep -c "recovered an interrupted file" "$T/run2a.err")
REMOVED=$(grep -c "removed an interrupted file without a complete message" "$T/run2a.err")
[ $((RECOVERED + REMOVED)) -eq "$TEMPS" ] ||
  { cat "$T/run2a.err" >&2; fail "$TEMPS temporary files, $RECOVERED recovered, $REMOVED removed"; }
check_files "after recovery"
echo "$NAME: restart: $RECOVERED interrupted file(s) recovered, $REMOVED empty one(s) removed; $FILE_COUNT files ($FILE_RECORDS records) all readable"
BEFORE=$FILE_RECORDS

# ------------------------------------------------------------ 2. restart + SIGTERM
PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_collect "$T/run2.err" --listen "tcp://127.0.0.1:$PORT" -w "$T/store"
N=500000
timeout 30 "$SENDER" replay --tcp --port "$PORT" --records $N > "$T/sender.out" 2>&1 ||
  { cat "$T/sender.out" >&2; fail "TCP sender failed"; }
SENT=$(awk '{print $2}' "$T/sender.out")
kill -TERM "$COLLECT_PID"
wait "$COLLECT_PID" || { tail "$T/run2.err" >&2; fail "exit status after SIGTERM is not 0"; }
check_files "after restart and SIGTERM"
STORED=$((FILE_RECORDS - BEFORE))
[ "$STORED" -eq "$SENT" ] || fail "TCP: sent $SENT records (acknowledged), stored $STORED"
echo "$NAME: restart: TCP sent $SENT records, SIGTERM right after the last acknowledgement: $STORED stored"

# ------------------------------------------------------------ 3. SIGHUP
PORT=$(free_port); [ -n "$PORT" ] || fail "no free port"
start_collect "$T/run3.err" --listen "udp://127.0.0.1:$PORT" -w "$T/store" -v
timeout 10 "$SENDER" replay --udp --port "$PORT" --records 1000 > /dev/null 2>&1
sleep 0.3
N1=$(find "$T/store" -name '*.ipfix' | wc -l)
kill -HUP "$COLLECT_PID"
for i in $(seq 50); do
  [ "$(find "$T/store" -name '*.ipfix' | wc -l)" -gt "$N1" ] && break
  sleep 0.05
done
N2=$(find "$T/store" -name '*.ipfix' | wc -l)
[ "$N2" -gt "$N1" ] || fail "SIGHUP did not rotate the file"
kill -TERM "$COLLECT_PID"
wait "$COLLECT_PID" || fail "exit status after SIGTERM is not 0"
echo "$NAME: SIGHUP rotated ($N1 -> $N2 files)"
echo "$NAME: PASS"
exit 0
