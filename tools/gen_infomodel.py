#!/usr/bin/env python3
"""Generate the compiled-in information model from the IANA registry CSVs.

Usage: gen_infomodel.py DATA_DIR OUTPUT.c

Reads data/iana-ipfix-information-elements.csv (RFC 7012 registry), the
sub-registries in data/ (units, semantics, data types, flowEndReason,
biflowDirection, selectorAlgorithm, structured-data semantics) and
data/protocol-numbers.csv, and writes C tables consumed by
src/core/infomodel.c. Run by CMake at build time; the output is never
committed.
"""
import csv
import os
import re
import sys

# RFC 5103 §6.1: identifiers, process configuration and statistics,
# paddingOctets and biflowDirection have no reverse counterpart.
NON_REVERSIBLE = {
    148, 145, 149, 137,                              # flowId, templateId, observationDomainId, commonPropertiesId
    130, 131, 144, 173, 211, 212, 213, 214, 215, 216, 217,  # process configuration (RFC 5102 §5.2)
    40, 41, 42, 163, 164, 165, 166, 167, 168,        # process statistics (RFC 5102 §5.3)
    210, 239,                                        # paddingOctets, biflowDirection
}

TYPES = ["octetArray", "unsigned8", "unsigned16", "unsigned32", "unsigned64", "signed8",
         "signed16", "signed32", "signed64", "float32", "float64", "boolean", "macAddress",
         "string", "dateTimeSeconds", "dateTimeMilliseconds", "dateTimeMicroseconds",
         "dateTimeNanoseconds", "ipv4Address", "ipv6Address", "basicList", "subTemplateList",
         "subTemplateMultiList", "unsigned256"]


