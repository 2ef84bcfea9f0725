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

# Runs the console commands of the Windows binaries under wine (a GUI
# window cannot run there without a display, so only `--help` of the client).
run_under_wine() {
    local exe=$1
    if ! dpkg -s wine64 >/dev/null 2>&1; then
        echo "cross-check: installing wine64"
        apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 wine64
    fi
    export WINEPREFIX="${POSTERN_WINEPREFIX:-/var/tmp/postern-wine}" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
    local wine=/usr/lib/wine/wine64
    if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
        (unset DISPLAY; timeout 300 "$wine" wineboot --init >/dev/null 2>&1 || true)
        # wineboot returns while the new prefix's services are still being
        # set up; a WinDivert open then meets a busy service manager (1053,
        # 1055) instead of wine's plain "no kernel drivers" (1114). Wait
        # until every process of this prefix has ended.
        timeout 300 /usr/lib/wine/wineserver -w || true
        # Debian's wine 8 lacks ProcessPrng, which Rust's std imports: a tiny
        # stand-in over RtlGenRandom (see ../shared/cross-check.md).
        local tmp
        tmp=$(mktemp -d)
        cat > "$tmp/bcp.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
BOOL WINAPI ProcessPrng(PBYTE p, SIZE_T n) {
    while (n) { ULONG k = n > 0x10000000 ? 0x10000000 : (ULONG)n;
                if (!SystemFunction036(p, k)) return FALSE; p += k; n -= k; }
    return TRUE; }
C
        printf 'LIBRARY bcryptprimitives\nEXPORTS\nProcessPrng\n' > "$tmp/bcp.def"
        x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
            "$tmp/bcp.c" "$tmp/bcp.def" -ladvapi32
        rm -rf "$tmp"
    fi
    local cfg cfgdir
    cfg=$(mktemp --suffix=.toml)
    cfgdir=$(mktemp -d)
    printf '[server]\nserver_id = "00112233445566778899aabbccddeeff"\ninterfaces = ["Ethernet"]\n[[door]]\nname = "rdp"\nproto = "tcp"\nport = 3389\nspa = true\n' > "$cfg"
    # posternd.exe imports WinDivert.dll (built by windivert-sys' vendored
    # feature): without it next to the .exe not even --help starts.
    cp "$CARGO_TARGET_DIR"/x86_64-pc-windows-gnu/debug/build/windivert-sys-*/out/WinDivert.dll "$exe/"
    (
        unset DISPLAY
        # Inside `( ... ) || ...` errexit is off: each check exits itself.
        timeout 120 "$wine" "$exe/posternd.exe" --help | grep -q "Usage: posternd" || exit 1
        timeout 120 "$wine" "$exe/posternd.exe" --config "Z:$cfg" check | grep -q "door rdp: 3389/tcp" || exit 1
        posternd_under_wine "$wine" "$exe" || exit 1
        timeout 120 "$wine" "$exe/postern.exe" --help | grep -q "Usage: postern" || exit 1
        # A command that reads the config folder: the store's Windows paths
        # and the output through a pipe.
        POSTERN_CONFIG_DIR="Z:$cfgdir" timeout 120 "$wine" "$exe/postern.exe" list | grep -q "no saved hosts"
    ) || { echo "cross-check: the Windows binaries did not run under wine" >&2; rm -rf "$cfg" "$cfgdir"; return 1; }
    rm -rf "$cfg" "$cfgdir"
    echo "cross-check: posternd.exe (--help, check, broken check, init, user add, run) and postern.exe (--help, list) run under wine"
}

# posternd.exe's admin commands under wine, in a fresh folder: a broken
# config is reported with file:line:column; init writes a config with the
# RDP door (wine's firewall lists no rules, so none is disabled); user add
# writes a profile; run fails with the plain WinDivert driver error (wine
# cannot load kernel drivers) instead of crashing.
posternd_under_wine() {
    local wine=$1 exe=$2 dir out rc=0
    dir=$(mktemp -d)
    posternd_wine_steps "$wine" "$exe" "$dir" || rc=$?
    rm -rf "$dir"
    return "$rc"
}

