#!/usr/bin/env bash
# Builds the packages to hand out, from RELEASE builds, into
# target/packages/ (or $1):
#
#   postern-server_*.deb, postern_*.deb   cargo-deb (installers/linux/)
#   postern.msi                           wixl (installers/windows/), from the
#                                         Windows cross build (Debian's rustc-web,
#                                         see scripts/cross-check.sh)
#   Postern.app                           layout only: no macOS binary can be
#                                         built here (installers/macos/)
#
# This is for a human making a release, and slow (release builds of the
# GUI take ~15 min each on 2 cores). CI does NOT run it: the test suite's
# scripts/installers-test.sh packages the debug binaries the tests already
# built, to check the packages without paying for a second, release build.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=${1:-${CARGO_TARGET_DIR:-$repo/target}/packages}
mkdir -p "$out"
out=$(cd "$out" && pwd)

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version 3.8.0

echo "package: release build (Linux)"
cargo build --release -p postern-server -p postern -p postern-desktop
for p in postern-server postern; do
    cargo deb -p "$p" --no-build -o "$out/"
done

echo "package: release build (Windows, cross)"
(
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    export CARGO_TARGET_DIR="${POSTERN_XBUILD_DIR:-/var/tmp/postern-xbuild}"
    unset RUSTUP_TOOLCHAIN CARGO_BUILD_RUSTC_WRAPPER RUSTC_WRAPPER
    command -v x86_64-w64-mingw32-gcc >/dev/null || scripts/cross-check.sh --check
    /usr/bin/cargo build -q --release -Zbuild-std --target x86_64-pc-windows-gnu \
        -p postern-server -p postern -p postern-desktop
    installers/windows/build-msi.sh "$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/release" "$out/postern.msi"
)

installers/macos/assemble-app.sh "$out"
python3 installers/macos/check-app.py "$out/Postern.app"
ls -l "$out"
