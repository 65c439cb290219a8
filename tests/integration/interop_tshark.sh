#!/usr/bin/env bash
# Interoperability with Wireshark's IPFIX dissector (tshark, "cflow").
#
# `ipfix generate` writes a file; tools/interop_pcap.py wraps its messages in
# pcap captures (no capture privileges needed):
#   UDP: one Ethernet/IPv4/UDP datagram per message; the file's sets are
#        re-packed byte for byte into messages of at most 1400 bytes (as a UDP
#        exporter would send them: the file's 64 KiB messages do not fit a
#        path MTU), with sequence numbers recomputed;
#   TCP: one connection (handshake, data, FIN) carrying the file's messages
#        unchanged as one byte stream cut into 1000-byte segments regardless
#        of message boundaries;
#   UDP again with a file written by libfixbuf (tools/interop_fixbuf_write.py)
#        for the data types `ipfix generate` does not use (micro/nanosecond
#        timestamps, float64, boolean, reverse element, long variable-length
#        fields, ...); skipped with a note if libfixbuf cannot be loaded.
# For each capture:
#   - tshark (-d udp.port==N,cflow / -d tcp.port==N,cflow) reports no
#     malformed packet and no expert info of severity warning or error;
#   - every record and every field of `ipfix dump --json FILE` equals
#     tshark's decode (field bytes as delimited by tshark's own template
#     parsing, and tshark's displayed values for addresses, ports, protocol,
#     octet/packet counts and start/end timestamps; for NTP timestamps, whose
#     bytes tshark does not expose whole, the displayed time), same
#     Observation Domain and template ID per record;
#   - `ipfix dump --json CAPTURE` (capture extraction, UDP rules / TCP
#     reassembly) gives exactly the records of `ipfix dump --json FILE`.
#
# Env (set by CTest): IPFIX, SOURCE_DIR, BUILD_DIR. Exit 0 pass, 77 skip
# (tshark missing), 1 fail.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPFIX=${IPFIX:-${BUILD_DIR:-$SOURCE_DIR/build}/ipfix}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
TOOLS=$SOURCE_DIR/tools
NAME=interop_tshark
PORT=4739

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
skip() { echo "$NAME: SKIP: $*" >&2; exit 77; }

command -v tshark >/dev/null 2>&1 || skip "tshark not found (Debian package tshark)"
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX (set IPFIX=...)"

T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT
# tshark wants a writable profile/config dir; keep it out of the real HOME
export HOME=$T XDG_CONFIG_HOME=$T/.config

timeout 60 "$IPFIX" generate -n 2500 --seed 777 --odid 12 -w "$T/gen.ipfix" 2>"$T/gen.err" ||
  { cat "$T/gen.err" >&2; fail "ipfix generate failed"; }
timeout 60 "$IPFIX" dump --json "$T/gen.ipfix" > "$T/file.jsonl" 2>"$T/file.err"
rc=$?
[ $rc -eq 0 ] || { head "$T/file.err" >&2; fail "ipfix dump --json exit $rc on the generated file"; }

run_tshark() { # label proto capture
  local label=$1 proto=$2 cap=$3
  timeout 120 tshark -n -r "$cap" -d "$proto.port==$PORT,cflow" -T pdml > "$T/$label.pdml" 2>"$T/$label.tshark.err" ||
    { head "$T/$label.tshark.err" >&2; fail "$label: tshark failed"; }
  timeout 60 tshark -n -r "$cap" -d "$proto.port==$PORT,cflow" -q -z expert > "$T/$label.expert" 2>/dev/null ||
    fail "$label: tshark -z expert failed"
  if grep -q -E '^(Errors|Warns) \(' "$T/$label.expert"; then
    cat "$T/$label.expert" >&2
    fail "$label: tshark reports expert warnings/errors on the capture"
  fi
  "$PY" "$TOOLS/interop_compare_tshark.py" --data "$SOURCE_DIR/data" --label "$NAME: $label" \
    "$T/file.jsonl" "$T/$label.pdml" || fail "$label: ipfix dump and tshark disagree"
  # ipfix dump reading the capture itself must give the same records
  timeout 60 "$IPFIX" dump --json --port "$PORT" "$cap" > "$T/$label.jsonl" 2>"$T/$label.dump.err"
  local rc=$?
  [ $rc -eq 0 ] || { head "$T/$label.dump.err" >&2; fail "$label: ipfix dump --json exit $rc on the capture"; }
  "$PY" "$TOOLS/compare_ipfixdump.py" --data "$SOURCE_DIR/data" --label "$NAME: $label capture vs file" \
    "$T/$label.jsonl" --expect "$T/file.jsonl" || fail "$label: ipfix dump of the capture differs from ipfix dump of the file"
}

"$PY" "$TOOLS/interop_pcap.py" udp "$T/gen.ipfix" "$T/udp.pcap" --port $PORT --max-message 1400 | sed "s/^/$NAME: udp: /" ||
  fail "building the UDP capture failed"
run_tshark udp udp "$T/udp.pcap"

"$PY" "$TOOLS/interop_pcap.py" tcp "$T/gen.ipfix" "$T/tcp.pcap" --port $PORT --mss 1000 | sed "s/^/$NAME: tcp: /" ||
  fail "building the TCP capture failed"
run_tshark tcp tcp "$T/tcp.pcap"

# More data types than `ipfix generate` uses (micro/nanosecond timestamps,
# float64, boolean, reduced-size signed, reverse element, long variable-length
# strings and octetArrays, MAC, IPv6): a file written by libfixbuf
# (tools/interop_fixbuf_write.py), sent over UDP the same way.
"$PY" "$TOOLS/interop_fixbuf_write.py" -n 1000 --seed 31 --odid 5 -w "$T/fb.ipfix" \
  --expect "$T/fb.expect.jsonl" 2>"$T/fbw.err"
rc=$?
if [ $rc -eq 0 ]; then
  timeout 60 "$IPFIX" dump --json "$T/fb.ipfix" > "$T/file.jsonl" 2>"$T/fb.err" ||
    { head "$T/fb.err" >&2; fail "ipfix dump --json failed on the libfixbuf-written file"; }
  "$PY" "$TOOLS/interop_pcap.py" udp "$T/fb.ipfix" "$T/fbudp.pcap" --port $PORT --max-message 1400 |
    sed "s/^/$NAME: fbudp: /" || fail "building the UDP capture of the libfixbuf-written file failed"
  run_tshark fbudp udp "$T/fbudp.pcap"
elif [ $rc -eq 77 ]; then
  echo "$NAME: note: libfixbuf not loadable, the extra data types were not checked: $(cat "$T/fbw.err")"
else
  cat "$T/fbw.err" >&2; fail "writing a file with libfixbuf failed"
fi

echo "$NAME: PASS"
exit 0
