#!/usr/bin/env bash
# postern-proto must stay pure: no crate in its normal dependency tree may
# do network, file, process or OS-clock I/O. This lists the tree and fails on
# any crate known for I/O, and on any dependency not on the reviewed list.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree -p postern-proto -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
forbidden='^(tokio|mio|socket2|pnet.*|libc|nix|reqwest|ureq|hyper|std-fs|tempfile|directories|dirs|keyring.*|getrandom|rand_core_os|windows.*|winapi|walkdir|notify|sys-locale|i18n-embed.*|rust-embed.*)$'
bad=$(echo "$tree" | grep -E "$forbidden" || true)
if [ -n "$bad" ]; then
    echo "postern-proto depends on I/O crates:" >&2
    echo "$bad" >&2
    cargo tree -p postern-proto -e normal -i "$(echo "$bad" | head -1)" >&2 || true
    exit 1
fi
echo "postern-proto: $(echo "$tree" | wc -l) crates, none doing I/O"
