#!/usr/bin/env bash
# Builds and checks Postern's installers (issue #16), as scripts/test.sh
# runs it after the cross-check:
#
#   .deb  postern-server + postern: contents, lintian, installed here with
#         dpkg -i, the example config passes `posternd check`, the units pass
#         `systemd-analyze verify`, .postern files get Postern's MIME type,
#         and `dpkg --purge` leaves no Postern table/set/chain and no file.
#   .msi  built with wixl; msiinfo shows the service, the file association
#         and the shortcut; installed and removed with wine's msiexec.
#   .app  the bundle layout and Info.plist (no macOS binary is built here).
#
# These packages are made from the DEBUG binaries the test step already
# built (stripped): CI must not pay for a second, release build. They are
# test artefacts, not what users get; scripts/package.sh builds the real
# release packages.
#
# Root only (dpkg -i, network namespaces). Runs beside other test runs on
# the same machine: firewall objects are made and checked inside a network
# namespace of its own (dpkg --purge runs in it, so the package's prerm
# cleans that namespace), nothing is flushed, and a config already in
# /etc/postern is put back afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

say() { echo "installers-test: $*"; }
fail() {
    echo "installers-test: FAIL: $*" >&2
    exit 1
}

if [ "$(id -u)" != 0 ]; then
    say "SKIPPED: not root (dpkg -i and network namespaces need root)"
    exit 0
fi

target=${CARGO_TARGET_DIR:-$repo/target}
xbuild=${POSTERN_XBUILD_DIR:-/var/tmp/postern-xbuild}
out=$(mktemp -d /var/tmp/postern-installers.XXXXXX)
ns="pt-inst-$$"
etc_backup=""
cleanup() {
    local rc=$?
    set +e
    # Never leave the packages installed or half-installed.
    for p in postern-server postern; do
        if dpkg -s "$p" >/dev/null 2>&1 || dpkg -L "$p" >/dev/null 2>&1; then
            dpkg_locked ip netns exec "$ns" dpkg --purge "$p" >/dev/null 2>&1 ||
                dpkg_locked dpkg --purge "$p" >/dev/null 2>&1
        fi
    done
    ip netns del "$ns" 2>/dev/null
    if [ -n "$etc_backup" ]; then
        mkdir -p /etc/postern
        cp -a "$etc_backup"/. /etc/postern/
        rm -rf "$etc_backup"
    fi
    rm -rf "$out"
    exit "$rc"
}
trap cleanup EXIT

# dpkg waits for no lock, and other runs on this machine install
# packages too (apt-get -o DPkg::Lock::Timeout=600): retry while the lock
# is held, up to 10 minutes.
dpkg_locked() {
    local out i
    for i in $(seq 300); do
        if out=$("$@" 2>&1); then
            printf '%s\n' "$out"
            return 0
        fi
        grep -q 'dpkg frontend lock\|dpkg status database is locked' <<<"$out" || {
            printf '%s\n' "$out" >&2
            return 1
        }
        sleep 2
    done
    printf '%s\n' "$out" >&2
    return 1
}

step_start=0
timed() { step_start=$(date +%s); }
took() { echo "$(($(date +%s) - step_start)) s"; }

# ---------------------------------------------------------------- tools
if ! command -v cargo-deb >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo-deb" ]; then
    say "installing cargo-deb (cached in ~/.cargo/bin)"
    cargo install cargo-deb --locked --version 3.8.0
fi
export PATH="$HOME/.cargo/bin:$PATH"
for t in lintian dpkg-shlibdeps systemd-analyze xdg-mime mimetype update-mime-database wixl msiinfo png2icns; do
    command -v "$t" >/dev/null || fail "$t is missing (scripts/test.sh installs it)"
done

# ---------------------------------------------------------------- .deb
for b in posternd postern postern-desktop; do
    [ -x "$target/debug/$b" ] || {
        say "no $target/debug/$b: building the debug binaries"
        cargo build -p postern-server -p postern -p postern-desktop
        break
    }
