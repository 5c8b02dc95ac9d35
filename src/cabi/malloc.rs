//! The C allocation ABI over the process heap: `malloc` and friends,
//! `mallinfo2`. Misuse that the heap detects (a double free, a pointer it
//! never handed out) prints one line and aborts.

use crate::heap::trace::{self, Kind, ALIGNED_ALLOC, CALLOC, MALLOC, MEMALIGN, VALLOC};
use crate::heap::CRules;
use crate::heap::{self, caps, MallInfo2, ReallocNames, ALIGN};
use crate::rt::errno;
use crate::sys::Errno;
use core::ptr::{null_mut, NonNull};

#[inline]
fn enomem() -> *mut u8 {
    errno::set(Errno::ENOMEM);
    null_mut()
}

/// Any allocation of `kind` (`trace::MALLOC`, ...): the slow path, by a
/// tail call to the tracing hook's stub, which learns the caller
/// (`heap/trace/hook.rs`).
#[inline(always)]
fn alloc(size: usize, align: usize, kind: &'static Kind) -> *mut u8 {
    // SAFETY: the stub takes any arguments.
    unsafe { trace::__rawrt_alloc_slow(size, align, kind) }
}

/// An allocation through the heap's fast path (the calling thread's cache),
/// else [`alloc`], as a tail call: the fast path needs no stack frame.
#[inline(always)]
fn fast(size: usize, kind: &'static Kind) -> *mut u8 {
    match heap::process().allocate_fast(size, ALIGN, kind.zero, kind.func) {
        Some(p) => p.as_ptr(),
        None => alloc(size, ALIGN, kind),
    }
}

/// Frees `p` (a block of any heap), aborting on misuse.
#[inline]
unsafe fn release(p: *mut u8, func: &'static str) {
    // SAFETY: the caller passes a pointer C code got from a heap.
    unsafe { caps::free(p, func) }
}

c_name! {
/// C `malloc`: `size` bytes, 16-byte aligned; `malloc(0)` gives a unique
/// pointer that can be freed. NULL with `ENOMEM` when out of memory.
extern "C" fn malloc(size: usize) -> *mut u8 {
    fast(size, &MALLOC)
}
}

c_name! {
/// C `free`: `free(NULL)` does nothing; a block of any heap (the process
/// heap's or a registered heap's) is freed; a pointer no heap owns, or
/// freed already, is reported on stderr and aborts.
unsafe extern "C" fn free(p: *mut u8) {
    // SAFETY: C's contract for free.
    unsafe { caps::free_c(p) }
}
}

c_name! {
/// C `calloc`: zeroed memory for `n * size` bytes; NULL with `ENOMEM` on
/// overflow. Memory fresh from the kernel is not cleared again.
extern "C" fn calloc(n: usize, size: usize) -> *mut u8 {
    match n.checked_mul(size) {
        Some(total) => fast(total, &CALLOC),
        None => enomem(),
    }
}
}

c_name! {
/// C `realloc`: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)` frees
/// `p` and returns NULL; on failure NULL with `ENOMEM` and `p` intact. A
/// block of a registered heap is resized in that heap.
unsafe extern "C" fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: C's contract for realloc (the stub, `heap/trace/hook.rs`,
    // learns the caller; NULL and ENOMEM on failure).
    unsafe { trace::__rawrt_realloc(p, size) }
}
}

c_name! {
/// BSD `reallocf`: like `realloc`, but frees `p` when it fails.
unsafe extern "C" fn reallocf(p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: C's contract for reallocf.
    match unsafe { heap::process().realloc_c(p, size, ReallocNames::one("reallocf")) } {
        Ok(q) => q,
        Err(_) => {
            // SAFETY: the failed resize left `p` live.
            unsafe { release(p, "reallocf") };
            enomem()
        }
    }
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
/// OpenBSD `recallocarray`: resizes an array of `old_n` to `n` elements of
/// `size` bytes; the grown part is zeroed and the released part of a
/// shrinking array is cleared before it is given up. NULL `p` is `calloc`.
/// Overflow gives `ENOMEM`; an `old_n * size` larger than the block gives
/// `EINVAL`; on failure `p` is intact.
unsafe extern "C" fn recallocarray(p: *mut u8, old_n: usize, n: usize, size: usize) -> *mut u8 {
    let Some(nn) = NonNull::new(p) else { return calloc(n, size) };
    // SAFETY: C's contract: `p` is a live block of this heap.
    match unsafe { heap::process().recalloc_c(nn, old_n, n, size, "recallocarray") } {
        Ok(q) => q,
        Err(e) => {
            errno::set(e);
            null_mut()
        }
    }
}
}

c_name! {
/// C `posix_memalign`: 0, `EINVAL` for an alignment that is not a power of
/// two multiple of `sizeof(void *)`, or `ENOMEM`; `*memptr` is left
/// untouched on error and `errno` is not changed.
unsafe extern "C" fn posix_memalign(memptr: *mut *mut u8, align: usize, size: usize) -> i32 {
    let Some(align) = heap::align_posix(align) else { return Errno::EINVAL.raw() };
    match heap::process().allocate(size, align, false, "posix_memalign") {
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
        Some(a) => alloc(size, a, &ALIGNED_ALLOC),
        None => {
            errno::set(Errno::EINVAL);
            null_mut()
        }
    }
}
}

c_name! {
/// `memalign`: like `aligned_alloc`, but (as in glibc) an alignment that is
/// not a power of two is rounded up to one; an absurd alignment gives
/// `EINVAL`.
extern "C" fn memalign(align: usize, size: usize) -> *mut u8 {
    match heap::align_memalign(align) {
        Some(a) => alloc(size, a, &MEMALIGN),
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
    alloc(size, crate::rt::page_size(), &VALLOC)
}
}

c_name! {
/// `malloc_usable_size`: the bytes usable in a block of any heap (0 for
/// NULL).
pub(super) unsafe extern "C" fn malloc_usable_size(p: *mut u8) -> usize {
    // SAFETY: C's contract: `p` is null or a live block of a heap.
    unsafe { caps::usable_size_or_abort(p, "malloc_usable_size") }
}
}

c_name! {
/// `malloc_trim`: gives free memory beyond `pad` bytes back to the
/// kernel; 1 if something was released, else 0.
extern "C" fn malloc_trim(pad: usize) -> i32 {
    heap::process().trim(pad) as i32
}
}

c_name! {
/// glibc's `mallinfo2`.
extern "C" fn mallinfo2() -> MallInfo2 {
    heap::process().info().into()
}
}
