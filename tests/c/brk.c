/*
 * The break: sbrk grows it and returns the old break, the new memory is
 * usable, sbrk with a negative increment shrinks it, brk sets it back;
 * a request the kernel refuses gives (void *)-1 or -1 with ENOMEM and
 * leaves the break where it was. Nothing here calls malloc, so the heap
 * does not hold the break meanwhile.
 */
#include "check.h"

#define STEP (64 * 1024)

int main(void) {
    char *start = sbrk(0);
    CHECK(start != (void *)-1, "sbrk(0) gives the break");
    char *old = sbrk(STEP);
    CHECK(old == start, "sbrk(+64 KiB) returns the old break");
    CHECK((char *)sbrk(0) == start + STEP, "the break moved up by 64 KiB");
    memset(start, 0x5A, STEP);
    int ok = 1;
    for (int i = 0; i < STEP; i++) ok &= start[i] == 0x5A;
    CHECK(ok, "the new 64 KiB is writable and reads back");

    old = sbrk(-STEP / 2);
    CHECK(old == start + STEP, "sbrk(-32 KiB) returns the old break");
    CHECK((char *)sbrk(0) == start + STEP / 2, "the break moved down by 32 KiB");
    CHECK(start[STEP / 2 - 1] == 0x5A, "memory below the break is kept");

    pid_t child = fork();
    if (child == 0) {
        /* The page that held start + 48 KiB is gone. */
        ((volatile char *)start)[STEP - 1] = 1;
        _exit(0);
    }
    int status = wait_for(child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "memory given back is unmapped (a write there: SIGSEGV)");

    CHECK(brk(start + STEP) == 0, "brk(start + 64 KiB) grows it again");
    CHECK((char *)sbrk(0) == start + STEP, "sbrk(0) agrees");
    CHECK(start[STEP - 1] == 0, "memory the break gives again is zeroed");
    CHECK(brk(start) == 0, "brk(start) shrinks it back");
    CHECK((char *)sbrk(0) == start, "back where it started");

    errno = 0;
    CHECK(sbrk((intptr_t)1 << 46) == (void *)-1 && errno == ENOMEM, "sbrk(+64 TiB): (void *)-1 with ENOMEM");
    CHECK((char *)sbrk(0) == start, "the break did not move");
    errno = 0;
    CHECK(sbrk(-((intptr_t)1 << 46)) == (void *)-1 && errno == ENOMEM, "sbrk below the start of the data: ENOMEM");
    errno = 0;
    CHECK(brk((void *)4096) == -1 && errno == ENOMEM, "brk(0x1000): -1 with ENOMEM");
    CHECK((char *)sbrk(0) == start, "the break still did not move");

    /* After all that, the heap still works (it finds the break where the
     * program left it). */
    char *m = malloc(1000);
    CHECK(m != NULL, "malloc after the program moved the break itself");
    memset(m, 1, 1000);
    free(m);
    return finish("brk");
}
