/* The leak report from C (testkit/tests/hosted/leaks.rs): built with
 * -include rawrt_track.h (so malloc & co. carry __FILE__/__LINE__) and
 * frame pointers, run with RAWRT_HEAP_TRACE=leaks. It leaks three blocks
 * (a node made two calls down, a buffer grown by realloc, a calloc'd
 * array), frees the rest, prints the leaked blocks' addresses on stdout
 * and exits with status 3. With "dump" as its argument it traces into its
 * own buffer and prints heap_trace_dump instead. The line numbers below
 * are part of the expected report. */
#include "rawrt.h"

struct node { struct node *next; long value; };

static struct node *kept;
static heap_trace_record_t records[16];

__attribute__((noinline)) static struct node *make_node(long v) {
    struct node *n = malloc(sizeof *n);
    n->value = v;
    n->next = 0;
    return n;
}

__attribute__((noinline)) static void build(void) {
    kept = make_node(1);
    struct node *gone = make_node(2);
    free(gone);
}

static void put_hex(unsigned long v) {
    char d[20];
    int i = 0;
    do { d[i++] = "0123456789abcdef"[v % 16]; } while ((v /= 16) != 0);
    write(1, "0x", 2);
    while (i > 0) write(1, &d[--i], 1);
    write(1, " ", 1);
}

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == 'd') {
        if (heap_trace_init_standalone(records, 16) != ESP_OK) return 10;
        if (heap_trace_start(HEAP_TRACE_ALL) != ESP_OK) return 11;
    }
    build();
    char *buf = malloc(10);
    buf = realloc(buf, 4000);
    int *arr = calloc(5, sizeof *arr);
    char *tmp = malloc(7);
    free(tmp);
    if (argc > 1 && argv[1][0] == 'd') {
        heap_trace_stop();
        heap_trace_dump();
        return 0;
    }
    put_hex((unsigned long)kept);
    put_hex((unsigned long)buf);
    put_hex((unsigned long)arr);
    write(1, "\n", 1);
    return 3;
}
