/*
 * rawrt.h: the C interface of librawrt.a, a runtime for Linux programs that
 * use no libc (x86_64, aarch64, riscv64).
 *
 * Two ways to use it:
 *
 *   1. With no libc (the default build of librawrt.a, C names on):
 *        cc -std=c11 -ffreestanding -nostdlib -static -Iinclude prog.c librawrt.a
 *      Every function has its C name (malloc, write, mmap, ...), the usual
 *      types and constants are defined here, and `errno` is rawrt's.
 *      Do not include libc headers in such a program; this one replaces them
 *      for what rawrt provides (stddef.h, stdint.h and stdbool.h, which come
 *      with the compiler, are fine).
 *
 *   2. Next to a libc (librawrt.a built with --no-default-features
 *      --features entry,global-allocator, which exports only rawrt_-prefixed
 *      names):
 *        #define RAWRT_PREFIX
 *        #include "rawrt.h"
 *      declares rawrt_malloc, rawrt_free, rawrt_mmap, ... and the types under
 *      prefixed names (struct rawrt_timespec, rawrt_ssize_t, ...), so that it
 *      can be included together with the libc's own headers. The system
 *      constants (PROT_READ, O_CREAT, EINVAL, ...) are then taken from the
 *      libc's headers (their values are the kernel's, the same for both);
 *      rawrt's error numbers are read with `rawrt_errno`, which is not the
 *      libc's `errno`.
 *
 * Functions return -1 (or MAP_FAILED, or NULL) and set errno on error unless
 * said otherwise. Names that start with rawrt_ are the same in both modes
 * (rawrt_init exists only in the first). The C11 threads functions are
 * declared unless RAWRT_NO_C11_THREADS is defined, for a librawrt.a built
 * without the (default) c11-threads feature.
 *
 * This header is kept in step with the Rust definitions by a test
 * (src/hosted/header.rs): every exported symbol is declared here and every
 * declaration is exported, argument and result types match the Rust
 * signatures, structure sizes and field offsets match the Rust layouts, and
 * constants match the Rust (kernel) values.
 */
#ifndef RAWRT_H
#define RAWRT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RAWRT_NORETURN: the function never returns. */
#if defined(__cplusplus)
#define RAWRT_NORETURN [[noreturn]]
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define RAWRT_NORETURN _Noreturn
#elif defined(__GNUC__)
#define RAWRT_NORETURN __attribute__((__noreturn__))
#else
#define RAWRT_NORETURN
#endif

/* RAWRT_N(name) is the name a C function has in this build of the header. */
#ifdef RAWRT_PREFIX
#define RAWRT_N(name) rawrt_##name
#else
#define RAWRT_N(name) name
#endif

/* ------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------ */

typedef long RAWRT_N(ssize_t);        /* a size or -1 */
typedef long RAWRT_N(off_t);          /* a file offset (64-bit) */
typedef unsigned int RAWRT_N(mode_t); /* permission bits */
typedef int RAWRT_N(pid_t);           /* a process id */
typedef unsigned int RAWRT_N(uid_t);  /* a user id */
typedef int RAWRT_N(mqd_t);           /* a message-queue descriptor (a file descriptor) */
typedef int RAWRT_N(clockid_t);       /* CLOCK_REALTIME, CLOCK_MONOTONIC, ... */
typedef unsigned long RAWRT_N(rlim_t); /* a resource limit */

/* A time: seconds and nanoseconds (0..999999999). */
struct RAWRT_N(timespec) {
    long tv_sec;
    long tv_nsec;
};

/* A resource limit (getrlimit/setrlimit). */
struct RAWRT_N(rlimit) {
    RAWRT_N(rlim_t) rlim_cur; /* the soft limit */
    RAWRT_N(rlim_t) rlim_max; /* the hard limit */
};

/* Message-queue attributes (mq_open, mq_getattr, mq_setattr). */
struct RAWRT_N(mq_attr) {
    long mq_flags;    /* 0 or O_NONBLOCK */
    long mq_maxmsg;   /* the most messages the queue holds */
    long mq_msgsize;  /* the largest message, in bytes */
    long mq_curmsgs;  /* messages in the queue now */
    long __pad[4];
};

/* A value passed with a notification (mq_notify). */
union RAWRT_N(sigval) {
    int sival_int;
    void *sival_ptr;
};

/* How to notify (mq_notify): SIGEV_NONE, SIGEV_SIGNAL or SIGEV_THREAD_ID
 * (SIGEV_THREAD needs a libc's helper thread and is not supported). */
struct RAWRT_N(sigevent) {
    union RAWRT_N(sigval) sigev_value;
    int sigev_signo;
    int sigev_notify;
    union {
        int _pad[12];
        int _tid; /* the thread for SIGEV_THREAD_ID */
    } _sigev_un;
};

/* The process heap's figures (glibc's struct mallinfo2). */
struct RAWRT_N(mallinfo2) {
    size_t arena;    /* bytes obtained from the kernel and not given back */
    size_t ordblks;  /* free blocks */
    size_t smblks;   /* always 0 */
    size_t hblks;    /* always 0 */
    size_t hblkhd;   /* always 0 */
    size_t usmblks;  /* the peak of allocated bytes */
    size_t fsmblks;  /* always 0 */
    size_t uordblks; /* allocated bytes */
    size_t fordblks; /* free bytes */
    size_t keepcost; /* the largest free block */
};

/* A heap's figures (ESP-IDF's multi_heap_info_t). */
typedef struct RAWRT_N(multi_heap_info) {
    size_t total_free_bytes;      /* free bytes */
    size_t total_allocated_bytes; /* allocated bytes */
    size_t largest_free_block;    /* the largest allocation that can succeed now */
    size_t minimum_free_bytes;    /* the low-water mark of free bytes */
    size_t allocated_blocks;      /* allocated blocks */
    size_t free_blocks;           /* free blocks */
    size_t total_blocks;          /* all blocks */
} RAWRT_N(multi_heap_info_t);

