#!/usr/bin/env bash
# Shared by run.sh and test.sh: installs what is missing from Debian's packages, then builds.
#   scripts/setup.sh [build-dir] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake ninja-build pkg-config libgl-dev
          qt6-base-dev qt6-httpserver-dev qt6-websockets-dev
          libhiredis-dev redis-server redis-tools curl openssl ca-certificates)

# Node for tst_openaisdk (the official openai npm package; `npm ci` from tests/sdk/package-lock.json
# runs in the test itself). A Node already installed (e.g. Node 20 from NodeSource, npm inside)
# is kept: Debian's npm package would conflict with it.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

scripts/install-packages.sh "${PACKAGES[@]}"

BUILD_DIR="${1:-build}"
shift || true
JOBS="${JOBS:-$(nproc)}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
echo "==> building in $BUILD_DIR"
if ! ninja -C "$BUILD_DIR" -j "$JOBS" > "$BUILD_DIR/build.log" 2>&1; then
    grep -E -A5 'error|Error' "$BUILD_DIR/build.log" | head -80
    echo "==> build failed; full log: $BUILD_DIR/build.log" >&2
    exit 1
fi
