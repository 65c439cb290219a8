#!/usr/bin/env python3
"""Build pcap files for the interop tests (stdlib only, no capture privileges).

  interop_pcap.py udp IPFIX_FILE OUT.pcap [--port 4739] [--max-message N]
      one Ethernet/IPv4/UDP datagram per IPFIX message of IPFIX_FILE; with
      --max-message (and always for messages too large for one UDP datagram)
      the sets are first re-packed into messages of at most N bytes: records
      and templates byte for byte, data sets split at record boundaries,
      sequence numbers recomputed
  interop_pcap.py tcp IPFIX_FILE OUT.pcap [--port 4739] [--mss 1000]
      one TCP connection (handshake, the messages as one byte stream cut into
      MSS-sized segments regardless of message boundaries, ACKs, FIN/ACK)
  interop_pcap.py traffic OUT.pcap [--many N]
      a small synthetic traffic trace for a flow meter (TCP, UDP, ICMP and
      IPv6 flows, plus N small UDP flows); prints one line per flow:
      proto src sport dst dport packets frame_bytes ip_bytes

The IPFIX file is split into messages by the IPFIX header length field
(RFC 7011 §3.1); the file must consist of whole messages.
"""
import argparse
import struct
import sys

LINKTYPE_ETHERNET = 1


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_addr(s):
    return bytes(int(x) for x in s.split("."))


def ip6_addr(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))

    def write(self, ts, frame):
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        self.f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


def eth(src_mac, dst_mac, ethertype, payload):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident=0, ttl=64, tos=0):
    total = 20 + len(payload)
    if total > 65535:
        raise ValueError("IPv4 packet too long (%d bytes)" % total)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, total, ident & 0xFFFF, 0x4000, ttl, proto, 0,
                      ip_addr(src), ip_addr(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, hlim,
                       ip6_addr(src), ip6_addr(dst)) + payload


def pseudo4(src, dst, proto, length):
    return ip_addr(src) + ip_addr(dst) + struct.pack("!BBH", 0, proto, length)


def pseudo6(src, dst, nh, length):
    return ip6_addr(src) + ip6_addr(dst) + struct.pack("!IxxxB", length, nh)


def udp(src, dst, sport, dport, payload, v6=False):
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    ph = (pseudo6 if v6 else pseudo4)(src, dst, 17, length)
    c = checksum(ph + hdr + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, c) + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", win=65535, v6=False):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, win, 0, 0)
    ph = (pseudo6 if v6 else pseudo4)(src, dst, 6, len(hdr) + len(payload))
    c = checksum(ph + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def icmp_echo(ident, seq, payload, reply=False):
    hdr = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq)
    c = checksum(hdr + payload)
    return struct.pack("!BBHHH", 0 if reply else 8, 0, c, ident, seq) + payload


def icmp6_echo(src, dst, ident, seq, payload, reply=False):
    t = 129 if reply else 128
    hdr = struct.pack("!BBHHH", t, 0, 0, ident, seq)
    ph = pseudo6(src, dst, 58, len(hdr) + len(payload))
    c = checksum(ph + hdr + payload)
    return struct.pack("!BBHHH", t, 0, c, ident, seq) + payload


def record_length(fields, data, off):
    """Length of the record at data[off:] for template `fields` (list of field
    lengths, 65535 = variable), or None if it does not fit."""
    p = off
    for flen in fields:
        if flen == 65535:
            if p >= len(data):
                return None
            n = data[p]
            p += 1
            if n == 255:
                if p + 2 > len(data):
                    return None
                n = struct.unpack_from("!H", data, p)[0]
                p += 2
            p += n
        else:
            p += flen
        if p > len(data):
            return None
    return p - off