/* heap_caps_walk's view of a heap (ESP-IDF's name, typo included) and of
 * a block; the walker returns true to go on with the heap. */
typedef struct RAWRT_N(walker_heap_info) {
    intptr_t start; /* the memory the block lies in */
    intptr_t end;
} RAWRT_N(walker_heap_into_t);
typedef struct RAWRT_N(walker_block_info) {
    void *ptr;   /* the block's address */
    size_t size; /* its usable size */
    bool used;   /* in use */
} RAWRT_N(walker_block_info_t);
typedef bool (*RAWRT_N(heap_caps_walker_cb_t))(RAWRT_N(walker_heap_into_t) heap_info,
                                               RAWRT_N(walker_block_info_t) block_info, void *user_data);

/* A heap over a region the caller gives (multi_heap_register). */
typedef struct rawrt_multi_heap *RAWRT_N(multi_heap_handle_t);

/* Called after a failed allocation of the process heap. */
typedef void (*RAWRT_N(esp_alloc_failed_hook_t))(size_t size, uint32_t caps, const char *function_name);

/* NuttX's struct mallinfo (mallinfo, mm_mallinfo); int fields saturate. */
struct RAWRT_N(mallinfo) {
    int arena;    /* bytes the heap manages */
    int ordblks;  /* free blocks */
    int aordblks; /* allocated blocks */
    int mxordblk; /* the largest free block */
    int uordblks; /* allocated bytes */
    int fordblks; /* free bytes */
};

/* A NuttX-style heap over regions the caller gives (mm_initialize). */
struct RAWRT_N(mm_heap_s);

/* A pool of equal blocks (rawrt_pool_*). */
typedef struct rawrt_pool rawrt_pool_t;

/* A pool's figures (rawrt_pool_info). */
typedef struct rawrt_pool_info {
    size_t block_size;  /* bytes per block (the size asked for, rounded up to the alignment) */
    size_t align;       /* the alignment of every block */
    size_t capacity;    /* blocks in all chunks */
    size_t in_use;      /* blocks in use */
    size_t free;        /* blocks free (capacity - in_use) */
    size_t low_water;   /* the fewest free blocks seen after an allocation (0: it ran full) */
    size_t peak_in_use; /* the most blocks in use at once */
    size_t chunks;      /* chunks of memory (1 for a pool in a region) */
    size_t max_blocks;  /* the cap on capacity (0: none) */
} rawrt_pool_info_t;

/* A granule allocator (NuttX's gran_*). */
typedef struct rawrt_gran *RAWRT_N(GRAN_HANDLE);

/* A granule allocator's figures (NuttX's struct graninfo_s, with size_t
 * counts: rawrt has no 65535-granule limit). */
struct RAWRT_N(graninfo_s) {
    uint8_t log2gran; /* log2 of the granule size */
    size_t ngranules; /* granules in the heap */
    size_t nfree;     /* free granules */
    size_t mxfree;    /* the longest run of free granules */
};

/* The page allocator's figures (rawrt_pages_info). */
typedef struct rawrt_pages_info {
    size_t page_size; /* bytes per page (4096) */
    size_t total;     /* pages managed */
    size_t free;      /* free pages */
    size_t mxfree;    /* the longest run of free pages */
} rawrt_pages_info_t;

#if !defined(RAWRT_NO_C11_THREADS) && !defined(RAWRT_PREFIX)
/* C11 threads. thrd_t is the address of the thread's control block. */
typedef unsigned long RAWRT_N(thrd_t);
typedef int (*RAWRT_N(thrd_start_t))(void *arg);

/* A C11 mutex: opaque storage (24 bytes, 8-aligned; glibc's mtx_t is
 * larger, so storage sized for glibc's fits). Initialise with mtx_init. */
typedef struct rawrt_mtx {
    unsigned long __opaque[3];
} RAWRT_N(mtx_t);

/* C11 thread results and mutex kinds (glibc's values). */
enum {
    RAWRT_N(thrd_success) = 0,
    RAWRT_N(thrd_busy) = 1,
    RAWRT_N(thrd_error) = 2,
    RAWRT_N(thrd_nomem) = 3,
    RAWRT_N(thrd_timedout) = 4
};
enum {
    RAWRT_N(mtx_plain) = 0,
    RAWRT_N(mtx_recursive) = 1,
    RAWRT_N(mtx_timed) = 2
};
#endif /* RAWRT_NO_C11_THREADS */

/* ------------------------------------------------------------------------
 * Constants (without RAWRT_PREFIX; with it, take them from the libc)
 * ------------------------------------------------------------------------ */

/* Heap capabilities (heap_caps_*, ESP-IDF's values). The process heap has
 * DEFAULT, 8BIT, 32BIT and INTERNAL; README.md says what the others are on
 * Linux. */
#define MALLOC_CAP_EXEC      (1u << 0)
#define MALLOC_CAP_32BIT     (1u << 1)
#define MALLOC_CAP_8BIT      (1u << 2)
#define MALLOC_CAP_DMA       (1u << 3)
#define MALLOC_CAP_PID2      (1u << 4)
#define MALLOC_CAP_PID3      (1u << 5)
#define MALLOC_CAP_PID4      (1u << 6)
#define MALLOC_CAP_PID5      (1u << 7)
#define MALLOC_CAP_PID6      (1u << 8)
#define MALLOC_CAP_PID7      (1u << 9)
#define MALLOC_CAP_SPIRAM    (1u << 10)
#define MALLOC_CAP_INTERNAL  (1u << 11)
#define MALLOC_CAP_DEFAULT   (1u << 12)
#define MALLOC_CAP_IRAM_8BIT (1u << 13)
#define MALLOC_CAP_RETENTION (1u << 14)
#define MALLOC_CAP_RTCRAM    (1u << 15)
#define MALLOC_CAP_INVALID   (1u << 31)

