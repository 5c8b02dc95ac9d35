//! [`Heap`]: a [`RawHeap`] behind its own lock, with the failed-allocation
//! callback, recovery before an allocation fails, thread caches in front
//! (`tcache.rs`) that its callers bring (a heap made [`Heap::with_caches`];
//! the process heap's arenas, `arena.rs`, bring the calling thread's own),
//! and the list of blocks that other threads gave back (`remote.rs`). The
//! Rust allocator traits are in `traits`.

use core::alloc::Layout;
use core::fmt::Write;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::sync::atomic::{
    AtomicPtr, AtomicUsize,
    Ordering::{Acquire, Relaxed},
};

use super::block::{Mem, ALIGN};
use super::error::HeapError;
use super::ext_lock::ExtLock;
use super::info::HeapInfo;
use super::poison::layer::Layer;
use super::raw::{FailedAllocFn, RawHeap};
use super::realloc::Resized;
use super::source::{RegionSource, Source};
use super::tcache::{self, Bounds, ThreadCache};
use crate::rt::valgrind;
use crate::sync::{Guard, Lock};

/// No caches: every operation takes the lock.
const PLAIN: u8 = 1;
/// Blocks may sit in caches that callers bring ([`Heap::alloc_cached`]),
/// and other threads may give blocks back through the remote list
/// (`remote.rs`). Zero, the process heap's mode, so that the process heap
/// starts all-zero and lies in `.bss` (no file bytes).
const KEYED: u8 = 0;

/// A locked heap over a source.
pub struct Heap<S: Source> {
    raw: Lock<RawHeap<S>>,
    /// Whether caches serve the heap: [`PLAIN`] or [`KEYED`].
    mode: u8,
    /// `take_remote` (`remote.rs`), stored by the first block put on the
    /// remote list (null before): the lock calls it through
    /// this, so a program whose blocks never go on a remote list (one
    /// that starts no thread) does not link it.
    pub(super) take: AtomicPtr<()>,
    /// Blocks freed by threads other than the heap's user, not yet taken
    /// back (a list through the blocks, see `remote.rs`; 0: empty). On a
    /// cache line of its own: other threads write it on every free, while
    /// the user reads the published bounds below on every cached one.
    pub(super) remote: Line,
    /// The top segment's block area as of the last unlock, from `lo`,
    /// `span16` 16-byte steps up, for the caches' unlocked pointer check
    /// (see [`Heap::fast_range`]).
    lo: AtomicUsize,
    span16: AtomicUsize,
    /// The bounds of all segments as of the last unlock (the lowest first
    /// header, and the span to the highest sentinel in 16-byte steps), for
    /// the caches' link check (see [`Bounds`]).
    blo: AtomicUsize,
    bspan: AtomicUsize,
    /// The heap's tag (see `block.rs`), published once it has one.
    tag: AtomicUsize,
    /// The caller's lock taken around the heap's own (`ext_lock.rs`).
    pub(super) ext: ExtLock,
    /// `RawHeap::layout` as of the last publication.
    published: AtomicUsize,
    /// The source's root pointer (see [`Mem`]), published with the tag.
    #[cfg(miri)]
    root: core::sync::atomic::AtomicPtr<u8>,
    /// The poisoning layer of a region heap made while poisoning was on
    /// (at the start of its region, see `poison/region.rs`); null for
    /// every other heap. Read only by heaps whose source has
    /// [`EXTERNAL_LOCK`](Source::EXTERNAL_LOCK) (not the process heap's).
    pub(in crate::heap) poison: AtomicPtr<Layer>,
}

/// An atomic word alone on its cache line (128 bytes: two lines, for
/// the adjacent-line prefetch of x86 cores).
#[repr(align(128))]
pub(super) struct Line(pub AtomicUsize);

impl Deref for Line {
    type Target = AtomicUsize;
    fn deref(&self) -> &AtomicUsize {
        &self.0
    }
}

