#!/usr/bin/env bash
# IPFIX over SCTP (RFC 7011 §10.2; usrsctp), both ways usrsctp offers:
# sctp+udp:// (SCTP over UDP encapsulation, RFC 6951, no privileges) and,
# when this user may open raw IP sockets (root or CAP_NET_RAW), sctp://
# (native SCTP over raw IP). `ipfix probe -e SCHEME://...` to
# `ipfix collect --listen SCHEME://...`: probe and collector are separate
# processes with a usrsctp stack each on one host (native: both stacks see
# every SCTP packet on loopback, see sctp.h for why neither aborts the
# other's associations).
#  1. The hand-checked trace (tools/probe_test_pcap.py) over IPv4 and IPv6
#     loopback, fully reliable and with PR-SCTP timed reliability
#     (--sctp-pr-ttl 500), for each scheme: every flow stored exactly as
#     expected (tests/integration/probe_expected.py), no loss or errors at
#     the collector, nothing unsent at the probe.
#  2. Collector restart in the middle of an export: the probe reads a trace
#     through a pipe; after half of it the collector is stopped (it shuts the
#     association down) and another is started on the same port; the
#     exporter notices, queues, reconnects with backoff, sends the templates
#     first on the new association, and every record is stored.
#     (For each scheme.)
#  3. tshark decodes a capture of each kind of association as SCTP
#     carrying IPFIX: templates on stream 0, flow records on stream 1 and
#     the final statistics behind them (periodic statistics go on stream
#     2), nothing malformed (skipped if capturing is not possible).
#  4. Without CAP_NET_RAW (setpriv to nobody), sctp:// is refused on both
#     sides with a message naming the missing privilege.
#  5. Periodic statistics on stream 2 between the flow messages of stream 1,
#     each stream numbered apart: the collector reports no loss.
# PR-SCTP abandonment under packet loss: tests/integration/sctp_loss.sh.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

NAME=sctp
. "$(dirname "$0")/../lib/common.sh"
CHECK=$SOURCE_DIR/tests/integration/probe_expected.py

timeout 10 "$IPFIX" collect --listen sctp+udp://127.0.0.1:1 --listen sctp+udp://127.0.0.1:2 \
  >/dev/null 2>"$T/built.err"
grep -q "SCTP support not built" "$T/built.err" && skip "built without SCTP (-DIPFIXKIT_SCTP=OFF or no libusrsctp-dev)"
grep -q "one sctp+udp:// port per process" "$T/built.err" ||
  { cat "$T/built.err" >&2; fail "two sctp+udp:// ports are not refused clearly"; }
SCHEMES="sctp+udp"
if "$PY" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)' 2>/dev/null; then
  SCHEMES="sctp+udp sctp"
else
  echo "$NAME: no raw IP sockets for this user: native sctp:// not tested"
fi

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
run_ok() { # scheme label host ttl-ms
  local scheme=$1 label=$1-$2 host=$3 ttl=$4
  local port; port=$(free_port)
  local kind="SCTP over UDP"; [ "$scheme" = sctp ] && kind="SCTP"
  start_collect "$T/collect-$label.err" --listen "$scheme://$host:$port" -w "$T/store-$label" --no-fsync -v
  timeout 60 "$IPFIX" probe -r "$T/trace.pcap" -e "$scheme://$host:$port" --sctp-pr-ttl "$ttl" \
    --idle-timeout 5 --active-timeout 10 -m 1M 2>"$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
  local want="fully reliable"
  [ "$ttl" -gt 0 ] && want="PR-SCTP timed reliability $ttl ms"
  grep -q "connected ($kind, 3 streams: templates on 0, flow records on 1, statistics on 2, $want)" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: the probe did not report its association"; }
  grep -q "not sent: 0 records" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: records not sent"; }
  stop_collect "$label" "$T/collect-$label.err"
  grep -qF "$scheme " "$T/collect-$label.err" &&
    grep -qF "new session via $scheme://" "$T/collect-$label.err" ||
    { cat "$T/collect-$label.err" >&2; fail "$label: the collector did not log the association"; }
  grep -q "^exporter $scheme .* records 24 .* templates 5$" "$T/collect-$label.err" ||
    { grep "^exporter" "$T/collect-$label.err" >&2; fail "$label: per-session statistics"; }
  check_store "$label" "$T/store-$label" "$T/collect-$label.err"
}

for scheme in $SCHEMES; do
  run_ok "$scheme" v4 127.0.0.1 0
  run_ok "$scheme" v6 '[::1]' 0
  run_ok "$scheme" v4-prttl 127.0.0.1 500
  run_ok "$scheme" v6-prttl '[::1]' 500
  echo "$NAME: $scheme://: v4 and v6, fully reliable and PR-SCTP: every flow stored, no loss"