/* ESP-IDF's error codes (esp_err_t), as heap_caps_add_region* return them. */
#define ESP_OK              0
#define ESP_FAIL            (-1)
#define ESP_ERR_NO_MEM      0x101
#define ESP_ERR_INVALID_ARG 0x102
#define ESP_ERR_INVALID_STATE 0x103
#define ESP_ERR_NOT_FOUND   0x105

#ifndef RAWRT_PREFIX

#define errno (*__errno_location())

#define STDIN_FILENO  0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/* Error numbers. */
#define EPERM         1
#define ENOENT        2
#define ESRCH         3
#define EINTR         4
#define EIO           5
#define ENXIO         6
#define E2BIG         7
#define ENOEXEC       8
#define EBADF         9
#define ECHILD       10
#define EAGAIN       11
#define EWOULDBLOCK  EAGAIN
#define ENOMEM       12
#define EACCES       13
#define EFAULT       14
#define EBUSY        16
#define EEXIST       17
#define ENODEV       19
#define ENOTDIR      20
#define EISDIR       21
#define EINVAL       22
#define ENFILE       23
#define EMFILE       24
#define EFBIG        27
#define ENOSPC       28
#define ESPIPE       29
#define EROFS        30
#define EPIPE        32
#define ERANGE       34
#define EDEADLK      35
#define ENAMETOOLONG 36
#define ENOSYS       38
#define ELOOP        40
#define EOVERFLOW    75
#define EMSGSIZE     90
#define EOPNOTSUPP   95
#define ENOTSUP      EOPNOTSUPP
#define ETIMEDOUT   110

/* open flags (shm_open, mq_open). */
#define O_RDONLY   00
#define O_WRONLY   01
#define O_RDWR     02
#define O_CREAT    0100
#define O_EXCL     0200
#define O_TRUNC    01000
#define O_NONBLOCK 04000
#define O_CLOEXEC  02000000

/* mmap, mprotect. */
#define PROT_NONE  0x0
#define PROT_READ  0x1
#define PROT_WRITE 0x2
#define PROT_EXEC  0x4
#define MAP_SHARED          0x01
#define MAP_PRIVATE         0x02
#define MAP_FIXED           0x10
#define MAP_ANONYMOUS       0x20
#define MAP_ANON            MAP_ANONYMOUS
#define MAP_NORESERVE       0x4000
#define MAP_POPULATE        0x8000
#define MAP_FIXED_NOREPLACE 0x100000
#define MAP_FAILED ((void *)-1)

/* mremap. */
#define MREMAP_MAYMOVE   1
#define MREMAP_FIXED     2
#define MREMAP_DONTUNMAP 4

/* msync. */
#define MS_ASYNC      1
#define MS_INVALIDATE 2
#define MS_SYNC       4

/* mlockall. */
#define MCL_CURRENT 1
#define MCL_FUTURE  2
#define MCL_ONFAULT 4

/* madvise. */
#define MADV_NORMAL      0
#define MADV_RANDOM      1
#define MADV_SEQUENTIAL  2
#define MADV_WILLNEED    3
#define MADV_DONTNEED    4
#define MADV_FREE        8
#define MADV_REMOVE      9
#define MADV_DONTFORK   10
#define MADV_DOFORK     11
#define MADV_HUGEPAGE   14
#define MADV_NOHUGEPAGE 15
#define MADV_DONTDUMP   16
#define MADV_DODUMP     17

/* posix_madvise (POSIX_MADV_DONTNEED is only advice: nothing is discarded). */
#define POSIX_MADV_NORMAL     0
#define POSIX_MADV_RANDOM     1
#define POSIX_MADV_SEQUENTIAL 2
#define POSIX_MADV_WILLNEED   3
#define POSIX_MADV_DONTNEED   4

/* mq_notify. */
#define SIGEV_SIGNAL    0
#define SIGEV_NONE      1
#define SIGEV_THREAD    2
#define SIGEV_THREAD_ID 4
#define sigev_notify_thread_id _sigev_un._tid

/* Signals (kill). */
#define SIGHUP   1
#define SIGINT   2
#define SIGQUIT  3
#define SIGILL   4
#define SIGTRAP  5
#define SIGABRT  6
#define SIGBUS   7
#define SIGFPE   8
#define SIGKILL  9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17

/* waitpid. */
#define WNOHANG 1
#define WEXITSTATUS(s) (((s) & 0xff00) >> 8)
#define WTERMSIG(s)    ((s) & 0x7f)
#define WIFEXITED(s)   (WTERMSIG(s) == 0)
#define WIFSIGNALED(s) (((signed char)(((s) & 0x7f) + 1) >> 1) > 0)

/* clock_gettime. */
#define CLOCK_REALTIME  0
#define CLOCK_MONOTONIC 1

/* getrlimit, setrlimit. */
#define RLIMIT_DATA    2
#define RLIMIT_STACK   3
#define RLIMIT_NOFILE  7
#define RLIMIT_MEMLOCK 8
#define RLIMIT_AS      9
#define RLIM_INFINITY  (~0UL)

/* getauxval. */
#define AT_PHDR          3
#define AT_PHNUM         5
#define AT_PAGESZ        6
#define AT_ENTRY         9
#define AT_UID          11
#define AT_EUID         12
#define AT_GID          13
#define AT_EGID         14
#define AT_PLATFORM     15
#define AT_HWCAP        16
#define AT_CLKTCK       17
#define AT_SECURE       23
#define AT_RANDOM       25
#define AT_HWCAP2       26
#define AT_EXECFN       31
#define AT_SYSINFO_EHDR 33

#else /* RAWRT_PREFIX */

#define rawrt_errno (*rawrt___errno_location())

#endif /* RAWRT_PREFIX */