/// The locked core of a [`Heap`]; unlocks on drop.
pub struct HeapGuard<'a, S: Source> {
    g: Guard<'a, RawHeap<S>>,
    heap: &'a Heap<S>,
    /// Valgrind's reports off while the guard lives, if
    /// [`quieted`](Self::quieted) (natively, and on the allocation paths,
    /// off: a constant the compiler folds away).
    quiet: valgrind::Quiet,
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
        let h = self.heap;
        if h.mode != PLAIN && h.published.load(Relaxed) != self.g.layout() {
            h.publish(&self.g);
        }
        // The caller's lock, if any, just before the heap's own (waiters
        // on it then wait for the heap's lock a moment).
        h.ext_give();
    }
}

impl<S: Source> HeapGuard<'_, S> {
    /// The guard, with Valgrind's reports off while it lives (for the
    /// heap's inspections, which read freed blocks; see [`valgrind::Quiet`]).
    pub(super) fn quieted(mut self) -> Self {
        self.quiet = valgrind::Quiet::new();
        self
    }
}

impl<S: Source> Heap<S> {
    /// Publishes where blocks may be (for the caches' unlocked checks),
    /// from its locked core `g`, before the lock is released. (Given the
    /// core rather than the guard, so that the guard need not live in
    /// memory.)
    #[cold]
    #[inline(never)]
    fn publish(&self, g: &RawHeap<S>) {
        let (lo, hi) = g.block_area();
        self.lo.store(lo, Relaxed);
        self.span16.store((hi - lo) >> 4, Relaxed);
        let (blo, bhi) = g.bounds();
        self.blo.store(blo, Relaxed);
        self.bspan.store((bhi - blo) >> 4, Relaxed);
        self.tag.store(g.tag(), Relaxed);
        #[cfg(miri)]
        self.root.store(g.source_ref().root(), Relaxed);
        self.published.store(g.layout(), Relaxed);
    }
}

impl<S: Source> Heap<S> {
    const fn make(raw: RawHeap<S>, mode: u8) -> Self {
        Heap {
            raw: Lock::new(raw),
            mode,
            take: AtomicPtr::new(core::ptr::null_mut()),
            remote: Line(AtomicUsize::new(0)),
            lo: AtomicUsize::new(0),
            span16: AtomicUsize::new(0),
            blo: AtomicUsize::new(0),
            bspan: AtomicUsize::new(0),
            tag: AtomicUsize::new(0),
            ext: ExtLock::new(),
            published: AtomicUsize::new(0),
            #[cfg(miri)]
            root: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
            poison: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// A heap that asks `source` for memory on first use.
    pub const fn with_source(source: S) -> Self {
        Self::make(RawHeap::new(source), PLAIN)
    }

    /// A heap whose callers bring thread caches: [`alloc_cached`],
    /// [`dealloc_cached`] and [`realloc_cached`] take one, and keep small
    /// blocks there without the lock (see `tcache.rs`); the other methods
    /// take the lock as usual (and still recognise cached blocks).
    ///
    /// [`alloc_cached`]: Self::alloc_cached
    /// [`dealloc_cached`]: Self::dealloc_cached
    /// [`realloc_cached`]: Self::realloc_cached
    pub const fn with_caches(source: S) -> Self {
        let mut raw = RawHeap::new(source);
        raw.set_keyed();
        Self::make(raw, KEYED)
    }

    /// The locked core, for several operations under one lock. Nothing
    /// that allocates from this heap may run while the guard lives.
    #[inline]
    pub fn lock(&self) -> HeapGuard<'_, S> {
        self.lock_with(None)
    }

    /// The locked core; the core learns what cache `c` holds (its blocks
    /// count as free in the figures) and takes back the blocks other
    /// threads gave back (`remote.rs`).
    #[inline]
    pub fn lock_cached(&self, c: &mut ThreadCache) -> HeapGuard<'_, S> {
        self.lock_with(Some(c))
    }

