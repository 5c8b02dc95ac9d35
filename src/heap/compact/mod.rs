//! The compact core: region heaps whose own state is a few hundred bytes
//! plus a table of list heads sized to the region, in two block formats
//! (`format.rs`):
//!
//! - [`SmallHeap`]: NuttX's small memory model (`CONFIG_SMALL_MEMORY`),
//!   for a region of at most 64 KiB: 4-byte headers, 8-byte alignment,
//!   16-bit links, so that many small blocks fit (900 blocks of 8 bytes
//!   in 16 KiB).
//! - [`WideHeap`]: for larger regions: word headers, 16-byte alignment,
//!   links that are addresses, and up to eight areas (NuttX's
//!   `mm_addregion`).
//!
//! `raw.rs` holds the core ([`Compact`], `&mut self`, no lock):
//! allocation (first fit within segregated size classes, four per power
//! of two), free with merging, resizing in place, more areas. `check.rs`:
//! the integrity check, the figures, the walk and the dump. Here:
//! [`CompactHeap`], the core behind a lock with the caller's external lock
//! around it (ESP-IDF's `multi_heap_set_lock`), placed at the start of its
//! region by [`CompactHeap::init_in_place`].
//!
//! ```text
//! region: | CompactHeap | heads table | pad | hdr | payload | hdr | ... | sentinel |
//!                                           ^ base ≡ HDR (mod GRAIN): payloads aligned
//! used block at h, size S (a multiple of GRAIN, >= MIN_BLOCK):
//!   h          header = TAG | S | IN_USE | PREV_IN_USE?
//!   h+HDR      payload: S-HDR bytes (its last HDR bytes are the footer when free)
//! free block at h (never next to another free block):
//!   h          header = TAG | S | PREV_IN_USE
//!   h+HDR      next in its class list (0 = end)
//!   h+HDR+LINK previous (0 = head)
//!   h+S-HDR    footer = TAG | S
//! sentinel: TAG | IN_USE (size 0), after each area's last block.
//!
//!            HDR  GRAIN  LINK                       MIN_BLOCK  TAG
//! Small       4     8     2 (block index from base)    16      bits 16..32
//! Wide        8    16     8 (address)                  32      bits 48..64
//! ```
//!
//! `TAG` is 16 bits of the heap's tag (`secret.rs`): a header without it
//! is not this heap's block. As in the main core nothing is trusted before
//! it is checked: a pointer handed back must be aligned in an area and its
//! header tagged and in use, with a next header that says so; a free
//! neighbour's header, size and footer must agree and its list links must
//! point back (checked unlink) before it is merged; a list link must name
//! a block of an area. Misuse comes back as a [`HeapError`]; damage met
//! during an allocation is reported (`rawrt: malloc(): corrupted free
//! list (links do not point back) at 0x...`) and aborts. Alignments above
//! the format's are served by leaving a free block before the payload.
//!
//! A heap made while heap poisoning is on (`RAWRT_HEAP_POISONING`) is
//! poisoned for its life (`poison.rs`: canaries around every block, and
//! in comprehensive mode fills verified on reuse and by the check);
//! [`CompactHeap::from_raw_poisoned`] chooses for one heap.

mod check;
mod format;
mod poison;
mod raw;
mod svg;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
pub(crate) mod tests_poison;

use core::alloc::Layout;
use core::ffi::c_void;
use core::fmt::Write;
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::entry::Entry;
use super::error::HeapError;
use super::ext_lock::{ExtLock, ExtLockFn};
use super::info::HeapInfo;
use super::poison::Poisoning;
use crate::rt::valgrind;
use crate::sync::{Guard, Lock};

pub use format::{Area, Format, Small, Wide};
pub use raw::Compact;

/// A heap of NuttX's small memory model (at most 64 KiB).
pub type SmallHeap = CompactHeap<Small>;
/// A compact heap for larger regions.
pub type WideHeap = CompactHeap<Wide>;

/// A compact heap: a [`Compact`] behind a lock, and the caller's lock,
/// if set, around it.
pub struct CompactHeap<F: Format> {
    raw: Lock<Compact<F>>,
    ext: ExtLock,
    /// Its poisoning for life (`poison.rs`): 0 off, 1 light, 2
    /// comprehensive. (A byte in what was the struct's padding: the
    /// state costs its region no more.)
    poison: u8,
}

/// The locked core; releases both locks on drop. Held
/// [`quietly`](CompactHeap::hold_quietly), Valgrind's Memcheck reports
/// nothing meanwhile: the heap reads and writes its headers and links in
/// memory Memcheck holds inaccessible to the program.
struct Held<'a, F: Format> {
    g: Guard<'a, Compact<F>>,
    heap: &'a CompactHeap<F>,
    _quiet: valgrind::Quiet,
}