/* ------------------------------------------------------------------------
 * Memory routines
 * ------------------------------------------------------------------------ */

void *RAWRT_N(memcpy)(void *dst, const void *src, size_t n);
void *RAWRT_N(memmove)(void *dst, const void *src, size_t n);
void *RAWRT_N(memset)(void *dst, int c, size_t n);
int RAWRT_N(memcmp)(const void *a, const void *b, size_t n);
int RAWRT_N(bcmp)(const void *a, const void *b, size_t n);
size_t RAWRT_N(strlen)(const char *s);

/* ------------------------------------------------------------------------
 * Allocation: the process heap (brk first, mmap when the break cannot
 * move; large blocks mapped on their own). Every result is 16-byte aligned.
 * A double free or a pointer the heap never gave out (a block of another
 * heap included, even one inside a malloc'd block) is reported on stderr
 * and aborts: "rawrt: free(): double free of 0x...". So is heap metadata
 * found overwritten (free-list links that point outside the heap or not
 * back, a free block's size or header, a cached block after a write after
 * free): "rawrt: malloc(): corrupted free list (links do not point back)
 * at 0x...". Before an allocation returns NULL with ENOMEM, the calling
 * thread's cached blocks and the heap's free memory go back and it is
 * tried again. A library built with the small-heap feature puts the small
 * heap behind these functions instead (the README's "The small heap"): the
 * same contracts and reports; free, realloc and malloc_usable_size then
 * take only its blocks, and mallinfo2's usmblks is 0.
 * ------------------------------------------------------------------------ */

void *RAWRT_N(malloc)(size_t size);
void RAWRT_N(free)(void *p);
void *RAWRT_N(calloc)(size_t n, size_t size);
void *RAWRT_N(realloc)(void *p, size_t size);        /* realloc(p, 0) frees p, returns NULL */
void *RAWRT_N(reallocf)(void *p, size_t size);       /* frees p if it fails */
void *RAWRT_N(reallocarray)(void *p, size_t n, size_t size);
void *RAWRT_N(recallocarray)(void *p, size_t old_n, size_t n, size_t size);
int RAWRT_N(posix_memalign)(void **memptr, size_t align, size_t size); /* 0 or an error number */
void *RAWRT_N(aligned_alloc)(size_t align, size_t size);
void *RAWRT_N(memalign)(size_t align, size_t size);
void *RAWRT_N(valloc)(size_t size);
size_t RAWRT_N(malloc_usable_size)(void *p);
int RAWRT_N(malloc_trim)(size_t pad);                /* 1 if memory went back to the kernel */
struct RAWRT_N(mallinfo2) RAWRT_N(mallinfo2)(void);
struct RAWRT_N(mallinfo) RAWRT_N(mallinfo)(void);      /* NuttX's fields */

/* ESP-IDF's heap interfaces. multi_heap_*: a heap over a region the caller
 * gives (up to 64 KiB NuttX's small memory model: 4-byte headers, and
 * multi_heap_malloc's blocks 8-byte aligned; 16 above; the heap's state
 * takes some 300 to 800 bytes of the region). heap_caps_*: the process heap
 * and the heaps registered with
 * heap_caps_add_region*; free, realloc and malloc_usable_size take blocks of
 * every one of them. */
RAWRT_N(multi_heap_handle_t) RAWRT_N(multi_heap_register)(void *start, size_t size);
void *RAWRT_N(multi_heap_malloc)(RAWRT_N(multi_heap_handle_t) heap, size_t size);
void *RAWRT_N(multi_heap_aligned_alloc)(RAWRT_N(multi_heap_handle_t) heap, size_t size, size_t align);
void RAWRT_N(multi_heap_free)(RAWRT_N(multi_heap_handle_t) heap, void *p);
void RAWRT_N(multi_heap_aligned_free)(RAWRT_N(multi_heap_handle_t) heap, void *p);
void *RAWRT_N(multi_heap_realloc)(RAWRT_N(multi_heap_handle_t) heap, void *p, size_t size);
size_t RAWRT_N(multi_heap_get_allocated_size)(RAWRT_N(multi_heap_handle_t) heap, void *p);
size_t RAWRT_N(multi_heap_free_size)(RAWRT_N(multi_heap_handle_t) heap);
size_t RAWRT_N(multi_heap_minimum_free_size)(RAWRT_N(multi_heap_handle_t) heap);
void RAWRT_N(multi_heap_get_info)(RAWRT_N(multi_heap_handle_t) heap, RAWRT_N(multi_heap_info_t) *info);
bool RAWRT_N(multi_heap_check)(RAWRT_N(multi_heap_handle_t) heap, bool print_errors);
void RAWRT_N(multi_heap_dump)(RAWRT_N(multi_heap_handle_t) heap);

void *RAWRT_N(heap_caps_malloc)(size_t size, uint32_t caps);
void *RAWRT_N(heap_caps_calloc)(size_t n, size_t size, uint32_t caps);
void *RAWRT_N(heap_caps_realloc)(void *p, size_t size, uint32_t caps);
void RAWRT_N(heap_caps_free)(void *p);
/* Each set of capabilities in turn (num of them) until one succeeds. */
void *RAWRT_N(heap_caps_malloc_prefer)(size_t size, size_t num, ...);
void *RAWRT_N(heap_caps_calloc_prefer)(size_t n, size_t size, size_t num, ...);
void *RAWRT_N(heap_caps_realloc_prefer)(void *p, size_t size, size_t num, ...);
void *RAWRT_N(heap_caps_aligned_calloc)(size_t align, size_t n, size_t size, uint32_t caps);
void RAWRT_N(heap_caps_aligned_free)(void *p);
int RAWRT_N(heap_caps_add_region)(intptr_t start, intptr_t end);
int RAWRT_N(heap_caps_add_region_with_caps)(const uint32_t caps[3], intptr_t start, intptr_t end);
void RAWRT_N(heap_caps_malloc_extmem_enable)(size_t limit);
/* rawrt's: the writable alias of MALLOC_CAP_EXEC memory, and the cache
 * maintenance after writing code through it. */
