/* Heap poisoning chosen without a rebuild: the hosted check
 * `poison::environment_chooses_the_mode` runs this program with
 * RAWRT_HEAP_POISONING set to each mode (and to a bad value) and checks
 * how it ends and what it prints. argv[1] is the scenario; the program
 * prints the block's address ("addr 0x...") before it misuses it.
 *   overflow  one byte past malloc(20), then free
 *   uaf       a byte written at offset 100 of a freed 8000-byte block,
 *             then 1100 small allocations and frees
 *   zero      a read through malloc(0)
 *   api       rawrt_heap_set_poisoning(RAWRT_POISON_LIGHT) first (0), again
 *             after malloc (-1, EBUSY), mode 7 (-1, EINVAL), then the
 *             overflow scenario */
#include "memcheck.h"

static int same(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static void announce(const void *p) {
    hex("addr", p);
}

static void overflow(void) {
    char *volatile p = malloc(20);
    announce(p);
    p[20] = 0;
    free(p);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *s = argv[1];
    if (same(s, "overflow")) {
        overflow();
    } else if (same(s, "uaf")) {
        char *volatile p = malloc(8000);
        announce(p);
        free(p);
        p[100] = 1;
        for (int i = 0; i < 1100; i++) free(malloc(16));
    } else if (same(s, "zero")) {
        char *volatile p = malloc(0);
        (void)*(volatile char *)p;
        free(p);
    } else if (same(s, "api")) {
        if (rawrt_heap_set_poisoning(RAWRT_POISON_LIGHT) != 0) return 3;
        free(malloc(1));
        if (rawrt_heap_set_poisoning(RAWRT_POISON_OFF) != -1 || errno != EBUSY) return 4;
        if (rawrt_heap_set_poisoning(7) != -1 || errno != EINVAL) return 5;
        out("api ok\n");
        overflow();
    } else {
        return 2;
    }
    out("done\n");
    return 0;
}
