#!/usr/bin/env bash
# dump_cli.sh — `ipfix dump` and `ipfix elements` end to end: files written
# by `ipfix generate`, text and JSON output, --count, standard input (pipe
# and redirect), captures built by tools/interop_pcap.py (UDP and TCP),
# damaged input and exit codes (0 ok, 1 unreadable, 2 usage, 3 partial).
# Env (from CTest): IPFIX = the ipfix binary, SOURCE_DIR. Exit 77 = skip.
set -u
IPFIX=${IPFIX:-}
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -x "$IPFIX" ] || { echo "IPFIX not set or not executable: skip"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check_rc() { # expected actual what
    [ "$1" = "$2" ] || fail "$3: exit $2, expected $1"
}
count_of() { # name file
    sed -n "s/^$1: //p" "$2"
}

if ! "$IPFIX" generate -q -n 1000 -w "$work/g.ipfix" 2>"$work/gen.err"; then
    if ! "$IPFIX" generate -n 1000 -w "$work/g.ipfix" >/dev/null 2>"$work/gen.err"; then
        echo "ipfix generate failed: skip"; cat "$work/gen.err"; exit 77
    fi
fi

# --- --count
"$IPFIX" dump --count "$work/g.ipfix" >"$work/count" 2>"$work/count.err"
check_rc 0 $? "dump --count"
[ "$(count_of data_records "$work/count")" = 1000 ] || fail "data_records: $(cat "$work/count")"
[ "$(count_of errors "$work/count")" = 0 ] || fail "errors in a clean file"
[ "$(count_of lost_records "$work/count")" = 0 ] || fail "lost records in a clean file"
for name in messages templates options_templates withdrawals options_records missing_template_sets; do
    grep -q "^$name: [0-9]*$" "$work/count" || fail "--count has no '$name:' line"
done

# --- text
"$IPFIX" dump "$work/g.ipfix" >"$work/text" 2>"$work/text.err"
check_rc 0 $? "dump (text)"
[ "$(grep -c '^record ' "$work/text")" = 1000 ] || fail "text: not 1000 record lines"
grep -q '^template odid=' "$work/text" || fail "text: no template line"
grep -q 'protocolIdentifier=tcp' "$work/text" || fail "text: protocol not by name"
grep -Eq 'flowStartMilliseconds=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z' "$work/text" ||
    fail "text: timestamps not ISO 8601 with milliseconds"
[ -s "$work/text.err" ] && fail "text: unexpected stderr: $(head -3 "$work/text.err")"

"$IPFIX" dump --no-templates "$work/g.ipfix" >"$work/notemplates"
grep -q '^template' "$work/notemplates" && fail "--no-templates printed templates"

# --- JSON Lines
"$IPFIX" dump --json "$work/g.ipfix" >"$work/json"
check_rc 0 $? "dump --json"
if command -v python3 >/dev/null; then
    python3 - "$work/json" <<'EOF' || fail "JSON Lines not valid or incomplete"
import json, sys
records = 0
for line in open(sys.argv[1]):
    obj = json.loads(line)
    if "record" in obj:
        records += 1
        r = obj["record"]
        assert isinstance(obj.get("templateId"), int), obj
        assert isinstance(r.get("protocolIdentifier"), int), r
        assert isinstance(r.get("octetDeltaCount"), int), r
    else:
        assert any(k in obj for k in ("options", "template", "withdrawal")), obj
sys.exit(0 if records == 1000 else 1)
EOF
fi

# --- standard input: pipe (relayed) and redirect (seekable)
cat "$work/g.ipfix" | "$IPFIX" dump --count - >"$work/count.pipe"
check_rc 0 $? "dump --count - (pipe)"
cmp -s "$work/count" "$work/count.pipe" || fail "stdin pipe counts differ"
"$IPFIX" dump --count - <"$work/g.ipfix" >"$work/count.redirect"
check_rc 0 $? "dump --count - (redirect)"
cmp -s "$work/count" "$work/count.redirect" || fail "stdin redirect counts differ"

# --- damaged input: garbage in the middle -> errors reported, exit 3
size=$(stat -c %s "$work/g.ipfix")
head -c 3000 "$work/g.ipfix" >"$work/bad.ipfix"
head -c 100 /dev/urandom >>"$work/bad.ipfix"
tail -c +3001 "$work/g.ipfix" >>"$work/bad.ipfix"
"$IPFIX" dump --count "$work/bad.ipfix" >"$work/bad.count" 2>"$work/bad.err"
check_rc 3 $? "damaged file"
grep -q 'offset [0-9]*: ' "$work/bad.err" || fail "damaged file: no 'offset N:' error line"
[ "$(count_of errors "$work/bad.count")" -gt 0 ] 2>/dev/null || fail "damaged file: errors: 0"
head -c $((size - 7)) "$work/g.ipfix" >"$work/cut.ipfix"
"$IPFIX" dump "$work/cut.ipfix" >/dev/null 2>"$work/cut.err"
check_rc 3 $? "truncated file"

# --- exit codes
"$IPFIX" dump "$work/nonexistent.ipfix" >/dev/null 2>&1
check_rc 1 $? "missing file"
"$IPFIX" dump --bogus "$work/g.ipfix" >/dev/null 2>&1
check_rc 2 $? "unknown option"
"$IPFIX" dump >/dev/null 2>&1
check_rc 2 $? "no file"
"$IPFIX" dump --port 0 "$work/g.ipfix" >/dev/null 2>&1
check_rc 2 $? "bad port"
"$IPFIX" dump --help >"$work/help"
check_rc 0 $? "--help"
grep -q 'examples' "$work/help" || fail "--help has no examples"

# --- captures (UDP and TCP) give the same records as the file
if command -v python3 >/dev/null && [ -f "$SOURCE_DIR/tools/interop_pcap.py" ]; then
    "$IPFIX" dump --no-templates "$work/g.ipfix" >"$work/file.records"
    for transport in udp tcp; do
        if python3 "$SOURCE_DIR/tools/interop_pcap.py" "$transport" "$work/g.ipfix" \
            "$work/$transport.pcap" >/dev/null 2>&1; then
            "$IPFIX" dump --no-templates "$work/$transport.pcap" >"$work/$transport.out" \
                2>"$work/$transport.err"
            check_rc 0 $? "dump $transport.pcap"
            sed 's/ exporter=[^ ]*//' "$work/$transport.out" >"$work/$transport.records"
            cmp -s "$work/file.records" "$work/$transport.records" ||
                fail "$transport capture records differ from the file's"
            "$IPFIX" dump --count --port 9 "$work/$transport.pcap" >"$work/$transport.count"
            [ "$(count_of messages "$work/$transport.count")" = 0 ] ||
                fail "--port 9 still matched $transport packets"
        else
            echo "note: interop_pcap.py $transport failed; capture check skipped"
        fi
    done
fi

# --- elements
"$IPFIX" elements 4 >"$work/el" || fail "elements 4"
grep -q protocolIdentifier "$work/el" || fail "elements 4: no protocolIdentifier"
"$IPFIX" elements --json sourceIPv4Address | grep -q '"type":"ipv4Address"' ||
    fail "elements --json"
"$IPFIX" elements noSuchElement >/dev/null 2>&1
check_rc 1 $? "elements unknown name"
[ "$("$IPFIX" elements | wc -l)" -gt 400 ] || fail "elements: listing too short"

if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "dump_cli: all checks passed"
