#!/usr/bin/env bash
# Fuzzes rawrt's allocators over regions (fuzz/: the heap, the heap with a
# thread cache, the compact region heap, the small heap, pools, granules), each driven by arbitrary operation
# sequences and checked against a shadow model. Stable Rust: the targets
# are built with libFuzzer (crate libfuzzer-sys, built with the machine's
# C++ compiler) and coverage from `-C passes=sancov-module`.
#
#   scripts/fuzz.sh                  # every target 60 s; new inputs go to fuzz/corpus
#   scripts/fuzz.sh -t 600 heap pool # those targets 600 s each
#   scripts/fuzz.sh --ci             # CI: replay fuzz/corpus, then 20 s per target
#                                    # on a scratch copy (the repo is not changed)
#   scripts/fuzz.sh --merge          # minimise fuzz/corpus (after a long run): the
#                                    # fewest inputs that cover what it covers
#
# Prints, per target, the time, the inputs and the allocator operations
# run. A failed check is a crash: libFuzzer stops and keeps the input in
# fuzz/artifacts/<target>/.
set -euo pipefail
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../fuzz"
SECS=60
MODE=run
TARGETS=()
while [ $# -gt 0 ]; do
    case $1 in
        -t) SECS=$2; shift ;;
        --ci) MODE=ci; SECS=20 ;;
        --merge) MODE=merge ;;
        -h|--help) sed -n '2,17p' "$SELF"; exit 0 ;;
        heap|cached_heap|compact_heap|span_heap|pool|granules) TARGETS+=("$1") ;;
        *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(heap cached_heap compact_heap span_heap pool granules)
command -v c++ >/dev/null || { echo "fuzz.sh: libFuzzer needs a C++ compiler (c++)" >&2; exit 1; }

TARGET=x86_64-unknown-linux-gnu
# RUSTFLAGS replaces the config files' flags; with an explicit --target
# they reach only the fuzzed code, not build scripts.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cpanic=abort \
-Cdebug-assertions -Coverflow-checks"
echo "fuzz: building ${TARGETS[*]}" >&2
cargo build -q --release --features libfuzzer --target $TARGET "${TARGETS[@]/#/--bin=}"
BIN=target/$TARGET/release

run() { # TARGET, then libFuzzer arguments
    local t=$1; shift
    mkdir -p "artifacts/$t"
    "$BIN/$t" -artifact_prefix="artifacts/$t/" -print_final_stats=1 "$@" 2>&1 |
        tee "target/fuzz-$t.log" | grep -E '^(==|INFO: Running|Done|stat::number_of_executed_units|rawrt-fuzz|.*(panicked|ERROR|SUMMARY))' || true
    return "${PIPESTATUS[0]}"
}

status=0
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    case $MODE in
        run)
            echo "== $t: ${SECS} s" >&2
            run "$t" -max_total_time="$SECS" -max_len=8192 "corpus/$t" || status=1
            ;;
        ci)
            echo "== $t: the kept corpus, then ${SECS} s" >&2
            run "$t" -runs=0 "corpus/$t" || status=1
            scratch=$(mktemp -d)
            cp -r "corpus/$t/." "$scratch/"
            run "$t" -max_total_time="$SECS" -max_len=8192 "$scratch" || status=1
            rm -rf "$scratch"
            ;;
        merge)
            echo "== $t: minimising the corpus" >&2
            min=$(mktemp -d)
            run "$t" -set_cover_merge=1 "$min" "corpus/$t" || status=1
            rm -rf "corpus/$t" && mv "$min" "corpus/$t"
            echo "$t: $(ls "corpus/$t" | wc -l) inputs kept" >&2
            ;;
    esac
done
exit $status
