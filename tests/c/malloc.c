/*
 * The C allocation ABI of librawrt.a, as a C program without libc uses it:
 * the malloc family, mallinfo2, errno, the ESP-IDF multi_heap_* API over a
 * static array and the heap_caps_* API over the process heap.
 *
 * Built by src/hosted/cmalloc.rs with
 *   cc -std=c11 -Wall -Wextra -Werror -nostdlib -static -fno-builtin malloc.c librawrt.a
 * (-fno-builtin: the compiler must not fold what it believes malloc does).
 * Everything is declared by hand below. `write` (also from librawrt.a) only
 * reports: one "ok SECTION" line per section on stdout, and on the first
 * failed check "FAIL malloc.c:LINE: CONDITION" on stderr and status 1.
 * Sections also print what the heap prints (dumps, checks, summaries)
 * between "<<< NAME" and ">>> NAME" lines, which the hosted test reads.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the functions under test, declared as their manuals do ---- */
void *malloc(size_t size);
void free(void *p);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void *reallocf(void *p, size_t size);
void *reallocarray(void *p, size_t n, size_t size);
void *recallocarray(void *p, size_t old_n, size_t n, size_t size);
int posix_memalign(void **memptr, size_t align, size_t size);
void *aligned_alloc(size_t align, size_t size);
void *memalign(size_t align, size_t size);
void *valloc(size_t size);
size_t malloc_usable_size(void *p);
int malloc_trim(size_t pad);
struct mallinfo2 {
    size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
struct mallinfo2 mallinfo2(void);
int *__errno_location(void);
#define errno (*__errno_location())
#define EINVAL 22
#define ENOMEM 12

/* ESP-IDF (multi_heap.h, esp_heap_caps.h) */
typedef struct multi_heap_info *multi_heap_handle_t;
typedef struct {
    size_t total_free_bytes;
    size_t total_allocated_bytes;
    size_t largest_free_block;
    size_t minimum_free_bytes;
    size_t allocated_blocks;
    size_t free_blocks;
    size_t total_blocks;
} multi_heap_info_t;
multi_heap_handle_t multi_heap_register(void *start, size_t size);
void *multi_heap_malloc(multi_heap_handle_t heap, size_t size);
void *multi_heap_aligned_alloc(multi_heap_handle_t heap, size_t size, size_t align);
void multi_heap_free(multi_heap_handle_t heap, void *p);
void multi_heap_aligned_free(multi_heap_handle_t heap, void *p);
void *multi_heap_realloc(multi_heap_handle_t heap, void *p, size_t size);
size_t multi_heap_get_allocated_size(multi_heap_handle_t heap, void *p);
size_t multi_heap_free_size(multi_heap_handle_t heap);
size_t multi_heap_minimum_free_size(multi_heap_handle_t heap);
void multi_heap_get_info(multi_heap_handle_t heap, multi_heap_info_t *info);
bool multi_heap_check(multi_heap_handle_t heap, bool print_errors);
void multi_heap_dump(multi_heap_handle_t heap);

#define MALLOC_CAP_8BIT (1 << 2)
#define MALLOC_CAP_RTCRAM (1 << 15) /* one no heap has (only registered regions do) */
#define MALLOC_CAP_DEFAULT (1 << 12)
void *heap_caps_malloc(size_t size, uint32_t caps);
void *heap_caps_calloc(size_t n, size_t size, uint32_t caps);
void *heap_caps_realloc(void *p, size_t size, uint32_t caps);
void heap_caps_free(void *p);
void *heap_caps_aligned_alloc(size_t align, size_t size, uint32_t caps);
void heap_caps_get_info(multi_heap_info_t *info, uint32_t caps);
size_t heap_caps_get_free_size(uint32_t caps);
size_t heap_caps_get_minimum_free_size(uint32_t caps);
size_t heap_caps_get_largest_free_block(uint32_t caps);
size_t heap_caps_get_total_size(uint32_t caps);
size_t heap_caps_get_allocated_size(void *p);
bool heap_caps_check_integrity_all(bool print_errors);
bool heap_caps_check_integrity_addr(intptr_t addr, bool print_errors);
void heap_caps_dump_all(void);
void heap_caps_print_heap_info(uint32_t caps);
typedef void (*esp_alloc_failed_hook_t)(size_t size, uint32_t caps, const char *function_name);
int heap_caps_register_failed_alloc_callback(esp_alloc_failed_hook_t hook);

/* for reporting only */
long write(int fd, const void *buf, size_t n);

/* ---- reporting ---- */
static size_t len(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
static void say(int fd, const char *s) { write(fd, s, len(s)); }
static void say_num(int fd, unsigned long v) {
    char b[24];
    int i = 23;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    say(fd, b + i);
}
static int failed_line;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            say(2, "FAIL malloc.c:");                                                              \
            say_num(2, __LINE__);                                                                  \
            say(2, ": " #c "\n");                                                                  \
            failed_line = __LINE__;                                                                \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define HUGE_SIZE (SIZE_MAX / 2) /* never satisfiable, fails without a system call */

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }
static void fill(void *p, size_t n, unsigned char v) {
    volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = v;
}
static bool all(const void *p, size_t n, unsigned char v) {
    const volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return false;
    return true;
}
static bool is_pattern(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 7 + 1))
            return false;
    return true;
}
static void pattern(void *p, size_t n) {
    volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 7 + 1);
}
static size_t live_bytes(void) { return mallinfo2().uordblks; }
static size_t live_blocks(void) {
    multi_heap_info_t i;
    heap_caps_get_info(&i, MALLOC_CAP_DEFAULT);
    return i.allocated_blocks;
}

