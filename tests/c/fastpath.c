/*
 * The allocation fast paths, for counting their instructions under
 * Callgrind (testkit/tests/hosted/fastpath.rs): `fastpath N` makes N
 * malloc(64)/free pairs, then N calloc(1, 48)/free pairs, and exits 0.
 * The test runs it for two values of N: the difference is what N more
 * calls of each cost; start-up and the first (slow) calls cancel out.
 */
#include "rawrt.h"

static long number(const char *s) {
    long v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return v;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    long n = number(argv[1]);
    for (long i = 0; i < n; i++) {
        volatile char *p = malloc(64);
        if (!p) return 1;
        p[0] = (char)i;
        free((void *)p);
    }
    for (long i = 0; i < n; i++) {
        volatile char *p = calloc(1, 48);
        if (!p || p[47]) return 1;
        free((void *)p);
    }
    return 0;
}
