#!/usr/bin/env python3
"""Write an IPFIX file with libfixbuf itself (interop test helper, stdlib only).

Debian's libfixbuf-tools ships only a reader (ipfixDump), so this script drives
the libfixbuf shared library that package depends on (libfixbuf.so.9) through
ctypes: info model, session, file exporter, internal/external templates,
fBufAppend, fBufEmit. The file is therefore produced by libfixbuf's own
encoder (template sets, reduced-size encoding, variable-length fields,
message framing and sequence numbers are all libfixbuf's).

    interop_fixbuf_write.py -n RECORDS [--seed N] [--odid N] -w FILE --expect OUT.jsonl

OUT.jsonl gets one JSON object per data record, in file order, with IANA
element names as keys and values as `ipfix dump --json` is expected to render
them (integers and floats as numbers, booleans as true/false, addresses,
MACs, strings and timestamps as strings, octetArrays as "0x..." hex;
timestamps ISO 8601 UTC with the element's precision and a trailing Z).
Templates: 256 IPv4 flow, 257 IPv6 flow, 258 interface options (scope
ingressInterface), 259 other data types (one record per 10 flows).
Exit status 0 ok, 77 when libfixbuf cannot be loaded, 1 on a libfixbuf error.
"""
import argparse
import ctypes
import ctypes.util
import datetime
import ipaddress
import json
import random
import struct
import sys


class GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int),
                ("message", ctypes.c_char_p)]


class Spec(ctypes.Structure):  # fbInfoElementSpec_t
    _fields_ = [("name", ctypes.c_char_p), ("len_override", ctypes.c_uint16),
                ("flags", ctypes.c_uint32)]


class Varfield(ctypes.Structure):  # fbVarfield_t
    _fields_ = [("len", ctypes.c_size_t), ("buf", ctypes.c_void_p)]


VARLEN = 65535

# (name, internal size, external size (0 = model default), struct code)
# The internal record is a packed, native-endian struct in this field order.
FLOW4 = [
    ("flowStartMilliseconds", 8, 0, "Q"),
    ("flowEndMilliseconds", 8, 0, "Q"),
    ("octetDeltaCount", 8, 4, "Q"),        # reduced-size encoding on the wire
    ("packetDeltaCount", 8, 4, "Q"),       # reduced-size encoding on the wire
    ("sourceIPv4Address", 4, 0, "I"),
    ("destinationIPv4Address", 4, 0, "I"),
    ("ingressInterface", 4, 0, "I"),
    ("egressInterface", 4, 0, "I"),
    ("sourceTransportPort", 2, 0, "H"),
    ("destinationTransportPort", 2, 0, "H"),
    ("tcpControlBits", 2, 0, "H"),
    ("vlanId", 2, 0, "H"),
    ("protocolIdentifier", 1, 0, "B"),
    ("ipClassOfService", 1, 0, "B"),
    ("flowEndReason", 1, 0, "B"),
]
FLOW6 = [
    ("flowStartMilliseconds", 8, 0, "Q"),
    ("flowEndMilliseconds", 8, 0, "Q"),
    ("octetDeltaCount", 8, 0, "Q"),
    ("packetDeltaCount", 8, 0, "Q"),
    ("sourceIPv6Address", 16, 0, "16s"),
    ("destinationIPv6Address", 16, 0, "16s"),
    ("ingressInterface", 4, 0, "I"),
    ("flowLabelIPv6", 4, 0, "I"),
    ("sourceTransportPort", 2, 0, "H"),
    ("destinationTransportPort", 2, 0, "H"),
    ("tcpControlBits", 2, 0, "H"),
    ("protocolIdentifier", 1, 0, "B"),
    ("flowEndReason", 1, 0, "B"),
    ("sourceMacAddress", 6, 0, "6s"),
    ("destinationMacAddress", 6, 0, "6s"),
]
# Options template: scope ingressInterface; strings are variable-length.
IFOPT = [
    ("ingressInterface", 4, 0, "I"),
    ("pad", 4, None, "4x"),                 # align the fbVarfield_t structs
    ("interfaceName", VARLEN, VARLEN, "V"),         # in memory: fbVarfield_t
    ("interfaceDescription", VARLEN, VARLEN, "V"),
]
# More abstract data types: dateTimeSeconds/Microseconds/Nanoseconds, float64,
# reverse (PEN 29305) element, variable-length
# octetArray and string (some longer than 254 bytes: 3-byte length prefix),
# IPv6, signed32 (reduced to 2 bytes), MAC, boolean.
TYPES = [
    ("flowStartMicroseconds", 8, 0, "Q"),      # in memory: NTP format
    ("flowEndNanoseconds", 8, 0, "Q"),
    ("samplingProbability", 8, 0, "d"),
    # (not reduced to 4 bytes: libfixbuf 2.4.1 then writes the low half of the
    # big-endian double, i.e. zeros for most values)
    ("absoluteError", 8, 0, "d"),
    ("reverseOctetDeltaCount", 8, 0, "Q"),
    ("ipHeaderPacketSection", VARLEN, VARLEN, "V"),
    ("applicationName", VARLEN, VARLEN, "V"),
    ("ipNextHopIPv6Address", 16, 0, "16s"),
    ("flowStartSeconds", 4, 0, "I"),
    ("sourceIPv4Prefix", 4, 0, "I"),
    ("mibObjectValueInteger", 4, 2, "i"),       # signed32 sent as 2 bytes
    ("fragmentOffset", 2, 0, "H"),
    ("dot1qCustomerSourceMacAddress", 6, 0, "6s"),
    ("minimumTTL", 1, 0, "B"),
    ("dataRecordsReliability", 1, 0, "B"),      # boolean: 1 true, 2 false
]
TID4, TID6, TIDOPT, TIDTYPES = 256, 257, 258, 259
NTP_OFFSET = 2208988800


