/*
 * malloc_bench: allocator workloads for rawrt's C ABI, glibc, mimalloc and
 * jemalloc, built from this one source.
 *
 *   rawrt:  cc -O2 -nostdlib -static malloc_bench.c librawrt.a
 *   glibc:  cc -O2 malloc_bench.c            (run plain, or with
 *           LD_PRELOAD=libmimalloc.so.2 / libjemalloc.so.2)
 *   -DRAWRT_POOL (librawrt.a build only) adds the pool workloads.
 *
 * Usage: malloc_bench WORKLOAD [SCALE_PERCENT]
 * Prints one line:
 *   WORKLOAD ops=N ns_per_op=X.XX base_kb=B hwm_kb=H end_kb=E sum=S
 * where an "op" is one allocator call (malloc, free or realloc), base_kb is
 * VmRSS when main starts, hwm_kb is VmHWM (peak RSS) at the end, end_kb is
 * VmRSS after the workload freed everything, and sum is a checksum that
 * keeps the compiler from dropping work. One workload per process, so that
 * VmHWM is the peak of that workload alone.
 *
 * The only library functions used are malloc, free and realloc (and
 * whatever memset/memcpy the compiler emits); time, /proc and output go
 * through raw x86_64 system calls so both builds do exactly the same.
 */
#include <stddef.h>
#include <stdint.h>

void *malloc(size_t n);
void free(void *p);
void *realloc(void *p, size_t n);

#ifdef RAWRT_POOL
/* rawrt's block pools (include/rawrt.h), only in the librawrt.a build. */
typedef struct rawrt_pool rawrt_pool_t;
rawrt_pool_t *rawrt_pool_create(size_t block_size, size_t align, size_t max_blocks);
void *rawrt_pool_alloc(rawrt_pool_t *pool);
void rawrt_pool_free(rawrt_pool_t *pool, void *block);
void rawrt_pool_destroy(rawrt_pool_t *pool);
#endif

#if !defined(__x86_64__)
#error "malloc_bench issues raw x86_64 system calls"
#endif

/* ---- raw system calls ---------------------------------------------- */

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return r;
}

enum { SYS_read = 0, SYS_write = 1, SYS_open = 2, SYS_close = 3, SYS_clock_gettime = 228 };

struct ts { long sec, nsec; };

static uint64_t now_ns(void)
{
    struct ts t;
    sys3(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&t, 0);
    return (uint64_t)t.sec * 1000000000u + (uint64_t)t.nsec;
}

/* ---- output -------------------------------------------------------- */

static char out[512];
static size_t outn;

static void put(const char *s)
{
    while (*s && outn < sizeof out)
        out[outn++] = *s++;
}

