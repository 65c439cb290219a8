#!/usr/bin/env python3
"""Compare `ipfix dump --json` with tshark's IPFIX (cflow) decode (stdlib only).

  interop_compare_tshark.py [--data DIR] IPFIX.jsonl TSHARK.pdml [--summary]

TSHARK.pdml is `tshark -r CAP -d udp.port==N,cflow -T pdml` (or tcp.port).
Checks, in this order:
  1. tshark reported no malformed packet (_ws.malformed) and no expert info
     of severity warning or error (_ws.expert);
  2. tshark and ipfix dump see the same number of data records (options
     records included), in the same order;
  3. for every record and every field: tshark's field bytes (delimited by
     tshark's own template parsing) equal ipfix dump's value encoded back
     per the element's IANA type, and for the core fields (addresses, ports,
     protocol, octet/packet counts, flow start/end timestamps) tshark's
     displayed value equals ipfix dump's value.
--allow-expert REGEX tolerates expert warnings whose text matches.
--summary [N] prints one line per flow record (the first N) (addresses, ports, protocol,
packets, octets) as tshark decoded it.
Exit 0 when identical, 1 on a difference (printed with record number,
field, both values), 2 on bad input.
"""
import argparse
import datetime
import ipaddress
import json
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_ipfixdump import (ISO_RE, element_key, element_type, load_infomodel,  # noqa: E402
                               read_ipfix_jsonl, ts_parts)

PI_WARN = 0x00600000
NTP_OFFSET = 2208988800

# tshark fields whose *displayed* value is compared too (interpretation check)
SHOW_FIELDS = {
    "cflow.srcaddr": "ip", "cflow.dstaddr": "ip", "cflow.srcaddrv6": "ip", "cflow.dstaddrv6": "ip",
    "cflow.srcport": "int", "cflow.dstport": "int", "cflow.protocol": "int",
    "cflow.octets": "int", "cflow.packets": "int",
    "cflow.abstimestart": "time", "cflow.abstimeend": "time",
}


class Field:
    def __init__(self, name, pos, size, show, value):
        self.name, self.pos, self.size, self.show, self.value = name, pos, size, show, value
        self.iana_type = None


def walk_fields(node, out):
    """Leaf-most named cflow fields with bytes, in document order (a named
    field with size > 0 is taken whole; zero-size or unnamed wrappers are
    descended into)."""
    for ch in node:
        if ch.tag != "field":
            continue
        name = ch.get("name", "")
        size = int(ch.get("size", "0") or 0)
        if name.startswith("cflow.") and size > 0 and name != "cflow.padding":
            out.append(Field(name, int(ch.get("pos", "0")), size, ch.get("show", ""),
                             ch.get("value", "")))
        elif name.startswith("_ws."):
            continue
        else:
            walk_fields(ch, out)


