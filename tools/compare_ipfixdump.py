#!/usr/bin/env python3
"""Compare `ipfix dump --json` output with libfixbuf's `ipfixDump` text output,
or with a JSON Lines file of expected records (stdlib only).

  compare_ipfixdump.py [--data DIR] IPFIX.jsonl --ipfixdump DUMP.txt
  compare_ipfixdump.py [--data DIR] IPFIX.jsonl --expect EXPECTED.jsonl

IPFIX.jsonl is what `ipfix dump --json` printed: one object per line,
{"record":{...}} / {"options":{...}} for data records (templates and
withdrawals are ignored). DUMP.txt is what `ipfixDump -i FILE --hexdump`
printed. EXPECTED.jsonl holds one flat {name: value} object per data record.

Records are compared in order, field by field: the two sides must have the
same number of data records, each record the same set of fields (keyed by
IANA name; ipfixDump's numeric element IDs are mapped to names with the IANA
registry in DIR, default: ../data next to this script) and equal values after
normalising the two renderings (IPv6 compression, timestamp formats,
booleans, octetArray display). Structured-data fields (lists) are not
compared against ipfixDump (only their presence).

Exit 0 when everything matches, 1 on any difference (each printed, up to
--max-diffs, with record number, field, both values), 2 on bad input.
"""
import argparse
import csv
import datetime
import ipaddress
import json
import math
import os
import re
import sys

REVERSE_PEN = 29305


def load_infomodel(data_dir):
    """{element id: (name, type)} for the IANA registry."""
    path = os.path.join(data_dir, "iana-ipfix-information-elements.csv")
    model = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                eid = int(row["ElementID"])
            except ValueError:
                continue
            name = row["Name"].strip()
            if name and row["Abstract Data Type"].strip():
                model[eid] = (name, row["Abstract Data Type"].strip())
    return model


def element_key(model, pen, eid):
    """The key `ipfix dump --json` uses for element (pen, eid)."""
    if pen == 0 and eid in model:
        return model[eid][0]
    if pen == REVERSE_PEN and eid in model:
        n = model[eid][0]
        return "reverse" + n[0].upper() + n[1:]
    return "%d:%d" % (pen, eid)


def element_type(model, key):
    """IANA abstract type for a JSON key (None when unknown)."""
    return model_types(model).get(key.split("#")[0])


_types_cache = {}


def model_types(model):
    t = _types_cache.get(id(model))
    if t is None:
        t = {}
        for eid, (name, typ) in model.items():
            t[name] = typ
            t["reverse" + name[0].upper() + name[1:]] = typ
        _types_cache[id(model)] = t
    return t


def read_ipfix_jsonl(path, meta=None):
    """Data records (options records included) of `ipfix dump --json`, in order.
    If `meta` is a list, (odid, templateId) of each record is appended to it
    (None for flat expected records)."""
    recs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise SystemExit("compare: %s:%d: not JSON (%s): %.120s" % (path, n, e, line))
            if "record" in obj or "options" in obj:
                recs.append(obj["record"] if "record" in obj else obj["options"])
                if meta is not None:
                    meta.append((obj.get("odid"), obj.get("templateId")))
            elif any(k in obj for k in ("template", "withdrawal")):
                continue
            else:
                recs.append(obj)  # flat expected-record format
                if meta is not None:
                    meta.append(None)
    return recs


# ---------------------------------------------------------------- ipfixDump
MSG_RE = re.compile(r"observation domain id: (\d+)")
TMPL_RE = re.compile(r"^\s+tid:\s+(\d+)")
TFIELD_RE = re.compile(r"^\s+ent:\s+(\d+)\s+id:\s+(\d+)\s+type:\s+(\S+)\s+len:\s+(\d+)")
REC_RE = re.compile(r"^--- data record (\d+) ---$")
RHDR_RE = re.compile(r"^\s+count:\s+(\d+)\s+tid:\s+(\d+)")
FIELD_RE = re.compile(r"^\t\((?:(\d+)/)?(\d+)\)(?: \(S\))?\s+(\S+) : ?(.*)$")
STATS_RE = re.compile(r"\*\*\* File Stats: (\d+) Messages, (\d+) Data Records, (\d+) Template Records")


