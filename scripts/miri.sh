#!/usr/bin/env bash
# Runs the allocator cores under Miri: the heap over a region, the heap
# with thread caches over a region, the process source over the simulated
# kernel's arena, pools and granules (the hosted unit tests that
# src/testing.rs lists for Miri, their randomized runs shortened), once
# with Stacked Borrows and once with Tree Borrows, both with strict
# provenance. Nightly is a test tool only: rawrt itself builds on stable.
#
#   scripts/miri.sh                # both borrow models
#   scripts/miri.sh --tree         # Tree Borrows only (or --stacked)
#   scripts/miri.sh heap::cache    # only tests whose name contains this
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=${RAWRT_NIGHTLY:-nightly-2026-10-30}
MODELS=(stacked tree)
FILTERS=()
for a in "$@"; do
    case $a in
        --stacked) MODELS=(stacked) ;;
        --tree) MODELS=(tree) ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "miri.sh: unknown option $a" >&2; exit 2 ;;
        *) FILTERS+=("$a") ;;
    esac
done
if ! rustup run "$NIGHTLY" cargo miri --version >/dev/null 2>&1; then
    echo "miri: installing $NIGHTLY with miri" >&2
    rustup toolchain install "$NIGHTLY" --profile minimal --component miri,rust-src >&2
fi
cargo "+$NIGHTLY" miri setup >/dev/null 2>&1 || cargo "+$NIGHTLY" miri setup
run_model() { # MODEL: runs the tests under it, each output line timed
    local model=$1 flags="-Zmiri-strict-provenance -Zmiri-ignore-leaks -Zmiri-provenance-gc=1000"
    [ "$model" = tree ] && flags="$flags -Zmiri-tree-borrows"
    local start=$SECONDS
    # Leaks are ignored: the tests leak regions and heaps on purpose
    # (`&'static`, as programs hold them). A frequent provenance GC keeps
    # Stacked Borrows' stacks short on heap words, which every operation
    # reads through a fresh `&AtomicUsize` (minutes instead of seconds
    # for some tests at the default period of 10,000). Each model builds
    # in its own directory so that both can run at once.
    local rc=0
    if ! MIRIFLAGS="$flags" CARGO_TARGET_DIR="target/miri-$model" \
        cargo "+$NIGHTLY" miri test -q -p rawrt --lib -- "${FILTERS[@]}" 2>&1 |
        while IFS= read -r line; do printf '%s %s\n' "$(date +%T)" "$line"; done; then
        rc=1
    fi
    echo "miri ($model borrows, strict provenance): $((SECONDS - start)) s, exit status $rc"
    return "$rc"
}

# The models run side by side (one interpreter thread each); their logs
# are printed one after the other.
mkdir -p target
pids=()
for model in "${MODELS[@]}"; do
    run_model "$model" >"target/miri-$model.log" 2>&1 &
    pids+=($!)
done
status=0
for k in "${!MODELS[@]}"; do
    wait "${pids[$k]}" || status=1
    echo "== miri (${MODELS[$k]} borrows, strict provenance)"
    cat "target/miri-${MODELS[$k]}.log"
done
exit $status
