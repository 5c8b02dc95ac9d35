//! The C allocation ABI over the small heap (feature `small-heap`, see
//! `heap/spans`): the malloc family, `malloc_usable_size`, `malloc_trim`
//! and `mallinfo2`, with the same contracts as over the process heap
//! (`malloc.rs`). Blocks of rawrt's other heaps (pools, `heap_caps_*`,
//! region heaps) go back through their own functions: `free` reports them
//! as invalid pointers.

use crate::heap::spans::SmallProcessHeap as H;
use crate::heap::{self, CRules, Entry, MallInfo2, ReallocNames, ALIGN};
use crate::rt::errno;
use crate::sys::Errno;
use core::ptr::{null_mut, NonNull};

#[inline]
fn enomem() -> *mut u8 {
    errno::set(Errno::ENOMEM);
    null_mut()
}

/// `size` bytes aligned to `align`, zeroed if `zero`; NULL with `ENOMEM`.
#[inline(always)]
fn alloc(size: usize, align: usize, zero: bool, func: &'static str) -> *mut u8 {
    H.allocate(size, align, zero, func).map_or_else(enomem, NonNull::as_ptr)
}

/// `realloc` and `reallocf` under `func`; `Err` when out of memory.
#[inline(always)]
unsafe fn resize(p: *mut u8, size: usize, func: &'static str) -> Result<*mut u8, ()> {
    // SAFETY: C's contract for realloc.
    unsafe { H.realloc_c(p, size, ReallocNames::one(func)) }.map_err(|_| ())
}

c_name! {
/// C `malloc`: `size` bytes, 16-byte aligned; `malloc(0)` gives a unique
/// pointer that can be freed. NULL with `ENOMEM` when out of memory.
extern "C" fn malloc(size: usize) -> *mut u8 {
    alloc(size, ALIGN, false, "malloc")
}
}

c_name! {
/// C `free`: `free(NULL)` does nothing; a pointer that is not a live block
/// of the small heap is reported on stderr and aborts.
unsafe extern "C" fn free(p: *mut u8) {
    // SAFETY: C's contract for free.
    unsafe { H.free_or_abort(p, "free") }
}
}

c_name! {
/// C `calloc`: zeroed memory for `n * size` bytes; NULL with `ENOMEM` on
/// overflow.
extern "C" fn calloc(n: usize, size: usize) -> *mut u8 {
    match n.checked_mul(size) {
        Some(total) => alloc(total, ALIGN, true, "calloc"),
        None => enomem(),
    }
}
}

c_name! {
/// C `realloc`: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)` frees
/// `p` and returns NULL; on failure NULL with `ENOMEM` and `p` intact.
unsafe extern "C" fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: C's contract for realloc.
    unsafe { resize(p, size, "realloc") }.unwrap_or_else(|()| enomem())
}
}

c_name! {
/// BSD `reallocf`: like `realloc`, but frees `p` when it fails.
unsafe extern "C" fn reallocf(p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: C's contract for reallocf.
    unsafe { resize(p, size, "reallocf") }.unwrap_or_else(|()| {
        // SAFETY: the failed resize left `p` live.
        unsafe { H.free_or_abort(p, "reallocf") };
        enomem()
    })
}
}

c_name! {
/// `reallocarray`: `realloc(p, n * size)` with overflow giving NULL and
/// `ENOMEM` (and `p` intact).
unsafe extern "C" fn reallocarray(p: *mut u8, n: usize, size: usize) -> *mut u8 {
    match n.checked_mul(size) {
        // SAFETY: C's contract for realloc.
        Some(total) => unsafe { realloc(p, total) },
        None => enomem(),
    }
}
}

c_name! {
/// OpenBSD `recallocarray` (see `malloc.rs`): NULL `p` is `calloc`;
/// `ENOMEM` on overflow, `EINVAL` for an `old_n * size` larger than the
/// block; on failure `p` is intact.
unsafe extern "C" fn recallocarray(p: *mut u8, old_n: usize, n: usize, size: usize) -> *mut u8 {
    let Some(nn) = NonNull::new(p) else { return calloc(n, size) };
    // SAFETY: C's contract: `p` is a live block of this heap.
    unsafe { H.recalloc_c(nn, old_n, n, size, "recallocarray") }.unwrap_or_else(|e| {
        errno::set(e);
        null_mut()
    })
}
}

c_name! {
/// C `posix_memalign`: 0, `EINVAL` for an alignment that is not a power of
/// two multiple of `sizeof(void *)`, or `ENOMEM`; `*memptr` is left
/// untouched on error. Alignments above 16 take a mapping of their own.
unsafe extern "C" fn posix_memalign(memptr: *mut *mut u8, align: usize, size: usize) -> i32 {
    let Some(align) = heap::align_posix(align) else { return Errno::EINVAL.raw() };
    match H.allocate(size, align, false, "posix_memalign") {
        Some(p) => {
            // SAFETY: C's contract: `memptr` is writable.
            unsafe { *memptr = p.as_ptr() };
            0
        }
        None => Errno::ENOMEM.raw(),
    }
}
}

c_name! {
/// C11 `aligned_alloc`: NULL with `EINVAL` for an alignment that is not a
/// power of two, NULL with `ENOMEM` when out of memory.
extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
    match heap::align_c11(align) {
        Some(a) => alloc(size, a, false, "aligned_alloc"),
        None => {
            errno::set(Errno::EINVAL);
            null_mut()
        }
    }
}
}

c_name! {
/// `memalign`: an alignment that is not a power of two is rounded up to
/// one; an absurd alignment gives `EINVAL`.
extern "C" fn memalign(align: usize, size: usize) -> *mut u8 {
    match heap::align_memalign(align) {
        Some(a) => alloc(size, a, false, "memalign"),
        None => {
            errno::set(Errno::EINVAL);
            null_mut()
        }
    }
}
}

c_name! {
/// `valloc`: page-aligned memory.
extern "C" fn valloc(size: usize) -> *mut u8 {
    alloc(size, crate::rt::page_size(), false, "valloc")
}
}

c_name! {
/// `malloc_usable_size`: the bytes usable in a block of the small heap (0
/// for NULL); any other pointer is reported and aborts.
pub(super) unsafe extern "C" fn malloc_usable_size(p: *mut u8) -> usize {
    if p.is_null() {
        return 0;
    }
    // SAFETY: C's contract: `p` is a live block.
    unsafe { H.usable_size_or_abort(p, "malloc_usable_size") }
}
}

c_name! {
/// `malloc_trim`: gives the pages of empty spans back to the kernel
/// (`pad` has nothing to keep: spans are given back whole); 1 if some
/// went back, else 0.
extern "C" fn malloc_trim(_pad: usize) -> i32 {
    H.trim() as i32
}
}

c_name! {
/// glibc's `mallinfo2` for the small heap (see `SmallProcessHeap::info`).
extern "C" fn mallinfo2() -> MallInfo2 {
    H.info()
}
}
