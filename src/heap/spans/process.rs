//! The process's small heap: one [`SpanHeap`] over the break and mappings
//! behind a lock, for the C ABI and Rust's global allocator of a program
//! built with the `small-heap` feature. [`SmallProcessHeap`] is its handle:
//! the heap [`Entry`] points (so [`CRules`](crate::heap::CRules) gives it
//! C's `realloc` rules) and [`GlobalAlloc`](core::alloc::GlobalAlloc).
//! Misuse and damage are reported on stderr and abort, as for the process
//! heap; a failed allocation is `None` (C: `ENOMEM`).

use core::alloc::Layout;
use core::ptr::NonNull;

use super::{SpanHeap, SpanStats};
use crate::heap::entry::Entry;
use crate::heap::error::HeapError;
use crate::heap::process::ProcessSource;
use crate::heap::traits::misuse;
use crate::sync::Lock;

/// The heap, in `.bss` until the first allocation.
static SMALL: Lock<SpanHeap<ProcessSource>> =
    Lock::new(SpanHeap::new(ProcessSource::new(crate::heap::os::LinuxOs)));

/// The process's small heap (feature `small-heap`): a zero-sized handle.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmallProcessHeap;

impl SmallProcessHeap {
    /// The heap's figures.
    pub fn stats(&self) -> SpanStats {
        SMALL.lock().stats()
    }

    /// The figures as glibc's `mallinfo2` gives them: `arena` the spans and
    /// mappings taken, `hblkhd` the mappings, `uordblks` the bytes in use,
    /// `fordblks` the rest of `arena`; no peak (`usmblks` 0, as glibc's).
    pub fn info(&self) -> crate::heap::MallInfo2 {
        let st = self.stats();
        let arena = st.spans * super::SPAN + st.mapped;
        crate::heap::MallInfo2 {
            arena,
            hblkhd: st.mapped,
            uordblks: st.used,
            fordblks: arena - st.used,
            ..Default::default()
        }
    }

    /// Gives the pages of every empty span back to the kernel; whether
    /// there were any (C's `malloc_trim`).
    pub fn trim(&self) -> bool {
        SMALL.lock().trim()
    }
}

/// `r`'s block, `None` when out of memory; misuse or damage is reported
/// under `func` and aborts.
#[inline(always)]
fn block(r: Result<NonNull<u8>, HeapError>, at: usize, func: &'static str) -> Option<NonNull<u8>> {
    match r {
        Ok(p) => Some(p),
        Err(HeapError::OutOfMemory) => None,
        Err(e) => misuse(func, e, at as *const u8),
    }
}

impl Entry for SmallProcessHeap {
    #[inline]
    fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut h = SMALL.lock();
        let r = match (align <= 16, zero) {
            (true, false) => h.alloc(size),
            (true, true) => h.alloc_zeroed(size),
            // A mapping is zero-filled.
            (false, _) => h.alloc_aligned(size, align),
        };
        let at = h.damage();
        block(r, at, func)
    }

    fn allocate_slow(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        self.allocate(size, align, zero, func)
    }

    unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
        if p.is_null() {
            return;
        }
        let r = SMALL.lock().free(p);
        if let Err(e) = r {
            misuse(func, e, p)
        }
    }

    unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let p = ptr.as_ptr().addr();
        let mut h = SMALL.lock();
        let r = if align <= 16 {
            h.realloc(ptr, new_size)
        } else {
            h.realloc_aligned(ptr, new_size, align)
        };
        match r {
            Ok(q) => Ok(q),
            Err(HeapError::OutOfMemory) => Err(HeapError::OutOfMemory),
            Err(e) => {
                let at = if matches!(e, HeapError::Corrupted(_)) { h.damage() } else { p };
                misuse(func, e, at as *const u8)
            }
        }
    }

    unsafe fn usable_size(&self, ptr: *const u8) -> Result<usize, HeapError> {
        SMALL.lock().usable(ptr)
    }
}

// SAFETY: blocks are as `Layout` asks (alignments above 16 are mapped);
// failure is a null return.
unsafe impl core::alloc::GlobalAlloc for SmallProcessHeap {
    crate::heap::traits::global_alloc_by_entry!();
}
