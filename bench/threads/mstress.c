/*
 * mstress: after the stress test of mimalloc (test-stress), written from
 * its description. Random sizes, mostly small (8-256 B) with occasional
 * larger ones (1 in 100 of 257 B-64 KiB, 1 in 1000 of 64 KiB-1 MiB). The
 * run is 10 rounds; in each, T fresh threads are started and each one
 * alternates growing phases (3 allocations for 1 free) and shrinking phases
 * (1 allocation for 3 frees) of 16 000 steps, so its live set (an array
 * grown with realloc) rises and falls; it frees all it still holds when
 * the round ends. One step in 16 swaps a live block with a random slot of
 * a shared transfer array of 1000 blocks (an atomic exchange): blocks move
 * between threads and outlive the thread that allocated them, and the
 * main thread frees the transfer array at the end. Total steps:
 * 30 000 000 x scale%, divided among rounds and threads.
 * See common.h for the usage and output.
 */
#include "common.h"

#define ROUNDS 10
#define PHASE 16000
#define TRANSFER 1000

static void *_Atomic transfer[TRANSFER];
static uint64_t steps_per_thread_round;

struct arg {
    unsigned idx;
    uint64_t seed, ops, sum;
    char pad[CACHE_LINE];
};

static struct arg args[MAX_THREADS];

static size_t pick_size(uint64_t *s)
{
    uint64_t r = rnd(s);
    if (r % 1000 == 0)
        return rnd_in(s, 65536 + 1, 1 << 20);
    if (r % 100 == 1)
        return rnd_in(s, 257, 65536);
    return rnd_in(s, 8, 256);
}

static int worker(void *p)
{
    struct arg *w = p;
    uint64_t s = w->seed;
    size_t cap = 1024, n = 0;
    void **live = xmalloc(cap * sizeof *live);
    w->ops++;
    for (uint64_t k = 0; k < steps_per_thread_round; k++) {
        int growing = (k / PHASE) % 2 == 0;
        uint64_t r = rnd(&s);
        if (r % 16 == 0 && n > 0) {
            /* hand a live block to the transfer array, take whatever was there */
            size_t i = (size_t)(rnd(&s) % n);
            unsigned j = (unsigned)(rnd(&s) % TRANSFER);
            void *got = atomic_exchange(&transfer[j], live[i]);
            if (got) {
                live[i] = got;
            } else {
                live[i] = live[--n];
            }
            continue;
        }
        int alloc = growing ? (r >> 8) % 4 != 0 : (r >> 8) % 4 == 0;
        if (alloc || n == 0) {
            if (n == cap) {
                cap *= 2;
                void **bigger = realloc(live, cap * sizeof *live);
                if (!bigger)
                    fail(bench_name, "realloc failed, size", cap * sizeof *live);
                live = bigger;
                w->ops++;
            }
            size_t sz = pick_size(&s);
            void *b = xmalloc(sz);
            stamp(b, sz, tag_of(sz, w->idx));
            live[n++] = b;
            w->ops++;
        } else {
            size_t i = (size_t)(rnd(&s) % n);
            w->sum += check_free(live[i]);
            live[i] = live[--n];
            w->ops++;
        }
    }
    for (size_t i = 0; i < n; i++)
        w->sum += check_free(live[i]);
    free(live);
    w->ops += n + 1;
    w->seed = s;
    return 0;
}

int main(int argc, char **argv)
{
    parse_args("mstress", argc, argv);
    steps_per_thread_round = round_share(30000000, ROUNDS);
    for (unsigned i = 0; i < nthreads; i++) {
        args[i].idx = i;
        args[i].seed = seed_for(i);
    }
    uint64_t t0 = now_ns();
    for (unsigned r = 0; r < ROUNDS; r++)
        run_threads(nthreads, worker, args, sizeof args[0]);
    uint64_t ops = 0, sum = 0;
    for (unsigned j = 0; j < TRANSFER; j++) {
        void *b = atomic_load(&transfer[j]);
        if (b) {
            sum += check_free(b);
            ops++;
        }
    }
    report_args(args, ops, sum, now_ns() - t0);
    return 0;
}
