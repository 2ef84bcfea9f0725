#!/usr/bin/env bash
# Builds postern.msi from Windows binaries with wixl (Debian's msitools).
#
#   installers/windows/build-msi.sh BIN_DIR OUT.msi
#
# BIN_DIR holds posternd.exe, postern.exe and postern-desktop.exe (the
# cross build's target/x86_64-pc-windows-gnu/{debug,release}); WinDivert.dll
# is taken from the windivert-sys build output under it. The signed driver
# comes from installers/windows/fetch-windivert.sh (cached, sha256-checked).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "$1" && pwd)
out=$2

if ! command -v wixl >/dev/null; then
    echo "build-msi: installing wixl"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=600 wixl msitools >/dev/null
fi
for b in posternd postern postern-desktop; do
    [ -f "$bin/$b.exe" ] || { echo "build-msi: $bin/$b.exe is missing" >&2; exit 1; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bin"/posternd.exe "$bin"/postern.exe "$bin"/postern-desktop.exe "$stage/"
# Symbols only make the MSI large (a debug postern-desktop.exe is 160 MB)
# and wixl's compression slow; nobody debugs an installed copy.
x86_64-w64-mingw32-strip "$stage"/*.exe
# Exactly one WinDivert.dll: the build directory of the windivert-sys
# version this tree uses (an older one may linger in a warm target dir).
mapfile -t dlls < <(ls -t "$bin"/build/windivert-sys-*/out/WinDivert.dll 2>/dev/null)
[ ${#dlls[@]} -gt 0 ] || { echo "build-msi: no WinDivert.dll under $bin/build" >&2; exit 1; }
cp "${dlls[0]}" "$stage/WinDivert.dll"
driver=$("$here/fetch-windivert.sh")
cp "$driver"/* "$stage/"
python3 "$root/installers/make-ico.py" "$root/assets/icon.png" "$stage/postern.ico"
cp "$here/postern.wxs" "$stage/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
out_abs=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
# wixl warns about nothing it skips: fail on any GLib warning instead of
# shipping an MSI without a part of this source.
log=$(cd "$stage" && wixl -a x64 -D Version="$version" -o "$out_abs" postern.wxs 2>&1) \
    || { echo "$log" >&2; exit 1; }
if grep -qE 'WARNING|CRITICAL' <<<"$log"; then
    echo "$log" >&2
    echo "build-msi: wixl ignored part of postern.wxs (above)" >&2
    exit 1
fi
echo "build-msi: wrote $out ($(du -h "$out" | cut -f1))"
