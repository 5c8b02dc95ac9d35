/*
 * The C allocation ABI over the small heap (librawrt.a built with the
 * `small-heap` feature), without libc. Run by the hosted check
 * `small_heap_from_c` (testkit/tests/hosted/smallheap.rs): with no
 * argument it makes its checks (check.h); with one it commits that misuse,
 * which must end it with SIGABRT and one line on stderr:
 *   double-free    free() of a block freed already
 *   invalid        free() of a pointer into the middle of a block
 *   foreign        free() of a pointer no heap handed out
 *   overwrite      a write after free over a freed block's link, then
 *                  malloc() of its size
 * and one more, which ends with SIGSEGV and nothing on stderr (see the
 * README: `free` reads the check word before a page-aligned pointer):
 *   page-aligned   free() of the start of a page with no page before it
 */
#include "check.h"

#define HUGE ((size_t)-1 / 2)

static int all(const unsigned char *p, size_t n, unsigned char b) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != b) return 0;
    return 1;
}

static int same(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static int misuse(const char *what) {
    static char stack_buf[64];
    if (same(what, "double-free")) {
        void *p = malloc(40);
        free(p);
        free(p);
    } else if (same(what, "invalid")) {
        char *p = malloc(100);
        free(p + 16);
    } else if (same(what, "foreign")) {
        free(stack_buf + 32);
    } else if (same(what, "overwrite")) {
        unsigned char *p = malloc(48);
        void *q = malloc(48);
        free(p);
        memset(p, 0x41, 16);
        (void)malloc(48);
        free(q);
    } else if (same(what, "page-aligned")) {
        char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || munmap(m, 4096) != 0) return 3;
        free(m + 4096);
    } else {
        return 2;
    }
    return 0; /* not reached when the heap reports the misuse */
}

