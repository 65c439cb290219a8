#!/usr/bin/env bash
# `ipfix query` gives nfdump's answers on the same flows.
#
# softflowd meters a synthetic trace (tools/gen_probe_bench: IPv4 and IPv6,
# TCP, UDP, ICMP, 3000 flows over 60 s) and exports IPFIX over UDP to
# nfcapd, which repeats every packet (-R) to `ipfix collect`: both
# collectors store exactly the same export. Then, for several filters and
# groupings, `ipfix query` on the collector's storage directory must equal
# nfdump on nfcapd's files:
#   - totals (flows, packets, bytes) for each filter (nfdump -s ... Summary);
#   - nfdump -s srcip/bytes, dstport/flows, proto/packets (-n 0: every
#     group) = ipfix query --group-by srcip/dstport/proto, and the top 10
#     values of -s srcip/bytes -n 10 = --top 10 --order bytes;
#   - nfdump -A srcip4/24,dstport and -A srcip,dstip (aggregated records)
#     = --group-by srcip/24,dstport and srcip,dstip.
# softflowd counts octets as it meters them; both collectors store the same
# values, so like is compared with like.
# Exit 77 (skip) when softflowd, nfcapd or nfdump is missing.
set -uo pipefail

SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
IPFIX=${IPFIX:-$BUILD_DIR/ipfix}
GEN=$BUILD_DIR/gen_probe_bench
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NAME=query_nfdump

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
skip() { echo "$NAME: SKIP: $*" >&2; exit 77; }
for tool in softflowd nfcapd nfdump; do
  command -v $tool >/dev/null 2>&1 || skip "$tool not found"
done
[ -x "$IPFIX" ] || fail "ipfix binary not found: $IPFIX"
[ -x "$GEN" ] || fail "gen_probe_bench not found: $GEN"

T=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || fail "mktemp"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  [ -n "${KEEP:-}" ] && { echo "$NAME: kept $T" >&2; return; }
  rm -rf "$T"
}
trap cleanup EXIT
export HOME=$T

