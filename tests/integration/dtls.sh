#!/usr/bin/env bash
# IPFIX over DTLS 1.2 over UDP (RFC 7011 §10-11, RFC 5153 §6 and §8.2,
# RFC 6347): `ipfix probe -e dtls://...` to `ipfix collect --listen
# dtls://...` with the test PKI of tests/tls/make_certs.sh (a test CA with
# the identities collector.test — IP SANs 127.0.0.1 and ::1 — and
# exporter.test; a second CA; expired certificates; revoked certificates
# and the CA's revocation list).
#  1. Connectivity: the hand-checked trace (tools/probe_test_pcap.py) over
#     DTLS, IPv4 and IPv6 loopback (two collector workers: the per-peer
#     connected sockets share the listeners' SO_REUSEPORT group), and by DNS
#     name with --peer-name on both sides: every flow stored exactly as
#     expected (tests/integration/probe_expected.py), no loss.
#  2. Policy (RFC 5471 §3.7.5-3.7.7, on DTLS): the collector refuses an
#     exporter with a certificate of another CA, an expired certificate, a
#     revoked one (--crl), the wrong name, and a client without certificate
#     (openssl s_client
#     -dtls1_2), each logged with the reason and counted (tls_failures); the
#     exporter refuses a collector with a certificate of another CA, an
#     expired one, a revoked one, the wrong name, and says why, its records
#     counted as not
#     sent; a client that passes the cookie exchange and then goes silent
#     gets the collector's flight retransmitted (the DTLS timer) and is
#     dropped after 10 s. Usage errors: dtls:// without the files.
#  3. Collector restart in the middle of an export (RFC 5471 §3.6.1-3.6.3):
#     the probe reads a trace through a pipe; once the first half is
#     exported the collector is stopped (it sends close_notify on every
#     DTLS session) and another started on the same port; the exporter
#     reads the close_notify before its next send, queues, makes a new DTLS
#     session with backoff, sends the templates first, and every record is
#     stored. Then a collector killed with SIGKILL (no close_notify): the
#     exporter learns it from the ICMP port unreachable on its connected
#     socket ("Connection refused"), and every record is either stored or
#     counted as not sent, but for those the kernel accepted before the
#     ICMP error came back (reported, not asserted).
#  4. tshark decodes a capture on lo with `-d udp.port==P,dtls`:
#     ClientHello, HelloVerifyRequest (the cookie exchange), ServerHello,
#     application data; no malformed packet; with --max-message 600 no
#     datagram of the exporter above 600 bytes (skipped if capturing fails).
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

NAME=dtls
. "$(dirname "$0")/../lib/common.sh"
SCHEME=dtls WHAT=DTLS REFUSED="session refused" S_CLIENT_ARGS="-dtls1_2" COLLECT_ARGS="--workers 2"
. "$(dirname "$0")/../lib/secure.sh"


# ------------------------------------------------------------ 1. connectivity
run_ok() { # label listen-host connect-uri-host [probe args...] -- [collect args...]
  local label=$1 lhost=$2 chost=$3; shift 3
  local pargs=() cargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cargs=("$@")
  local port; port=$(free_port)
  secure_collect "$T/collect-$label.err" "$T/store-$label" "dtls://$lhost:$port" collector "${cargs[@]}"
  probe "$T/probe-$label.err" "dtls://$chost:$port" exporter "${pargs[@]}" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
  grep -q "connected (DTLSv1\.2 " "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: the probe did not report its DTLS session"; }
  grep -q "not sent: 0 records" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: records not sent"; }
  stop_collect "$label" "$T/collect-$label.err"
  grep -q "dtls .*new session via dtls://.*DTLSv1\.2 .*peer CN=exporter.test" "$T/collect-$label.err" ||
    { cat "$T/collect-$label.err" >&2; fail "$label: the collector did not log the DTLS session"; }
  grep -q "^exporter dtls .* templates 5$" "$T/collect-$label.err" ||
    { grep "^exporter" "$T/collect-$label.err" >&2; fail "$label: no DTLS session in the report"; }
  check_store "$label" "$T/store-$label" "$T/collect-$label.err" DTLS
}

run_ok dtls-v4 127.0.0.1 127.0.0.1
run_ok dtls-v6 '[::1]' '[::1]'
# by DNS name: the URI host is not in the certificate, --peer-name is
run_ok dtls-names '[::]' localhost --peer-name collector.test -- --peer-name exporter.test
# with the CA's revocation list on both sides: valid certificates still pass
run_ok dtls-crl 127.0.0.1 127.0.0.1 --crl "$P/crl.pem" -- --crl "$P/crl.pem"
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

