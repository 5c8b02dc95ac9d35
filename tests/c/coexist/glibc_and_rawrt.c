/*
 * An ordinary glibc program with rawrt's heap beside glibc's: librawrt.a
 * built without C names (rawrt_malloc, rawrt_free, ...), both allocators
 * growing the same break. Blocks from either heap are allocated, resized
 * and freed in a pseudo-random interleaving, each freed by its own heap;
 * every block carries a pattern that is checked before it is resized or
 * freed and at the end, so a block handed out twice, or memory one heap
 * gave away while the other still used it, shows up as a wrong byte.
 *
 *   cc -std=c11 -Wall -Wextra -Werror -Iinclude glibc_and_rawrt.c librawrt-prefixed.a
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAWRT_PREFIX
#include "rawrt.h"

#define SLOTS 512
#define ROUNDS 40000

enum owner { NONE, GLIBC, RAWRT };

struct block {
    unsigned char *p;
    size_t size;
    enum owner owner;
    uint32_t seed;
};

static struct block slots[SLOTS];
static uint64_t rng = 0x9E3779B97F4A7C15u;
static long bad_bytes;

static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static unsigned char pattern(uint32_t seed, size_t i) {
    return (unsigned char)((seed * 2654435761u + i * 40503u) >> 11);
}

static void fill(struct block *b) {
    for (size_t i = 0; i < b->size; i++) b->p[i] = pattern(b->seed, i);
}

/* Checks the first n bytes of b's pattern. */
static void verify(const struct block *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (b->p[i] != pattern(b->seed, i)) bad_bytes++;
}

/* Mostly small sizes, some medium, a few large enough for mmap. */
static size_t random_size(void) {
    uint32_t r = next() % 100;
    if (r < 70) return 1 + next() % 256;
    if (r < 97) return 257 + next() % 8000;
    return 100000 + next() % 300000;
}

int main(void) {
    char *brk0 = sbrk(0);
    long counts[3][3] = {{0}}; /* [owner][0 alloc, 1 realloc, 2 free] */
    uintptr_t lo[3] = {UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX}, hi[3] = {0, 0, 0};

    for (long round = 0; round < ROUNDS; round++) {
        struct block *b = &slots[next() % SLOTS];
        if (b->owner == NONE) {
            b->owner = next() % 2 ? GLIBC : RAWRT;
            b->size = random_size();
            b->seed = next();
            b->p = b->owner == GLIBC ? malloc(b->size) : rawrt_malloc(b->size);
            if (!b->p) {
                printf("FAIL: %s malloc(%zu) returned NULL\n", b->owner == GLIBC ? "glibc" : "rawrt", b->size);
                return 1;
            }
            fill(b);
            counts[b->owner][0]++;
            uintptr_t a = (uintptr_t)b->p;
            if (a < lo[b->owner]) lo[b->owner] = a;
            if (a + b->size > hi[b->owner]) hi[b->owner] = a + b->size;
        } else if (next() % 4 == 0) {
            verify(b, b->size);
            size_t size = random_size();
            unsigned char *q = b->owner == GLIBC ? realloc(b->p, size) : rawrt_realloc(b->p, size);
            if (!q) {
                printf("FAIL: realloc to %zu returned NULL\n", size);
                return 1;
            }
            b->p = q;
            verify(b, size < b->size ? size : b->size); /* the kept part moved intact */
            b->size = size;
            fill(b);
            counts[b->owner][1]++;
        } else {
            verify(b, b->size);
            if (b->owner == GLIBC) free(b->p);
            else rawrt_free(b->p);
            counts[b->owner][2]++;
            b->owner = NONE;
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].owner != NONE) verify(&slots[i], slots[i].size);

    printf("glibc: %ld malloc, %ld realloc, %ld free; blocks seen in [%#lx, %#lx)\n", counts[GLIBC][0],
           counts[GLIBC][1], counts[GLIBC][2], (unsigned long)lo[GLIBC], (unsigned long)hi[GLIBC]);
    printf("rawrt: %ld malloc, %ld realloc, %ld free; blocks seen in [%#lx, %#lx)\n", counts[RAWRT][0],
           counts[RAWRT][1], counts[RAWRT][2], (unsigned long)lo[RAWRT], (unsigned long)hi[RAWRT]);
    printf("break moved from %p to %p\n", (void *)brk0, sbrk(0));
    struct rawrt_mallinfo2 ri = rawrt_mallinfo2();
    struct mallinfo2 gi = mallinfo2();
    printf("rawrt heap: %zu bytes from the kernel, %zu allocated; glibc heap: %zu bytes (brk arena), %zu allocated\n",
           ri.arena, ri.uordblks, gi.arena, gi.uordblks);
    int rawrt_ok = rawrt_heap_caps_check_integrity_all(true);

    /* Everything freed by its own heap; both heaps still work after trim. */
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].owner == GLIBC) free(slots[i].p);
        if (slots[i].owner == RAWRT) rawrt_free(slots[i].p);
        slots[i].owner = NONE;
    }
    malloc_trim(0);
    rawrt_malloc_trim(0);
    struct block g = {malloc(5000), 5000, GLIBC, 7}, r = {rawrt_malloc(5000), 5000, RAWRT, 8};
    int after_trim = g.p && r.p;
    if (after_trim) {
        fill(&g);
        fill(&r);
        verify(&g, g.size);
        verify(&r, r.size);
        free(g.p);
        rawrt_free(r.p);
    }

    /* Two errnos: rawrt's functions set rawrt_errno, not glibc's errno. */
    errno = 0;
    rawrt_errno = 0;
    int rc = rawrt_close(-1);
    int errnos_apart = rc == -1 && rawrt_errno == EBADF && errno == 0;

    printf("%s: no byte of any block changed (%ld wrong)\n", bad_bytes ? "FAIL" : "ok", bad_bytes);
    printf("%s: rawrt's heap checks out\n", rawrt_ok ? "ok" : "FAIL");
    printf("%s: both heaps allocate after both trimmed\n", after_trim ? "ok" : "FAIL");
    printf("%s: rawrt_close(-1) set rawrt_errno to EBADF and left glibc's errno alone\n", errnos_apart ? "ok" : "FAIL");
    return bad_bytes || !rawrt_ok || !after_trim || !errnos_apart;
}
