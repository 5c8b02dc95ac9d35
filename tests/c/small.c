/* The issue-15 size budget's program: malloc, memcpy, write and free, and
 * nothing else. Linked with the README's C line by the hosted check
 * `budget::c_program_size`, which checks its size and that it prints
 * "hello from malloc". */
#include "rawrt.h"

int main(void) {
    static const char msg[] = "hello from malloc\n";
    char *p = malloc(sizeof msg);
    if (!p) return 1;
    memcpy(p, msg, sizeof msg);
    write(1, p, sizeof msg - 1);
    free(p);
    return 0;
}
