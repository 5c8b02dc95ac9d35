/*
 * atexit under each linker layout (testkit/tests/hosted/atexit.rs): prints
 * what atexit returned (and errno), argc, and the handler's line at exit.
 * With rawrt's linker.ld or GNU ld's own layout the handler runs; with lld
 * and no script the handlers' destructor is left out of .fini_array, and
 * atexit says so (-1, ENOSYS) instead of registering a handler that would
 * never run.
 */
#include "rawrt.h"
static void h(void) { write(1, "handler\n", 8); }
int main(int argc, char **argv) {
    (void)argv;
    int r = atexit(h);
    char b[64] = "atexit -1 errno ";
    if (r == 0) { write(1, "atexit 0\n", 9); }
    else { int e = errno; b[16] = '0' + e / 10; b[17] = '0' + e % 10; b[18] = '\n'; write(1, b, 19); }
    char c[16] = "argc 0\n"; c[5] = '0' + argc; write(1, c, 7);
    return 0;
}
