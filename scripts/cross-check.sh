#!/usr/bin/env bash
# Type-checks the whole workspace for Windows and macOS, and builds the
# Windows binaries, from this Linux machine.
#
# rustup here has no extra targets, so this uses Debian's rustc-web (which
# ships the std sources as rust-web-src) with -Zbuild-std. Recipe and its
# reasons: ../shared/cross-check.md. Uses its own target dir so it never
# invalidates the normal build.
#
#   scripts/cross-check.sh            check windows-gnu + x86_64 macOS, build the Windows .exe files
#   scripts/cross-check.sh --check    type-check only
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "cross-check: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}"
fi

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_DIR="${POSTERN_XBUILD_DIR:-/var/tmp/postern-xbuild}"
export CARGO_PROFILE_DEV_DEBUG=0
# Debian's cargo must not pick up rustup's toolchain file or wrappers.
unset RUSTUP_TOOLCHAIN CARGO_BUILD_RUSTC_WRAPPER RUSTC_WRAPPER

cargo=/usr/bin/cargo
for target in x86_64-pc-windows-gnu x86_64-apple-darwin; do
    echo "cross-check: cargo check --target $target"
    "$cargo" check -q -Zbuild-std --target "$target" --workspace --all-targets
done
if [ "${1:-}" != "--check" ]; then
    echo "cross-check: building Windows binaries"
    "$cargo" build -q -Zbuild-std --target x86_64-pc-windows-gnu -p postern-server -p postern-client
    ls -l "$CARGO_TARGET_DIR"/x86_64-pc-windows-gnu/debug/*.exe
fi
echo "cross-check: ok"