void *RAWRT_N(heap_caps_exec_writable)(const void *p);
bool RAWRT_N(heap_caps_exec_sync)(const void *p, size_t len);
void *RAWRT_N(heap_caps_aligned_alloc)(size_t align, size_t size, uint32_t caps);
void RAWRT_N(heap_caps_get_info)(RAWRT_N(multi_heap_info_t) *info, uint32_t caps);
size_t RAWRT_N(heap_caps_get_free_size)(uint32_t caps);
size_t RAWRT_N(heap_caps_get_minimum_free_size)(uint32_t caps);
size_t RAWRT_N(heap_caps_get_largest_free_block)(uint32_t caps);
size_t RAWRT_N(heap_caps_get_total_size)(uint32_t caps);
size_t RAWRT_N(heap_caps_get_allocated_size)(void *p);
bool RAWRT_N(heap_caps_check_integrity)(uint32_t caps, bool print_errors);
bool RAWRT_N(heap_caps_check_integrity_all)(bool print_errors);
bool RAWRT_N(heap_caps_check_integrity_addr)(uintptr_t addr, bool print_errors);
void RAWRT_N(heap_caps_dump)(uint32_t caps);
void RAWRT_N(heap_caps_dump_all)(void);
void RAWRT_N(heap_caps_walk)(uint32_t caps, RAWRT_N(heap_caps_walker_cb_t) walker, void *user_data);
void RAWRT_N(heap_caps_walk_all)(RAWRT_N(heap_caps_walker_cb_t) walker, void *user_data);
int RAWRT_N(heap_caps_monitor_local_minimum_free_size_start)(void);
int RAWRT_N(heap_caps_monitor_local_minimum_free_size_stop)(void);
void RAWRT_N(heap_caps_print_heap_info)(uint32_t caps);
int RAWRT_N(heap_caps_register_failed_alloc_callback)(RAWRT_N(esp_alloc_failed_hook_t) hook);

/* NuttX's mm_* heaps: a heap over a region (its state at the region's
 * start; up to 64 KiB NuttX's small memory model, mm_malloc's blocks 8-byte
 * aligned, else 16), more regions with mm_addregion (up to eight; too small
 * or overlapping ones, and any added to a small-model heap, are ignored). */
struct RAWRT_N(mm_heap_s) *RAWRT_N(mm_initialize)(void *start, size_t size);
void RAWRT_N(mm_addregion)(struct RAWRT_N(mm_heap_s) *heap, void *start, size_t size);
void *RAWRT_N(mm_malloc)(struct RAWRT_N(mm_heap_s) *heap, size_t size);
void *RAWRT_N(mm_zalloc)(struct RAWRT_N(mm_heap_s) *heap, size_t size);
void *RAWRT_N(mm_calloc)(struct RAWRT_N(mm_heap_s) *heap, size_t n, size_t size);
void *RAWRT_N(mm_memalign)(struct RAWRT_N(mm_heap_s) *heap, size_t align, size_t size);
void RAWRT_N(mm_free)(struct RAWRT_N(mm_heap_s) *heap, void *p);
void *RAWRT_N(mm_realloc)(struct RAWRT_N(mm_heap_s) *heap, void *p, size_t size);
int RAWRT_N(mm_mallinfo)(struct RAWRT_N(mm_heap_s) *heap, struct RAWRT_N(mallinfo) *info); /* returns 0 */

/* ------------------------------------------------------------------------
 * Pools of equal blocks, granules, pages. A pointer that is not a block of
 * the pool (or range of the allocator), or one freed twice, is reported on
 * stderr and aborts; so is a pool block written after it was freed (found
 * when the pool would hand it out), a damaged canary of a poisoned pool's
 * block (found by rawrt_pool_free: "rawrt: rawrt_pool_free(): canary
 * corrupted after block 0x...") and a gran_free or mm_pgfree whose
 * address or size is not exactly one allocation's.
 * ------------------------------------------------------------------------ */

/* A pool of block_size-byte blocks aligned to align (0: 16), growing from
 * the process heap up to max_blocks blocks (0: no limit). NULL with EINVAL
 * or ENOMEM. Creating a pool (this or rawrt_pool_create_in) fixes the
 * poisoning mode: rawrt_heap_set_poisoning then fails with EBUSY. */
rawrt_pool_t *rawrt_pool_create(size_t block_size, size_t align, size_t max_blocks);
/* A fixed pool inside [region, region + region_size), its state included.
 * NULL with EINVAL if the region cannot hold one block. */
rawrt_pool_t *rawrt_pool_create_in(void *region, size_t region_size, size_t block_size, size_t align);
void *rawrt_pool_alloc(rawrt_pool_t *pool);  /* NULL with ENOMEM when exhausted */
void *rawrt_pool_calloc(rawrt_pool_t *pool); /* a zeroed block */
/* Sleeps until another thread frees a block or the relative timeout (NULL:
 * for ever) passes; NULL with ETIMEDOUT, ENOMEM or EINVAL. */
void *rawrt_pool_alloc_wait(rawrt_pool_t *pool, const struct RAWRT_N(timespec) *timeout);
void rawrt_pool_free(rawrt_pool_t *pool, void *block); /* NULL does nothing */
void rawrt_pool_info(rawrt_pool_t *pool, rawrt_pool_info_t *info);
/* Whether the pool is intact: its free lists and, when it is poisoned
 * (RAWRT_HEAP_POISONING when it was created), every block's canaries and
 * free blocks' fill; each fault is printed on stderr if print_errors. */
bool rawrt_pool_check(rawrt_pool_t *pool, bool print_errors);
/* f(block, ctx) for every block in use, in address order; f may allocate
 * and free blocks of the pool. */