def parse_ipfixdump(path):
    """Returns (records, stats). Each record: {"tid", "odid", "fields": [(pen, id, fbtype, len, text, nested)]}."""
    templates = {}
    records = []
    stats = None
    odid = 0
    cur_tmpl = None
    rec = None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    for line in lines:
        m = STATS_RE.search(line)
        if m:
            stats = tuple(int(x) for x in m.groups())
            rec = None
            continue
        if line.startswith("--- Message Header"):
            rec, cur_tmpl = None, None
            continue
        m = MSG_RE.search(line)
        if m and rec is None:
            odid = int(m.group(1))
            continue
        if line.startswith("--- template record") or line.startswith("--- options template record"):
            rec, cur_tmpl = None, []
            continue
        if cur_tmpl is not None:
            m = TMPL_RE.match(line)
            if m:
                templates[(odid, int(m.group(1)))] = cur_tmpl
                continue
            m = TFIELD_RE.match(line)
            if m:
                cur_tmpl.append((int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))))
                continue
        m = REC_RE.match(line)
        if m:
            cur_tmpl = None
            rec = {"tid": None, "odid": odid, "fields": []}
            records.append(rec)
            continue
        if rec is None:
            continue
        m = RHDR_RE.match(line)
        if m and rec["tid"] is None:
            rec["tid"] = int(m.group(2))
            continue
        m = FIELD_RE.match(line)
        if m:
            pen = int(m.group(1) or 0)
            rec["fields"].append([pen, int(m.group(2)), m.group(3), m.group(4), False])
            continue
        if line.startswith("*** Msg Stats") or line.startswith("header:") or line.startswith("fields:"):
            continue
        if rec["fields"]:
            last = rec["fields"][-1]
            if line.startswith("\t\t") or line.strip().startswith("+++"):
                last[4] = True        # nested list content
            elif line == "" and last[4]:
                pass
            elif line.startswith("\t") and not last[4]:
                # continuation of a multi-line string value
                last[3] += "\n" + line
            elif line:
                last[3] += "\n" + line
    # attach field types from the templates
    for r in records:
        tmpl = templates.get((r["odid"], r["tid"]))
        out = []
        for i, (pen, eid, name, text, nested) in enumerate(r["fields"]):
            fbtype, flen = None, None
            if tmpl and i < len(tmpl) and tmpl[i][0] == pen and tmpl[i][1] == eid:
                fbtype, flen = tmpl[i][2], tmpl[i][3]
            out.append((pen, eid, fbtype, flen, text, nested))
        r["fields"] = out
    return records, stats


# ---------------------------------------------------------------- values
ISO_RE = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?Z$")
FB_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?$")


def ts_parts(s, rx):
    """(epoch seconds, fraction as nanoseconds, fraction digits) or None."""
    m = rx.match(s)
    if not m:
        return None
    d = datetime.datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S")
    sec = int(d.replace(tzinfo=datetime.timezone.utc).timestamp())
    frac = m.group(3) or ""
    ns = int((frac + "000000000")[:9]) if frac else 0
    return sec, ns, len(frac)


def json_to_bytes(v, typ, length):
    """Wire bytes of a JSON-rendered value (for fixbuf's octetArray display)."""
    if isinstance(v, bool):
        return bytes([1 if v else 2])
    if isinstance(v, int):
        return (v % (1 << (8 * length))).to_bytes(length, "big")
    if isinstance(v, str):
        if v.startswith("0x"):
            return bytes.fromhex(v[2:])
        if typ == "ipv4Address":
            return ipaddress.IPv4Address(v).packed
        if typ == "ipv6Address":
            return ipaddress.IPv6Address(v).packed
        if typ == "macAddress":
            return bytes.fromhex(v.replace(":", ""))
        return v.encode()
    return None


class Diff(Exception):
    pass


