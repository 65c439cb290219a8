#!/usr/bin/env bash
# IPFIX over TLS over TCP (RFC 7011 §11, RFC 5153 §8.2-8.3, RFC 5471 §3.7):
# `ipfix probe -e tls://...` to `ipfix collect --listen tls://...` with the
# test PKI of tests/tls/make_certs.sh (a test CA with the identities
# collector.test — IP SANs 127.0.0.1 and ::1 — and exporter.test; a second
# CA; expired certificates; revoked certificates and the CA's revocation
# list).
#  1. RFC 5471 §3.7.2 connectivity: the hand-checked trace
#     (tools/probe_test_pcap.py) over TLS, IPv4 and IPv6 loopback, and by DNS
#     name with --peer-name on both sides, and with --crl on both sides:
#     every flow stored exactly as expected
#     (tests/integration/probe_expected.py), no loss.
#  2. RFC 5471 §3.7.5-3.7.7 policy: the collector refuses an exporter with a
#     certificate of another CA, an expired certificate, a revoked one
#     (--crl), the wrong name, and
#     a client without certificate (openssl s_client), each logged with the
#     reason and counted (tls_failures), and drops a client that does not
#     complete the handshake within 10 s; the exporter refuses a collector
#     with a certificate of another CA, an expired one, a revoked one
#     (--crl), the wrong name, and says why, its records counted as not
#     sent.
#  3. Collector restart in the middle of an export (RFC 5471 §3.6.1-3.6.3):
#     the probe reads a trace through a pipe; after half of it the collector
#     is stopped and another started on the same port; the exporter notices
#     the closed session, queues, reconnects with backoff, sends the
#     templates first on the new TLS session, and every record is stored.
#  4. tshark decodes a capture of a TLS session on lo: ClientHello and
#     ServerHello present, no malformed packet (skipped if capturing fails).
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

NAME=tls
. "$(dirname "$0")/../lib/common.sh"
SCHEME=tls WHAT=TLS REFUSED="connection refused" S_CLIENT_ARGS="" COLLECT_ARGS=""
. "$(dirname "$0")/../lib/secure.sh"

# ------------------------------------------------------------ 1. connectivity
run_ok() { # label listen-host connect-uri-host [probe args...] -- [collect args...]
  local label=$1 lhost=$2 chost=$3; shift 3
  local pargs=() cargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cargs=("$@")
  local port; port=$(free_port)
  secure_collect "$T/collect-$label.err" "$T/store-$label" "tls://$lhost:$port" collector "${cargs[@]}"
  probe "$T/probe-$label.err" "tls://$chost:$port" exporter "${pargs[@]}" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
  grep -q "connected (TLSv1\.[23] " "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: the probe did not report its TLS session"; }
  grep -q "not sent: 0 records" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: records not sent"; }
  stop_collect "$label" "$T/collect-$label.err"
  grep -q "tls .*new session via tls://.*peer CN=exporter.test" "$T/collect-$label.err" ||
    { cat "$T/collect-$label.err" >&2; fail "$label: the collector did not log the TLS session"; }
  check_store "$label" "$T/store-$label" "$T/collect-$label.err"
}

run_ok tls-v4 127.0.0.1 127.0.0.1
run_ok tls-v6 '[::1]' '[::1]'
# by DNS name: the URI host is not in the certificate, --peer-name is
run_ok tls-names '[::]' localhost --peer-name collector.test -- --peer-name exporter.test
# with the CA's revocation list on both sides: valid certificates still pass
run_ok tls-crl 127.0.0.1 127.0.0.1 --crl "$P/crl.pem" -- --crl "$P/crl.pem"
echo "$NAME: connectivity: v4, v6 and by name: every flow stored, no loss"

# ------------------------------------------------------------ 2. refusals
refused_by_collector wrong-ca rogue-exporter \
  "unable to get local issuer certificate (unknown CA" "peer refused our certificate: unknown CA"
refused_by_collector expired expired-exporter \
  "certificate has expired" "peer refused our certificate: certificate expired"
refused_by_collector revoked revoked-exporter \
  "certificate revoked (certificate exporter.test" "peer refused our certificate: certificate revoked" \
  --crl "$P/crl.pem"
refused_by_collector wrong-name exporter \
  "peer name mismatch: certificate is for exporter.test, expected exporter1.test" \
  "peer refused our certificate: bad certificate" --peer-name exporter1.test
refused_by_collector no-certificate none "peer did not send a certificate" ""

# a client that connects and never starts the handshake: dropped after 10 s
PORT=$(free_port)
secure_collect "$T/collect-silent.err" "$T/store-silent" "tls://127.0.0.1:$PORT" collector
"$PY" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(15)
t = time.time()
try:
    gone = s.recv(1) == b""
except ConnectionResetError:
    gone = True
print("closed after %.1f s" % (time.time() - t) if gone else "data?")' "$PORT" > "$T/silent.out" 2>&1
stop_collect silent "$T/collect-silent.err"
grep -q "connection refused: handshake not completed within 10 s" "$T/collect-silent.err" ||
  { cat "$T/silent.out" "$T/collect-silent.err" >&2; fail "a silent client is not dropped"; }
echo "$NAME: collector drops a client that never completes the handshake: $(cat "$T/silent.out")"

refused_by_probe wrong-ca-collector rogue-collector \
  "certificate verify failed: unable to get local issuer certificate (unknown CA"
refused_by_probe revoked-collector revoked-collector \
  "certificate verify failed: certificate revoked (certificate collector.test" --crl "$P/crl.pem"
refused_by_probe expired-collector expired-collector \
  "certificate verify failed: certificate has expired"