def parse_pdml(path):
    """Returns (records, problems). Record: {"tid", "fields": [Field], "tmpl": [(pen,id,len)]|None,
    "frame"}."""
    problems = []
    records = []
    templates = {}
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise SystemExit("interop_compare_tshark: %s: bad PDML (%s)" % (path, e))
    for pkt in root.iter("packet"):
        frame = None
        for proto in pkt.findall("proto"):
            if proto.get("name") == "frame":
                for f in proto.iter("field"):
                    if f.get("name") == "frame.number":
                        frame = int(f.get("show"))
                        break
        for el in pkt.iter():
            n = el.get("name", "")
            if n == "_ws.malformed" or (el.tag == "proto" and n == "_ws.malformed"):
                problems.append("frame %s: malformed packet: %s" % (frame, el.get("showname", n)))
            if n == "_ws.expert":
                sev = None
                msg = el.get("showname", "")
                for c in el.iter("field"):
                    if c.get("name") == "_ws.expert.severity":
                        sev = int(c.get("show", "0"), 0)
                    if c.get("name") == "_ws.expert.message":
                        msg = c.get("show", msg)
                if sev is not None and sev >= PI_WARN:
                    problems.append("frame %s: expert %s: %s"
                                    % (frame, "error" if sev >= 0x00800000 else "warning", msg))
        for proto in pkt.findall("proto"):
            if proto.get("name") != "cflow":
                continue
            odid = None
            for f in proto.findall("field"):
                if f.get("name") == "cflow.od_id":
                    odid = int(f.get("show"))
            for s in proto.findall("field"):
                show = s.get("show", "")
                if not show.startswith("Set "):
                    continue
                fsid = None
                for c in s.findall("field"):
                    if c.get("name") == "cflow.flowset_id":
                        fsid = int(c.get("show"))
                if fsid in (2, 3):
                    for t in s.findall("field"):
                        tshow = t.get("show", "")
                        if not (tshow.startswith("Template (") or tshow.startswith("Options Template (")):
                            continue
                        tid = None
                        fields = []
                        for c in t.findall("field"):
                            if c.get("name") == "cflow.template_id":
                                tid = int(c.get("show"))
                            elif c.get("show", "").startswith("Field ("):
                                pen, eid, flen = 0, None, None
                                for d in c.iter("field"):
                                    dn = d.get("name")
                                    if dn == "cflow.template_ipfix_field_type" or \
                                            dn == "cflow.template_ipfix_field_type_enterprise":
                                        eid = int(d.get("show"))
                                    elif dn == "cflow.template_field_length":
                                        flen = int(d.get("show"))
                                    elif dn == "cflow.template_ipfix_field_pen":
                                        pen = int(d.get("show"))
                                    elif dn and dn.startswith("cflow.template_") and dn.endswith("_field_type") \
                                            and eid is None:
                                        eid = int(d.get("show"))
                                fields.append((pen, eid, flen))
                        if tid is not None:
                            templates[tid] = fields
                elif fsid is not None and fsid >= 256:
                    for fl in s.findall("field"):
                        if not fl.get("show", "").startswith("Flow "):
                            continue
                        fields = []
                        walk_fields(fl, fields)
                        # tshark lists some fields out of wire order (e.g. the
                        # timestamps last): put them back in wire order
                        fields.sort(key=lambda f: f.pos)
                        records.append({"tid": fsid, "odid": odid, "fields": fields, "frame": frame,
                                        "tmpl": templates.get(fsid)})
    return records, problems


def hexbytes(v):
    try:
        return bytes.fromhex(v)
    except ValueError:
        return None


def iso_parts(s):
    return ts_parts(s, ISO_RE)


def expected_bytes(jv, typ, raw):
    """Compare JSON value with raw field bytes; returns None if equal, else a
    description of what tshark's bytes mean."""
    n = len(raw)
    if typ in ("unsigned8", "unsigned16", "unsigned32", "unsigned64"):
        got = int.from_bytes(raw, "big")
        return None if (isinstance(jv, int) and not isinstance(jv, bool) and got == jv) else str(got)
    if typ in ("signed8", "signed16", "signed32", "signed64"):
        got = int.from_bytes(raw, "big", signed=True)
        return None if (isinstance(jv, int) and got == jv) else str(got)
    if typ == "boolean":
        got = {1: True, 2: False}.get(raw[0] if raw else None, raw.hex())
        return None if got is jv else str(got)
    if typ == "float32" or typ == "float64":
        got = struct.unpack("!f" if n == 4 else "!d", raw)[0]
        want = jv if not isinstance(jv, str) else float(jv.replace("Infinity", "inf"))
        if got == want or (got != got and want != want):
            return None
        return repr(got)
    if typ == "ipv4Address":
        got = str(ipaddress.IPv4Address(raw))
        return None if got == jv else got
    if typ == "ipv6Address":
        got = ipaddress.IPv6Address(raw)
        try:
            return None if got == ipaddress.IPv6Address(jv) else str(got)
        except ValueError:
            return str(got)
    if typ == "macAddress":
        got = ":".join("%02x" % b for b in raw)
        return None if got == str(jv).lower() else got
    if typ == "string":
        got = raw.decode("utf-8", "replace")
        return None if got == jv else json.dumps(got, ensure_ascii=False)
    if typ in ("octetArray", "unsigned256"):
        got = "0x" + raw.hex()
        return None if got == str(jv).lower() else got
    if typ in ("dateTimeSeconds", "dateTimeMilliseconds", "dateTimeMicroseconds", "dateTimeNanoseconds"):
        p = iso_parts(str(jv))
        if typ == "dateTimeSeconds":
            got = int.from_bytes(raw, "big")
            return None if p and p[0] == got and p[1] == 0 else "epoch %d s" % got
        if typ == "dateTimeMilliseconds":
            got = int.from_bytes(raw, "big")
            return None if p and p[0] * 1000 + p[1] // 1000000 == got else "epoch %d ms" % got
        sec = int.from_bytes(raw[:4], "big") - NTP_OFFSET
        frac = int.from_bytes(raw[4:8], "big")
        if typ == "dateTimeMicroseconds":
            frac &= ~0x7FF
        ns = (frac * 1000000000) >> 32
        if p and p[0] == sec and abs(p[1] - ns) <= (1000 if typ == "dateTimeMicroseconds" else 1):
            return None
        return "NTP %d.%09d" % (sec, ns)
    return "uncompared"


