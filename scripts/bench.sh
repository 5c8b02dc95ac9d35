#!/usr/bin/env bash
# Allocator benchmarks, side by side in one run (issues 3 and 4). Timings
# are not tests: this is not part of .ci/run; run it by hand:
#
#   scripts/bench.sh            # full run, about 3-4 minutes on 2 cores
#   scripts/bench.sh --quick    # smaller workloads, one repetition (~1 min)
#   scripts/bench.sh --c-only | --rust-only
#   scripts/bench.sh --baseline REV   # also rawrt as of git revision REV
#                               # ("before"), in the same run: a column of
#                               # every C table, and a table of rawrt's
#                               # Rust rows against it
#   scripts/bench.sh --small    # also rawrt with the small heap (feature
#                               # small-heap, "small"): a column of every
#                               # C table
#
# 1. bench/malloc_bench.c, built against librawrt.a (-nostdlib -static)
#    and against glibc, the latter run plain and with libmimalloc.so.2 and
#    libjemalloc.so.2 preloaded: ns per allocator call (best of 3 runs),
#    peak RSS, RSS after everything was freed, and system calls per run
#    (strace -f -c, net of an empty run's).
# 2. bench/rust (its own Cargo workspace): talc-style random actions and
#    heap efficiency over one region size against talc, rlsf, dlmalloc,
#    linked_list_allocator and buddy_system_allocator; pools against the
#    heap and glibc; granules against the naive bit loop.
#
# Prints Markdown on stdout and keeps a copy in target/bench/results.md;
# progress goes to stderr. x86_64 only (the C benchmark issues raw system
# calls).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
REPS=3
SCALE=100
RUST_ARGS=()
DO_C=1
DO_RUST=1
BASE_REV=
SMALL=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) REPS=1; SCALE=25; RUST_ARGS+=(--quick) ;;
        --c-only) DO_RUST=0 ;;
        --rust-only) DO_C=0 ;;
        --baseline) BASE_REV=$2; shift ;;
        --small) SMALL=1 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$(uname -m)" = x86_64 ] || { echo "bench.sh: x86_64 only" >&2; exit 1; }

LIBDIR=/usr/lib/x86_64-linux-gnu
MIMALLOC=$LIBDIR/libmimalloc.so.2
JEMALLOC=$LIBDIR/libjemalloc.so.2
if [ $DO_C = 1 ] && { [ ! -e $MIMALLOC ] || [ ! -e $JEMALLOC ] || ! command -v strace >/dev/null; }; then
    scripts/setup.sh
fi

log() { echo "bench: $*" >&2; }
mkdir -p "$OUT/c"

# ---- build -----------------------------------------------------------------
BASE_SRC=$OUT/base-src
if [ -n "$BASE_REV" ]; then
    # rawrt as of BASE_REV, in a worktree of it (the benchmark programs are
    # today's, built against it).
    log "checking out $BASE_REV"
    rm -rf "$BASE_SRC"; git worktree prune
    git worktree add -f --detach "$BASE_SRC" "$BASE_REV" >/dev/null 2>&1
    trap 'git worktree remove --force "$BASE_SRC" 2>/dev/null || true' EXIT
fi
if [ $DO_C = 1 ]; then
    log "building librawrt.a"
    env -u RUSTFLAGS cargo rustc --quiet --release --lib --crate-type staticlib --target-dir "$OUT" 2>/dev/null \
        || env -u RUSTFLAGS cargo rustc --release --lib --crate-type staticlib --target-dir "$OUT"
    cc -O2 -Wall -DRAWRT_POOL -nostdlib -static bench/malloc_bench.c "$OUT/release/librawrt.a" -o "$OUT/c/mb_rawrt"
    cc -O2 -Wall bench/malloc_bench.c -o "$OUT/c/mb_glibc"
    if [ $SMALL = 1 ]; then
        log "building librawrt.a with the small heap"
        env -u RUSTFLAGS cargo rustc --quiet --release --lib --crate-type staticlib --features small-heap \
            --target-dir "$OUT/small" 2>/dev/null
        cc -O2 -Wall -nostdlib -static bench/malloc_bench.c "$OUT/small/release/librawrt.a" -o "$OUT/c/mb_small"
    fi
    if [ -n "$BASE_REV" ]; then
        log "building librawrt.a as of $BASE_REV"
        (cd "$BASE_SRC" && env -u RUSTFLAGS cargo rustc --quiet --release --lib --crate-type staticlib \
            --target-dir "$OUT/base-target" 2>/dev/null)
        cc -O2 -Wall -DRAWRT_POOL -nostdlib -static bench/malloc_bench.c "$OUT/base-target/release/librawrt.a" \
            -o "$OUT/c/mb_before"
    fi
