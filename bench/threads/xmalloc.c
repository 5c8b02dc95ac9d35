/*
 * xmalloc: after Lever and Boreham's xmalloc-test (producer-consumer).
 * Half of the threads (rounded up) only allocate, the others only free, so
 * every free is a cross-thread free. A producer allocates a batch of 100
 * blocks (3/4 of 8-64 B, 1/4 of 65-512 B, 1 in 64 of 513-4096 B), writes a
 * tag into each, and pushes the batch (itself a malloc'd block) onto a
 * shared FIFO guarded by a mutex; a consumer pops batches, checks every
 * block and frees it and the batch. At most 64 batches wait at a time
 * (producers wait when the queue is full). With 1 thread the same thread
 * fills the queue and then empties it. Total batches: 120 000 x scale%.
 * See common.h for the usage and output.
 */
#include "common.h"

#define BATCH 100
#define MAX_PENDING 64

struct batch {
    struct batch *next;
    uint64_t n;
    void *blocks[BATCH];
};

static mtx_t qlock;
static struct batch *qhead, *qtail;
static _Atomic uint64_t pending;     /* batches in the queue */
static _Atomic uint64_t to_produce;  /* batch numbers handed out */
static _Atomic uint64_t consumed;    /* batches freed */
static uint64_t total_batches;

struct arg {
    unsigned idx;
    int producer, consumer;
    uint64_t ops, sum;
    char pad[CACHE_LINE];
};

static size_t pick_size(uint64_t *s)
{
    uint64_t r = rnd(s);
    if (r % 64 == 0)
        return rnd_in(s, 513, 4096);
    if (r % 4 == 0)
        return rnd_in(s, 65, 512);
    return rnd_in(s, 8, 64);
}

static void push(struct batch *b)
{
    b->next = 0;
    mtx_lock(&qlock);
    if (qtail)
        qtail->next = b;
    else
        qhead = b;
    qtail = b;
    mtx_unlock(&qlock);
    atomic_fetch_add(&pending, 1);
}

static struct batch *pop(void)
{
    mtx_lock(&qlock);
    struct batch *b = qhead;
    if (b) {
        qhead = b->next;
        if (!qhead)
            qtail = 0;
    }
    mtx_unlock(&qlock);
    if (b)
        atomic_fetch_sub(&pending, 1);
    return b;
}

/* Produces one batch (number k); returns 0 when all are handed out. */
static int produce(struct arg *a, uint64_t *s)
{
    uint64_t k = atomic_fetch_add(&to_produce, 1);
    if (k >= total_batches)
        return 0;
    struct batch *b = xmalloc(sizeof *b);
    b->n = k;
    for (unsigned i = 0; i < BATCH; i++) {
        size_t n = pick_size(s);
        void *p = xmalloc(n);
        stamp(p, n, tag_of(n, k));
        b->blocks[i] = p;
    }
    a->ops += BATCH + 1;
    push(b);
    return 1;
}

static void consume(struct arg *a, struct batch *b)
{
    for (unsigned i = 0; i < BATCH; i++) {
        uint64_t tag = check_free(b->blocks[i]);
        if (tag >> 32 != b->n)
            fail(bench_name, "block in the wrong batch, batch", b->n);
        a->sum += tag;
    }
    free(b);
    a->ops += BATCH + 1;
    atomic_fetch_add(&consumed, 1);
}

static int worker(void *p)
{
    struct arg *a = p;
    uint64_t s = seed_for(a->idx);
    unsigned spins = 0;
    if (a->producer && a->consumer) {
        /* one thread: fill the queue, then empty it */
        for (;;) {
            int more = 1;
            while (more && atomic_load(&pending) < MAX_PENDING)
                more = produce(a, &s);
            struct batch *b;
            while ((b = pop()))
                consume(a, b);
            if (!more)
                return 0;
        }
    }
    if (a->producer) {
        for (;;) {
            spins = 0;
            while (atomic_load(&pending) >= MAX_PENDING)
                relax(&spins);
            if (!produce(a, &s))
                return 0;
        }
    }
    for (;;) {
        struct batch *b = pop();
        if (b) {
            consume(a, b);
            spins = 0;
        } else if (atomic_load(&consumed) >= total_batches) {
            return 0;
        } else {
            relax(&spins);
        }
    }
}

static struct arg args[MAX_THREADS];

int main(int argc, char **argv)
{
    parse_args("xmalloc", argc, argv);
    total_batches = sc(120000);
    mtx_init(&qlock, mtx_plain);
    unsigned producers = nthreads == 1 ? 1 : (nthreads + 1) / 2;
    for (unsigned i = 0; i < nthreads; i++) {
        args[i].idx = i;
        args[i].producer = nthreads == 1 || i < producers;
        args[i].consumer = nthreads == 1 || i >= producers;
    }
    uint64_t ns = timed_run(worker, args, sizeof args[0]);
    if (atomic_load(&consumed) != total_batches || qhead)
        fail(bench_name, "batches left over", total_batches - atomic_load(&consumed));
    report_args(args, 0, 0, ns);
    return 0;
}