def reframe(msgs, limit):
    """Re-pack the sets of `msgs` into messages of at most `limit` bytes,
    splitting data sets at record boundaries (RFC 7011 §3.3.1). Records and
    templates are copied byte for byte; sequence numbers are recomputed
    (data records sent before the message, per Observation Domain)."""
    templates = {}   # (odid, tid) -> [field lengths]
    seqs = {}
    out = []
    for m in msgs:
        _, length, etime, _, odid = struct.unpack_from("!HHIII", m, 0)
        pieces = []   # (set_id, body bytes, records)
        off = 16
        while off + 4 <= length:
            sid, slen = struct.unpack_from("!HH", m, off)
            if slen < 4 or off + slen > length:
                sys.exit("interop_pcap: bad set at offset %d" % off)
            body = m[off + 4:off + slen]
            if sid in (2, 3):
                p = 0
                while p + 4 <= len(body):
                    tid, cnt = struct.unpack_from("!HH", body, p)
                    start = p
                    p += 4
                    if sid == 3 and cnt:
                        p += 2
                    lens = []
                    for _ in range(cnt):
                        eid, flen = struct.unpack_from("!HH", body, p)
                        p += 4 + (4 if eid & 0x8000 else 0)
                        lens.append(flen)
                    if cnt:
                        templates[(odid, tid)] = lens
                    pieces.append((sid, body[start:p], 0))
            elif sid >= 256:
                lens = templates.get((odid, sid))
                if lens is None:
                    sys.exit("interop_pcap: data set %d before its template" % sid)
                p = 0
                while p < len(body):
                    n = record_length(lens, body, p)
                    if n is None or n == 0:
                        break   # padding
                    pieces.append((sid, body[p:p + n], 1))
                    p += n
            off += slen
        # pack pieces: consecutive pieces of the same set id share a set
        cur, cur_len, cur_recs = [], 16, 0

        def flush():
            nonlocal cur, cur_len, cur_recs
            if not cur:
                return
            seq = seqs.get(odid, 0)
            body = b"".join(struct.pack("!HH", sid, 4 + sum(len(b) for b in bs)) + b"".join(bs)
                            for sid, bs in cur)
            out.append(struct.pack("!HHIII", 10, 16 + len(body), etime, seq, odid) + body)
            seqs[odid] = seq + cur_recs
            cur, cur_len, cur_recs = [], 16, 0

        for sid, b, nrec in pieces:
            if 16 + 4 + len(b) > limit:
                sys.exit("interop_pcap: a %d-byte record or template does not fit in %d bytes"
                         % (len(b), limit))
            same = cur and cur[-1][0] == sid
            need = len(b) + (0 if same else 4)
            if cur_len + need > limit:
                flush()
                same, need = False, len(b) + 4
            if same:
                cur[-1][1].append(b)
            else:
                cur.append((sid, [b]))
            cur_len += need
            cur_recs += nrec
        flush()
    return out


def read_messages(path):
    data = open(path, "rb").read()
    msgs, off = [], 0
    while off < len(data):
        if len(data) - off < 16:
            sys.exit("interop_pcap: %s: %d trailing bytes at offset %d" % (path, len(data) - off, off))
        ver, length = struct.unpack_from("!HH", data, off)
        if ver != 10 or length < 16 or off + length > len(data):
            sys.exit("interop_pcap: %s: bad IPFIX message header at offset %d "
                     "(version %d, length %d)" % (path, off, ver, length))
        msgs.append(data[off:off + length])
        off += length
    return msgs


MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
EXP, COL = "192.0.2.1", "192.0.2.2"   # exporter, collector (TEST-NET-1)
T0 = 1763816400.0                       # 2025-11-22T13:00:00Z


def cmd_udp(a):
    msgs = read_messages(a.file)
    n_orig = len(msgs)
    if a.max_message or any(len(m) > 65507 for m in msgs):
        msgs = reframe(msgs, a.max_message or 65507)
    p = Pcap(a.out)
    for i, m in enumerate(msgs):
        if len(m) > 65507:
            sys.exit("interop_pcap: message %d is %d bytes, too long for one UDP datagram"
                     % (i, len(m)))
        frame = eth(MAC_A, MAC_B, 0x0800, ipv4(EXP, COL, 17, udp(EXP, COL, 40001, a.port, m), ident=i))
        p.write(T0 + i * 0.001, frame)
    p.close()
    if len(msgs) != n_orig:
        print("%d messages (the file's %d messages re-framed to at most %d bytes)"
              % (len(msgs), n_orig, max(len(m) for m in msgs)))
    else:
        print("%d messages" % len(msgs))


