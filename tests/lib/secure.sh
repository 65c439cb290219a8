# secure.sh — helpers shared by the TLS and DTLS integration tests
# (tests/integration/tls.sh, dtls.sh). Source it after common.sh; it makes
# the test PKI of tests/tls/make_certs.sh in $P and the hand-checked trace
# (tools/probe_test_pcap.py) in $T/trace.pcap, and gives:
#   ident WHO [CA]                  --cert/--key/--ca options of an identity
#   secure_collect LOG STORE URI WHO [ARGS...]   start_collect with WHO's identity
#   stop_collect LABEL LOG          SIGTERM the collector, expect exit 0
#   probe OUT URI WHO [ARGS...]     `ipfix probe` of the trace to URI as WHO
#   check_store LABEL STORE LOG [LABEL_TEXT]  no loss/errors in the collector's
#                                   total line, stored flows = the hand-checked ones
#   refused_by_collector LABEL WHO COLLECTOR_TEXT PROBE_TEXT [ARGS...]
#   refused_by_probe LABEL WHO PROBE_TEXT [ARGS...]
#                                   one refusal of RFC 5471 §3.7, checked on both sides
# The sourcing test sets SCHEME (tls|dtls), WHAT (TLS|DTLS), REFUSED (the
# collector's word for it: "connection refused" | "session refused"),
# S_CLIENT_ARGS (extra `openssl s_client` options) and COLLECT_ARGS.
CHECK=$SOURCE_DIR/tests/integration/probe_expected.py
command -v openssl >/dev/null 2>&1 || skip "the openssl command is missing (scripts/setup-deps.sh)"

P=$T/pki
bash "$SOURCE_DIR/tests/tls/make_certs.sh" "$P" || fail "making the test PKI"
"$PY" "$SOURCE_DIR/tools/probe_test_pcap.py" "$T/trace.pcap" || fail "building the trace"

ident() { echo "--cert $P/$1.pem --key $P/$1.key --ca $P/${2:-ca}.pem"; }

secure_collect() { # log store listen-uri collector-identity [extra args...]
  local log=$1 store=$2 uri=$3 who=$4; shift 4
  # shellcheck disable=SC2046
  # shellcheck disable=SC2086
  start_collect "$log" --listen "$uri" $(ident "$who") -w "$store" --no-fsync -v ${COLLECT_ARGS:-} "$@"
}

stop_collect() { # label log
  kill -TERM "$COLLECT_PID"
  wait "$COLLECT_PID" || { tail "$2" >&2; fail "$1: collector exit $? on SIGTERM"; }
}

probe() { # out uri exporter-identity [extra args...]
  local out=$1 uri=$2 who=$3; shift 3
  # shellcheck disable=SC2046
  timeout 60 "$IPFIX" probe -r "$T/trace.pcap" -e "$uri" $(ident "$who") --idle-timeout 5 \
    --active-timeout 10 -m 1M "$@" 2>"$out"
}

check_store() { # label store log [TLS|DTLS]
  local label=$1 store=$2 log=$3 what=${4:-TLS} total f
  total=$(grep "^total:" "$log")
  echo "$NAME: $label: $total"
  echo "$total" | grep -q " lost 0 out_of_order 0 malformed 0 missing_template_sets 0 " ||
    fail "$label: collector reports loss or errors: $total"
  echo "$total" | grep -q " tls_failures 0$" || fail "$label: $what failures: $total"
  : > "$T/$label.jsonl"
  for f in $(find "$store" -name '*.ipfix' | sort); do
    "$IPFIX" dump --json "$f" >> "$T/$label.jsonl" || fail "$label: dump $f"
  done
  "$PY" "$CHECK" "$T/$label.jsonl" --no-options || fail "$label: stored flows differ from the hand-checked ones"
  grep -q '"notSentFlowTotalCount":0' "$T/$label.jsonl" || fail "$label: no exporting reliability statistics"
}

refused_by_collector() { # label exporter-identity collector-log-text probe-text [collect args...]
  local label=$1 who=$2 ctext=$3 ptext=$4; shift 4
  local port; port=$(free_port)
  local log=$T/collect-$label.err
  secure_collect "$log" "$T/store-$label" "$SCHEME://127.0.0.1:$port" collector "$@"
  if [ "$who" = none ]; then # a client without a certificate
    timeout 10 openssl s_client $S_CLIENT_ARGS -connect "127.0.0.1:$port" -CAfile "$P/ca.pem" \
      -servername collector.test </dev/null >"$T/probe-$label.err" 2>&1
    wait_for_file "$log" "handshake failed" 100
  else
    probe "$T/probe-$label.err" "$SCHEME://127.0.0.1:$port" "$who" ||
      { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
    grep -q "$WHAT connection failed: .*$ptext" "$T/probe-$label.err" ||
      { cat "$T/probe-$label.err" >&2; fail "$label: the probe does not say '$ptext'"; }
    grep -q "not sent: 24 records" "$T/probe-$label.err" ||
      { cat "$T/probe-$label.err" >&2; fail "$label: refused records not counted as not sent"; }
  fi
  stop_collect "$label" "$log"
  grep -q "warning: $SCHEME 127.0.0.1:[0-9]*: $WHAT handshake failed, $REFUSED: .*$ctext" "$log" ||
    { cat "$log" >&2; fail "$label: the collector does not log '$ctext'"; }
  grep "^total:" "$log" | grep -q " records 0 .* tls_failures [1-9]" ||
    { grep "^total:" "$log" >&2; fail "$label: refusal not counted, or records accepted"; }
  grep -q "^listener $SCHEME://.* tls_failures [1-9]" "$log" || fail "$label: no per-listener count"
  echo "$NAME: collector refuses $label: $(grep -m1 -o "$REFUSED: .*" "$log")"
  [ "$who" = none ] || echo "$NAME:   probe says: $(grep -m1 -o "$WHAT connection failed: .*" "$T/probe-$label.err" | sed 's/; retrying with backoff.*//' )"
}

refused_by_probe() { # label collector-identity probe-text [probe args...]
  local label=$1 who=$2 ptext=$3; shift 3
  local port; port=$(free_port)
  local log=$T/collect-$label.err
  secure_collect "$log" "$T/store-$label" "$SCHEME://127.0.0.1:$port" "$who"
  probe "$T/probe-$label.err" "$SCHEME://127.0.0.1:$port" exporter "$@" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: probe exit status"; }
  grep -q "$WHAT connection failed: $ptext" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: the probe does not say '$ptext'"; }
  grep -q "not sent: 24 records" "$T/probe-$label.err" ||
    { cat "$T/probe-$label.err" >&2; fail "$label: refused records not counted as not sent"; }
  wait_for_file "$log" "handshake failed" 100
  stop_collect "$label" "$log"
  grep -q "$WHAT handshake failed, $REFUSED: peer refused our certificate" "$log" ||
    { cat "$log" >&2; fail "$label: the collector does not log the exporter's refusal"; }
  grep "^total:" "$log" | grep -q " records 0 " || fail "$label: records accepted"
  echo "$NAME: probe refuses collector $label: $(grep -m1 -o "$WHAT connection failed: .*" "$T/probe-$label.err" | sed 's/; retrying with backoff.*//' )"
}
