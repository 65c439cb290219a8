#!/usr/bin/env bash
# PR-SCTP under packet loss (RFC 7011 §10.2.6, RFC 3758, RFC 5153 §6.1):
# probe and collector run in a network namespace of their own whose
# loopback drops a random 30% of the exporter's packets that carry SCTP
# DATA (nftables `numgen random`; this kernel has no netem), for native
# sctp:// (`sctp chunk data exists`) and sctp+udp:// (the first chunk type
# inside UDP), during the first 500 kB of DATA of 1.4 MB (`quota`; then
# the path heals, so that the retransmission timer's backoff does not
# outlast the test). 20000 flows are exported:
#  - fully reliable (--sctp-pr-ttl 0): every record arrives (SCTP
#    retransmits), nothing lost;
#  - PR-SCTP timed reliability (--sctp-pr-ttl 5): the stack abandons flow
#    messages, the collector counts exactly the missing records from the
#    sequence numbers of stream 1 (stored + lost = sent: the final
#    statistics follow on stream 1, fully reliable), and the templates,
#    sent reliably on stream 0, still arrive: no data set without its
#    template.
# A run whose probe reports that the collector had not acknowledged
# everything when it closed (loss recovery slower than its 15 s, seen on a
# starved machine) proves nothing and is run again.
# Needs root (network namespace, nftables); skipped otherwise.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

NAME=sctp_loss
. "$(dirname "$0")/../lib/common.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace, nftables)"
command -v ip >/dev/null 2>&1 || skip "ip not installed (scripts/setup-deps.sh installs iproute2)"
command -v nft >/dev/null 2>&1 || skip "nft not installed (scripts/setup-deps.sh installs nftables)"
timeout 10 "$IPFIX" collect --listen sctp+udp://127.0.0.1:1 --listen sctp+udp://127.0.0.1:2 \
  >/dev/null 2>"$T/built.err"
grep -q "SCTP support not built" "$T/built.err" && skip "built without SCTP"

NS=ipfixkit-loss-$$
ip netns add "$NS" 2>"$T/netns.err" || skip "cannot create a network namespace: $(cat "$T/netns.err")"
loss_cleanup() { ip netns del "$NS" 2>/dev/null; common_cleanup; }
trap loss_cleanup EXIT
ip netns exec "$NS" ip link set lo up || fail "lo up in $NS"
IPFIX_HOST=$IPFIX
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$IPFIX_HOST" > "$T/ipfix-ns"
chmod +x "$T/ipfix-ns"
IPFIX=$T/ipfix-ns # start_collect and the probe run inside the namespace

make_restart_trace
cat "$T/half1.pcap" "$T/half2.raw" > "$T/trace.pcap"
FLOWS=20000
LOSS=${LOSS:-30} PRTTL=${PRTTL:-5} QUOTA=${QUOTA:-500} # env overrides for experiments

set_loss() { # scheme port
  ip netns exec "$NS" nft flush ruleset
  ip netns exec "$NS" nft add table inet loss
  ip netns exec "$NS" nft add chain inet loss out '{ type filter hook output priority 0; }'
  if [ "$1" = sctp ]; then
    ip netns exec "$NS" nft add rule inet loss out sctp dport "$2" sctp chunk data exists \
      quota until "$QUOTA" kbytes numgen random mod 100 '<' "$LOSS" counter drop
  else # SCTP common header (12 bytes) after UDP's 8: the first chunk's type at bit 160
    ip netns exec "$NS" nft add rule inet loss out udp dport "$2" @th,160,8 0 \
      quota until "$QUOTA" kbytes numgen random mod 100 '<' "$LOSS" counter drop
  fi || fail "nftables drop rule"
}

dropped() { ip netns exec "$NS" nft list ruleset | grep -o 'packets [0-9]*' | awk '{print $2}'; }

stat_of() { # log key: the figure after KEY on the last total: line
  awk -v k="$2" '/^total:/{for(i=1;i<NF;i++) if($i==k) v=$(i+1)} END{print v+0}' "$1"
}