free_port() {
  "$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

"$GEN" "$T/trace.pcap" 100000 3000 60 7 > /dev/null || fail "gen_probe_bench"
mkdir -p "$T/nf" "$T/store"

# 1. ipfix collect
CPORT=$(free_port)
"$IPFIX" collect --listen "udp://127.0.0.1:$CPORT" -w "$T/store" --no-fsync --workers 1 \
  2> "$T/collect.err" > /dev/null &
CPID=$!
PIDS+=("$CPID")
for _ in $(seq 100); do grep -q "listening on" "$T/collect.err" 2>/dev/null && break; sleep 0.05; done
grep -q "listening on" "$T/collect.err" || { cat "$T/collect.err"; fail "ipfix collect did not start"; }

# 2. nfcapd, repeating every packet to ipfix collect (nfcapd cannot report
# an ephemeral port: try a few free ones)
NPID=
for _ in 1 2 3 4 5; do
  NPORT=$(free_port)
  nfcapd -w "$T/nf" -p "$NPORT" -b 127.0.0.1 -R "127.0.0.1/$CPORT" > "$T/nfcapd.log" 2>&1 &
  NPID=$!
  for _ in $(seq 60); do
    grep -q "Startup" "$T/nfcapd.log" 2>/dev/null && break
    kill -0 $NPID 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 $NPID 2>/dev/null && grep -q "Startup" "$T/nfcapd.log"; then break; fi
  wait $NPID 2>/dev/null; NPID=
done
[ -n "$NPID" ] || { cat "$T/nfcapd.log" >&2; fail "nfcapd did not start"; }
PIDS+=("$NPID")

# 3. softflowd exports the trace to nfcapd
timeout 60 softflowd -r "$T/trace.pcap" -n "127.0.0.1:$NPORT" -v 10 -d -a -A milli -m 65536 \
  -p "$T/softflowd.pid" > "$T/softflowd.out" 2>&1 || { tail "$T/softflowd.out"; fail "softflowd failed"; }

# 4. wait until ipfix collect's record count stops moving (SIGUSR1 prints
# the statistics on stderr), then stop nfcapd (it writes its file) and collect
last= cur=
for _ in $(seq 100); do
  kill -USR1 "$CPID"
  sleep 0.1
  cur=$(grep "^total:" "$T/collect.err" | tail -1 | sed -n -E 's/.* records ([0-9]+) .*/\1/p')
  [ -n "$cur" ] && [ "$cur" != 0 ] && [ "$cur" = "$last" ] && break
  last=$cur
done
[ -n "$cur" ] && [ "$cur" != 0 ] || fail "ipfix collect received nothing"
kill -TERM "$NPID"
for _ in $(seq 100); do kill -0 "$NPID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$NPID" 2>/dev/null && fail "nfcapd did not stop"
wait "$NPID" 2>/dev/null
kill -TERM "$CPID"
wait "$CPID" || fail "ipfix collect did not exit 0"
grep -E "Flows:" "$T/nfcapd.log" | sed "s/^/$NAME: nfcapd: /"
ls "$T"/nf/nfcapd.* > /dev/null 2>&1 || fail "nfcapd stored no file"
find "$T/store" -name '*.ipfix' | grep -q . || fail "ipfix collect stored no file"

nf() { timeout 60 nfdump -R "$T/nf" "$@"; }
q() { timeout 60 "$IPFIX" query -q --numeric "$@"; }

cat > "$T/cmp.py" <<'EOF'
# cmp.py MODE NFDUMP_OUTPUT IPFIX_CSV: compare groups {key: (flows, packets, bytes)}
import ipaddress, sys
mode, nf_path, ip_path = sys.argv[1:4]

def norm(k):
    k = k.strip()
    try:
        return str(ipaddress.ip_address(k))
    except ValueError:
        pass
    if "/" in k:
        return str(ipaddress.ip_address(k.split("/")[0]))
    return k

def nf_stat(path):     # nfdump -s X -o csv: ts,te,td,pr,val,fl,flP,pkt,pktP,byt,...
    groups, summary, lines = {}, None, open(path).read().splitlines()
    i = 1
    while i < len(lines) and lines[i].strip():
        f = lines[i].split(",")
        groups[norm(f[4])] = (int(f[5]), int(f[7]), int(f[9]))
        i += 1
    for j, l in enumerate(lines):
        if l.startswith("flows,bytes,packets"):
            fl, by, pk = lines[j + 1].split(",")[:3]
            summary = (int(fl), int(pk), int(by))
    return groups, summary

def nf_agg(path):      # nfdump -A ... -o fmt:%a|%b|%fl|%pkt|%byt -N -q
    groups = {}
    for l in open(path):
        f = [x.strip() for x in l.split("|")]
        if len(f) < 5: continue
        groups[(norm(f[0]), norm(f[1]))] = (int(f[2]), int(f[3]), int(f[4]))
    return groups

def ip_csv(path, nkeys):
    rows = [l.split(",") for l in open(path).read().splitlines()[1:]]
    out = {}
    for r in rows:
        k = tuple(norm(x) for x in r[:nkeys])
        out[k if nkeys > 1 else k[0]] = (int(r[nkeys]), int(r[nkeys + 1]), int(r[nkeys + 2]))
    return out, [x for x in rows]

if mode == "stat":
    nfg, summary = nf_stat(nf_path)
    ipg, _ = ip_csv(ip_path, 1)
    if nfg != ipg:
        only_nf = {k: v for k, v in nfg.items() if ipg.get(k) != v}
        only_ip = {k: v for k, v in ipg.items() if nfg.get(k) != v}
        print("differ: nfdump %d groups, ipfix %d; nfdump-only/different %s; ipfix-only/different %s"
              % (len(nfg), len(ipg), list(only_nf.items())[:5], list(only_ip.items())[:5]))
        sys.exit(1)
    tot = tuple(sum(v[i] for v in ipg.values()) for i in range(3))
    if summary and summary != tot:
        print("summary differs: nfdump %s, ipfix %s" % (summary, tot)); sys.exit(1)
    print("%d groups equal, totals %s" % (len(nfg), tot))
elif mode == "top":    # same ranking values (ties may order differently) and same keys where unique
    nfg, _ = nf_stat(nf_path)
    nfrows = open(nf_path).read().splitlines()[1:]
    nfrows = [r.split(",") for r in nfrows if r.strip()][:len(nfg)]
    iprows = [l.split(",") for l in open(ip_path).read().splitlines()[1:]]
    nfvals = [int(r[9]) for r in nfrows]
    ipvals = [int(r[3]) for r in iprows]
    if nfvals != ipvals:
        print("top bytes differ: nfdump %s ipfix %s" % (nfvals, ipvals)); sys.exit(1)
    # rows above the boundary value are the same groups with the same counters
    # (at the boundary, ties with groups outside the top may be chosen differently)
    low = min(ipvals) if ipvals else 0
    nf_above = {(norm(r[4]), int(r[5]), int(r[7]), int(r[9])) for r in nfrows if int(r[9]) > low}
    ip_above = {(norm(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in iprows if int(r[3]) > low}
    if nf_above != ip_above:
        print("top groups differ: nfdump %s ipfix %s" % (sorted(nf_above), sorted(ip_above))); sys.exit(1)
    print("top %d equal" % len(ipvals))
elif mode == "agg":
    nfg = nf_agg(nf_path)
    ipg, _ = ip_csv(ip_path, 2)
    if nfg != ipg:
        d1 = [(k, v, ipg.get(k)) for k, v in nfg.items() if ipg.get(k) != v][:5]
        print("differ: nfdump %d groups, ipfix %d: %s" % (len(nfg), len(ipg), d1)); sys.exit(1)
    print("%d aggregated groups equal" % len(nfg))
elif mode == "aggcsv":  # nfdump -A srcip,dstip -o csv (full IPv6 addresses, no flow count)
    nfg = {}
    for l in open(nf_path).read().splitlines():
        f = l.split(",")
        if len(f) < 13 or not f[0][:1].isdigit(): continue
        nfg[(norm(f[3]), norm(f[4]))] = (int(f[11]), int(f[12]))
    ipg, _ = ip_csv(ip_path, 2)
    ipg = {k: v[1:] for k, v in ipg.items()}
    if nfg != ipg:
        d1 = [(k, v, ipg.get(k)) for k, v in nfg.items() if ipg.get(k) != v][:5]
        print("differ: nfdump %d groups, ipfix %d: %s" % (len(nfg), len(ipg), d1)); sys.exit(1)
    print("%d aggregated groups equal (packets, bytes)" % len(nfg))
elif mode == "totals":
    _, summary = nf_stat(nf_path)
    f = open(ip_path).read().splitlines()
    tot = tuple(int(x) for x in f[1].split(",")[:3]) if len(f) > 1 else (0, 0, 0)
    if summary != tot:
        print("totals differ: nfdump %s, ipfix %s" % (summary, tot)); sys.exit(1)
    print("totals equal: %d flows, %d packets, %d bytes" % tot)
EOF

check() { # label mode nf_output ipfix_output
  local out
  out=$("$PY" "$T/cmp.py" "$2" "$3" "$4") || fail "$1: $out"
  echo "$NAME: $1: $out"
}

FILTERS=("" "proto tcp" "proto udp and dst port 53" "not proto tcp" "src net 10.0.0.0/8 and bytes > 1000"
         "net 2001:db8::/32" "packets > 20 or proto icmp" "proto tcp and (dst port 443 or dst port 80)")
i=0
for f in "${FILTERS[@]}"; do
  i=$((i + 1))
  nf -s proto/flows -n 0 -o csv ${f:+"$f"} > "$T/nf_tot$i.csv" 2>&1 || fail "nfdump '$f'"
  q --csv --totals "$T/store" ${f:+"$f"} > "$T/ip_tot$i.csv" || fail "ipfix query --totals '$f'"
  check "totals '${f:-any}'" totals "$T/nf_tot$i.csv" "$T/ip_tot$i.csv"
done

nf -s srcip/bytes -n 0 -o csv > "$T/nf1.csv" || fail "nfdump -s srcip/bytes"
q --csv -g srcip -O bytes "$T/store" > "$T/ip1.csv" || fail "query -g srcip"
check "-s srcip/bytes" stat "$T/nf1.csv" "$T/ip1.csv"

nf -s srcip/bytes -n 10 -o csv 'proto tcp' > "$T/nf2.csv" || fail "nfdump -s srcip/bytes -n 10"
q --csv -g srcip --top 10 --order bytes "$T/store" 'proto tcp' > "$T/ip2.csv" || fail "query --top"
check "-s srcip/bytes -n 10 'proto tcp'" top "$T/nf2.csv" "$T/ip2.csv"

nf -s dstport/bytes -n 3 -o csv 'proto tcp or proto udp' > "$T/nf2b.csv" || fail "nfdump -s dstport/bytes -n 3"
q --csv -g dstport --top 3 --order bytes "$T/store" 'proto tcp or proto udp' > "$T/ip2b.csv" || fail "query --top 3"
check "-s dstport/bytes -n 3 'proto tcp or proto udp'" top "$T/nf2b.csv" "$T/ip2b.csv"

nf -s dstport/flows -n 0 -o csv 'proto tcp or proto udp' > "$T/nf3.csv" || fail "nfdump -s dstport"
q --csv -g dstport "$T/store" 'proto tcp or proto udp' > "$T/ip3.csv" || fail "query -g dstport"
check "-s dstport/flows 'proto tcp or proto udp'" stat "$T/nf3.csv" "$T/ip3.csv"

nf -s proto/packets -n 0 -o csv > "$T/nf4.csv" || fail "nfdump -s proto"
q --csv -g proto -O packets "$T/store" > "$T/ip4.csv" || fail "query -g proto"
check "-s proto/packets" stat "$T/nf4.csv" "$T/ip4.csv"

nf -s dstip/packets -n 0 -o csv 'src net 10.0.0.0/8 or inet6' > "$T/nf5.csv" || fail "nfdump -s dstip"
q --csv -g dstip -O packets "$T/store" 'src net 10.0.0.0/8 or ipv6' > "$T/ip5.csv" || fail "query -g dstip"
check "-s dstip/packets 'src net 10.0.0.0/8 or inet6'" stat "$T/nf5.csv" "$T/ip5.csv"

nf -A srcip4/24,dstport -N -q -o 'fmt:%sa|%dp|%fl|%pkt|%byt' 'inet and proto tcp' > "$T/nf6.txt" ||
  fail "nfdump -A srcip4/24,dstport"
q --csv -g srcip/24,dstport "$T/store" 'ipv4 and proto tcp' > "$T/ip6.csv" || fail "query -g srcip/24,dstport"
check "-A srcip4/24,dstport 'proto tcp'" agg "$T/nf6.txt" "$T/ip6.csv"

nf -A srcip,dstip -N -q -o 'fmt:%sa|%da|%fl|%pkt|%byt' 'proto udp and inet' > "$T/nf7.txt" ||
  fail "nfdump -A srcip,dstip"
q --csv -g srcip,dstip "$T/store" 'proto udp and ipv4' > "$T/ip7.csv" || fail "query -g srcip,dstip"
check "-A srcip,dstip 'proto udp and inet'" agg "$T/nf7.txt" "$T/ip7.csv"
# nfdump's fmt output abbreviates IPv6 addresses; its CSV has them in full
nf -A srcip,dstip -N -q -o csv 'proto udp' > "$T/nf8.csv" || fail "nfdump -A srcip,dstip -o csv"
q --csv -g srcip,dstip "$T/store" 'proto udp' > "$T/ip8.csv" || fail "query -g srcip,dstip"
check "-A srcip,dstip 'proto udp' (IPv4 and IPv6)" aggcsv "$T/nf8.csv" "$T/ip8.csv"

echo "$NAME: PASS"
exit 0
