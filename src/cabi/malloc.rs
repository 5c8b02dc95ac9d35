//! The C allocation ABI over the process heap: `malloc` and friends,
//! `mallinfo2`. Misuse that the heap detects (a double free, a pointer it
//! never handed out) prints one line and aborts.

use crate::heap::{self, misuse, HeapError, ALIGN};
use crate::rt::errno;
use crate::sys::Errno;
use core::ptr::{null_mut, NonNull};

#[inline]
fn enomem() -> *mut u8 {
    errno::set(Errno::ENOMEM);
    null_mut()
}

/// Any allocation; the entry points that try the heap's inlined fast path
/// first ([`fast`]) come here when it has no block.
#[inline(never)]
fn alloc(size: usize, align: usize, zero: bool, func: &'static str) -> *mut u8 {
    match heap::process().allocate_slow(size, align, zero, func) {
        Some(p) => p.as_ptr(),
        None => enomem(),
    }
}

/// An allocation through the heap's fast path (the calling thread's cache),
/// else [`alloc`], as a tail call: the fast path needs no stack frame.
#[inline(always)]
fn fast(size: usize, zero: bool, func: &'static str) -> *mut u8 {
    match heap::process().allocate_fast(size, ALIGN, zero, func) {
        Some(p) => p.as_ptr(),
        None => alloc(size, ALIGN, zero, func),
    }
}

/// Frees `p` (not null), aborting on misuse.
#[inline]
unsafe fn release(p: *mut u8, func: &'static str) {
    // SAFETY: the caller passes a pointer C code got from this heap.
    unsafe { heap::process().free_or_abort(p, func) }
}

/// realloc without the `size == 0` rule: `Ok(new)`, or `Err(())` with the
/// old block intact and `errno` set.
unsafe fn resize(p: *mut u8, size: usize, func: &'static str) -> Result<*mut u8, ()> {
    let Some(nn) = NonNull::new(p) else {
        let q = alloc(size, ALIGN, false, func);
        return if q.is_null() { Err(()) } else { Ok(q) };
    };
    // SAFETY: the caller passes a live block of this heap.
    match unsafe { heap::process().reallocate(nn, size, ALIGN, func) } {
        Ok(q) => Ok(q.as_ptr()),
        Err(HeapError::OutOfMemory) => {
            errno::set(Errno::ENOMEM);
            Err(())
        }
        Err(e) => misuse(func, e, p),
    }
}

c_name! {
/// C `malloc`: `size` bytes, 16-byte aligned; `malloc(0)` gives a unique
/// pointer that can be freed. NULL with `ENOMEM` when out of memory.
extern "C" fn malloc(size: usize) -> *mut u8 {
    fast(size, false, "malloc")
}
}

c_name! {
/// C `free`: `free(NULL)` does nothing; a pointer not from this heap, or
/// freed already, is reported on stderr and aborts.
pub(super) unsafe extern "C" fn free(p: *mut u8) {
    // SAFETY: C's contract for free.
    unsafe { release(p, "free") }
}
}

c_name! {
/// C `calloc`: zeroed memory for `n * size` bytes; NULL with `ENOMEM` on
/// overflow. Memory fresh from the kernel is not cleared again.
extern "C" fn calloc(n: usize, size: usize) -> *mut u8 {
    match n.checked_mul(size) {
        Some(total) => fast(total, true, "calloc"),
        None => enomem(),
    }
}
}

c_name! {
/// C `realloc`: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)` frees
/// `p` and returns NULL; on failure NULL with `ENOMEM` and `p` intact.
unsafe extern "C" fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    if size == 0 && !p.is_null() {
        // SAFETY: C's contract for realloc.
        unsafe { release(p, "realloc") };
        return null_mut();
    }
    // SAFETY: C's contract for realloc.
    unsafe { resize(p, size, "realloc") }.unwrap_or(null_mut())
}
}

