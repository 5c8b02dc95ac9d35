/*
 * Shared memory: an object from shm_open, sized with ftruncate and mapped
 * MAP_SHARED, written by a forked child through its own shm_open and mmap
 * of the same name, and seen by the parent. Then the name rules (EINVAL,
 * ENAMETOOLONG), O_EXCL, shm_unlink and ENOENT.
 */
#include "check.h"

#define SIZE (2 * 4096)

int main(void) {
    char name[64];
    unique_name("/rawrt-c-shm-", name);

    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK(fd >= 0, "shm_open(O_CREAT | O_EXCL | O_RDWR) creates the object");
    CHECK(ftruncate(fd, SIZE) == 0, "ftruncate sizes it to two pages");
    unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "mmap(MAP_SHARED) maps it");
    CHECK(p[0] == 0 && p[SIZE - 1] == 0, "a new object reads as zeros");
    CHECK(close(fd) == 0, "close: the mapping outlives the descriptor");

    pid_t child = fork();
    if (child == 0) {
        /* The child opens the object by name and maps it on its own. */
        int cfd = shm_open(name, O_RDWR, 0);
        if (cfd < 0) _exit(10);
        unsigned char *q = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
        if (q == MAP_FAILED) _exit(11);
        for (int i = 0; i < SIZE; i++) q[i] = (unsigned char)(i * 7 + 1);
        if (msync(q, SIZE, MS_SYNC) != 0) _exit(12);
        _exit(0);
    }
    CHECK(child > 0, "fork");
    int status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child opened, mapped, wrote and exited 0");
    int same = 1;
    for (int i = 0; i < SIZE; i++) same &= p[i] == (unsigned char)(i * 7 + 1);
    CHECK(same, "the parent sees every byte the child wrote");

    /* And the other way: the parent writes, a child checks. */
    p[100] = 0xAB;
    child = fork();
    if (child == 0) _exit(p[100] == 0xAB ? 0 : 1);
    status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child sees what the parent wrote after fork");
    CHECK(munmap(p, SIZE) == 0, "munmap");

    errno = 0;
    CHECK(shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600) == -1 && errno == EEXIST,
          "O_CREAT | O_EXCL on an existing name: EEXIST");
    CHECK(shm_unlink(name) == 0, "shm_unlink");
    errno = 0;
    CHECK(shm_open(name, O_RDWR, 0) == -1 && errno == ENOENT, "shm_open after shm_unlink: ENOENT");
    errno = 0;
    CHECK(shm_unlink(name) == -1 && errno == ENOENT, "shm_unlink twice: ENOENT");

    errno = 0;
    CHECK(shm_open("rawrt-no-slash", O_CREAT | O_RDWR, 0600) == -1 && errno == EINVAL,
          "a name without a leading '/': EINVAL");
    errno = 0;
    CHECK(shm_open("/rawrt/two", O_CREAT | O_RDWR, 0600) == -1 && errno == EINVAL,
          "a name with another '/': EINVAL");
    errno = 0;
    CHECK(shm_open("/", O_CREAT | O_RDWR, 0600) == -1 && errno == EINVAL, "the name \"/\": EINVAL");
    errno = 0;
    CHECK(shm_unlink("no-slash") == -1 && errno == EINVAL, "shm_unlink of a name without '/': EINVAL");

    /* NAME_MAX (255) bytes after the '/' are allowed, 256 are not. */
    char longname[300];
    longname[0] = '/';
    for (int i = 1; i <= 256; i++) longname[i] = 'x';
    longname[257] = 0;
    errno = 0;
    CHECK(shm_open(longname, O_CREAT | O_RDWR, 0600) == -1 && errno == ENAMETOOLONG,
          "a 256-byte name: ENAMETOOLONG");
    unique_name("/rawrt-c-shm-long-", longname);
    size_t n = strlen(longname);
    while (n < 256) longname[n++] = 'y';
    longname[n] = 0;
    fd = shm_open(longname, O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK(fd >= 0, "a 255-byte name is accepted");
    CHECK(close(fd) == 0 && shm_unlink(longname) == 0, "and unlinked");

    errno = 0;
    CHECK(ftruncate(-1, 4096) == -1 && errno == EBADF, "ftruncate(-1): EBADF");
    return finish("shm");
}
