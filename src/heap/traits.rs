//! The Rust allocator traits for [`Heap`]: `allocator_api2`'s
//! `Allocator` for `&Heap` and `GlobalAlloc`, plus the misuse report
//! for the interfaces that cannot return an error.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::entry::Entry;
use super::error::HeapError;
use super::heap::Heap;
use super::source::Source;

// SAFETY: blocks come from the heap with at least the layout's size and
// alignment, and stay valid until freed.
unsafe impl<S: Source + Send> Allocator for &Heap<S> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = Heap::allocate(self, layout.size(), layout.align(), false, "allocate")
            .ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = Heap::allocate(self, layout.size(), layout.align(), true, "allocate_zeroed")
            .ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: the caller hands back a block from `allocate`.
        unsafe { self.free_or_abort(ptr.as_ptr(), "deallocate") }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller hands back a live block of layout `old`.
        unsafe { self.resize(ptr, old, new) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: as for `grow`.
        unsafe { self.resize(ptr, old, new) }
    }
}

impl<S: Source + Send> Heap<S> {
    /// `Allocator::grow`/`shrink`: realloc when the alignment is kept.
    ///
    /// # Safety
    /// `ptr` must be a live block of this heap with layout `old`.
    unsafe fn resize(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if new.align() > old.align() && ptr.as_ptr() as usize % new.align() != 0 {
            let p = self.alloc(new).ok_or(AllocError)?;
            // SAFETY: distinct live blocks; the smaller size is copied.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    ptr.as_ptr(),
                    p.as_ptr(),
                    old.size().min(new.size()),
                );
                self.free_or_abort(ptr.as_ptr(), "deallocate");
            }
            return Ok(NonNull::slice_from_raw_parts(p, new.size()));
        }
        // SAFETY: the caller hands back a live block.
        match unsafe { self.reallocate(ptr, new.size(), old.align().max(new.align()), "realloc") } {
            Ok(p) => Ok(NonNull::slice_from_raw_parts(p, new.size())),
            Err(HeapError::OutOfMemory) => Err(AllocError),
            Err(e) => misuse("realloc", e, ptr.as_ptr()),
        }
    }
}

/// Implements `GlobalAlloc` over the type's [`Entry`] points.
macro_rules! global_alloc_by_entry {
    () => {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            Entry::allocate(self, layout.size(), layout.align(), false, "alloc")
                .map_or(core::ptr::null_mut(), |p| p.as_ptr())
        }

        #[inline]
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            Entry::allocate(self, layout.size(), layout.align(), true, "alloc_zeroed")
                .map_or(core::ptr::null_mut(), |p| p.as_ptr())
        }

        #[inline]
        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            // SAFETY: Rust hands back a live block.
            unsafe { Entry::free_or_abort(self, ptr, "dealloc") }
        }

        #[inline]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let Some(p) = NonNull::new(ptr) else { return core::ptr::null_mut() };
            // SAFETY: Rust hands back a live block of `layout`.
            match unsafe { Entry::reallocate(self, p, new_size, layout.align(), "realloc") } {
                Ok(p) => p.as_ptr(),
                Err(HeapError::OutOfMemory) => core::ptr::null_mut(),
                Err(e) => misuse("realloc", e, ptr),
            }
        }
    };
}
pub(crate) use global_alloc_by_entry;

// SAFETY: as for `Allocator`; a null return reports failure.
unsafe impl<S: Source + Send> GlobalAlloc for Heap<S> {
    global_alloc_by_entry!();
}

/// Reports a misuse detected behind an interface that cannot return an
/// error (`rawrt: dealloc(): double free of 0x...` on stderr), or damage
/// found at a block (`rawrt: malloc(): corrupted free list (...) at
/// 0x...`), and aborts (SIGABRT).
#[cold]
pub fn misuse(func: &str, err: HeapError, ptr: *const u8) -> ! {
    let sep = if matches!(err, HeapError::Corrupted(_)) { "at" } else { "of" };
    #[cfg(miri)]
    panic!("rawrt: {func}(): {err} {sep} {:#x}", ptr.addr());
    #[cfg(not(miri))]
    match sep {
        "at" => crate::rt::fatal_at(func, err.message(), ptr.addr()),
        _ => crate::rt::fatal(func, err.message(), ptr.addr()),
    }
}

/// A zero-sized handle to [`process()`](super::process), for
/// `#[global_allocator] static A: ProcessHeap = ProcessHeap;` so that Rust
/// and the C ABI share one process heap.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessHeap;

// SAFETY: forwards to the process heap, as for `Heap`.
unsafe impl GlobalAlloc for ProcessHeap {
    global_alloc_by_entry!();
}
