/*
 * mprotect: a page made read-only can still be read, a write to it kills
 * the writer with SIGSEGV (checked in a forked child), the neighbouring
 * page stays writable, and making it writable again works. Error paths:
 * an unaligned address (EINVAL), an unmapped range (ENOMEM).
 */
#include "check.h"

#define PAGE 4096

int main(void) {
    unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap two anonymous pages");
    p[0] = 42;
    p[PAGE] = 43;
    CHECK(mprotect(p, PAGE, PROT_READ) == 0, "mprotect(first page, PROT_READ)");
    CHECK(p[0] == 42, "the read-only page still reads");

    pid_t child = fork();
    if (child == 0) {
        ((volatile unsigned char *)p)[0] = 1; /* faults */
        _exit(0);                             /* not reached */
    }
    int status = wait_for(child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "a write to the read-only page: the child dies of SIGSEGV");

    child = fork();
    if (child == 0) {
        ((volatile unsigned char *)p)[PAGE] = 2; /* the second page is still writable */
        _exit(p[PAGE] == 2 ? 0 : 1);
    }
    status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a write to the other page works (the child exits 0)");

    CHECK(mprotect(p, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect back to PROT_READ | PROT_WRITE");
    p[0] = 7;
    CHECK(p[0] == 7, "the page is writable again");

    CHECK(mprotect(p, PAGE, PROT_NONE) == 0, "mprotect(PROT_NONE)");
    child = fork();
    if (child == 0) {
        _exit(((volatile unsigned char *)p)[0]); /* even a read faults */
    }
    status = wait_for(child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "a read of a PROT_NONE page: SIGSEGV");

    errno = 0;
    CHECK(mprotect(p + 1, PAGE, PROT_READ) == -1 && errno == EINVAL, "an unaligned address: EINVAL");
    CHECK(munmap(p, 2 * PAGE) == 0, "munmap");
    errno = 0;
    CHECK(mprotect(p, PAGE, PROT_READ) == -1 && errno == ENOMEM, "an unmapped range: ENOMEM");
    errno = 0;
    CHECK(munmap(p + 1, PAGE) == -1 && errno == EINVAL, "munmap of an unaligned address: EINVAL");
    return finish("mprotect");
}