fi
if [ $DO_RUST = 1 ]; then
    log "building bench/rust"
    # Cargo finds .cargo/config.toml from the working directory: build from
    # bench/rust so that its config (PIC again) is read after rawrt's.
    (cd bench/rust && env -u RUSTFLAGS cargo build --quiet --release 2>/dev/null \
        || env -u RUSTFLAGS cargo build --release)
    if [ -n "$BASE_REV" ]; then
        # The same benchmark crate against rawrt as of BASE_REV: a copy
        # under target/ (so that rawrt's .cargo/config.toml still applies)
        # whose rawrt dependency is the worktree.
        log "building bench/rust against rawrt as of $BASE_REV"
        BASE_RUST=$OUT/base-rust
        rm -rf "$BASE_RUST"; mkdir -p "$BASE_RUST"
        cp -r bench/rust/src bench/rust/Cargo.toml bench/rust/Cargo.lock bench/rust/.cargo "$BASE_RUST/"
        sed -i "s|path = \"../..\"|path = \"$BASE_SRC\"|" "$BASE_RUST/Cargo.toml"
        # A rawrt older than the compact heaps: without their row.
        (cd "$BASE_RUST" && { env -u RUSTFLAGS cargo build --quiet --release 2>/dev/null \
            || env -u RUSTFLAGS cargo build --quiet --release --no-default-features 2>/dev/null \
            || env -u RUSTFLAGS cargo build --release --no-default-features; })
    fi
fi

ALLOCS="rawrt glibc mimalloc jemalloc"
[ -n "$BASE_REV" ] && ALLOCS="rawrt before glibc mimalloc jemalloc"
[ $SMALL = 1 ] && ALLOCS="${ALLOCS/rawrt/rawrt small}"
WORKLOADS="churn lifo realloc_step realloc_double large large_touch live_1e3 live_1e6 frag pair64 batch64"
POOL_WORKLOADS="pool_pair64 pool_batch64" # rawrt only: the same loops over rawrt_pool_*

run_one() { # ALLOC WORKLOAD -> one result line
    case $1 in
        rawrt) "$OUT/c/mb_rawrt" "$2" $SCALE ;;
        before) "$OUT/c/mb_before" "$2" $SCALE ;;
        small) "$OUT/c/mb_small" "$2" $SCALE ;;
        glibc) "$OUT/c/mb_glibc" "$2" $SCALE ;;
        mimalloc) LD_PRELOAD=$MIMALLOC "$OUT/c/mb_glibc" "$2" $SCALE ;;
        jemalloc) LD_PRELOAD=$JEMALLOC "$OUT/c/mb_glibc" "$2" $SCALE ;;
    esac
}

strace_one() { # ALLOC WORKLOAD -> "total mm" system calls
    local f=$OUT/c/strace.txt pre=()
    case $1 in
        mimalloc) pre=(-E LD_PRELOAD=$MIMALLOC) ;;
        jemalloc) pre=(-E LD_PRELOAD=$JEMALLOC) ;;
    esac
    local exe=$OUT/c/mb_glibc
    [ "$1" = rawrt ] && exe=$OUT/c/mb_rawrt
    [ "$1" = before ] && exe=$OUT/c/mb_before
    [ "$1" = small ] && exe=$OUT/c/mb_small
    strace -f -c -o "$f" "${pre[@]}" -- "$exe" "$2" $SCALE >/dev/null
    awk '$NF == "total" { t = $4 }
         $NF ~ /^(brk|mmap|munmap|mremap|madvise)$/ { m += $4 }
         END { print t + 0, m + 0 }' "$f"
}

