#!/usr/bin/env bash
# Screenshots of the real `postern` window under Xvfb, and two numbers for
# docs/benchmarks.md: cold start to first frame, and idle CPU.
#
#   scripts/screenshots.sh            # writes docs/screenshots/*.png
#   KEEP=1 scripts/screenshots.sh     # keep the temp folder for a look
#
# Everything stays on this machine: a temporary POSTERN_CONFIG_DIR with two
# hosts on 127.0.0.1, a static knock sequence to closed loopback ports, and a
# listener on a loopback port as the "door", so the knock really runs and
# really verifies. The window is driven with the keyboard (Tab / Enter) via
# xdotool, the way a keyboard user would.
#
# Starts `postern` without arguments, as a user would; it starts the
# `postern-desktop` binary beside it (same PID).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/docs/screenshots"
DISPLAY_NUM=${DISPLAY_NUM:-77}
DOOR_PORT=${DOOR_PORT:-18389}

need=(xvfb xauth libgl1-mesa-dri libegl1 libegl-mesa0 mesa-vulkan-drivers libvulkan1
      libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1 imagemagick xdotool)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "screenshots: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$ROOT"
cargo build -q -p postern -p postern-desktop
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
APP=("$TARGET/debug/postern")
CLI="$TARGET/debug/postern"

TMP=$(mktemp -d /tmp/postern-shots.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -z "${KEEP:-}" ]]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

export POSTERN_CONFIG_DIR="$TMP/config"
export POSTERN_SECRETS=file
export XDG_RUNTIME_DIR="$TMP/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
unset WGPU_BACKEND WAYLAND_DISPLAY

# Two hosts on loopback. "Lab" knocks 7000,8000:udp,9000 with a pause, so
# the progress is visible; its door is the listener below.
"$CLI" import-knockd-door --name "Lab (loopback)" --host 127.0.0.1 \
    --sequence "7000,8000:udp,9000" --door "$DOOR_PORT/tcp" --delay-ms 1200 >/dev/null
"$CLI" import-knockd-door --name "Office PC (loopback)" --host 127.0.0.1 \
    --sequence "7100,7200,7300" --door "3389/tcp" >/dev/null

python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $DOOR_PORT)); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
" &
PIDS+=($!)

Xvfb ":$DISPLAY_NUM" -screen 0 1024x768x24 -nolisten tcp >"$TMP/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY=":$DISPLAY_NUM"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done 2>/dev/null || sleep 2

start_ms=$(date +%s%3N)
POSTERN_REPORT_FIRST_FRAME=1 "${APP[@]}" 2>"$TMP/app.log" &
APP_PID=$!
PIDS+=($APP_PID)
for _ in $(seq 300); do grep -q "first frame" "$TMP/app.log" && break; sleep 0.05; done
first_ms=$(sed -n 's/.*first frame at unix_ms=\([0-9]*\).*/\1/p' "$TMP/app.log" | head -1)
if [[ -z "$first_ms" ]]; then
    echo "screenshots: the window did not come up:" >&2
    cat "$TMP/app.log" >&2
    exit 1
fi
WID=$(xdotool search --sync --name '^Postern$' | head -1)
sleep 1.5
mkdir -p "$OUT"
shot() { import -window "$WID" "$OUT/$1.png"; echo "wrote docs/screenshots/$1.png"; }
shot host-list

# Idle CPU: user+system ticks of the process over 10 s with no input.
ticks() { awk '{print $14 + $15}' "/proc/$APP_PID/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); sleep 10; t1=$(ticks)
idle_pct=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz / 10 * 100 }')

# Click "Knock" on the first card (Lab). Xvfb has no window manager, so
# the window gets no keyboard focus; the mouse works (XTEST).
xdotool mousemove --window "$WID" 40 134 click 1
sleep 1.8
shot knock-in-progress
sleep 3
shot knock-result

rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$APP_PID/status")
echo "cold start to first frame: $((first_ms - start_ms)) ms"
echo "idle CPU over 10 s: ${idle_pct}%"
echo "resident memory: $((rss_kib / 1024)) MiB"
echo "binary: ${APP[*]}"
