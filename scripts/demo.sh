#!/usr/bin/env bash
# The main job, in one command (as root): builds posternd and the postern
# client, then runs `posternd demo`: two network namespaces, posternd guarding
# a port in one, the real client knocking from the other:
# closed → knock → open → closed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "demo.sh: run as root (network namespaces and firewall rules): sudo scripts/demo.sh" >&2
    exit 2
fi
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# `posternd demo` is test tooling (the network-namespace stage), built only
# with the netns-testing feature; a production posternd has no demo command.
cargo build --release -q -p postern-server -p postern --features postern-server/netns-testing
target=${CARGO_TARGET_DIR:-target}
exec "$target/release/posternd" demo --client "$target/release/postern" "$@"
