#!/usr/bin/env bash
# Installs what is missing, builds, runs every test suite (each starts its own redis-server).
#   ./test.sh           normal build in build/
#   ./test.sh --asan    the same suite built with AddressSanitizer + UBSan in build-asan/
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "--asan" ]; then
    scripts/setup.sh build-asan -DAGENT_STREAMS_ASAN=ON -DCMAKE_BUILD_TYPE=Debug
    dir=build-asan
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
else
    scripts/setup.sh build
    dir=build
fi
export QT_QPA_PLATFORM=offscreen
cd "$dir"
ctest --output-on-failure --timeout 600