static void putu(uint64_t v)
{
    char b[24];
    int i = 0;
    do {
        b[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i && outn < sizeof out)
        out[outn++] = b[--i];
}

/* v / 100 with two decimals */
static void putfix2(uint64_t v100)
{
    putu(v100 / 100);
    put(".");
    if (v100 % 100 < 10)
        put("0");
    putu(v100 % 100);
}

static void flush(int fd)
{
    sys3(SYS_write, fd, (long)out, (long)outn);
    outn = 0;
}

static void die(const char *msg)
{
    put("malloc_bench: ");
    put(msg);
    put("\n");
    flush(2);
    __builtin_trap();
}

/* ---- /proc/self/status ---------------------------------------------- */

/* The value in kB of field `key` ("VmRSS:", "VmHWM:"), or 0. */
static uint64_t status_kb(const char *key)
{
    static char buf[4096];
    long fd = sys3(SYS_open, (long)"/proc/self/status", 0, 0);
    if (fd < 0)
        return 0;
    long n = 0, r;
    while (n < (long)sizeof buf - 1 && (r = sys3(SYS_read, fd, (long)buf + n, (long)sizeof buf - 1 - n)) > 0)
        n += r;
    sys3(SYS_close, fd, 0, 0);
    buf[n] = 0;
    size_t kl = 0;
    while (key[kl])
        kl++;
    for (long i = 0; i + (long)kl < n; i++) {
        if ((i == 0 || buf[i - 1] == '\n')) {
            size_t j = 0;
            while (j < kl && buf[i + j] == key[j])
                j++;
            if (j == kl) {
                uint64_t v = 0;
                long k = i + (long)kl;
                while (buf[k] == ' ' || buf[k] == '\t')
                    k++;
                while (buf[k] >= '0' && buf[k] <= '9')
                    v = v * 10 + (uint64_t)(buf[k++] - '0');
                return v;
            }
        }
    }
    return 0;
}

/* ---- random numbers (fixed seed: every allocator sees the same calls) -- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static inline uint64_t rnd(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

/* uniform in [lo, hi] */
static inline size_t rnd_in(size_t lo, size_t hi)
{
    return lo + (size_t)(rnd() % (hi - lo + 1));
}

/* ---- helpers --------------------------------------------------------- */

static uint64_t sum;
static uint64_t ops;
static unsigned scale = 100;

static size_t sc(size_t n)
{
    size_t v = n * scale / 100;
    return v ? v : 1;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        die("malloc failed");
    return p;
}


/* Writes a word at the start of a new block (as an object header would). */
static inline void stamp(void *p, size_t n)
{
    *(volatile uint64_t *)p = n;
    ((volatile unsigned char *)p)[n - 1] = (unsigned char)n;
}

static inline void unstamp(void *p)
{
    sum += *(volatile uint64_t *)p;
}

/* ---- workloads ------------------------------------------------------ */

uint64_t g_t0, g_t1;

#define TIMED_BEGIN() uint64_t t0_ = now_ns()
#define TIMED_END()          \
    do {                     \
        g_t0 = t0_;          \
        g_t1 = now_ns();     \
    } while (0)

/* Small-object churn: N live blocks of 16..256 B; each step frees a
 * random one and allocates a new random size in its slot. */
static void w_churn(void)
{
    size_t live = 10000, steps = sc(3000000);
    void **slot = xmalloc(live * sizeof *slot);
    for (size_t i = 0; i < live; i++) {
        size_t n = rnd_in(16, 256);
        slot[i] = xmalloc(n);
        stamp(slot[i], n);
    }
    TIMED_BEGIN();
    for (size_t s = 0; s < steps; s++) {
        size_t i = (size_t)(rnd() % live);
        unstamp(slot[i]);
        free(slot[i]);
        size_t n = rnd_in(16, 256);
        slot[i] = malloc(n);
        stamp(slot[i], n);
    }
    TIMED_END();
    ops = 2 * steps;
    for (size_t i = 0; i < live; i++)
        free(slot[i]);
    free(slot);
}

/* Stack-like: push `depth` blocks of 16..512 B, pop them in reverse. */
static void w_lifo(void)
{
    size_t depth = 1000, rounds = sc(2000);
    void **stk = xmalloc(depth * sizeof *stk);
    TIMED_BEGIN();
    for (size_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < depth; i++) {
            size_t n = rnd_in(16, 512);
            stk[i] = malloc(n);
            stamp(stk[i], n);
        }
        for (size_t i = depth; i-- > 0;) {
            unstamp(stk[i]);
            free(stk[i]);
        }
    }
    TIMED_END();
    ops = 2 * depth * rounds;
    free(stk);
}

/* Realloc growth by small steps: 16 buffers grown round-robin by 16..256 B
 * each step from 16 B to 64 KiB, then freed; repeated. */
static void w_realloc_step(void)
{
    enum { NB = 16 };
    size_t limit = 64 * 1024, rounds = sc(60);
    void *b[NB];
    size_t len[NB];
    uint64_t n = 0;
    TIMED_BEGIN();
    for (size_t r = 0; r < rounds; r++) {
        for (int i = 0; i < NB; i++) {
            len[i] = 16;
            b[i] = malloc(16);
            stamp(b[i], 16);
            n++;
        }
        int active = NB;
        while (active) {
            active = 0;
            for (int i = 0; i < NB; i++) {
                if (len[i] >= limit)
                    continue;
                active++;
                len[i] += rnd_in(16, 256);
                b[i] = realloc(b[i], len[i]);
                ((volatile unsigned char *)b[i])[len[i] - 1] = 1;
                n++;
            }
        }
        for (int i = 0; i < NB; i++) {
            unstamp(b[i]);
            free(b[i]);
            n++;
        }
    }
    TIMED_END();
    ops = n;
}

/* Realloc growth by doubling: 4 buffers doubled round-robin from 16 B to
 * 4 MiB (crossing the mmap threshold), then freed; repeated. Each growth
 * writes the new last byte. */
static void w_realloc_double(void)
{
    enum { NB = 4 };
    size_t limit = 4u << 20, rounds = sc(60);
    void *b[NB];
    uint64_t n = 0;
    TIMED_BEGIN();
    for (size_t r = 0; r < rounds; r++) {
        for (int i = 0; i < NB; i++) {
            b[i] = malloc(16);
            stamp(b[i], 16);
            n++;
        }
        for (size_t len = 32; len <= limit; len *= 2) {
            for (int i = 0; i < NB; i++) {
                b[i] = realloc(b[i], len);
                ((volatile unsigned char *)b[i])[len - 1] = 1;
                n++;
            }
        }
        for (int i = 0; i < NB; i++) {
            unstamp(b[i]);
            free(b[i]);
            n++;
        }
    }
    TIMED_END();
    ops = n;
}

