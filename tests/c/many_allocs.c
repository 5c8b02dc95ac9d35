/* The issue-15 system-call budget's program: 100,000 small allocations
 * (16 to 79 bytes), every one kept until all are made, then all freed.
 * The hosted check `budget::many_allocations_syscalls` counts its system
 * calls under strace. Exits 0 after checking a byte written in each. */
#include "rawrt.h"

#define N 100000
static unsigned char *p[N];

int main(void) {
    for (int i = 0; i < N; i++) {
        p[i] = malloc(16 + i % 64);
        if (!p[i]) return 1;
        p[i][0] = (unsigned char)i;
    }
    for (int i = 0; i < N; i++) {
        if (p[i][0] != (unsigned char)i) return 2;
        free(p[i]);
    }
    return 0;
}