/* Dirties some memory and gives it back, so that later blocks may reuse
 * bytes that are not zero. */
static void dirty_the_heap(void) {
    void *ps[64];
    for (int i = 0; i < 64; i++) {
        ps[i] = malloc(64 + 48 * i);
        if (ps[i])
            fill(ps[i], 64 + 48 * i, 0xDD);
    }
    for (int i = 0; i < 64; i++)
        free(ps[i]);
}

/* ---- sections ---- */
static int basics(void) {
    void *a = malloc(0), *b = malloc(0);
    CHECK(a && b && a != b);
    CHECK(aligned(a, 16) && aligned(b, 16));
    CHECK(malloc_usable_size(a) < 64);
    free(a);
    free(b);
    free(NULL);
    CHECK(malloc_usable_size(NULL) == 0);

    for (size_t n = 1; n < 70000; n = n * 3 + 1) {
        void *p = malloc(n);
        CHECK(p && aligned(p, 16));
        CHECK(malloc_usable_size(p) >= n);
        pattern(p, n);
        CHECK(is_pattern(p, n));
        free(p);
    }

    /* realloc(NULL, n) is malloc(n) */
    size_t before = live_blocks();
    char *p = realloc(NULL, 100);
    CHECK(p && malloc_usable_size(p) >= 100 && live_blocks() == before + 1);
    pattern(p, 100);
    /* growing and shrinking keep the contents */
    p = realloc(p, 5000);
    CHECK(p && is_pattern(p, 100));
    pattern(p, 5000);
    p = realloc(p, 300000);
    CHECK(p && is_pattern(p, 5000));
    pattern(p, 300000);
    p = realloc(p, 70);
    CHECK(p && is_pattern(p, 70));
    /* realloc(p, 0) frees p and returns NULL */
    size_t bytes = live_bytes();
    size_t usable = malloc_usable_size(p);
    CHECK(realloc(p, 0) == NULL);
    CHECK(live_blocks() == before && live_bytes() == bytes - usable);

    /* calloc zeroes, also memory that was written before */
    dirty_the_heap();
    for (size_t n = 1; n < 5000; n = n * 2 + 3) {
        unsigned char *z = calloc(n, 3);
        CHECK(z && all(z, n * 3, 0));
        free(z);
    }
    /* a failed realloc leaves the block as it was */
    p = malloc(200);
    pattern(p, 200);
    errno = 0;
    CHECK(realloc(p, HUGE_SIZE) == NULL && errno == ENOMEM);
    CHECK(is_pattern(p, 200) && malloc_usable_size(p) >= 200);
    errno = 0;
    CHECK(realloc(p, SIZE_MAX) == NULL && errno == ENOMEM);
    CHECK(is_pattern(p, 200));
    /* reallocf frees it */
    bytes = live_bytes();
    before = live_blocks();
    usable = malloc_usable_size(p);
    errno = 0;
    CHECK(reallocf(p, HUGE_SIZE) == NULL && errno == ENOMEM);
    CHECK(live_blocks() == before - 1 && live_bytes() == bytes - usable);
    /* and behaves like realloc when it succeeds */
    p = reallocf(NULL, 40);
    CHECK(p);
    pattern(p, 40);
    p = reallocf(p, 4000);
    CHECK(p && is_pattern(p, 40));
    free(p);
    say(1, "ok basics\n");
    return 0;
}