done

# ------------------------------------------------------------ 2. restart
# 20000 one-packet UDP flows 1 ms apart (--idle-timeout 1: they expire as
# the trace goes on), in two halves through a pipe.
make_restart_trace
run_restart() { # scheme
  local scheme=$1 r=restart-$1 kind="SCTP over UDP" port
  [ "$scheme" = sctp ] && kind="SCTP"
  port=$(free_port)
  start_collect "$T/$r-1.err" --listen "$scheme://127.0.0.1:$port" -w "$T/store-$r-1" --no-fsync -v \
    --stats "$T/stats-$r"
  local collect1=$COLLECT_PID
  start_piped_probe "$r" "$scheme://127.0.0.1:$port"
  local probe=$PIPED_PROBE got
  got=$(wait_records "$collect1" "$T/stats-$r" 5000)
  [ "${got:-0}" -ge 5000 ] || { cat "$T/probe-$r.err" "$T/$r-1.err" >&2; fail "$r: the first collector got ${got:-0} records"; }
  stop_collect "$r-1" "$T/$r-1.err"
  local r1; r1=$(records_of "$T/$r-1.err")
  start_collect "$T/$r-2.err" --listen "$scheme://127.0.0.1:$port" -w "$T/store-$r-2" --no-fsync -v
  touch "$T/go-$r"
  wait "$probe" || { cat "$T/probe-$r.err" >&2; fail "$r: probe exit status"; }
  stop_collect "$r-2" "$T/$r-2.err"
  local r2; r2=$(records_of "$T/$r-2.err")
  grep -q "association lost: shut down or aborted by the collector" "$T/probe-$r.err" &&
    grep -q "reconnected ($kind," "$T/probe-$r.err" ||
    { cat "$T/probe-$r.err" >&2; fail "$r: the probe did not report losing and regaining the association"; }
  grep -q "not sent: 0 records" "$T/probe-$r.err" ||
    { cat "$T/probe-$r.err" >&2; fail "$r: records not sent"; }
  check_restarted "$r" "$T/probe-$r.err" "$T/$r-2.err" "$scheme"
  [ $((r1 + r2)) -eq 20003 ] || fail "$r: $r1 + $r2 records stored, expected 20003"
  echo "$NAME: $scheme:// restart: $r1 records before, $r2 after the restart (templates resent); none lost"
}
for scheme in $SCHEMES; do run_restart "$scheme"; done

# ------------------------------------------------------------ 3. tshark
capture_check() { # scheme
  local scheme=$1 port filter kind D dpid i malformed
  port=$(free_port)
  if [ "$scheme" = sctp ]; then
    filter="sctp port $port" kind="native SCTP"
    D=(-d "sctp.port==$port,cflow")
  else
    filter="udp port $port" kind="SCTP over UDP"
    D=(-d "udp.port==$port,sctp" -d "sctp.port==$port,cflow")
  fi
  timeout 30 dumpcap -q -i lo -f "$filter" -a duration:25 -w "$T/$scheme.pcapng" \
    2>"$T/dumpcap-$scheme.err" &
  dpid=$!
  track "$dpid"
  for i in $(seq 100); do
    grep -q "Capturing on" "$T/dumpcap-$scheme.err" 2>/dev/null && break
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q "Capturing on" "$T/dumpcap-$scheme.err"; then
    echo "$NAME: capture not possible here, tshark check skipped: $(head -1 "$T/dumpcap-$scheme.err")"
    kill -TERM "$dpid" 2>/dev/null
    return
  fi
  start_collect "$T/collect-cap-$scheme.err" --listen "$scheme://127.0.0.1:$port" --no-fsync
  timeout 60 "$IPFIX" probe -q -r "$T/trace.pcap" -e "$scheme://127.0.0.1:$port" \
    --sctp-pr-ttl 500 --idle-timeout 5 --active-timeout 10 -m 1M 2>"$T/probe-cap-$scheme.err" ||
    fail "capture: probe exit status"
  stop_collect "capture-$scheme" "$T/collect-cap-$scheme.err"
  sleep 0.5
  kill -TERM "$dpid" 2>/dev/null
  wait "$dpid" 2>/dev/null
  local sets=$T/sets-$scheme.txt
  tshark -r "$T/$scheme.pcapng" "${D[@]}" -Y cflow -T fields -e sctp.data_sid -e cflow.flowset_id \
    2>"$T/tshark.err" > "$sets" || { cat "$T/tshark.err" >&2; fail "tshark cannot read the capture"; }
  # stream 0: the template message (Template Set 2, Options Template Set 3);
  # stream 1: flow data sets (IDs 256, 257), then the final statistics
  # (258...) in a message of their own; stream 2 (periodic statistics,
  # none in so short a run): statistics only
  grep -qP '^0x0000\t2,3$' "$sets" || { cat "$sets" >&2; fail "tshark $scheme: no template message on stream 0"; }
  grep -qP '^0x0001\t25[67](,25[67])*$' "$sets" || { cat "$sets" >&2; fail "tshark $scheme: no flow records on stream 1"; }
  tail -1 "$sets" | grep -qP '^0x0001\t258,259,260' || { cat "$sets" >&2; fail "tshark $scheme: the final statistics are not last on stream 1"; }
  awk -F'\t' '$1!="0x0000"{n=split($2,a,","); for(i=1;i<=n;i++) if(a[i]<256 || ($1=="0x0002" && a[i]<258)) bad=1} END{exit bad}' \
    "$sets" || { cat "$sets" >&2; fail "tshark $scheme: sets on the wrong stream"; }
  malformed=$(tshark -r "$T/$scheme.pcapng" "${D[@]}" -Y "_ws.malformed || _ws.expert.severity == error" 2>/dev/null | wc -l)
  [ "$malformed" -eq 0 ] || fail "tshark $scheme: $malformed malformed packets"
  echo "$NAME: tshark decodes $kind as IPFIX: templates on stream 0, flow records then the final statistics on stream 1, none malformed"
}
if command -v dumpcap >/dev/null 2>&1 && command -v tshark >/dev/null 2>&1; then
  for scheme in $SCHEMES; do capture_check "$scheme"; done
