//! C's rules for `realloc` and its relatives, written once for every C
//! entry point that follows them (C's `realloc`, `reallocf` and
//! `recallocarray`, ESP-IDF's `multi_heap_realloc` and
//! `heap_caps_realloc`, NuttX's `mm_realloc`):
//!
//! - a null pointer is an allocation of `size` bytes (`realloc(NULL, 0)`
//!   gives a unique block, as `malloc(0)` does);
//! - with [`realloc_rules`], a size of 0 frees the block and gives null;
//! - out of memory gives `Err(OutOfMemory)` and leaves the block as it was;
//! - misuse (a pointer that is not a live block of the heap) is reported
//!   naming the entry point, and aborts.
//!
//! Setting `errno` is left to the C entry points that have it.

use core::ptr::{null_mut, NonNull};

use super::block::ALIGN;
use super::entry::Entry;
use super::error::HeapError;
use super::traits::misuse;
use crate::sys::Errno;

/// The names a C `realloc` reports under (in misuse reports and to the
/// failed-allocation callback) for its three cases: an allocation
/// (null pointer), a free (size 0) and a resize. C's own `realloc` uses
/// one name for all three; NuttX's `mm_realloc` calls `mm_malloc` and
/// `mm_free`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReallocNames {
    /// The allocation of a null pointer.
    pub malloc: &'static str,
    /// The free of a size of 0.
    pub free: &'static str,
    /// The resize.
    pub realloc: &'static str,
}

impl ReallocNames {
    /// One name for all three cases.
    pub const fn one(name: &'static str) -> Self {
        ReallocNames { malloc: name, free: name, realloc: name }
    }
}

/// C's resize without the size-0 rule: `alloc()` for a null `p`, else
/// `resize(p)`; `Err(OutOfMemory)` leaves `p` as it was; any other error
/// is reported as misuse by `func` and aborts.
#[inline(always)]
pub(super) fn resize_rules(
    p: *mut u8,
    func: &'static str,
    alloc: impl FnOnce() -> Option<NonNull<u8>>,
    resize: impl FnOnce(NonNull<u8>) -> Result<NonNull<u8>, HeapError>,
) -> Result<*mut u8, HeapError> {
    let Some(nn) = NonNull::new(p) else {
        return alloc().map(NonNull::as_ptr).ok_or(HeapError::OutOfMemory);
    };
    match resize(nn) {
        Ok(q) => Ok(q.as_ptr()),
        Err(HeapError::OutOfMemory) => Err(HeapError::OutOfMemory),
        Err(e) => misuse(func, e, p),
    }
}

/// C's `realloc` rules: [`resize_rules`], except that a non-null `p` with
/// a `size` of 0 is given to `free` and the result is `Ok(null)`.
#[inline(always)]
pub(super) fn realloc_rules(
    p: *mut u8,
    size: usize,
    func: &'static str,
    alloc: impl FnOnce() -> Option<NonNull<u8>>,
    free: impl FnOnce(NonNull<u8>),
    resize: impl FnOnce(NonNull<u8>) -> Result<NonNull<u8>, HeapError>,
) -> Result<*mut u8, HeapError> {
    if let (0, Some(nn)) = (size, NonNull::new(p)) {
        free(nn);
        return Ok(null_mut());
    }
    resize_rules(p, func, alloc, resize)
}

/// The alignment C11's `aligned_alloc` accepts (and ESP-IDF's and
/// NuttX's aligned entry points): a power of two, raised to at least
/// [`ALIGN`]; `None` otherwise.
#[inline]
pub fn align_c11(align: usize) -> Option<usize> {
    align.is_power_of_two().then(|| align.max(ALIGN))
}

/// The alignment `posix_memalign` accepts: a power of two that is a
/// multiple of `sizeof(void *)`, raised to at least [`ALIGN`]; `None`
/// otherwise (`EINVAL`).
#[inline]
pub fn align_posix(align: usize) -> Option<usize> {
    (align.is_power_of_two() && align % core::mem::size_of::<usize>() == 0)
        .then(|| align.max(ALIGN))
}

/// The alignment `memalign` uses (as glibc's): one that is not a power of
/// two is rounded up to one, and raised to at least [`ALIGN`]; `None` for
/// an alignment too large to round (`EINVAL`).
#[inline]
pub fn align_memalign(align: usize) -> Option<usize> {
    align.max(1).checked_next_power_of_two().map(|a| a.max(ALIGN))
}

