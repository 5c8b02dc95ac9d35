//! Per-thread caches in front of a heap (glibc's tcache idea):
//! a thread keeps a few freed small blocks of each size and hands them
//! out again without taking the heap's lock, so that small `malloc` and
//! `free` cost a handful of instructions and no atomic operation even in
//! a program with many threads.
//!
//! Whose caches: the process heap's plain entry points (`malloc`, Rust's
//! global allocator) use the calling thread's own cache, which lives in
//! its control block ([`crate::thread`]). Any other heap built
//! [`Heap::with_caches`] is used with caches its callers bring
//! ([`Heap::alloc_cached`] and friends take one `&mut ThreadCache`), which
//! is how tests, Miri and the fuzz targets drive the cached paths over a
//! region. Either way one `&mut ThreadCache` is passed down through every
//! function that touches the cache.
//!
//! The bins (per-size lists of cached blocks, their keys and mangled
//! links, and their checks) are in `tcache/bins.rs`; how much a cache
//! keeps (growth, collection, limits, flushing) in `tcache/policy.rs`.
//!
//! Sizes: a small bin per 16 bytes up to [`CACHE_MAX`] (1 KiB), then a
//! medium bin per quarter of each doubling up to [`CACHE_MEDIUM_MAX`] (40
//! KiB). A small request takes a block of its own size, or of up to
//! [`CACHE_NEAR`] sizes above (at most 32 bytes more), before it goes to
//! the heap. A medium request is rounded up to its bin's size (at most a
//! quarter more, as jemalloc's and mimalloc's size classes do): it takes a
//! block of that bin, or the heap makes one of that size, so that the
//! block comes back to the same bin when it is freed. The small bins are
//! `malloc`'s inlined fast path; the medium ones are behind it, still
//! without the lock. A block of another size (a realloc's, an aligned
//! one's) goes back to the heap.
//!
//! Blocks of the top segment are checked without the lock: the heap
//! publishes the segment's block area as it unlocks ([`Heap::fast_range`]),
//! and a free reads the header only inside it. Blocks of other segments
//! take the locked path, which validates them fully and then caches them.
//!
//! Figures: the heap counts cached blocks as in use; a [`Heap`] with
//! caches tells the heap (`RawHeap::parked`) how much the calling thread
//! holds, so that its figures count those blocks as free and its peak
//! and low-water mark stay exact in a single-threaded program. Blocks in
//! *other* threads' caches count as allocated.

mod bins;
mod policy;

use core::ptr::NonNull;

use super::block::{block_of, HDR, IN_USE, MIN_BLOCK, PREV_IN_USE};
use super::heap::Heap;
use super::raw::RawHeap;
use super::remote::Outbox;
use super::source::Source;
use bins::Bins;

pub(super) use bins::Bounds;
#[cfg(test)]
pub(super) use bins::{bin_bytes, medium_bin, medium_bin_for, BINS, SMALL_BINS};
pub use bins::{key_of, unmangle, CACHE_MAX, CACHE_MEDIUM_MAX, CACHE_NEAR};
pub(super) use policy::{enforce_limit, flush_into, spill, take_checked, take_listed};
#[cfg(test)]
pub(super) use policy::{CACHE_BUDGET, CACHE_GROW_AFTER};
pub use policy::{
    CACHE_CAP, CACHE_DEFER_MAX, CACHE_GC_PERIOD, CACHE_LIMIT_FROM, CACHE_MEDIUM_CAP,
    CACHE_MEDIUM_MIN, CACHE_MEDIUM_SHARE, CACHE_MIN_KEEP,
};

/// Whether requests of `size` bytes (alignment 16) go to the small bins.
#[inline(always)]
pub(super) fn cacheable(size: usize) -> bool {
    size <= CACHE_MAX - HDR
}

/// Whether requests of `size` bytes (alignment 16) go to the medium bins.
#[inline(always)]
pub(super) fn medium(size: usize) -> bool {
    size > CACHE_MAX - HDR && size <= CACHE_MEDIUM_MAX - HDR
}

