/*
 * sh6bench: after MicroQuill's SmartHeap benchmark sh6bench (and sh8bench,
 * its version with cross-thread frees), written from its description:
 * batches of many small blocks freed in different orders. Each thread
 * runs rounds; in each, it allocates a batch of 1000 blocks whose sizes
 * step through 8-512 B (shifting every round), frees the odd-numbered half
 * last-allocated first (LIFO), refills those slots, then frees the blocks
 * first-allocated first (FIFO) except every fourth one, which it sends in
 * a parcel to the next thread's inbox (a cross-thread free), and frees
 * whatever parcels are in its own inbox. At the end every thread waits for
 * all to finish sending and empties its inbox. Total rounds:
 * 20 000 x scale%, divided among the threads.
 * See common.h for the usage and output.
 */
#include "common.h"

#define BATCH 1000
#define MAX_PARCELS 16

static uint64_t total_rounds;
static struct inbox inboxes[MAX_THREADS];
static _Atomic unsigned done_sending;

static void *alloc_block(uint64_t round, unsigned k)
{
    size_t n = 8 + (size_t)((k + round * 7) % 64) * 8;
    void *p = xmalloc(n);
    stamp(p, n, tag_of(n, k));
    return p;
}

static int worker(void *p)
{
    struct thread_arg *w = p;
    void **batch = xmalloc(BATCH * sizeof *batch);
    struct inbox *own = &inboxes[w->idx], *next = &inboxes[(w->idx + 1) % nthreads];
    uint64_t rounds = share(total_rounds, w->idx, nthreads);
    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned k = 0; k < BATCH; k++)
            batch[k] = alloc_block(r, k);
        for (unsigned k = BATCH - 1; k < BATCH; k -= 2) /* odd slots, LIFO */
            w->sum += check_free(batch[k]);
        for (unsigned k = 1; k < BATCH; k += 2)
            batch[k] = alloc_block(r + 1, k);
        struct parcel *parcel = xmalloc(sizeof *parcel + (BATCH / 4) * sizeof(void *));
        parcel->n = 0;
        for (unsigned k = 0; k < BATCH; k++) { /* FIFO */
            if (k % 4 == 3)
                parcel->blocks[parcel->n++] = batch[k];
            else
                w->sum += check_free(batch[k]);
        }
        w->ops += 3 * BATCH + 1 - BATCH / 4;
        inbox_send(next, parcel, MAX_PARCELS, own, &w->sum, &w->ops);
    }
    inbox_finish(own, &done_sending, nthreads, &w->sum, &w->ops);
    free(batch);
    w->ops += 2;
    return 0;
}

static struct thread_arg args[MAX_THREADS];

int main(int argc, char **argv)
{
    parse_args("sh6bench", argc, argv);
    total_rounds = sc(20000);
    for (unsigned i = 0; i < nthreads; i++)
        args[i].idx = i;
    report_args(args, 0, 0, inbox_run(inboxes, worker, args, sizeof args[0]));
    return 0;
}
