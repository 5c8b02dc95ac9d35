//! [`Heap`]: a [`RawHeap`] behind its own lock, with the failed-allocation
//! callback; the Rust allocator traits are in `traits`.

use core::alloc::Layout;
use core::fmt::Write;
use core::ptr::NonNull;

use super::error::HeapError;
use super::info::HeapInfo;
use super::raw::{FailedAllocFn, RawHeap};
use super::source::{RegionSource, Source};
use crate::sync::{Guard, Lock};

/// A locked heap over a source.
pub struct Heap<S: Source> {
    raw: Lock<RawHeap<S>>,
}

impl<S: Source> Heap<S> {
    /// A heap that asks `source` for memory on first use.
    pub const fn with_source(source: S) -> Self {
        Heap { raw: Lock::new(RawHeap::new(source)) }
    }

    /// The locked core, for several operations under one lock. Nothing
    /// that allocates from this heap may run while the guard lives.
    pub fn lock(&self) -> Guard<'_, RawHeap<S>> {
        self.raw.lock()
    }

    /// `size` bytes aligned to `align`, zeroed if `zero`; `func` names the
    /// caller (`"malloc"`, `"calloc"`, ...) for the failed-allocation
    /// callback, which runs after the lock is released.
    #[inline]
    pub fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut g = self.raw.lock();
        let p = if zero { g.alloc_zeroed(size, align) } else { g.alloc(size, align) };
        if p.is_none() {
            let cb = g.failed_alloc_callback();
            drop(g);
            if let Some(cb) = cb {
                cb(size, align, func);
            }
        }
        p
    }

    /// Allocates for `layout` (callback name `"alloc"`).
    #[inline]
    pub fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        self.allocate(layout.size(), layout.align(), false, "alloc")
    }

    /// Allocates zeroed memory for `layout` (callback name `"alloc_zeroed"`).
    #[inline]
    pub fn alloc_zeroed(&self, layout: Layout) -> Option<NonNull<u8>> {
        self.allocate(layout.size(), layout.align(), true, "alloc_zeroed")
    }

    /// Frees the block at `ptr`.
    ///
    /// # Safety
    /// If `ptr` is a live block of this heap, nothing may use it
    /// afterwards. Misaligned, foreign and just-freed pointers are
    /// reported as errors; other stray pointers are caught by header
    /// checks as far as possible.
    #[inline]
    pub unsafe fn dealloc(&self, ptr: NonNull<u8>) -> Result<(), HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.raw.lock().free(ptr.as_ptr()) }
    }

    /// Resizes the block at `ptr` (allocated with alignment `align`) to
    /// `new_size` bytes; `func` names the caller for the callback. On
    /// `Err` the block is left as it was.
    ///
    /// # Safety
    /// As for [`dealloc`](Self::dealloc) when the block moves.
    pub unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let mut g = self.raw.lock();
        // SAFETY: forwarded contract.
        let r = unsafe { g.realloc(ptr.as_ptr(), new_size, align) };
        if r == Err(HeapError::OutOfMemory) {
            let cb = g.failed_alloc_callback();
            drop(g);
            if let Some(cb) = cb {
                cb(new_size, align, func);
            }
        }
        r
    }

    /// Resizes for `layout`'s alignment (callback name `"realloc"`).
    ///
    /// # Safety
    /// As for [`reallocate`](Self::reallocate).
    pub unsafe fn realloc(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Result<NonNull<u8>, HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.reallocate(ptr, new_size, layout.align(), "realloc") }
    }

    /// The usable size of the block at `ptr`.
    ///
    /// # Safety
    /// `ptr` should be a block of this heap; others are rejected as by
    /// [`dealloc`](Self::dealloc).
    pub unsafe fn usable_size(&self, ptr: *const u8) -> Result<usize, HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.raw.lock().usable_size(ptr) }
    }

    /// The heap's figures.
    pub fn info(&self) -> HeapInfo {
        self.raw.lock().info()
    }

    /// Checks every invariant, printing violations to `out` if asked.
    /// `out` must not allocate from this heap.
    pub fn check(&self, print_errors: bool, out: &mut dyn Write) -> bool {
        self.raw.lock().check(print_errors, out)
    }

    /// Whether `ptr` lies in this heap and the heap is intact.
    pub fn check_addr(&self, ptr: *const u8) -> bool {
        let mut g = self.raw.lock();
        g.owns(ptr) && g.check(false, &mut NoWrite)
    }

    /// Prints every block and a summary. `out` must not allocate from
    /// this heap.
    pub fn dump(&self, out: &mut dyn Write) -> core::fmt::Result {
        self.raw.lock().dump(out)
    }

    /// Gives back free memory beyond `pad` bytes of top; see [`RawHeap::trim`].
    pub fn trim(&self, pad: usize) -> bool {
        self.raw.lock().trim(pad)
    }

    /// Requests of at least `n` bytes get their own mapping.
    pub fn set_mmap_threshold(&self, n: usize) {
        self.raw.lock().set_mmap_threshold(n)
    }

    /// A free top bigger than `n` bytes is given back.
    pub fn set_trim_threshold(&self, n: usize) {
        self.raw.lock().set_trim_threshold(n)
    }

    /// Parks at most `cap` freed small blocks per size (0: none).
    pub fn set_quick_cap(&self, cap: u16) {
        self.raw.lock().set_quick_cap(cap)
    }

    /// Registers (or clears) the failed-allocation callback.
    pub fn set_failed_alloc_callback(&self, f: Option<FailedAllocFn>) {
        self.raw.lock().set_failed_alloc_callback(f)
    }
}