    /// The locked core, told about cache `c` if there is one.
    #[inline(always)]
    pub(super) fn lock_with(&self, mut c: Option<&mut ThreadCache>) -> HeapGuard<'_, S> {
        self.ext_take();
        let mut g = self.raw.lock();
        if self.mode != PLAIN {
            if let Some(c) = c.as_deref_mut() {
                g.sync_cache(c);
            }
            if self.remote.load(Acquire) != 0 {
                self.take_remote_through_hook(&mut g, c);
            }
        }
        HeapGuard { g, heap: self, quiet: valgrind::Quiet::OFF }
    }

    /// Whether callers may bring caches (and other threads give blocks
    /// back through the remote list).
    #[inline(always)]
    pub(super) fn is_keyed(&self) -> bool {
        self.mode == KEYED
    }

    /// The top segment's block area as last published: memory that is
    /// mapped as long as no free is racing with a trim (a block that is
    /// live is never trimmed), so that reading a header in it is safe.
    #[inline(always)]
    pub(super) fn fast_range(&self) -> Bounds {
        Bounds::from_span(self.lo.load(Relaxed), self.span16.load(Relaxed))
    }

    /// Where cached blocks may lie, as last published.
    #[inline(always)]
    pub(super) fn bounds(&self) -> Bounds {
        Bounds::from_span(self.blo.load(Relaxed), self.bspan.load(Relaxed))
    }

    /// The heap's tag, as last published.
    #[inline(always)]
    pub(super) fn tag(&self) -> usize {
        self.tag.load(Relaxed)
    }

    /// How the caches reach blocks (the published root under Miri).
    #[inline(always)]
    pub(super) fn mem(&self) -> Mem {
        #[cfg(miri)]
        return Mem::new(self.root.load(Relaxed));
        #[cfg(not(miri))]
        Mem::new(core::ptr::null_mut())
    }

    /// `size` bytes aligned to `align`, zeroed if `zero`; `func` names the
    /// caller (`"malloc"`, `"calloc"`, ...) in reports and for the
    /// failed-allocation callback, which runs after the lock is released.
    /// Before it fails, an allocation gives the calling thread's cache and
    /// the heap's free memory back and tries again.
    #[inline(always)]
    pub fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if self.mode == PLAIN {
            return self.allocate_plain(size, align, zero, func);
        }
        self.allocate_slow(size, align, zero, func)
    }

    /// [`allocate`](Self::allocate) for a heap without caches: the core's
    /// allocation inlined under the lock (no cache to consult, nothing to
    /// publish), then the recovery if it failed.
    #[inline(never)]
    fn allocate_plain(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if self.poisoned() {
            return self.poisoned_alloc(size, align, zero, func);
        }
        let ext = self.ext_hold();
        let mut g = self.raw.lock();
        g.set_op(func);
        if let Some(p) = g.alloc_inline(size, align, zero) {
            return Some(p);
        }
        let p = recover_alloc(&mut g, None, (size, size), align, zero);
        drop(g);
        drop(ext);
        if p.is_none() {
            self.failed(size, align, func);
        }
        p
    }

    /// [`allocate`](Self::allocate) under the lock, without a cache (the
    /// entry point of C functions that skip `malloc`'s fast path).
    #[inline(never)]
    pub(crate) fn allocate_slow(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if self.poisoned() {
            return self.poisoned_alloc(size, align, zero, func);
        }
        let p = self.allocate_locked(None, size, align, zero, func);
        if p.is_none() {
            self.failed(size, align, func);
        }
        p
    }

    /// An allocation past the fast path of cache `c` (which found its bins
    /// empty, or its collection due): the cache if its collection is due
    /// (which runs now), or its medium bins, then the locked heap. The
    /// failed-allocation callback is the caller's to call.
    #[inline(always)]
    pub(super) fn allocate_past_cache(
        &self,
        c: &mut ThreadCache,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut ask = size;
        let got = if align > ALIGN {
            None
        } else if tcache::cacheable(size) {
            if !c.collection_due() {
                c.count_request();
                None
            } else {
                self.cache_alloc(c, size, func)
            }
        } else if tcache::medium(size) {
            // A medium block from the cache, else one of its bin's size
            // from the heap (of `size` if even that finds no room).
            match self.medium_take(c, size, func) {
                Ok(p) => Some(p),
                Err(n) => {
                    ask = n;
                    None
                }
            }
        } else {
            None
        };
        if let Some(p) = got {
            if zero {
                // SAFETY: the block holds at least `size` bytes.
                unsafe { core::ptr::write_bytes(p.as_ptr(), 0, size) };
            }
            return Some(p);
        }
        self.allocate_locked_or(Some(c), ask, size, align, zero, func)
    }

    /// [`allocate`](Self::allocate) with cache `c` in front (a heap made
    /// [`with_caches`](Self::with_caches); other heaps ignore it).
    #[inline]
    pub fn alloc_cached(
        &self,
        c: &mut ThreadCache,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if self.poisoned() {
            return self.poisoned_alloc(size, align, zero, func);
        }
        let p = if self.mode == PLAIN {
            self.allocate_locked(None, size, align, zero, func)
        } else if align > ALIGN {
            self.allocate_locked(Some(c), size, align, zero, func)
        } else if tcache::medium(size) {
            self.allocate_past_cache(c, size, align, zero, func)
        } else if let Some(p) = self.cache_alloc(c, size, func) {
            if zero {
                // SAFETY: the block holds at least `size` bytes.
                unsafe { core::ptr::write_bytes(p.as_ptr(), 0, size) };
            }
            return Some(p);
        } else {
            self.allocate_locked(Some(c), size, align, zero, func)
        };
        if p.is_none() {
            self.failed(size, align, func);
        }
        p
    }

    /// [`allocate`](Self::allocate) under the lock, with the recovery.
    #[inline(always)]
    pub(super) fn allocate_locked(
        &self,
        c: Option<&mut ThreadCache>,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        self.allocate_locked_or(c, size, size, align, zero, func)
    }

    /// [`allocate_locked`](Self::allocate_locked) of `size` bytes, or of
    /// `least` (at most `size`) if `size` finds no room (then with the
    /// recovery): a medium request asks for its cache bin's size, and takes
    /// what it asked for when memory is that short.
    #[inline(always)]
    fn allocate_locked_or(
        &self,
        mut c: Option<&mut ThreadCache>,
        size: usize,
        least: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut g = self.lock_with(c.as_deref_mut());
        g.set_op(func);
        let p = if zero { g.alloc_zeroed(size, align) } else { g.alloc(size, align) };
        if p.is_some() {
            return p;
        }
        recover_alloc(&mut g, c, (size, least), align, zero)
    }

    /// Calls the failed-allocation callback, if one is registered.
    #[cold]
    pub(super) fn failed(&self, size: usize, align: usize, func: &'static str) {
        let cb = self.raw.lock().failed_alloc_callback();
        if let Some(cb) = cb {
            cb(size, align, func);
        }
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
    #[inline(always)]
    pub unsafe fn dealloc(&self, ptr: NonNull<u8>) -> Result<(), HeapError> {
        if self.poisoned() {
            // SAFETY: forwarded contract.
            return unsafe { self.poisoned_free(ptr) };
        }
        // SAFETY: forwarded contract.
        unsafe { self.dealloc_locked(None, ptr.as_ptr().addr(), 0) }
    }

    /// Frees the block at `p` as C's `free` does: a null `p` does nothing;
    /// a pointer that is not a live block of this heap (a double free, a
    /// foreign or interior pointer, a damaged block) is reported on stderr
    /// as `rawrt: FUNC(): what of 0x...` and the process aborts. Every
    /// `free`-like entry point (C's, ESP-IDF's, NuttX's, Rust's
    /// `dealloc`) is this call.
    ///
    /// # Safety
    /// If `p` is a live block of this heap, nothing may use it afterwards.
    #[inline(always)]
    pub unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
        if let Some(nn) = NonNull::new(p) {
            // SAFETY: forwarded contract; misuse is caught and reported.
            if let Err(e) = unsafe { self.dealloc(nn) } {
                super::misuse(func, e, p)
            }
        }
    }

    /// [`dealloc`](Self::dealloc) with cache `c` in front (a heap made
    /// [`with_caches`](Self::with_caches)).
    ///
    /// # Safety
    /// As for `dealloc`.
    #[inline]
    pub unsafe fn dealloc_cached(
        &self,
        c: &mut ThreadCache,
        ptr: NonNull<u8>,
    ) -> Result<(), HeapError> {
        if self.poisoned() {
            // SAFETY: forwarded contract.
            return unsafe { self.poisoned_free(ptr) };
        }
        let p = ptr.as_ptr().addr();
        if self.mode == PLAIN {
            // SAFETY: forwarded contract.
            return unsafe { self.dealloc_locked(None, p, 0) };
        }
        let full = match self.cache_free(c, p) {
            tcache::Freed::Cached => return Ok(()),
            tcache::Freed::BinFull(i) => i,
            tcache::Freed::ToHeap => match self.cache_free_medium(c, p) {
                tcache::Freed::Cached => return Ok(()),
                tcache::Freed::BinFull(i) => i,
                tcache::Freed::ToHeap => 0,
            },
        };
        // SAFETY: forwarded contract.
        unsafe { self.dealloc_locked(Some(c), p, full) }
    }

    /// [`dealloc`](Self::dealloc) under the lock; first makes room in cache
    /// `c`'s bin `full_bin` if the fast path found it full (not 0; see
    /// `tcache::spill`).
    ///
    /// # Safety
    /// As for `dealloc`.
    #[inline(never)]
    pub(super) unsafe fn dealloc_locked(
        &self,
        mut c: Option<&mut ThreadCache>,
        p: usize,
        full_bin: usize,
    ) -> Result<(), HeapError> {
        let mut g = self.lock_with(c.as_deref_mut());
        g.set_op("free");
        if let Some(c) = c.as_deref_mut() {
            if full_bin != 0 {
                tcache::spill(&mut g, c, full_bin);
            }
            // Before the block is looked at: giving cached blocks back
            // changes its neighbours.
            tcache::enforce_limit(&mut g, c);
        }
        // One copy of the checks, inlined: the hot part of every free.
        let found = g.locate_inlined(p)?;
        // A small block the fast path could not check (in another segment)
        // is cached now that it has been.
        if let Some(c) = c {
            if tcache::take_checked(&mut g, c, &found) {
                return Ok(());
            }
        }
        g.free_found(found)
    }

    /// Resizes the block at `ptr` (allocated with alignment `align`) to
    /// `new_size` bytes; `func` names the caller for reports and the
    /// callback. On `Err` the block is left as it was; before an
    /// `OutOfMemory`, the calling thread's cache and the heap's free memory
    /// go back and the resize is tried again.
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
        if self.poisoned() {
            // SAFETY: forwarded contract.
            return unsafe { self.poisoned_realloc(ptr, new_size, align, func) };
        }
        // SAFETY: forwarded contract.
        let r = unsafe { self.realloc_with_outlined(None, ptr, new_size, align, func) };
        if r == Err(HeapError::OutOfMemory) {
            self.failed(new_size, align, func);
        }
        r
    }

    /// [`reallocate`](Self::reallocate) with cache `c` (whose blocks go
    /// back before the resize fails).
    ///
    /// # Safety
    /// As for `reallocate`.
    pub unsafe fn realloc_cached(
        &self,
        c: &mut ThreadCache,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        if self.poisoned() {
            // SAFETY: forwarded contract.
            return unsafe { self.poisoned_realloc(ptr, new_size, align, func) };
        }
        // SAFETY: forwarded contract.
        let r = unsafe { self.realloc_with_outlined(Some(c), ptr, new_size, align, func) };
        if r == Err(HeapError::OutOfMemory) {
            self.failed(new_size, align, func);
        }
        r
    }

    /// The resize under the lock, with cache `c` given back before it fails
    /// for want of memory; no callback. Inlined where C's `realloc` of a
    /// block of the calling thread's own heap takes it
    /// (`Arenas::reallocate_inlined`); everything else calls
    /// [`realloc_with_outlined`](Self::realloc_with_outlined).
    ///
    /// # Safety
    /// As for [`reallocate`](Self::reallocate).
    #[inline(always)]
    pub(super) unsafe fn realloc_with(
        &self,
        mut c: Option<&mut ThreadCache>,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let mut g = self.lock_with(c.as_deref_mut());
        g.set_op(func);
        // SAFETY: forwarded contract.
        match unsafe { g.realloc(ptr.as_ptr(), new_size, align) } {
            Err(HeapError::OutOfMemory) => {
                // SAFETY: forwarded contract; the block is as it was.
                unsafe { realloc_recover(g, c, ptr, new_size, align) }.result()
            }
            r => r,
        }
    }

    /// [`realloc_with`](Self::realloc_with), one copy.
    ///
    /// # Safety
    /// As for [`reallocate`](Self::reallocate).
    #[inline(never)]
    pub(super) unsafe fn realloc_with_outlined(
        &self,
        c: Option<&mut ThreadCache>,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.realloc_with(c, ptr, new_size, align, func) }
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
        if let Some(l) = self.layer() {
            // SAFETY: forwarded contract.
            return unsafe { l.usable(self, ptr.cast_mut()) };
        }
        // SAFETY: forwarded contract.
        unsafe { self.usable_size_core(ptr) }
    }

    /// The core's usable size of the block at `ptr` (for a poisoned heap,
    /// of its outer block: the layer's question).
    ///
    /// # Safety
    /// As for [`usable_size`](Self::usable_size).
    #[inline(never)]
    pub(super) unsafe fn usable_size_core(&self, ptr: *const u8) -> Result<usize, HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.lock().usable_size(ptr) }
    }

    /// The heap's figures. Blocks in caches count as allocated, except
    /// those of the cache that last locked the heap with
    /// [`lock_cached`](Self::lock_cached) or an operation with a cache.
    pub fn info(&self) -> HeapInfo {
        self.lock().info()
    }

    /// Checks every invariant, printing violations to `out` if asked. `out` must not
    /// allocate from this heap.
    pub fn check(&self, print_errors: bool, out: &mut dyn Write) -> bool {
        let ok = self.lock().check(print_errors, out);
        match self.layer() {
            Some(l) => ok & l.check(self, print_errors, out, "check"),
            None => ok,
        }
    }

    /// [`check`](Self::check), with cache `c` checked too.
    pub fn check_cached(
        &self,
        c: &mut ThreadCache,
        print_errors: bool,
        out: &mut dyn Write,
    ) -> bool {
        let mut g = self.lock_with(Some(&mut *c));
        let ok = g.check(print_errors, out);
        let cache_ok = self.mode == PLAIN || tcache::check(&g, c, print_errors, out);
        drop(g);
        let layer_ok = match self.layer() {
            Some(l) => l.check(self, print_errors, out, "check"),
            None => true,
        };
        ok && cache_ok && layer_ok
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

    /// Writes an SVG picture of the heap (see [`RawHeap::svg`]). `out`
    /// must not allocate from this heap.
    pub fn svg(&self, out: &mut dyn Write) -> core::fmt::Result {
        self.lock().svg(out)
    }

    /// Gives free memory beyond `pad` bytes of top back; see
    /// [`RawHeap::trim`].
    pub fn trim(&self, pad: usize) -> bool {
        self.lock().trim(pad)
    }

    /// Requests of at least `n` bytes get their own mapping.
    pub fn set_mmap_threshold(&self, n: usize) {
        self.lock().set_mmap_threshold(n)
    }

    /// A free top bigger than `n` bytes is given back.
    pub fn set_trim_threshold(&self, n: usize) {
        self.lock().set_trim_threshold(n)
    }

    /// Dirty free memory is purged once it has stayed unused for `ms`
    /// milliseconds ([`PURGE_DELAY_MS`](super::PURGE_DELAY_MS) by
    /// default; 0: at the next check, `usize::MAX`: only by
    /// [`trim`](Self::trim) or when memory is short); see
    /// [`RawHeap::set_purge_delay`].
    pub fn set_purge_delay(&self, ms: usize) {
        self.lock().set_purge_delay(ms)
    }

    /// Purges now the dirty free memory that has stayed unused for the
    /// purge delay; see [`RawHeap::purge_expired`].
    pub fn purge_expired(&self) {
        self.lock().purge_expired()
    }

    /// Registers (or clears) the failed-allocation callback.
    pub fn set_failed_alloc_callback(&self, f: Option<FailedAllocFn>) {
        self.lock().set_failed_alloc_callback(f)
    }
}