void rawrt_pool_for_each_used(rawrt_pool_t *pool, void (*f)(void *block, void *ctx), void *ctx);
void rawrt_pool_destroy(rawrt_pool_t *pool); /* all its memory goes back; NULL does nothing */

/* Granules of 1 << log2gran bytes aligned to 1 << log2align in
 * [heapstart, heapstart + heapsize), the allocator's state at its start.
 * NULL with EINVAL. */
RAWRT_N(GRAN_HANDLE) RAWRT_N(gran_initialize)(void *heapstart, size_t heapsize, uint8_t log2gran, uint8_t log2align);
void *RAWRT_N(gran_alloc)(RAWRT_N(GRAN_HANDLE) handle, size_t size); /* whole granules; NULL with ENOMEM */
/* memory and size as allocated (any size of the same granule count). */
void RAWRT_N(gran_free)(RAWRT_N(GRAN_HANDLE) handle, void *memory, size_t size);
void RAWRT_N(gran_info)(RAWRT_N(GRAN_HANDLE) handle, struct RAWRT_N(graninfo_s) *info);

/* Pages: rawrt_pages_init maps npages pages once (EBUSY the second time);
 * mm_pgalloc gives the address of npages contiguous pages, or 0 with
 * ENOMEM. */
int rawrt_pages_init(size_t npages);
uintptr_t RAWRT_N(mm_pgalloc)(size_t npages);
void RAWRT_N(mm_pgfree)(uintptr_t addr, size_t npages);
void rawrt_pages_info(rawrt_pages_info_t *info);

/* ------------------------------------------------------------------------
 * C11 threads (glibc's result codes), exported by default (feature
 * c11-threads); define RAWRT_NO_C11_THREADS before including this header
 * for a library built without them. Not with RAWRT_PREFIX: rawrt's threads
 * set the thread pointer, which a host C library owns. thrd_exit in the main thread ends
 * only that thread; the program ends with status 0 when the last one
 * ends. Locking a plain mutex its holder holds is reported and aborts.
 * ------------------------------------------------------------------------ */

#if !defined(RAWRT_NO_C11_THREADS) && !defined(RAWRT_PREFIX)
int RAWRT_N(thrd_create)(RAWRT_N(thrd_t) *thr, RAWRT_N(thrd_start_t) func, void *arg);
int RAWRT_N(thrd_join)(RAWRT_N(thrd_t) thr, int *res);
int RAWRT_N(thrd_detach)(RAWRT_N(thrd_t) thr);
RAWRT_NORETURN void RAWRT_N(thrd_exit)(int res);
RAWRT_N(thrd_t) RAWRT_N(thrd_current)(void);
int RAWRT_N(thrd_equal)(RAWRT_N(thrd_t) a, RAWRT_N(thrd_t) b);
void RAWRT_N(thrd_yield)(void);
/* 0, -1 if interrupted (time left in *remaining), other negative on error. */
int RAWRT_N(thrd_sleep)(const struct RAWRT_N(timespec) *duration, struct RAWRT_N(timespec) *remaining);
int RAWRT_N(mtx_init)(RAWRT_N(mtx_t) *m, int type);
/* ESP-IDF's multi_heap_set_lock with a C11 mutex: every operation of the
 * heap takes it around the heap's own lock (make it mtx_recursive to hold
 * it across calls); NULL: the heap's own lock alone. */
void RAWRT_N(multi_heap_set_lock)(RAWRT_N(multi_heap_handle_t) heap, RAWRT_N(mtx_t) *lock);
int RAWRT_N(mtx_lock)(RAWRT_N(mtx_t) *m);
int RAWRT_N(mtx_trylock)(RAWRT_N(mtx_t) *m);
/* deadline: an absolute CLOCK_REALTIME time. */
int RAWRT_N(mtx_timedlock)(RAWRT_N(mtx_t) *m, const struct RAWRT_N(timespec) *deadline);
int RAWRT_N(mtx_unlock)(RAWRT_N(mtx_t) *m);
void RAWRT_N(mtx_destroy)(RAWRT_N(mtx_t) *m);
#endif /* RAWRT_NO_C11_THREADS */

/* ------------------------------------------------------------------------
 * System interfaces
 * ------------------------------------------------------------------------ */

RAWRT_N(ssize_t) RAWRT_N(read)(int fd, void *buf, size_t n);
RAWRT_N(ssize_t) RAWRT_N(write)(int fd, const void *buf, size_t n);
int RAWRT_N(close)(int fd);
int RAWRT_N(ftruncate)(int fd, RAWRT_N(off_t) length);
RAWRT_N(pid_t) RAWRT_N(fork)(void);

/* The break. Moving it under the heap's feet is the caller's business. */
int RAWRT_N(brk)(void *addr);
void *RAWRT_N(sbrk)(intptr_t increment); /* the old break, or (void *)-1 */

/* Mappings. mremap's fifth argument is read only with MREMAP_FIXED. */
void *RAWRT_N(mmap)(void *addr, size_t len, int prot, int flags, int fd, RAWRT_N(off_t) offset);
int RAWRT_N(munmap)(void *addr, size_t len);
void *RAWRT_N(mremap)(void *old_addr, size_t old_len, size_t new_len, int flags, ... /* void *new_addr */);
int RAWRT_N(mprotect)(void *addr, size_t len, int prot);
int RAWRT_N(msync)(void *addr, size_t len, int flags);
int RAWRT_N(mlock)(const void *addr, size_t len);
int RAWRT_N(munlock)(const void *addr, size_t len);
int RAWRT_N(mlockall)(int flags);
int RAWRT_N(munlockall)(void);
int RAWRT_N(madvise)(void *addr, size_t len, int advice);
int RAWRT_N(posix_madvise)(void *addr, size_t len, int advice); /* 0 or an error number; errno untouched */

