/*
 * cache.h: Hoard's false-sharing tests (Berger et al., "Hoard: a scalable
 * memory allocator for multithreaded applications", ASPLOS 2000), written
 * from their description; cache_thrash.c and cache_scratch.c include it.
 *
 * Each thread repeatedly allocates an 8-byte object, writes every byte of
 * it 1000 times (volatile stores; then every byte is read back and
 * checked)
 * and frees it. An allocator that gives objects of different threads the
 * same cache line makes the threads' stores fight over it:
 *   cache_thrash (active false sharing): the threads allocate their own
 *     objects from the start;
 *   cache_scratch (passive false sharing): the main thread first allocates
 *     one object per thread, side by side, and each thread starts by
 *     freeing the one it is handed; an allocator that then reuses that
 *     block for the thread's own allocations keeps the threads on one line.
 * Total objects: 200 000 x scale%, divided among the threads.
 * See common.h for the usage and output.
 */
#include "common.h"

#define OBJ_SIZE 8
#define WRITES 1000

static uint64_t total_objects;

struct arg {
    unsigned idx;
    unsigned char *handed; /* cache_scratch: the object to free first */
    uint64_t ops, sum;
    char pad[CACHE_LINE];
};

static int worker(void *p)
{
    struct arg *w = p;
    if (w->handed) {
        if (w->handed[0] != (unsigned char)w->idx)
            fail(bench_name, "handed object corrupted, thread", w->idx);
        free(w->handed);
        w->ops++;
    }
    uint64_t objects = share(total_objects, w->idx, nthreads);
    for (uint64_t k = 0; k < objects; k++) {
        volatile unsigned char *o = xmalloc(OBJ_SIZE);
        for (unsigned b = 0; b < OBJ_SIZE; b++)
            o[b] = (unsigned char)(b + k);
        for (unsigned j = 0; j < WRITES; j++)
            for (unsigned b = 0; b < OBJ_SIZE; b++)
                o[b] = (unsigned char)(o[b] + j + b);
        /* byte b went up by the sum of (j + b) over j < WRITES, mod 256 */
        for (unsigned b = 0; b < OBJ_SIZE; b++) {
            unsigned want = (unsigned)((b + k + (uint64_t)WRITES * (WRITES - 1) / 2 + (uint64_t)WRITES * b) & 255);
            if (o[b] != want)
                fail(bench_name, "object corrupted, thread", w->idx);
            w->sum += o[b];
        }
        free((void *)o);
        w->ops += 2;
    }
    return 0;
}

static struct arg args[MAX_THREADS];

int main(int argc, char **argv)
{
    parse_args(SCRATCH ? "cache_scratch" : "cache_thrash", argc, argv);
    total_objects = sc(200000);
    uint64_t ops = 0;
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < nthreads; i++) {
        args[i].idx = i;
        if (SCRATCH) {
            args[i].handed = xmalloc(OBJ_SIZE);
            args[i].handed[0] = (unsigned char)i;
            ops++;
        }
    }
    run_threads(nthreads, worker, args, sizeof args[0]);
    report_args(args, ops, 0, now_ns() - t0);
    return 0;
}
