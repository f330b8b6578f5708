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
if [[ " ${args[*]-} " != *" --headless "* ]]; then
    # What a fresh desktop needs to draw the window as in docs/screenshot.png: a colour emoji
    # font (the answers' ✈️ 🌅 🍜 🏛️ 🌙 are empty boxes without one) and the fonts the window
    # names (DejaVu Sans / Sans Mono). Qt's X11 platform plugin comes with libqt6gui6.
    scripts/install-packages.sh fonts-noto-color-emoji fonts-dejavu-core
fi
exec ./build/bin/agent-streams "${args[@]}"
