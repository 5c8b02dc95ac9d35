/* Heap poisoning of region heaps chosen without a rebuild: the hosted
 * check `poison::region_heap_first_fixes_the_mode` runs this program with
 * RAWRT_HEAP_POISONING set to each mode and checks how it ends and what
 * it prints. argv[1] is the scenario; a region heap is made first (which
 * fixes the mode), and the program prints the block's address
 * ("addr 0x...") before it misuses it.
 *   process   rawrt_heap_set_poisoning now fails (-1, EBUSY: "busy");
 *             then one byte past malloc(20), and free: the process heap
 *             is poisoned as the region heap is
 *   overflow  one byte past multi_heap_malloc(h, 18), then multi_heap_free
 *   uaf       a byte written at offset 100 of a freed 300-byte block of
 *             the region heap, then a block of the same size asked for */
#include "memcheck.h"

static _Alignas(16) unsigned char region[16384];

static int same(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static void announce(const void *p) {
    hex("addr", p);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *s = argv[1];
    multi_heap_handle_t h = multi_heap_register(region, sizeof region);
    if (!h) return 3;
    if (same(s, "process")) {
        if (rawrt_heap_set_poisoning(RAWRT_POISON_OFF) == -1 && errno == EBUSY) out("busy\n");
        char *volatile p = malloc(20);
        announce(p);
        p[20] = 0;
        free(p);
    } else if (same(s, "overflow")) {
        char *volatile p = multi_heap_malloc(h, 18);
        announce(p);
        p[18] = 0;
        multi_heap_free(h, p);
    } else if (same(s, "uaf")) {
        char *volatile p = multi_heap_malloc(h, 300);
        void *keep = multi_heap_malloc(h, 16);
        announce(p);
        multi_heap_free(h, p);
        p[100] = 1;
        if (multi_heap_malloc(h, 300) != p) return 4;
        multi_heap_free(h, keep);
    } else {
        return 2;
    }
    out("done\n");
    return 0;
}