/* Large blocks: 16 live blocks of 128 KiB .. 4 MiB, replaced at random.
 * `touch` writes one byte per 4 KiB page of each new block (memory that
 * is really used); otherwise only its first and last bytes. */
static void large(int touch, size_t steps)
{
    enum { LIVE = 16 };
    void *slot[LIVE];
    size_t len[LIVE];
    for (int i = 0; i < LIVE; i++) {
        len[i] = rnd_in(128 * 1024, 4u << 20);
        slot[i] = xmalloc(len[i]);
        stamp(slot[i], len[i]);
    }
    TIMED_BEGIN();
    for (size_t s = 0; s < steps; s++) {
        size_t i = (size_t)(rnd() % LIVE);
        unstamp(slot[i]);
        free(slot[i]);
        size_t n = rnd_in(128 * 1024, 4u << 20);
        unsigned char *p = malloc(n);
        if (touch)
            for (size_t k = 0; k < n; k += 4096)
                ((volatile unsigned char *)p)[k] = 1;
        stamp(p, n);
        slot[i] = p;
        len[i] = n;
    }
    TIMED_END();
    ops = 2 * steps;
    for (int i = 0; i < LIVE; i++)
        free(slot[i]);
}

static void w_large(void) { large(0, sc(30000)); }
static void w_large_touch(void) { large(1, sc(500)); }

/* Cost per op with `live` blocks (16..128 B) alive: after building them
 * (not timed), each step frees a random one and allocates a replacement. */
static void flat(size_t live, size_t steps)
{
    void **slot = xmalloc(live * sizeof *slot);
    for (size_t i = 0; i < live; i++) {
        size_t n = rnd_in(16, 128);
        slot[i] = xmalloc(n);
        stamp(slot[i], n);
    }
    TIMED_BEGIN();
    for (size_t s = 0; s < steps; s++) {
        size_t i = (size_t)(rnd() % live);
        unstamp(slot[i]);
        free(slot[i]);
        size_t n = rnd_in(16, 128);
        slot[i] = malloc(n);
        stamp(slot[i], n);
    }
    TIMED_END();
    ops = 2 * steps;
    for (size_t i = 0; i < live; i++)
        free(slot[i]);
    free(slot);
}

static void w_live1k(void) { flat(1000, sc(1000000)); }
static void w_live1m(void) { flat(1000000, sc(1000000)); }

/* Fragmentation: 200k blocks of 16..1024 B, free every other one, then
 * 100k blocks of 64..2048 B (some fit the holes, most do not); peak RSS
 * is the figure of merit. Then everything is freed (end_kb shows how much
 * went back to the kernel). */
static void w_frag(void)
{
    size_t n1 = sc(200000), n2 = sc(100000);
    void **a = xmalloc(n1 * sizeof *a);
    void **b = xmalloc(n2 * sizeof *b);
    TIMED_BEGIN();
    for (size_t i = 0; i < n1; i++) {
        size_t n = rnd_in(16, 1024);
        a[i] = malloc(n);
        stamp(a[i], n);
    }
    for (size_t i = 0; i < n1; i += 2) {
        unstamp(a[i]);
        free(a[i]);
    }
    for (size_t i = 0; i < n2; i++) {
        size_t n = rnd_in(64, 2048);
        b[i] = malloc(n);
        stamp(b[i], n);
    }
    for (size_t i = 1; i < n1; i += 2) {
        unstamp(a[i]);
        free(a[i]);
    }
    for (size_t i = 0; i < n2; i++) {
        unstamp(b[i]);
        free(b[i]);
    }
    TIMED_END();
    ops = n1 + n1 + n2 + n2;
    free(a);
    free(b);
}

/* 64-byte blocks, as issue 4's pool benchmark: `pair` allocates, writes
 * and frees one block 10^7 times; `batch` allocates 10 000 blocks (writing
 * each), then frees them in a random order, 300 rounds. The same two loops
 * run over malloc/free and, in the rawrt build, over a rawrt pool. */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static size_t *batch_order(size_t k)
{
    size_t *o = xmalloc(k * sizeof *o);
    for (size_t i = 0; i < k; i++)
        o[i] = i;
    for (size_t i = k - 1; i > 0; i--) {
        size_t j = (size_t)(rnd() % (i + 1)), t = o[i];
        o[i] = o[j];
        o[j] = t;
    }
    return o;
}