posternd_wine_steps() {
    local wine=$1 exe=$2 dir=$3 out
    printf '[server]\nserver_id = "00112233445566778899aabbccddeeff"\ninterfaces = ["Ethernet"]\n[[door]]\nname = "rdp"\nproto = "tcp"\nport = 99999\n' > "$dir/broken.toml"
    if out=$(timeout 120 "$wine" "$exe/posternd.exe" --config "Z:$dir/broken.toml" check 2>&1); then
        echo "cross-check: check accepted a broken config" >&2; return 1
    fi
    grep -q 'broken.toml:7:8: invalid value' <<<"$out" || { echo "$out" >&2; return 1; }
    out=$(timeout 120 "$wine" "$exe/posternd.exe" --config "Z:$dir/posternd.toml" init \
        --state-dir "Z:$dir/state" --public-host rdp.example.org 2>&1) || { echo "$out" >&2; return 1; }
    grep -q 'Windows Firewall: no enabled rule opens a protected port' <<<"$out" || { echo "$out" >&2; return 1; }
    grep -q '^port = 3389' "$dir/posternd.toml" || { echo "init wrote no RDP door" >&2; return 1; }
    out=$(timeout 120 "$wine" "$exe/posternd.exe" --config "Z:$dir/posternd.toml" user add alice \
        --door rdp --out "Z:$dir/alice.postern" 2>&1) || { echo "$out" >&2; return 1; }
    grep -q 'added user alice' <<<"$out" && [ -s "$dir/alice.postern" ] || { echo "$out" >&2; return 1; }
    timeout 120 "$wine" "$exe/posternd.exe" --config "Z:$dir/posternd.toml" check | grep -q "user alice: doors rdp" \
        || { echo "cross-check: check does not list alice" >&2; return 1; }
    local rc=0
    out=$(timeout 120 "$wine" "$exe/posternd.exe" --config "Z:$dir/posternd.toml" run 2>&1) || rc=$?
    [ "$rc" = 1 ] || { echo "cross-check: posternd.exe run exited $rc (expected 1): $out" >&2; return 1; }
    # wine has no kernel drivers: WinDivert.dll fails to load the driver
    # (1114). A prefix still settling after wineboot gave 1053 or 1055
    # instead (hence the wineserver -w above); 1053 stays accepted, since
    # posternd words it too. Either way it must say it in words and exit 1.
    grep -Eq '^posternd: capturing on interface any: the WinDivert driver (could not be loaded|did not start in time)' <<<"$out" \
        || { echo "cross-check: unexpected run error: $out" >&2; return 1; }
}
echo "cross-check: cargo check --target x86_64-pc-windows-gnu (all targets)"
"$cargo" check -q -Zbuild-std --target x86_64-pc-windows-gnu --workspace --all-targets
# No Apple SDK here: dev-dependencies that compile C (criterion's `alloca`)
# cannot be built for macOS, so macOS checks the libraries and binaries —
# everything that ships.
echo "cross-check: cargo check --target x86_64-apple-darwin (libraries and binaries)"
"$cargo" check -q -Zbuild-std --target x86_64-apple-darwin --workspace --lib --bins
if [ "${1:-}" != "--check" ]; then
    echo "cross-check: building Windows binaries"
    "$cargo" build -q -Zbuild-std --target x86_64-pc-windows-gnu -p postern-server -p postern -p postern-desktop
    exe="$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/debug"
    ls -l "$exe"/*.exe
    for b in posternd postern postern-desktop; do
        [ -f "$exe/$b.exe" ] || { echo "cross-check: $b.exe was not built" >&2; exit 1; }
    done
    run_under_wine "$exe"
    scripts/wine-knock.sh "$exe"
fi
echo "cross-check: ok"
