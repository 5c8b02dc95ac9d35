/*
 * Mappings: mmap and munmap, mremap growing in place or moving (and
 * refusing without MREMAP_MAYMOVE), madvise, posix_madvise returning the
 * error number (errno untouched), msync on a shared file mapping.
 */
#include "check.h"

#define PAGE 4096

int main(void) {
    errno = 0;
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
          "mmap of 0 bytes: MAP_FAILED with EINVAL");
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 12345, 0) == MAP_FAILED && errno == EBADF,
          "mmap of a bad descriptor: EBADF");

    unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED && ((uintptr_t)p & (PAGE - 1)) == 0, "mmap of two anonymous pages, page-aligned");
    CHECK(p[0] == 0 && p[2 * PAGE - 1] == 0, "anonymous memory reads as zeros");
    for (int i = 0; i < 2 * PAGE; i++) p[i] = (unsigned char)i;

    /* Growing in place needs the next page free: here it is the region's
     * own second page, so growing the first page alone must move. */
    errno = 0;
    CHECK(mremap(p, PAGE, 2 * PAGE, 0) == MAP_FAILED && errno == ENOMEM,
          "mremap without MREMAP_MAYMOVE when the next page is taken: ENOMEM");
    unsigned char *q = mremap(p, 2 * PAGE, 64 * PAGE, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED, "mremap(MREMAP_MAYMOVE) to 64 pages");
    int ok = 1;
    for (int i = 0; i < 2 * PAGE; i++) ok &= q[i] == (unsigned char)i;
    CHECK(ok && q[64 * PAGE - 1] == 0, "the contents moved with it; the new part is zeros");
    unsigned char *r = mremap(q, 64 * PAGE, PAGE, 0);
    CHECK(r == q, "mremap shrinking stays in place");

    /* madvise(MADV_DONTNEED) drops private anonymous pages (zeros after);
     * posix_madvise(POSIX_MADV_DONTNEED) is only advice and keeps data. */
    r[10] = 99;
    CHECK(posix_madvise(r, PAGE, POSIX_MADV_DONTNEED) == 0 && r[10] == 99,
          "posix_madvise(POSIX_MADV_DONTNEED) keeps the data");
    CHECK(posix_madvise(r, PAGE, POSIX_MADV_WILLNEED) == 0, "posix_madvise(POSIX_MADV_WILLNEED): 0");
    CHECK(posix_madvise(r, PAGE, POSIX_MADV_SEQUENTIAL) == 0, "posix_madvise(POSIX_MADV_SEQUENTIAL): 0");
    errno = 1234;
    CHECK(posix_madvise(r + 1, PAGE, POSIX_MADV_NORMAL) == EINVAL && errno == 1234,
          "posix_madvise of an unaligned address returns EINVAL and leaves errno alone");
    errno = 1234;
    CHECK(posix_madvise(r, PAGE, 77) == EINVAL && errno == 1234, "posix_madvise with unknown advice returns EINVAL");
    CHECK(madvise(r, PAGE, MADV_DONTNEED) == 0 && r[10] == 0, "madvise(MADV_DONTNEED) drops private pages (zeros after)");
    errno = 0;
    CHECK(madvise(r, PAGE, 9999) == -1 && errno == EINVAL, "madvise with unknown advice: -1 with EINVAL");
    CHECK(munmap(r, PAGE) == 0, "munmap");
    errno = 0;
    CHECK(madvise(r, PAGE, MADV_WILLNEED) == -1 && errno == ENOMEM, "madvise of an unmapped range: ENOMEM");

    /* msync on a shared mapping of a shared-memory object. */
    char name[64];
    unique_name("/rawrt-c-mm-", name);
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK(fd >= 0 && ftruncate(fd, PAGE) == 0, "a one-page shared-memory object");
    unsigned char *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s != MAP_FAILED, "mapped MAP_SHARED");
    s[0] = 'r';
    CHECK(msync(s, PAGE, MS_SYNC) == 0, "msync(MS_SYNC)");
    CHECK(msync(s, PAGE, MS_ASYNC | MS_INVALIDATE) == 0, "msync(MS_ASYNC | MS_INVALIDATE)");
    errno = 0;
    CHECK(msync(s, PAGE, MS_SYNC | MS_ASYNC) == -1 && errno == EINVAL, "msync(MS_SYNC | MS_ASYNC): EINVAL");
    unsigned char buf[1];
    CHECK(read(fd, buf, 1) == 1 && buf[0] == 'r', "read through the descriptor sees the mapped write");
    CHECK(munmap(s, PAGE) == 0 && close(fd) == 0 && shm_unlink(name) == 0, "cleaned up");
    errno = 0;
    CHECK(msync(s, PAGE, MS_SYNC) == -1 && errno == ENOMEM, "msync of an unmapped range: ENOMEM");
    return finish("mm");
}
