/*
 * rptest: after rpmalloc's benchmark (rpmalloc-benchmark), written from its
 * description. Each thread keeps a working set of 2048 slots used as a
 * ring. Per iteration it allocates 64 blocks of random sizes (7/8 of
 * 16-1024 B, 1/8 of 1-16 KiB; the slot's previous block, if any, is
 * checked and freed first), then takes 16 random live blocks out of its
 * working set and sends them in a parcel (a malloc'd block) to the next
 * thread's inbox (waiting while 64 parcels are already there), and frees whatever parcels are in its own inbox: a
 * quarter of all blocks are freed by another thread. At the end every
 * thread waits for all to finish sending and empties its inbox. Total
 * iterations: 150 000 x scale%, divided among the threads.
 * See common.h for the usage and output.
 */
#include "common.h"

#define WS 2048
#define ALLOCS 64
#define SEND 16
#define MAX_PARCELS 64

static uint64_t total_iters;
static struct inbox inboxes[MAX_THREADS];
static _Atomic unsigned done_sending;

static size_t pick_size(uint64_t *s)
{
    if (rnd(s) % 8 == 0)
        return rnd_in(s, 1025, 16384);
    return rnd_in(s, 16, 1024);
}

static int worker(void *p)
{
    struct thread_arg *w = p;
    uint64_t s = seed_for(w->idx);
    void **set = xmalloc(WS * sizeof *set);
    for (unsigned i = 0; i < WS; i++)
        set[i] = 0;
    unsigned cursor = 0;
    struct inbox *own = &inboxes[w->idx], *next = &inboxes[(w->idx + 1) % nthreads];
    uint64_t iters = share(total_iters, w->idx, nthreads);
    for (uint64_t k = 0; k < iters; k++) {
        for (unsigned a = 0; a < ALLOCS; a++) {
            unsigned i = cursor++ % WS;
            if (set[i]) {
                w->sum += check_free(set[i]);
                w->ops++;
            }
            size_t n = pick_size(&s);
            set[i] = xmalloc(n);
            stamp(set[i], n, tag_of(n, k));
            w->ops++;
        }
        struct parcel *parcel = xmalloc(sizeof *parcel + SEND * sizeof(void *));
        parcel->n = 0;
        for (unsigned j = 0; j < SEND; j++) {
            unsigned i = (unsigned)(rnd(&s) % WS);
            if (set[i]) {
                parcel->blocks[parcel->n++] = set[i];
                set[i] = 0;
            }
        }
        /* flow control: at most MAX_PARCELS wait in an inbox */
        inbox_send(next, parcel, MAX_PARCELS, own, &w->sum, &w->ops);
        w->ops++;
    }
    inbox_finish(own, &done_sending, nthreads, &w->sum, &w->ops);
    for (unsigned i = 0; i < WS; i++)
        if (set[i]) {
            w->sum += check_free(set[i]);
            w->ops++;
        }
    free(set);
    w->ops += 2;
    return 0;
}

static struct thread_arg args[MAX_THREADS];

int main(int argc, char **argv)
{
    parse_args("rptest", argc, argv);
    total_iters = sc(150000);
    for (unsigned i = 0; i < nthreads; i++)
        args[i].idx = i;
    report_args(args, 0, 0, inbox_run(inboxes, worker, args, sizeof args[0]));
    return 0;
}