fi

# ------------------------------------------------------------ 4. no CAP_NET_RAW
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
  chmod 755 "$T"
  UNPRIV=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all)
  PORT=$(free_port)
  timeout 10 "${UNPRIV[@]}" "$IPFIX" collect --listen "sctp://127.0.0.1:$PORT" >/dev/null 2>"$T/unpriv-c.err"
  grep -q "sctp:// needs root or CAP_NET_RAW for raw IP (Operation not permitted); sctp+udp:// does not" "$T/unpriv-c.err" ||
    { cat "$T/unpriv-c.err" >&2; fail "unprivileged: the collector does not refuse sctp:// clearly"; }
  timeout 10 "${UNPRIV[@]}" "$IPFIX" probe -q -r "$T/trace.pcap" -e "sctp://127.0.0.1:$PORT" >/dev/null 2>"$T/unpriv-p.err"
  grep -q "sctp:// needs root or CAP_NET_RAW for raw IP (Operation not permitted); sctp+udp:// does not" "$T/unpriv-p.err" ||
    { cat "$T/unpriv-p.err" >&2; fail "unprivileged: the probe does not refuse sctp:// clearly"; }
  echo "$NAME: without CAP_NET_RAW, sctp:// is refused on both sides: $(grep -o 'sctp:// needs root[^;]*' "$T/unpriv-c.err" | head -1)"
fi

# ------------------------------------------------------------ 5. statistics stream
# Periodic statistics (--stats-interval 1) go on stream 2 between the flow
# messages of stream 1; each stream numbers its records itself, and the
# collector accounts them apart (RFC 7011 §3.1): no loss, nothing out of
# order, though stream 2's numbers are far below stream 1's.
PORT=$(free_port)
start_collect "$T/collect-streams.err" --listen "sctp+udp://127.0.0.1:$PORT" --no-fsync -v
start_piped_probe streams "sctp+udp://127.0.0.1:$PORT" --stats-interval 1
sleep 2.5
touch "$T/go-streams"
wait "$PIPED_PROBE" || { cat "$T/probe-streams.err" >&2; fail "streams: probe exit status"; }
stop_collect streams "$T/collect-streams.err"
R=$(records_of "$T/collect-streams.err")
grep "^total:" "$T/collect-streams.err" | grep -q " lost 0 out_of_order 0 malformed 0 missing_template_sets 0 " ||
  { grep "^total:" "$T/collect-streams.err" >&2; fail "streams: the collector reports loss across streams"; }
[ "$R" -gt 20003 ] && [ $(((R - 20003) % 3)) -eq 0 ] ||
  fail "streams: $R records: expected 20003 and periodic statistics (3 records each)"
echo "$NAME: statistics stream: $(((R - 20003) / 3)) periodic statistics message(s) on stream 2 between the flow messages; no loss or reordering reported"

echo "$NAME: PASS"