# a client that passes the cookie exchange and then goes silent: the collector
# retransmits its flight on the DTLS timer and drops the session after 10 s
PORT=$(free_port)
secure_collect "$T/collect-silent.err" "$T/store-silent" "dtls://127.0.0.1:$PORT" collector
cat > "$T/silent.py" <<'PYEOF'
import os, socket, struct, sys, time
port = int(sys.argv[1])
rnd = os.urandom(32)
def client_hello(cookie, seq):
    ext = struct.pack("!HHHH", 10, 4, 2, 0x0017)            # supported_groups: P-256
    ext += struct.pack("!HH", 11, 2) + b"\x01\x00"           # ec_point_formats
    ext += struct.pack("!HHHH", 13, 4, 2, 0x0403)           # signature_algorithms
    suites = b"\xc0\x2b\xc0\x2c"                            # ECDHE-ECDSA-AES*-GCM
    body = (b"\xfe\xfd" + rnd + b"\x00" + bytes([len(cookie)]) + cookie +
            struct.pack("!H", len(suites)) + suites + b"\x01\x00" +
            struct.pack("!H", len(ext)) + ext)
    n = len(body).to_bytes(3, "big")
    hs = b"\x01" + n + struct.pack("!H", seq) + b"\x00\x00\x00" + n + body
    return struct.pack("!BHH", 22, 0xfefd, 0) + seq.to_bytes(6, "big") + struct.pack("!H", len(hs)) + hs
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
s.settimeout(2)
s.send(client_hello(b"", 0))
hvr = s.recv(2048)
assert hvr[0] == 22 and hvr[13] == 3, "no HelloVerifyRequest"
cookie = hvr[13 + 12 + 3:13 + 12 + 3 + hvr[13 + 12 + 2]]
s.send(client_hello(cookie, 1))
print("cookie of %d bytes" % len(cookie), flush=True)
s.settimeout(30)
while True:  # stopped by the test once the collector gave up
    d = s.recv(4096)
    if d[0] == 22 and d[13] == 2:
        print("ServerHello flight", flush=True)
PYEOF
"$PY" "$T/silent.py" "$PORT" > "$T/silent.out" 2>&1 &
SILENT=$!
track "$SILENT"
wait_for_file "$T/collect-silent.err" "handshake not completed" 400
kill -TERM "$SILENT" 2>/dev/null
stop_collect silent "$T/collect-silent.err"
FLIGHTS=$(grep -c "ServerHello flight" "$T/silent.out")
grep -q "DTLS handshake failed, session refused: handshake not completed within 10 s" "$T/collect-silent.err" ||
  { cat "$T/silent.out" "$T/collect-silent.err" >&2; fail "a client that stops in the handshake is not dropped"; }
[ "$FLIGHTS" -ge 2 ] ||
  { cat "$T/silent.out" >&2; fail "the collector does not retransmit its handshake flight"; }
echo "$NAME: collector drops a client that stops after the cookie exchange ($(head -1 "$T/silent.out"); its flight sent $FLIGHTS times)"

refused_by_probe wrong-ca-collector rogue-collector \
  "certificate verify failed: unable to get local issuer certificate (unknown CA"
refused_by_probe revoked-collector revoked-collector \
  "certificate verify failed: certificate revoked (certificate collector.test" --crl "$P/crl.pem"
refused_by_probe expired-collector expired-collector \
  "certificate verify failed: certificate has expired"
refused_by_probe wrong-name-collector collector \
  "peer name mismatch: certificate is for collector.test, 127.0.0.1, ::1, expected other.test" \
  --peer-name other.test

# usage errors: dtls:// without the files
"$IPFIX" probe -r "$T/trace.pcap" -e dtls://127.0.0.1:1 2>"$T/usage.err"
[ $? -eq 2 ] && grep -q "TLS needs --cert FILE, --key FILE and --ca FILE" "$T/usage.err" ||
  fail "probe: dtls:// without certificate is not a usage error"
"$IPFIX" collect --listen dtls://127.0.0.1:1 --cert "$P/collector.pem" 2>"$T/usage.err"
[ $? -eq 2 ] && grep -q "TLS needs --cert FILE, --key FILE and --ca FILE" "$T/usage.err" ||
  fail "collect: dtls:// without key and CA is not a usage error"

# ------------------------------------------------------------ 3. restart
# 20000 one-packet UDP flows 1 ms apart (20 s of trace time, --idle-timeout 1:
# they expire as the trace goes on), in two halves through a pipe.
make_restart_trace

