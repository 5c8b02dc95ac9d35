/*
 * The pool's alloc and free paths for instruction counting (callgrind, not
 * timing): `pool_calls KIND N` runs N rounds on a pool of 64-byte blocks,
 * KIND "region" (rawrt_pool_create_in over a static region) or "heap"
 * (rawrt_pool_create, chunks from the process heap); each round is one
 * alloc+free pair, then a batch of 64 allocations freed in reverse (LIFO)
 * order. Under callgrind, the inclusive counts of rawrt_pool_alloc and
 * rawrt_pool_free divided by the calls are the fast paths' cost:
 *
 *   cc -std=c11 -ffreestanding -nostdlib -static -O2 -I include \
 *       bench/pool_calls.c target/staticlib/release/librawrt.a -o pool_calls
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out ./pool_calls region 10000
 *   callgrind_annotate --inclusive=yes cg.out | grep rawrt_pool_
 */
#include "rawrt.h"

static _Alignas(4096) unsigned char region[64 * 1024];

static int streq(const char *a, const char *b) {
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    rawrt_pool_t *pool = streq(argv[1], "region") ? rawrt_pool_create_in(region, sizeof region, 64, 16)
                                                  : rawrt_pool_create(64, 16, 0);
    if (!pool)
        return 3;
    long n = 0;
    for (const char *s = argv[2]; *s; s++)
        n = n * 10 + (*s - '0');
    void *batch[64];
    for (long r = 0; r < n; r++) {
        void *p = rawrt_pool_alloc(pool);
        rawrt_pool_free(pool, p);
        for (int i = 0; i < 64; i++)
            batch[i] = rawrt_pool_alloc(pool);
        for (int i = 63; i >= 0; i--)
            rawrt_pool_free(pool, batch[i]);
    }
    rawrt_pool_destroy(pool);
    return 0;
}
