#!/usr/bin/env bash
# IPFIX over SCTP over UDP encapsulation (RFC 7011 §10.2, RFC 6951; usrsctp,
# sctp+udp://): `ipfix probe -e sctp+udp://...` to
# `ipfix collect --listen sctp+udp://...`. Probe and collector are separate
# processes with a usrsctp stack each, on different UDP ports: no root needed.
#  1. The hand-checked trace (tools/probe_test_pcap.py) over IPv4 and IPv6
#     loopback, fully reliable and with PR-SCTP timed reliability
#     (--sctp-pr-ttl 500): every flow stored exactly as expected
#     (tests/integration/probe_expected.py), no loss or errors at the
#     collector, nothing unsent at the probe.
#  2. Collector restart in the middle of an export: the probe reads a trace
#     through a pipe; after half of it the collector is stopped (it shuts the
#     association down) and another is started on the same port; the
#     exporter notices, queues, reconnects with backoff, sends the templates
#     first on the new association, and every record is stored.
#  3. tshark decodes a capture of the UDP-encapsulated association as SCTP
#     carrying IPFIX: templates on stream 0, data on stream 1, nothing
#     malformed (skipped if capturing is not possible).
#  4. sctp:// (native SCTP over raw IP) is refused as not implemented.
# Not covered yet: PR-SCTP abandonment under packet loss (needs a netns with
# an nftables drop rule), native SCTP.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

NAME=sctp
. "$(dirname "$0")/../lib/common.sh"
CHECK=$SOURCE_DIR/tests/integration/probe_expected.py

timeout 10 "$IPFIX" collect --listen sctp://127.0.0.1:1 >/dev/null 2>"$T/built.err"
grep -q "SCTP support not built" "$T/built.err" && skip "built without SCTP (-DIPFIXKIT_SCTP=OFF or no libusrsctp-dev)"
grep -q "sctp:// (native SCTP over raw IP) is not implemented yet" "$T/built.err" ||
  { cat "$T/built.err" >&2; fail "sctp:// is not refused clearly"; }

"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"

stop_collect() { # label log
  kill -TERM "$COLLECT_PID"
  wait "$COLLECT_PID" || { tail "$2" >&2; fail "$1: collector exit $? on SIGTERM"; }
}


check_store() { # label store log
  local label=$1 store=$2 log=$3 total f
  total=$(grep "^total:" "$log")
  echo "$NAME: $label: $total"
  echo "$total" | grep -q " lost 0 out_of_order 0 malformed 0 missing_template_sets 0 " ||
    fail "$label: collector reports loss or errors: $total"
  : > "$T/$label.jsonl"
  for f in $(find "$store" -name '*.ipfix' | sort); do
    "$IPFIX" dump --json "$f" >> "$T/$label.jsonl" || fail "$label: dump $f"
  done
  "$PY" "$CHECK" "$T/$label.jsonl" --no-options || fail "$label: stored flows differ from the hand-checked ones"
  grep -q '"notSentFlowTotalCount":0' "$T/$label.jsonl" || fail "$label: no exporting reliability statistics"
}

# ------------------------------------------------------------ 1. connectivity
run_ok() { # label host ttl-ms
  local label=$1 host=$2 ttl=$3
  local port; port=$(free_port)
  start_collect "$T/collect-$label.err" --listen "sctp+udp://$host:$port" -w "$T/store-$label" --no-fsync -v
  timeout 60 "$IPFIX" probe -r "$T/trace.pcap" -e "sctp+udp://$host:$port" --sctp-pr-ttl "$ttl" \
    --idle-timeout 5 --active-timeout 10 -m 1M 2>"$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
  local want="fully reliable"
  [ "$ttl" -gt 0 ] && want="PR-SCTP timed reliability $ttl ms"
  grep -q "connected (SCTP over UDP, 2 streams, data on stream 1, $want)" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: the probe did not report its association"; }
  grep -q "not sent: 0 records" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: records not sent"; }
  stop_collect "$label" "$T/collect-$label.err"
  grep -q "sctp+udp .*new session via sctp+udp://" "$T/collect-$label.err" ||
    { cat "$T/collect-$label.err" >&2; fail "$label: the collector did not log the association"; }
  grep -q "^exporter sctp+udp .* records 24 .* templates 5$" "$T/collect-$label.err" ||
    { grep "^exporter" "$T/collect-$label.err" >&2; fail "$label: per-session statistics"; }
  check_store "$label" "$T/store-$label" "$T/collect-$label.err"
}

run_ok sctp-v4 127.0.0.1 0
run_ok sctp-v6 '[::1]' 0
run_ok sctp-v4-prttl 127.0.0.1 500
run_ok sctp-v6-prttl '[::1]' 500
echo "$NAME: connectivity: v4 and v6, fully reliable and PR-SCTP: every flow stored, no loss"

# ------------------------------------------------------------ 2. restart
# 20000 one-packet UDP flows 1 ms apart (--idle-timeout 1: they expire as
# the trace goes on), in two halves through a pipe.
make_restart_trace
PORT=$(free_port)
start_collect "$T/restart1.err" --listen "sctp+udp://127.0.0.1:$PORT" -w "$T/store-r1" --no-fsync -v \
  --stats "$T/stats1"
