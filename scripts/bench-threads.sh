#!/usr/bin/env bash
# Multi-threaded allocator benchmarks (bench/threads/, C11 threads; issue 12):
# the classic workloads xmalloc, larson, mstress, glibc_thread,
# cache_scratch, cache_thrash, rptest and sh6bench, each one C source built
# against librawrt.a (-nostdlib -static) and against glibc, the latter run
# plain and with mimalloc and jemalloc preloaded, at 1, 2 and 4 threads.
#
#   scripts/bench-threads.sh                  # every workload, 3 repetitions
#   scripts/bench-threads.sh --quick          # scale 10%, 1 repetition: checks the script works
#   scripts/bench-threads.sh --reps N         # N repetitions (medians of N)
#   scripts/bench-threads.sh --only W[,W...]  # only these workloads
#   scripts/bench-threads.sh --scale P        # workload scale in percent (default 100)
#   scripts/bench-threads.sh --threads "1 2"  # thread counts (default "1 2 4")
#   scripts/bench-threads.sh --baseline REV   # also rawrt as of git revision REV
#                                             # (column rawrt@REV), in the same run
#
# Every run is measured from outside by bench/threads/runstat (fork, wait4):
# wall time, peak RSS (ru_maxrss) and page faults (minor + major), the same
# for every allocator. Within each repetition the allocators are run one
# after the other for each workload and thread count (interleaved), and the
# table gives the median of the repetitions. A run that exits non-zero or
# prints no result line stops the script. Prints Markdown on stdout (a copy
# goes to target/bench/threads/results.md; every run is in runs.tsv there).
# Not part of CI: timings are not tests.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKLOADS="xmalloc larson mstress glibc_thread cache_scratch cache_thrash rptest sh6bench"
REPS=""
SCALE=""
THREADS="1 2 4"
BASE_REV=""
ONLY=""
QUICK=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --reps) REPS=$2; shift ;;
        --only) ONLY=$2; shift ;;
        --scale) SCALE=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --baseline) BASE_REV=$2; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "bench-threads.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
# --quick: scale 10% and 1 repetition, unless --scale or --reps say otherwise
if [ $QUICK = 1 ]; then REPS=${REPS:-1}; SCALE=${SCALE:-10}; fi
REPS=${REPS:-3}; SCALE=${SCALE:-100}
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] && [[ "$SCALE" =~ ^[1-9][0-9]*$ ]] \
    || { echo "bench-threads.sh: --reps and --scale take positive integers" >&2; exit 2; }
[ "$(uname -m)" = x86_64 ] || { echo "bench-threads.sh: x86_64 only" >&2; exit 1; }
if [ -n "$ONLY" ]; then
    for w in ${ONLY//,/ }; do
        [[ " $WORKLOADS " == *" $w "* ]] || { echo "bench-threads.sh: unknown workload $w (one of: $WORKLOADS)" >&2; exit 2; }
    done
    WORKLOADS=${ONLY//,/ }
fi

OUT=target/bench
C=$OUT/threads
LIBDIR=/usr/lib/x86_64-linux-gnu
MIMALLOC=$LIBDIR/libmimalloc.so.2
JEMALLOC=$LIBDIR/libjemalloc.so.2
[ -e $MIMALLOC ] && [ -e $JEMALLOC ] || scripts/setup.sh
log() { echo "bench-threads: $*" >&2; }
mkdir -p "$C"

# ---- build -----------------------------------------------------------------
# Loops aligned to 64 bytes: the workloads' hot loops then sit the same way in
# every build, whatever the allocator's code before them (cache_scratch's
# byte loop ran 37% slower in one rawrt build than in another, with no
# allocator call in it, because it happened to straddle a 64-byte line).
CFLAGS="-O2 -falign-loops=64 -fno-builtin -Wall -Wextra"
log "building librawrt.a"
env -u RUSTFLAGS cargo rustc --quiet --release --lib --crate-type staticlib --target-dir "$OUT" 2>/dev/null \
    || env -u RUSTFLAGS cargo rustc --release --lib --crate-type staticlib --target-dir "$OUT"
cc -O2 -Wall bench/threads/runstat.c -o "$C/runstat"
ALLOCS="rawrt glibc mimalloc jemalloc"
BASE_NAME=""
if [ -n "$BASE_REV" ]; then
    # rawrt as of BASE_REV from `git archive` in a temporary directory (the
    # benchmark programs are today's, built against it).
    BASE_SHORT=$(git rev-parse --short "$BASE_REV^{commit}")
    BASE_NAME="rawrt@$BASE_SHORT"
    BASE_SRC=$(mktemp -d)
    trap 'rm -rf "$BASE_SRC"' EXIT
    log "building librawrt.a as of $BASE_REV ($BASE_SHORT)"
    git archive "$BASE_SHORT" | tar -x -C "$BASE_SRC"
    BASE_TARGET=$PWD/$OUT/threads-base-target # kept between runs: rebuilds are incremental
    (cd "$BASE_SRC" && env -u RUSTFLAGS cargo rustc --quiet --release --lib --crate-type staticlib \
        --target-dir "$BASE_TARGET" 2>/dev/null \
        || env -u RUSTFLAGS cargo rustc --release --lib --crate-type staticlib --target-dir "$BASE_TARGET")
    cp "$BASE_TARGET/release/librawrt.a" "$C/librawrt-base.a"
    ALLOCS="rawrt base glibc mimalloc jemalloc"
fi
log "building the workloads"
for w in $WORKLOADS; do
    cc $CFLAGS -nostdlib -static "bench/threads/$w.c" "$OUT/release/librawrt.a" -o "$C/${w}_rawrt"
    cc $CFLAGS "bench/threads/$w.c" -o "$C/${w}_glibc"
    [ -z "$BASE_REV" ] || cc $CFLAGS -nostdlib -static "bench/threads/$w.c" "$C/librawrt-base.a" -o "$C/${w}_base"
done

# ---- run -------------------------------------------------------------------
run_one() { # ALLOC WORKLOAD THREADS -> "wall_ns maxrss_kib minflt majflt status"
    local bin=$C/$2_glibc pre=""
    case $1 in
        rawrt) bin=$C/$2_rawrt ;;
        base) bin=$C/$2_base ;;
        mimalloc) pre=$MIMALLOC ;;
        jemalloc) pre=$JEMALLOC ;;
    esac
    if [ -n "$pre" ]; then
        "$C/runstat" "$C/out.txt" env LD_PRELOAD="$pre" "$bin" "$3" "$SCALE"
    else
        "$C/runstat" "$C/out.txt" "$bin" "$3" "$SCALE"
    fi
}