c_bench() {
    local rec=$OUT/c/records.txt sys=$OUT/c/syscalls.txt
    : >"$rec"
    : >"$sys"
    for rep in $(seq $REPS); do
        for w in $WORKLOADS $POOL_WORKLOADS none; do
            log "C run $rep/$REPS: $w"
            allocs=$ALLOCS
            case $w in pool_*) allocs="rawrt${BASE_REV:+ before}" ;; esac
            for a in $allocs; do
                # name ops=N ns_per_op=X base_kb=B hwm_kb=H end_kb=E sum=S
                run_one $a $w | awk -v a=$a '{
                    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                    print a, $1, v["ns_per_op"], v["base_kb"], v["hwm_kb"], v["end_kb"], v["sum"] }' >>"$rec"
            done
        done
    done
    log "C runs under strace"
    for w in $WORKLOADS none; do
        for a in $ALLOCS; do
            echo "$a $w $(strace_one $a $w)" >>"$sys"
        done
    done
    # The fastest run of each allocator and workload (the machine may be
    # shared: the least disturbed run is the best estimate).
    sort -k1,1 -k2,2 -k3,3g "$rec" | awk '{ k = $1 " " $2; if (!(k in seen)) print; seen[k] = 1 }' >"$OUT/c/best.txt"
    awk -v workloads="$WORKLOADS" -v allocs="$ALLOCS" -v pools="$POOL_WORKLOADS" -v scale=$SCALE -v reps=$REPS '
        FILENAME ~ /best/ { ns[$1, $2] = $3; base[$1, $2] = $4; hwm[$1, $2] = $5; end_[$1, $2] = $6; sum[$1, $2] = $7; next }
        { tot[$1, $2] = $3; mm[$1, $2] = $4 }
        function r(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "-" }
        function kb(x) { return x < 0 ? 0 : x }
        function head(ratios,   j, h, l) {
            h = "| workload |"; l = "|---|"
            for (j = 1; j <= na; j++) { h = h " " A[j] " |"; l = l "---:|" }
            if (ratios) for (j = 2; j <= na; j++) { h = h " rawrt/" A[j] " |"; l = l "---:|" }
            print h; print l
        }
        END {
            nw = split(workloads, W, " "); na = split(allocs, A, " ")
            for (i = 1; i <= nw; i++) for (j = 2; j <= na; j++)
                if (sum[A[1], W[i]] != sum[A[j], W[i]]) bad = bad " " W[i] "/" A[j]
            if (bad != "") print "**checksum mismatch:" bad "**\n"
            print "### C workloads: ns per allocator call (lower is better)\n"
            printf "Best of %d runs, workload scale %d%%. An op is one malloc, free or realloc call. Ratios are rawrt time / other time (below 1: rawrt faster)%s.\n\n", reps, scale, (A[2] == "before" ? "; before is rawrt as of the baseline revision" : A[2] == "small" ? "; small is rawrt with the small heap" : "")
            head(1)
            for (i = 1; i <= nw; i++) {
                w = W[i]; printf "| %s |", w
                for (j = 1; j <= na; j++) printf " %s |", ns[A[j], w]
                for (j = 2; j <= na; j++) printf " %s |", r(ns["rawrt", w], ns[A[j], w])
                print ""
            }
            printf "| flatness: live_1e6 / live_1e3 |"
            for (j = 1; j <= na; j++) printf " %s× |", r(ns[A[j], "live_1e6"], ns[A[j], "live_1e3"])
            print " | | |\n"

            print "### C workloads: peak RSS above the RSS at start of main, KiB (lower is better)\n"
            printf "VmHWM at the end minus VmRSS when main started (one process per workload). RSS at start of main: "
            for (j = 1; j <= na; j++) printf "%s%s %d KiB", (j > 1 ? ", " : ""), A[j], base[A[j], "none"]
            print " (rawrt is a static executable with no libc; the others load glibc).\n"
            head(1)
            for (i = 1; i <= nw; i++) {
                w = W[i]; printf "| %s |", w
                for (j = 1; j <= na; j++) { p[j] = kb(hwm[A[j], w] - base[A[j], w]); printf " %d |", p[j] }
                for (j = 2; j <= na; j++) printf " %s |", r(p[1], p[j])
                print ""
            }
            print ""
            print "### C workloads: RSS left after the workload freed everything, KiB above start (lower is better)\n"
            head(0)
            for (i = 1; i <= nw; i++) {
                w = W[i]; printf "| %s |", w
                for (j = 1; j <= na; j++) printf " %d |", kb(end_[A[j], w] - base[A[j], w])
                print ""
            }
            print ""
            print "### C: rawrt pool (rawrt_pool_create, heap-backed) against malloc/free, 64-byte blocks, ns per call\n"
            print "pool_pair64 / pool_batch64 run the pair64 / batch64 loops over rawrt_pool_alloc/rawrt_pool_free. Ratios: pool time / that allocator'"'"'s malloc+free time.\n"
            h = "| loop | rawrt pool |"; l = "|---|---:|"
            if (A[2] == "before") { h = h " before pool |"; l = l "---:|" }
            for (j = 1; j <= na; j++) { h = h " " A[j] " malloc |"; l = l "---:|" }
            for (j = 1; j <= na; j++) { h = h " pool/" A[j] " |"; l = l "---:|" }
            print h; print l
            np = split(pools, P, " ")
            for (i = 1; i <= np; i++) {
                m = substr(P[i], 6); printf "| %s | %s |", m, ns["rawrt", P[i]]
                if (A[2] == "before") printf " %s |", ns["before", P[i]]
                for (j = 1; j <= na; j++) printf " %s |", ns[A[j], m]
                for (j = 1; j <= na; j++) printf " %s |", r(ns["rawrt", P[i]], ns[A[j], m])
                print ""
            }
            print ""
            print "### C workloads: system calls per run (strace -f -c), net of an empty run\n"
            printf "total = all system calls; mm = brk + mmap + munmap + mremap + madvise. An empty run (start-up, clock and /proc reads) costs: "
            for (j = 1; j <= na; j++) printf "%s%s %d (mm %d)", (j > 1 ? ", " : ""), A[j], tot[A[j], "none"], mm[A[j], "none"]
            print ".\n"
            h = "| workload |"; l = "|---|"
            for (j = 1; j <= na; j++) { h = h " " A[j] " total | " A[j] " mm |"; l = l "---:|---:|" }
            print h; print l
            for (i = 1; i <= nw; i++) {
                w = W[i]; printf "| %s |", w
                for (j = 1; j <= na; j++)
                    printf " %d | %d |", tot[A[j], w] - tot[A[j], "none"], mm[A[j], w] - mm[A[j], "none"]
                print ""
            }
            print ""
        }' "$OUT/c/best.txt" "$sys"
}

