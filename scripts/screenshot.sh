#!/usr/bin/env bash
# Takes the README's screenshots of the real window under Xvfb: a run streaming with chaos mode
# on (the connection dropped at random, the timeline showing each drop and resume), once with
# the light palette and once with the dark one (AGENT_STREAMS_THEME).
#   scripts/screenshot.sh [seconds-into-the-run]     (default 8; ONLY=light or ONLY=dark takes one)
# Writes docs/screenshot.png and docs/screenshot-dark.png. Uses a throw-away HOME (no history,
# its own embedded redis-server unless one answers on localhost:6379) and any free port.
set -euo pipefail
cd "$(dirname "$0")/.."
AT="${1:-8}"
scripts/install-packages.sh xvfb imagemagick fonts-noto-color-emoji fonts-dejavu-core
scripts/setup.sh build

shoot() { # theme output
    local home display xvfb app
    home="$(mktemp -d)"
    display=":$((90 + RANDOM % 100))"
    Xvfb "$display" -screen 0 1240x900x24 -nolisten tcp >/dev/null 2>&1 &
    xvfb=$!
    sleep 1
    HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" DISPLAY="$display" \
        AGENT_STREAMS_THEME="$1" QT_QPA_PLATFORM=xcb \
        ./build/bin/agent-streams --port 0 --demo-pace-ms 70 --chaos \
        --prompt "Plan 3 days in Lisbon for two people who love food, with a day trip to Sintra" \
        -geometry 1240x900+0+0 >"$home/app.log" 2>&1 &
    app=$!
    sleep "$AT"
    DISPLAY="$display" import -window root "$2"
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
    kill "$xvfb" 2>/dev/null || true
    wait "$xvfb" 2>/dev/null || true
    rm -rf "$home"
    echo "==> $2"
}
[ "${ONLY:-}" = dark ] || shoot light docs/screenshot.png
[ "${ONLY:-}" = light ] || shoot dark docs/screenshot-dark.png
