#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets (fuzz/fuzz_*.c) with clang in
# build-fuzz and run each for a bounded time over a scratch copy of its seed
# corpus (fuzz/corpus/<target>/; the committed corpus is never modified).
# Reproducers in fuzz/regressions/<target>/ are replayed first. Exits 1 if
# any target crashes, leaks, times out, runs out of memory or a regression
# reproducer fails; the artifacts (crash-*, leak-*, timeout-*, oom-*) are
# kept in build-fuzz/fuzz-artifacts/<target>/. Called from .ci/run.
#
# Usage: scripts/fuzz.sh [target...]          (default: every fuzz/fuzz_*.c)
# Environment:
#   FUZZ_SECONDS    seconds per target (default 20)
#   FUZZ_JOBS       parallel fuzzing processes per target (default 1)
#   FUZZ_BUILD_DIR  build directory (default build-fuzz)
#   FUZZ_KEEP_CORPUS=1  keep the grown corpus in build-fuzz/fuzz-corpus/<target>
#   FUZZ_ARGS       extra libFuzzer flags (e.g. "-max_len=65536 -only_ascii=0")
#
# Long campaign (grows a corpus outside git; merge the interesting inputs
# back by hand with -merge=1 if you want them as seeds):
#   FUZZ_SECONDS=3600 FUZZ_JOBS=$(nproc) FUZZ_KEEP_CORPUS=1 scripts/fuzz.sh fuzz_message_reader
# or by hand, after one run of this script has built the targets:
#   mkdir -p fuzz/corpus-long && cp fuzz/corpus/fuzz_message_reader/* fuzz/corpus-long/
#   build-fuzz/fuzz_message_reader -jobs=8 -workers=8 -max_total_time=3600 \
#       -timeout=5 -rss_limit_mb=2048 -dict=fuzz/ipfix.dict fuzz/corpus-long
# (fuzz/corpus-*/ is git-ignored.) Reproduce a crash: build-fuzz/<target> crash-file
# Minimise it:  build-fuzz/<target> -minimize_crash=1 -runs=10000 crash-file
# then save it as fuzz/regressions/<target>/<short-name> (replayed on every run).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
JOBS=${FUZZ_JOBS:-1}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
ARTIFACTS=$BUILD/fuzz-artifacts
DICT=$ROOT/fuzz/ipfix.dict

if ! command -v clang >/dev/null; then
    echo "fuzz.sh: clang not found (libFuzzer needs clang)" >&2
    exit 1
fi

if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=()
    for src in fuzz/fuzz_*.c; do TARGETS+=("$(basename "$src" .c)"); done
fi

# ---- build (only the fuzz targets and the library) ----
GENERATOR=()
if [ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null; then GENERATOR=(-G Ninja); fi
CC=clang cmake -S "$ROOT" -B "$BUILD" "${GENERATOR[@]}" -DIPFIXKIT_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target "${TARGETS[@]}" -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${TARGETS[@]}"; do
    bin=$BUILD/$t
    echo "=== $t: regressions"
    reg=$ROOT/fuzz/regressions/$t
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
        if ! "$bin" -runs=1 "$reg"/* >"$BUILD/$t.regressions.log" 2>&1; then
            echo "$t: a reproducer in fuzz/regressions/$t fails (log: $BUILD/$t.regressions.log)" >&2
            tail -n 30 "$BUILD/$t.regressions.log" >&2
            failed+=("$t (regression)")
            summary+=("$t: a reproducer in fuzz/regressions/$t fails  FAILED")
            continue
        fi
    fi

    echo "=== $t: fuzzing ${SECONDS_PER_TARGET}s x $JOBS job(s)"
    if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
        corpus=$BUILD/fuzz-corpus/$t
        mkdir -p "$corpus"
    else
        corpus=$(mktemp -d "${TMPDIR:-/tmp}/ipfixkit-fuzz-$t.XXXXXX")
    fi
    cp -r "$ROOT/fuzz/corpus/$t/." "$corpus/" 2>/dev/null || true
    mkdir -p "$ARTIFACTS/$t"
    rm -f "$ARTIFACTS/$t"/fuzz-*.log
    log=$BUILD/$t.fuzz.log
    args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t/")
    [ -f "$DICT" ] && args+=(-dict="$DICT")
    if [ "$JOBS" -gt 1 ]; then args+=(-jobs="$JOBS" -workers="$JOBS"); fi
    # shellcheck disable=SC2206
    extra=(${FUZZ_ARGS:-})
    status=0
    (cd "$ARTIFACTS/$t" && "$bin" "${args[@]}" "${extra[@]}" "$corpus") >"$log" 2>&1 || status=$?
    if [ "$JOBS" -gt 1 ]; then cat "$ARTIFACTS/$t"/fuzz-*.log >>"$log" 2>/dev/null || true; fi
    [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$corpus"

    execs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    line="$t: ${runs} runs, ${execs} exec/s, cov: ${cov:-?} ft: ${ft:-?}"
    if [ "$status" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|^SUMMARY: |deadly signal|runtime error:' "$log"; then
        echo "$t: FAILED (exit $status) — log: $log, artifacts: $ARTIFACTS/$t/" >&2
        grep -E 'ERROR|SUMMARY|runtime error|invariant broken|Test unit written' "$log" | head -n 20 >&2 || true
        failed+=("$t")
        line="$line  FAILED"
    fi
    summary+=("$line")
    echo "$line"
done

echo "=== fuzz summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: failures: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: all targets ran clean"
