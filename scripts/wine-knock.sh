#!/usr/bin/env bash
# The Windows client's packets, verified by the real server: `postern.exe
# knock` runs under wine inside a client network namespace and must open the
# doors of the Linux `posternd` in a server namespace — one door by SPA, one
# by a static sequence of TCP, UDP and ICMP knocks (so the Windows socket
# code and the ICMP helper API path both send real packets). A third
# profile, a keyed SYN token, must fail with the plain-words WinDivert error
# (wine cannot load the driver). Last, an imported key must land in the
# Windows Credential Manager.
#
#   scripts/wine-knock.sh [EXE_DIR]
#
# EXE_DIR holds postern.exe (default: the cross-check build,
# $POSTERN_XBUILD_DIR/x86_64-pc-windows-gnu/debug). The Linux posternd is
# $POSTERND, or built here with cargo into $POSTERN_NATIVE_TARGET_DIR
# (default: the target dir .ci/run uses, so CI reuses its build). Needs root,
# ip, nft, wine64, and the wine prefix scripts/cross-check.sh prepares
# ($POSTERN_WINEPREFIX or /var/tmp/postern-wine, with its bcryptprimitives stand-in): it is copied,
# because wine's ICMP helper sends from the wineserver's processes, which
# must start inside the client namespace, not be shared with other runs.
#
# Addresses only from 198.18.0.0/15; namespace, interface and directory
# names carry this script's PID; the cleanup trap kills only the processes
# started here (by PID, and this run's own wineserver) and deletes the
# namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