/// C's rules over any heap's [`Entry`] points: the methods below, for
/// every heap (`use rawrt::heap::CRules` to call them).
pub trait CRules: Entry {
    /// C's `realloc` on this heap (see the module's rules), 16-byte
    /// aligned: `Ok(block)`; `Ok(null)` when a size of 0 freed `p`;
    /// `Err(OutOfMemory)` with `p` left as it was. A null `p` is an
    /// allocation past the thread cache's fast path (the one `malloc`
    /// inlines). Misuse is reported under `names` and aborts.
    ///
    /// # Safety
    /// `p` is null or a block of this heap; if the block moves or is
    /// freed, nothing may use it afterwards.
    #[inline(always)]
    unsafe fn realloc_c(
        &self,
        p: *mut u8,
        size: usize,
        names: ReallocNames,
    ) -> Result<*mut u8, HeapError> {
        realloc_rules(
            p,
            size,
            names.realloc,
            || self.allocate_slow(size, ALIGN, false, names.malloc),
            // SAFETY: the caller's contract.
            |nn| unsafe { self.free_or_abort(nn.as_ptr(), names.free) },
            // SAFETY: the caller's contract.
            |nn| unsafe { self.reallocate(nn, size, ALIGN, names.realloc) },
        )
    }

    /// [`realloc_c`](Self::realloc_c) without the size-0 rule: a size of
    /// 0 resizes `p` to the smallest block. All cases report as `func`.
    ///
    /// # Safety
    /// As for `realloc_c`.
    #[inline(always)]
    unsafe fn resize_c(
        &self,
        p: *mut u8,
        size: usize,
        func: &'static str,
    ) -> Result<*mut u8, HeapError> {
        resize_rules(
            p,
            func,
            || self.allocate_slow(size, ALIGN, false, func),
            // SAFETY: the caller's contract.
            |nn| unsafe { self.reallocate(nn, size, ALIGN, func) },
        )
    }

    /// The usable size of the block at `p`; a pointer that is not a live
    /// block of this heap (null too) is reported as misuse by `func` and
    /// aborts (C's `malloc_usable_size` past its null check, ESP-IDF's
    /// `multi_heap_get_allocated_size`).
    ///
    /// # Safety
    /// As for [`usable_size`](Self::usable_size).
    unsafe fn usable_size_or_abort(&self, p: *mut u8, func: &'static str) -> usize {
        // SAFETY: forwarded contract.
        match unsafe { self.usable_size(p) } {
            Ok(n) => n,
            Err(e) => misuse(func, e, p),
        }
    }

    /// OpenBSD's `recallocarray` for a non-null `p` holding `old_n`
    /// elements of `size` bytes: resized to `n` elements, the grown part
    /// zeroed, the released part of a shrinking array cleared before it
    /// is given up. `ENOMEM` for an overflow or when out of memory,
    /// `EINVAL` for an `old_n * size` larger than the block; on error `p`
    /// is intact. Misuse is reported as `func` and aborts.
    ///
    /// # Safety
    /// `p` is a block of this heap; if it moves, nothing may use it
    /// afterwards.
    unsafe fn recalloc_c(
        &self,
        p: NonNull<u8>,
        old_n: usize,
        n: usize,
        size: usize,
        func: &'static str,
    ) -> Result<*mut u8, Errno> {
        let (Some(old), Some(new)) = (old_n.checked_mul(size), n.checked_mul(size)) else {
            return Err(Errno::ENOMEM);
        };
        let p = p.as_ptr();
        // SAFETY: the caller's contract.
        let usable = unsafe { self.usable_size_or_abort(p, func) };
        if old > usable {
            return Err(Errno::EINVAL);
        }
        // SAFETY: `[new, old)` and `[old, new)` lie inside the live blocks
        // (old <= usable, and the resized block holds `new` bytes).
        unsafe {
            if new < old {
                crate::mem::memset(p.add(new), 0, old - new);
            }
            let q = self.resize_c(p, new, func).map_err(|_| Errno::ENOMEM)?;
            if new > old {
                crate::mem::memset(q.add(old), 0, new - old);
            }
            Ok(q)
        }
    }
}

