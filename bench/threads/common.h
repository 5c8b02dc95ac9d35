/*
 * common.h: what the multi-threaded allocator workloads in bench/threads/
 * share. Each workload is one C11-threads source, built twice:
 *
 *   rawrt:  cc -O2 -fno-builtin -nostdlib -static W.c librawrt.a
 *   glibc:  cc -O2 -fno-builtin W.c   (run plain, or with
 *           LD_PRELOAD=libmimalloc.so.2 / libjemalloc.so.2)
 *
 * No libc header is included: malloc/free/realloc and the C11 threads
 * functions are declared here with the types both rawrt (include/rawrt.h)
 * and glibc use (thrd_t is an unsigned long in both; mtx_t is only passed
 * by address, and the storage below is larger than either needs). Time,
 * output and exit are raw x86_64 system calls, atomics are C11
 * <stdatomic.h> (instructions, no library), so both builds do the same.
 *
 * Usage of every workload: NAME [THREADS [SCALE_PERCENT]]  (defaults 1, 100)
 * The total work is fixed by the scale and divided among the threads.
 * Prints one line:
 *   NAME threads=T scale=S ops=N ms=X.XXX check=C
 * where ops counts allocator calls (malloc + free), ms is the in-process
 * wall time of the workload, and check is a checksum of what the threads
 * read back from their blocks. Every block gets a tag written into its
 * first word (and its last byte) when allocated, and the tag is checked
 * before it is freed: a mismatch prints an error and exits with status 1.
 */
#ifndef BENCH_THREADS_COMMON_H
#define BENCH_THREADS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#if !defined(__x86_64__)
#error "bench/threads issues raw x86_64 system calls"
#endif

void *malloc(size_t n);
void free(void *p);
void *realloc(void *p, size_t n);

typedef unsigned long thrd_t;
typedef int (*thrd_start_t)(void *arg);
typedef struct { _Alignas(16) unsigned char opaque[64]; } mtx_t;
enum { thrd_success = 0 };
enum { mtx_plain = 0 };
int thrd_create(thrd_t *thr, thrd_start_t func, void *arg);
int thrd_join(thrd_t thr, int *res);
void thrd_yield(void);
int mtx_init(mtx_t *m, int type);
int mtx_lock(mtx_t *m);
int mtx_unlock(mtx_t *m);
void mtx_destroy(mtx_t *m);

#define MAX_THREADS 64
#define CACHE_LINE 64

/* ---- raw system calls ---------------------------------------------- */

static inline long bt_sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return r;
}

struct bt_ts { long sec, nsec; };

static inline uint64_t now_ns(void)
{
    struct bt_ts t;
    bt_sys3(228 /* clock_gettime */, 1 /* CLOCK_MONOTONIC */, (long)&t, 0);
    return (uint64_t)t.sec * 1000000000u + (uint64_t)t.nsec;
}

__attribute__((noreturn)) static inline void bt_exit(int status)
{
    for (;;)
        bt_sys3(231 /* exit_group */, status, 0, 0);
}

/* ---- output -------------------------------------------------------- */

struct bt_out { char b[256]; size_t n; };

static inline void bt_put(struct bt_out *o, const char *s)
{
    while (*s && o->n < sizeof o->b)
        o->b[o->n++] = *s++;
}

static inline void bt_putu(struct bt_out *o, uint64_t v)
{
    char d[24];
    int i = 0;
    do {
        d[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i && o->n < sizeof o->b)
        o->b[o->n++] = d[--i];
}

/* label, then v in decimal */
static inline void bt_put_u(struct bt_out *o, const char *label, uint64_t v)
{
    bt_put(o, label);
    bt_putu(o, v);
}

/* Ends the line and writes it to fd. */
static inline void bt_flush_line(struct bt_out *o, int fd)
{
    bt_put(o, "\n");
    bt_sys3(1 /* write */, fd, (long)o->b, (long)o->n);
    o->n = 0;
}

/* Prints "NAME: MESSAGE VALUE" on stderr and exits with status 1. */
__attribute__((noreturn)) static void fail(const char *name, const char *msg, uint64_t v)
{
    struct bt_out o = { .n = 0 };
    bt_put(&o, name);
    bt_put(&o, ": ");
    bt_put(&o, msg);
    bt_put_u(&o, " ", v);
    bt_flush_line(&o, 2);
    bt_exit(1);
}

/* ---- arguments ------------------------------------------------------- */

static const char *bench_name;
static unsigned nthreads = 1;
static unsigned scale = 100;

static unsigned parse_u(const char *s)
{
    unsigned v = 0;
    if (!*s)
        fail(bench_name, "bad number, length", 0);
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            fail(bench_name, "bad number, character", (uint64_t)(unsigned char)*s);
        v = v * 10 + (unsigned)(*s - '0');
    }
    return v;
}

