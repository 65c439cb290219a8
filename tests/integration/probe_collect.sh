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

NAME=probe_collect
. "$(dirname "$0")/../lib/common.sh"
CHECK=$SOURCE_DIR/tests/integration/probe_expected.py

"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"

run() { # proto host(as in a URI)
  local proto=$1 host=$2 port label=$1-v4
  [[ $host == *:* ]] && label=$1-v6
  local store=$T/store-$label log=$T/collect-$label.err
  port=$(free_port)
  start_collect "$log" --listen "$proto://$host:$port" -w "$store" --no-fsync
  timeout 30 "$IPFIX" probe -r "$T/trace.pcap" -e "$proto://$host:$port" --idle-timeout 5 \
    --active-timeout 10 -m 1M 2>"$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit $?"; }
  # the probe has sent everything (TCP: delivered before exit); give UDP a moment
  sleep 0.3
  kill -TERM "$COLLECT_PID"
  wait "$COLLECT_PID" || { tail "$log" >&2; fail "$label: collector exit $? on SIGTERM"; }
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