say() { echo "wine-knock: $*"; }
fail() { echo "wine-knock: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (network namespaces)"
for t in ip nft; do command -v "$t" >/dev/null || fail "needs $t"; done
wine=/usr/lib/wine/wine64
[ -x "$wine" ] || fail "needs wine64 (apt-get install wine64)"
base_prefix=${POSTERN_WINEPREFIX:-/var/tmp/postern-wine}
[ -f "$base_prefix/drive_c/windows/system32/bcryptprimitives.dll" ] ||
    fail "no prepared wine prefix at $base_prefix: run scripts/cross-check.sh first"

exe_dir=${1:-${POSTERN_XBUILD_DIR:-/var/tmp/postern-xbuild}/x86_64-pc-windows-gnu/debug}
[ -f "$exe_dir/postern.exe" ] || fail "no $exe_dir/postern.exe (build it with scripts/cross-check.sh)"

if [ -n "${POSTERND:-}" ]; then
    posternd=$POSTERND
else
    # Called from cross-check.sh, whose Debian toolchain settings must not
    # build the Linux binary.
    native=${POSTERN_NATIVE_TARGET_DIR:-/var/tmp/postern-ci-target}
    say "building the Linux posternd (target dir $native)"
    env -u RUSTC -u RUSTDOC -u RUSTC_BOOTSTRAP -u CARGO_PROFILE_DEV_DEBUG \
        CARGO_TARGET_DIR="$native" cargo build -q -p postern-server --bin posternd
    posternd=$native/debug/posternd
fi
[ -x "$posternd" ] || fail "no posternd at $posternd"

id=$$
srv_ns=pwk-srv-$id
cli_ns=pwk-cli-$id
srv_if=pwks$id
cli_if=pwkc$id
srv_ip=198.18.77.1
cli_ip=198.18.77.2
tmp=$(mktemp -d "/var/tmp/pwk-$id.XXXXXX")
prefix=$tmp/wineprefix
pids=()

cleanup() {
    local rc=$?
    set +e
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    # This run's own wineserver (its prefix is ours alone), and with it
    # the wine processes it started inside the client namespace.
    if [ -d "$prefix" ]; then
        WINEPREFIX=$prefix ip netns exec "$cli_ns" /usr/lib/wine/wineserver -k 2>/dev/null
    fi
    ip netns del "$srv_ns" 2>/dev/null
    ip netns del "$cli_ns" 2>/dev/null
    if [ $rc != 0 ] && [ -f "$tmp/posternd.log" ]; then
        echo "wine-knock: posternd's log:" >&2
        cat "$tmp/posternd.log" >&2
    fi
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT INT TERM

say "namespaces $srv_ns ($srv_ip) and $cli_ns ($cli_ip)"
ip netns add "$srv_ns"
ip netns add "$cli_ns"
ip link add "$srv_if" type veth peer name "$cli_if"
ip link set "$srv_if" netns "$srv_ns"
ip link set "$cli_if" netns "$cli_ns"
ip -n "$srv_ns" addr add "$srv_ip/24" dev "$srv_if"
ip -n "$cli_ns" addr add "$cli_ip/24" dev "$cli_if"
for ns in "$srv_ns" "$cli_ns"; do ip -n "$ns" link set lo up; done
ip -n "$srv_ns" link set "$srv_if" up
ip -n "$cli_ns" link set "$cli_if" up

# The services behind the doors: accept and close, on both ports.
ip netns exec "$srv_ns" /usr/bin/python3 -c '
import socket, select
ls = []
for port in (3389, 8443):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16); ls.append(s)
while True:
    for s in select.select(ls, [], [])[0]:
        s.accept()[0].close()
' &
pids+=($!)

# The server: `posternd init`, two doors, two users whose profiles
# `posternd user add` writes.
cfg=$tmp/posternd.toml
"$posternd" init --config "$cfg" -i "$srv_if" --public-host "$srv_ip" --state-dir "$tmp/state" >/dev/null
cat >>"$cfg" <<'EOF'

[[door]]
name = "rdp"
proto = "tcp"
port = 3389
duration = 60
spa = true

[[door]]
name = "web"
proto = "tcp"
port = 8443
duration = 60
sequence = "7100,8200:udp,9300,64:icmp"
syn_token = "keyed"
EOF
"$posternd" --config "$cfg" user add alice --door rdp --method spa --out "$tmp/alice.postern" >/dev/null
"$posternd" --config "$cfg" user add bob --door web --method static-sequence --out "$tmp/bob.postern" >/dev/null 2>&1
"$posternd" --config "$cfg" user add carol --door web --method syn-token-keyed --out "$tmp/carol.postern" >/dev/null 2>&1
"$posternd" --config "$cfg" check >/dev/null

ip netns exec "$srv_ns" "$posternd" --config "$cfg" run >/dev/null 2>"$tmp/posternd.log" &
pids+=($!)
for _ in $(seq 100); do
    grep -q "posternd started" "$tmp/posternd.log" && break
    sleep 0.1
done
grep -q "posternd started" "$tmp/posternd.log" || fail "posternd did not start"

# Whether a TCP connection to the door's port succeeds from the client.
opens() {
    ip netns exec "$cli_ns" timeout 3 bash -c "exec 3<>/dev/tcp/$srv_ip/$1" 2>/dev/null
}

say "copying the wine prefix"
cp -a "$base_prefix" "$prefix"
mkdir -p "$tmp/client"

# Runs postern.exe in the client namespace (the prefix's wineserver starts
# there too); the profile and the client's store are on drive Z:.
postern_exe() {
    ip netns exec "$cli_ns" env -u DISPLAY WINEPREFIX="$prefix" WINEDEBUG=-all \
        WINEDLLOVERRIDES="mscoree,mshtml=" POSTERN_CONFIG_DIR="Z:$tmp/client" \
        timeout 180 "$wine" "$exe_dir/postern.exe" "$@"
}

# knock USER PORT LOG: the profile USER.postern must open PORT, and
# posternd must log "accepted src=<client> LOG" (LOG: an extended regex;
# the log quotes string fields).
knock() {
    local user=$1 port=$2 line="accepted src=${cli_ip//./\\.} $3"
    opens "$port" && fail "$port/tcp answers before $user's knock: the door is not guarded"
    say "postern.exe knock $user.postern under wine"
    postern_exe knock "Z:$tmp/$user.postern" ||
        fail "postern.exe knock $user.postern failed"
    local ok=0
    for _ in $(seq 50); do
        if opens "$port"; then ok=1; break; fi
        sleep 0.1
    done
    [ $ok = 1 ] || fail "$port/tcp stayed closed after $user's knock"
    for _ in $(seq 50); do
        grep -qE "$line" "$tmp/posternd.log" && break
        sleep 0.1
    done
    grep -qE "$line" "$tmp/posternd.log" || fail "no \"$line\" in posternd's log"
    say "$port/tcp: closed before, open after; posternd: $(grep -oE "$line" "$tmp/posternd.log" | head -1)…"
}

# SPA names its user; a static sequence is anyone's (no user in the line).
knock alice 3389 'user="alice" method=spa'

# A SYN token needs WinDivert, whose driver cannot load under wine: the
# knock must end with the plain-words error (exit 1), not a crash.
say "postern.exe knock carol.postern (keyed SYN token) under wine: needs WinDivert"
set +e
out=$(postern_exe knock "Z:$tmp/carol.postern" 2>&1)
rc=$?
set -e
echo "$out" | sed 's/^/    /'
[ $rc = 1 ] || fail "the SYN-token knock under wine exited with $rc, not 1"
echo "$out" | grep -qE "SYN-token knocks need|the WinDivert driver could not be opened" ||
    fail "the SYN-token knock under wine did not say what it needs"
knock bob 8443 'user="?-"? method=sequence'
# The key of an imported profile goes to the Windows Credential Manager
# (--strict: a file fallback is refused), not to a file.
postern_exe --strict import --yes "Z:$tmp/alice.postern" >"$tmp/import.out" 2>&1 || {
    cat "$tmp/import.out" >&2
    fail "postern.exe --strict import: the Windows Credential Manager did not take the key"
}
[ ! -e "$tmp/client/secrets.toml" ] || fail "the key went to a file, not to the Credential Manager"
say "ok: postern.exe under wine opened both doors of the Linux posternd; its key store is the Credential Manager"