load() { cut -d' ' -f1 /proc/loadavg; }
# rawrt's own Rust rows (rawrt-bench own), today's and BASE_REV's, run
# alternately REPS times; the best of each, side by side.
rust_vs_before() {
    local rec=$OUT/rust-own.txt
    : >"$rec"
    for rep in $(seq $REPS); do
        log "Rust rows, rawrt and before, run $rep/$REPS"
        bench/rust/target/release/rawrt-bench own "${RUST_ARGS[@]}" | sed 's/^/rawrt\t/' >>"$rec"
        "$OUT/base-rust/target/release/rawrt-bench" own "${RUST_ARGS[@]}" | sed 's/^/before\t/' >>"$rec"
    done
    echo "### rawrt's Rust rows against rawrt as of $BASE_REV, ns (lower is better)"
    echo
    echo "The rawrt rows of the tables above (\`rawrt-bench own\`), today's build and $BASE_REV's run alternately $REPS times; best of each. Ratio = rawrt / before."
    echo
    echo "| benchmark | rawrt | before | rawrt/before |"
    echo "|---|---:|---:|---:|"
    awk -F'\t' '
        { k = $2; v = $3 + 0
          if (!(k in seen)) { seen[k] = 1; order[++n] = k }
          if (!((k, $1) in best) || v < best[k, $1]) best[k, $1] = v }
        END { for (i = 1; i <= n; i++) { k = order[i]
                # A row only one of the two builds has (a heap added since).
                if (!((k, "rawrt") in best) || !((k, "before") in best)) continue
                printf "| %s | %.2f | %.2f | %.2f |\n", k, best[k, "rawrt"], best[k, "before"],
                    best[k, "rawrt"] / best[k, "before"] } }' "$rec"
    echo
}

LOAD0=$(load)
if awk -v l="$LOAD0" 'BEGIN { exit !(l > 0.5) }'; then
    log "warning: load average $LOAD0 before the run: other processes will disturb the timings"
fi
{
    echo "## rawrt allocator benchmarks"
    echo
    echo "$(date -u +%Y-%m-%d) · $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')) · Linux $(uname -r) · $(rustc --version | cut -d' ' -f1-2) · $(cc --version | head -1)" \
        "· $(dpkg-query -W -f='${Package} ${Version}' libmimalloc2.0 2>/dev/null || echo mimalloc ?) · $(dpkg-query -W -f='${Package} ${Version}' libjemalloc2 2>/dev/null || echo jemalloc ?)"
    echo
    if [ $DO_C = 1 ]; then
        c_bench
    fi
    if [ $DO_RUST = 1 ]; then
        log "Rust benchmarks"
        bench/rust/target/release/rawrt-bench all "${RUST_ARGS[@]}"
        if [ -n "$BASE_REV" ]; then
            rust_vs_before
        fi
    fi
    echo "Load average (1 min) before the run $LOAD0, after $(load)."
} | tee "$OUT/results.md"
