//! Block pools, granules and pages for C: `rawrt_pool_*`, NuttX's
//! `gran_*` and `mm_pgalloc`/`mm_pgfree`. Misuse the allocators detect (a
//! double free, a pointer that is not theirs) prints one line and aborts.

use crate::gran::{Gran, GranInfo, PageInfo, PAGES};
/// With the small heap, pools take their chunks from it.
#[cfg(feature = "small-heap")]
use crate::heap::spans::SmallProcessHeap as PoolHeap;
#[cfg(not(feature = "small-heap"))]
use crate::heap::ProcessHeap as PoolHeap;
use crate::pool::{Pool, PoolError, PoolInfo};
use crate::rt::errno;
use crate::rt::io::FdWriter;
use crate::sys::STDERR;
use core::ffi::c_void;
use core::ptr::{null_mut, NonNull};

fn pool_err<T>(e: PoolError, v: T) -> T {
    errno::set(e.errno());
    v
}

/// `rawrt_pool_create`: a pool of `block_size`-byte blocks aligned to
/// `align` (0: 16), growing from the process heap up to `max_blocks`
/// blocks (0: unlimited). NULL with `EINVAL` or `ENOMEM`.
#[no_mangle]
extern "C" fn rawrt_pool_create(block_size: usize, align: usize, max_blocks: usize) -> *mut Pool {
    match Pool::create(block_size, align, max_blocks, &PoolHeap) {
        Ok(p) => p.as_ptr(),
        Err(e) => pool_err(e, null_mut()),
    }
}

/// `rawrt_pool_create_in`: a fixed pool inside `[region, region +
/// region_size)`, the pool's own state included. NULL with `EINVAL` if the
/// region cannot hold one block.
#[no_mangle]
unsafe extern "C" fn rawrt_pool_create_in(
    region: *mut u8,
    region_size: usize,
    block_size: usize,
    align: usize,
) -> *mut Pool {
    // SAFETY: C's contract: the region is the pool's from now on.
    match unsafe { Pool::create_in(region, region_size, block_size, align) } {
        Ok(p) => p.as_ptr(),
        Err(e) => pool_err(e, null_mut()),
    }
}

/// `rawrt_pool_alloc`: a block, or NULL with `ENOMEM` when the pool is
/// exhausted (and may not grow) or the heap refuses a chunk.
#[no_mangle]
extern "C" fn rawrt_pool_alloc(pool: &Pool) -> *mut u8 {
    pool.alloc_as("rawrt_pool_alloc").map_or_else(|e| pool_err(e, null_mut()), NonNull::as_ptr)
}

/// `rawrt_pool_calloc`: a zeroed block, as `rawrt_pool_alloc`.
#[no_mangle]
extern "C" fn rawrt_pool_calloc(pool: &Pool) -> *mut u8 {
    pool.alloc_zeroed_as("rawrt_pool_calloc")
        .map_or_else(|e| pool_err(e, null_mut()), NonNull::as_ptr)
}

/// `rawrt_pool_alloc_wait`: like `rawrt_pool_alloc`, but when the pool is
/// exhausted, sleeps until another thread frees a block or `timeout`
/// (relative; NULL waits for ever) passes: NULL with `ETIMEDOUT` then, or
/// `ENOMEM` if the heap refuses a chunk. A negative or out-of-range
/// timeout gives `EINVAL`.
#[no_mangle]
unsafe extern "C" fn rawrt_pool_alloc_wait(
    pool: &Pool,
    timeout: *const crate::sys::time::Timespec,
) -> *mut u8 {
    // SAFETY: C's contract: `timeout` is NULL or a valid timespec.
    let timeout = match unsafe { timeout.as_ref() }.map(|t| t.to_duration()) {
        None => None,
        Some(Some(d)) => Some(d),
        Some(None) => return pool_err(PoolError::InvalidArgument, null_mut()),
    };
    pool.alloc_wait_as(timeout, "rawrt_pool_alloc_wait")
        .map_or_else(|e| pool_err(e, null_mut()), NonNull::as_ptr)
}

/// `rawrt_pool_free`: NULL does nothing; a pointer that is not a block of
/// this pool, or a block freed twice, is reported and aborts.
#[no_mangle]
unsafe extern "C" fn rawrt_pool_free(pool: &Pool, p: *mut u8) {
    // SAFETY: C's contract: `p` is null or a block of `pool`.
    unsafe { pool.free_or_abort(p, "rawrt_pool_free") }
}

/// `rawrt_pool_info`: the pool's figures.
#[no_mangle]
unsafe extern "C" fn rawrt_pool_info(pool: &Pool, out: *mut PoolInfo) {
    // SAFETY: C's contract: `out` is writable.
    unsafe { *out = pool.info() }
}

