#!/usr/bin/env bash
# End-to-end benchmark, Postern vs Debian's knockd and fwknopd, in one run
# (root). Builds the release binaries, installs the anchors, runs
# postern-bench, and rewrites the bench section of docs/benchmarks.md plus
# docs/bench-latency.svg and docs/bench-flood.svg.
#
#   scripts/bench.sh                 full run (~10 minutes)
#   scripts/bench.sh --n 10 --latency-only    a quick look
#   scripts/bench.sh --only "Postern — SYNs"  only the rows naming this
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "bench.sh: run as root: sudo scripts/bench.sh" >&2
    exit 2
fi
need=()
for p in iproute2 nftables iptables knockd fwknop-client fwknop-server; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
systemctl disable --now knockd fwknop-server >/dev/null 2>&1 || true
cargo build --release -q -p postern-server -p postern -p postern-bench
target=${CARGO_TARGET_DIR:-target}
exec "$target/release/postern-bench" --bin-dir "$target/release" --command "scripts/bench.sh${*:+ $*}" "$@"
