#!/usr/bin/env bash
# Multi-threaded allocation benchmark (bench/threads_bench.c, C11 threads):
# built against librawrt.a and against glibc, run with glibc's malloc and
# with mimalloc and jemalloc preloaded, at 1, 2 and 4 threads. Prints
# throughput (thousand malloc+free pairs per second) and ratios to rawrt.
# Not part of CI: timings are not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
OPS=${OPS:-2000000}
OUT=target/bench
LIBDIR=/usr/lib/x86_64-linux-gnu
[ -e $LIBDIR/libmimalloc.so.2 ] && [ -e $LIBDIR/libjemalloc.so.2 ] || scripts/setup.sh
mkdir -p $OUT/c
env -u RUSTFLAGS cargo rustc --quiet --release --lib --crate-type staticlib --target-dir $OUT
cc -O2 -nostdlib -static -fno-builtin bench/threads_bench.c $OUT/release/librawrt.a -o $OUT/c/tb_rawrt
cc -O2 bench/threads_bench.c -o $OUT/c/tb_glibc
best() { # best of 3 runs: prints the highest throughput
    local b=0 v
    for _ in 1 2 3; do v=$("$@" | awk '{print $2}'); [ "$v" -gt "$b" ] && b=$v; done
    echo $b
}
echo "| threads | rawrt | glibc | mimalloc | jemalloc | rawrt/glibc | rawrt/mimalloc | rawrt/jemalloc |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for t in 1 2 4; do
    r=$(best $OUT/c/tb_rawrt $t $OPS)
    g=$(best $OUT/c/tb_glibc $t $OPS)
    m=$(best env LD_PRELOAD=$LIBDIR/libmimalloc.so.2 $OUT/c/tb_glibc $t $OPS)
    j=$(best env LD_PRELOAD=$LIBDIR/libjemalloc.so.2 $OUT/c/tb_glibc $t $OPS)
    awk -v t=$t -v r=$r -v g=$g -v m=$m -v j=$j 'BEGIN { printf "| %d | %d | %d | %d | %d | %.2f | %.2f | %.2f |\n", t, r, g, m, j, r/g, r/m, r/j }'
done
echo "(thousand malloc+free pairs per second, best of 3; ratio above 1: rawrt faster)"
