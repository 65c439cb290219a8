#!/usr/bin/env python3
"""make_fuzz_seeds.py — writes the seed corpora of the libFuzzer targets
(fuzz/fuzz_*.c) into fuzz/corpus/<target>/: small hand-assembled IPFIX
inputs (templates + data, options templates, withdrawals, variable-length
fields with 1- and 3-byte prefixes, structured lists, multi-message streams,
UDP/TCP/FILE template rules) and a few malformed ones. Deterministic; python3
standard library only. Re-run after changing a target's input format and
commit the result:

    python3 tools/make_fuzz_seeds.py [--out fuzz/corpus]

Input formats (see the comment at the top of each target):
  fuzz_message_reader: selector byte + stream of messages
  fuzz_file_reader:    the file's bytes
  fuzz_structured:     selector byte + field content
  fuzz_packet_parse:   selector byte + (2-byte length, frame)... (frames of
                       tools/probe_test_pcap.py's trace)
  fuzz_query_filter:   filter text, NUL, record bytes
"""
import argparse
import os
import subprocess
import shutil
import struct
import sys
import tempfile

# ----------------------------------------------------------------- encoding


def u8(v):
    return struct.pack(">B", v)


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


VARLEN = 0xFFFF


def varlen(b, long=False):
    """RFC 7011 §7 length prefix + value (3-byte form when long or >= 255)."""
    if len(b) < 255 and not long:
        return u8(len(b)) + b
    return b"\xff" + u16(len(b)) + b


def spec(ie, length, pen=0):
    if pen:
        return u16(ie | 0x8000) + u16(length) + u32(pen)
    return u16(ie) + u16(length)


def template(tid, fields):
    """Template Record: fields = [(ie, length[, pen])]."""
    return u16(tid) + u16(len(fields)) + b"".join(spec(*f) for f in fields)


def options_template(tid, scope, fields):
    return u16(tid) + u16(len(fields)) + u16(scope) + b"".join(spec(*f) for f in fields)


def withdrawal(tid):
    return u16(tid) + u16(0)


def set_(sid, body, length=None):
    return u16(sid) + u16(len(body) + 4 if length is None else length) + body


def message(sets, seq=0, odid=1, export_time=1700000000, length=None, version=10):
    body = b"".join(sets)
    n = len(body) + 16 if length is None else length
    return u16(version) + u16(n) + u32(export_time) + u32(seq) + u32(odid) + body


def basic_list(ie, elen, elements, semantic=3, pen=0):
    """RFC 6313 §4.5.1 basicList content (elements already encoded)."""
    hdr = u8(semantic) + u16(ie | (0x8000 if pen else 0)) + u16(elen)
    if pen:
        hdr += u32(pen)
    return hdr + b"".join(elements)


def sub_template_list(tid, records, semantic=3):
    return u8(semantic) + u16(tid) + b"".join(records)


def multi_list(entries, semantic=3):
    """entries = [(tid, [records])]"""
    out = u8(semantic)
    for tid, records in entries:
        body = b"".join(records)
        out += u16(tid) + u16(len(body) + 4) + body
    return out


def ipv4(a, b, c, d):
    return bytes([a, b, c, d])


# ----------------------------------------------------------- common records

T_FLOW = 256  # fixed-length flow template
FLOW_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8)]


def flow(i):
    return (ipv4(10, 0, 0, i & 255) + ipv4(192, 168, 1, (i * 7) & 255) + u16(1024 + i) + u16(80)
            + u8(6) + u64(1500 * (i + 1)) + u64(i + 1))


T_OPTS = 257  # options: scope observationDomainId
OPTS_FIELDS = [(149, 4), (305, 4), (311, 8), (276, 1)]


def opts_record(odid):
    return u32(odid) + u32(100) + struct.pack(">d", 0.01) + u8(1)


T_VAR = 258  # interfaceName, applicationName, ipHeaderPacketSection (varlen)
VAR_FIELDS = [(82, VARLEN), (96, VARLEN), (313, VARLEN), (1, 4)]


def var_record(name, app, section, long=False):
    return varlen(name) + varlen(app, long) + varlen(section, long) + u32(4242)


