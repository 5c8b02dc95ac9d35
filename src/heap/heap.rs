//! [`Heap`]: a [`RawHeap`] behind its own lock, with the failed-allocation
//! callback and, for the process heap, per-thread caches in front
//! (`tcache.rs`); the Rust allocator traits are in `traits`.

use core::alloc::Layout;
use core::fmt::Write;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::block::ALIGN;
use super::error::HeapError;
use super::info::HeapInfo;
use super::raw::{FailedAllocFn, RawHeap};
use super::source::{RegionSource, Source};
use super::tcache;
use crate::sync::{Guard, Lock};

/// A locked heap over a source.
pub struct Heap<S: Source> {
    raw: Lock<RawHeap<S>>,
    /// No per-thread caches serve small requests: every heap but the
    /// process heap (which is all zeros at first, so it lives in `.bss`).
    pub(super) uncached: bool,
    /// The top segment's block area `[lo, hi)` as of the last unlock, for
    /// the caches' unlocked pointer check (see [`Heap::fast_range`]).
    lo: AtomicUsize,
    hi: AtomicUsize,
}

/// The locked core of a [`Heap`]; unlocks on drop.
pub struct HeapGuard<'a, S: Source> {
    g: Guard<'a, RawHeap<S>>,
    heap: &'a Heap<S>,
}

impl<S: Source> Deref for HeapGuard<'_, S> {
    type Target = RawHeap<S>;
    fn deref(&self) -> &RawHeap<S> {
        &self.g
    }
}

impl<S: Source> DerefMut for HeapGuard<'_, S> {
    fn deref_mut(&mut self) -> &mut RawHeap<S> {
        &mut self.g
    }
}

impl<S: Source> Drop for HeapGuard<'_, S> {
    #[inline]
    fn drop(&mut self) {
        if !self.heap.uncached {
            // Publish where blocks may be, before the lock is released.
            let (lo, hi) = self.g.block_area();
            if self.heap.lo.load(Relaxed) != lo || self.heap.hi.load(Relaxed) != hi {
                self.heap.lo.store(lo, Relaxed);
                self.heap.hi.store(hi, Relaxed);
            }
        }
    }
}

impl<S: Source> Heap<S> {
    /// A heap that asks `source` for memory on first use.
    pub const fn with_source(source: S) -> Self {
        Heap {
            raw: Lock::new(RawHeap::new(source)),
            uncached: true,
            lo: AtomicUsize::new(0),
            hi: AtomicUsize::new(0),
        }
    }

    /// A heap with per-thread caches in front (see `tcache.rs`). The caches
    /// belong to threads, not heaps: only one such heap, the process heap,
    /// may exist (hosted tests use one at a time per thread).
    pub(crate) const fn with_thread_cache(source: S) -> Self {
        let mut raw = RawHeap::new(source);
        raw.unkeyed = false;
        Heap {
            raw: Lock::new(raw),
            uncached: false,
            lo: AtomicUsize::new(0),
            hi: AtomicUsize::new(0),
        }
    }