done
timed
# cargo-deb warns that the dev profile "will be a hard error in the
# future": it is pinned (3.8.0 above), and packaging the debug build is the
# point here (see the top of this file).
for p in postern-server postern; do
    cargo deb -p "$p" --no-build --profile dev --strip --fast -o "$out/" >/dev/null
done
server_deb=$(ls "$out"/postern-server_*.deb)
client_deb=$(ls "$out"/postern_*.deb)
say "built $(basename "$server_deb") ($(du -h "$server_deb" | cut -f1)) and $(basename "$client_deb") ($(du -h "$client_deb" | cut -f1)) in $(took)"

# dpkg-deb -c: every file each package must carry.
expect_files() {
    local deb=$1
    shift
    local listing
    listing=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
    for f in "$@"; do
        grep -qxF "$f" <<<"$listing" || fail "$(basename "$deb") does not contain $f"
    done
}
expect_files "$server_deb" /usr/sbin/posternd /usr/lib/systemd/system/posternd.service \
    /usr/lib/systemd/system/posternd-baseline.service /etc/postern/posternd.toml.example \
    /usr/share/doc/postern-server/copyright /usr/share/doc/postern-server/changelog.Debian.gz \
    /usr/share/doc/postern-server/admin.md /usr/share/lintian/overrides/postern-server
expect_files "$client_deb" /usr/bin/postern /usr/bin/postern-desktop \
    /usr/share/applications/postern.desktop /usr/share/mime/packages/postern.xml \
    /usr/share/icons/hicolor/256x256/apps/postern.png /usr/share/doc/postern/copyright \
    /usr/share/lintian/overrides/postern
dpkg-deb -f "$server_deb" Depends | grep -q 'nftables | iptables' || fail "postern-server does not depend on a firewall"
grep -qx /etc/postern/posternd.toml.example < <(dpkg-deb --ctrl-tarfile "$server_deb" | tar -xO ./conffiles) ||
    fail "the example config is not a conffile"
# Enabled but not started: the generated postinst only try-restarts (an
# upgrade of a running daemon), never starts.
if dpkg-deb --ctrl-tarfile "$server_deb" | tar -xO ./postinst | grep -qE 'deb-systemd-invoke (start|restart) posternd'; then
    fail "postern-server's postinst starts posternd"
fi
say "dpkg-deb -c: both packages hold what they must"

timed
# Overrides (with reasons) are in installers/linux/debian/*.lintian-overrides.
lint_rc=0
lint=$(lintian --fail-on error,warning "$server_deb" "$client_deb" 2>&1) || lint_rc=$?
grep -v 'running with root privileges' <<<"$lint" || true
[ "$lint_rc" = 0 ] || fail "lintian"
say "lintian: clean apart from the documented overrides ($(took))"

# Install on this machine. A config already in /etc/postern (someone's
# real one) is kept aside and put back by the cleanup.
if [ -d /etc/postern ] && [ -n "$(ls -A /etc/postern)" ]; then
    etc_backup=$(mktemp -d)
    cp -a /etc/postern/. "$etc_backup/"
fi
ip netns add "$ns"
ip -n "$ns" link set lo up
timed
dpkg_locked ip netns exec "$ns" dpkg -i "$server_deb" "$client_deb" >/dev/null || fail "dpkg -i"
say "dpkg -i: installed ($(took))"

/usr/sbin/posternd --config /etc/postern/posternd.toml.example check | grep -q ': ok$' ||
    fail "posternd check of the installed example config"
say "posternd check /etc/postern/posternd.toml.example: ok"
for u in posternd posternd-baseline; do
    SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no "/usr/lib/systemd/system/$u.service" ||
        fail "systemd-analyze verify $u.service"
