#!/usr/bin/env python3
"""probe_test_pcap.py — writes the hand-checked test trace of `ipfix probe`
(tests/integration/probe_flows.sh holds the expected flows, worked out by
hand from the packet list below; keep the two in step).

Times are offsets in seconds from T0 = 1700000000 (2023-11-14T22:13:20Z).
Checksums are left zero (the meter does not verify them). Python stdlib only.

usage: probe_test_pcap.py OUT.pcap
"""
import socket
import struct
import sys

T0 = 1700000000


def mac(n):
    return bytes([0x02, 0, 0, 0, 0, n])


def eth(ethertype, payload, tags=()):
    """tags: sequence of (tpid, vid) outermost first."""
    hdr = mac(2) + mac(1)
    for tpid, vid in tags:
        hdr += struct.pack("!HH", tpid, vid)
    return hdr + struct.pack("!H", ethertype) + payload


def v4(a):
    return socket.inet_pton(socket.AF_INET, a)


def v6(a):
    return socket.inet_pton(socket.AF_INET6, a)


def ipv4(src, dst, proto, payload, tos=0, ttl=64, ident=0, frag=0, options=b"", total=None):
    ihl = (20 + len(options)) // 4
    length = total if total is not None else 20 + len(options) + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, length, ident, frag, ttl, proto, 0,
                      v4(src), v4(dst))
    return hdr + options + payload


def ipv6(src, dst, nh, payload, tc=0, flow=0, hlim=64):
    first = (6 << 28) | (tc << 20) | flow
    return struct.pack("!IHBB", first, len(payload), nh, hlim) + v6(src) + v6(dst) + payload