def compare_to_fixbuf(jv, typ, fbtype, flen, text, notes):
    """Raise Diff when JSON value jv and ipfixDump text differ."""
    t = text
    if fbtype in ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"):
        if isinstance(jv, bool):
            jv = 1 if jv else 2
        if not isinstance(jv, int) or int(t) != jv:
            raise Diff
    elif fbtype == "bool":
        want = {True: 1, False: 2}.get(jv, jv) if isinstance(jv, bool) else jv
        if int(t) != want:
            raise Diff
    elif fbtype in ("float32", "float64"):
        if isinstance(jv, str):
            jf = float(jv.replace("Infinity", "inf"))
        else:
            jf = float(jv)
        ff = float(t)
        if math.isnan(jf) and math.isnan(ff):
            return
        if not math.isclose(jf, ff, rel_tol=1e-7, abs_tol=0.0):
            raise Diff
    elif fbtype == "ipv4":
        if str(jv) != t:
            raise Diff
    elif fbtype == "ipv6":
        if ipaddress.IPv6Address(jv) != ipaddress.IPv6Address(t):
            raise Diff
    elif fbtype == "mac":
        if str(jv).lower() != t.lower():
            raise Diff
    elif fbtype == "string":
        m = re.match(r"^\(len: (\d+)\) ?(.*)$", t, re.S)
        if not m or not isinstance(jv, str):
            raise Diff
        if m.group(2) != jv or int(m.group(1)) != len(jv.encode("utf-8", "surrogateescape")):
            raise Diff
    elif fbtype in ("sec", "millisec", "microsec", "nanosec"):
        a = ts_parts(str(jv), ISO_RE)
        b = ts_parts(t, FB_TS_RE)
        if a is None or b is None or a[0] != b[0]:
            raise Diff
        if fbtype in ("microsec", "nanosec"):
            # ipfixDump 2.x prints the fraction of micro/nanosecond
            # timestamps as zero (it divides the NTP fraction by 2^32
            # without scaling): only seconds can be compared.
            if b[1] != 0 and b[1] // 1000 != a[1] // 1000:
                raise Diff
            if a[1] and not b[1]:
                notes["ipfixDump drops micro/nanosecond fractions"] = \
                    notes.get("ipfixDump drops micro/nanosecond fractions", 0) + 1
        elif a[1] != b[1]:
            raise Diff
    elif fbtype == "octet":
        b = json_to_bytes(jv, typ, flen if flen and flen != 65535 else 0)
        if flen is not None and flen != 65535 and flen <= 8:
            # fixbuf prints short octetArrays as a little-endian integer
            if b is None or int.from_bytes(b, "little") != int(t):
                raise Diff
        else:
            m = re.match(r"^\(len: (\d+)\)(?: 0x([0-9a-f]*))?$", t) or re.match(r"^len: (\d+)$", t)
            if not m or b is None:
                raise Diff
            if int(m.group(1)) != len(b):
                raise Diff
            if m.lastindex and m.lastindex >= 2 and m.group(2) is not None:
                if b[:len(m.group(2)) // 2].hex() != m.group(2):
                    raise Diff
    elif fbtype in ("bl", "stl", "stml"):
        notes["structured fields not compared"] = notes.get("structured fields not compared", 0) + 1
    else:
        raise Diff


def compare_ipfixdump(model, jrecs, drecs, max_diffs, jmeta=None):
    diffs = []
    notes = {}
    nfields = 0
    if len(jrecs) != len(drecs):
        diffs.append("record count differs: ipfix dump has %d data records, ipfixDump %d"
                     % (len(jrecs), len(drecs)))
    for i, (jr, dr) in enumerate(zip(jrecs, drecs), 1):
        m = jmeta[i - 1] if jmeta and i - 1 < len(jmeta) else None
        if m is not None and (m[0], m[1]) != (dr["odid"], dr["tid"]):
            diffs.append("record %d: ipfix dump says odid %s template %s, ipfixDump odid %s template %s"
                         % (i, m[0], m[1], dr["odid"], dr["tid"]))
        seen = {}
        dkeys = []
        for pen, eid, fbtype, flen, text, nested in dr["fields"]:
            if pen == 0 and eid == 210:
                continue  # paddingOctets
            k = element_key(model, pen, eid)
            seen[k] = seen.get(k, 0) + 1
            if seen[k] > 1:
                k = "%s#%d" % (k, seen[k])
            dkeys.append(k)
            if k not in jr:
                diffs.append("record %d (template %s): field %s in ipfixDump (%r) but not in ipfix dump"
                             % (i, dr["tid"], k, text))
                continue
            jv = jr[k]
            nfields += 1
            try:
                compare_to_fixbuf(jv, element_type(model, k), fbtype, flen, text, notes)
            except (Diff, ValueError, TypeError):
                diffs.append("record %d (template %s): field %s: ipfix dump %s, ipfixDump %r"
                             % (i, dr["tid"], k, json.dumps(jv, ensure_ascii=False), text))
        extra = [k for k in jr if k not in dkeys and k != "paddingOctets"]
        for k in extra:
            diffs.append("record %d (template %s): field %s in ipfix dump (%s) but not in ipfixDump"
                         % (i, dr["tid"], k, json.dumps(jr[k], ensure_ascii=False)))
        if len(diffs) > max_diffs:
            break
    return diffs, notes, nfields


def norm_json_value(v, typ):
    if typ == "ipv6Address" and isinstance(v, str):
        try:
            return str(ipaddress.IPv6Address(v))
        except ValueError:
            return v
    if typ in ("macAddress", "octetArray", "unsigned256") and isinstance(v, str):
        return v.lower()
    return v


def same_value(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b   # a float that is integral may be rendered as 1 or 1.0
    return type(a) == type(b) and a == b


def compare_expected(model, jrecs, erecs, max_diffs):
    diffs = []
    nfields = 0
    if len(jrecs) != len(erecs):
        diffs.append("record count differs: ipfix dump has %d data records, expected %d"
                     % (len(jrecs), len(erecs)))
    for i, (jr, er) in enumerate(zip(jrecs, erecs), 1):
        for k in er:
            typ = element_type(model, k)
            if k not in jr:
                diffs.append("record %d: field %s missing in ipfix dump (expected %s)"
                             % (i, k, json.dumps(er[k], ensure_ascii=False)))
                continue
            nfields += 1
            a, b = norm_json_value(jr[k], typ), norm_json_value(er[k], typ)
            if not same_value(a, b):
                diffs.append("record %d: field %s: ipfix dump %s, expected %s"
                             % (i, k, json.dumps(jr[k], ensure_ascii=False),
                                json.dumps(er[k], ensure_ascii=False)))
        for k in jr:
            if k not in er and k != "paddingOctets":
                diffs.append("record %d: field %s in ipfix dump (%s) but not expected"
                             % (i, k, json.dumps(jr[k], ensure_ascii=False)))
        if len(diffs) > max_diffs:
            break
    return diffs, nfields


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ipfix_jsonl")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--ipfixdump", metavar="DUMP.txt")
    g.add_argument("--expect", metavar="EXPECTED.jsonl")
    ap.add_argument("--data", default=os.path.join(here, "..", "data"))
    ap.add_argument("--max-diffs", type=int, default=20)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    model = load_infomodel(a.data)
    jmeta = []
    jrecs = read_ipfix_jsonl(a.ipfix_jsonl, jmeta)
    label = (a.label + ": ") if a.label else ""
    if a.ipfixdump:
        drecs, stats = parse_ipfixdump(a.ipfixdump)
        if stats is None:
            print("%sipfixDump output has no File Stats line" % label)
            return 2
        if stats[1] != len(drecs):
            print("%sipfixDump says %d data records but printed %d" % (label, stats[1], len(drecs)))
            return 2
        diffs, notes, nfields = compare_ipfixdump(model, jrecs, drecs, a.max_diffs, jmeta)
        other = "ipfixDump"
    else:
        erecs = read_ipfix_jsonl(a.expect)
        diffs, nfields = compare_expected(model, jrecs, erecs, a.max_diffs)
        notes = {}
        other = "expected values"
    for d in diffs[:a.max_diffs]:
        print("%sDIFF %s" % (label, d))
    if len(diffs) > a.max_diffs:
        print("%s... more differences not shown" % label)
    for n, c in notes.items():
        print("%snote: %s (%d fields)" % (label, n, c))
    if diffs:
        print("%sFAIL: ipfix dump and %s differ (%d records, %d fields compared)"
              % (label, other, len(jrecs), nfields))
        return 1
    print("%sOK: %d records, %d field values identical (ipfix dump vs %s)"
          % (label, len(jrecs), nfields, other))
    return 0


if __name__ == "__main__":
    sys.exit(main())