refused_by_probe wrong-name-collector collector \
  "peer name mismatch: certificate is for collector.test, 127.0.0.1, ::1, expected other.test" \
  --peer-name other.test

# usage errors: tls:// without the files
"$IPFIX" probe -r "$T/trace.pcap" -e tls://127.0.0.1:1 2>"$T/usage.err"
[ $? -eq 2 ] && grep -q "TLS needs --cert FILE, --key FILE and --ca FILE" "$T/usage.err" ||
  fail "probe: tls:// without certificate is not a usage error"
"$IPFIX" collect --listen tls://127.0.0.1:1 --cert "$P/collector.pem" 2>"$T/usage.err"
[ $? -eq 2 ] && grep -q "TLS needs --cert FILE, --key FILE and --ca FILE" "$T/usage.err" ||
  fail "collect: tls:// without key and CA is not a usage error"
"$IPFIX" collect --listen tls://127.0.0.1:1 --cert "$P/collector.pem" --key "$P/exporter.key" \
  --ca "$P/ca.pem" 2>"$T/usage.err"
[ $? -eq 1 ] && grep -q "key does not match" "$T/usage.err" ||
  { cat "$T/usage.err" >&2; fail "collect: a key of another certificate is not refused"; }

# ------------------------------------------------------------ 3. restart
# 20000 one-packet UDP flows 1 ms apart (20 s of trace time, --idle-timeout 1:
# they expire as the trace goes on), in two halves through a pipe.
make_restart_trace
PORT=$(free_port)
secure_collect "$T/restart1.err" "$T/store-r1" "tls://127.0.0.1:$PORT" collector --stats "$T/stats1"
COLLECT1=$COLLECT_PID
# shellcheck disable=SC2046
start_piped_probe restart "tls://127.0.0.1:$PORT" $(ident exporter)
PROBE=$PIPED_PROBE
# wait until the first collector has stored a good part of the first half
got=$(wait_records "$COLLECT1" "$T/stats1" 5000)
[ "${got:-0}" -ge 5000 ] || { cat "$T/probe-restart.err" "$T/restart1.err" >&2; fail "restart: the first collector got ${got:-0} records"; }
stop_collect restart1 "$T/restart1.err"
R1=$(records_of "$T/restart1.err")
secure_collect "$T/restart2.err" "$T/store-r2" "tls://127.0.0.1:$PORT" collector
touch "$T/go-restart"
wait "$PROBE" || { cat "$T/probe-restart.err" >&2; fail "restart: probe exit status"; }
stop_collect restart2 "$T/restart2.err"
R2=$(records_of "$T/restart2.err")
grep -q "connection lost: closed by the collector" "$T/probe-restart.err" &&
  grep -q "reconnected (TLSv1" "$T/probe-restart.err" ||
  { cat "$T/probe-restart.err" >&2; fail "restart: the probe did not report losing and regaining the session"; }
grep -q "not sent: 0 records" "$T/probe-restart.err" ||
  { cat "$T/probe-restart.err" >&2; fail "restart: records not sent"; }
check_restarted restart "$T/probe-restart.err" "$T/restart2.err" tls
# every flow (and the 3 statistics records at the end) arrived at one collector or the other
[ $((R1 + R2)) -eq 20003 ] || fail "restart: $R1 + $R2 records stored, expected 20003"
echo "$NAME: restart: $R1 records before, $R2 after the restart (templates resent); none lost"

# ------------------------------------------------------------ 4. tshark
if command -v dumpcap >/dev/null 2>&1 && command -v tshark >/dev/null 2>&1; then
  PORT=$(free_port)
  timeout 30 dumpcap -q -i lo -f "tcp port $PORT" -a duration:25 -w "$T/tls.pcapng" \
    2>"$T/dumpcap.err" &
  DPID=$!
  track "$DPID"
  for i in $(seq 100); do
    grep -q "Capturing on" "$T/dumpcap.err" 2>/dev/null && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q "Capturing on" "$T/dumpcap.err"; then
    secure_collect "$T/collect-cap.err" "$T/store-cap" "tls://127.0.0.1:$PORT" collector
    probe "$T/probe-cap.err" "tls://127.0.0.1:$PORT" exporter || fail "capture: probe exit status"
    stop_collect capture "$T/collect-cap.err"
    sleep 0.5
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    tshark -r "$T/tls.pcapng" -d "tcp.port==$PORT,tls" -T fields -e tls.handshake.type \
      -Y tls.handshake 2>"$T/tshark.err" > "$T/handshake.txt" || { cat "$T/tshark.err" >&2; fail "tshark cannot read the capture"; }
    grep -qw 1 "$T/handshake.txt" || fail "tshark: no ClientHello"
    grep -qw 2 "$T/handshake.txt" || fail "tshark: no ServerHello"
    MALFORMED=$(tshark -r "$T/tls.pcapng" -d "tcp.port==$PORT,tls" -Y "_ws.malformed || _ws.expert.severity == error" 2>/dev/null | wc -l)
    [ "$MALFORMED" -eq 0 ] || fail "tshark: $MALFORMED malformed packets"
    VERSION=$(tshark -r "$T/tls.pcapng" -d "tcp.port==$PORT,tls" -Y "tls.handshake.type == 2" \
      -T fields -e tls.handshake.extensions.supported_version 2>/dev/null | head -1)
    echo "$NAME: tshark: ClientHello and ServerHello decoded (supported_version $VERSION), no malformed packet"
  else
    echo "$NAME: tshark part skipped: cannot capture on lo ($(head -1 "$T/dumpcap.err"))"
  fi
else
  echo "$NAME: tshark part skipped: tshark/dumpcap not installed"
fi

echo "$NAME: ok"
