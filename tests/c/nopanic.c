/* Links the malloc family, pools, region heaps and granules, and nothing
 * that could panic: the
 * hosted check `nopanic` fails if any core::panicking or core::fmt symbol
 * is in the linked program (issue 15: no panic reachable from the
 * allocation paths). Prints "ok" after checking what it allocated. */
#include <stddef.h>
#include <stdint.h>
#include "rawrt.h"

static int fail(const char *what) {
    size_t n = 0;
    while (what[n]) n++;
    write(2, what, n);
    write(2, "\n", 1);
    return 1;
}

int main(void) {
    char *p = malloc(100);
    if (!p) return fail("malloc");
    memcpy(p, "0123456789", 10);
    char *q = realloc(p, 5000);
    if (!q || q[9] != '9') return fail("realloc");
    int *z = calloc(100, sizeof(int));
    if (!z || z[99] != 0) return fail("calloc");
    void *a = aligned_alloc(256, 512);
    if (!a || (uintptr_t)a % 256 != 0) return fail("aligned_alloc");
    void *m = NULL;
    if (posix_memalign(&m, 64, 100) != 0 || (uintptr_t)m % 64 != 0) return fail("posix_memalign");
    if (malloc_usable_size(q) < 5000) return fail("malloc_usable_size");
    void *big = malloc(1 << 20);
    if (!big) return fail("big malloc");
    free(big);
    free(m);
    free(a);
    free(z);
    free(q);
    rawrt_pool_t *pool = rawrt_pool_create(48, 16, 100);
    if (!pool) return fail("pool create");
    void *b1 = rawrt_pool_alloc(pool), *b2 = rawrt_pool_alloc(pool);
    if (!b1 || !b2 || b1 == b2) return fail("pool alloc");
    rawrt_pool_free(pool, b1);
    rawrt_pool_free(pool, b2);
    rawrt_pool_destroy(pool);
    static _Alignas(16) unsigned char region[64 * 1024];
    multi_heap_handle_t h = multi_heap_register(region, sizeof region);
    if (!h) return fail("multi_heap_register");
    void *r = multi_heap_malloc(h, 200);
    if (!r) return fail("multi_heap_malloc");
    r = multi_heap_realloc(h, r, 2000);
    if (!r || multi_heap_get_allocated_size(h, r) < 2000) return fail("multi_heap_realloc");
    multi_heap_free(h, r);
    static _Alignas(64) unsigned char granules[16 * 1024];
    GRAN_HANDLE g = gran_initialize(granules, sizeof granules, 6, 6);
    if (!g) return fail("gran_initialize");
    void *g1 = gran_alloc(g, 100), *g2 = gran_alloc(g, 300);
    if (!g1 || !g2 || g1 == g2) return fail("gran_alloc");
    gran_free(g, g1, 100);
    gran_free(g, g2, 300);
    write(1, "ok\n", 3);
    return 0;
}
