/*
 * larson: after Larson and Krishnan's server simulation ("Memory
 * allocation for long-running server applications", ISMM 1998).
 * The main thread allocates T arrays of 5000 blocks of 8-1000 B (so every
 * thread starts on blocks it did not allocate). The run is 20 rounds; in
 * each, T fresh threads are started and thread i takes array (i + round)
 * mod T: the live blocks the previous round's threads left, allocated by
 * other threads. A thread replaces random slots: it checks and frees the
 * block there and allocates one of a new random size, writing a tag into
 * it. Total replacements: 30 000 000 x scale%, divided among rounds and
 * threads. The main thread checks and frees what is left at the end.
 * See common.h for the usage and output.
 */
#include "common.h"

#define SLOTS 5000
#define ROUNDS 20
#define MIN_SIZE 8
#define MAX_SIZE 1000

struct array {
    void *slot[SLOTS];
    uint64_t tag[SLOTS];
};

static struct array *arrays[MAX_THREADS];
static uint64_t per_thread_round; /* replacements per thread per round */

struct arg {
    unsigned idx;
    struct array *a;
    uint64_t seed, ops, sum;
    char pad[CACHE_LINE];
};

static struct arg args[MAX_THREADS];

static int worker(void *p)
{
    struct arg *w = p;
    struct array *a = w->a;
    uint64_t s = w->seed;
    for (uint64_t k = 0; k < per_thread_round; k++) {
        unsigned i = (unsigned)(rnd(&s) % SLOTS);
        w->sum += check_stamp_free(a->slot[i], a->tag[i]);
        size_t n = rnd_in(&s, MIN_SIZE, MAX_SIZE);
        void *q = xmalloc(n);
        uint64_t tag = tag_of(n, w->idx * 1000003u + k);
        stamp(q, n, tag);
        a->slot[i] = q;
        a->tag[i] = tag;
    }
    w->ops += 2 * per_thread_round;
    w->seed = s;
    return 0;
}

int main(int argc, char **argv)
{
    parse_args("larson", argc, argv);
    per_thread_round = round_share(30000000, ROUNDS);
    uint64_t s = seed_for(1000);
    uint64_t ops = 0, sum = 0;
    uint64_t t0 = now_ns();
    for (unsigned t = 0; t < nthreads; t++) {
        arrays[t] = xmalloc(sizeof *arrays[t]);
        for (unsigned i = 0; i < SLOTS; i++) {
            size_t n = rnd_in(&s, MIN_SIZE, MAX_SIZE);
            arrays[t]->slot[i] = xmalloc(n);
            arrays[t]->tag[i] = tag_of(n, i);
            stamp(arrays[t]->slot[i], n, arrays[t]->tag[i]);
        }
        ops += SLOTS + 1;
    }
    for (unsigned i = 0; i < nthreads; i++)
        args[i].seed = seed_for(i);
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < nthreads; i++) {
            args[i].idx = i;
            args[i].a = arrays[(i + r) % nthreads];
        }
        run_threads(nthreads, worker, args, sizeof args[0]);
    }
    for (unsigned t = 0; t < nthreads; t++) {
        for (unsigned i = 0; i < SLOTS; i++)
            sum += check_stamp_free(arrays[t]->slot[i], arrays[t]->tag[i]);
        free(arrays[t]);
        ops += SLOTS + 1;
    }
    report_args(args, ops, sum, now_ns() - t0);
    return 0;
}