def parse_tshark_time(s):
    """'Nov 22, 2025 13:06:10.445000000 UTC' -> (epoch seconds, ns) or None."""
    try:
        d, frac = s.rsplit(" ", 1)[0].rsplit(".", 1)
        t = datetime.datetime.strptime(d, "%b %d, %Y %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        return int(t.timestamp()), int((frac + "000000000")[:9])
    except ValueError:
        return None


def check_time_show(show, jv, typ):
    """For timestamps whose bytes tshark does not expose whole (it shows only
    the seconds word of NTP timestamps): compare the displayed time."""
    got = parse_tshark_time(show)
    p = iso_parts(str(jv))
    if got is None or p is None:
        return show
    tol = {"dateTimeMicroseconds": 1000, "dateTimeNanoseconds": 1}.get(typ, 0)
    return None if got[0] == p[0] and abs(got[1] - p[1]) <= tol else show


def check_show(f, jv):
    kind = SHOW_FIELDS.get(f.name)
    if kind is None:
        return None
    s = f.show
    if kind == "int":
        return None if str(jv) == s else s
    if kind == "ip":
        try:
            return None if ipaddress.ip_address(s) == ipaddress.ip_address(jv) else s
        except ValueError:
            return s
    if kind == "time":
        got = parse_tshark_time(s)
        p = iso_parts(str(jv))
        if got is None or p is None:
            return s
        # tshark computes micro/nanosecond fractions from the NTP fraction
        # without RFC 7011's truncation: allow what the precision allows
        typ = f.iana_type or ""
        tol = {"dateTimeMicroseconds": 1000, "dateTimeNanoseconds": 1}.get(typ, 0)
        return None if got[0] == p[0] and abs(got[1] - p[1]) <= tol else s
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("ipfix_jsonl")
    ap.add_argument("pdml")
    ap.add_argument("--data", default=os.path.join(here, "..", "data"))
    ap.add_argument("--max-diffs", type=int, default=20)
    ap.add_argument("--summary", type=int, nargs="?", const=12, default=0, metavar="N",
                    help="print tshark's decode of the first N flow records (default 12)")
    ap.add_argument("--label", default="")
    ap.add_argument("--allow-expert", metavar="REGEX", action="append", default=[],
                    help="tolerate expert warnings whose message matches (reported as notes)")
    a = ap.parse_args()
    label = (a.label + ": ") if a.label else ""
    model = load_infomodel(a.data)
    jmeta = []
    jrecs = read_ipfix_jsonl(a.ipfix_jsonl, jmeta)
    trecs, problems = parse_pdml(a.pdml)
    diffs = []
    notes = {}
    for p in problems:
        if any(re.search(rx, p) for rx in a.allow_expert):
            notes["tolerated tshark " + p] = 1
        else:
            diffs.append("tshark: " + p)
    if len(jrecs) != len(trecs):
        diffs.append("record count differs: ipfix dump has %d data records, tshark %d"
                     % (len(jrecs), len(trecs)))
    nvalues = nshow = 0
    for i, (jr, tr) in enumerate(zip(jrecs, trecs), 1):
        where = "record %d (frame %s, template %d)" % (i, tr["frame"], tr["tid"])
        tmpl = tr["tmpl"]
        fields = tr["fields"]
        m = jmeta[i - 1]
        if m is not None and (m[0], m[1]) != (tr["odid"], tr["tid"]):
            diffs.append("%s: ipfix dump says odid %s template %s, tshark odid %s template %s"
                         % (where, m[0], m[1], tr["odid"], tr["tid"]))
        if tmpl is None:
            diffs.append("%s: tshark has no template for it" % where)
            continue
        if len(fields) != len(tmpl):
            diffs.append("%s: tshark shows %d fields, its template has %d (%s)"
                         % (where, len(fields), len(tmpl), ",".join(f.name for f in fields)))
            continue
        seen = {}
        tkeys = []
        for (pen, eid, flen), f in zip(tmpl, fields):
            k = element_key(model, pen, eid)
            seen[k] = seen.get(k, 0) + 1
            if seen[k] > 1:
                k = "%s#%d" % (k, seen[k])
            tkeys.append(k)
            raw = hexbytes(f.value)
            if raw is None or len(raw) != f.size:
                diffs.append("%s: field %s: tshark field %s has no raw value" % (where, k, f.name))
                continue
            if k not in jr:
                diffs.append("%s: field %s (tshark %s=%s) missing in ipfix dump" % (where, k, f.name, f.show))
                continue
            typ = element_type(model, k) or ("octetArray" if pen not in (0, 29305) else None)
            jv = jr[k]
            if typ in ("basicList", "subTemplateList", "subTemplateMultiList"):
                notes["structured fields not compared"] = notes.get("structured fields not compared", 0) + 1
                continue
            if pen == 0 and eid == 210:
                continue
            f.iana_type = typ
            full = {"dateTimeSeconds": 4, "dateTimeMilliseconds": 8, "dateTimeMicroseconds": 8,
                    "dateTimeNanoseconds": 8}.get(typ)
            if full and len(raw) != full:
                # tshark shows only the seconds word of NTP timestamps
                nvalues += 1
                r = check_time_show(f.show, jv, typ)
                if r is not None:
                    diffs.append("%s: field %s: ipfix dump %s, tshark shows %s=%r"
                                 % (where, k, json.dumps(jv), f.name, r))
                continue
            try:
                r = expected_bytes(jv, typ, raw)
            except (ValueError, TypeError, struct.error) as e:
                r = "cannot interpret %d bytes as %s: %s" % (len(raw), typ, e)
            nvalues += 1
            if r is not None:
                diffs.append("%s: field %s: ipfix dump %s, tshark bytes %s (%s, shown as %r)"
                             % (where, k, json.dumps(jv, ensure_ascii=False), raw.hex(), r, f.show))
                continue
            s = check_show(f, jv)
            if f.name in SHOW_FIELDS:
                nshow += 1
            if s is not None:
                diffs.append("%s: field %s: ipfix dump %s, tshark shows %s=%r"
                             % (where, k, json.dumps(jv, ensure_ascii=False), f.name, s))
        for k in jr:
            if k not in tkeys:
                diffs.append("%s: field %s in ipfix dump (%s) but not in tshark's record"
                             % (where, k, json.dumps(jr[k], ensure_ascii=False)))
        if len(diffs) > a.max_diffs:
            break
    if a.summary:
        flows = [(i, tr) for i, tr in enumerate(trecs, 1)
                 if any(f.name in ("cflow.octets", "cflow.packets") for f in tr["fields"])]
        print("%stshark's decode of the flow records (%d; first %d shown):"
              % (label, len(flows), min(a.summary, len(flows))))
        for i, tr in flows[:a.summary]:
            d = {f.name: f.show for f in tr["fields"]}
            if True:
                print("%s  %3d  %-5s %s:%s -> %s:%s  packets=%s octets=%s" % (
                    label, i, d.get("cflow.protocol", "?"),
                    d.get("cflow.srcaddr", d.get("cflow.srcaddrv6", "?")), d.get("cflow.srcport", "-"),
                    d.get("cflow.dstaddr", d.get("cflow.dstaddrv6", "?")), d.get("cflow.dstport", "-"),
                    d.get("cflow.packets", "?"), d.get("cflow.octets", "?")))
    for d in diffs[:a.max_diffs]:
        print("%sDIFF %s" % (label, d))
    if len(diffs) > a.max_diffs:
        print("%s... more differences not shown" % label)
    for n, c in notes.items():
        print("%snote: %s" % (label, n) + (" (%d)" % c if c > 1 else ""))
    if diffs:
        print("%sFAIL: ipfix dump and tshark differ (%d/%d records, %d values compared)"
              % (label, len(jrecs), len(trecs), nvalues))
        return 1
    tolerated = sum(1 for n in notes if n.startswith("tolerated"))
    print("%sOK: %d records, %d field values identical to tshark's bytes, %d also to its displayed "
          "values; no malformed packets, no expert warnings%s"
          % (label, len(jrecs), nvalues, nshow, " (%d tolerated)" % tolerated if tolerated else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
