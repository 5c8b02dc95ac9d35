/*
 * Processes and the runtime: getpid, fork, waitpid, kill, pipe with read,
 * write and close, exit running atexit handlers then destructors, _exit
 * running neither,
 * abort, nanosleep and clock_gettime, getauxval, and errno through the
 * errno macro.
 */
#include "check.h"

static int pipe_w = -1;

static void say_first(void) {
    write(pipe_w, "first", 5);
}

static void say_second(void) {
    write(pipe_w, "second;", 7);
}

/* Destructors run after the atexit handlers, unprioritised ones first.
 * Only the children that set pipe_w write. */
__attribute__((destructor)) static void say_dtor(void) {
    if (pipe_w >= 0) write(pipe_w, ";dtor", 5);
}

__attribute__((destructor(200))) static void say_dtor200(void) {
    if (pipe_w >= 0) write(pipe_w, ";dtor200", 8);
}

/* Reads what a child wrote into fds[0] until end of file. */
static long drain(int fd, char *buf, long size) {
    long n = 0, r;
    while (n < size && (r = read(fd, buf + n, (size_t)(size - n))) > 0) n += r;
    return n;
}

int main(void) {
    pid_t me = getpid();
    CHECK(me > 1, "getpid");
    CHECK(getauxval(AT_PAGESZ) == 4096, "getauxval(AT_PAGESZ) == 4096");
    errno = 0;
    CHECK(getauxval(0x7fff) == 0 && errno == ENOENT, "getauxval of an absent type: 0 with ENOENT");

    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    CHECK(write(fds[1], "abc", 3) == 3, "write 3 bytes into the pipe");
    char buf[64];
    CHECK(read(fds[0], buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0, "read them back");
    CHECK(close(fds[1]) == 0 && read(fds[0], buf, sizeof buf) == 0, "after closing the write end: end of file");
    CHECK(close(fds[0]) == 0, "close the read end");
    errno = 0;
    CHECK(close(fds[0]) == -1 && errno == EBADF, "close twice: -1 with EBADF (errno macro)");
    errno = 0;
    CHECK(write(-1, "x", 1) == -1 && errno == EBADF, "write(-1): EBADF");
    errno = 0;
    CHECK(read(-1, buf, 1) == -1 && errno == EBADF, "read(-1): EBADF");
    CHECK(__errno_location() == &errno, "errno is *__errno_location()");

    /* exit runs atexit handlers, last registered first, then the
     * destructors. */
    CHECK(pipe(fds) == 0, "another pipe");
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        pipe_w = fds[1];
        atexit(say_first);
        atexit(say_second);
        exit(3);
    }
    close(fds[1]);
    long n = drain(fds[0], buf, sizeof buf);
    close(fds[0]);
    int status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3, "a child's exit(3): waitpid sees status 3");
    CHECK(n == 25 && memcmp(buf, "second;first;dtor;dtor200", 25) == 0,
          "exit ran the atexit handlers, last registered first, then the destructors");

    CHECK(pipe(fds) == 0, "a third pipe");
    child = fork();
    if (child == 0) {
        close(fds[0]);
        pipe_w = fds[1];
        atexit(say_first);
        _exit(4);
    }
    close(fds[1]);
    n = drain(fds[0], buf, sizeof buf);
    close(fds[0]);
    status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 4 && n == 0, "_exit(4) skips the atexit handlers and destructors");

    child = fork();
    if (child == 0) abort();
    status = wait_for(child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "abort: killed by SIGABRT");

    /* kill: a sleeping child killed with SIGTERM; waitpid with WNOHANG. */
    child = fork();
    if (child == 0) {
        struct timespec d = {30, 0};
        nanosleep(&d, NULL);
        _exit(0);
    }
    CHECK(waitpid(child, &status, WNOHANG) == 0, "waitpid(WNOHANG) on a running child: 0");
    CHECK(kill(child, 0) == 0, "kill(child, 0): it exists");
    CHECK(kill(child, SIGTERM) == 0, "kill(child, SIGTERM)");
    status = wait_for(child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "waitpid: killed by SIGTERM");
    errno = 0;
    CHECK(kill(child, 0) == -1 && errno == ESRCH, "kill of a reaped child: ESRCH");
    errno = 0;
    CHECK(waitpid(-1, &status, 0) == -1 && errno == ECHILD, "waitpid with no children left: ECHILD");

    struct timespec t0, t1, d = {0, 50 * 1000000L};
    CHECK(clock_gettime(CLOCK_MONOTONIC, &t0) == 0, "clock_gettime(CLOCK_MONOTONIC)");
    CHECK(nanosleep(&d, NULL) == 0, "nanosleep(50 ms)");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = elapsed_ms(&t0, &t1);
    CHECK(ms >= 49 && ms < 5000, "50 ms passed");
    struct timespec bad = {0, 1000000000L};
    errno = 0;
    CHECK(nanosleep(&bad, NULL) == -1 && errno == EINVAL, "nanosleep with tv_nsec of 10^9: EINVAL");
    errno = 0;
    CHECK(clock_gettime(12345, &t0) == -1 && errno == EINVAL, "clock_gettime of an unknown clock: EINVAL");
    return finish("process");
}