/* Shared memory: objects /dev/shm/NAME for names "/NAME" (EINVAL for a name
 * without the leading '/' or with another '/', ENAMETOOLONG over 255
 * bytes); opened with O_NOFOLLOW | O_CLOEXEC added. */
int RAWRT_N(shm_open)(const char *name, int oflag, RAWRT_N(mode_t) mode);
int RAWRT_N(shm_unlink)(const char *name);

/* Message queues. mq_open(name, oflag) or, with O_CREAT,
 * mq_open(name, oflag, mode_t mode, struct mq_attr *attr). Deadlines are
 * absolute CLOCK_REALTIME times. */
RAWRT_N(mqd_t) RAWRT_N(mq_open)(const char *name, int oflag, ... /* mode_t mode, struct mq_attr *attr */);
int RAWRT_N(mq_close)(RAWRT_N(mqd_t) mqd);
int RAWRT_N(mq_unlink)(const char *name);
int RAWRT_N(mq_send)(RAWRT_N(mqd_t) mqd, const char *msg, size_t len, unsigned int prio);
RAWRT_N(ssize_t) RAWRT_N(mq_receive)(RAWRT_N(mqd_t) mqd, char *buf, size_t len, unsigned int *prio);
int RAWRT_N(mq_timedsend)(RAWRT_N(mqd_t) mqd, const char *msg, size_t len, unsigned int prio,
                          const struct RAWRT_N(timespec) *deadline);
RAWRT_N(ssize_t) RAWRT_N(mq_timedreceive)(RAWRT_N(mqd_t) mqd, char *buf, size_t len, unsigned int *prio,
                                          const struct RAWRT_N(timespec) *deadline);
int RAWRT_N(mq_getattr)(RAWRT_N(mqd_t) mqd, struct RAWRT_N(mq_attr) *attr);
int RAWRT_N(mq_setattr)(RAWRT_N(mqd_t) mqd, const struct RAWRT_N(mq_attr) *attr, struct RAWRT_N(mq_attr) *old);
int RAWRT_N(mq_notify)(RAWRT_N(mqd_t) mqd, const struct RAWRT_N(sigevent) *sev);

/* Processes, time and limits. */
RAWRT_N(pid_t) RAWRT_N(getpid)(void);
RAWRT_N(uid_t) RAWRT_N(getuid)(void);
int RAWRT_N(setuid)(RAWRT_N(uid_t) uid);
int RAWRT_N(kill)(RAWRT_N(pid_t) pid, int sig);
RAWRT_N(pid_t) RAWRT_N(waitpid)(RAWRT_N(pid_t) pid, int *status, int options);
int RAWRT_N(pipe)(int fds[2]);
int RAWRT_N(clock_gettime)(RAWRT_N(clockid_t) clock, struct RAWRT_N(timespec) *t);
int RAWRT_N(nanosleep)(const struct RAWRT_N(timespec) *t, struct RAWRT_N(timespec) *rem);
int RAWRT_N(getrlimit)(int resource, struct RAWRT_N(rlimit) *rlim);
int RAWRT_N(setrlimit)(int resource, const struct RAWRT_N(rlimit) *rlim);

/* ------------------------------------------------------------------------
 * Heap debugging
 * ------------------------------------------------------------------------ */

/* An SVG picture of a heap (a multi_heap handle; NULL: the process heap and
 * its thread arenas) written to fd: one row per segment with its blocks to
 * scale (used, free, a thread's cached, the top), a row of the blocks in
 * their own mappings, a legend and the heap's figures. Each block is a
 * <rect> whose class is its kind and data-size its usable size. 0, or -1
 * with errno set by the write that failed. */
int rawrt_heap_svg(RAWRT_N(multi_heap_handle_t) heap, int fd);

/* Heap poisoning of the process heap (README, "Debugging memory"); the
 * environment variable RAWRT_HEAP_POISONING=off|light|comprehensive chooses
 * it without a rebuild. */
#define RAWRT_POISON_OFF 0
/* A head and a tail canary around every block, checked by free, realloc
 * and the integrity checks. */
#define RAWRT_POISON_LIGHT 1
/* Also new memory filled with 0xCE, freed memory with 0xFE and kept in a
 * quarantine that checks it was not written; malloc(0) inaccessible. */
#define RAWRT_POISON_COMPREHENSIVE 2
/* Chooses the mode (overriding the environment) before the process heap's
 * first allocation, the first region heap and the first pool
 * (rawrt_pool_create*; each fixes the mode, and a region heap or pool is
 * poisoned for its life if the mode is on). 0, or -1 with errno EINVAL (no
 * such mode) or EBUSY (the heap has allocated, or a region heap or a pool
 * was made, already). */
int rawrt_heap_set_poisoning(int mode);
/* Whether the process heap is intact (with poisoning: its canaries and
 * fills too); each fault found is printed on stderr if print_errors. */
bool rawrt_heap_check(bool print_errors);
/* ESP-IDF's standalone heap trace (esp_heap_trace.h) over malloc, calloc,
 * aligned_alloc, memalign, valloc, realloc and free of the process heap
 * (not posix_memalign, heap_caps_* or region heaps). Records go into the
 * caller's buffer in allocation order; a full buffer stops recording new
 * allocations (has_overflowed). HEAP_TRACE_ALL keeps every allocation and
 * fills freed_by when it is freed; HEAP_TRACE_LEAKS drops the record of a
 * freed block. alloced_by[0] is the return address of the allocation call;
 * the next ones come from frame pointers where the program keeps them
 * (-fno-omit-frame-pointer), 0 past the last. ccount is microseconds of
 * CLOCK_MONOTONIC modulo 2^32 (ESP-IDF: the CPU cycle count). Errors:
 * ESP_ERR_INVALID_STATE (no buffer; a new buffer while tracing),
 * ESP_ERR_INVALID_ARG (NULL pointer, empty buffer, index past the
 * records, unknown mode). Starting the trace makes every thread take the
 * allocator's slow paths for the rest of the process. */
