#!/usr/bin/env bash
# The whole exporter -> collector path with ipfixkit on both ends:
# `ipfix probe` meters the hand-checked trace of tools/probe_test_pcap.py
# and exports it over UDP, then over TCP, IPv4 and IPv6 loopback, to
# `ipfix collect -w DIR`; after SIGTERM the flows in the stored files must be
# exactly the hand-checked ones (tests/integration/probe_expected.py), the
# statistics options records must be stored with them, and the collector
# must report no loss, no malformed message and no missing template.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=probe_collect
CHECK=$SOURCE_DIR/tests/integration/probe_expected.py

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"
T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
CPID=
cleanup() {
  [ -n "$CPID" ] && kill -KILL "$CPID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"

free_port() {
  "$PY" -c 'import socket
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); t.bind(("::", 0)); print(t.getsockname()[1])'
}

run() { # proto host(as in a URI)
  local proto=$1 host=$2 port label=$1-v4
  [[ $host == *:* ]] && label=$1-v6
  local store=$T/store-$label log=$T/collect-$label.err
  port=$(free_port)
  "$IPFIX" collect --listen "$proto://$host:$port" -w "$store" --no-fsync 2>"$log" &
  CPID=$!
  local i
  for i in $(seq 100); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.05; done
  grep -q "listening on" "$log" || { cat "$log" >&2; fail "$label: collector did not start"; }
  timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -e "$proto://$host:$port" --idle-timeout 5 \
    --active-timeout 10 -m 1M 2>"$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit $?"; }
  # the probe has sent everything (TCP: delivered before exit); give UDP a moment
  sleep 0.3
  kill -TERM "$CPID"
  wait "$CPID" || { tail "$log" >&2; fail "$label: collector exit $? on SIGTERM"; }
  CPID=
  local total
  total=$(grep "^total:" "$log")
  echo "$NAME: $label: $total"
  echo "$total" | grep -q " lost 0 out_of_order 0 malformed 0 missing_template_sets 0 " ||
    fail "$label: collector reports loss or errors: $total"
  : > "$T/$label.jsonl"
  local f
  for f in $(find "$store" -name '*.ipfix' | sort); do
    "$IPFIX" dump --json "$f" >> "$T/$label.jsonl" || fail "$label: dump $f"
  done
  "$PY" "$CHECK" "$T/$label.jsonl" --no-options || fail "$label: stored flows differ from the hand-checked ones"
  # statistics options records of RFC 7011 §4.1-4.3, stored as sent
  grep -q '"exportedFlowRecordTotalCount":21' "$T/$label.jsonl" || fail "$label: no metering statistics"
  grep -q '"ignoredPacketTotalCount":5' "$T/$label.jsonl" || fail "$label: no metering reliability statistics"
  grep -q '"notSentFlowTotalCount":0' "$T/$label.jsonl" || fail "$label: no exporting reliability statistics"
}

run udp 127.0.0.1
run tcp 127.0.0.1
run udp '[::1]'
run tcp '[::1]'
echo "$NAME: ok"