/// One thread's cache: its bins and the state of its policy, and its
/// outbox of blocks freed for other heaps; all zeros is an empty cache (so
/// that the main thread's cache lives in `.bss`, not in the program file).
/// Give a cache back before dropping it ([`Heap::flush_cache`] for its
/// blocks, [`flush_outbox`](Self::flush_outbox) for other heaps'): a
/// dropped cache's blocks stay allocated in their heaps.
#[repr(C)]
pub struct ThreadCache {
    /// The cached blocks (`bins.rs`).
    bins: Bins,
    /// How many blocks each bin may hold beyond [`CACHE_CAP`] (a power of
    /// two times it, less it: 0, 32, 96, ...; see [`spill`] and the
    /// collection, `policy.rs`). Kept as the excess so that all zeros is
    /// the first capacity, and as a count rather than a shift so that
    /// `free` compares with one addition.
    extra: [u16; bins::BINS],
    /// Times each bin was found full since the last collection.
    full: [u8; bins::BINS],
    /// The medium bins are off: the heap's source was refused memory
    /// (set with the limit).
    medium_off: bool,
    /// Requests to the cache since the last collection.
    tick: usize,
    /// Beyond this many blocks the cache is given back (see `policy.rs`);
    /// set at every locked call (0 at first: the first free takes the lock
    /// once and sets it).
    limit: usize,
    /// Usable bytes the medium bins may hold (see [`CACHE_MEDIUM_SHARE`];
    /// set with the limit).
    medium_room: usize,
    /// A higher limit while the thread draws on its cache as it fills it
    /// (0: none; see `policy.rs`, [`CACHE_DEFER_MAX`]).
    defer: usize,
    /// The blocks held when the limit was last met (or the last
    /// collection ran): what the next decision measures the filling from.
    snap_held: usize,
    /// `tick` then: what it measures the drawing from.
    snap_tick: usize,
    /// The address of the heap whose blocks the cache holds: the calling
    /// thread's arena of the process heap (`arena.rs`); 0 until the
    /// thread's first allocation past the cache chooses it.
    pub(super) home: usize,
    /// Which arena that is: 0 the main heap, `i + 1` arena `i`.
    pub(super) arena: usize,
    /// Blocks of another heap that this thread freed and holds back
    /// ([`Heap::dealloc_remote_via`]).
    pub(super) outbox: Outbox,
}

impl ThreadCache {
    /// An empty cache.
    pub const fn new() -> Self {
        ThreadCache {
            bins: Bins::new(),
            extra: [0; bins::BINS],
            full: [0; bins::BINS],
            tick: 0,
            limit: 0,
            medium_room: 0,
            medium_off: false,
            defer: 0,
            snap_held: 0,
            snap_tick: 0,
            home: 0,
            arena: 0,
            outbox: Outbox::new(),
        }
    }

    /// Usable bytes and number of blocks held.
    pub fn held(&self) -> (usize, usize) {
        self.bins.held()
    }

    /// Puts the blocks that this thread freed for another heap and holds
    /// back ([`Heap::dealloc_remote_via`]) on that heap's remote list, from
    /// which its user takes them at its next lock.
    pub fn flush_outbox(&mut self) {
        self.outbox.flush();
    }

    /// How many blocks the outbox holds back.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// The least `held` since the last call, if it fell below what it
    /// was then (only then can the allocated figures have risen past what
    /// the heap saw); starts a new period.
    #[inline]
    pub(super) fn take_low(&mut self) -> Option<usize> {
        self.bins.take_low()
    }
}

impl Default for ThreadCache {
    fn default() -> Self {
        Self::new()
    }
}

/// The calling thread's own cache: the process heap's, kept in the
/// opaque per-thread slot of its control block ([`crate::rt::tls`]; all
/// zeros in a new thread, an empty cache). Nothing else uses it; callers
/// turn it into the one `&mut` that their operation passes down.
#[inline(always)]
pub(super) fn current() -> *mut ThreadCache {
    crate::rt::tls::slot().cast()
}

// The cache fits in the slot, and all zeros is an empty cache (see
// `ThreadCache`).
const _: () = {
    assert!(size_of::<ThreadCache>() <= size_of::<[usize; crate::rt::tls::SLOT_WORDS]>());
    assert!(align_of::<ThreadCache>() <= align_of::<[usize; crate::rt::tls::SLOT_WORDS]>());
};

