/* Multi-threaded allocation workload, written once against C11 <threads.h>
 * and built both against librawrt.a (-nostdlib -static) and against glibc
 * (run plain and with mimalloc or jemalloc preloaded).
 *
 * Each of T threads keeps 1000 live blocks of random sizes (16..512 B) and
 * replaces a random one OPS times; one thread in four also frees blocks
 * allocated by its neighbour (cross-thread frees through a handoff slot
 * guarded by a mutex). Prints: threads, total operations per microsecond.
 *
 * Usage: threads_bench T OPS */
#include <stddef.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

void *malloc(size_t);
void free(void *);
long write(int, const void *, size_t);

#define LIVE 1000

static mtx_t handoff_lock;
static void *handoff;
static long ops_per_thread;

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

static int worker(void *arg) {
    uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    void *live[LIVE];
    for (int i = 0; i < LIVE; i++) {
        live[i] = malloc(16 + next(&seed) % 497);
        ((char *)live[i])[0] = (char)i;
    }
    for (long n = 0; n < ops_per_thread; n++) {
        unsigned i = next(&seed) % LIVE;
        void *p = live[i];
        if ((n & 255) == 0) {
            /* Cross-thread free: swap this block with whatever another
             * thread left in the handoff slot. */
            mtx_lock(&handoff_lock);
            void *other = handoff;
            handoff = p;
            mtx_unlock(&handoff_lock);
            p = other;
        }
        free(p);
        live[i] = malloc(16 + next(&seed) % 497);
        ((char *)live[i])[0] = (char)n;
    }
    for (int i = 0; i < LIVE; i++) free(live[i]);
    return 0;
}

static long parse(const char *s) {
    long v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return v;
}

static char *put(char *o, uint64_t v) {
    char d[24]; int n = 0;
    do { d[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *o++ = d[--n];
    return o;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long t = parse(argv[1]);
    ops_per_thread = parse(argv[2]);
    if (t < 1 || t > 64) return 2;
    mtx_init(&handoff_lock, mtx_plain);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    thrd_t th[64];
    for (long i = 0; i < t; i++)
        if (thrd_create(&th[i], worker, (void *)(uintptr_t)i) != thrd_success) return 3;
    for (long i = 0; i < t; i++) thrd_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    free(handoff);
    uint64_t ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
    /* Each operation is one free and one malloc. */
    uint64_t kops_per_s = (uint64_t)t * (uint64_t)ops_per_thread * 1000000u / (ns ? ns : 1);
    char line[64], *o = line;
    o = put(o, (uint64_t)t); *o++ = ' ';
    o = put(o, kops_per_s); *o++ = '\n';
    write(1, line, (size_t)(o - line));
    return 0;
}