def cmd_tcp(a):
    msgs = read_messages(a.file)
    stream = b"".join(msgs)
    p = Pcap(a.out)
    sport, dport = 40002, a.port
    cseq, sseq = 1000, 5000000
    t = [T0]
    ident = [0]

    def send(frm_client, flags, payload=b""):
        nonlocal cseq, sseq
        if frm_client:
            seg = tcp(EXP, COL, sport, dport, cseq, sseq, flags, payload)
            pkt = ipv4(EXP, COL, 6, seg, ident=ident[0])
            frame = eth(MAC_A, MAC_B, 0x0800, pkt)
            cseq += len(payload) + (1 if flags & 0x03 else 0)
        else:
            seg = tcp(COL, EXP, dport, sport, sseq, cseq, flags, payload)
            pkt = ipv4(COL, EXP, 6, seg, ident=ident[0])
            frame = eth(MAC_B, MAC_A, 0x0800, pkt)
            sseq += len(payload) + (1 if flags & 0x03 else 0)
        ident[0] += 1
        t[0] += 0.0001
        p.write(t[0], frame)

    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
    # handshake: SYN, SYN/ACK, ACK (ack numbers are computed after each step)
    seg = tcp(EXP, COL, sport, dport, cseq, 0, SYN)
    p.write(t[0], eth(MAC_A, MAC_B, 0x0800, ipv4(EXP, COL, 6, seg)))
    cseq += 1
    send(False, SYN | ACK)
    send(True, ACK)
    off, nseg = 0, 0
    while off < len(stream):
        chunk = stream[off:off + a.mss]
        send(True, ACK | PSH, chunk)
        off += len(chunk)
        nseg += 1
        if nseg % 4 == 0:
            send(False, ACK)
    send(False, ACK)
    send(True, FIN | ACK)
    send(False, FIN | ACK)
    send(True, ACK)
    p.close()
    print("%d messages, %d bytes, %d segments" % (len(msgs), len(stream), nseg))


