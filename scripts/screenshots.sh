#!/usr/bin/env bash
# Screenshots of the real `postern` window under Xvfb, in the light and the
# dark theme, in English and Spanish, and two numbers for
# docs/benchmarks.md: cold start to first frame, and idle CPU.
#
#   scripts/screenshots.sh            # writes docs/screenshots/*.png
#   KEEP=1 scripts/screenshots.sh     # keep the temp folder for a look
#
# Everything stays on this machine: a temporary POSTERN_CONFIG_DIR per
# variant with two hosts on 127.0.0.1, a static knock sequence to closed
# loopback ports, and a listener on a loopback port as the "door". The
# listener starts only after the knock has gone out: the app checks the
# door before knocking and would rightly say "already answering" if it
# were listening from the start. The signed profile for the trust prompt
# comes from a throw-away `posternd init` + `user add` in the temp folder.
#
# Starts `postern` without arguments, as a user would; it starts the
# `postern-desktop` binary beside it (same PID). The trust prompt is the
# window started with the profile file, as a double-click starts it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/docs/screenshots"
DISPLAY_NUM=${DISPLAY_NUM:-77}
DOOR_PORT=${DOOR_PORT:-18389}

need=(xvfb xauth libgl1-mesa-dri libegl1 libegl-mesa0 mesa-vulkan-drivers libvulkan1
      libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1 imagemagick xdotool x11-utils)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "screenshots: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$ROOT"
cargo build -q -p postern -p postern-desktop -p postern-server
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
APP="$TARGET/debug/postern"
CLI="$TARGET/debug/postern"
DESKTOP="$TARGET/debug/postern-desktop"
POSTERND="$TARGET/debug/posternd"

TMP=$(mktemp -d /tmp/postern-shots.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -z "${KEEP:-}" ]]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

export POSTERN_SECRETS=file
export XDG_RUNTIME_DIR="$TMP/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
unset WGPU_BACKEND WAYLAND_DISPLAY LANGUAGE
export LC_ALL=C.UTF-8

# A signed profile, as an administrator would send it.
"$POSTERND" init --config "$TMP/srv/posternd.toml" -i lo --public-host 127.0.0.1 \
    --state-dir "$TMP/srv/state" >/dev/null
printf '\n[[door]]\nname = "rdp"\nproto = "tcp"\nport = 3389\nduration = 30\nspa = true\n' \
    >>"$TMP/srv/posternd.toml"
"$POSTERND" user add alice --config "$TMP/srv/posternd.toml" --door rdp \
    --out "$TMP/Office.postern" >/dev/null

Xvfb ":$DISPLAY_NUM" -screen 0 1024x768x24 -nolisten tcp >"$TMP/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY=":$DISPLAY_NUM"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

mkdir -p "$OUT"
APP_PID=
WID=
# start_app THEME LANG [FILE]: a fresh config folder with the two hosts and
# the chosen theme and language, then the window.
start_app() {
    local theme=$1 lang=$2
    shift 2
    export POSTERN_CONFIG_DIR="$TMP/config-$theme-$lang-$#"
    rm -rf "$POSTERN_CONFIG_DIR"
    "$CLI" import-knockd-door --name "Lab (loopback)" --host 127.0.0.1 \
        --sequence "7000,8000:udp,9000" --door "$DOOR_PORT/tcp" --delay-ms 1200 >/dev/null
    "$CLI" import-knockd-door --name "Office PC (loopback)" --host 127.0.0.1 \
        --sequence "7100,7200,7300" --door "3389/tcp" >/dev/null
    printf 'theme = "%s"\nlanguage = "%s"\n' "$theme" "$lang" >"$POSTERN_CONFIG_DIR/gui-settings.toml"
    : >"$TMP/app.log"
    START_MS=$(date +%s%3N)
    # With a file: `postern-desktop FILE`, what the desktop entry and the
    # file association run on a double-click.
    local prog=$APP
    (($#)) && prog=$DESKTOP
    POSTERN_REPORT_FIRST_FRAME=1 "$prog" "$@" 2>"$TMP/app.log" &
    APP_PID=$!
    PIDS+=("$APP_PID")
    for _ in $(seq 300); do grep -q "first frame" "$TMP/app.log" && break; sleep 0.05; done
    FIRST_MS=$(sed -n 's/.*first frame at unix_ms=\([0-9]*\).*/\1/p' "$TMP/app.log" | head -1)
    if [[ -z "$FIRST_MS" ]]; then
        echo "screenshots: the window did not come up:" >&2
        cat "$TMP/app.log" >&2
        exit 1
    fi
    WID=$(xdotool search --sync --name '^Postern$' | head -1)
    sleep 1.5
}
stop_app() {
    kill "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
}
shot() { import -window "$WID" "$OUT/$1.png"; echo "wrote docs/screenshots/$1.png"; }

# The door, opened a moment after the knock starts (see the top).
door_after() {
    sleep "$1"
    exec python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $DOOR_PORT)); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
"
}

first=1
for variant in "light en" "dark en" "light es" "dark es"; do
    read -r theme lang <<<"$variant"
    tag="$lang-$theme"
    start_app "$theme" "$lang"
    if ((first)); then
        cold_ms=$((FIRST_MS - START_MS))
        # Idle CPU: user+system ticks over 10 s with no input.
        ticks() { awk '{print $14 + $15}' "/proc/$APP_PID/stat"; }
        hz=$(getconf CLK_TCK)
        t0=$(ticks); sleep 10; t1=$(ticks)
        idle_pct=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz / 10 * 100 }')
    fi
    shot "host-list-$tag"
    # The first card's one large button ("Open": its door has no program
    # to start). Xvfb has no window manager, so the window gets no
    # keyboard focus; the mouse works (XTEST).
    door_after 0.8 &
    DOOR_PID=$!
    PIDS+=("$DOOR_PID")
    xdotool mousemove --window "$WID" 88 128 click 1
    sleep 1.8
    shot "knock-in-progress-$tag"
    sleep 3.5
    xdotool mousemove --window "$WID" 600 400
    sleep 0.3
    shot "knock-result-$tag"
    if ((first)); then
        rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$APP_PID/status")
    fi
    kill "$DOOR_PID" 2>/dev/null || true
    wait "$DOOR_PID" 2>/dev/null || true
    stop_app
    if [[ $theme == light ]]; then
        start_app "$theme" "$lang" "$TMP/Office.postern"
        shot "trust-prompt-$tag"
        stop_app
    fi
    first=0
done

echo "cold start to first frame: ${cold_ms} ms"
echo "idle CPU over 10 s: ${idle_pct}%"
echo "resident memory: $((rss_kib / 1024)) MiB"
echo "binary: $APP"