def tcp(sport, dport, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(typ, code, payload=b""):
    return struct.pack("!BBHI", typ, code, 0, 0) + payload


def ext(nh, body6=b"\x00" * 6):
    """An IPv6 option-style extension header of 8 bytes."""
    return struct.pack("!BB", nh, 0) + body6


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
ETH_IP, ETH_IP6, ETH_ARP = 0x0800, 0x86DD, 0x0806

packets = []  # (time offset s, frame bytes, wire length or None)


def add(t, frame, wire=None):
    packets.append((t, frame, wire))


def ip4(t, src, dst, proto, l4, **kw):
    add(t, eth(ETH_IP, ipv4(src, dst, proto, l4, **kw)))


# A/B: TCP connection with FIN, both directions
ip4(0.000, "10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, SYN))
ip4(0.001, "10.0.0.2", "10.0.0.1", 6, tcp(80, 40000, SYN | ACK))
ip4(0.002, "10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, ACK))
ip4(0.003, "10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, PSH | ACK, b"x" * 100))
ip4(0.004, "10.0.0.2", "10.0.0.1", 6, tcp(80, 40000, PSH | ACK, b"y" * 200))
ip4(0.010, "10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, FIN | ACK))
ip4(0.011, "10.0.0.2", "10.0.0.1", 6, tcp(80, 40000, FIN | ACK))
ip4(0.012, "10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, ACK))
# C: SYN answered by RST
ip4(0.020, "10.0.0.3", "10.0.0.2", 6, tcp(40001, 81, SYN))
ip4(0.021, "10.0.0.2", "10.0.0.3", 6, tcp(81, 40001, RST | ACK))
# D: UDP, idle gap splits it
ip4(0.030, "10.0.0.1", "10.0.0.9", 17, udp(5353, 53, b"q" * 30))
ip4(0.040, "10.0.0.1", "10.0.0.9", 17, udp(5353, 53, b"q" * 30))
ip4(30.000, "10.0.0.1", "10.0.0.9", 17, udp(5353, 53, b"q" * 30))
# E: ICMP echo request x2 and one reply
ip4(0.050, "10.0.0.1", "10.0.0.2", 1, icmp(8, 0, b"p" * 56))
ip4(0.051, "10.0.0.2", "10.0.0.1", 1, icmp(0, 0, b"p" * 56))
ip4(1.050, "10.0.0.1", "10.0.0.2", 1, icmp(8, 0, b"p" * 56))
# F: IPv6 TCP with Hop-by-Hop + Destination Options, then Destination Options only
add(0.100, eth(ETH_IP6, ipv6("2001:db8::1", "2001:db8::2", 0,
                             ext(60) + ext(6) + tcp(50000, 443, SYN), tc=0x28, flow=0x12345)))
add(0.200, eth(ETH_IP6, ipv6("2001:db8::1", "2001:db8::2", 60,
                             ext(6) + tcp(50000, 443, ACK, b"z" * 10), tc=0x28, flow=0x12345)))
# G: IPv6 UDP in two fragments (Fragment header, id 0xabcd)
udp_g = udp(7000, 7001, b"g" * 146)  # 154 bytes: 104 in the first fragment, 50 in the second
add(0.300, eth(ETH_IP6, ipv6("2001:db8::1", "2001:db8::3", 44,
                             struct.pack("!BBHI", 17, 0, (0 << 3) | 1, 0xABCD) + udp_g[:104])))
add(0.301, eth(ETH_IP6, ipv6("2001:db8::1", "2001:db8::3", 44,
                             struct.pack("!BBHI", 17, 0, (13 << 3) | 0, 0xABCD) + udp_g[104:])))
# H: IPv4 UDP in two fragments (id 0x1234); I: an orphan non-initial fragment
udp_h = udp(9000, 9001, b"h" * 1572)  # 1580 bytes: 1480 + 100
ip4(0.400, "10.0.0.5", "10.0.0.6", 17, udp_h[:1480], ident=0x1234, frag=0x2000)
ip4(0.401, "10.0.0.5", "10.0.0.6", 17, udp_h[1480:], ident=0x1234, frag=185)
ip4(0.500, "10.0.0.7", "10.0.0.8", 17, b"i" * 60, ident=0x9999, frag=100)
# J: 802.1Q VLAN 100; K: QinQ 200/300
add(0.600, eth(ETH_IP, ipv4("192.168.1.1", "192.168.1.2", 17, udp(1234, 5678, b"j" * 12)),
               tags=[(0x8100, 100)]))
add(0.700, eth(ETH_IP, ipv4("192.168.2.1", "192.168.2.2", 17, udp(1, 2, b"k" * 12)),
               tags=[(0x88A8, 200), (0x8100, 300)]))
# L: MPLS two labels (1000 exp 5, 2000 bottom) over IPv4
mpls = struct.pack("!II", (1000 << 12) | (5 << 9) | 64, (2000 << 12) | (1 << 8) | 64)
add(0.800, eth(0x8847, mpls + ipv4("172.16.0.1", "172.16.0.2", 17, udp(1111, 2222, b"l" * 12))))
# M: IPv4 with options (IHL 6), TOS 0xb8, TTL 5
ip4(0.900, "10.0.0.1", "10.0.0.2", 17, udp(1000, 2000, b"m" * 4), options=b"\x01\x01\x01\x00",
    tos=0xB8, ttl=5)
# N: snap-length truncated capture of a 1028-byte IP packet (metered with its IP length)
full = eth(ETH_IP, ipv4("10.0.0.1", "10.0.0.2", 17, udp(3000, 3001, b"n" * 1000)))
add(1.000, full[:64], wire=len(full))
# P: active timeout (10 s) splits a flow with a packet every 4 s
for t in (2, 6, 10, 14, 18, 22, 26):
    ip4(float(t), "10.0.1.1", "10.0.1.2", 17, udp(100, 200, b"p" * 12))
# not metered, counted by reason
add(1.100, b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00")                      # truncatedL2
add(1.101, eth(ETH_IP, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, SYN)))[:14 + 12], wire=54)  # truncatedIp
add(1.102, eth(ETH_IP, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, SYN)))[:14 + 20 + 10], wire=54)  # truncatedL4
bad = bytearray(eth(ETH_IP, ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2))))
bad[14] = 0x43  # IHL 3
add(1.103, bytes(bad))                                                       # badIpHeader
add(1.104, eth(ETH_ARP, b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\x00" * 20))  # notIp
add(1.105, eth(ETH_IP6, ipv6("2001:db8::1", "2001:db8::2", 0, b"\x06\x05")))  # truncated ext header
# Z: last packet of the trace (end of input at +34.5 s)
ip4(34.5, "10.9.9.9", "10.9.9.10", 17, udp(9, 9, b"z" * 12))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    packets.sort(key=lambda p: p[0])
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, frame, wire in packets:
            us = round(t * 1e6)
            f.write(struct.pack("<IIII", T0 + us // 1000000, us % 1000000, len(frame),
                                wire if wire is not None else len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