run() { # scheme ttl attempt: sets RUN_LOST, RUN_STALLED
  local scheme=$1 ttl=$2 label=$1-ttl$2-$3 port
  port=$(free_port)
  set_loss "$scheme" "$port"
  start_collect "$T/collect-$label.err" --listen "$scheme://127.0.0.1:$port" --no-fsync -v
  timeout 120 "$IPFIX" probe -r "$T/trace.pcap" -e "$scheme://127.0.0.1:$port" --sctp-pr-ttl "$ttl" \
    --idle-timeout 1 --stats-interval 0 -m 16M 2>"$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
  kill -TERM "$COLLECT_PID"
  wait "$COLLECT_PID" || { tail "$T/collect-$label.err" >&2; fail "$label: collector exit status"; }
  local log=$T/collect-$label.err records lost missing templates drops sent=$((FLOWS + 3))
  records=$(stat_of "$log" records)
  lost=$(stat_of "$log" lost)
  missing=$(stat_of "$log" missing_template_sets)
  drops=$(dropped)
  templates=$(awk '/^exporter /{print $NF}' "$log" | sort -u | tr '\n' ' ')
  echo "$NAME: $label: $drops DATA packets dropped; stored $records records, lost $lost (sequence gaps), templates $templates, missing_template_sets $missing"
  grep -q "flows: $FLOWS created, $FLOWS exported" "$T/probe-$label.err" &&
    grep -q "not sent: 0 records" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: not every flow exported"; }
  [ "${drops:-0}" -gt 0 ] || fail "$label: the drop rule dropped nothing"
  [ "$missing" -eq 0 ] || fail "$label: data sets arrived before their templates"
  # every session (a new association after a lost one is a new session)
  # received the 5 templates
  [ "$templates" = "5 " ] || fail "$label: templates did not all arrive (per session: $templates)"
  RUN_STALLED=0
  if grep -q "closing with messages the collector has not acknowledged" "$T/probe-$label.err"; then
    # the path did not heal in time (retransmission timer backoff on a
    # starved machine): the probe says so; the run proves nothing either way
    echo "$NAME: $label: $(grep -o 'closing with messages.*ms[^:]*' "$T/probe-$label.err"); run again"
    RUN_STALLED=1
    return
  fi
  # the close's messages are fully reliable: every abandoned record shows as a gap
  if [ $((records + lost)) -ne "$sent" ] && grep -q "reconnected" "$T/probe-$label.err"; then
    # the association was given up (templates unacknowledged for 10 s):
    # what its stack still held is lost uncounted, as documented
    echo "$NAME: $label: the association was replaced: $(grep -o 'association lost: [^;]*' "$T/probe-$label.err" | head -1); run again"
    RUN_STALLED=1
    return
  fi
  [ $((records + lost)) -eq "$sent" ] || fail "$label: $records stored + $lost lost is not the $sent sent"
  [ "$ttl" -gt 0 ] || [ "$lost" -eq 0 ] || fail "$label: fully reliable, yet $lost records lost"
  RUN_LOST=$lost
}

for scheme in sctp sctp+udp; do
  for attempt in 1 2 3; do
    run "$scheme" 0 "$attempt"
    [ "$RUN_STALLED" -eq 0 ] && break
  done
  [ "$RUN_STALLED" -eq 0 ] || fail "$scheme: fully reliable export stalled 3 times"
  # abandonment needs a loss noticed after the lifetime (a lost
  # retransmission, or a message that waited in the congested send queue):
  # likely (about 3 runs in 4 here), not certain, in one run
  abandoned=0
  for attempt in 1 2 3 4 5 6; do
    run "$scheme" "$PRTTL" "$attempt"
    [ "$RUN_STALLED" -eq 0 ] && [ "$RUN_LOST" -gt 0 ] && { abandoned=1; break; }
  done
  [ "$abandoned" -eq 1 ] || fail "$scheme: no record abandoned in 6 runs under ${LOSS}% loss with a ${PRTTL} ms lifetime"
  echo "$NAME: $scheme://: fully reliable: every record arrives under ${LOSS}% DATA loss; PR-SCTP ${PRTTL} ms: data abandoned (counted by the collector) while the templates arrive"
done
echo "$NAME: PASS"