c_name! {
/// BSD `reallocf`: like `realloc`, but frees `p` when it fails.
unsafe extern "C" fn reallocf(p: *mut u8, size: usize) -> *mut u8 {
    if size == 0 && !p.is_null() {
        // SAFETY: C's contract for reallocf.
        unsafe { release(p, "reallocf") };
        return null_mut();
    }
    // SAFETY: C's contract for reallocf.
    match unsafe { resize(p, size, "reallocf") } {
        Ok(q) => q,
        Err(()) => {
            // SAFETY: the failed resize left `p` live; free keeps errno.
            unsafe { release(p, "reallocf") };
            errno::set(Errno::ENOMEM);
            null_mut()
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
    if p.is_null() {
        return calloc(n, size);
    }
    let (Some(old), Some(new)) = (old_n.checked_mul(size), n.checked_mul(size)) else {
        return enomem();
    };
    // SAFETY: C's contract: `p` is a live block of this heap.
    let usable = match unsafe { heap::process().usable_size(p) } {
        Ok(u) => u,
        Err(e) => misuse("recallocarray", e, p),
    };
    if old > usable {
        errno::set(Errno::EINVAL);
        return null_mut();
    }
    // SAFETY: `[new, old)` and `[old, new)` lie inside the live blocks
    // (old <= usable, and the resized block holds `new` bytes).
    unsafe {
        if new < old {
            crate::mem::memset(p.add(new), 0, old - new);
        }
        match resize(p, new, "recallocarray") {
            Ok(q) => {
                if new > old {
                    crate::mem::memset(q.add(old), 0, new - old);
                }
                q
            }
            Err(()) => null_mut(),
        }
    }
}
}

/// Whether `align` is a power of two that `posix_memalign` accepts.
#[inline]
fn valid_align(align: usize) -> bool {
    align.is_power_of_two() && align % core::mem::size_of::<usize>() == 0
}

c_name! {
/// C `posix_memalign`: 0, `EINVAL` for an alignment that is not a power of
/// two multiple of `sizeof(void *)`, or `ENOMEM`; `*memptr` is left
/// untouched on error and `errno` is not changed.
unsafe extern "C" fn posix_memalign(memptr: *mut *mut u8, align: usize, size: usize) -> i32 {
    if !valid_align(align) {
        return Errno::EINVAL.raw();
    }
    match heap::process().allocate(size, align.max(ALIGN), false, "posix_memalign") {
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
    if !align.is_power_of_two() {
        errno::set(Errno::EINVAL);
        return null_mut();
    }
    alloc(size, align.max(ALIGN), false, "aligned_alloc")
}
}

c_name! {
/// `memalign`: like `aligned_alloc`, but (as in glibc) an alignment that is
/// not a power of two is rounded up to one; an absurd alignment gives
/// `EINVAL`.
extern "C" fn memalign(align: usize, size: usize) -> *mut u8 {
    match align.max(1).checked_next_power_of_two() {
        Some(a) => alloc(size, a.max(ALIGN), false, "memalign"),
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
/// `malloc_usable_size`: the bytes usable in the block (0 for NULL).
pub(super) unsafe extern "C" fn malloc_usable_size(p: *mut u8) -> usize {
    if p.is_null() {
        return 0;
    }
    // SAFETY: C's contract: `p` is a live block of this heap.
    match unsafe { heap::process().usable_size(p) } {
        Ok(n) => n,
        Err(e) => misuse("malloc_usable_size", e, p),
    }
}
}

c_name! {
/// `malloc_trim`: gives free memory beyond `pad` bytes back to the
/// kernel; 1 if something was released, else 0.
extern "C" fn malloc_trim(pad: usize) -> i32 {
    heap::process().trim(pad) as i32
}
}

/// glibc's `struct mallinfo2`, filled from the process heap's figures.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo2 {
    /// Bytes obtained from the kernel and not given back (footprint).
    pub arena: usize,
    /// Free blocks (the top counted as one).
    pub ordblks: usize,
    /// Always 0 (glibc's fastbins do not exist here).
    pub smblks: usize,
    /// Always 0: large mapped blocks are counted in the fields above.
    pub hblks: usize,
    /// Always 0, as `hblks`.
    pub hblkhd: usize,
    /// Peak allocated bytes.
    pub usmblks: usize,
    /// Always 0 (no fastbins).
    pub fsmblks: usize,
    /// Allocated bytes.
    pub uordblks: usize,
    /// Free bytes.
    pub fordblks: usize,
    /// The largest free block (what `malloc` can give without the kernel).
    pub keepcost: usize,
}

impl MallInfo2 {
    /// The process heap's figures in glibc's shape.
    pub fn process() -> MallInfo2 {
        let i = heap::process().info();
        MallInfo2 {
            arena: i.footprint,
            ordblks: i.free_blocks,
            usmblks: i.peak_allocated_bytes,
            uordblks: i.total_allocated_bytes,
            fordblks: i.total_free_bytes,
            keepcost: i.largest_free_block,
            ..MallInfo2::default()
        }
    }
}

c_name! {
/// glibc's `mallinfo2`.
extern "C" fn mallinfo2() -> MallInfo2 {
    MallInfo2::process()
}
}
