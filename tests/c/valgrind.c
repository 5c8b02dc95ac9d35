/*
 * rawrt's heap under Valgrind's Memcheck (testkit/tests/hosted/valgrind.rs).
 * "bad": a read after free 8 bytes into a 40-byte block, a write one byte
 * past a 13-byte block, a 100-byte block leaked, a branch on an
 * uninitialised byte of a fresh 24-byte block; the addresses go to stdout
 * ("freed 0x...", "short 0x...", "fresh 0x...") for the test to find in
 * Memcheck's reports. "good": the same calls used correctly (and a
 * realloc that grows in place and one that moves): no report at all.
 */
#include "memcheck.h"

static volatile int sink;

/* 100 bytes allocated, written, and (in "bad") lost when this returns. */
static __attribute__((noinline)) void use100(int keep) {
    char *l = malloc(100);
    l[0] = 1;
    sink = l[0];
    if (!keep)
        free(l);
}

int main(int argc, char **argv) {
    int bad = argc > 1 && argv[1][0] == 'b';
    int *p = malloc(40);
    for (int i = 0; i < 10; i++)
        p[i] = i;
    free(p);
    if (bad) {
        hex("freed", p);
        sink = p[2]; /* read after free, 8 bytes into 40 */
    }
    char *s = malloc(13);
    if (bad) {
        hex("short", s);
        s[13] = 1; /* one byte past the block */
    }
    free(s);
    use100(bad);
    unsigned char *q = malloc(24);
    if (!bad)
        q[5] = 7;
    else
        hex("fresh", q);
    if (q[5] == 7) /* uninitialised in "bad" */
        sink = 1;
    char *r = realloc(q, 48);
    r = realloc(r, 100000);
    r[99999] = 1;
    free(r);
    return 0;
}