    /// The locked core, for several operations under one lock. Nothing
    /// that allocates from this heap may run while the guard lives. With
    /// caches, the core learns what the calling thread's cache holds.
    #[inline]
    pub fn lock(&self) -> HeapGuard<'_, S> {
        let mut g = self.raw.lock();
        if !self.uncached {
            g.sync_cache(tcache::cache());
        }
        HeapGuard { g, heap: self }
    }

    /// The top segment's block area as last published: memory that is
    /// mapped as long as no free is racing with a trim (a block that is
    /// live is never trimmed), so that reading a header in it is safe.
    #[inline(always)]
    pub(super) fn fast_range(&self) -> (usize, usize) {
        (self.lo.load(Relaxed), self.hi.load(Relaxed))
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
        if !self.uncached && align <= ALIGN {
            if let Some(p) = self.cache_alloc(size) {
                if zero {
                    // SAFETY: the block holds at least `size` bytes.
                    unsafe { core::ptr::write_bytes(p.as_ptr(), 0, size) };
                }
                return Some(p);
            }
        }
        self.allocate_locked(size, align, zero, func)
    }

    /// [`allocate`](Self::allocate) under the lock.
    #[inline(never)]
    fn allocate_locked(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut g = self.lock();
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
        let p = ptr.as_ptr() as usize;
        let full = if !self.uncached {
            match self.cache_free(p) {
                tcache::Freed::Cached => return Ok(()),
                tcache::Freed::BinFull(i) => i,
                tcache::Freed::ToHeap => 0,
            }
        } else {
            0
        };
        // SAFETY: forwarded contract.
        unsafe { self.dealloc_locked(p, full) }
    }

    /// [`dealloc`](Self::dealloc) under the lock; first makes room in the
    /// calling thread's cache bin `full_bin` if the fast path found it full
    /// (not 0; see `tcache::spill`).
    ///
    /// # Safety
    /// As for `dealloc`.
    #[inline(never)]
    unsafe fn dealloc_locked(&self, p: usize, full_bin: usize) -> Result<(), HeapError> {
        let mut g = self.lock();
        if self.uncached {
            // SAFETY: forwarded contract.
            return unsafe { g.free(p as *mut u8) };
        }
        if full_bin != 0 {
            tcache::spill(&mut g, full_bin);
        }
        // Before the block is looked at: giving cached blocks back changes
        // its neighbours.
        tcache::enforce_limit(&mut g);
        let found = g.locate(p)?;
        // A small block the fast path could not check (in another segment)
        // is cached now that it has been.
        if tcache::take_checked(&mut g, &found) {
            return Ok(());
        }
        g.free_found(found)
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
        let mut g = self.lock();
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
        unsafe { self.lock().usable_size(ptr) }
    }

    /// The heap's figures. Blocks in the calling thread's cache count as
    /// free; those in other threads' caches as allocated.
    pub fn info(&self) -> HeapInfo {
        self.lock().info()
    }

    /// Checks every invariant (and the calling thread's cache), printing
    /// violations to `out` if asked. `out` must not allocate from this heap.
    pub fn check(&self, print_errors: bool, out: &mut dyn Write) -> bool {
        let mut g = self.lock();
        let ok = g.check(print_errors, out);
        let cache_ok = self.uncached || tcache::check(&g, tcache::cache(), print_errors, out);
        ok && cache_ok
    }

    /// Whether `ptr` lies in this heap and the heap is intact.
    pub fn check_addr(&self, ptr: *const u8) -> bool {
        let owns = self.lock().owns(ptr);
        owns && self.check(false, &mut NoWrite)
    }

    /// Prints every block and a summary (cached blocks marked as such).
    /// `out` must not allocate from this heap.
    pub fn dump(&self, out: &mut dyn Write) -> core::fmt::Result {
        self.lock().dump(out)
    }

    /// Gives the calling thread's cache back, then free memory beyond
    /// `pad` bytes of top; see [`RawHeap::trim`].
    pub fn trim(&self, pad: usize) -> bool {
        let mut g = self.lock();
        if !self.uncached {
            tcache::flush_into(&mut g);
        }
        g.trim(pad)
    }

    /// Requests of at least `n` bytes get their own mapping.
    pub fn set_mmap_threshold(&self, n: usize) {
        self.lock().set_mmap_threshold(n)
    }

    /// A free top bigger than `n` bytes is given back.
    pub fn set_trim_threshold(&self, n: usize) {
        self.lock().set_trim_threshold(n)
    }

    /// Registers (or clears) the failed-allocation callback.
    pub fn set_failed_alloc_callback(&self, f: Option<FailedAllocFn>) {
        self.lock().set_failed_alloc_callback(f)
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
        raw.init();
        Heap {
            raw: Lock::new(raw),
            uncached: true,
            lo: AtomicUsize::new(0),
            hi: AtomicUsize::new(0),
        }
    }

    /// Adds `[ptr, ptr+len)` to the heap (NuttX's `mm_addregion`); false if
    /// the region is too small or the heap holds too many segments.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw).
    pub unsafe fn add_region(&self, ptr: *mut u8, len: usize) -> bool {
        // SAFETY: forwarded contract.
        unsafe { self.lock().add_region(ptr as usize, len) }
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
