//! The Rust face of the capabilities, re-exported as `rawrt::caps`:
//! [`Caps`] (a bit set with ESP-IDF's values), [`alloc`] and [`dealloc`]
//! by [`Layout`], and [`CapsAlloc`], an `allocator_api2` allocator for
//! memory with given capabilities:
//!
//! ```ignore
//! let mut buf = allocator_api2::vec::Vec::with_capacity_in(4096, CapsAlloc(Caps::DMA));
//! ```
//!
//! Executable memory is read-only where it is handed out: a
//! `Vec::new_in(CapsAlloc(Caps::EXEC))` can hold it, but its bytes are
//! written through [`exec_writable`] (and made visible to instruction
//! fetches with [`exec_sync`]), never through the `Vec`.

use core::alloc::Layout;
use core::ops::{BitAnd, BitOr, BitOrAssign};
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::*;

/// A set of memory capabilities (ESP-IDF's `MALLOC_CAP_*` bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Caps(pub u32);

impl Caps {
    /// Executable memory ([`MALLOC_CAP_EXEC`]).
    pub const EXEC: Caps = Caps(MALLOC_CAP_EXEC);
    /// Memory for 32-bit accesses.
    pub const BIT32: Caps = Caps(MALLOC_CAP_32BIT);
    /// Byte-addressable memory.
    pub const BIT8: Caps = Caps(MALLOC_CAP_8BIT);
    /// Locked, prefaulted memory ([`MALLOC_CAP_DMA`]).
    pub const DMA: Caps = Caps(MALLOC_CAP_DMA);
    /// Large, lazily committed memory ([`MALLOC_CAP_SPIRAM`]).
    pub const SPIRAM: Caps = Caps(MALLOC_CAP_SPIRAM);
    /// Internal memory.
    pub const INTERNAL: Caps = Caps(MALLOC_CAP_INTERNAL);
    /// What `malloc` returns.
    pub const DEFAULT: Caps = Caps(MALLOC_CAP_DEFAULT);
    /// Only registered regions have it.
    pub const RETENTION: Caps = Caps(MALLOC_CAP_RETENTION);
    /// Only registered regions have it.
    pub const RTCRAM: Caps = Caps(MALLOC_CAP_RTCRAM);
    /// Never served.
    pub const INVALID: Caps = Caps(MALLOC_CAP_INVALID);

    /// The empty set (served as [`Caps::DEFAULT`]).
    pub const fn empty() -> Caps {
        Caps(0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every capability of `other` is in `self`.
    pub const fn contains(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Caps {
    type Output = Caps;
    fn bitor(self, o: Caps) -> Caps {
        Caps(self.0 | o.0)
    }
}

impl BitOrAssign for Caps {
    fn bitor_assign(&mut self, o: Caps) {
        self.0 |= o.0;
    }
}

impl BitAnd for Caps {
    type Output = Caps;
    fn bitand(self, o: Caps) -> Caps {
        Caps(self.0 & o.0)
    }
}

/// A block for `layout` with `caps`, from the first heap in priority order
/// that has them (the rules of [`heap::caps`](super)); `None` when no heap
/// with them has room. The failed-allocation hook runs, as for
/// `heap_caps_malloc`.
pub fn alloc(layout: Layout, caps: Caps) -> Option<NonNull<u8>> {
    super::alloc(layout.size(), layout.align().max(ALIGN), false, caps.0, "caps::alloc")
}

/// As [`alloc`], zeroed.
pub fn alloc_zeroed(layout: Layout, caps: Caps) -> Option<NonNull<u8>> {
    super::alloc(layout.size(), layout.align().max(ALIGN), true, caps.0, "caps::alloc_zeroed")
}

/// Frees a block of any heap (misuse is reported and aborts).
///
/// # Safety
/// `p` is a live block of a heap; nothing may use it afterwards.
pub unsafe fn dealloc(p: NonNull<u8>) {
    // SAFETY: the caller's contract.
    unsafe { free(p.as_ptr(), "caps::dealloc") }
}

/// An allocator of memory with the capabilities it holds:
/// `Vec::new_in(CapsAlloc(Caps::DMA))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapsAlloc(pub Caps);

// SAFETY: blocks come from the heaps with at least the layout's size and
// alignment and stay valid until freed; any heap's block may be freed
// through any `CapsAlloc` (free finds the owner by address).
unsafe impl Allocator for CapsAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = alloc(layout, self.0).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = alloc_zeroed(layout, self.0).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: the caller hands back a block from `allocate`.
        unsafe { dealloc(ptr) }
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

impl CapsAlloc {
    /// `grow` and `shrink`: `heap_caps_realloc` when the alignment is the
    /// heaps' own, else a new block, a copy and a free.
    ///
    /// # Safety
    /// `ptr` is a live block with layout `old`.
    unsafe fn resize(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let q = if new.align() <= ALIGN && new.size() > 0 {
            // SAFETY: the caller's contract.
            let q = unsafe { realloc(ptr.as_ptr(), new.size(), self.0 .0, "caps::realloc") };
            NonNull::new(q.map_err(|_| AllocError)?).ok_or(AllocError)?
        } else {
            let q = alloc(new, self.0).ok_or(AllocError)?;
            // SAFETY: distinct live blocks of at least the bytes copied.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    ptr.as_ptr(),
                    q.as_ptr(),
                    old.size().min(new.size()),
                );
                dealloc(ptr);
            }
            q
        };
        Ok(NonNull::slice_from_raw_parts(q, new.size()))
    }
}

pub use super::{exec_sync, exec_writable};
