#!/usr/bin/env bash
# Installs what is missing, builds into build/, starts Agent Streams.
#   ./run.sh               the desktop window (with its embedded server on port 7071)
#   ./run.sh --headless    the HTTP server only
# Any other flag goes to the app: ./run.sh --help
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build
args=("$@")
if [[ " ${args[*]-} " != *" --headless "* && -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
    echo "==> no display found: starting the server only (--headless)"
    args+=(--headless)
fi
exec ./build/bin/agent-streams "${args[@]}"
