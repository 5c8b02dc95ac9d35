/*
 * runstat: runs a command and prints what the kernel measured of it, the
 * same way for every allocator (scripts/bench-threads.sh):
 *   runstat OUT CMD [ARGS...]
 * runs CMD with its stdout going to the file OUT and prints on stdout
 *   wall_ns maxrss_kib minflt majflt status
 * where wall_ns is the time from fork to wait4's return (CLOCK_MONOTONIC),
 * the others come from wait4's rusage of the child (ru_maxrss, the peak
 * resident set, in KiB), and status is the exit status (128 + the signal
 * number if it was killed). A hosted glibc program: it is not benchmarked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: runstat OUT CMD [ARGS...]\n");
        return 2;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 2;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        dup2(fd, 1);
        close(fd);
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    close(fd);
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid) {
        perror("wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    printf("%lld %ld %ld %ld %d\n", ns, ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt, status);
    return 0;
}