def read_csv(data_dir, name):
    with open(os.path.join(data_dir, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_int(s):
    s = s.strip()
    return int(s, 16) if s.lower().startswith("0x") else int(s)


def camel(text):
    """'idle timeout' -> 'idleTimeout'; 'Systematic count-based Sampling' -> 'systematicCountBasedSampling'."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    if not words:
        return ""
    first = words[0]
    first = first if first.isupper() and len(first) > 1 else first[0].lower() + first[1:]
    return first + "".join(w[0].upper() + w[1:] for w in words[1:])


def parse_range(r):
    r = r.strip()
    if not r:
        return None
    m = re.match(r"^\s*(0x[0-9A-Fa-f]+|\d+)\s*-\s*(0x[0-9A-Fa-f]+|\d+)\s*$", r)
    if not m:
        return None
    lo, hi = parse_int(m.group(1)), parse_int(m.group(2))
    if hi >= 1 << 64:
        return None
    return lo, hi


def main():
    data_dir, out_path = sys.argv[1], sys.argv[2]
    units = {}
    for row in read_csv(data_dir, "iana-ipfix-information-element-units.csv"):
        try:
            units[row["description"].strip()] = parse_int(row["value"])
        except ValueError:
            pass
    units_by_value = {v: k for k, v in units.items()}
    semantics = {}
    for row in read_csv(data_dir, "iana-ipfix-information-element-semantics.csv"):
        try:
            semantics[row["description"].strip()] = parse_int(row["value"])
        except ValueError:
            pass
    type_codes = {}
    for row in read_csv(data_dir, "iana-ipfix-information-element-data-types.csv"):
        try:
            type_codes[row["description"].strip()] = parse_int(row["value"])
        except ValueError:
            pass
    for i, t in enumerate(TYPES):
        if type_codes.get(t, i) != i:
            sys.exit(f"data type {t} has code {type_codes[t]} in the registry, expected {i}")

    elements = []
    for row in read_csv(data_dir, "iana-ipfix-information-elements.csv"):
        eid, name, dtype = row["ElementID"].strip(), row["Name"].strip(), row["Abstract Data Type"].strip()
        if not eid.isdigit() or not dtype or not name:
            continue  # reserved, unassigned and placeholder rows
        if dtype not in TYPES:
            sys.exit(f"element {eid}: unknown abstract data type {dtype!r}")
        sem = row["Data Type Semantics"].strip()
        unit = row["Units"].strip()
        rng = parse_range(row["Range"])
        elements.append({
            "id": int(eid), "name": name, "type": TYPES.index(dtype),
            "semantics": semantics.get(sem, 0) if sem else 0,
            "units": units.get(unit, 0) if unit else 0,
            "status": 1 if row["Status"].strip() == "deprecated" else 0,
            "range": rng,
        })
    elements.sort(key=lambda e: e["id"])

    registries = []  # (element id, value, name)
    def add_registry(file, element_id, name_column):
        for row in read_csv(data_dir, file):
            try:
                value = parse_int(row["value"])
            except ValueError:
                continue  # ranges such as "5-255 Unassigned"
            label = row.get(name_column) or row.get("description") or ""
            label = label.strip()
            if not label or label.lower().startswith(("unassigned", "reserved")):
                continue
            registries.append((element_id, value, camel(label)))
    add_registry("iana-ipfix-flow-end-reason.csv", 136, "name")
    add_registry("iana-ipfix-biflow-direction.csv", 239, "name")
    add_registry("iana-psamp-selectoralgorithm.csv", 304, "description")
    for sd_element in (291, 292, 293):
        add_registry("iana-ipfix-structured-data-types-semantics.csv", sd_element, "name")
    for row in read_csv(data_dir, "protocol-numbers.csv"):
        registries.append((4, parse_int(row["value"]), row["keyword"].strip()))
    registries.sort()

    out = []
    w = out.append
    w("/* Generated by tools/gen_infomodel.py from the CSV files in data/. Do not edit. */")
    w('#include "core/infomodel_table.h"')
    w("")
    w(f"const size_t ipfix_iana_element_count = {len(elements)};")
    w("const ipfix_element ipfix_iana_elements[] = {")
    for e in elements:
        lo, hi = e["range"] if e["range"] else (0, 0)
        w(f'    {{ .name = {c_string(e["name"])}, .pen = 0, .id = {e["id"]}, .type = {e["type"]}, '
          f'.semantics = {e["semantics"]}, .status = {e["status"]}, '
          f'.has_range = {"true" if e["range"] else "false"}, .known = true, '
          f'.reversible = {"false" if e["id"] in NON_REVERSIBLE else "true"}, '
          f'.units = {e["units"]}, .range_low = {lo}u, .range_high = {hi}u }},')
    w("};")
    w("")
    w("/* Reverse Information Elements (RFC 5103 §6.1): PEN 29305, same IDs. */")
    w("const ipfix_element ipfix_reverse_elements[] = {")
    for e in elements:
        rname = "reverse" + e["name"][0].upper() + e["name"][1:]
        lo, hi = e["range"] if e["range"] else (0, 0)
        w(f'    {{ .name = {c_string(rname)}, .pen = 29305, .id = {e["id"]}, .type = {e["type"]}, '
          f'.semantics = {e["semantics"]}, .status = {e["status"]}, '
          f'.has_range = {"true" if e["range"] else "false"}, .known = true, '
          f'.reversible = false, .units = {e["units"]}, .range_low = {lo}u, .range_high = {hi}u }},')
    w("};")
    w("")
    w(f"const size_t ipfix_units_name_count = {max(units_by_value) + 1};")
    w("const char *const ipfix_units_names[] = {")
    for v in range(max(units_by_value) + 1):
        w(f"    {c_string(units_by_value.get(v, '') if v else '')},")
    w("};")
    w("")
    w(f"const size_t ipfix_value_name_count = {len(registries)};")
    w("const ipfix_value_name_entry ipfix_value_names[] = {")
    for element_id, value, name in registries:
        w(f"    {{ {element_id}, {value}u, {c_string(name)} }},")
    w("};")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