/// [`recover`] for a resize that failed for want of memory, under the
/// lock that `g` holds (released on return); the outcome in registers
/// (see [`Resized`]).
///
/// # Safety
/// As for [`Heap::reallocate`]; the block at `ptr` is as it was.
#[cold]
#[inline(never)]
unsafe fn realloc_recover<S: Source>(
    mut g: HeapGuard<'_, S>,
    c: Option<&mut ThreadCache>,
    ptr: NonNull<u8>,
    new_size: usize,
    align: usize,
) -> Resized {
    // SAFETY: forwarded contract.
    let again = |g: &mut RawHeap<S>| unsafe { g.realloc(ptr.as_ptr(), new_size, align) }.ok();
    Resized::from_result(recover(&mut g, c, new_size, again).ok_or(HeapError::OutOfMemory))
}

/// [`recover`] for an allocation of `size` bytes that found no room: of
/// `least` bytes (at most `size`), first as it is, then after each step
/// of the recovery.
#[cold]
#[inline(never)]
fn recover_alloc<S: Source>(
    g: &mut RawHeap<S>,
    c: Option<&mut ThreadCache>,
    (size, least): (usize, usize),
    align: usize,
    zero: bool,
) -> Option<NonNull<u8>> {
    let alloc =
        |g: &mut RawHeap<S>, n| if zero { g.alloc_zeroed(n, align) } else { g.alloc(n, align) };
    if least < size {
        if let Some(p) = alloc(g, least) {
            return Some(p);
        }
    }
    recover(g, c, least, |g| alloc(g, least))
}