T_SUB = 260  # sub-template of the lists: sourceIPv4Address, protocolIdentifier
SUB_FIELDS = [(8, 4), (4, 1)]
T_LIST = 259  # basicList, subTemplateList, subTemplateMultiList (varlen)
LIST_FIELDS = [(291, VARLEN), (292, VARLEN), (293, VARLEN)]
FUZZ_PEN = 32473  # fuzz_model(): element ID = abstract type code, every type
T_TYPES = 261  # one field of most abstract types
TYPES_FIELDS = [(27, 16), (56, 6), (150, 4), (152, 8), (154, 8), (156, 8), (434, 4), (434, 2),
                (515, 32), (311, 4), (276, 1), (6, 2), (8, 3), (12, 4, 6871)]


def types_record():
    return (bytes(range(16)) + b"\x00\x11\x22\x33\x44\x55" + u32(1700000000)
            + u64(1700000000123) + u64(0xE8F1C5A1_10000000) + u64(0xE8F1C5A1_80000001)
            + u32(0xFFFFFF85) + u16(0xFF85) + bytes(31) + b"\x01" + struct.pack(">f", 1.5)
            + u8(2) + u16(0x12) + b"\x01\x02\x03" + b"\x0a\x0b\x0c\x0d")


PEN_FIELDS = [(5, 1, FUZZ_PEN), (6, 2, FUZZ_PEN), (7, 3, FUZZ_PEN), (8, 8, FUZZ_PEN),
              (9, 4, FUZZ_PEN), (10, 8, FUZZ_PEN), (23, 5, FUZZ_PEN), (13, VARLEN, FUZZ_PEN),
              (0, VARLEN, FUZZ_PEN), (20, VARLEN, FUZZ_PEN), (3, 2, FUZZ_PEN)]


def pen_record(long=False):
    return (u8(0x80) + u16(0xFFFE) + b"\x00\x01\x00" + u64(0x8000000000000000)
            + struct.pack(">f", 3.25) + struct.pack(">d", -1e300) + b"\x01\x02\x03\x04\x05"
            + varlen("snowman \u2603".encode(), long) + varlen(b"\x00\xff", long)
            + varlen(basic_list(9, 4, [struct.pack(">f", 0.5)], pen=FUZZ_PEN), long) + u16(7))


def sub(i):
    return ipv4(172, 16, 0, i) + u8(17)


def list_record():
    ports = basic_list(7, 2, [u16(22), u16(80), u16(443)])
    stl = sub_template_list(T_SUB, [sub(1), sub(2)])
    stml = multi_list([(T_SUB, [sub(3)]), (T_FLOW, [flow(9)])])
    return varlen(ports) + varlen(stl) + varlen(stml)


def templates_msg(seq=0, odid=1, t=1700000000):
    return message([
        set_(2, template(T_FLOW, FLOW_FIELDS) + template(T_VAR, VAR_FIELDS)
             + template(T_SUB, SUB_FIELDS) + template(T_LIST, LIST_FIELDS)),
        set_(3, options_template(T_OPTS, 1, OPTS_FIELDS)),
    ], seq=seq, odid=odid, export_time=t)


# -------------------------------------------------------- message-reader seeds

FILE, UDP, TCP, SCTP = 0, 1, 2, 3
NO_HOLD, USE_NOW, DATAGRAM, TWO_DOMAINS, ABANDON = 4, 8, 16, 32, 64