#define DEF_BLOCKS64(PAIR, BATCH, SETUP, GET, PUT, TEARDOWN)          \
    static void PAIR(void)                                            \
    {                                                                 \
        size_t n = sc(10000000);                                      \
        SETUP;                                                        \
        TIMED_BEGIN();                                                \
        for (size_t i = 0; i < n; i++) {                              \
            unsigned char *p = GET;                                   \
            p[0] = (unsigned char)i;                                  \
            KEEP(p);                                                  \
            PUT(p);                                                   \
        }                                                             \
        TIMED_END();                                                  \
        ops = 2 * n;                                                  \
        TEARDOWN;                                                     \
    }                                                                 \
    static void BATCH(void)                                           \
    {                                                                 \
        size_t k = 10000, rounds = sc(300);                           \
        size_t *order = batch_order(k);                               \
        unsigned char **v = xmalloc(k * sizeof *v);                   \
        SETUP;                                                        \
        TIMED_BEGIN();                                                \
        for (size_t r = 0; r < rounds; r++) {                         \
            for (size_t i = 0; i < k; i++) {                          \
                v[i] = GET;                                           \
                v[i][0] = (unsigned char)i;                           \
            }                                                         \
            for (size_t i = 0; i < k; i++) {                          \
                sum += v[order[i]][0];                                \
                PUT(v[order[i]]);                                     \
            }                                                         \
        }                                                             \
        TIMED_END();                                                  \
        ops = 2 * k * rounds;                                         \
        TEARDOWN;                                                     \
        free(v);                                                      \
        free(order);                                                  \
    }

#define MALLOC64 malloc(64)
DEF_BLOCKS64(w_pair64, w_batch64, (void)0, MALLOC64, free, (void)0)

#ifdef RAWRT_POOL
static rawrt_pool_t *pool64;
#define POOL_SETUP                                    \
    do {                                              \
        pool64 = rawrt_pool_create(64, 16, 0);        \
        if (!pool64)                                  \
            die("rawrt_pool_create failed");          \
    } while (0)
#define POOL_GET rawrt_pool_alloc(pool64)
#define POOL_PUT(p) rawrt_pool_free(pool64, (p))
DEF_BLOCKS64(w_pool_pair64, w_pool_batch64, POOL_SETUP, POOL_GET, POOL_PUT, rawrt_pool_destroy(pool64))
#endif

static void w_none(void)
{
    TIMED_BEGIN();
    TIMED_END();
    ops = 1;
}

struct workload {
    const char *name;
    void (*run)(void);
};

static const struct workload workloads[] = {
    {"churn", w_churn},
    {"lifo", w_lifo},
    {"realloc_step", w_realloc_step},
    {"realloc_double", w_realloc_double},
    {"large", w_large},
    {"large_touch", w_large_touch},
    {"live_1e3", w_live1k},
    {"live_1e6", w_live1m},
    {"frag", w_frag},
    {"pair64", w_pair64},
    {"batch64", w_batch64},
#ifdef RAWRT_POOL
    {"pool_pair64", w_pool_pair64},
    {"pool_batch64", w_pool_batch64},
#endif
    {"none", w_none},
};

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

int main(int argc, char **argv)
{
    uint64_t base = status_kb("VmRSS:");
    if (argc < 2) {
        put("usage: malloc_bench WORKLOAD [SCALE_PERCENT]\nworkloads:");
        for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++) {
            put(" ");
            put(workloads[i].name);
        }
        put("\n");
        flush(2);
        return 2;
    }
    if (argc > 2) {
        unsigned v = 0;
        for (const char *s = argv[2]; *s >= '0' && *s <= '9'; s++)
            v = v * 10 + (unsigned)(*s - '0');
        if (v)
            scale = v;
    }
    const struct workload *w = 0;
    for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++)
        if (streq(argv[1], workloads[i].name))
            w = &workloads[i];
    if (!w)
        die("unknown workload");
    w->run();
    uint64_t hwm = status_kb("VmHWM:");
    uint64_t end = status_kb("VmRSS:");
    uint64_t dt = g_t1 - g_t0;
    put(w->name);
    put(" ops=");
    putu(ops);
    put(" ns_per_op=");
    putfix2(dt * 100 / (ops ? ops : 1));
    put(" base_kb=");
    putu(base);
    put(" hwm_kb=");
    putu(hwm);
    put(" end_kb=");
    putu(end);
    put(" sum=");
    putu(sum);
    put("\n");
    flush(1);
    return 0;
}
