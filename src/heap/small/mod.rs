//! The small memory model (NuttX's `CONFIG_SMALL_MEMORY`): a heap over
//! one region of at most 64 KiB ([`MAX_REGION`]) whose blocks carry
//! 4-byte headers, so that many small blocks fit (900 blocks of 8 bytes
//! in 16 KiB), and whose own state is a few hundred bytes.
//!
//! - `raw.rs`: the core ([`SmallRaw`], `&mut self`, no lock): allocation
//!   (first fit within segregated size classes), free with merging,
//!   resizing in place. `check.rs`: the integrity check, the figures, the
//!   walk and the dump.
//! - [`SmallHeap`] (here): the core behind a lock, with the caller's
//!   external lock around it (ESP-IDF's `multi_heap_set_lock`), placed at
//!   the start of its region by [`SmallHeap::init_in_place`].
//!
//! ```text
//! region: | SmallHeap | pad | hdr | payload ... | hdr | payload | ... | sentinel |
//!                             ^ base ≡ 4 (mod 8): every payload is 8-aligned
//! used block at h, size S (multiple of 8, >= 16):
//!   h      header (u32) = TAG << 16 | S | IN_USE | PREV_IN_USE?
//!   h+4    payload: S-4 bytes (its last word is the footer when free)
//! free block at h (never next to another free block):
//!   h      header = TAG << 16 | S | PREV_IN_USE
//!   h+4    next in its class list (u16 block index, 0 = end)
//!   h+6    previous (u16, 0 = head)
//!   h+S-4  footer = TAG << 16 | S
//! sentinel: TAG << 16 | IN_USE, after the last block.
//! ```
//!
//! `TAG` is 16 bits of the heap's tag (`secret.rs`): a header without it
//! is not this heap's block. As in the main core nothing is trusted before
//! it is checked: a pointer handed back must be 8-aligned in the area and
//! its header tagged and in use, with a next header that says so; a free
//! neighbour's header, size and footer must agree and its list links must
//! point back (checked unlink) before it is merged; a list link must name
//! a block of the area. Misuse comes back as a [`HeapError`]; damage met
//! during an allocation is reported (`rawrt: malloc(): corrupted free
//! list (links do not point back) at 0x...`) and aborts. Alignments
//! above 8 are served by leaving a free block before the payload.

mod check;
mod raw;
#[cfg(test)]
pub(crate) mod tests;

use core::alloc::Layout;
use core::ffi::c_void;
use core::fmt::Write;
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::error::HeapError;
use super::ext_lock::{ExtLock, ExtLockFn};
use super::info::HeapInfo;
use crate::sync::{Guard, Lock};

pub use check::Walked;
pub use raw::{
    SmallRaw, GRAIN as SMALL_ALIGN, HDR as SMALL_HDR, MAX_REGION, MIN_BLOCK as SMALL_MIN_BLOCK,
};

/// A small-model heap: a [`SmallRaw`] behind a lock, and the caller's
/// lock, if set, around it.
pub struct SmallHeap {
    raw: Lock<SmallRaw>,
    ext: ExtLock,
}

/// The locked core; releases both locks on drop.
struct Held<'a> {
    g: Guard<'a, SmallRaw>,
    heap: &'a SmallHeap,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.heap.ext.give();
    }
}

