/*
 * mlock within RLIMIT_MEMLOCK and beyond it. Whether going beyond the limit
 * fails depends on CAP_IPC_LOCK, which bypasses the limit: the test is told
 * by its first argument ("cap" or "nocap", from the runner's
 * /proc/self/status) and checks what the kernel then promises
 * (mlock(2)): success with the capability; otherwise ENOMEM, or EPERM when
 * the limit is 0. A forked child then lowers its limit to 64 KiB and, if
 * it runs as root, gives up root (and with it every capability) with
 * setuid, so the refusals are checked whatever the runner's privileges.
 */
#include "check.h"

#define PAGE 4096L
#define LIMIT (64 * 1024L)

/* The unprivileged half: a 64 KiB limit and no capabilities. */
static int unprivileged(unsigned char *p, long len) {
    struct rlimit small = {LIMIT, LIMIT};
    CHECK(setrlimit(RLIMIT_MEMLOCK, &small) == 0, "child: setrlimit(RLIMIT_MEMLOCK, 64 KiB)");
    struct rlimit now;
    CHECK(getrlimit(RLIMIT_MEMLOCK, &now) == 0 && now.rlim_cur == LIMIT && now.rlim_max == LIMIT,
          "child: getrlimit reads the new limit back");
    if (getuid() == 0) CHECK(setuid(65534) == 0, "child: setuid(65534) drops root and its capabilities");
    else CHECK(1, "child: already unprivileged");
    CHECK(getuid() != 0, "child: not root now");
    CHECK(mlock(p, LIMIT / 2) == 0, "child: mlock of 32 KiB, within the limit");
    errno = 0;
    CHECK(mlock(p, LIMIT + 4 * PAGE) == -1 && errno == ENOMEM, "child: mlock of 80 KiB, beyond the limit: ENOMEM");
    CHECK(munlock(p, LIMIT / 2) == 0, "child: munlock");
    errno = 0;
    CHECK(mlockall(MCL_CURRENT) == -1 && errno == ENOMEM,
          "child: mlockall(MCL_CURRENT) of more than 64 KiB of mappings: ENOMEM");
    struct rlimit zero = {0, 0};
    CHECK(setrlimit(RLIMIT_MEMLOCK, &zero) == 0, "child: setrlimit(RLIMIT_MEMLOCK, 0)");
    errno = 0;
    CHECK(mlock(p, PAGE) == -1 && errno == EPERM, "child: mlock with a limit of 0: EPERM");
    errno = 0;
    CHECK(setrlimit(RLIMIT_MEMLOCK, &small) == -1 && errno == EPERM, "child: raising the hard limit again: EPERM");
    (void)len;
    return finish("mlock (unprivileged child)");
}

int main(int argc, char **argv) {
    int cap = argc > 1 && argv[1][0] == 'c';
    out(cap ? "runner has CAP_IPC_LOCK\n" : "runner lacks CAP_IPC_LOCK\n");

    struct rlimit lim;
    CHECK(getrlimit(RLIMIT_MEMLOCK, &lim) == 0, "getrlimit(RLIMIT_MEMLOCK)");
    out("RLIMIT_MEMLOCK soft ");
    out_num((long)lim.rlim_cur);
    out(", hard ");
    out_num((long)lim.rlim_max);
    out("\n");

    /* A region larger than the limit (capped at 64 MiB; an infinite
     * limit has no beyond). */
    long within = lim.rlim_cur >= 2 * PAGE ? 2 * PAGE : 0;
    long beyond = lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < 32L * 1024 * 1024
                      ? (long)((lim.rlim_cur + PAGE) & ~(PAGE - 1)) + PAGE
                      : 32L * 1024 * 1024;
    long len = beyond > LIMIT + 8 * PAGE ? beyond : LIMIT + 8 * PAGE;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap a region larger than the limit");

    if (within) {
        CHECK(mlock(p, within) == 0, "mlock of two pages, within the limit");
        CHECK(munlock(p, within) == 0, "munlock of them");
    } else {
        errno = 0;
        int r = mlock(p, PAGE);
        if (cap) CHECK(r == 0 && munlock(p, PAGE) == 0, "a limit below two pages, but CAP_IPC_LOCK: mlock works");
        else CHECK(r == -1 && errno == (lim.rlim_cur ? ENOMEM : EPERM), "a limit below two pages: ENOMEM (EPERM if 0)");
        CHECK(1, "(nothing to unlock)");
    }

    errno = 0;
    int r = mlock(p, beyond);
    if (lim.rlim_cur == RLIM_INFINITY) {
        CHECK(r == 0, "no limit: mlock of 32 MiB succeeds");
    } else if (cap) {
        CHECK(r == 0, "mlock beyond the limit succeeds: CAP_IPC_LOCK bypasses RLIMIT_MEMLOCK");
    } else {
        CHECK(r == -1 && errno == (lim.rlim_cur ? ENOMEM : EPERM), "mlock beyond the limit: ENOMEM (EPERM with a limit of 0)");
    }
    if (r == 0) CHECK(munlock(p, beyond) == 0, "munlock of it");
    else CHECK(1, "(nothing to unlock)");

    errno = 0;
    CHECK(mlock(p + 1, PAGE) == 0, "mlock of an unaligned address rounds down (Linux)");
    CHECK(munlock(p + 1, PAGE) == 0, "munlock likewise");
    errno = 0;
    CHECK(mlockall(0) == -1 && errno == EINVAL, "mlockall(0): EINVAL");
    errno = 0;
    r = mlockall(MCL_CURRENT | MCL_FUTURE);
    if (cap || lim.rlim_cur == RLIM_INFINITY) {
        CHECK(r == 0, "mlockall(MCL_CURRENT | MCL_FUTURE) with the capability (or no limit)");
    } else {
        CHECK(r == 0 || errno == ENOMEM, "mlockall(MCL_CURRENT | MCL_FUTURE): 0, or ENOMEM over the limit");
    }
    CHECK(munlockall() == 0, "munlockall");

    pid_t child = fork();
    if (child == 0) {
        passed = failed = 0; /* the child counts its own checks */
        _exit(unprivileged(p, len));
    }
    int status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the unprivileged child's checks passed");
    CHECK(munmap(p, len) == 0, "munmap");
    return finish("mlock");
}