/// After an allocation of `size` bytes in `g` failed: if the memory the
/// heap holds (free, and in cache `c`) could serve it, gives cache `c`
/// back, then the heap's free top and dirty pages (room under a memory
/// limit for a new mapping), retrying `retry` after each step. A request
/// bigger than all of that fails at once, without system calls.
#[cold]
fn recover<S: Source, T>(
    g: &mut RawHeap<S>,
    c: Option<&mut ThreadCache>,
    size: usize,
    mut retry: impl FnMut(&mut RawHeap<S>) -> Option<T>,
) -> Option<T> {
    if size > g.free_now() + g.parked() {
        return None;
    }
    if let Some(c) = c {
        if c.held().1 > 0 {
            tcache::flush_into(g, c);
            if let Some(v) = retry(g) {
                return Some(v);
            }
        }
    }
    if g.trim(0) {
        return retry(g);
    }
    None
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
    ///
    /// While heap poisoning is on (`RAWRT_HEAP_POISONING`, see
    /// [`poisoning`](crate::heap::poisoning); making the heap fixes the
    /// mode), the heap is poisoned for its life as the process heap is:
    /// its layer's state (about 8 KiB) takes the start of the region; a
    /// region too small for it gives a heap in which every allocation
    /// fails.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Self {
        let mode = super::poison::for_new_heap();
        // SAFETY: forwarded contract.
        unsafe { Self::from_raw_poisoned(ptr, len, mode) }
    }

    /// [`from_raw`](Self::from_raw) without poisoning.
    ///
    /// # Safety
    /// As for `from_raw`.
    pub(in crate::heap) unsafe fn from_raw_plain(ptr: *mut u8, len: usize) -> Self {
        // SAFETY: forwarded contract.
        let mut raw = RawHeap::new(unsafe { RegionSource::new(ptr, len) });
        raw.set_trim_threshold(usize::MAX); // a region cannot be given back
        raw.init();
        Self::make(raw, PLAIN)
    }

    /// Adds `[ptr, ptr+len)` to the heap (NuttX's `mm_addregion`); false if
    /// the region is too small or the heap holds too many segments.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw).
    pub unsafe fn add_region(&self, ptr: *mut u8, len: usize) -> bool {
        // SAFETY: forwarded contract.
        unsafe { self.lock().add_region(ptr, len) }
    }

    /// A heap whose own state lives at the start of `[ptr, ptr+len)` and
    /// which manages the rest (as ESP-IDF's `multi_heap_register` does).
    /// `None` if the region cannot hold the state.
    ///
    /// # Safety
    /// As for [`from_raw`](Self::from_raw); the heap lives as long as the
    /// region.
    pub unsafe fn init_in_place(ptr: *mut u8, len: usize) -> Option<&'static Self> {
        let start = super::block::up(ptr.addr(), core::mem::align_of::<Self>());
        let end = ptr.addr().checked_add(len)?;
        let rest = start.checked_add(core::mem::size_of::<Self>())?;
        if rest > end {
            return None;
        }
        let at = ptr.with_addr(start).cast::<Self>();
        // SAFETY: `[start, rest)` is ours, aligned for `Self`; the rest is
        // handed to the heap.
        unsafe {
            at.write(Self::from_raw(ptr.with_addr(rest), end - rest));
            Some(&*at)
        }
    }
}