COLLECT1=$COLLECT_PID
start_piped_probe restart "sctp+udp://127.0.0.1:$PORT"
PROBE=$PIPED_PROBE
got=$(wait_records "$COLLECT1" "$T/stats1" 5000)
[ "${got:-0}" -ge 5000 ] || { cat "$T/probe-restart.err" "$T/restart1.err" >&2; fail "restart: the first collector got ${got:-0} records"; }
stop_collect restart1 "$T/restart1.err"
R1=$(records_of "$T/restart1.err")
start_collect "$T/restart2.err" --listen "sctp+udp://127.0.0.1:$PORT" -w "$T/store-r2" --no-fsync -v
touch "$T/go-restart"
wait "$PROBE" || { cat "$T/probe-restart.err" >&2; fail "restart: probe exit status"; }
stop_collect restart2 "$T/restart2.err"
R2=$(records_of "$T/restart2.err")
grep -q "association lost: shut down or aborted by the collector" "$T/probe-restart.err" &&
  grep -q "reconnected (SCTP over UDP" "$T/probe-restart.err" ||
  { cat "$T/probe-restart.err" >&2; fail "restart: the probe did not report losing and regaining the association"; }
grep -q "not sent: 0 records" "$T/probe-restart.err" ||
  { cat "$T/probe-restart.err" >&2; fail "restart: records not sent"; }
grep -q "flows: 20000 created, 20000 exported" "$T/probe-restart.err" ||
  { cat "$T/probe-restart.err" >&2; fail "restart: not every flow exported"; }
grep "^total:" "$T/restart2.err" | grep -q " lost 0 out_of_order 0 malformed 0 missing_template_sets 0 " ||
  { grep "^total:" "$T/restart2.err" >&2; fail "restart: the second collector reports errors"; }
grep -q "^exporter sctp+udp .* templates 5$" "$T/restart2.err" ||
  { grep "^exporter" "$T/restart2.err" >&2; fail "restart: templates not resent on the new association"; }
[ $((R1 + R2)) -eq 20003 ] || fail "restart: $R1 + $R2 records stored, expected 20003"
echo "$NAME: restart: $R1 records before, $R2 after the restart (templates resent); none lost"

# ------------------------------------------------------------ 3. tshark
if command -v dumpcap >/dev/null 2>&1 && command -v tshark >/dev/null 2>&1; then
  PORT=$(free_port)
  timeout 30 dumpcap -q -i lo -f "udp port $PORT" -a duration:25 -w "$T/sctp.pcapng" \
    2>"$T/dumpcap.err" &
  DPID=$!
  track "$DPID"
  for i in $(seq 100); do
    grep -q "Capturing on" "$T/dumpcap.err" 2>/dev/null && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q "Capturing on" "$T/dumpcap.err"; then
    start_collect "$T/collect-cap.err" --listen "sctp+udp://127.0.0.1:$PORT" -w "$T/store-cap" --no-fsync
    timeout 60 "$IPFIX" probe -q -r "$T/trace.pcap" -e "sctp+udp://127.0.0.1:$PORT" \
      --sctp-pr-ttl 500 --idle-timeout 5 --active-timeout 10 -m 1M 2>"$T/probe-cap.err" ||
      fail "capture: probe exit status"
    stop_collect capture "$T/collect-cap.err"
    sleep 0.5
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    D=(-d "udp.port==$PORT,sctp" -d "sctp.port==$PORT,cflow")
    tshark -r "$T/sctp.pcapng" "${D[@]}" -Y cflow -T fields -e sctp.data_sid -e cflow.flowset_id \
      2>"$T/tshark.err" > "$T/sets.txt" || { cat "$T/tshark.err" >&2; fail "tshark cannot read the capture"; }
    # stream 0: the template message (Template Set 2, Options Template Set 3);
    # stream 1: data sets only (IDs >= 256)
    grep -qP '^0x0000\t2,3$' "$T/sets.txt" || { cat "$T/sets.txt" >&2; fail "tshark: no template message on stream 0"; }
    grep -qP '^0x0001\t' "$T/sets.txt" || { cat "$T/sets.txt" >&2; fail "tshark: no data on stream 1"; }
    awk -F'\t' '$1=="0x0001"{n=split($2,a,","); for(i=1;i<=n;i++) if(a[i]<256) bad=1} END{exit bad}' \
      "$T/sets.txt" || { cat "$T/sets.txt" >&2; fail "tshark: template sets on the data stream"; }
    MALFORMED=$(tshark -r "$T/sctp.pcapng" "${D[@]}" -Y "_ws.malformed || _ws.expert.severity == error" 2>/dev/null | wc -l)
    [ "$MALFORMED" -eq 0 ] || fail "tshark: $MALFORMED malformed packets"
    echo "$NAME: tshark decodes SCTP over UDP as IPFIX: templates on stream 0, data on stream 1, none malformed"
  else
    echo "$NAME: capture not possible here, tshark check skipped: $(head -1 "$T/dumpcap.err")"
    kill -TERM "$DPID" 2>/dev/null
  fi
fi

echo "$NAME: PASS"