/// Registers the exit hook that gives a thread's own cache back as the
/// thread ends ([`crate::rt::tls::set_exit_hook`]). Called by
/// [`enable_arenas`](super::enable_arenas), before the first thread
/// starts: the main thread's end is the process's, where nothing needs
/// giving back, so a program that never starts a thread links no hook;
/// a thread started later sees the store (its creation follows it).
#[inline]
pub(super) fn register_exit_hook() {
    crate::rt::tls::set_exit_hook(flush_on_exit);
}

/// The exit hook: the ending thread's cache and arena go back to the
/// process heap (`arena.rs`).
fn flush_on_exit() {
    super::process().thread_exit();
}

impl<S: Source> Heap<S> {
    /// The fast path of [`cache_alloc`](Self::cache_alloc), small enough
    /// to inline into every allocation entry point: a block of the size
    /// class of `size` bytes or one of the [`CACHE_NEAR`] above, when cache
    /// `c` holds one and no collection is due; `None` sends the caller to
    /// the full path.
    #[inline(always)]
    pub(super) fn cache_take(
        &self,
        c: &mut ThreadCache,
        size: usize,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if !cacheable(size) {
            return None;
        }
        let i = block_of(size) >> 4;
        if c.collection_due() {
            return None;
        }
        let j = if c.bins.has(i) { i } else { c.bins.near(i)? };
        let m = self.mem();
        let h = c.bins.pop(m, self.bounds(), j, func);
        // Counted after the pop, so that no store lies between the test of
        // the bin's head above and the pop's load of it (the compiler then
        // loads it once).
        c.tick += 1;
        // SAFETY: payload addresses are never 0.
        Some(unsafe { NonNull::new_unchecked(m.ptr(h + HDR)) })
    }

    /// A block for `size` bytes (alignment 16) from cache `c`, if it has
    /// one of that size or a little more; `func` names the caller in a
    /// corruption report. Counts towards the next collection, and runs it
    /// when it is due.
    #[inline]
    pub(super) fn cache_alloc(
        &self,
        c: &mut ThreadCache,
        size: usize,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if size > CACHE_MAX - HDR {
            return None;
        }
        let (m, b) = (self.mem(), self.bounds());
        let i = block_of(size) >> 4;
        let mut h = c.bins.pop(m, b, i, func);
        if h == 0 {
            h = c.bins.pop_near(m, b, i, func);
        }
        c.tick += 1;
        if c.tick == CACHE_GC_PERIOD {
            self.collect_cache(c);
        }
        // SAFETY: payload addresses are never 0.
        (h != 0).then(|| unsafe { NonNull::new_unchecked(m.ptr(h + HDR)) })
    }

    /// Caches the block at payload `p` in `c` if it is a used small block
    /// of the top segment and its bin has room; else the locked path takes
    /// it, and validates it fully (and reports misuse).
    #[inline(always)]
    pub(super) fn cache_free(&self, c: &mut ThreadCache, p: usize) -> Freed {
        let Some((h, s)) = self.top_block(p) else { return Freed::ToHeap };
        // A used, not large block of this heap's tag, of a cached size:
        // exactly a size (no low bits left, no tag bits), between
        // MIN_BLOCK and CACHE_MAX; one comparison after a rotation, which
        // moves leftover low bits to the top.
        if s.wrapping_sub(MIN_BLOCK).rotate_right(4) > (CACHE_MAX - MIN_BLOCK) >> 4 {
            return Freed::ToHeap;
        }
        let i = s >> 4;
        self.cache_block(c, h, (i, false), s, c.small_cap(i))
    }

    /// The block at payload `p` if its address lies in the top segment's
    /// block area (so `p` is 16-aligned), and what its header holds with
    /// the flags other than IN_USE and LARGE cleared and this heap's tag
    /// and IN_USE subtracted: the size of a used, not large block of this
    /// heap, anything else for other headers. Reads the header only
    /// inside the area, which is mapped (see `fast_range`).
    #[inline(always)]
    fn top_block(&self, p: usize) -> Option<(usize, usize)> {
        let h = p.wrapping_sub(HDR);
        if !self.fast_range().holds(h) {
            return None;
        }
        // SAFETY: `h` lies in the top segment's block area, which is
        // mapped (see `fast_range`).
        let hdr = unsafe { self.mem().rd(h) };
        Some((h, (hdr & !PREV_IN_USE).wrapping_sub(self.tag() | IN_USE)))
    }