def message_reader_seeds():
    s = {}
    basic = message([set_(2, template(T_FLOW, FLOW_FIELDS)),
                     set_(T_FLOW, flow(1) + flow(2) + flow(3))])
    for name, sel in (("file", FILE), ("udp", UDP), ("tcp", TCP), ("sctp", SCTP)):
        s["template_data_" + name] = u8(sel) + basic
    s["options_template"] = u8(FILE) + message([
        set_(3, options_template(T_OPTS, 1, OPTS_FIELDS)),
        set_(T_OPTS, opts_record(1) + opts_record(2))])
    s["varlen_1_and_3_byte"] = u8(TCP) + message([
        set_(2, template(T_VAR, VAR_FIELDS)),
        set_(T_VAR, var_record(b"eth0", b"http", b"\x45\x00\x00\x14")
             + var_record(b"", b"dns", b"", long=True)
             + var_record(b"ge-0/0/1", b"x" * 300, bytes(range(256)) + b"\x01" * 20))])
    s["lists"] = u8(FILE) + message([
        set_(2, template(T_FLOW, FLOW_FIELDS) + template(T_SUB, SUB_FIELDS)
             + template(T_LIST, LIST_FIELDS)),
        set_(T_LIST, list_record() + list_record())])
    strings = basic_list(82, VARLEN, [varlen(b"eth0"), varlen(b"wlan0", long=True)])
    ent = basic_list(12, 4, [ipv4(1, 2, 3, 4)], pen=6871)
    nested = basic_list(292, VARLEN, [varlen(sub_template_list(T_SUB, [sub(5)]))])
    s["lists_more"] = u8(TCP) + message([
        set_(2, template(T_SUB, SUB_FIELDS)
             + template(262, [(291, VARLEN), (291, VARLEN), (291, VARLEN), (292, 8)])),
        set_(262, varlen(strings) + varlen(ent) + varlen(nested)
             + sub_template_list(T_SUB, [sub(6)]))])
    s["all_types"] = u8(FILE) + message([
        set_(2, template(T_TYPES, TYPES_FIELDS)),
        set_(T_TYPES, types_record() + types_record())])
    s["enterprise_types"] = u8(TCP) + message([
        set_(2, template(263, PEN_FIELDS)),
        set_(263, pen_record() + pen_record(long=True))])
    # 70 templates: more than the target's limit of 64.
    s["template_limit"] = u8(TCP) + message([
        set_(2, b"".join(template(256 + i, [(1, 8)]) for i in range(70))),
        set_(256 + 69, u64(1)), set_(256, u64(2))])
    # Held sets beyond the 1024-byte pending limit: the oldest is dropped.
    s["held_overflow"] = u8(UDP) + b"".join(
        message([set_(400 + i, bytes([i + 1]) * 450)], seq=i) for i in range(3)) + message(
        [set_(2, template(400 + i, [(210, 45)])) for i in range(3)], seq=3)
    # TCP: define, use, withdraw one, use (missing), withdraw all (2 and 3).
    s["withdrawals_tcp"] = u8(TCP) + templates_msg(0) + message(
        [set_(T_FLOW, flow(1)), set_(T_OPTS, opts_record(1))], seq=0) + message(
        [set_(2, withdrawal(T_FLOW))], seq=2) + message(
        [set_(T_FLOW, flow(2))], seq=2) + message(
        [set_(2, withdrawal(2)), set_(3, withdrawal(3)), set_(2, withdrawal(999))], seq=3)
    # The same over UDP (withdrawals ignored) and in a file (honoured).
    s["withdrawals_udp"] = u8(UDP) + s["withdrawals_tcp"][1:]
    s["withdrawals_file"] = u8(FILE) + s["withdrawals_tcp"][1:]
    # TCP redefinition without withdrawal (conflict), identical re-send (refresh).
    s["redefine_tcp"] = u8(TCP) + message([set_(2, template(T_FLOW, FLOW_FIELDS))]) + message(
        [set_(2, template(T_FLOW, FLOW_FIELDS)), set_(T_FLOW, flow(1))]) + message(
        [set_(2, template(T_FLOW, SUB_FIELDS)), set_(T_FLOW, sub(1) + sub(2))], seq=1)
    s["redefine_udp"] = u8(UDP) + s["redefine_tcp"][1:]
    # Data before its template: held, then replayed when the template comes.
    s["held_then_replayed"] = u8(UDP) + message([set_(T_FLOW, flow(1) + flow(2))]) + message(
        [set_(2, template(T_FLOW, FLOW_FIELDS)), set_(T_FLOW, flow(3))], seq=2)
    s["missing_no_hold"] = u8(TCP | NO_HOLD) + s["held_then_replayed"][1:]
    # UDP template lifetime (60 s in the target): data 100 s later is missing.
    s["udp_expiry"] = u8(UDP | USE_NOW) + message(
        [set_(2, template(T_FLOW, FLOW_FIELDS)), set_(T_FLOW, flow(1))], export_time=1000) + message(
        [set_(T_FLOW, flow(2))], seq=1, export_time=1030) + message(
        [set_(T_FLOW, flow(3))], seq=2, export_time=1100) + message(
        [set_(2, template(T_FLOW, FLOW_FIELDS)), set_(T_FLOW, flow(4))], seq=2, export_time=1101)
    # Sequence numbers: in order, gap, late arrival; several domains.
    seq_stream = b""
    for seq, i in ((0, 0), (2, 1), (10, 2), (5, 3), (11, 4)):
        seq_stream += message([set_(T_FLOW, flow(i) + flow(i + 1))], seq=seq)
    s["sequence_gaps"] = u8(FILE) + message([set_(2, template(T_FLOW, FLOW_FIELDS))]) + seq_stream
    s["domains"] = u8(TCP | TWO_DOMAINS) + b"".join(
        message([set_(2, template(T_FLOW, FLOW_FIELDS)), set_(T_FLOW, flow(d))], odid=d)
        for d in (1, 2, 3, 1))
    s["datagram_trailing"] = u8(UDP | DATAGRAM) + basic + basic + b"\x00\x0a\x00"
    s["abandon"] = u8(TCP | ABANDON) + templates_msg() + message(
        [set_(T_FLOW, flow(1) + flow(2) + flow(3) + flow(4))])
    # Padding: zeros after records and after template records.
    s["padding"] = u8(FILE) + message([
        set_(2, template(T_FLOW, FLOW_FIELDS) + bytes(3)),
        set_(T_FLOW, flow(1) + bytes(5))])
    # ---- malformed ----
    s["bad_version"] = u8(FILE) + message([set_(2, template(T_FLOW, FLOW_FIELDS))], version=9) + basic
    s["bad_set_length"] = u8(TCP) + message([set_(2, template(T_FLOW, FLOW_FIELDS), length=2)]) + \
        message([set_(2, template(T_FLOW, FLOW_FIELDS), length=200)])
    s["truncated_message"] = u8(FILE) + basic + basic[:30]
    s["short_length"] = u8(FILE) + message([], length=8) + basic
    s["reserved_set_id"] = u8(FILE) + message([set_(5, b"\x00" * 8), set_(2, withdrawal(7))])
    s["bad_templates"] = u8(TCP) + message([
        set_(2, template(17, FLOW_FIELDS)),            # ID < 256
        set_(3, u16(300) + u16(2) + u16(0) + spec(1, 8) + spec(2, 8)),  # scope count 0
        set_(3, u16(301) + u16(1) + u16(3) + spec(1, 8)),               # scope > fields
        set_(2, u16(302) + u16(3) + spec(1, 8)),       # field specifiers past the set
        set_(2, u16(303) + u16(1) + u16(0x8001) + u16(4) + b"\x00\x00"),  # PEN truncated
        set_(2, template(304, [(1, 0)])),              # zero-length records
        set_(2, template(305, [(210, 40000), (210, 40000)]))])  # record too long
    s["bad_data"] = u8(FILE) + message([
        set_(2, template(T_FLOW, FLOW_FIELDS) + template(T_VAR, VAR_FIELDS)),
        set_(T_FLOW, flow(1)[:20]),                    # too short for one record
        set_(T_FLOW, flow(1) + b"\x01\x02"),           # non-zero padding
        set_(T_VAR, b"\x04eth0\x02ab\x30abc"),         # varlen past the end
        set_(T_VAR, b"\x01a\x01b\xff\x01\x00\x00"),      # 3-byte prefix value past the end
        set_(2, b"\x01\x00")])                         # non-zero template padding
    bad_lists = (varlen(basic_list(7, 3, [b"\x00" * 4]))           # not whole elements
                 + varlen(b"\x03\x00\x10")                          # stl of template 16
                 + varlen(b"\x03" + u16(T_SUB) + u16(2)))           # entry length < 4
    s["bad_lists"] = u8(FILE) + message([
        set_(2, template(T_SUB, SUB_FIELDS) + template(T_LIST, LIST_FIELDS)),
        set_(T_LIST, bad_lists)])
    return s


