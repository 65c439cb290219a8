#!/usr/bin/env python3
"""probe_expected.py — the flows of tools/probe_test_pcap.py worked out by
hand, and a checker for `ipfix dump --json` output of what `ipfix probe`
exported from that trace (--idle-timeout 5 --active-timeout 10, FIN
timeout 2 s, milliseconds). Used by probe_flows.sh and probe_export.sh.

usage: probe_expected.py DUMP.jsonl [--no-options]
       probe_expected.py --nfdump NFDUMP.txt
  (nfdump -q -o "fmt:%pr %sa %da %sp %dp %pkt %byt %ts %te" output: the
  fields nfdump keeps are compared)
"""
import datetime
import json
import sys

T0 = 1700000000000

# Times are ms after T0 = 1700000000 s.
# ver src dst sport dport proto packets octets tcpflags start end reason icmp tos minttl flowlabel mpls
EXPECTED = """
4 10.0.0.1 10.0.0.2 40000 80 6 5 300 27 0 12 3 0 0 64 - 0x000000
4 10.0.0.2 10.0.0.1 80 40000 6 3 320 27 1 11 3 0 0 64 - 0x000000
4 10.0.0.3 10.0.0.2 40001 81 6 1 40 2 20 20 1 0 0 64 - 0x000000
4 10.0.0.2 10.0.0.3 81 40001 6 1 40 20 21 21 3 0 0 64 - 0x000000
4 10.0.0.1 10.0.0.9 5353 53 17 2 116 0 30 40 1 0 0 64 - 0x000000
4 10.0.0.1 10.0.0.9 5353 53 17 1 58 0 30000 30000 4 0 0 64 - 0x000000
4 10.0.0.1 10.0.0.2 0 0 1 2 168 0 50 1050 1 2048 0 64 - 0x000000
4 10.0.0.2 10.0.0.1 0 0 1 1 84 0 51 51 1 0 0 64 - 0x000000
6 2001:db8::1 2001:db8::2 50000 443 6 2 154 18 100 200 1 0 40 64 74565 0x000000
6 2001:db8::1 2001:db8::3 7000 7001 17 2 250 0 300 301 1 0 0 64 0 0x000000
4 10.0.0.5 10.0.0.6 9000 9001 17 2 1620 0 400 401 1 0 0 64 - 0x000000
4 10.0.0.7 10.0.0.8 0 0 17 1 80 0 500 500 1 0 0 64 - 0x000000
4 192.168.1.1 192.168.1.2 1234 5678 17 1 40 0 600 600 1 0 0 64 - 0x000000
4 192.168.2.1 192.168.2.2 1 2 17 1 40 0 700 700 1 0 0 64 - 0x000000
4 172.16.0.1 172.16.0.2 1111 2222 17 1 40 0 800 800 1 0 0 64 - 0x003e8a
4 10.0.0.1 10.0.0.2 1000 2000 17 1 36 0 900 900 1 0 184 5 - 0x000000
4 10.0.0.1 10.0.0.2 3000 3001 17 1 1028 0 1000 1000 1 0 0 64 - 0x000000
4 10.0.1.1 10.0.1.2 100 200 17 3 120 0 2000 10000 2 0 0 64 - 0x000000
4 10.0.1.1 10.0.1.2 100 200 17 3 120 0 14000 22000 2 0 0 64 - 0x000000
4 10.0.1.1 10.0.1.2 100 200 17 1 40 0 26000 26000 1 0 0 64 - 0x000000
4 10.9.9.9 10.9.9.10 9 9 17 1 40 0 34500 34500 4 0 0 64 - 0x000000
"""


def ms(iso):
    d = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return round(d.timestamp() * 1000) - T0


def nf_time(text):
    d = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return round(d.timestamp() * 1000) - T0


def check_nfdump(path):
    """nfdump prints ICMP type.code as the destination port."""
    expected = []
    for l in EXPECTED.splitlines():
        if not l.strip():
            continue
        e = l.split()
        proto = {"6": "TCP", "17": "UDP", "1": "ICMP", "58": "ICMP6"}[e[5]]
        dport = e[4]
        if proto.startswith("ICMP"):
            dport = "%d.%d" % (int(e[12]) >> 8, int(e[12]) & 255)
        expected.append((proto, e[1], e[2], e[3], dport, e[6], e[7], e[9], e[10]))
    got = []
    for l in open(path):
        f = l.split()
        if len(f) != 11:
            continue
        got.append((f[0], f[1], f[2], f[3], f[4], f[5], f[6],
                    str(nf_time(f[7] + " " + f[8])), str(nf_time(f[9] + " " + f[10]))))
    expected.sort()
    got.sort()
    if got != expected:
        for e in expected:
            if e not in got:
                print("missing:", " ".join(e))
        for g in got:
            if g not in expected:
                print("unexpected:", " ".join(g))
        print("nfdump: %d flows, expected %d" % (len(got), len(expected)))
        sys.exit(1)
    sys.exit(0)


def main():
    if sys.argv[1] == "--nfdump":
        check_nfdump(sys.argv[2])
    path = sys.argv[1]
    check_options = "--no-options" not in sys.argv
    expected = sorted(tuple(l.split()) for l in EXPECTED.splitlines() if l.strip())
    got, options = [], {}
    for line in open(path):
        o = json.loads(line)
        if "options" in o:
            options[o["templateId"]] = o["options"]
        if "record" not in o:
            continue
        r = o["record"]
        v6 = r["ipVersion"] == 6
        a = "IPv6" if v6 else "IPv4"
        got.append(tuple(str(x) for x in (
            r["ipVersion"], r["source%sAddress" % a], r["destination%sAddress" % a],
            r["sourceTransportPort"], r["destinationTransportPort"], r["protocolIdentifier"],
            r["packetDeltaCount"], r["octetDeltaCount"], r["tcpControlBits"],
            ms(r["flowStartMilliseconds"]), ms(r["flowEndMilliseconds"]), r["flowEndReason"],
            r["icmpTypeCodeIPv6" if v6 else "icmpTypeCodeIPv4"], r["ipClassOfService"],
            r["minimumTTL"], r.get("flowLabelIPv6", "-"), r["mplsTopLabelStackSection"])))
    got.sort()
    ok = True
    for e in expected:
        if e not in got:
            print("missing:", " ".join(e)); ok = False
    for g in got:
        if g not in expected:
            print("unexpected:", " ".join(g)); ok = False
    if len(got) != len(expected):
        print("flow count %d, expected %d" % (len(got), len(expected))); ok = False
    # statistics options records (RFC 7011 §4.1-4.3)
    if not check_options:
        sys.exit(0 if ok else 1)
    if options.get(258, {}).get("exportedFlowRecordTotalCount") != len(expected):
        print("metering statistics record missing or wrong:", options.get(258)); ok = False
    if options.get(259, {}).get("ignoredPacketTotalCount") != 5:
        print("metering reliability record missing or wrong:", options.get(259)); ok = False
    if options.get(260, {}).get("notSentFlowTotalCount") != 0:
        print("exporting reliability record missing or wrong:", options.get(260)); ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