int main(int argc, char **argv) {
    if (argc > 1) return misuse(argv[1]);

    /* malloc: 16-byte aligned, at least the size, unique for 0 bytes. */
    void *z1 = malloc(0), *z2 = malloc(0);
    CHECK(z1 && z2 && z1 != z2, "malloc(0) gives unique pointers");
    free(z1);
    free(z2);
    int ok = 1;
    unsigned char *blk[64];
    for (int i = 0; i < 64; i++) {
        size_t n = 1 + (size_t)i * 150;
        blk[i] = malloc(n);
        if (!blk[i] || (uintptr_t)blk[i] % 16 || malloc_usable_size(blk[i]) < n) ok = 0;
        else memset(blk[i], i, n);
    }
    for (int i = 0; i < 64; i++) {
        if (!all(blk[i], 1 + (size_t)i * 150, (unsigned char)i)) ok = 0;
        free(blk[i]);
    }
    CHECK(ok, "blocks of 1 to 9,451 bytes: aligned, their size usable, contents kept");
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) is 0");
    errno = 0;
    CHECK(malloc(HUGE) == NULL && errno == ENOMEM, "malloc of half the address space: NULL, ENOMEM");

    /* calloc zeroes reused memory; its overflow is ENOMEM. */
    unsigned char *d = malloc(200);
    memset(d, 0xEE, 200);
    free(d);
    unsigned char *c = calloc(10, 20);
    CHECK(c && all(c, 200, 0), "calloc(10, 20) is zero, reused memory too");
    free(c);
    errno = 0;
    CHECK(calloc(HUGE, 4) == NULL && errno == ENOMEM, "calloc overflow: NULL, ENOMEM");

    /* realloc's rules. */
    unsigned char *r = realloc(NULL, 30);
    CHECK(r != NULL, "realloc(NULL, 30) allocates");
    memset(r, 7, 30);
    r = realloc(r, 5000);
    CHECK(r && all(r, 30, 7), "realloc to 5,000 bytes keeps the contents");
    memset(r, 8, 5000);
    r = realloc(r, 200000);
    CHECK(r && all(r, 5000, 8) && malloc_usable_size(r) >= 200000, "realloc to a mapped block");
    memset(r, 9, 200000);
    r = realloc(r, 1 << 20);
    CHECK(r && all(r, 200000, 9), "a mapped block grows");
    r = realloc(r, 64);
    CHECK(r && all(r, 64, 9) && malloc_usable_size(r) < 4096, "and comes back to a span");
    errno = 0;
    CHECK(realloc(r, HUGE) == NULL && errno == ENOMEM && all(r, 64, 9),
          "a failed realloc: NULL, ENOMEM, the block intact");
    errno = 0;
    CHECK(reallocarray(r, HUGE, 4) == NULL && errno == ENOMEM, "reallocarray overflow: ENOMEM");
    r = recallocarray(r, 8, 100, 8);
    CHECK(r && all(r, 64, 9) && all(r + 64, 736, 0), "recallocarray zeroes what it adds");
    CHECK(realloc(r, 0) == NULL, "realloc(p, 0) frees p and gives NULL");
    unsigned char *f = malloc(10);
    errno = 0;
    CHECK(reallocf(f, HUGE) == NULL && errno == ENOMEM, "reallocf frees the block when it fails");

    /* Alignment. */
    void *a = NULL;
    CHECK(posix_memalign(&a, 64, 100) == 0 && (uintptr_t)a % 64 == 0, "posix_memalign(64)");
    free(a);
    CHECK(posix_memalign(&a, 65536, 10) == 0 && (uintptr_t)a % 65536 == 0, "posix_memalign(65536)");
    free(a);
    void *keep = &a;
    a = keep;
    CHECK(posix_memalign(&a, 24, 10) == EINVAL && a == keep, "posix_memalign(24): EINVAL, untouched");
    errno = 0;
    CHECK(aligned_alloc(48, 10) == NULL && errno == EINVAL, "aligned_alloc(48): EINVAL");
    void *m = memalign(100, 10);
    CHECK(m && (uintptr_t)m % 128 == 0, "memalign(100) rounds up to 128");
    free(m);
    void *v = valloc(10);
    CHECK(v && (uintptr_t)v % 4096 == 0, "valloc is page-aligned");
    free(v);
    void *s16 = aligned_alloc(16, 32);
    CHECK(s16 && (uintptr_t)s16 % 16 == 0 && malloc_usable_size(s16) == 32,
          "aligned_alloc(16) comes from a span");
    free(s16);

    /* The figures, and the kernel given memory back. */
    struct mallinfo2 i0 = mallinfo2();
    void *big[40];
    for (int i = 0; i < 40; i++) big[i] = malloc(8192);
    struct mallinfo2 i1 = mallinfo2();
    CHECK(i1.uordblks == i0.uordblks + 40 * 8192, "mallinfo2 counts the bytes in use");
    CHECK(i1.arena >= i1.uordblks + 40 * 8192 - i0.uordblks, "the footprint holds them");
    void *huge = malloc(1 << 20);
    struct mallinfo2 i2 = mallinfo2();
    CHECK(i2.hblkhd >= (1 << 20), "a mapped block is in hblkhd");
    free(huge);
    for (int i = 0; i < 40; i++) free(big[i]);
    struct mallinfo2 i3 = mallinfo2();
    CHECK(i3.uordblks == i0.uordblks && i3.hblkhd == i0.hblkhd, "all freed: back to the start");
    CHECK(malloc_trim(0) == 1, "malloc_trim gives the empty spans' pages back");
    CHECK(malloc_trim(0) == 0, "and then has nothing more to give");

    /* A pool takes its chunks from the small heap. */
    struct mallinfo2 p0 = mallinfo2();
    rawrt_pool_t *pool = rawrt_pool_create(32, 0, 0);
    void *pb[100];
    ok = pool != NULL;
    for (int i = 0; ok && i < 100; i++)
        if (!(pb[i] = rawrt_pool_alloc(pool))) ok = 0;
    CHECK(ok && mallinfo2().uordblks > p0.uordblks, "a pool's chunks come from the small heap");
    for (int i = 0; ok && i < 100; i++) rawrt_pool_free(pool, pb[i]);
    rawrt_pool_destroy(pool);
    CHECK(mallinfo2().uordblks == p0.uordblks, "and go back to it");

    /* Many small blocks. */
    static void *many[100000];
    ok = 1;
    for (int i = 0; i < 100000; i++)
        if (!(many[i] = malloc(16 + (size_t)(i % 7) * 16))) ok = 0;
    for (int i = 0; i < 100000; i += 2) free(many[i]);
    for (int i = 1; i < 100000; i += 2) free(many[i]);
    CHECK(ok && mallinfo2().uordblks == i0.uordblks, "100,000 blocks allocated and freed");

    return finish("small_heap");
}