static int overflow(void) {
    errno = 0;
    CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc((size_t)1 << 32, (size_t)1 << 32) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(SIZE_MAX - 4096) == NULL && errno == ENOMEM);

    char *p = malloc(64);
    pattern(p, 64);
    size_t blocks = live_blocks();
    errno = 0;
    CHECK(reallocarray(p, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    CHECK(is_pattern(p, 64) && live_blocks() == blocks);
    errno = 0;
    CHECK(recallocarray(p, 64, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    CHECK(is_pattern(p, 64) && live_blocks() == blocks);
    errno = 0;
    CHECK(recallocarray(p, SIZE_MAX / 2, 1, 3) == NULL && errno == ENOMEM);
    CHECK(is_pattern(p, 64));
    /* recallocarray: an old size larger than the block is EINVAL */
    errno = 0;
    CHECK(recallocarray(p, 100000, 10, 1) == NULL && errno == EINVAL);
    CHECK(is_pattern(p, 64));
    /* reallocarray grows like realloc */
    p = reallocarray(p, 100, 8);
    CHECK(p && is_pattern(p, 64) && malloc_usable_size(p) >= 800);
    free(p);
    say(1, "ok overflow\n");
    return 0;
}

static int recalloc(void) {
    dirty_the_heap();
    /* NULL is calloc */
    unsigned char *p = recallocarray(NULL, 0, 100, 8);
    CHECK(p && all(p, 800, 0));
    size_t u = malloc_usable_size(p);
    fill(p, u, 0xAA); /* the slack after 800 bytes too */
    /* growing zeroes everything past the old 800 bytes */
    unsigned char *q = recallocarray(p, 100, 300, 8);
    CHECK(q && all(q, 800, 0xAA) && all(q + 800, 1600, 0));
    fill(q, malloc_usable_size(q), 0xAA);
    /* shrinking by less than a block: in place, same usable size, the
     * released bytes cleared */
    u = malloc_usable_size(q);
    unsigned char *r = recallocarray(q, u, u - 10, 1);
    CHECK(r == q && malloc_usable_size(r) == u);
    CHECK(all(r, u - 10, 0xAA) && all(r + u - 10, 10, 0));
    /* shrinking a lot: in place, the rest split off; the bytes that stay
     * in the block past the new size were cleared */
    r = recallocarray(r, u - 10, 190, 1);
    CHECK(r == q && all(r, 190, 0xAA));
    u = malloc_usable_size(r);
    CHECK(u > 190 && u < 300 && all(r + 190, u - 190, 0));
    free(r);
    say(1, "ok recallocarray\n");
    return 0;
}

static int alignment(void) {
    void *p = (void *)0x1234;
    int bad[] = {0, 1, 2, 3, 4, 12, 24, 48, 1000};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 77;
        CHECK(posix_memalign(&p, (size_t)bad[i], 16) == EINVAL);
        CHECK(p == (void *)0x1234 && errno == 77); /* untouched, errno kept */
    }
    errno = 77;
    CHECK(posix_memalign(&p, 64, HUGE_SIZE) == ENOMEM);
    CHECK(p == (void *)0x1234 && errno == 77);
    CHECK(posix_memalign(&p, 4096, SIZE_MAX - 100) == ENOMEM && p == (void *)0x1234);
    errno = 0;
    CHECK(aligned_alloc(3, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(aligned_alloc(0, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(aligned_alloc(48, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(aligned_alloc(64, HUGE_SIZE) == NULL && errno == ENOMEM);

    for (size_t a = 8; a <= (1 << 20); a <<= 1) {
        void *x = NULL;
        CHECK(posix_memalign(&x, a, 100) == 0 && x && aligned(x, a));
        CHECK(malloc_usable_size(x) >= 100);
        fill(x, 100, 1);
        void *y = aligned_alloc(a, a * 2);
        CHECK(y && aligned(y, a) && malloc_usable_size(y) >= a * 2);
        fill(y, a * 2, 2);
        void *z = memalign(a, 3);
        CHECK(z && aligned(z, a));
        void *w = heap_caps_aligned_alloc(a, 50, MALLOC_CAP_DEFAULT);
        CHECK(w && aligned(w, a));
        CHECK(all(x, 100, 1) && all(y, a * 2, 2));
        free(x);
        free(y);
        free(z);
        heap_caps_free(w);
    }
    /* memalign rounds an odd alignment up to a power of two */
    void *m = memalign(24, 100);
    CHECK(m && aligned(m, 32));
    free(m);
    /* valloc: page-aligned */
    for (size_t n = 1; n < 100000; n = n * 5 + 1) {
        void *v = valloc(n);
        CHECK(v && aligned(v, 4096) && malloc_usable_size(v) >= n);
        fill(v, n, 3);
        free(v);
    }
    CHECK(heap_caps_check_integrity_all(true));
    say(1, "ok alignment\n");
    return 0;
}

static int statistics(void) {
    struct mallinfo2 m0 = mallinfo2();
    CHECK(m0.smblks == 0 && m0.hblks == 0 && m0.hblkhd == 0 && m0.fsmblks == 0);
    CHECK(m0.usmblks >= m0.uordblks);
    CHECK(m0.uordblks + m0.fordblks <= m0.arena);
    CHECK(m0.keepcost == heap_caps_get_largest_free_block(MALLOC_CAP_DEFAULT));
    void *p[10];
    size_t sum = 0;
    for (int i = 0; i < 10; i++) {
        p[i] = malloc(1000 * (size_t)(i + 1));
        sum += malloc_usable_size(p[i]);
        CHECK(heap_caps_get_allocated_size(p[i]) == malloc_usable_size(p[i]));
    }
    struct mallinfo2 m1 = mallinfo2();
    CHECK(m1.uordblks == m0.uordblks + sum);
    CHECK(m1.usmblks >= m1.uordblks);
    multi_heap_info_t i1;
    heap_caps_get_info(&i1, MALLOC_CAP_DEFAULT);
    CHECK(i1.total_allocated_bytes == m1.uordblks && i1.total_free_bytes == m1.fordblks);
    CHECK(i1.largest_free_block == m1.keepcost && i1.free_blocks == m1.ordblks);
    CHECK(i1.total_blocks == i1.allocated_blocks + i1.free_blocks);
    CHECK(i1.minimum_free_bytes <= i1.total_free_bytes);
    CHECK(heap_caps_get_free_size(MALLOC_CAP_DEFAULT) == i1.total_free_bytes);
    CHECK(heap_caps_get_free_size(MALLOC_CAP_8BIT) == i1.total_free_bytes);
    CHECK(heap_caps_get_minimum_free_size(MALLOC_CAP_DEFAULT) == i1.minimum_free_bytes);
    CHECK(heap_caps_get_total_size(MALLOC_CAP_DEFAULT) == i1.total_free_bytes + i1.total_allocated_bytes);
    for (int i = 0; i < 10; i++)
        free(p[i]);
    struct mallinfo2 m2 = mallinfo2();
    CHECK(m2.uordblks == m0.uordblks);
    CHECK(m2.usmblks >= m1.uordblks); /* the peak stays */

    /* A burst and malloc_trim: memory goes back. */
    void *burst[2000];
    for (int i = 0; i < 2000; i++) {
        burst[i] = malloc(2000);
        fill(burst[i], 2000, 9);
    }
    size_t arena_full = mallinfo2().arena;
    for (int i = 0; i < 2000; i++)
        free(burst[i]);
    (void)malloc_trim(0);
    struct mallinfo2 m3 = mallinfo2();
    CHECK(m3.arena < arena_full);
    CHECK(malloc_trim(0) == 0); /* nothing more */
    CHECK(mallinfo2().arena == m3.arena);
    say(1, "ok statistics\n");
    return 0;
}

/* ---- ESP-IDF multi_heap over a static array ---- */
static char region[32768 + 3];

static int multi_heap(void) {
    static char tiny[16];
    CHECK(multi_heap_register(tiny, sizeof tiny) == NULL);
    /* a start that is not even word-aligned */
    multi_heap_handle_t h = multi_heap_register(region + 3, sizeof region - 3);
    CHECK(h != NULL);
    multi_heap_info_t i0;
    multi_heap_get_info(h, &i0);
    CHECK(i0.allocated_blocks == 0 && i0.total_allocated_bytes == 0 && i0.free_blocks == 1);
    /* the heap's own state (a small-model heap: some 300 B) lives at the
       start of the region */
    CHECK(i0.total_free_bytes > 32300 && i0.total_free_bytes < 32768);
    CHECK(i0.largest_free_block == i0.total_free_bytes);
    CHECK(multi_heap_free_size(h) == i0.total_free_bytes);
    CHECK(multi_heap_minimum_free_size(h) == i0.total_free_bytes);

    char *a = multi_heap_malloc(h, 100);
    char *b = multi_heap_malloc(h, 200);
    char *c = multi_heap_aligned_alloc(h, 50, 256);
    /* NuttX's small memory model (a region of at most 64 KiB): 8-byte
       alignment, 4-byte headers */
    CHECK(a && b && c && aligned(a, 8) && aligned(b, 8) && aligned(c, 256));
    CHECK(b - a == 104); /* a: 100 bytes and its 4-byte header */
    CHECK(a >= region && c < region + sizeof region);
    CHECK(multi_heap_aligned_alloc(h, 50, 3) == NULL);
    pattern(a, 100);
    pattern(b, 200);
    size_t sa = multi_heap_get_allocated_size(h, a), sb = multi_heap_get_allocated_size(h, b),
           sc = multi_heap_get_allocated_size(h, c);
    CHECK(sa >= 100 && sb >= 200 && sc >= 50);
    multi_heap_info_t i1;
    multi_heap_get_info(h, &i1);
    CHECK(i1.allocated_blocks == 3 && i1.total_allocated_bytes == sa + sb + sc);
    CHECK(i1.total_blocks == i1.allocated_blocks + i1.free_blocks);
    CHECK(multi_heap_free_size(h) == i1.total_free_bytes && i1.total_free_bytes < i0.total_free_bytes);
    /* realloc keeps contents, in place or not */
    a = multi_heap_realloc(h, a, 1000);
    CHECK(a && is_pattern(a, 100));
    b = multi_heap_realloc(h, b, 50);
    CHECK(b && is_pattern(b, 50));
    CHECK(multi_heap_realloc(h, b, 1 << 20) == NULL && is_pattern(b, 50)); /* too big: intact */
    /* the largest free block is exact: it fits, 16 more do not */
    multi_heap_get_info(h, &i1);
    size_t l = i1.largest_free_block;
    CHECK(multi_heap_malloc(h, l + 16) == NULL);
    char *d = multi_heap_malloc(h, l);
    CHECK(d != NULL);
    fill(d, l, 0x5C);
    size_t low = multi_heap_free_size(h);
    CHECK(low < 2000 && multi_heap_minimum_free_size(h) == low);
    CHECK(multi_heap_minimum_free_size(h) < i1.total_free_bytes);
    CHECK(multi_heap_check(h, true));
    multi_heap_free(h, d);
    multi_heap_free(h, NULL);
    multi_heap_aligned_free(h, c);
    multi_heap_get_info(h, &i1);
    CHECK(i1.allocated_blocks == 2);
    say(1, "<<< multi_heap_dump\n");
    multi_heap_dump(h);
    say(1, ">>> multi_heap_dump\n");
    multi_heap_free(h, a);
    b = multi_heap_realloc(h, b, 0); /* frees */
    CHECK(b == NULL);
    multi_heap_get_info(h, &i1);
    CHECK(i1.allocated_blocks == 0 && i1.free_blocks == 1 && i1.total_free_bytes == i0.total_free_bytes);
    CHECK(i1.minimum_free_bytes == low); /* the low-water mark stays */
    CHECK(multi_heap_check(h, true));
    /* a damaged header is found and reported on stdout */
    char *e = multi_heap_malloc(h, 64);
    char *f = multi_heap_malloc(h, 64);
    CHECK(e && f);
    /* f's 4-byte header (the small model's): a size running off the region */
    ((uint32_t *)f)[-1] = 0x7777771;
    say(1, "<<< multi_heap_check\n");
    CHECK(!multi_heap_check(h, true));
    say(1, ">>> multi_heap_check\n");
    CHECK(!multi_heap_check(h, false));
    say(1, "ok multi_heap\n");
    return 0;
}

/* ---- ESP-IDF heap_caps over the process heap ---- */
static size_t hook_calls, hook_size;
static uint32_t hook_caps;
static char hook_name[40];

static void hook(size_t size, uint32_t caps, const char *name) {
    hook_calls++;
    hook_size = size;
    hook_caps = caps;
    size_t n = 0;
    while (name[n] && n < sizeof hook_name - 1) {
        hook_name[n] = name[n];
        n++;
    }
    hook_name[n] = 0;
}

static bool same(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int heap_caps(void) {
    uint32_t served[] = {MALLOC_CAP_DEFAULT, MALLOC_CAP_8BIT, MALLOC_CAP_DEFAULT | MALLOC_CAP_8BIT};
    for (int k = 0; k < 3; k++) {
        uint32_t caps = served[k];
        char *p = heap_caps_malloc(300, caps);
        CHECK(p && aligned(p, 16) && heap_caps_get_allocated_size(p) >= 300);
        pattern(p, 300);
        char *z = heap_caps_calloc(30, 10, caps);
        CHECK(z && all(z, 300, 0));
        p = heap_caps_realloc(p, 3000, caps);
        CHECK(p && is_pattern(p, 300));
        CHECK(heap_caps_check_integrity_addr((intptr_t)p, true));
        heap_caps_free(p);
        heap_caps_free(z);
        heap_caps_free(NULL);
    }
    /* a capability the process heap lacks: NULL and zeros */
    CHECK(heap_caps_malloc(100, MALLOC_CAP_RTCRAM) == NULL);
    CHECK(heap_caps_malloc(100, MALLOC_CAP_RTCRAM | MALLOC_CAP_8BIT) == NULL);
    CHECK(heap_caps_calloc(1, 100, MALLOC_CAP_RTCRAM) == NULL);
    CHECK(heap_caps_aligned_alloc(64, 100, MALLOC_CAP_RTCRAM) == NULL);
    char *keep = malloc(10);
    pattern(keep, 10);
    CHECK(heap_caps_realloc(keep, 100, MALLOC_CAP_RTCRAM) == NULL && is_pattern(keep, 10));
    free(keep);
    multi_heap_info_t none;
    fill(&none, sizeof none, 0xFF);
    heap_caps_get_info(&none, MALLOC_CAP_RTCRAM);
    CHECK(none.total_free_bytes == 0 && none.total_allocated_bytes == 0 && none.largest_free_block == 0);
    CHECK(none.allocated_blocks == 0 && none.free_blocks == 0 && none.total_blocks == 0);
    CHECK(heap_caps_get_free_size(MALLOC_CAP_RTCRAM) == 0);
    CHECK(heap_caps_get_minimum_free_size(MALLOC_CAP_RTCRAM) == 0);
    CHECK(heap_caps_get_largest_free_block(MALLOC_CAP_RTCRAM) == 0);
    CHECK(heap_caps_get_total_size(MALLOC_CAP_RTCRAM) == 0);
    /* integrity */
    int local;
    CHECK(heap_caps_check_integrity_all(true));
    CHECK(!heap_caps_check_integrity_addr((intptr_t)&local, true));
    /* the failed-allocation hook: (size, requested caps, function) */
    CHECK(heap_caps_register_failed_alloc_callback(hook) == 0);
    CHECK(heap_caps_malloc(HUGE_SIZE, MALLOC_CAP_DEFAULT) == NULL);
    CHECK(hook_calls == 1 && hook_size == HUGE_SIZE && hook_caps == MALLOC_CAP_DEFAULT);
    CHECK(same(hook_name, "heap_caps_malloc"));
    CHECK(heap_caps_malloc(HUGE_SIZE - 1, MALLOC_CAP_8BIT) == NULL);
    CHECK(hook_calls == 2 && hook_size == HUGE_SIZE - 1 && hook_caps == MALLOC_CAP_8BIT);
    CHECK(heap_caps_calloc(HUGE_SIZE, 1, MALLOC_CAP_DEFAULT) == NULL);
    CHECK(hook_calls == 3 && hook_size == HUGE_SIZE && same(hook_name, "heap_caps_calloc"));
    CHECK(heap_caps_aligned_alloc(64, HUGE_SIZE, MALLOC_CAP_DEFAULT) == NULL);
    CHECK(hook_calls == 4 && same(hook_name, "heap_caps_aligned_alloc"));
    keep = heap_caps_malloc(10, MALLOC_CAP_DEFAULT);
    CHECK(heap_caps_realloc(keep, HUGE_SIZE, MALLOC_CAP_DEFAULT) == NULL);
    CHECK(hook_calls == 5 && same(hook_name, "heap_caps_realloc"));
    heap_caps_free(keep);
    /* a capability no heap has fails like any allocation (ESP-IDF calls
     * the hook for every failed heap_caps allocation) */
    CHECK(heap_caps_malloc(100, MALLOC_CAP_RTCRAM) == NULL);
    CHECK(hook_calls == 6 && hook_size == 100 && hook_caps == MALLOC_CAP_RTCRAM);
    CHECK(same(hook_name, "heap_caps_malloc"));
    /* plain malloc failures reach the hook too */
    CHECK(malloc(HUGE_SIZE) == NULL);
    CHECK(hook_calls == 7 && hook_size == HUGE_SIZE && (hook_caps & MALLOC_CAP_DEFAULT));
    CHECK(same(hook_name, "malloc"));
    CHECK(heap_caps_register_failed_alloc_callback(NULL) == 0);
    CHECK(malloc(HUGE_SIZE) == NULL && hook_calls == 7);
    say(1, "<<< heap_caps_print_heap_info\n");
    heap_caps_print_heap_info(MALLOC_CAP_DEFAULT);
    say(1, "\n>>> heap_caps_print_heap_info\n");
    void *x = malloc(12345);
    say(1, "<<< heap_caps_dump_all\n");
    heap_caps_dump_all();
    say(1, ">>> heap_caps_dump_all\n");
    free(x);
    say(1, "ok heap_caps\n");
    return 0;
}

int main(void) {
    int (*sections[])(void) = {basics, overflow, recalloc, alignment, statistics, multi_heap, heap_caps};
    for (unsigned i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (sections[i]())
            return 1;
    CHECK(heap_caps_check_integrity_all(true));
    say(1, "all ok\n");
    return failed_line;
}