# restart_run label how: how = term (graceful: close_notify) or kill (SIGKILL)
restart_run() {
  local label=$1 how=$2 port got
  port=$(free_port)
  secure_collect "$T/$label-1.err" "$T/store-$label-1" "dtls://127.0.0.1:$port" collector --stats "$T/$label-stats1"
  local c1=$COLLECT_PID
  # shellcheck disable=SC2046
  start_piped_probe "$label" "dtls://127.0.0.1:$port" $(ident exporter)
  local pp=$PIPED_PROBE
  # wait until the first half is exported: records at the first collector
  # stop growing (the probe waits for the rest of the pipe)
  got=$(wait_records "$c1" "$T/$label-stats1" 5000 stable)
  [ "${got:-0}" -ge 5000 ] || { cat "$T/probe-$label.err" "$T/$label-1.err" >&2; fail "$label: the first collector got ${got:-0} records"; }
  local r1
  if [ "$how" = term ]; then
    stop_collect "$label-1" "$T/$label-1.err"
    r1=$(records_of "$T/$label-1.err")
    grep -q "dtls .*session closed: collector stopping" "$T/$label-1.err" ||
      { cat "$T/$label-1.err" >&2; fail "$label: the collector did not close the DTLS session"; }
  else
    kill -USR1 "$c1"; sleep 0.2
    r1=$(records_of "$T/$label-stats1")
    kill -KILL "$c1"; wait "$c1" 2>/dev/null
    # no collector for a moment: the exporter's next sends meet a closed port
    touch "$T/go-$label"
    wait_for_file "$T/probe-$label.err" "DTLS session lost: Connection refused" 200 ||
      { cat "$T/probe-$label.err" >&2; fail "$label: the probe did not notice the killed collector"; }
  fi
  secure_collect "$T/$label-2.err" "$T/store-$label-2" "dtls://127.0.0.1:$port" collector
  touch "$T/go-$label"
  wait "$pp" || { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
  wait_for_file "$T/$label-2.err" "session closed" 100
  stop_collect "$label-2" "$T/$label-2.err"
  local r2; r2=$(records_of "$T/$label-2.err")
  grep -q "reconnected (DTLSv1.2" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: the probe did not report a new DTLS session"; }
  check_restarted "$label" "$T/probe-$label.err" "$T/$label-2.err" dtls
  local notsent
  notsent=$(grep -o "not sent: [0-9]* records" "$T/probe-$label.err" | awk '{print $3}')
  if [ "$how" = term ]; then
    grep -q "DTLS session lost: closed by the collector (close_notify)" "$T/probe-$label.err" ||
      { cat "$T/probe-$label.err" >&2; fail "$label: the probe did not read the close_notify"; }
    [ "$notsent" -eq 0 ] || fail "$label: $notsent records not sent"
    # every flow (and the 3 statistics records at the end) at one collector or the other
    [ $((r1 + r2)) -eq 20003 ] || fail "$label: $r1 + $r2 records stored, expected 20003"
    echo "$NAME: restart: $r1 records before, $r2 after the restart (close_notify read, templates resent); none lost"
  else
    [ $((r1 + r2 + notsent)) -le 20003 ] || fail "$label: $r1 + $r2 stored + $notsent not sent > 20003"
    echo "$NAME: killed collector: $r1 records before, $r2 after (templates resent), $notsent counted not sent, $((20003 - r1 - r2 - notsent)) lost unseen before the ICMP error"
  fi
}
restart_run restart term
restart_run kill kill

# ------------------------------------------------------------ 4. tshark
if command -v dumpcap >/dev/null 2>&1 && command -v tshark >/dev/null 2>&1; then
  PORT=$(free_port)
  timeout 30 dumpcap -q -i lo -f "udp port $PORT" -a duration:25 -w "$T/dtls.pcapng" \
    2>"$T/dumpcap.err" &
  DPID=$!
  track "$DPID"
  for i in $(seq 100); do
    grep -q "Capturing on" "$T/dumpcap.err" 2>/dev/null && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q "Capturing on" "$T/dumpcap.err"; then
    secure_collect "$T/collect-cap.err" "$T/store-cap" "dtls://127.0.0.1:$PORT" collector
    probe "$T/probe-cap.err" "dtls://127.0.0.1:$PORT" exporter --max-message 600 ||
      fail "capture: probe exit status"
    wait_for_file "$T/collect-cap.err" "session closed" 100
    stop_collect capture "$T/collect-cap.err"
    check_store capture "$T/store-cap" "$T/collect-cap.err"
    sleep 0.5
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    D=(-d "udp.port==$PORT,dtls")
    tshark -r "$T/dtls.pcapng" "${D[@]}" -T fields -e dtls.handshake.type \
      -Y dtls.handshake 2>"$T/tshark.err" > "$T/handshake.txt" || { cat "$T/tshark.err" >&2; fail "tshark cannot read the capture"; }
    tr ',' '\n' < "$T/handshake.txt" > "$T/types.txt"
    grep -qx 1 "$T/types.txt" || fail "tshark: no ClientHello"
    grep -qx 3 "$T/types.txt" || fail "tshark: no HelloVerifyRequest"
    grep -qx 2 "$T/types.txt" || fail "tshark: no ServerHello"
    grep -qx 11 "$T/types.txt" || fail "tshark: no Certificate"
    APP=$(tshark -r "$T/dtls.pcapng" "${D[@]}" -Y "dtls.record.content_type == 23" 2>/dev/null | wc -l)
    [ "$APP" -gt 0 ] || fail "tshark: no application data record"
    MALFORMED=$(tshark -r "$T/dtls.pcapng" "${D[@]}" -Y "_ws.malformed || _ws.expert.severity == error" 2>/dev/null | wc -l)
    [ "$MALFORMED" -eq 0 ] || fail "tshark: $MALFORMED malformed packets"
    # the exporter's datagrams (handshake flights included): at most 600 bytes
    BIG=$(tshark -r "$T/dtls.pcapng" "${D[@]}" -Y "udp.dstport == $PORT && udp.length > 608" 2>/dev/null | wc -l)
    [ "$BIG" -eq 0 ] || fail "tshark: $BIG exporter datagrams above the 600-byte message size"
    VERSION=$(tshark -r "$T/dtls.pcapng" "${D[@]}" -Y "dtls.handshake.type == 2" \
      -T fields -e dtls.handshake.version 2>/dev/null | head -1)
    echo "$NAME: tshark: ClientHello, HelloVerifyRequest, ServerHello, Certificate and $APP application data records decoded (ServerHello version $VERSION), no malformed packet, no exporter datagram above 600 bytes"
  else
    echo "$NAME: tshark part skipped: cannot capture on lo ($(head -1 "$T/dumpcap.err"))"
  fi
else
  echo "$NAME: tshark part skipped: tshark/dumpcap not installed"
fi

# ------------------------------------------------------------ 5. path MTU
# In a network namespace whose loopback has an MTU of 1000, --max-message
# 1400 would not fit: the exporter sizes its datagrams to the path MTU
# (1000 - 20 IP - 8 UDP = 972: messages up to 935 bytes), DF set, and every
# flow arrives. Needs root (skipped otherwise).
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 && ip netns add "ipfixkit-mtu-$$" 2>/dev/null; then
  NS=ipfixkit-mtu-$$
  mtu_cleanup() { ip netns del "$NS" 2>/dev/null; common_cleanup; }
  trap mtu_cleanup EXIT
  ip netns exec "$NS" ip link set lo mtu 1000 up || fail "mtu: lo in $NS"
  printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$IPFIX" > "$T/ipfix-ns"
  chmod +x "$T/ipfix-ns"
  HOST_IPFIX=$IPFIX IPFIX=$T/ipfix-ns
  PORT=$(free_port)
  secure_collect "$T/collect-mtu.err" "$T/store-mtu" "dtls://127.0.0.1:$PORT" collector
  probe "$T/probe-mtu.err" "dtls://127.0.0.1:$PORT" exporter --max-message 1400 ||
    { cat "$T/probe-mtu.err" >&2; fail "mtu: probe exit status"; }
  grep -q "connected (DTLSv1\.2 .*; path MTU: messages up to 935 bytes)" "$T/probe-mtu.err" &&
    grep -q "not sent: 0 records" "$T/probe-mtu.err" ||
    { cat "$T/probe-mtu.err" >&2; fail "mtu: messages not sized to the path MTU"; }
  stop_collect mtu "$T/collect-mtu.err"
  IPFIX=$HOST_IPFIX
  check_store mtu "$T/store-mtu" "$T/collect-mtu.err" DTLS
  echo "$NAME: path MTU 1000: --max-message 1400 lowered to 972-byte datagrams (messages up to 935 bytes), every flow stored"
else
  echo "$NAME: path MTU part skipped: needs root and ip netns"
fi

echo "$NAME: ok"
