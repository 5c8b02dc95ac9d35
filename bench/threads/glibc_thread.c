/*
 * glibc_thread: after glibc's benchtests/bench-malloc-thread, written from
 * its description. Each thread keeps a working set of 1024 blocks and
 * replaces a random one per iteration (free, then malloc of a new size);
 * sizes follow an inverse-square distribution over 8 B-32 KiB (mostly
 * small), drawn from a per-thread table of 8192 precomputed sizes so the
 * loop is almost only malloc and free. No block crosses threads. Every new
 * block gets a tag, checked before it is freed. Total iterations:
 * 40 000 000 x scale%, divided among the threads.
 * See common.h for the usage and output.
 */
#include "common.h"

#define WORKING_SET 1024
#define NSIZES 8192
#define MIN_SIZE 8
#define MAX_SIZE 32768

static uint64_t total_iters;

/* inverse square distribution on [MIN_SIZE, MAX_SIZE]: the inverse of its
 * distribution function at u in [0, 1) */
static size_t inv_square(double u)
{
    double lo = 1.0 / MIN_SIZE, hi = 1.0 / MAX_SIZE;
    double x = 1.0 / (lo - u * (lo - hi));
    size_t n = (size_t)x;
    return n < MIN_SIZE ? MIN_SIZE : n > MAX_SIZE ? MAX_SIZE : n;
}

static int worker(void *p)
{
    struct thread_arg *w = p;
    uint64_t s = seed_for(w->idx);
    uint32_t *sizes = xmalloc(NSIZES * sizeof *sizes);
    void **set = xmalloc(WORKING_SET * sizeof *set);
    for (unsigned i = 0; i < NSIZES; i++)
        sizes[i] = (uint32_t)inv_square((double)(rnd(&s) >> 11) / (double)(1ull << 53));
    for (unsigned i = 0; i < WORKING_SET; i++) {
        size_t n = sizes[i];
        set[i] = xmalloc(n);
        stamp(set[i], n, tag_of(n, i));
    }
    uint64_t iters = share(total_iters, w->idx, nthreads);
    for (uint64_t k = 0; k < iters; k++) {
        uint64_t r = rnd(&s);
        unsigned i = (unsigned)(r % WORKING_SET);
        size_t n = sizes[(r >> 32) % NSIZES];
        w->sum += check_free(set[i]);
        set[i] = xmalloc(n);
        stamp(set[i], n, tag_of(n, k));
    }
    for (unsigned i = 0; i < WORKING_SET; i++)
        w->sum += check_free(set[i]);
    free(set);
    free(sizes);
    w->ops = 2 * iters + 2 * WORKING_SET + 4;
    return 0;
}

static struct thread_arg args[MAX_THREADS];

int main(int argc, char **argv)
{
    parse_args("glibc_thread", argc, argv);
    total_iters = sc(40000000);
    for (unsigned i = 0; i < nthreads; i++)
        args[i].idx = i;
    report_args(args, 0, 0, timed_run(worker, args, sizeof args[0]));
    return 0;
}