/// `rawrt_pool_check`: whether the pool is intact (its free lists; when
/// poisoned, every block's canaries and free blocks' fill); each fault
/// found is printed on stderr if `print_errors`.
#[no_mangle]
extern "C" fn rawrt_pool_check(pool: &Pool, print_errors: bool) -> bool {
    FdWriter::with(STDERR, |w| pool.check_integrity_as(print_errors, w, "rawrt_pool_check"))
}

/// `rawrt_pool_for_each_used`: calls `f(block, ctx)` for every block in
/// use, in address order. `f` may allocate and free blocks of the pool.
#[no_mangle]
extern "C" fn rawrt_pool_for_each_used(
    pool: &Pool,
    f: extern "C" fn(*mut u8, *mut c_void),
    ctx: *mut c_void,
) {
    pool.for_each_used(|b| f(b.as_ptr(), ctx))
}

/// `rawrt_pool_destroy`: releases the pool and, for a heap-backed pool,
/// all its memory. NULL does nothing.
#[no_mangle]
unsafe extern "C" fn rawrt_pool_destroy(pool: *mut Pool) {
    if let Some(p) = NonNull::new(pool) {
        // SAFETY: C's contract: a pool from rawrt_pool_create(_in), unused
        // from now on.
        unsafe { Pool::destroy(p) }
    }
}

c_name! {
/// NuttX's `gran_initialize`: a granule allocator over `[heapstart,
/// heapstart + heapsize)` with granules of `1 << log2gran` bytes aligned to
/// `1 << log2align`; its state lives at the start of the region. NULL with
/// `EINVAL` for bad arguments.
unsafe extern "C" fn gran_initialize(heapstart: *mut u8, heapsize: usize, log2gran: u8, log2align: u8) -> *mut Gran {
    // SAFETY: C's contract: the region is the allocator's from now on.
    match unsafe { Gran::new_in_place(heapstart, heapsize, log2gran, log2align) } {
        Ok(g) => g.as_ptr(),
        Err(e) => {
            errno::set(e.errno());
            null_mut()
        }
    }
}
}

c_name! {
/// NuttX's `gran_alloc`: whole granules for `size` bytes, or NULL with
/// `ENOMEM` (`EINVAL` for a size of 0).
extern "C" fn gran_alloc(handle: &Gran, size: usize) -> *mut u8 {
    handle.alloc(size).map_or_else(
        |e| {
            errno::set(e.errno());
            null_mut()
        },
        NonNull::as_ptr,
    )
}
}

c_name! {
/// NuttX's `gran_free`: freeing a range that is not allocated is reported
/// and aborts.
unsafe extern "C" fn gran_free(handle: &Gran, memory: *mut u8, size: usize) {
    // SAFETY: C's contract: an allocation of `handle`.
    unsafe { handle.free_or_abort(memory, size, "gran_free") }
}
}

c_name! {
/// NuttX's `gran_info` (counts as `size_t`: NuttX's 16-bit fields would
/// truncate).
unsafe extern "C" fn gran_info(handle: &Gran, info: *mut GranInfo) {
    // SAFETY: C's contract: `info` is writable.
    unsafe { *info = handle.info() }
}
}

/// `rawrt_pages_init`: reserves `npages` pages with mmap for
/// `mm_pgalloc`. 0, or -1 with `errno` (`EBUSY` if already done).
#[no_mangle]
extern "C" fn rawrt_pages_init(npages: usize) -> i32 {
    match PAGES.map(npages) {
        Ok(()) => 0,
        Err(e) => {
            errno::set(e.errno());
            -1
        }
    }
}

c_name! {
/// NuttX's `mm_pgalloc`: the address of `npages` contiguous pages, or 0
/// with `ENOMEM` (also before `rawrt_pages_init`).
extern "C" fn mm_pgalloc(npages: usize) -> usize {
    match PAGES.alloc(npages) {
        Ok(p) => p.as_ptr() as usize,
        Err(e) => {
            errno::set(e.errno());
            0
        }
    }
}
}

c_name! {
/// NuttX's `mm_pgfree`: freeing pages that are not allocated is reported
/// and aborts.
unsafe extern "C" fn mm_pgfree(addr: usize, npages: usize) {
    // SAFETY: C's contract: pages from mm_pgalloc.
    unsafe { PAGES.free_or_abort(addr as *mut u8, npages, "mm_pgfree") }
}
}

/// `rawrt_pages_info`: page statistics (page size, total, free, largest
/// free run).
#[no_mangle]
unsafe extern "C" fn rawrt_pages_info(out: *mut PageInfo) {
    // SAFETY: C's contract: `out` is writable.
    unsafe { *out = PAGES.info() }
}
