#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) and runs each for a bounded
# time on a copy of its seed corpus. Exits non-zero if any target crashes or breaks a property.
#   scripts/fuzz.sh [seconds-per-target]        default 30
#   FUZZ_TARGETS="fuzz_sse_framing fuzz_cursor_and_ids" scripts/fuzz.sh 10   a subset
#   FUZZ_JOBS=2 scripts/fuzz.sh 60              run targets two at a time
# Findings (crash-*, leak-*, timeout-* inputs and the log) are kept in build-fuzz/findings/<target>/;
# replay one with build-fuzz/bin/<target> <file>. Needs what ./test.sh installs (Qt, hiredis,
# redis-server) and installs clang + libFuzzer if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-30}"
BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
ALL_TARGETS=(fuzz_sse_framing fuzz_chat_stream_parser fuzz_cursor_and_ids fuzz_connection_string fuzz_http_handlers fuzz_resp_replies fuzz_request_head fuzz_responses_request fuzz_durable_request)
read -r -a TARGETS <<< "${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"
JOBS="${FUZZ_JOBS:-1}"

# clang with libFuzzer (libclang-rt-14-dev ships libclang_rt.fuzzer*).
PACKAGES=(clang libclang-rt-14-dev cmake ninja-build pkg-config qt6-base-dev qt6-httpserver-dev libhiredis-dev redis-server)
scripts/install-packages.sh "${PACKAGES[@]}"

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S fuzz -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
echo "==> building fuzz targets in $BUILD_DIR"
if ! ninja -C "$BUILD_DIR" -j "${JOBS_BUILD:-$(nproc)}" "${TARGETS[@]}" > "$BUILD_DIR/build.log" 2>&1; then
    grep -E -A5 'error|Error' "$BUILD_DIR/build.log" | head -80
    echo "==> build failed; full log: $BUILD_DIR/build.log" >&2
    exit 1
fi
BIN="$(cd "$BUILD_DIR/bin" && pwd)"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"
export QT_QPA_PLATFORM=offscreen

# One target: fresh corpus copy, bounded run, summary line. Writes its status to $out/status.
run_target() {
    local t="$1" out="$BUILD_DIR/findings/$1"
    rm -rf "$out" && mkdir -p "$out/corpus"
    cp -r "fuzz/corpus/$t/." "$out/corpus/" 2>/dev/null || true
    local extra=()
    # The HTTP target: each input is a real connection, and the event loop keeps state between
    # inputs (runs, Redis), so a leak check per input would report Qt's and the server's caches.
    [ "$t" = fuzz_http_handlers ] && extra=(-detect_leaks=0 -max_len=20000)
    [ -f "fuzz/dict/$t.dict" ] && extra+=(-dict="$PWD/fuzz/dict/$t.dict")
    local rc=0
    (cd "$out" && "$BIN/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=3072 \
        -print_final_stats=1 -artifact_prefix=./ "${extra[@]}" corpus > log.txt 2>&1) || rc=$?
    local last execs cov ft rate
    last=$(grep -E '^#[0-9]+' "$out/log.txt" | tail -1 || true)
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out/log.txt" | grep -oE '[0-9]+$' | tail -1 || echo "${last%% *}")
    cov=$(grep -oE 'cov: [0-9]+' <<< "$last" | tail -1 || true)
    ft=$(grep -oE 'ft: [0-9]+' <<< "$last" | tail -1 || true)
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$out/log.txt" | grep -oE '[0-9]+$' | tail -1 || echo "?")
    local crashes
    crashes=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        printf '%-26s FAILED (exit %s, %s finding(s)) execs %s, %s, %s; see %s/log.txt\n' "$t" "$rc" "$crashes" "${execs:-?}" \
            "${cov:-cov: ?}" "${ft:-ft: ?}" "$out" | tee "$out/status"
        grep -m1 -E 'ERROR: |FUZZ_CHECK failed|runtime error' "$out/log.txt" | sed 's/^/    /' || true
        return 1
    fi
    printf '%-26s ok: %s execs (%s/s), %s, %s, corpus %s files\n' "$t" "${execs:-?}" "$rate" "${cov:-cov: ?}" "${ft:-ft: ?}" \
        "$(ls "$out/corpus" | wc -l)" | tee "$out/status"
}

echo "==> fuzzing ${#TARGETS[@]} target(s), ${SECONDS_PER_TARGET}s each"
failed=0
pids=()
for t in "${TARGETS[@]}"; do
    if [ "$JOBS" -gt 1 ]; then
        run_target "$t" & pids+=($!)
        if [ ${#pids[@]} -ge "$JOBS" ]; then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
    else
        run_target "$t" || failed=1
    fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done

if [ "$failed" -ne 0 ]; then
    echo "==> fuzzing found problems (inputs and logs in $BUILD_DIR/findings/)" >&2
    exit 1
fi
echo "==> all fuzz targets ran clean"