# ----------------------------------------------------------- file-reader seeds


def file_reader_seeds():
    s = {}
    data_msgs = b"".join(message([set_(T_FLOW, flow(i) + flow(i + 1))], seq=2 * i)
                         for i in range(3))
    simple = templates_msg() + data_msgs
    s["simple"] = simple
    s["lists_options_varlen"] = templates_msg() + message([
        set_(T_LIST, list_record()),
        set_(T_OPTS, opts_record(1)),
        set_(T_VAR, var_record(b"eth0", b"quic", b"\x60" * 40, long=True))])
    s["garbage_between"] = templates_msg() + b"\xde\xad\xbe\xef\x00\x0a\x00\x02garbage" + data_msgs
    s["garbage_prefix"] = b"\x00\x0a\xff\xff\x00" * 3 + simple
    s["truncated_tail"] = simple + templates_msg()[:40]
    s["short_tail"] = simple + b"\x00\x0a\x00"
    s["bad_length"] = message([], length=4) + simple
    s["length_past_end"] = simple[:-10] + message([set_(T_FLOW, flow(7))])
    s["withdraw_redefine"] = templates_msg() + message([set_(2, withdrawal(T_FLOW))]) + message(
        [set_(2, template(T_FLOW, SUB_FIELDS)), set_(T_FLOW, sub(1))])
    # Bad set tiling: a header that frames but is not plausible for resync.
    s["implausible_sets"] = simple[:50] + message([set_(7, b"\x00" * 4)]) + data_msgs
    s["empty"] = b""
    # Sizes of 3 mod 4 go through the pipe path of the target.
    for name in ("simple", "garbage_between", "truncated_tail"):
        b = s[name]
        if len(b) % 4 != 3:
            s[name + "_pipe"] = b + b"\x00\x0a\x00"[:(3 - len(b)) % 4]
    return s