    /// What [`cache_free`](Self::cache_free) does for a medium block, past
    /// the fast path (which sent it to the heap: `free`'s inlined part
    /// stays as small as it was): caches the block at payload `p` in `c`
    /// if it is a used block of this heap's top segment of a medium bin's
    /// size and the bin has room; else the locked path takes it.
    #[inline(never)]
    pub(super) fn cache_free_medium(&self, c: &mut ThreadCache, p: usize) -> Freed {
        let Some((h, s)) = self.top_block(p) else { return Freed::ToHeap };
        // A used block of this heap's tag of a medium size exactly: no
        // flags or tag bits left over.
        match bins::medium_bin(s) {
            Some(i) if c.medium_fits(s) => self.cache_block(c, h, (i, true), s, c.cap(i)),
            _ => Freed::ToHeap,
        }
    }

    /// Caches used block `h` of `s` bytes, of this heap's top segment, in
    /// bin `i` (whose size is `s`; a medium bin if `medium`) if it is not
    /// cached already (nor on the remote list) and the bin holds less than
    /// `cap`.
    #[inline(always)]
    fn cache_block(
        &self,
        c: &mut ThreadCache,
        h: usize,
        (i, medium): (usize, bool),
        s: usize,
        cap: u16,
    ) -> Freed {
        let m = self.mem();
        let key = key_of(h);
        // Its key or its complement, the remote key (`remote.rs`): cached
        // already, or on the heap's remote list. The locked path reports
        // it (after taking the remote list back). One comparison: the xor
        // is 0 or all ones.
        // SAFETY: the block is at least MIN_BLOCK bytes, in the top
        // segment's block area (see `cache_free`).
        if (unsafe { m.rd(h + 16) } ^ key).wrapping_add(1) < 2 {
            return Freed::ToHeap;
        }
        if c.bins.len(i) >= cap {
            return Freed::BinFull(i);
        }
        c.bins.push(m, (i, medium), s, h, key);
        if c.over_limit() {
            self.collect_cache(c);
        }
        Freed::Cached
    }

    /// A block for a medium request of `size` bytes (see [`medium`]) from
    /// cache `c`'s bin for it; else `Err` with the size to ask the heap for:
    /// `size` rounded up to the bin's size (less the header), whose block
    /// the bin takes when it is freed, or `size` itself once the medium
    /// bins are off (see `CACHE_MEDIUM_SHARE`: memory was refused).
    /// Counts towards the next collection, and runs it when it is due.
    #[inline(never)]
    pub(super) fn medium_take(
        &self,
        c: &mut ThreadCache,
        size: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, usize> {
        let i = bins::medium_bin_for(block_of(size));
        let m = self.mem();
        let h = c.bins.pop_any(m, self.bounds(), i, func);
        c.tick += 1;
        if c.tick >= CACHE_GC_PERIOD {
            self.collect_cache(c);
        }
        if h == 0 {
            return Err(if c.medium_off { size } else { bins::bin_bytes(i) - HDR });
        }
        // SAFETY: payload addresses are never 0.
        Ok(unsafe { NonNull::new_unchecked(m.ptr(h + HDR)) })
    }

    /// Gives all of cache `c` back to this heap.
    pub fn flush_cache(&self, c: &mut ThreadCache) {
        let mut g = self.lock_with(Some(c));
        flush_into(&mut g, c);
    }
}

/// Checks cache `c` against heap `g`: every cached block is a used block
/// of its bin's size with its key and a link in bounds, and the counts
/// and totals agree.
pub(super) fn check<S: Source>(
    g: &RawHeap<S>,
    c: &ThreadCache,
    print_errors: bool,
    out: &mut dyn core::fmt::Write,
) -> bool {
    let mut r = super::check::Report { ok: true, out: print_errors.then_some(out) };
    c.bins.check(g, |i| c.cap(i) as usize, &mut r);
    r.ok
}

/// What [`Heap::cache_free`] did.
pub(super) enum Freed {
    /// The block is in the calling thread's cache.
    Cached,
    /// The block's bin (this index) is full: the heap takes the block.
    BinFull(usize),
    /// The heap takes the block (not cacheable, or to be validated).
    ToHeap,
}