static void parse_args(const char *name, int argc, char **argv)
{
    bench_name = name;
    if (argc > 1)
        nthreads = parse_u(argv[1]);
    if (argc > 2)
        scale = parse_u(argv[2]);
    if (nthreads < 1 || nthreads > MAX_THREADS)
        fail(name, "threads must be 1..64, got", nthreads);
    if (scale < 1)
        fail(name, "scale must be at least 1, got", scale);
}

/* n scaled by the scale percentage, at least 1 */
static inline uint64_t sc(uint64_t n)
{
    uint64_t v = n * scale / 100;
    return v ? v : 1;
}

/* share of `total` for thread `i` of `t` (the shares add up to total) */
static inline uint64_t share(uint64_t total, unsigned i, unsigned t)
{
    return total / t + (i < total % t ? 1 : 0);
}

/* a thread's share of sc(total) in each of `rounds` rounds, at least 1 */
static inline uint64_t round_share(uint64_t total, unsigned rounds)
{
    uint64_t v = sc(total) / rounds / nthreads;
    return v ? v : 1;
}

/* ---- random numbers: xorshift64*, one state per thread, fixed seeds ---- */

static inline uint64_t seed_for(uint64_t i)
{
    uint64_t s = 0x9e3779b97f4a7c15u * (i + 1);
    return s ? s : 1;
}

static inline uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1du;
}

/* uniform in [lo, hi] */
static inline size_t rnd_in(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)(rnd(s) % (hi - lo + 1));
}

/* ---- blocks: written when allocated, checked before they are freed ---- */

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        fail(bench_name, "malloc failed, size", n);
    return p;
}

/* Writes `tag` into the first word and, past it, the tag's low byte into
 * the last byte of a block of n >= 8 bytes. */
static inline void stamp(void *p, size_t n, uint64_t tag)
{
    *(volatile uint64_t *)p = tag;
    if (n > 8)
        ((volatile unsigned char *)p)[n - 1] = (unsigned char)tag;
}

static inline int last_byte_ok(void *p, size_t n, uint64_t tag)
{
    return n <= 8 || ((volatile unsigned char *)p)[n - 1] == (unsigned char)tag;
}

/* Checks what stamp wrote and returns the tag. */
static inline uint64_t check_stamp(void *p, size_t n, uint64_t tag)
{
    uint64_t t = *(volatile uint64_t *)p;
    if (t != tag || !last_byte_ok(p, n, tag))
        fail(bench_name, "block corrupted, tag", tag);
    return t;
}

/* A tag that encodes the size (low 32 bits) and something else (high). */
static inline uint64_t tag_of(size_t n, uint64_t other)
{
    return (uint64_t)n | (other << 32);
}

static inline size_t size_of_tag(uint64_t tag)
{
    return (size_t)(uint32_t)tag;
}

/* Checks what stamp(p, n, tag) wrote for a tag of tag_of(n, x) and frees
 * the block; returns the tag. */
static inline uint64_t check_stamp_free(void *p, uint64_t tag)
{
    uint64_t t = check_stamp(p, size_of_tag(tag), tag);
    free(p);
    return t;
}

/* Frees a block stamped with tag_of(n, x), after checking it; returns the tag. */
static inline uint64_t check_free(void *p)
{
    uint64_t tag = *(volatile uint64_t *)p;
    size_t n = size_of_tag(tag);
    if (n < 8 || !last_byte_ok(p, n, tag))
        fail(bench_name, "block corrupted, tag", tag);
    free(p);
    return tag;
}

/* ---- threads ----------------------------------------------------------- */

/* The per-thread argument of the workloads that need no other (every
 * workload's own struct arg has at least idx, ops and sum too). */
struct thread_arg {
    unsigned idx;
    uint64_t ops, sum;
    char pad[CACHE_LINE];
};

/* Runs fn(i) on threads i = 0..t-1 and waits for them all. */
static void run_threads(unsigned t, thrd_start_t fn, void *args, size_t arg_size)
{
    thrd_t th[MAX_THREADS];
    for (unsigned i = 0; i < t; i++)
        if (thrd_create(&th[i], fn, (char *)args + i * arg_size) != thrd_success)
            fail(bench_name, "thrd_create failed, thread", i);
    for (unsigned i = 0; i < t; i++) {
        int res = -1;
        if (thrd_join(th[i], &res) != thrd_success || res != 0)
            fail(bench_name, "thread failed, thread", i);
    }
}

/* Runs fn on nthreads threads over args (see run_threads); returns the
 * wall time it took in ns. */
__attribute__((unused)) static uint64_t timed_run(thrd_start_t fn, void *args, size_t arg_size)
{
    uint64_t t0 = now_ns();
    run_threads(nthreads, fn, args, arg_size);
    return now_ns() - t0;
}

/* Spin-then-yield wait used by the queues (no condition variables: rawrt
 * provides none). */
static inline void relax(unsigned *spins)
{
    if (++*spins < 64)
        __builtin_ia32_pause();
    else
        thrd_yield();
}

