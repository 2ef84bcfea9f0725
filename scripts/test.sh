#!/usr/bin/env bash
# Postern's whole test suite, as CI runs it (.ci/run calls exactly this).
#
#   scripts/test.sh            everything: packages, fmt, clippy, tests (incl.
#                              network-namespace end-to-end tests as root),
#                              Windows/macOS cross-checks, bounded fuzzing
#   scripts/test.sh --quick    fmt, clippy, tests only
#
# Run as root on Debian 12 with Rust installed. It installs the Debian
# packages it needs (nftables, iptables, ipset, knockd, fwknop, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

step() { printf '\n=== %s ===\n' "$*"; }

# The desktop app follows the system's language (English or Spanish); the
# English window tests expect English, whatever this machine's locale is.
# (tests/gui_spanish.rs chooses Spanish explicitly.)
export LC_ALL=C.UTF-8
unset LANGUAGE

if [ "$(id -u)" = 0 ]; then
    # openssl: the command makes the allow=url test's CA and certificates.
    # lintian .. icnsutils: scripts/installers-test.sh (.deb checks, the
    # .postern MIME type, wixl for the MSI, png2icns for the app's icon).
    # faketime: the client with a wrong clock (cli/tests/clock_netns.rs).
    # mesa-vulkan-drivers, libvulkan1: the GUI snapshots render with wgpu on
    # Mesa's software Vulkan (lavapipe); no GPU or display needed.
    pkgs=(iproute2 nftables iptables ipset conntrack knockd fwknop-client fwknop-server keyutils fail2ban coturn openssl python3 faketime
          mesa-vulkan-drivers libvulkan1
          lintian dpkg-dev xdg-utils shared-mime-info desktop-file-utils libfile-mimeinfo-perl wixl msitools icnsutils)
    missing=()
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        step "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
    fi
    # knockd's package enables a service on install in some setups; we run
    # our own instances only.
    systemctl disable --now knockd >/dev/null 2>&1 || true
    # fail2ban is here for fail2ban-regex (the filter test), not as a service.
    systemctl disable --now fail2ban >/dev/null 2>&1 || true
    # coturn likewise; the STUN tests start their own turnserver (--stun-only).
    systemctl disable --now coturn >/dev/null 2>&1 || true
else
    echo "test.sh: not root: network-namespace tests will be skipped (they say so)" >&2
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace --no-fail-fast -- --test-threads "${POSTERN_TEST_THREADS:-4}"

step "GUI snapshots: light and dark, 100 % and 150 % (wgpu on lavapipe)"
# A separate run: the feature adds egui_kittest's renderer, and with it in
# the workspace run every GUI test would pay for a GPU device.
if [ -n "$(ls /usr/share/vulkan/icd.d 2>/dev/null)" ]; then
    cargo test -p postern-desktop --features snapshots --test gui_snapshots
else
    echo "test.sh: no Vulkan driver (install mesa-vulkan-drivers): GUI snapshots skipped" >&2
fi

step "postern-proto does no I/O"
scripts/check-proto-deps.sh

if [ $quick = 1 ]; then
    echo "test.sh: quick run ok"
    exit 0
fi

step "Windows and macOS type-checks, Windows binaries under wine"
# wine-knock.sh (called by cross-check.sh) knocks the Linux posternd that
# the tests above built; no second build with other features.
native_posternd="${CARGO_TARGET_DIR:-$PWD/target}/debug/posternd"
if [ -x "$native_posternd" ]; then
    export POSTERND="$native_posternd"
fi
scripts/cross-check.sh

step "installers: .deb (installed and purged here), .msi (under wine), .app layout"
# After the cross-check: the MSI packs its Windows binaries.
scripts/installers-test.sh

if [ -x scripts/fuzz.sh ]; then
    step "bounded fuzzing"
    scripts/fuzz.sh
fi

echo
echo "test.sh: all ok"