# -------------------------------------------------------- structured seeds
# Must match TEMPLATES in fuzz/fuzz_structured.c.

BASIC, STL, STML, RECORDS = 0, 1, 2, 3


def st_record(tid):
    if tid == 300:
        return ipv4(10, 1, 1, 1) + ipv4(10, 2, 2, 2) + u16(443) + u8(6) + u64(12345)
    if tid == 301:
        return varlen(b"eth0") + u32(99) + varlen(b"ssh", long=True) + varlen(b"\x01\x02")
    if tid == 302:
        return (varlen(basic_list(7, 2, [u16(1), u16(2)]))
                + varlen(sub_template_list(300, [st_record(300)])) + u64(7))
    if tid == 303:
        return (varlen(multi_list([(300, [st_record(300)]), (301, [st_record(301)])]))
                + sub_template_list(300, [st_record(300)])
                + basic_list(8, 4, [ipv4(1, 1, 1, 1), ipv4(2, 2, 2, 2)]))
    if tid == 304:
        return u32(1) + u32(1000) + struct.pack(">d", 0.001) + u8(2)
    if tid == 306:
        return types_record()[:88] + struct.pack(">f", -2.25) + b"\x0a\x00\x01"
    if tid == 308:
        return (u8(0xFF) + u16(0x8000) + u64(1) + b"\xff\xff\xfe" + struct.pack(">f", -0.0)
                + b"\x00\x00\x00\x01\x00" + varlen("é".encode()) + u8(1) + bytes(6) + u8(9)
                + varlen(sub_template_list(300, [st_record(300)])))
    if tid == 307:
        return (varlen(multi_list([(302, [st_record(302)]), (304, [st_record(304)])]))
                + varlen(basic_list(82, VARLEN, [varlen(b"a"), varlen(b"b" * 260)])))
    raise ValueError(tid)


def self_nested(depth):
    """Template 305 nesting itself `depth` levels deep."""
    rec = u8(depth) + varlen(sub_template_list(305, []))
    for d in range(depth):
        rec = u8(d) + varlen(sub_template_list(305, [rec]))
    return rec


def structured_seeds():
    s = {}
    s["basic_fixed"] = u8(BASIC) + basic_list(7, 2, [u16(22), u16(80), u16(443)])
    s["basic_varlen"] = u8(BASIC) + basic_list(
        82, VARLEN, [varlen(b"eth0"), varlen(b""), varlen(b"lo", long=True), varlen(b"z" * 300)])
    s["basic_enterprise"] = u8(BASIC) + basic_list(12, 4, [b"abcd", b"efgh"], pen=6871)
    s["basic_empty"] = u8(BASIC) + basic_list(1, 8, [])
    s["basic_of_lists"] = u8(BASIC) + basic_list(292, VARLEN, [
        varlen(sub_template_list(300, [st_record(300)])),
        varlen(sub_template_list(301, [st_record(301), st_record(301)]))])
    s["basic_of_basic"] = u8(BASIC) + basic_list(291, VARLEN, [
        varlen(basic_list(156, 8, [u64(0xE8F1C5A180000000)]))])
    for tid in (300, 301, 302, 303, 304, 306, 307, 308):
        s["stl_%d" % tid] = u8(STL) + sub_template_list(tid, [st_record(tid), st_record(tid)])
    s["stl_empty"] = u8(STL) + sub_template_list(300, [])
    s["stl_self_nested_20"] = u8(STL) + sub_template_list(305, [self_nested(20)])
    s["stml_mixed"] = u8(STML) + multi_list([
        (300, [st_record(300), st_record(300)]), (301, [st_record(301)]),
        (303, [st_record(303)]), (999, [b"unknown template"])])
    s["stml_nested"] = u8(STML) + multi_list([(307, [st_record(307)]), (302, [st_record(302)])])
    s["stml_empty_entry"] = u8(STML) + multi_list([(300, []), (304, [st_record(304)])])
    for tid in (300, 301, 302, 303, 305, 306, 307, 308):
        rec = self_nested(3) if tid == 305 else st_record(tid)
        s["records_%d" % tid] = u8(RECORDS | (tid - 300) << 2) + rec + rec
    # ---- malformed ----
    s["bad_basic_partial"] = u8(BASIC) + basic_list(7, 2, [u16(1), b"\x02"])
    s["bad_basic_pen_short"] = u8(BASIC) + b"\x03\x80\x0c\x00\x04\x00\x00"
    s["bad_stl_reserved_id"] = u8(STL) + b"\x03\x00\x03abc"
    s["bad_stl_truncated_record"] = u8(STL) + sub_template_list(300, [st_record(300)[:-3]])
    s["bad_stml_entry_past_end"] = u8(STML) + b"\x03" + u16(300) + u16(200) + st_record(300)
    s["bad_records_varlen"] = u8(RECORDS | 1 << 2) + b"\xff\x00\x10abc"
    return s


