#!/usr/bin/env bash
# Assembles Postern.app.
#
#   installers/macos/assemble-app.sh OUT_DIR [MACOS_BIN_DIR]
#
# MACOS_BIN_DIR is a macOS build's target/<triple>/release (postern-desktop
# and postern, built on a Mac: this Debian machine has no Apple SDK and
# cannot link them). Without it, only the bundle's layout is made — Info.plist,
# icon, folders — and Contents/MacOS stays empty; scripts/installers-test.sh
# checks that layout here. Signing and notarising need a Mac and are not done.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$1
bin=${2:-}

app="$out/Postern.app"
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
sed "s/@VERSION@/$version/g" "$here/Info.plist" > "$app/Contents/Info.plist"
printf 'APPL????' > "$app/Contents/PkgInfo"
command -v png2icns >/dev/null || {
    echo "assemble-app: installing icnsutils (png2icns)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=600 icnsutils >/dev/null
}
png2icns "$app/Contents/Resources/postern.icns" "$root/assets/icon.png" >/dev/null
if [ -n "$bin" ]; then
    for b in postern-desktop postern; do
        [ -f "$bin/$b" ] || { echo "assemble-app: $bin/$b is missing" >&2; exit 1; }
        install -m 755 "$bin/$b" "$app/Contents/MacOS/$b"
    done
    echo "assemble-app: wrote $app"
else
    echo "assemble-app: wrote the layout of $app (no macOS binaries given)"
fi
