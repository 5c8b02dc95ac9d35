/*
 * caps_lookup: what finding the owner of a pointer costs with N registered
 * region heaps (issue 13: O(log n), and plain malloc/free of the process
 * heap never slower). Built against librawrt.a only:
 *
 *   cc -O2 -std=c11 -ffreestanding -nostdlib -static -Iinclude \
 *      bench/caps_lookup.c target/.../librawrt.a -o caps_lookup
 *   ./caps_lookup N      (N = 0..1000 regions of 4 KiB registered)
 *
 * Prints, in ns per call (best of 5 rounds of 2,000,000 calls):
 *   usable   malloc_usable_size() of a block of the last registered heap
 *            (the process heap rejects it, the registry finds its heap)
 *   pair     malloc(64) + free() of a process-heap block (the registry is
 *            never asked)
 */
#include "rawrt.h"

#define MAXN 1000
#define REGION 4096
#define CALLS 2000000

static _Alignas(4096) unsigned char regions[MAXN][REGION];
static volatile size_t sink;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void out(const char *s) {
    write(1, s, strlen(s));
}

static void num(uint64_t v) {
    char b[24];
    int i = 23;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
    } while ((v /= 10) != 0);
    out(b + i);
}

/* ns per call, hundredths: "12.34". */
static void per_call(const char *what, uint64_t ns) {
    uint64_t h = ns * 100 / CALLS;
    out(what);
    out(" ");
    num(h / 100);
    out(".");
    if (h % 100 < 10)
        out("0");
    num(h % 100);
    out("\n");
}

int main(int argc, char **argv) {
    int n = 0;
    if (argc > 1)
        for (const char *s = argv[1]; *s >= '0' && *s <= '9'; s++)
            n = n * 10 + (*s - '0');
    if (n > MAXN)
        return 2;
    /* A capability of their own, so that heap_caps_malloc lands in them. */
    uint32_t caps[3] = {MALLOC_CAP_PID7, 0, 0};
    for (int i = 0; i < n; i++)
        if (heap_caps_add_region_with_caps(caps, (intptr_t)regions[i],
                                           (intptr_t)regions[i] + REGION) != ESP_OK)
            return 3;
    uint64_t best_u = ~0ull, best_p = ~0ull;
    for (int r = 0; r < 5; r++) {
        if (n > 0) {
            /* Fill all but the last heap, so that the block is the last's. */
            void *p = 0;
            for (;;) {
                p = heap_caps_malloc(64, MALLOC_CAP_PID7);
                if (!p)
                    return 4;
                if ((unsigned char *)p >= regions[n - 1])
                    break;
            }
            uint64_t t0 = now_ns();
            for (int i = 0; i < CALLS; i++)
                sink += malloc_usable_size(p);
            uint64_t t1 = now_ns();
            if (t1 - t0 < best_u)
                best_u = t1 - t0;
            free(p);
        }
        uint64_t t0 = now_ns();
        for (int i = 0; i < CALLS; i++) {
            void *q = malloc(64);
            sink += (size_t)q;
            free(q);
        }
        uint64_t t1 = now_ns();
        if (t1 - t0 < best_p)
            best_p = t1 - t0;
    }
    out("heaps ");
    num((uint64_t)n);
    out("\n");
    if (n > 0) {
        per_call("usable", best_u);
    }
    per_call("pair", best_p);
    return 0;
}
