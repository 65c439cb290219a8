#!/usr/bin/env bash
# softflowd -> `ipfix collect` -> stored IPFIX files, over UDP and over TCP.
#
# tools/interop_pcap.py writes the test traffic trace; softflowd meters it
# (-r, IPFIX -v 10, -A milli) and exports to `ipfix collect -w DIR` on
# loopback. Then, per transport:
#   - the stored files decode with `ipfix dump` without errors, and their
#     flow records' packetDeltaCount / octetDeltaCount totals equal the
#     packets and IP bytes of the trace as counted by tshark (softflowd's
#     sequence numbers are off by one message, so the collector's "lost" and
#     "out of order" figures are not checked here);
#   - libfixbuf's ipfixDump reads every stored file and sees the same number
#     of data records;
#   - the records are attributed to softflowd's address/port and protocol
#     by the exporter map of each file;
#   - `--json FILE` output holds the same records, rendered as
#     `ipfix dump --json` renders the stored files (plus "exporter").
# Exits 77 (skip) when softflowd or tshark is missing.
set -uo pipefail

NAME=collect_softflowd
. "$(dirname "$0")/../lib/common.sh"

for tool in softflowd tshark; do
  command -v $tool >/dev/null 2>&1 || skip "$tool not found (Debian package $tool)"
done

export HOME=$T XDG_CONFIG_HOME=$T/.config

"$PY" "$SOURCE_DIR/tools/interop_pcap.py" traffic "$T/traffic.pcap" --many 200 > "$T/traffic.txt" ||
  fail "building the traffic trace failed"
# The reference: tshark's count of the trace: packets, and bytes as softflowd
# meters them (the IP packet: IPv4 total length, IPv6 payload length + 40;
# i.e. the frame without its 14-byte Ethernet header).
read -r PACKETS BYTES FRAME_BYTES < <(tshark -n -r "$T/traffic.pcap" -T fields -E separator=, \
  -e frame.len -e ip.len -e ipv6.plen 2>/dev/null |
  awk -F, '{n++; f+=$1; if ($2 != "") s+=$2; else if ($3 != "") s+=$3+40} END{print n, s, f}')
[ "${PACKETS:-0}" -gt 0 ] || fail "tshark read no packets from the trace"
echo "$NAME: trace: $PACKETS packets, $BYTES IP bytes ($FRAME_BYTES frame bytes) (tshark)"

run() { # proto
  local proto=$1 port store=$T/store-$1 log=$T/collect-$1.err
  port=$(free_port); [ -n "$port" ] || fail "no free port"
  "$IPFIX" collect --listen "$proto://127.0.0.1:$port" -w "$store" --no-fsync -v \
    --json "$T/collect-$proto.jsonl" 2>"$log" >/dev/null &
  local cpid=$!
  track "$cpid"
  ( sleep 40 & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s; kill -KILL "$cpid" 2>/dev/null ) >/dev/null 2>&1 &
  track "$!"
  local i
  for i in $(seq 100); do
    grep -q "listening on" "$log" 2>/dev/null && break
    sleep 0.05
  done
  local extra=()
  [ "$proto" = tcp ] && extra=(-P tcp)
  timeout 30 softflowd -r "$T/traffic.pcap" -n "127.0.0.1:$port" -v 10 -d -a -A milli -m 65536 \
    -p "$T/softflowd.pid" "${extra[@]}" > "$T/softflowd-$proto.out" 2>&1 ||
    { tail "$T/softflowd-$proto.out" >&2; fail "$proto: softflowd failed"; }
  grep -E "Flows exported" "$T/softflowd-$proto.out" | sed "s/^/$NAME: $proto: softflowd: /"
  sleep 0.3
  kill -TERM "$cpid"
  wait "$cpid" || { tail "$log" >&2; fail "$proto: ipfix collect did not exit 0 on SIGTERM"; }
  grep "^total:" "$log" | sed "s/^/$NAME: $proto: collector: /"

  local files
  files=$(find "$store" -name '*.ipfix' | sort)
  [ -n "$files" ] || { tail "$log" >&2; fail "$proto: no file stored"; }
  : > "$T/$proto.jsonl"
  local f n errors fixbuf=0 records
  for f in $files; do
    timeout 30 "$IPFIX" dump --json "$f" >> "$T/$proto.jsonl" 2>/dev/null
    "$IPFIX" dump --count "$f" > "$T/count.txt" 2>/dev/null
    errors=$(awk -F': *' '$1=="errors"{print $2}' "$T/count.txt")
    [ "$errors" = 0 ] || { cat "$T/count.txt" >&2; fail "$proto: $f: ipfix dump errors: $errors"; }
    if command -v ipfixDump >/dev/null 2>&1; then
      n=$(timeout 30 ipfixDump --in "$f" --stats 2>/dev/null |
        sed -n -E 's/.*File Stats: [0-9]+ Messages, ([0-9]+) Data Records.*/\1/p')
      [ -n "$n" ] || fail "$proto: ipfixDump could not read $f"
      fixbuf=$((fixbuf + n))
    fi
  done
  records=$(grep -c '^{"\(record\|options\)"' "$T/$proto.jsonl")
  if command -v ipfixDump >/dev/null 2>&1; then
    [ "$fixbuf" -eq "$records" ] || fail "$proto: ipfixDump counted $fixbuf data records, ipfix dump $records"
    echo "$NAME: $proto: ipfixDump read the stored files: $fixbuf data records"
  fi
  # --json renders the records exactly as `ipfix dump --json` renders the stored ones
  "$PY" - "$T/collect-$proto.jsonl" "$T/$proto.jsonl" <<'EOF' || fail "$proto: --json output differs from the stored records"
import json, sys
def records(path, live):
    out = []
    for line in open(path):
        o = json.loads(line)
        if "record" in o or ("options" in o and "originalObservationDomainId" not in o["options"]):
            if live:
                assert o.get("exporter", "").startswith("127.0.0.1:"), o
            out.append(json.dumps(o.get("record", o.get("options")), sort_keys=True))
    return sorted(out)
live, stored = records(sys.argv[1], True), records(sys.argv[2], False)
print("collect_softflowd: --json: %d records, identical to ipfix dump --json of the stored files" % len(live))
sys.exit(0 if live == stored and live else 1)
EOF
  "$PY" - "$T/$proto.jsonl" "$PACKETS" "$BYTES" "$proto" <<'EOF' || fail "$proto: totals differ from the trace"
import json, sys
path, packets, octets, proto = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
exporters = {}
p = o = flows = 0
for line in open(path):
    r = json.loads(line)
    if "options" in r and r["odid"] == 0 and "originalObservationDomainId" in r["options"]:
        m = r["options"]
        exporters[m["observationDomainId"]] = (m.get("exporterIPv4Address") or m.get("exporterIPv6Address"),
                                               m["exporterTransportPort"], m["protocolIdentifier"])
        continue
    if "record" not in r:
        continue
    rec = r["record"]
    if "packetDeltaCount" not in rec:
        continue
    exp = exporters[r["odid"]]
    assert exp[0] == "127.0.0.1" and exp[2] == (6 if proto == "tcp" else 17), exp
    flows += 1
    p += rec["packetDeltaCount"]
    o += rec["octetDeltaCount"]
print("collect_softflowd: %s: stored %d flows: %d packets, %d bytes; trace %d packets, %d bytes"
      % (proto, flows, p, o, packets, octets))
sys.exit(0 if (p, o) == (packets, octets) else 1)
EOF
}

run udp
run tcp
echo "$NAME: PASS"
exit 0
