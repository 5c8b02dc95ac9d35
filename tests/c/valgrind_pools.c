/*
 * rawrt's block pools under Valgrind's Memcheck
 * (testkit/tests/hosted/valgrind.rs, memcheck_understands_pools):
 * `valgrind_pools KIND MODE`, KIND "pool" (rawrt_pool_create_in over a
 * static region) or "pool-heap" (rawrt_pool_create: chunks from the
 * process heap); blocks of 64 bytes. MODE "bad": a read after free 8 bytes
 * into a block, a write one byte past a block, a block lost, a branch on
 * an uninitialised byte of a fresh block; the addresses go to stdout
 * ("freed 0x...", "short 0x...", "fresh 0x...") for the test to find in
 * Memcheck's reports. "good": the same calls used correctly: no report at
 * all, and the pool destroyed.
 */
#include "memcheck.h"

static int streq(const char *a, const char *b) {
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static volatile int sink;
static _Alignas(4096) unsigned char region[64 * 1024];
static rawrt_pool_t *pool;

/* A block allocated, written, and (in "bad") lost when this returns. */
static __attribute__((noinline)) void use_one(int keep) {
    char *l = rawrt_pool_alloc(pool);
    l[0] = 1;
    sink = l[0];
    if (!keep)
        rawrt_pool_free(pool, l);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        out("usage: valgrind_pools pool|pool-heap bad|good\n");
        return 2;
    }
    int bad = argv[2][0] == 'b';
    if (streq(argv[1], "pool"))
        pool = rawrt_pool_create_in(region, sizeof region, 64, 16);
    else if (streq(argv[1], "pool-heap"))
        pool = rawrt_pool_create(64, 16, 0);
    if (!pool)
        return 3;
    /* Block 0's address is the pool's own (its chunk's first block;
     * Memcheck would call a block there reachable): held by the program
     * throughout. */
    void *first = rawrt_pool_alloc(pool);
    use_one(bad); /* early: the lost block's address is nowhere else */
    int *p = rawrt_pool_alloc(pool);
    char *s = rawrt_pool_alloc(pool);
    char *next = rawrt_pool_alloc(pool); /* after s: freed before the overflow */
    rawrt_pool_free(pool, next);
    for (int i = 0; i < 16; i++)
        p[i] = i;
    rawrt_pool_free(pool, p);
    if (bad) {
        hex("freed", p);
        sink = p[2]; /* read after free, 8 bytes into the block */
    }
    if (bad) {
        hex("short", s);
        s[64] = 1; /* one byte past the block */
    }
    rawrt_pool_free(pool, s);
    unsigned char *q = rawrt_pool_alloc(pool);
    if (!bad)
        q[5] = 7;
    else
        hex("fresh", q);
    if (q[5] == 7) /* uninitialised in "bad" */
        sink = 1;
    rawrt_pool_free(pool, q);
    rawrt_pool_free(pool, first);
    if (!bad) {
        rawrt_pool_info_t info;
        rawrt_pool_info(pool, &info);
        if (info.in_use != 0 || !rawrt_pool_check(pool, 1))
            return 4;
        rawrt_pool_destroy(pool);
    }
    return 0;
}