impl<F: Format> Drop for Held<'_, F> {
    fn drop(&mut self) {
        self.heap.ext.give();
    }
}

impl<F: Format> CompactHeap<F> {
    /// A heap over `[ptr, ptr+len)` (its list heads at the start); `None`
    /// if the region is over [`Format::MAX_AREA`] bytes or too small for
    /// a block.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else for as long as the heap is used.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Option<Self> {
        // SAFETY: forwarded contract.
        unsafe { Self::from_raw_poisoned(ptr, len, super::poison::for_new_heap()) }
    }

    /// [`from_raw`](Self::from_raw) with poisoning `mode` for the heap's
    /// life, whatever the process's mode.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw).
    pub unsafe fn from_raw_poisoned(ptr: *mut u8, len: usize, mode: Poisoning) -> Option<Self> {
        // SAFETY: forwarded contract.
        let mut raw = unsafe { Compact::new(ptr, len) }?;
        let poison = match mode {
            Poisoning::Off => 0,
            Poisoning::Light => 1,
            Poisoning::Comprehensive => 2,
        };
        if poison == 2 {
            raw.fill_area(0);
        }
        // Under Valgrind the heap's memory is a Memcheck pool, named by its
        // first block's address (which no move of the heap changes): only
        // the blocks handed out are accessible to the program.
        if let Some(a) = raw.areas().first() {
            valgrind::create_pool(a.base, ptr.with_addr(a.base), a.sent + F::HDR - a.base);
        }
        Some(CompactHeap { raw: Lock::new(raw), ext: ExtLock::new(), poison })
    }

    /// The heap's name as a Memcheck pool (see [`from_raw`](Self::from_raw)).
    fn pool(g: &Compact<F>) -> usize {
        g.areas().first().map_or(0, |a| a.base)
    }

    /// A heap whose state lives at the start of `[ptr, ptr+len)` and which
    /// manages the rest. `None` if the region is over
    /// [`Format::MAX_AREA`] bytes or cannot hold the state and a block.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw); the heap lives as long as the
    /// region.
    pub unsafe fn init_in_place(ptr: *mut u8, len: usize) -> Option<&'static Self> {
        // SAFETY: forwarded contract.
        unsafe { Self::init_in_place_poisoned(ptr, len, super::poison::for_new_heap()) }
    }

    /// [`init_in_place`](Self::init_in_place) with poisoning `mode` for the
    /// heap's life.
    ///
    /// # Safety
    /// As for [`init_in_place`](Self::init_in_place).
    pub unsafe fn init_in_place_poisoned(
        ptr: *mut u8,
        len: usize,
        mode: Poisoning,
    ) -> Option<&'static Self> {
        let start = super::block::up(ptr.addr(), core::mem::align_of::<Self>());
        let end = ptr.addr().checked_add(len)?;
        let rest = start.checked_add(core::mem::size_of::<Self>())?;
        if rest > end || len > F::MAX_AREA {
            return None;
        }
        // SAFETY: `[rest, end)` is ours and handed to the heap.
        let heap = unsafe { Self::from_raw_poisoned(ptr.with_addr(rest), end - rest, mode) }?;
        let at = ptr.with_addr(start).cast::<Self>();
        // SAFETY: `[start, rest)` is ours, aligned for `Self`.
        unsafe {
            at.write(heap);
            Some(&*at)
        }
    }

    /// Adds `[ptr, ptr+len)` to the heap (NuttX's `mm_addregion`); false
    /// if the format holds no more areas (a small heap holds one), the
    /// region is too small or too big, or overlaps the heap's. (Under
    /// Miri, which checks strict provenance, the heap forms every pointer
    /// from its first region's: that provenance must cover this region
    /// too. Natively the heap reaches every area through exposed
    /// provenance.)
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw).
    pub unsafe fn add_region(&self, ptr: *mut u8, len: usize) -> bool {
        let mut h = self.hold_quietly("mm_addregion");
        // SAFETY: forwarded contract.
        let added = unsafe { h.g.add_area(ptr, len) };
        if added {
            if self.poison == 2 {
                let last = h.g.areas().len() - 1;
                h.g.fill_area(last);
            }
            if let Some(a) = h.g.areas().last() {
                valgrind::make_noaccess(ptr.with_addr(a.base), a.sent + F::HDR - a.base);
            }
        }
        added
    }

    /// The core, locked, for the operation `func` (Memcheck's reports left
    /// as they are: for the paths that run natively only).
    #[inline(always)]
    fn hold(&self, func: &'static str) -> Held<'_, F> {
        self.ext.take();
        let mut g = self.raw.lock();
        g.set_op(func);
        Held { g, heap: self, _quiet: valgrind::Quiet::OFF }
    }

    /// [`hold`](Self::hold) with Memcheck's reports off while it is held
    /// (for every path that may run under Memcheck, see [`Held`]).
    fn hold_quietly(&self, func: &'static str) -> Held<'_, F> {
        let mut h = self.hold(func);
        h._quiet = valgrind::Quiet::new();
        h
    }

    /// `size` bytes aligned to `align` (a power of two; the format's
    /// alignment at least), zeroed if `zero`; `func` names the caller in
    /// reports. `None` when no free block fits.
    pub fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if !align.is_power_of_two() {
            return None;
        }
        if self.poison != 0 {
            return self.allocate_poisoned(size, align, zero, func);
        }
        if valgrind::running() {
            return self.allocate_announced(size, align, zero, func);
        }
        let mut h = self.hold(func);
        let a = h.g.alloc(size, align)?;
        let p = h.g.ptr(a);
        if zero {
            // SAFETY: the block has at least `size` usable bytes.
            unsafe { p.write_bytes(0, size) };
        }
        NonNull::new(p)
    }

    /// [`allocate`](Self::allocate) under Memcheck: quietly, then the block
    /// announced (its `size` bytes accessible, undefined unless `zero`).
    #[cold]
    #[inline(never)]
    fn allocate_announced(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut h = self.hold_quietly(func);
        let a = h.g.alloc(size, align)?;
        let p = h.g.ptr(a);
        valgrind::pool_alloc(Self::pool(&h.g), p, size);
        if zero {
            // SAFETY: the block has at least `size` usable bytes.
            unsafe { p.write_bytes(0, size) };
        }
        NonNull::new(p)
    }

    /// Frees the block at `p`. Misuse (a pointer that is not a live block
    /// of this heap, a double free) and damage around the block change
    /// nothing and come back as the error.
    ///
    /// # Safety
    /// `p` was handed out by this heap (anything else is detected unless
    /// it points just past a tagged header of this heap).
    pub unsafe fn dealloc(&self, p: NonNull<u8>) -> Result<(), HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.dealloc_as(p, "free") }
    }

    /// [`dealloc`](Self::dealloc), damage a poisoned heap finds reported
    /// under `func`.
    ///
    /// # Safety
    /// As for [`dealloc`](Self::dealloc).
    #[inline(always)]
    unsafe fn dealloc_as(&self, p: NonNull<u8>, func: &'static str) -> Result<(), HeapError> {
        if self.poison != 0 {
            return self.dealloc_poisoned(p, func);
        }
        if valgrind::running() {
            // SAFETY: forwarded contract.
            return unsafe { self.dealloc_announced(p) };
        }
        self.hold("free").g.free(p.as_ptr().addr())
    }

    /// [`dealloc`](Self::dealloc) under Memcheck: quietly, then the block
    /// announced as freed (any later access reported).
    ///
    /// # Safety
    /// As for [`dealloc`](Self::dealloc).
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_announced(&self, p: NonNull<u8>) -> Result<(), HeapError> {
        let mut h = self.hold_quietly("free");
        h.g.free(p.as_ptr().addr())?;
        valgrind::pool_free(Self::pool(&h.g), p.as_ptr());
        Ok(())
    }

    /// Frees as C's `free`: null does nothing, misuse is reported on
    /// stderr (`rawrt: FUNC(): double free of 0x...`) and aborts.
    ///
    /// # Safety
    /// As for [`dealloc`](Self::dealloc).
    pub unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
        if let Some(nn) = NonNull::new(p) {
            // SAFETY: forwarded contract.
            if let Err(e) = unsafe { self.dealloc_as(nn, func) } {
                super::misuse(func, e, p)
            }
        }
    }

    /// Resizes the block at `p` to `size` bytes aligned to `align`: in
    /// place if it can, else moved (contents kept up to the smaller size).
    /// Out of memory leaves the block as it was.
    ///
    /// # Safety
    /// `p` was handed out by this heap and is live.
    pub unsafe fn reallocate(
        &self,
        p: NonNull<u8>,
        size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        if !align.is_power_of_two() {
            return Err(HeapError::OutOfMemory);
        }
        if self.poison != 0 {
            return self.reallocate_poisoned(p, size, align, func);
        }
        // Under Memcheck a resize always moves (as Memcheck's own realloc
        // does), so that it knows every byte of the new block.
        let vg = valgrind::running();
        let mut h = if vg { self.hold_quietly(func) } else { self.hold(func) };
        let a = p.as_ptr().addr();
        if a % align == 0 && !vg && h.g.resize(a, size)? {
            return Ok(p);
        }
        let old = h.g.usable(a)?;
        let q = h.g.alloc(size, align).ok_or(HeapError::OutOfMemory)?;
        let pool = Self::pool(&h.g);
        valgrind::pool_alloc(pool, h.g.ptr(q), size);
        // SAFETY: two distinct live blocks of at least the copied length.
        unsafe { core::ptr::copy_nonoverlapping(p.as_ptr(), h.g.ptr(q), old.min(size)) };
        h.g.free(a)?;
        valgrind::pool_free(pool, p.as_ptr());
        NonNull::new(h.g.ptr(q)).ok_or(HeapError::OutOfMemory)
    }

    /// The usable size of the block at `p`.
    pub fn usable_size(&self, p: *const u8) -> Result<usize, HeapError> {
        let h = self.hold_quietly("malloc_usable_size");
        if self.poison != 0 {
            return h.g.usable_poisoned(p.addr());
        }
        h.g.usable(p.addr())
    }

    /// The figures (poisoned: as `poison.rs` says).
    pub fn info(&self) -> HeapInfo {
        let h = self.hold_quietly("heap_info");
        if self.poison != 0 {
            return h.g.info_poisoned();
        }
        h.g.info()
    }

    /// Sets the low-water mark of the free bytes (at most the free bytes).
    pub fn set_minimum_free(&self, v: usize) {
        self.hold_quietly("heap_info").g.set_minimum_free(v)
    }

    /// Checks every invariant, printing violations (`CORRUPT HEAP: ...`)
    /// to `out` if `print_errors`.
    /// A poisoned heap also checks its canaries and (comprehensive) the
    /// fill of its free blocks, printing each damaged block as
    /// `rawrt: check(): canary corrupted after block 0x...`.
    pub fn check(&self, print_errors: bool, out: &mut dyn Write) -> bool {
        let h = self.hold_quietly("check");
        let ok = h.g.check(print_errors.then_some(&mut *out));
        if self.poison == 0 {
            return ok;
        }
        h.g.check_poisoned(self.poison == 2, print_errors.then_some(out)) && ok
    }

    /// Whether `p` is a block in use of this heap.
    pub fn check_addr(&self, p: *const u8) -> bool {
        let h = self.hold_quietly("check");
        if self.poison != 0 {
            return h.g.usable_poisoned(p.addr()).is_ok();
        }
        h.g.check_addr(p.addr())
    }

    /// Whether `p` lies in one of the heap's areas (the ownership test).
    pub fn holds(&self, p: *const u8) -> bool {
        self.hold_quietly("check").g.area_of(p.addr()).is_some()
    }

    /// Calls `f(area span, payload, usable bytes, in use)` for every block
    /// in address order until it returns false; `Err` with the address of
    /// a header that is not a block's, where the walk stopped.
    pub fn walk_blocks(
        &self,
        f: &mut dyn FnMut((usize, usize), usize, usize, bool) -> bool,
    ) -> Result<(), usize> {
        self.hold_quietly("walk").g.walk(f)
    }

    /// One line per block, then the figures.
    pub fn dump(&self, out: &mut dyn Write) -> core::fmt::Result {
        self.hold_quietly("dump").g.dump(out)
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

impl<F: Format> Entry for CompactHeap<F> {
    fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        CompactHeap::allocate(self, size, align, zero, func)
    }
    fn allocate_slow(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        CompactHeap::allocate(self, size, align, zero, func)
    }
    unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
        // SAFETY: forwarded contract.
        unsafe { CompactHeap::free_or_abort(self, p, func) }
    }
    unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        // SAFETY: forwarded contract.
        unsafe { CompactHeap::reallocate(self, ptr, new_size, align, func) }
    }
    unsafe fn usable_size(&self, ptr: *const u8) -> Result<usize, HeapError> {
        CompactHeap::usable_size(self, ptr)
    }
}

impl<F: Format> CompactHeap<F> {
    /// The allocator traits' `grow` and `shrink` (`func`): the block at
    /// `ptr` resized for `new`; no memory is an `AllocError`, misuse is
    /// reported and aborts.
    ///
    /// # Safety
    /// `ptr` is a live block of this heap.
    unsafe fn resize_for(
        &self,
        ptr: NonNull<u8>,
        new: Layout,
        func: &'static str,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        match unsafe { self.reallocate(ptr, new.size(), new.align(), func) } {
            Ok(p) => Ok(NonNull::slice_from_raw_parts(p, new.size())),
            Err(HeapError::OutOfMemory) => Err(AllocError),
            Err(e) => super::misuse(func, e, ptr.as_ptr()),
        }
    }
}

// SAFETY: blocks come from the heap's areas, stay valid until freed, and
// never overlap; alignment is honoured by `allocate`.
unsafe impl<F: Format> Allocator for &CompactHeap<F> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = CompactHeap::allocate(self, layout.size(), layout.align(), false, "allocate")
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
        unsafe { self.resize_for(ptr, new, "grow") }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        _old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: as above.
        unsafe { self.resize_for(ptr, new, "shrink") }
    }
}
