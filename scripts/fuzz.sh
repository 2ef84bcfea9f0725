#!/usr/bin/env bash
# Bounded fuzzing of every parser of untrusted input (cargo-fuzz / libFuzzer).
#
#   scripts/fuzz.sh                 every target for $FUZZ_SECONDS (default 30) s
#   scripts/fuzz.sh spa_decode ...  only these targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh matcher
#   FUZZ_TOOLCHAIN=stable scripts/fuzz.sh   force the stable fallback
#
# Exits non-zero if any target crashes, hangs (> 10 s on one input) or goes
# over 2 GiB, printing the input that did it (under fuzz/artifacts/<target>/).
# Reproduce one with `cargo +nightly fuzz run <target> <file>`; see
# fuzz/README.md for turning it into a regression test.
#
# Toolchain: `+nightly` when rustup has a nightly toolchain; otherwise
# stable with RUSTC_BOOTSTRAP=1, which cargo-fuzz needs for -Zsanitizer
# (tested with stable 1.95: AddressSanitizer builds and runs). Should a
# stable release refuse the sanitizer, the script retries with
# `--sanitizer none`: libFuzzer's coverage instrumentation uses only stable
# -C flags, and panics, overflow checks (debug assertions are on), hangs and
# the RSS limit are caught without a sanitizer (safe Rust gains little
# from ASan).
#
# New corpus entries go to a scratch directory in the fuzz target dir; the
# committed seeds in fuzz/corpus/<target>/ are only read.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds="${FUZZ_SECONDS:-30}"
all_targets=(packet_parse spa_decode fwknop_decode config_parse profile_parse knockd_import matcher stun_response)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

say() { printf 'fuzz.sh: %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked
fi

# FUZZ_TOOLCHAIN=stable forces the fallback (to test it where nightly exists).
if [ "${FUZZ_TOOLCHAIN:-auto}" != stable ] &&
    rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
    sanitizer=address
else
    say "no nightly toolchain (or FUZZ_TOOLCHAIN=stable): stable with RUSTC_BOOTSTRAP=1"
    toolchain=()
    sanitizer=address
    export RUSTC_BOOTSTRAP=1
fi

# The fuzz crate's own target dir: never the workspace's (different flags).
# CI exports CARGO_TARGET_DIR outside the clone to keep builds warm; use a
# subdirectory of it there, fuzz/target otherwise.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
else
    export CARGO_TARGET_DIR="$root/fuzz/target"
fi

fuzz=(cargo "${toolchain[@]}" fuzz)

start=$(date +%s)
say "building ${#all_targets[@]} targets (${toolchain[*]:-stable}, sanitizer $sanitizer)"
if ! "${fuzz[@]}" build --sanitizer "$sanitizer" --fuzz-dir fuzz; then
    [ ${#toolchain[@]} -eq 0 ] || exit 1
    sanitizer=none
    say "build with the sanitizer failed on stable: retrying with --sanitizer none"
    "${fuzz[@]}" build --sanitizer "$sanitizer" --fuzz-dir fuzz
fi
say "built in $(($(date +%s) - start)) s"
flags=(--sanitizer "$sanitizer")

failed=()
for t in "${targets[@]}"; do
    scratch="$CARGO_TARGET_DIR/corpus/$t"
    artifacts="$root/fuzz/artifacts/$t"
    mkdir -p "$scratch" "$artifacts"
    dirs=("$scratch" "fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
    log="$CARGO_TARGET_DIR/fuzz-$t.log"
    before=$(find "$artifacts" -type f | sort)
    say "$t: ${seconds} s"
    status=0
    "${fuzz[@]}" run "${flags[@]}" --fuzz-dir fuzz "$t" "${dirs[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    # The last status line: "#N DONE cov: C ft: F corp: ... exec/s: E ...".
    grep -E '^#[0-9]+' "$log" | tail -n 1 | sed "s/^/fuzz.sh: $t: /" >&2 || true
    new=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed '/^$/d')
    if [ $status -ne 0 ] || [ -n "$new" ]; then
        tail -n 40 "$log" >&2
        say "$t FAILED (exit $status); full log: $log"
        for a in $new; do say "$t: crashing input: $a"; done
        failed+=("$t")
    fi
done

say "done in $(($(date +%s) - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    say "failed: ${failed[*]}"
    exit 1
fi