impl SmallHeap {
    /// A heap over `[ptr, ptr+len)`; `None` if the region is over
    /// [`MAX_REGION`] bytes or too small for a block.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else for as long as the heap is used.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Option<Self> {
        // SAFETY: forwarded contract.
        let raw = unsafe { SmallRaw::new(ptr, len) }?;
        Some(SmallHeap { raw: Lock::new(raw), ext: ExtLock::new() })
    }

    /// A heap whose state lives at the start of `[ptr, ptr+len)` and which
    /// manages the rest. `None` if the region is over [`MAX_REGION`] bytes
    /// or cannot hold the state and a block.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw); the heap lives as long as the
    /// region.
    pub unsafe fn init_in_place(ptr: *mut u8, len: usize) -> Option<&'static Self> {
        let start = super::block::up(ptr.addr(), core::mem::align_of::<Self>());
        let end = ptr.addr().checked_add(len)?;
        let rest = start.checked_add(core::mem::size_of::<Self>())?;
        if rest > end || len > MAX_REGION {
            return None;
        }
        // SAFETY: `[rest, end)` is ours and handed to the heap.
        let heap = unsafe { Self::from_raw(ptr.with_addr(rest), end - rest) }?;
        let at = ptr.with_addr(start).cast::<Self>();
        // SAFETY: `[start, rest)` is ours, aligned for `Self`.
        unsafe {
            at.write(heap);
            Some(&*at)
        }
    }

    /// The core, locked, for the operation `func`.
    fn hold(&self, func: &'static str) -> Held<'_> {
        self.ext.take();
        let mut g = self.raw.lock();
        g.set_op(func);
        Held { g, heap: self }
    }

    /// `size` bytes aligned to `align` (a power of two), zeroed if `zero`;
    /// `func` names the caller in reports. `None` when no free block fits.
    pub fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut h = self.hold(func);
        let a = h.g.alloc_checked(size, align)?;
        let p = h.g.ptr(a);
        if zero {
            // SAFETY: the block has at least `size` usable bytes.
            unsafe { p.write_bytes(0, size) };
        }
        NonNull::new(p)
    }

    /// Frees the block at `p` (null: nothing). Misuse (a pointer that is
    /// not a live block of this heap, a double free) and damage around the
    /// block change nothing and come back as the error.
    ///
    /// # Safety
    /// `p` is null or was handed out by this heap (anything else is
    /// detected if its header is not a tagged header of this heap).
    pub unsafe fn free(&self, p: *mut u8) -> Result<(), HeapError> {
        if p.is_null() {
            return Ok(());
        }
        self.hold("free").g.free(p.addr())
    }

    /// Frees as C's `free`: misuse is reported on stderr (`rawrt:
    /// FUNC(): double free of 0x...`) and aborts.
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    pub unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
        // SAFETY: forwarded contract.
        if let Err(e) = unsafe { self.free(p) } {
            super::misuse(func, e, p)
        }
    }

    /// Resizes the block at `p` to `size` bytes aligned to `align`: in
    /// place if it can, else moved (contents kept up to the smaller size).
    /// Out of memory leaves the block as it was.
    ///
    /// # Safety
    /// `p` was handed out by this heap and is live.
    pub unsafe fn realloc(
        &self,
        p: NonNull<u8>,
        size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let mut h = self.hold(func);
        let a = p.as_ptr().addr();
        if a % align.max(1) == 0 && h.g.resize(a, size)? {
            return Ok(p);
        }
        let old = h.g.usable(a)?;
        let q = h.g.alloc_checked(size, align).ok_or(HeapError::OutOfMemory)?;
        // SAFETY: two distinct live blocks of at least the copied length.
        unsafe { core::ptr::copy_nonoverlapping(p.as_ptr(), h.g.ptr(q), old.min(size)) };
        h.g.free(a)?;
        NonNull::new(h.g.ptr(q)).ok_or(HeapError::OutOfMemory)
    }

    /// The usable size of the block at `p`.
    pub fn usable_size(&self, p: *const u8) -> Result<usize, HeapError> {
        self.hold("malloc_usable_size").g.usable(p.addr())
    }

    /// The figures.
    pub fn info(&self) -> HeapInfo {
        self.hold("heap_info").g.info()
    }

    /// Checks every invariant, printing violations (`CORRUPT HEAP: ...`)
    /// to `out` if `print_errors`.
    pub fn check(&self, print_errors: bool, out: &mut dyn Write) -> bool {
        self.hold("check").g.check(print_errors.then_some(out))
    }

    /// Whether `p` is a block in use of this heap.
    pub fn check_addr(&self, p: *const u8) -> bool {
        self.hold("check").g.check_addr(p.addr())
    }

    /// Whether `p` lies in the heap's block area (the ownership test).
    pub fn holds(&self, p: *const u8) -> bool {
        let (lo, hi) = self.hold("check").g.area();
        (lo..hi).contains(&p.addr())
    }

    /// Calls `f` for every block (payload, usable bytes, in use) in
    /// address order; `Err` with the address of a header that is not a
    /// block's, where the walk stopped.
    pub fn walk(&self, f: &mut dyn FnMut(Walked)) -> Result<(), usize> {
        self.hold("walk").g.walk(f)
    }

    /// One line per block, then the figures.
    pub fn dump(&self, out: &mut dyn Write) -> core::fmt::Result {
        self.hold("dump").g.dump(out)
    }

    /// From now on every operation takes `lock` around the heap's own
    /// (ESP-IDF's `multi_heap_set_lock`); null: the heap's own alone.
    ///
    /// # Safety
    /// As for [`Heap::set_external_lock`](super::Heap::set_external_lock).
    pub unsafe fn set_external_lock(&self, lock: *mut c_void, take: ExtLockFn, give: ExtLockFn) {
        // SAFETY: forwarded contract.
        unsafe { self.ext.set(lock, take, give) }
    }
}

impl SmallRaw {
    /// [`alloc`](SmallRaw::alloc) with the alignment checked (a power of
    /// two, else `None`).
    fn alloc_checked(&mut self, size: usize, align: usize) -> Option<usize> {
        if !align.is_power_of_two() {
            return None;
        }
        self.alloc(size, align)
    }
}

/// What a failed resize through the allocator traits becomes: no memory
/// is an `AllocError`, misuse is reported and aborts.
fn refuse(func: &'static str, p: NonNull<u8>) -> impl Fn(HeapError) -> AllocError {
    move |e| match e {
        HeapError::OutOfMemory => AllocError,
        e => super::misuse(func, e, p.as_ptr()),
    }
}

// SAFETY: blocks come from the region, stay valid until freed, and never
// overlap; alignment is honoured by `allocate`.
unsafe impl Allocator for &SmallHeap {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = SmallHeap::allocate(self, layout.size(), layout.align(), false, "allocate")
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
        _old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller hands back a live block.
        let p = unsafe { self.realloc(ptr, new.size(), new.align(), "grow") }
            .map_err(refuse("grow", ptr))?;
        Ok(NonNull::slice_from_raw_parts(p, new.size()))
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        _old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: as above.
        let p = unsafe { self.realloc(ptr, new.size(), new.align(), "shrink") }
            .map_err(refuse("shrink", ptr))?;
        Ok(NonNull::slice_from_raw_parts(p, new.size()))
    }
}