def cmd_traffic(a):
    """Synthetic flows. Frame sizes are chosen so frame bytes != IP bytes."""
    p = Pcap(a.out)
    pkts = []   # (ts, frame)
    flows = []  # description lines

    def add_flow(desc, frames):
        pkts.extend(frames)
        n = len(frames)
        fb = sum(len(f) for _, f in frames)
        flows.append("%s %d %d %d" % (desc, n, fb, fb - 14 * n))

    # TCP connection 10.1.0.1:33000 -> 10.2.0.1:80, both directions are
    # separate unidirectional flows for an IPFIX meter with bidir off
    base = T0 + 1
    c, s = "10.1.0.1", "10.2.0.1"
    fwd, rev = [], []
    seqc, seqs = 100, 900
    t = base

    def tf(frm_c, flags, payload=b""):
        nonlocal seqc, seqs, t
        t += 0.01
        if frm_c:
            seg = tcp(c, s, 33000, 80, seqc, seqs if flags & 0x10 else 0, flags, payload)
            fr = eth(MAC_A, MAC_B, 0x0800, ipv4(c, s, 6, seg))
            fwd.append((t, fr))
            seqc += len(payload) + (1 if flags & 3 else 0)
        else:
            seg = tcp(s, c, 80, 33000, seqs, seqc, flags, payload)
            fr = eth(MAC_B, MAC_A, 0x0800, ipv4(s, c, 6, seg))
            rev.append((t, fr))
            seqs += len(payload) + (1 if flags & 3 else 0)
    tf(True, 0x02)
    tf(False, 0x12)
    tf(True, 0x10)
    tf(True, 0x18, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    for i in range(5):
        tf(False, 0x18 if i == 4 else 0x10, bytes(1000 + i * 37))
        if i % 2:
            tf(True, 0x10)
    tf(True, 0x11)
    tf(False, 0x11)
    tf(True, 0x10)
    add_flow("tcp %s 33000 %s 80" % (c, s), fwd)
    add_flow("tcp %s 80 %s 33000" % (s, c), rev)

    # UDP: DNS-like exchange 10.1.0.2:53000 <-> 10.2.0.53:53
    q, r = [], []
    for i in range(3):
        t = base + 0.5 + i * 0.2
        q.append((t, eth(MAC_A, MAC_B, 0x0800, ipv4("10.1.0.2", "10.2.0.53", 17,
                  udp("10.1.0.2", "10.2.0.53", 53000, 53, bytes(30 + i))))))
        r.append((t + 0.05, eth(MAC_B, MAC_A, 0x0800, ipv4("10.2.0.53", "10.1.0.2", 17,
                  udp("10.2.0.53", "10.1.0.2", 53, 53000, bytes(120 + 10 * i))))))
    add_flow("udp 10.1.0.2 53000 10.2.0.53 53", q)
    add_flow("udp 10.2.0.53 53 10.1.0.2 53000", r)

    # ICMP echo 10.1.0.3 -> 10.2.0.9 (4 requests, no reply)
    e = []
    for i in range(4):
        e.append((base + 0.3 + i * 0.25, eth(MAC_A, MAC_B, 0x0800, ipv4("10.1.0.3", "10.2.0.9", 1,
                  icmp_echo(77, i, bytes(56))))))
    add_flow("icmp 10.1.0.3 0 10.2.0.9 0", e)

    # UDP over IPv6 2001:db8::1:5000 -> 2001:db8::2:5001 (6 datagrams)
    u6 = []
    a6, b6 = "2001:db8::1", "2001:db8::2"
    for i in range(6):
        u6.append((base + 0.7 + i * 0.05, eth(MAC_A, MAC_B, 0x86DD, ipv6(a6, b6, 17,
                   udp(a6, b6, 5000, 5001, bytes(200 + i), v6=True)))))
    add_flow("udp %s 5000 %s 5001" % (a6, b6), u6)

    # a one-packet UDP flow with a big payload
    big = [(base + 0.9, eth(MAC_A, MAC_B, 0x0800, ipv4("10.1.0.4", "10.2.0.4", 17,
             udp("10.1.0.4", "10.2.0.4", 6000, 7000, bytes(1400)))))]
    add_flow("udp 10.1.0.4 6000 10.2.0.4 7000", big)

    # many small flows, so that the export takes several messages
    for i in range(a.many):
        src = "10.3.%d.%d" % (i // 200, 1 + i % 200)
        fl = []
        for j in range(1 + i % 3):
            fl.append((base + 1.0 + i * 0.01 + j * 0.001, eth(MAC_A, MAC_B, 0x0800, ipv4(src, "10.4.0.1", 17,
                       udp(src, "10.4.0.1", 20000 + i, 9999, bytes(10 + i % 50))))))
        add_flow("udp %s %d 10.4.0.1 9999" % (src, 20000 + i), fl)

    for ts, fr in sorted(pkts, key=lambda x: x[0]):
        p.write(ts, fr)
    p.close()
    for f in flows:
        print(f)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("udp")
    u.add_argument("file")
    u.add_argument("out")
    u.add_argument("--port", type=int, default=4739)
    u.add_argument("--max-message", type=int, default=0,
                   help="re-frame into messages of at most this many bytes (default: only "
                        "messages too large for UDP, 65507 bytes, are re-framed)")
    t = sub.add_parser("tcp")
    t.add_argument("file")
    t.add_argument("out")
    t.add_argument("--port", type=int, default=4739)
    t.add_argument("--mss", type=int, default=1000)
    tr = sub.add_parser("traffic")
    tr.add_argument("out")
    tr.add_argument("--many", type=int, default=60, help="extra one-to-three-packet UDP flows")
    a = ap.parse_args()
    {"udp": cmd_udp, "tcp": cmd_tcp, "traffic": cmd_traffic}[a.cmd](a)


if __name__ == "__main__":
    main()
