#!/usr/bin/env bash
# Prints a folder holding the signed WinDivert64.sys and its licence files,
# taken from the pydivert 4.0.1 win_amd64 wheel (the only signed build of
# the WinDivert 2.2 driver on a package registry; the windivert crates
# build only the DLL). The wheel is cached in $POSTERN_CACHE_DIR
# (/var/tmp/postern-cache) and checked against WinDivert64.sys.sha256
# before anything is used; the binary is never committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${POSTERN_CACHE_DIR:-/var/tmp/postern-cache}
wheel=pydivert-4.0.1-py3-none-win_amd64.whl
want=$(awk -v w="$wheel" '$2 == w { print $1 }' "$here/WinDivert64.sys.sha256")
mkdir -p "$cache"
if [ ! -f "$cache/$wheel" ] || ! echo "$want  $cache/$wheel" | sha256sum --check --status; then
    rm -f "$cache/$wheel"
    python3 -m pip download --quiet --disable-pip-version-check pydivert==4.0.1 \
        --only-binary=:all: --platform win_amd64 --no-deps -d "$cache" >&2
fi
echo "$want  $cache/$wheel" | sha256sum --check --status \
    || { echo "fetch-windivert: $wheel does not match its recorded sha256" >&2; exit 1; }
out="$cache/windivert-2.2-signed"
if [ ! -f "$out/WinDivert64.sys" ]; then
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    python3 - "$cache/$wheel" "$out.tmp" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
want = {
    "pydivert/windivert_dll/WinDivert64.sys": "WinDivert64.sys",
    "pydivert-4.0.1.dist-info/licenses/LICENSE": "LICENSE",
    "pydivert-4.0.1.dist-info/licenses/LICENSE-LGPL-3.0-or-later": "LICENSE-LGPL-3.0-or-later",
    "pydivert-4.0.1.dist-info/licenses/LICENSE-GPL-2.0-or-later": "LICENSE-GPL-2.0-or-later",
}
with zipfile.ZipFile(wheel) as z:
    for src, dst in want.items():
        with open(os.path.join(out, dst), "wb") as f:
            f.write(z.read(src))
PY
    rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