# --------------------------------------------------------------------- main

def pcap_frames(path):
    """(caplen bytes) of each record of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        out.append(data[pos + 16:pos + 16 + caplen])
        pos += 16 + caplen
    return out


def packet_parse_seeds():
    """fuzz_packet_parse: the frames of the probe's hand-checked trace
    (tools/probe_test_pcap.py), all of them under each selector, and each
    frame alone."""
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.pcap")
        subprocess.run([sys.executable, os.path.join(here, "probe_test_pcap.py"), path],
                       check=True, stdout=subprocess.DEVNULL)
        frames = pcap_frames(path)
    def stream(sel, fs):
        return bytes([sel]) + b"".join(struct.pack("!H", len(f)) + f for f in fs)
    seeds = {}
    for sel, name in ((0, "trace"), (8, "trace_masked"), (16, "trace_snapped")):
        data = stream(sel, frames)
        while len(data) >= MAX_SEED:
            frames = frames[:-1]
            data = stream(sel, frames)
        seeds[name] = data
    for i, f in enumerate(frames):
        seeds["frame_%02d" % i] = stream(0, [f])
        seeds["raw_%02d" % i] = stream(1, [f[14:]])  # the IP packet alone (raw IP link)
    return seeds


def query_filter_seeds():
    """fuzz_query_filter: filter texts of every kind, a NUL, then bytes of
    an IPv4 flow record of the target's template 256."""
    record = (bytes([10, 0, 0, 1, 192, 168, 1, 2]) + u16(40000) + u16(443) + u8(6) + u16(0x12)
              + u64(1500) + u64(3) + u64(1700000000000) + u64(1700000001000) + u8(1))
    texts = [
        "any", "proto tcp and dst port 443", "src net 10.0.0.0/8 and bytes > 1M",
        "not (proto udp or proto icmp)", "host 2001:db8::1 or net 2001:db8::/32",
        "octetDeltaCount >= 1000", "flowEndReason = idleTimeout", "flags SA",
        "packets < 10 && !(dst port 53) || src port >= 1024", "in if 3 and out if 4",
        "flowStartMilliseconds > 2023-11-14T22:13:20Z", "sourceTransportPort != 80",
        "proto 6 and tos 0 and ipv4", "((((proto tcp))))", "dst host", "port > ",
    ]
    return {"filter_%02d" % i: t.encode() + b"\0" + record for i, t in enumerate(texts)}


TARGETS = {
    "fuzz_message_reader": message_reader_seeds,
    "fuzz_file_reader": file_reader_seeds,
    "fuzz_structured": structured_seeds,
    "fuzz_packet_parse": packet_parse_seeds,
    "fuzz_query_filter": query_filter_seeds,
}
MAX_SEED = 4096


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "fuzz", "corpus"))
    args = ap.parse_args()
    total = 0
    for target, make in TARGETS.items():
        seeds = make()
        d = os.path.join(args.out, target)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            if len(data) >= MAX_SEED:
                sys.exit("seed %s/%s is %d bytes (limit %d)" % (target, name, len(data), MAX_SEED))
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        total += len(seeds)
        print("%s: %d seeds" % (target, len(seeds)))
    print("%d seeds in %s" % (total, os.path.normpath(args.out)))


if __name__ == "__main__":
    main()
