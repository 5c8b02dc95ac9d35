/*
 * What the C test programs that print addresses share (tests/c/valgrind.c,
 * valgrind_regions.c, valgrind_pools.c, poison.c, poison_regions.c):
 * printing the addresses the test looks for in Memcheck's reports or in
 * rawrt's own.
 */
#ifndef RAWRT_TEST_MEMCHECK_H
#define RAWRT_TEST_MEMCHECK_H

#include "rawrt.h"

static void out(const char *s) {
    write(1, s, strlen(s));
}

/* "WHAT 0xADDR" on stdout, as Memcheck prints addresses (no leading
 * zeros). */
static void hex(const char *what, const void *p) {
    char b[19] = "0x";
    unsigned long v = (unsigned long)p;
    for (int i = 0; i < 16; i++)
        b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    b[18] = 0;
    int z = 2;
    while (z < 17 && b[z] == '0')
        z++;
    out(what);
    out(" 0x");
    out(b + z);
    out("\n");
}

#endif