def iso_frac(sec, frac, digits):
    t = datetime.datetime.fromtimestamp(sec, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ("." + str(frac).zfill(digits) if digits else "") + "Z"


def ntp(sec, frac_units, per_second, mask=0):
    """NTP timestamp whose fraction decodes (floor or round) to frac_units."""
    f = -(-frac_units * (1 << 32) // per_second)   # ceil
    if mask:
        f = (f + mask) & ~mask                     # RFC 7011 §6.1.9: low 11 bits ignored
    return ((sec + NTP_OFFSET) << 32) | f


def iso_ms(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def mac(b):
    return ":".join("%02x" % x for x in b)


class Fixbuf:
    def __init__(self):
        # libfixbuf.so.9 is not linked against GLib (its programs are): load
        # GLib first, globally, so that its symbols resolve.
        ctypes.CDLL(ctypes.util.find_library("glib-2.0") or "libglib-2.0.so.0",
                    mode=ctypes.RTLD_GLOBAL)
        name = ctypes.util.find_library("fixbuf") or "libfixbuf.so.9"
        self.lib = lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        vp = ctypes.c_void_p
        perr = ctypes.POINTER(ctypes.POINTER(GError))
        sig = {
            "fbInfoModelAlloc": (vp, []),
            "fbSessionAlloc": (vp, [vp]),
            "fbSessionSetDomain": (None, [vp, ctypes.c_uint32]),
            "fbExporterAllocFile": (vp, [ctypes.c_char_p]),
            "fBufAllocForExport": (vp, [vp, vp]),
            "fbTemplateAlloc": (vp, [vp]),
            "fbTemplateAppendSpecArray": (ctypes.c_int, [vp, ctypes.POINTER(Spec), ctypes.c_uint32, perr]),
            "fbTemplateSetOptionsScope": (None, [vp, ctypes.c_uint16]),
            "fbSessionAddTemplate": (ctypes.c_uint16, [vp, ctypes.c_int, ctypes.c_uint16, vp, perr]),
            "fBufSetInternalTemplate": (ctypes.c_int, [vp, ctypes.c_uint16, perr]),
            "fBufSetExportTemplate": (ctypes.c_int, [vp, ctypes.c_uint16, perr]),
            "fBufAppend": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t, perr]),
            "fBufEmit": (ctypes.c_int, [vp, perr]),
            "fBufFree": (None, [vp]),
        }
        for fn, (res, args) in sig.items():
            f = getattr(lib, fn)
            f.restype = res
            f.argtypes = args

    def call(self, fn, *args):
        err = ctypes.POINTER(GError)()
        ok = getattr(self.lib, fn)(*args, ctypes.byref(err))
        if not ok:
            msg = err.contents.message.decode() if err else "unknown error"
            raise RuntimeError("%s: %s" % (fn, msg))
        return ok


def specs(fields, internal):
    arr = (Spec * (len(fields) + 1))()
    i = 0
    for name, isize, esize, _ in fields:
        if name == "pad":
            if not internal:
                continue
            arr[i] = Spec(b"paddingOctets", isize, 0)
        else:
            arr[i] = Spec(name.encode(), isize if internal else esize, 0)
        i += 1
    arr[i] = Spec(None, 0, 0)
    return arr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--odid", type=int, default=7)
    ap.add_argument("-w", required=True)
    ap.add_argument("--expect", required=True)
    a = ap.parse_args()
    try:
        fb = Fixbuf()
    except OSError as e:
        print("interop_fixbuf_write: cannot load libfixbuf: %s" % e, file=sys.stderr)
        return 77
    lib = fb.lib
    rnd = random.Random(a.seed)

    model = lib.fbInfoModelAlloc()
    session = lib.fbSessionAlloc(model)
    lib.fbSessionSetDomain(session, a.odid)
    exporter = lib.fbExporterAllocFile(a.w.encode())
    fbuf = lib.fBufAllocForExport(session, exporter)
    keep = []
    for tid, fields, scope in ((TID4, FLOW4, 0), (TID6, FLOW6, 0), (TIDOPT, IFOPT, 1),
                               (TIDTYPES, TYPES, 0)):
        for internal in (True, False):
            t = lib.fbTemplateAlloc(model)
            sp = specs(fields, internal)
            keep.append(sp)
            fb.call("fbTemplateAppendSpecArray", t, sp, 0)
            if scope:
                lib.fbTemplateSetOptionsScope(t, scope)
            # internal and external templates live in separate tables
            fb.call("fbSessionAddTemplate", session, 1 if internal else 0, tid, t)
    base_s = 1763816700  # 2025-11-22T13:05:00Z
    # (adding an external template to a session that has an export buffer
    # already writes it to that buffer: no fbSessionExportTemplates needed)

    out = open(a.expect, "w")

    def emit(tid, fields, values):
        fb.call("fBufSetInternalTemplate", fbuf, tid)
        fb.call("fBufSetExportTemplate", fbuf, tid)
        fmt = "="
        packed = []
        for name, _, _, code in fields:
            if code == "4x":
                fmt += "4x"
                continue
            v = values[name]
            if code == "V":
                raw = v if isinstance(v, bytes) else v.encode()
                b = ctypes.create_string_buffer(raw, max(len(raw), 1))
                keep.append(b)
                vf = Varfield(len(raw), ctypes.cast(b, ctypes.c_void_p))
                fmt += "%ds" % ctypes.sizeof(Varfield)
                packed.append(bytes(vf))
            else:
                fmt += code
                packed.append(v)
        rec = struct.pack(fmt, *packed)
        fb.call("fBufAppend", fbuf, rec, len(rec))

    # interface options records first (like an exporter announcing its interfaces)
    for ifidx in range(1, 4):
        v = {"ingressInterface": ifidx, "interfaceName": "eth%d" % (ifidx - 1),
             "interfaceDescription": "uplink port %d \u00e9t\u00e9" % ifidx}
        emit(TIDOPT, IFOPT, v)
        out.write(json.dumps(v, ensure_ascii=False) + "\n")

    def emit_types(start_ms):
        sec = start_ms // 1000
        us = rnd.randrange(0, 1000000)
        ns = rnd.randrange(0, 1000000000)
        prob = rnd.randrange(1, 1 << 30) / (1 << 30)
        aerr = rnd.randrange(0, 40000) / 8          # exact in float32, short decimal
        hdr = bytes(rnd.randrange(256) for _ in range(rnd.choice([1, 20, 40, 254, 255, 300])))
        app = rnd.choice(["http", "dns", "caf\u00e9", "\u65e5\u672c\u8a9e", "a" * 254, "b" * 255, "x" * 400])
        nh = ipaddress.IPv6Address((0xfe800000 << 96) | rnd.getrandbits(64))
        pfx = ipaddress.IPv4Address(rnd.getrandbits(24) << 8)
        mib = rnd.randrange(-32768, 32768)
        mac6 = bytes([0x0a] + [rnd.randrange(256) for _ in range(5)])
        rel = rnd.choice([1, 2])
        v = {"flowStartMicroseconds": ntp(sec, us, 1000000, 0x7FF),
             "flowEndNanoseconds": ntp(sec + 1, ns, 1000000000),
             "samplingProbability": prob, "absoluteError": aerr,
             "reverseOctetDeltaCount": rnd.getrandbits(64),
             "ipHeaderPacketSection": hdr, "applicationName": app,
             "ipNextHopIPv6Address": nh.packed, "flowStartSeconds": sec,
             "sourceIPv4Prefix": int(pfx), "mibObjectValueInteger": mib,
             "fragmentOffset": rnd.randrange(0, 8192), "dot1qCustomerSourceMacAddress": mac6,
             "minimumTTL": rnd.randrange(1, 256), "dataRecordsReliability": rel}
        emit(TIDTYPES, TYPES, v)
        v["flowStartMicroseconds"] = iso_frac(sec, us, 6)
        v["flowEndNanoseconds"] = iso_frac(sec + 1, ns, 9)
        v["ipHeaderPacketSection"] = "0x" + hdr.hex()
        v["ipNextHopIPv6Address"] = str(nh)
        v["flowStartSeconds"] = iso_frac(sec, 0, 0)
        v["sourceIPv4Prefix"] = str(pfx)
        v["dot1qCustomerSourceMacAddress"] = mac(mac6)
        v["dataRecordsReliability"] = (rel == 1)
        out.write(json.dumps(v, ensure_ascii=False) + "\n")

    protos = [(6, 0.6), (17, 0.3), (1, 0.05), (58, 0.05)]
    for i in range(a.n):
        start = (base_s * 1000) + rnd.randrange(0, 300000)
        end = start + rnd.randrange(0, 60000)
        proto = rnd.choices([p for p, _ in protos], [w for _, w in protos])[0]
        flags = rnd.choice([0x02, 0x12, 0x18, 0x19, 0x11, 0x04, 0x1b]) if proto == 6 else 0
        pkts = rnd.randrange(1, 5000)
        octets = pkts * rnd.randrange(40, 1500)
        v6 = (i % 4 == 3)
        sport = rnd.randrange(1024, 65536) if proto in (6, 17) else 0
        dport = rnd.choice([53, 80, 443, 4739, 8080]) if proto in (6, 17) else (0x0800 if proto == 1 else 0x8000)
        reason = rnd.choice([1, 2, 3, 4, 5])
        if not v6:
            src = ipaddress.IPv4Address(0x0a000000 | rnd.randrange(1, 1 << 16))
            dst = ipaddress.IPv4Address(rnd.choice([0xc0000200, 0xc6336400, 0xcb007100]) | rnd.randrange(1, 255))
            v = {"flowStartMilliseconds": start, "flowEndMilliseconds": end,
                 "octetDeltaCount": octets % (1 << 32), "packetDeltaCount": pkts,
                 "sourceIPv4Address": int(src), "destinationIPv4Address": int(dst),
                 "ingressInterface": rnd.randrange(1, 4), "egressInterface": rnd.randrange(1, 4),
                 "sourceTransportPort": sport, "destinationTransportPort": dport,
                 "tcpControlBits": flags, "vlanId": rnd.randrange(0, 4095),
                 "protocolIdentifier": proto, "ipClassOfService": rnd.choice([0, 0, 0x28, 0xb8]),
                 "flowEndReason": reason}
            emit(TID4, FLOW4, v)
            v["sourceIPv4Address"] = str(src)
            v["destinationIPv4Address"] = str(dst)
        else:
            if proto == 1:
                proto = 58
            src = ipaddress.IPv6Address((0x20010db8 << 96) | rnd.getrandbits(64))
            dst = ipaddress.IPv6Address((0x2a000000 << 96) | rnd.getrandbits(80))
            smac = bytes([0x02, 0, 0x5e] + [rnd.randrange(256) for _ in range(3)])
            dmac = bytes([0x00, 0x1b, 0x21] + [rnd.randrange(256) for _ in range(3)])
            v = {"flowStartMilliseconds": start, "flowEndMilliseconds": end,
                 "octetDeltaCount": octets * 1000003, "packetDeltaCount": pkts,
                 "sourceIPv6Address": src.packed, "destinationIPv6Address": dst.packed,
                 "ingressInterface": rnd.randrange(1, 4), "flowLabelIPv6": rnd.randrange(0, 1 << 20),
                 "sourceTransportPort": sport, "destinationTransportPort": dport,
                 "tcpControlBits": flags if proto == 6 else 0,
                 "protocolIdentifier": proto, "flowEndReason": reason,
                 "sourceMacAddress": smac, "destinationMacAddress": dmac}
            emit(TID6, FLOW6, v)
            v["sourceIPv6Address"] = str(src)
            v["destinationIPv6Address"] = str(dst)
            v["sourceMacAddress"] = mac(smac)
            v["destinationMacAddress"] = mac(dmac)
        v["flowStartMilliseconds"] = iso_ms(v["flowStartMilliseconds"])
        v["flowEndMilliseconds"] = iso_ms(v["flowEndMilliseconds"])
        out.write(json.dumps(v) + "\n")
        if i % 10 == 5:
            emit_types(start)
    fb.call("fBufEmit", fbuf)
    lib.fBufFree(fbuf)  # also frees the session and closes the exporter (file)
    out.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print("interop_fixbuf_write: libfixbuf error: %s" % e, file=sys.stderr)
        sys.exit(1)
