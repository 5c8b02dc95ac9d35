/*
 * rawrt_heap_svg from C: a multi_heap over a static array, fragmented by
 * a fixed sequence of allocations and frees, pictured on stdout; its
 * figures from multi_heap_get_info on stderr, one "name value" per line,
 * which the hosted test (testkit/tests/hosted/heapmap.rs) compares with
 * the blocks it finds in the picture. Then the process heap's picture
 * goes to a closed descriptor: -1 with EBADF. Status 0, or 1 with a FAIL
 * line on stderr.
 */
#include "rawrt.h"

static char region[256 << 10] __attribute__((aligned(16)));

static void out(int fd, const char *s) {
    write(fd, s, strlen(s));
}

static void num(const char *name, size_t v) {
    char b[24];
    int i = 23;
    b[i] = 0;
    do b[--i] = (char)('0' + v % 10); while ((v /= 10) != 0);
    out(2, name);
    out(2, " ");
    out(2, b + i);
    out(2, "\n");
}

#define CHECK(c) do { if (!(c)) { out(2, "FAIL heapmap.c: " #c "\n"); return 1; } } while (0)

int main(void) {
    multi_heap_handle_t h = multi_heap_register(region, sizeof region);
    CHECK(h != NULL);
    void *p[400];
    unsigned long s = 88172645463325252UL;
    for (int i = 0; i < 400; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        p[i] = multi_heap_malloc(h, 8 + s % 600);
        CHECK(p[i] != NULL);
    }
    for (int i = 0; i < 400; i += 3)
        multi_heap_free(h, p[i]);
    CHECK(rawrt_heap_svg(h, 1) == 0);
    multi_heap_info_t info;
    multi_heap_get_info(h, &info);
    num("allocated_blocks", info.allocated_blocks);
    num("allocated_bytes", info.total_allocated_bytes);
    num("free_blocks", info.free_blocks);
    num("free_bytes", info.total_free_bytes);
    num("largest_free", info.largest_free_block);
    errno = 0;
    CHECK(rawrt_heap_svg(NULL, 1000) == -1);
    CHECK(errno == EBADF);
    return 0;
}
