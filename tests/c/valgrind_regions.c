/*
 * rawrt's allocators over memory handed to them, under Valgrind's Memcheck
 * (testkit/tests/hosted/valgrind.rs): `valgrind_regions KIND MODE`, KIND one
 * of "gran" (gran_initialize over a static region) and "multi-heap"
 * (multi_heap_register over a static region: a compact heap) and "spiram"
 * (heap_caps_malloc(n, MALLOC_CAP_SPIRAM): the SPIRAM heap rawrt maps
 * itself, which under Memcheck is a compact heap too). MODE "bad": a read
 * after free 8 bytes into a block ("100 bytes"), a write one byte past a
 * block ("50 bytes"), a block lost ("200 bytes"), a branch on an
 * uninitialised byte of a fresh block; the addresses go to stdout
 * ("freed 0x...", "short 0x...", "fresh 0x...") for the test to find in
 * Memcheck's reports. "good": the same calls used correctly: no report at
 * all.
 */
#include "memcheck.h"

static int streq(const char *a, const char *b) {
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static volatile int sink;
static _Alignas(4096) unsigned char region[64 * 1024];
static GRAN_HANDLE gran;
static multi_heap_handle_t heap;
static int spiram;

/* A block of n bytes. */
static void *get(size_t n) {
    if (spiram)
        return heap_caps_malloc(n, MALLOC_CAP_SPIRAM);
    return heap ? multi_heap_malloc(heap, n) : gran_alloc(gran, n);
}

static void put(void *p, size_t n) {
    if (spiram)
        heap_caps_free(p);
    else if (heap)
        multi_heap_free(heap, p);
    else
        gran_free(gran, p, n);
}

/* The region heaps' calloc zeros and realloc's copied bytes are defined
 * (run in "good", also with the heaps poisoned): a branch on each is no
 * error. */
static __attribute__((noinline)) void zeros_and_copies(void) {
    if (spiram) {
        unsigned char *z = heap_caps_calloc(10, 4, MALLOC_CAP_SPIRAM);
        if (z[39] == 0)
            sink = 2;
        heap_caps_free(z);
    }
    unsigned char *r = get(16);
    for (int i = 0; i < 16; i++)
        r[i] = (unsigned char)i;
    r = spiram ? heap_caps_realloc(r, 3000, MALLOC_CAP_SPIRAM) : multi_heap_realloc(heap, r, 3000);
    if (r[15] == 15)
        sink = 3;
    r = spiram ? heap_caps_realloc(r, 8, MALLOC_CAP_SPIRAM) : multi_heap_realloc(heap, r, 8);
    if (r[7] == 7)
        sink = 4;
    put(r, 8);
}

/* 200 bytes allocated, written, and (in "bad") lost when this returns. */
static __attribute__((noinline)) void use200(int keep) {
    char *l = get(200);
    l[0] = 1;
    sink = l[0];
    if (!keep)
        put(l, 200);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        out("usage: valgrind_regions gran|multi-heap|spiram bad|good\n");
        return 2;
    }
    int bad = argv[2][0] == 'b';
    if (streq(argv[1], "gran"))
        gran = gran_initialize(region, sizeof region, 6, 6); /* 64-byte granules */
    else if (streq(argv[1], "multi-heap"))
        heap = multi_heap_register(region, sizeof region);
    else if (streq(argv[1], "spiram"))
        spiram = 1;
    if (!gran && !heap && !spiram)
        return 3;
    /* Granule 0 is the allocator's own "heap" pointer (Memcheck would
     * call a block there reachable): held by the program throughout. */
    void *first = get(64);
    use200(bad); /* early: the lost block's address is nowhere else */
    int *p = get(100);
    char *s = get(50); /* after p's two granules: no reuse of p's */
    for (int i = 0; i < 25; i++)
        p[i] = i;
    put(p, 100);
    if (bad) {
        hex("freed", p);
        sink = p[2]; /* read after free, 8 bytes into 100 */
    }
    if (bad) {
        hex("short", s);
        s[50] = 1; /* one byte past the block (inside its granule or slack) */
    }
    put(s, 50);
    unsigned char *q = get(24);
    if (!bad)
        q[5] = 7;
    else
        hex("fresh", q);
    if (q[5] == 7) /* uninitialised in "bad" */
        sink = 1;
    put(q, 24);
    if (!bad && !gran)
        zeros_and_copies();
    put(first, 64);
    return 0;
}