done
# Enabled, not started (nothing runs: there is no config yet); the
# baseline unit is opt-in.
[ -L /etc/systemd/system/multi-user.target.wants/posternd.service ] || fail "posternd.service is not enabled"
[ ! -e /etc/systemd/system/sysinit.target.wants/posternd-baseline.service ] ||
    fail "posternd-baseline.service was enabled"
say "systemd-analyze verify: both units ok; posternd.service enabled"

# The .postern type, registered through shared-mime-info's dpkg trigger,
# and the desktop entry that handles it.
probe=$(mktemp -d)
printf 'version = 1\n' > "$probe/x.postern"
mime=$(cd "$probe" && XDG_DATA_DIRS=/usr/share xdg-mime query filetype x.postern)
rm -rf "$probe"
[ "$mime" = application/x-postern ] || fail "xdg-mime query filetype x.postern gave '$mime'"
grep -q '^MimeType=application/x-postern;' /usr/share/applications/postern.desktop ||
    fail "postern.desktop does not handle application/x-postern"
grep -q '^Exec=postern-desktop %f$' /usr/share/applications/postern.desktop ||
    fail "postern.desktop does not pass the file to postern-desktop"
say "xdg-mime query filetype x.postern: $mime (opened by postern-desktop %f)"

# Give the purge something to remove: the kernel objects of a config with
# a door (port 9/tcp, inside this run's namespace only).
cat > /etc/postern/posternd.toml <<'TOML'
[server]
server_id = "00112233445566778899aabbccddeeff"
interfaces = ["lo"]
state_dir = "/var/lib/postern"
[[door]]
name = "discard"
proto = "tcp"
port = 9
spa = true
TOML
ip netns exec "$ns" /usr/sbin/posternd --config /etc/postern/posternd.toml baseline >/dev/null ||
    fail "posternd baseline in $ns"
ip netns exec "$ns" nft list table inet postern >/dev/null 2>&1 ||
    fail "posternd baseline made no table in $ns"