#define CONFIG_HEAP_TRACING_STACK_DEPTH 4

typedef enum {
    RAWRT_N(HEAP_TRACE_ALL),
    RAWRT_N(HEAP_TRACE_LEAKS),
} RAWRT_N(heap_trace_mode_t);

typedef struct RAWRT_N(heap_trace_record_t) {
    uint32_t ccount;
    void *address;
    size_t size;
    void *alloced_by[CONFIG_HEAP_TRACING_STACK_DEPTH];
    void *freed_by[CONFIG_HEAP_TRACING_STACK_DEPTH];
    /* rawrt: where rawrt_track.h says the allocation was (else NULL, 0),
     * and the allocating thread's id. */
    const char *file;
    uint32_t line;
    uint32_t tid;
} RAWRT_N(heap_trace_record_t);

typedef struct RAWRT_N(heap_trace_summary_t) {
    RAWRT_N(heap_trace_mode_t) mode;
    size_t total_allocations;
    size_t total_frees;
    size_t count;
    size_t capacity;
    size_t high_water_mark;
    bool has_overflowed;
} RAWRT_N(heap_trace_summary_t);

int RAWRT_N(heap_trace_init_standalone)(RAWRT_N(heap_trace_record_t) *records, size_t n);
int RAWRT_N(heap_trace_start)(RAWRT_N(heap_trace_mode_t) mode);
int RAWRT_N(heap_trace_stop)(void);
int RAWRT_N(heap_trace_resume)(void);
size_t RAWRT_N(heap_trace_get_count)(void);
int RAWRT_N(heap_trace_get)(size_t index, RAWRT_N(heap_trace_record_t) *record);
int RAWRT_N(heap_trace_summary)(RAWRT_N(heap_trace_summary_t) *summary);
/* Every record, then the summary, on stdout (ESP-IDF's layout). */
void RAWRT_N(heap_trace_dump)(void);

/* The leak report: traces leaks (into a buffer of 65536 records of its
 * own) and, at exit, lists every block still allocated on stderr, with its
 * callers as function+0xoffset from the program's symbol table, then a
 * total line; the exit status is unchanged. ESP_ERR_INVALID_STATE while
 * tracing, ESP_ERR_NO_MEM. rawrt_heap_trace_from_env does it when
 * RAWRT_HEAP_TRACE=leaks (ESP_OK when unset or off, ESP_ERR_INVALID_ARG
 * for another value; read once). rawrt_track.h calls it at start-up. */
int rawrt_heap_trace_leaks_at_exit(void);
int rawrt_heap_trace_from_env(void);
/* The file and line rawrt_track.h recorded for the live traced block p:
 * true, or false if it has none. */
bool rawrt_heap_trace_location(const void *p, const char **file, uint32_t *line);

/* Per-thread accounting (ESP-IDF's per-task tracking, by thread):
 * rawrt_heap_thread_accounting starts it (ESP_OK, also when started
 * already; ESP_ERR_NO_MEM), and from then on every allocation through
 * malloc, calloc, realloc, aligned_alloc, memalign and valloc counts for
 * its thread and its free, by any thread, against it (blocks from before
 * the start are not counted). rawrt_heap_thread_info gives thread tid's
 * (0: the caller's) bytes and blocks allocated and not freed, and the
 * peak of those bytes: ESP_ERR_INVALID_STATE before the start,
 * ESP_ERR_NOT_FOUND for a thread that allocated nothing since (or beyond
 * the first 256), ESP_ERR_INVALID_ARG for NULL or a negative tid. Like
 * heap_trace_start, it sends every allocation down the slow paths. */
typedef struct rawrt_heap_thread_info_t {
    size_t bytes;
    size_t blocks;
    size_t peak_bytes;
} rawrt_heap_thread_info_t;

int rawrt_heap_thread_accounting(void);
int rawrt_heap_thread_info(RAWRT_N(pid_t) tid, rawrt_heap_thread_info_t *info);

/* What rawrt_track.h turns malloc, calloc, realloc and free into. */
void *rawrt_malloc_at(size_t size, const char *file, uint32_t line);
void *rawrt_calloc_at(size_t n, size_t size, const char *file, uint32_t line);
void *rawrt_realloc_at(void *p, size_t size, const char *file, uint32_t line);
void rawrt_free_at(void *p, const char *file, uint32_t line);

/* ------------------------------------------------------------------------
 * Runtime
 * ------------------------------------------------------------------------ */

/* An auxiliary-vector entry (AT_PAGESZ, ...); 0 with ENOENT if absent, and
 * always 0 in a program with its own _start that has not called rawrt_init. */
unsigned long RAWRT_N(getauxval)(unsigned long type);
int *RAWRT_N(__errno_location)(void);
/* exit runs atexit handlers (last registered first), then .fini_array.
 * atexit: 0, or -1 with errno ENOMEM (32 handlers registered) or ENOSYS
 * (the program was linked without rawrt's linker.ld by a linker that left
 * the handlers' destructor out of .fini_array: lld without a script). */
RAWRT_NORETURN void RAWRT_N(exit)(int status);
RAWRT_NORETURN void RAWRT_N(_exit)(int status);
int RAWRT_N(atexit)(void (*handler)(void));
RAWRT_NORETURN void RAWRT_N(abort)(void);

#ifndef RAWRT_PREFIX
/* For a program with its own _start: call once, first, with the stack
 * pointer the kernel gave _start, to get argv/envp/auxv (getauxval) and the
 * constructors. rawrt's own _start does this before main. Not needed for
 * malloc, pools or the system interfaces. */
void rawrt_init(const void *initial_sp);
#endif

#ifdef __cplusplus
}
#endif

#endif /* RAWRT_H */