struct NoWrite;
impl Write for NoWrite {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

impl Heap<RegionSource> {
    /// A heap over `region`. A region too small for any block gives a heap
    /// in which every allocation fails.
    pub fn new_in(region: &'static mut [u8]) -> Self {
        // SAFETY: the region is borrowed exclusively forever.
        unsafe { Self::from_raw(region.as_mut_ptr(), region.len()) }
    }

    /// A heap over `[ptr, ptr+len)`.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else for as long as the heap is used.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Self {
        // SAFETY: forwarded contract.
        let mut raw = RawHeap::new(unsafe { RegionSource::new(ptr as usize, len) });
        raw.set_trim_threshold(usize::MAX); // a region cannot be given back
        raw.set_quick_cap(0); // keeps largest_free_block exact (see `quick`)
        raw.init();
        Heap { raw: Lock::new(raw) }
    }

    /// Adds `[ptr, ptr+len)` to the heap (NuttX's `mm_addregion`); false if
    /// the region is too small or the heap holds too many segments.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw).
    pub unsafe fn add_region(&self, ptr: *mut u8, len: usize) -> bool {
        // SAFETY: forwarded contract.
        unsafe { self.raw.lock().add_region(ptr as usize, len) }
    }

    /// A heap whose own state lives at the start of `[ptr, ptr+len)` and
    /// which manages the rest (as ESP-IDF's `multi_heap_register` does).
    /// `None` if the region cannot hold the state.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw); the heap lives as long as the
    /// region.
    pub unsafe fn init_in_place(ptr: *mut u8, len: usize) -> Option<&'static Self> {
        let start = super::block::up(ptr as usize, core::mem::align_of::<Self>());
        let end = (ptr as usize).checked_add(len)?;
        let rest = start.checked_add(core::mem::size_of::<Self>())?;
        if rest > end {
            return None;
        }
        let at = start as *mut Self;
        // SAFETY: `[start, rest)` is ours, aligned for `Self`; the rest is
        // handed to the heap.
        unsafe {
            at.write(Self::from_raw(rest as *mut u8, end - rest));
            Some(&*at)
        }
    }
}