RUNS=$C/runs.tsv
printf 'rep\tworkload\tthreads\tallocator\twall_ns\tmaxrss_kib\tminflt\tmajflt\tresult\n' >"$RUNS"
total=0
for w in $WORKLOADS; do for t in $THREADS; do for a in $ALLOCS; do total=$((total + 1)); done; done; done
total=$((total * REPS))
n=0
start=$(date +%s)
for r in $(seq 1 "$REPS"); do
    for w in $WORKLOADS; do
        for t in $THREADS; do
            for a in $ALLOCS; do
                n=$((n + 1))
                read -r ns rss minf majf st < <(run_one "$a" "$w" "$t")
                line=$(head -1 "$C/out.txt")
                if [ "$st" != 0 ] || [[ "$line" != "$w threads=$t "* ]]; then
                    log "FAILED: $a $w $t threads (status $st): '$line'"
                    exit 1
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$w" "$t" "$a" "$ns" "$rss" "$minf" "$majf" "$line" >>"$RUNS"
                printf '\rbench-threads: %d/%d runs, %ds' $n $total $(($(date +%s) - start)) >&2
            done
        done
    done
done
echo >&2
log "$total runs in $(($(date +%s) - start)) s"

# ---- table -------------------------------------------------------------------
{
    echo "$(date -u +%Y-%m-%d) · rawrt $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo '+changes')" \
        "· $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')) · Linux $(uname -r)" \
        "· $(cc --version | head -1) · $(dpkg-query -W -f='${Package} ${Version}' libmimalloc2.0 2>/dev/null || echo mimalloc ?)" \
        "· $(dpkg-query -W -f='${Package} ${Version}' libjemalloc2 2>/dev/null || echo jemalloc ?)"
    echo
    echo "### Threads: wall time (s), peak RSS (KiB) and page faults, median of $REPS"
    echo
    echo "Scale $SCALE%. Time is the whole process (fork to exit), RSS is ru_maxrss, faults are minor + major." \
        "Ratios are rawrt / other (below 1: rawrt better).${BASE_NAME:+ $BASE_NAME is rawrt as of the baseline revision, the same programs built against it.}"
    echo
    awk -F'\t' -v allocs="$ALLOCS" -v wl="$WORKLOADS" -v th="$THREADS" -v basename="$BASE_NAME" '
        function median(key,   n, i, j, v, t) {
            n = cnt[key]
            for (i = 1; i <= n; i++) v[i] = val[key, i]
            for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
        NR > 1 {
            k = $2 SUBSEP $3 SUBSEP $4
            c = ++cnt[k "t"]; val[k "t", c] = $5 / 1e9
            cnt[k "r"]++; val[k "r", c] = $6
            cnt[k "f"]++; val[k "f", c] = $7 + $8
        }
        END {
            na = split(allocs, A, " "); nw = split(wl, W, " "); nt = split(th, T, " ")
            for (j = 1; j <= na; j++) name[A[j]] = (A[j] == "base" ? basename : A[j])
            printf "| workload | threads |"
            for (j = 1; j <= na; j++) printf " %s s | %s KiB | %s faults |", name[A[j]], name[A[j]], name[A[j]]
            printf " time rawrt/glibc | time rawrt/mimalloc | RSS rawrt/glibc | faults rawrt/glibc |"
            if (basename != "") printf " time rawrt/%s | RSS rawrt/%s | faults rawrt/%s |", basename, basename, basename
            print ""
            printf "|---|---:|"
            for (j = 1; j <= na; j++) printf "---:|---:|---:|"
            printf "---:|---:|---:|---:|"
            if (basename != "") printf "---:|---:|---:|"
            print ""
            for (i = 1; i <= nw; i++) for (l = 1; l <= nt; l++) {
                w = W[i]; t = T[l]
                for (j = 1; j <= na; j++) {
                    k = w SUBSEP t SUBSEP A[j]
                    tm[A[j]] = median(k "t"); rs[A[j]] = median(k "r"); fl[A[j]] = median(k "f")
                }
                printf "| %s | %s |", w, t
                for (j = 1; j <= na; j++) printf " %.3f | %d | %d |", tm[A[j]], rs[A[j]], fl[A[j]]
                printf " %s | %s | %s | %s |", ratio(tm["rawrt"], tm["glibc"]), ratio(tm["rawrt"], tm["mimalloc"]),
                    ratio(rs["rawrt"], rs["glibc"]), ratio(fl["rawrt"], fl["glibc"])
                if (basename != "") printf " %s | %s | %s |", ratio(tm["rawrt"], tm["base"]), ratio(rs["rawrt"], rs["base"]), ratio(fl["rawrt"], fl["base"])
                print ""
            }
        }' "$RUNS"
} | tee "$C/results.md"