impl<T: Entry + ?Sized> CRules for T {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::heap::{Heap, RegionSource};

    fn region() -> Heap<RegionSource> {
        let mem = std::boxed::Box::leak(std::vec![0u8; 64 << 10].into_boxed_slice());
        Heap::new_in(mem)
    }

    /// Null is an allocation (of 0 bytes too), a size of 0 frees, a
    /// resize keeps the contents, and an impossible one leaves the block.
    pub fn realloc_rules_on_a_region() {
        let h = region();
        let names = ReallocNames::one("test");
        // SAFETY: every pointer is a live block of `h` when it is passed.
        unsafe {
            let z = h.realloc_c(null_mut(), 0, names).unwrap();
            assert!(!z.is_null());
            assert_eq!(h.info().allocated_blocks, 1);
            assert_eq!(h.realloc_c(z, 0, names), Ok(null_mut()));
            assert_eq!(h.info().allocated_blocks, 0);
            let p = h.realloc_c(null_mut(), 100, names).unwrap();
            assert!(h.usable_size_or_abort(p, "test") >= 100);
            p.write_bytes(9, 100);
            let q = h.realloc_c(p, 1000, names).unwrap();
            assert_eq!(*q.add(99), 9);
            assert_eq!(h.realloc_c(q, 1 << 20, names), Err(HeapError::OutOfMemory));
            assert_eq!(*q.add(99), 9);
            assert_eq!(h.info().allocated_blocks, 1);
            // Without the size-0 rule the block stays, at its smallest.
            let r = h.resize_c(q, 0, "test").unwrap();
            assert!(!r.is_null());
            assert_eq!(h.info().allocated_blocks, 1);
            h.free_or_abort(r, "test");
            assert_eq!(h.info().allocated_blocks, 0);
        }
    }

    /// recallocarray zeroes what it adds and what it gives up, and checks
    /// its sizes.
    pub fn recalloc_on_a_region() {
        let h = region();
        // SAFETY: every pointer is a live block of `h` when it is passed.
        unsafe {
            let p = NonNull::new(h.resize_c(null_mut(), 40, "test").unwrap()).unwrap();
            p.as_ptr().write_bytes(0xAA, 40);
            assert_eq!(h.recalloc_c(p, 1, usize::MAX, 2, "test"), Err(Errno::ENOMEM));
            assert_eq!(h.recalloc_c(p, 1000, 2000, 4, "test"), Err(Errno::EINVAL));
            // Shrink 10 -> 5 elements of 4 bytes: [20, 40) cleared first.
            let q = h.recalloc_c(p, 10, 5, 4, "test").unwrap();
            assert_eq!(q, p.as_ptr()); // shrinks in place
            assert_eq!(*q.add(19), 0xAA);
            assert_eq!(*q.add(20), 0);
            assert_eq!(*q.add(39), 0);
            // Grow 5 -> 100 elements: [20, 400) zeroed.
            let q = NonNull::new(q).unwrap();
            let r = h.recalloc_c(q, 5, 100, 4, "test").unwrap();
            assert_eq!(*r.add(19), 0xAA);
            assert!((20..400).all(|i| *r.add(i) == 0));
            h.free_or_abort(r, "test");
        }
    }

    /// Which alignments the C entry points accept, and what they become.
    pub fn alignment_rules() {
        let w = core::mem::size_of::<usize>();
        assert_eq!(align_c11(0), None);
        assert_eq!(align_c11(24), None);
        assert_eq!(align_c11(1), Some(ALIGN));
        assert_eq!(align_c11(4096), Some(4096));
        assert_eq!(align_posix(w / 2), None);
        assert_eq!(align_posix(w * 3), None);
        assert_eq!(align_posix(w), Some(ALIGN));
        assert_eq!(align_posix(64), Some(64));
        assert_eq!(align_memalign(0), Some(ALIGN));
        assert_eq!(align_memalign(24), Some(32));
        assert_eq!(align_memalign(100), Some(128));
        assert_eq!(align_memalign(usize::MAX), None);
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("heap::c_rules::alignment_rules", alignment_rules),
        ("heap::c_rules::realloc_rules_on_a_region", realloc_rules_on_a_region),
        ("heap::c_rules::recalloc_on_a_region", recalloc_on_a_region),
    ];
}