mkdir -p /var/lib/postern
mapfile -t owned < <(dpkg -L postern-server postern | while read -r f; do [ -d "$f" ] || echo "$f"; done)
[ ${#owned[@]} -gt 10 ] || fail "dpkg -L lists too little"

timed
dpkg_locked ip netns exec "$ns" dpkg --purge postern-server postern >/dev/null || fail "dpkg --purge"
say "dpkg --purge: removed ($(took))"
if ip netns exec "$ns" nft list table inet postern >/dev/null 2>&1; then
    fail "the postern nftables table survived the purge"
fi
if ip netns exec "$ns" nft list tables 2>/dev/null | grep -qi postern; then
    fail "a postern nftables table survived the purge"
fi
if command -v ipset >/dev/null && ip netns exec "$ns" ipset list -n 2>/dev/null | grep -qi postern; then
    fail "a postern ipset survived the purge"
fi
for ipt in iptables ip6tables; do
    if command -v "$ipt" >/dev/null && ip netns exec "$ns" "$ipt" -w -S 2>/dev/null | grep -qi postern; then
        fail "a postern $ipt chain survived the purge"
    fi
done
left=()
for f in "${owned[@]}" /etc/postern /var/lib/postern; do
    [ -e "$f" ] && left+=("$f")
done
[ ${#left[@]} = 0 ] || fail "files left after the purge: ${left[*]}"
say "after purge: no Postern table, set or chain in $ns, and none of the ${#owned[@]} files left"

# ---------------------------------------------------------------- .msi
exe="$xbuild/x86_64-pc-windows-gnu/debug"
[ -f "$exe/posternd.exe" ] || fail "no Windows binaries in $exe (scripts/cross-check.sh builds them)"
timed
installers/windows/build-msi.sh "$exe" "$out/postern.msi" >/dev/null
say "built postern.msi ($(du -h "$out/postern.msi" | cut -f1)) in $(took)"
table() { msiinfo export "$out/postern.msi" "$1" | tail -n +4; }
table ServiceInstall | awk -F'\t' '$2 == "posternd" && $5 == 2 { ok = 1 } END { exit !ok }' ||
    fail "msiinfo: no automatic-start posternd service"
table ServiceInstall | grep -q 'run --service' || fail "msiinfo: the service does not run posternd run --service"
table CustomAction | grep -q 'failure posternd reset= 86400 actions= restart/1000' ||
    fail "msiinfo: no recovery actions for the service"
table CustomAction | grep -qP '^PosterndUninstall\t\d+\tposternd\.exe\tuninstall' ||
    fail "msiinfo: removal does not run posternd uninstall"
# wixl writes ProgId/Extension/Verb as the registry rows they stand for.
table Registry | grep -qP '\t\.postern\t\tPostern\.Profile\t' || fail "msiinfo: .postern is not associated"
table Registry | grep -qF 'Postern.Profile\shell\open\command' || fail "msiinfo: no open verb"
table Registry | grep -qF '"[#postern_desktop.exe]" "%1"' || fail "msiinfo: the open verb does not run postern-desktop"
table Shortcut | grep -qF '[INSTALLDIR]postern-desktop.exe' || fail "msiinfo: no Start-menu shortcut"
table Feature | cut -f1 | sort | tr '\n' ' ' | grep -qx 'Client Server ' || fail "msiinfo: features are not Client and Server"
table Upgrade | grep -q WIX_UPGRADE_DETECTED || fail "msiinfo: no major upgrade"
say "msiinfo: service (auto start, recovery), .postern association, shortcut, Client/Server features, upgrade"

export WINEPREFIX=${POSTERN_WINEPREFIX:-/var/tmp/postern-wine} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wine=/usr/lib/wine/wine64
[ -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ] ||
    fail "no prepared wine prefix at $WINEPREFIX (scripts/cross-check.sh makes it)"
msi_win="Z:${out//\//\\}\\postern.msi"
installed="$WINEPREFIX/drive_c/Program Files/Postern"
timed
(unset DISPLAY; timeout 600 "$wine" msiexec /i "$msi_win" /qn) || fail "wine msiexec /i"
for f in posternd.exe postern.exe postern-desktop.exe WinDivert.dll WinDivert64.sys; do
    [ -f "$installed/$f" ] || fail "msiexec /i did not install $f"
done
(unset DISPLAY; timeout 120 "$wine" 'C:\Program Files\Postern\posternd.exe' --help) | grep -q 'Usage: posternd' ||
    fail "the installed posternd.exe --help did not run"
(unset DISPLAY; timeout 120 "$wine" reg query 'HKLM\System\CurrentControlSet\Services\posternd') | grep -q 'run --service' ||
    fail "msiexec /i registered no posternd service"
say "wine msiexec /i: installed; posternd.exe --help runs; service registered ($(took))"
timed
(unset DISPLAY; timeout 600 "$wine" msiexec /x "$msi_win" /qn /l*v "${msi_win%.msi}-x.log" >/dev/null) ||
    fail "wine msiexec /x"
# The removal ran `posternd uninstall` (Postern's firewall rules; under
# wine the firewall is a stub, so only that it ran is checked).
grep -aq 'PosterndUninstall. Return value 1' "$out/postern-x.log" || fail "msiexec /x did not run posternd uninstall"
[ ! -e "$installed" ] || fail "msiexec /x left $(ls "$installed")"
if (unset DISPLAY; timeout 120 "$wine" reg query 'HKLM\System\CurrentControlSet\Services\posternd') >/dev/null 2>&1; then
    fail "msiexec /x left the posternd service"
fi
say "wine msiexec /x: posternd uninstall ran; files and service removed ($(took))"
# What wine cannot show: the service starting (wine runs no Windows
# service for real here), the recovery actions taking effect (wine's
# sc.exe accepts `failure` but keeps nothing), the driver loading.

# ---------------------------------------------------------------- .app
installers/macos/assemble-app.sh "$out" >/dev/null
python3 installers/macos/check-app.py "$out/Postern.app"

say "all ok"