/* ---- inboxes: parcels of blocks sent to another thread to be freed ---- */

struct parcel {
    struct parcel *next;
    uint64_t n;
    void *blocks[]; /* stamped with tag_of */
};

struct inbox {
    mtx_t lock;
    struct parcel *head;
    _Atomic uint64_t count; /* parcels in the inbox */
    char pad[CACHE_LINE];
};

__attribute__((unused)) static void inbox_init(struct inbox *b)
{
    mtx_init(&b->lock, mtx_plain);
    b->head = 0;
    atomic_store(&b->count, 0);
}

__attribute__((unused)) static void inbox_put(struct inbox *b, struct parcel *p)
{
    mtx_lock(&b->lock);
    p->next = b->head;
    b->head = p;
    mtx_unlock(&b->lock);
    atomic_fetch_add(&b->count, 1);
}

/* Checks and frees every block in the inbox and the parcels; adds the
 * tags to *sum and the number of free calls to *ops. */
__attribute__((unused)) static void inbox_drain(struct inbox *b, uint64_t *sum, uint64_t *ops)
{
    mtx_lock(&b->lock);
    struct parcel *p = b->head;
    b->head = 0;
    mtx_unlock(&b->lock);
    while (p) {
        struct parcel *next = p->next;
        atomic_fetch_sub(&b->count, 1);
        for (uint64_t i = 0; i < p->n; i++)
            *sum += check_free(p->blocks[i]);
        *ops += p->n + 1;
        free(p);
        p = next;
    }
}

/* Puts parcel p in inbox `to`, waiting while `max` parcels are already
 * there (flow control; meanwhile the sender empties its own inbox `own`,
 * so a ring of waiting threads still moves), then empties `own`. */
__attribute__((unused)) static void inbox_send(struct inbox *to, struct parcel *p, uint64_t max,
                                               struct inbox *own, uint64_t *sum, uint64_t *ops)
{
    unsigned spins = 0;
    while (atomic_load(&to->count) >= max) {
        inbox_drain(own, sum, ops);
        relax(&spins);
    }
    inbox_put(to, p);
    inbox_drain(own, sum, ops);
}

/* A thread that has sent all its parcels: counts itself in *done_sending,
 * keeps emptying its inbox `own` until all t threads are done sending
 * (others may still wait for room in it), then empties it a last time. */
__attribute__((unused)) static void inbox_finish(struct inbox *own, _Atomic unsigned *done_sending,
                                                 unsigned t, uint64_t *sum, uint64_t *ops)
{
    atomic_fetch_add(done_sending, 1);
    unsigned spins = 0;
    while (atomic_load(done_sending) < t) {
        inbox_drain(own, sum, ops);
        relax(&spins);
    }
    inbox_drain(own, sum, ops);
}

/* timed_run() for threads that send each other parcels: starts the inboxes
 * boxes[0..nthreads-1] first, and after the run fails if a parcel is left
 * in one of them. Returns the wall time of the run in ns. */
__attribute__((unused)) static uint64_t inbox_run(struct inbox *boxes, thrd_start_t fn,
                                                  void *args, size_t arg_size)
{
    for (unsigned i = 0; i < nthreads; i++)
        inbox_init(&boxes[i]);
    uint64_t ns = timed_run(fn, args, arg_size);
    for (unsigned i = 0; i < nthreads; i++)
        if (boxes[i].head)
            fail(bench_name, "parcels left in inbox", i);
    return ns;
}

/* ---- the result line --------------------------------------------------- */

static void report(uint64_t ops, uint64_t ns, uint64_t check)
{
    struct bt_out o = { .n = 0 };
    bt_put(&o, bench_name);
    bt_put_u(&o, " threads=", nthreads);
    bt_put_u(&o, " scale=", scale);
    bt_put_u(&o, " ops=", ops);
    bt_put_u(&o, " ms=", ns / 1000000);
    bt_put(&o, ".");
    uint64_t frac = ns / 1000 % 1000;
    if (frac < 100)
        bt_put(&o, "0");
    if (frac < 10)
        bt_put(&o, "0");
    bt_putu(&o, frac);
    bt_put_u(&o, " check=", check);
    bt_flush_line(&o, 1);
}

/* report() for a run that took ns (evaluated first) and whose ops and
 * check are ops0 and sum0 plus the ops and sum fields of
 * args[0..nthreads-1] (every workload's struct arg has them). */
#define report_args(args, ops0, sum0, ns)                  \
    do {                                                   \
        uint64_t bt_ns = (ns);                             \
        uint64_t bt_ops = (ops0), bt_sum = (sum0);         \
        for (unsigned bt_i = 0; bt_i < nthreads; bt_i++) { \
            bt_ops += (args)[bt_i].ops;                    \
            bt_sum += (args)[bt_i].sum;                    \
        }                                                  \
        report(bt_ops, bt_ns, bt_sum);                     \
    } while (0)

#endif
