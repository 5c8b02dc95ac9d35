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
//! A cached block stays *in use* to the heap: its header is never written
//! outside the lock (the heap changes a neighbour's `PREV_IN_USE` bit
//! under the lock, so the cache must not touch headers). The cache links
//! its blocks through the first payload word and marks each with a key in
//! the second ([`key_of`]), which names the block's own address and the
//! process's secret ([`super::secret`]): a second `free` of a cached
//! block finds the key and is reported as a double free, by the cache and
//! by the heap alike (`RawHeap::locate` checks keys in heaps that have
//! caches). Links are stored mangled with the secret and the address they
//! are stored at (glibc's safe-linking, with a secret): `malloc` checks the
//! key and the decoded link of the block it takes, so a write into a freed
//! block, or a link forged without the secret, is caught there and
//! reported. A key exists only while its block is cached: taking a block
//! out of a cache, to hand out or to give back to the heap, clears it.
//!
//! Sizes: a bin per 16 bytes up to [`CACHE_MAX`]. A request takes a block
//! of its own size, or of up to [`CACHE_NEAR`] sizes above (at most 32
//! bytes more), before it goes to the heap.
//!
//! Bounds: a bin holds [`CACHE_CAP`] blocks at first. A free that finds its
//! bin full takes the lock; there a bin found full more than
//! [`CACHE_GROW_AFTER`] times since the last collection doubles its
//! capacity (up to [`CACHE_CAP_MAX`], while the cache holds less than
//! [`CACHE_BUDGET`] bytes), so that a thread that frees and reallocates big
//! batches of one size keeps them, while a mix of sizes that comes and
//! goes does not pile up blocks; otherwise the bin gives blocks back: the
//! older half of a small bin (in a stack-like pattern those are the
//! highest, next to the top), the newest [`CACHE_CAP`] of a big one. Every [`CACHE_GC_PERIOD`]
//! requests, each bin gives back half of the blocks it held all along since
//! the last such collection (its low-water mark, as jemalloc's thread
//! caches do) and halves its capacity if most of it went unused, so that a
//! cache holds about what the thread reuses. In a heap whose blocks span
//! [`CACHE_LIMIT_FROM`] or more, a cache may also hold no more than half
//! of the heap's used blocks (its own included, as of the thread's last
//! locked call; at least [`CACHE_MIN_KEEP`]), beyond which the thread
//! gives its whole cache back: so when a program frees a big burst of
//! blocks, in any order, the blocks reach the heap, which coalesces them
//! and gives the memory back to the kernel, instead of cached blocks
//! scattered over it keeping their pages resident; in a small heap,
//! stack-like rounds of allocation and free stay in the cache. A thread's
//! cache is emptied when the thread ends, by `trim`, and by an allocation
//! that would fail otherwise (before it reports ENOMEM).
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

use core::ptr::NonNull;

use super::block::{block_of, Mem, HDR, IN_USE, LARGE, MIN_BLOCK, PREV_IN_USE, SIZE, TAG_BITS};
use super::class::Damage;
use super::error::{Corruption, HeapError};
use super::heap::Heap;
use super::raw::RawHeap;
use super::secret;
use super::source::Source;

/// The largest block size (header included) that is cached.
pub const CACHE_MAX: usize = 1024;
/// Bins: bin `i` holds blocks of `16 * i` bytes.
const BINS: usize = CACHE_MAX / 16 + 1;
/// Blocks cached per size.
pub const CACHE_CAP: u16 = 32;
/// The most blocks a bin may grow to hold.
pub const CACHE_CAP_MAX: u16 = 16384;
/// Usable bytes beyond which a cache's bins stop growing.
pub const CACHE_BUDGET: usize = 1 << 20;
/// The fewest blocks a cache may always hold (see the module documentation).
pub const CACHE_MIN_KEEP: usize = 64;
/// A heap whose blocks span less than this has no block limit: the blocks
/// a cache could keep there hold little memory.
pub const CACHE_LIMIT_FROM: usize = 1 << 20;
/// How many bins above its own a request may take a cached block from.
pub const CACHE_NEAR: usize = 2;
/// A bin grows once it was found full this many times since the last
/// collection: batches of one size, not the ups and downs of a mix.
pub const CACHE_GROW_AFTER: u8 = 8;
/// Requests to a cache between two collections of its unused blocks.
pub const CACHE_GC_PERIOD: usize = 8192;

/// The key that marks block `h` as cached (see the module documentation).
#[inline(always)]
pub fn key_of(h: usize) -> usize {
    h ^ secret::key_mask()
}

/// Whether requests of `size` bytes (alignment 16) go to the cache.
#[inline(always)]
pub(super) fn cacheable(size: usize) -> bool {
    size <= CACHE_MAX - HDR
}

/// The word cached block `h` stores for a link to `next` (0: none).
#[inline(always)]
fn mangle(h: usize, next: usize) -> usize {
    next ^ (h >> 12) ^ secret::link_mask()
}

/// The link that cached block `h` stores as `word`.
#[inline(always)]
pub fn unmangle(h: usize, word: usize) -> usize {
    word ^ (h >> 12) ^ secret::link_mask()
}

/// Where a cache's blocks may lie: from the lowest first header of the
/// heap's segments, `span16` 16-byte steps up (to the highest sentinel); a
/// decoded link elsewhere was not written by the cache.
#[derive(Clone, Copy)]
pub(super) struct Bounds {
    lo: usize,
    span16: usize,
}

impl Bounds {
    /// The bounds of `(lowest first header, highest sentinel)`.
    pub(super) fn new((lo, hi): (usize, usize)) -> Bounds {
        Bounds::from_span(lo, (hi - lo) >> 4)
    }

    /// The bounds from `lo` and the span in 16-byte steps.
    #[inline(always)]
    pub(super) fn from_span(lo: usize, span16: usize) -> Bounds {
        Bounds { lo, span16 }
    }

    /// Whether `x` is a block address in bounds (one comparison, as in
    /// [`link_ok`](Self::link_ok)).
    #[inline(always)]
    pub(super) fn holds(self, x: usize) -> bool {
        x.wrapping_sub(self.lo).rotate_right(4) < self.span16
    }

    /// Whether `x` can be a link: none, or a block address in bounds. One
    /// comparison: `lo` is a block address (≡ 8 mod 16), so `x - lo` of a
    /// block address is a multiple of 16, and rotating it right by 4 moves
    /// any other low bits to the top.
    #[inline(always)]
    fn link_ok(self, x: usize) -> bool {
        x == 0 || self.holds(x)
    }
}

/// A cached block's key or link was found overwritten: reports it under
/// `func` and aborts.
#[cold]
#[inline(never)]
fn corrupted(func: &'static str, (k, h): Damage) -> ! {
    super::misuse(func, HeapError::Corrupted(k), (h + HDR) as *const u8)
}

/// One thread's cache; all zeros is an empty cache.
#[repr(C)]
pub struct ThreadCache {
    heads: [usize; BINS],
    n: [u16; BINS],
    /// How many blocks each bin may hold, as a shift of [`CACHE_CAP`] (all
    /// fields start at zero, so that the main thread's cache lives in
    /// `.bss`, not in the program file); see [`spill`] and the
    /// collection.
    grow: [u8; BINS],
    /// Low-water marks: the least `n[i]` since the last collection.
    lw: [u16; BINS],
    /// Times each bin was found full since the last collection.
    full: [u8; BINS],
    /// Requests to the cache since the last collection.
    tick: usize,
    /// Usable bytes and number of the blocks held.
    held: usize,
    held_blocks: usize,
    /// The least `held` since the heap last saw this cache (for the peak
    /// and the low-water mark, see `RawHeap::parked`).
    low: usize,
    /// `held` at the last locked call.
    synced: usize,
    /// Beyond this many blocks the cache is given back (see the module
    /// documentation); set at every locked call (0 at first: the first
    /// free takes the lock once and sets it).
    limit: usize,
}

impl ThreadCache {
    /// An empty cache.
    pub const fn new() -> Self {
        ThreadCache {
            heads: [0; BINS],
            n: [0; BINS],
            grow: [0; BINS],
            lw: [0; BINS],
            full: [0; BINS],
            tick: 0,
            held: 0,
            held_blocks: 0,
            low: 0,
            synced: 0,
            limit: 0,
        }
    }

    /// How many blocks bin `i` may hold.
    #[inline(always)]
    fn cap(&self, i: usize) -> u16 {
        CACHE_CAP << self.grow[i]
    }

    /// Usable bytes and number of blocks held.
    pub fn held(&self) -> (usize, usize) {
        (self.held, self.held_blocks)
    }

    /// The least `held` since the last call, if it fell below what it
    /// was then (only then can the allocated figures have risen past what
    /// the heap saw); starts a new period.
    #[inline]
    pub(super) fn take_low(&mut self) -> Option<usize> {
        let low = (self.low < self.synced).then_some(self.low);
        self.low = self.held;
        self.synced = self.held;
        low
    }

    /// Sets the block limit from the heap's count of used blocks (this
    /// cache's included) and the bytes its blocks span.
    #[inline]
    pub(super) fn set_limit(&mut self, used_blocks: usize, heap_bytes: usize) {
        self.limit = if heap_bytes < CACHE_LIMIT_FROM {
            usize::MAX
        } else {
            (used_blocks / 2).max(CACHE_MIN_KEEP)
        };
    }

    /// Takes the newest block of bin `i`, checking and clearing its key
    /// and checking its link (damage is reported under `func`); 0 if empty.
    #[inline(always)]
    fn pop(&mut self, m: Mem, b: Bounds, i: usize, func: &'static str) -> usize {
        let h = self.heads[i];
        if h != 0 {
            // SAFETY: `h` heads bin `i`: a cached block.
            self.heads[i] = unsafe { unkey(m, b, h, func) };
            self.n[i] -= 1;
            if self.n[i] < self.lw[i] {
                self.lw[i] = self.n[i];
            }
            let u = 16 * i - HDR;
            self.held -= u;
            self.held_blocks -= 1;
            if self.held < self.low {
                self.low = self.held;
            }
        }
        h
    }

    /// A block from one of the [`CACHE_NEAR`] bins above `i` (at most
    /// `16 * CACHE_NEAR` bytes more than asked), or 0: memory the thread
    /// freed is reused before the heap is asked for more.
    #[inline(always)]
    fn pop_near(&mut self, m: Mem, b: Bounds, i: usize, func: &'static str) -> usize {
        match self.near(i) {
            Some(j) => self.pop(m, b, j, func),
            None => 0,
        }
    }

    /// Whether the next request runs the collection (see
    /// [`CACHE_GC_PERIOD`]).
    #[inline(always)]
    pub(super) fn collection_due(&self) -> bool {
        self.tick >= CACHE_GC_PERIOD - 1
    }

    /// Counts a request that the cache could not serve towards the next
    /// collection (which only a request it serves, or that finds it due,
    /// runs).
    #[inline(always)]
    pub(super) fn count_request(&mut self) {
        self.tick += 1;
    }

    /// The first non-empty bin of the [`CACHE_NEAR`] above `i`, if any.
    #[inline(always)]
    fn near(&self, i: usize) -> Option<usize> {
        (i + 1..=(i + CACHE_NEAR).min(BINS - 1)).find(|&j| self.heads[j] != 0)
    }

    /// Takes all but the newest `keep` blocks out of bin `i`; returns the
    /// first of them (still linked and keyed), or 0. Links are checked as
    /// they are followed.
    fn detach_older(
        &mut self,
        m: Mem,
        b: Bounds,
        i: usize,
        keep: usize,
        func: &'static str,
    ) -> usize {
        let (mut prev, mut cur) = (0, self.heads[i]);
        for _ in 0..keep {
            if cur == 0 {
                return 0;
            }
            prev = cur;
            // SAFETY: cached blocks link through their first payload word.
            cur = unmangle(cur, unsafe { m.rd(cur + 8) });
            if !b.link_ok(cur) {
                corrupted(func, (Corruption::CacheLink, prev));
            }
        }
        if cur == 0 {
            return 0;
        }
        if prev == 0 {
            self.heads[i] = 0;
        } else {
            // SAFETY: `prev` is a cached block.
            unsafe { m.wr(prev + 8, mangle(prev, 0)) };
        }
        let gone = self.n[i] as usize - keep;
        self.n[i] = keep as u16;
        self.lw[i] = self.lw[i].min(keep as u16);
        self.held -= gone * (16 * i - HDR);
        self.held_blocks -= gone;
        self.low = self.low.min(self.held);
        cur
    }

    /// Caches block `h` of `16 * i` bytes (the bin has room); `key` is
    /// its key ([`key_of`]).
    #[inline(always)]
    fn push(&mut self, m: Mem, i: usize, h: usize, key: usize) {
        // SAFETY: `h` is a used block of ours, at least MIN_BLOCK bytes.
        unsafe {
            m.wr(h + 8, mangle(h, self.heads[i]));
            m.wr(h + 16, key);
        }
        self.heads[i] = h;
        self.n[i] += 1;
        self.held += 16 * i - HDR;
        self.held_blocks += 1;
    }
}

impl Default for ThreadCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Takes the key off cached block `h` and returns its link to the next
/// cached block, after checking both (a write after free changes them, a
/// link forged without the secret decodes to an address out of bounds);
/// damage is reported under `func`.
///
/// # Safety
/// `h` must be a cached block: a used heap block whose first two payload
/// words belong to the cache.
#[inline(always)]
unsafe fn unkey(m: Mem, b: Bounds, h: usize, func: &'static str) -> usize {
    // SAFETY: per the contract.
    let (word, key) = unsafe { (m.rd(h + 8), m.rd(h + 16)) };
    if key != key_of(h) {
        corrupted(func, (Corruption::CacheKey, h));
    }
    let next = unmangle(h, word);
    if !b.link_ok(next) {
        corrupted(func, (Corruption::CacheLink, h));
    }
    // SAFETY: as above.
    unsafe { m.wr(h + 16, 0) };
    next
}

/// Frees block `h`, no longer cached, into `g` as an ordinary free (which
/// validates it), telling `g` what cache `c` holds now.
fn return_block<S: Source>(g: &mut RawHeap<S>, c: &ThreadCache, h: usize) {
    g.set_parked(c.held());
    match g.locate(h + HDR).and_then(|f| g.free_found(f)) {
        Ok(()) => {}
        Err(e) => super::misuse("free", e, (h + HDR) as *const u8),
    }
}

/// The calling thread's own cache, in its control block: the process
/// heap's. Nothing else uses it; callers turn it into the one `&mut` that
/// their operation passes down.
#[inline(always)]
pub(super) fn current() -> *mut ThreadCache {
    crate::thread::heap_cache()
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
        let j = if c.heads[i] != 0 { i } else { c.near(i)? };
        c.tick += 1;
        let m = self.mem();
        let h = c.pop(m, self.bounds(), j, func);
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
        let mut h = c.pop(m, b, i, func);
        if h == 0 {
            h = c.pop_near(m, b, i, func);
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
        let h = p.wrapping_sub(HDR);
        // A block address (so `p` is 16-aligned) in the top segment.
        if !self.fast_range().holds(h) {
            return Freed::ToHeap;
        }
        let m = self.mem();
        // SAFETY: `h` lies in the top segment's block area, which is
        // mapped (see `fast_range`).
        let hdr = unsafe { m.rd(h) };
        // A used, not large block of this heap's tag, of a cached size:
        // with the flags other than IN_USE and LARGE cleared and the tag
        // and IN_USE subtracted, exactly a size (no low bits left, no tag
        // bits), between MIN_BLOCK and CACHE_MAX; one comparison after a
        // rotation, which moves leftover low bits to the top.
        let s = (hdr & !PREV_IN_USE).wrapping_sub(self.tag() | IN_USE);
        if s.wrapping_sub(MIN_BLOCK).rotate_right(4) > (CACHE_MAX - MIN_BLOCK) >> 4 {
            return Freed::ToHeap;
        }
        let key = key_of(h);
        // SAFETY: the block is at least MIN_BLOCK bytes.
        if unsafe { m.rd(h + 16) } == key {
            return Freed::ToHeap; // cached already: the locked path reports it
        }
        let i = s >> 4;
        if c.n[i] >= c.cap(i) {
            return Freed::BinFull(i);
        }
        c.push(m, i, h, key);
        if c.held_blocks > c.limit {
            self.collect_cache(c);
        }
        Freed::Cached
    }

    /// Cache `c` is over its limit (see the module documentation), or its
    /// collection is due: gives back all of it, or in each bin half of the
    /// blocks that stayed unused since the last collection (see [`shed`]
    /// for which).
    #[cold]
    fn collect_cache(&self, c: &mut ThreadCache) {
        let mut g = self.lock_with(Some(c));
        if c.held_blocks > c.limit {
            flush_into(&mut g, c);
        }
        for i in 1..BINS {
            // Blocks that stayed in the bin all along: half of them go.
            let unused = c.lw[i].min(c.n[i]);
            if unused > 0 {
                shed(&mut g, c, i, unused.div_ceil(2));
                if unused > c.cap(i) / 2 && c.grow[i] > 0 && c.n[i] <= c.cap(i) / 2 {
                    c.grow[i] -= 1;
                }
            }
            c.lw[i] = c.n[i];
            c.full[i] = 0;
        }
        c.tick = 0;
    }

    /// Gives the calling thread's own cache back to the heap (a thread
    /// calls this as it ends; `trim` does it too). Only the process heap's
    /// plain entry points use the calling thread's own cache.
    pub fn flush_thread_cache(&self) {
        if self.uses_thread_cache() {
            // SAFETY: the calling thread's own cache; no other reference to
            // it is live (nothing that holds one calls this).
            let c = unsafe { &mut *current() };
            self.flush_cache(c);
        }
    }

    /// Gives all of cache `c` back to this heap.
    pub fn flush_cache(&self, c: &mut ThreadCache) {
        let mut g = self.lock_with(Some(c));
        flush_into(&mut g, c);
    }
}

/// Empties cache `c` into `g`; its bins start over at their first
/// capacity.
pub(super) fn flush_into<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache) {
    for i in 1..BINS {
        give_back(g, c, i, 0);
    }
    (c.grow, c.full, c.lw) = ([0; BINS], [0; BINS], [0; BINS]);
    c.set_limit(g.stats().used_blocks, g.block_bytes());
}

/// Frees all but the newest `keep` blocks of bin `i` of cache `c` into
/// `g` (the oldest go: in a stack-like pattern those are the highest,
/// next to the top), each validated by the heap as an ordinary free.
fn give_back<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache, i: usize, keep: usize) {
    let (m, b, func) = (g.mem(), Bounds::new(g.bounds()), g.op().unwrap_or("free"));
    let mut h = c.detach_older(m, b, i, keep, func);
    while h != 0 {
        // SAFETY: detached blocks are still cached blocks, linked and keyed.
        let next = unsafe { unkey(m, b, h, func) };
        return_block(g, c, h);
        h = next;
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
    let (m, b) = (g.mem(), Bounds::new(g.bounds()));
    let (mut bytes, mut blocks) = (0, 0);
    for i in 1..BINS {
        let (mut h, mut k) = (c.heads[i], 0);
        while h != 0 {
            if !g.is_block_addr(h) {
                r.err(format_args!("thread cache bin {i} points to {h:#x}, not a block"));
                break;
            }
            // SAFETY: `h` is a block address inside a segment.
            let (hdr, word, key) = unsafe { (m.rd(h), m.rd(h + 8), m.rd(h + 16)) };
            if hdr & (TAG_BITS | IN_USE | LARGE) != g.tag() | IN_USE
                || hdr & SIZE != 16 * i
                || key != key_of(h)
            {
                r.err(format_args!("thread cache bin {i} holds {h:#x} with header {hdr:#x}"));
                break;
            }
            k += 1;
            if k > c.cap(i) as usize {
                r.err(format_args!("thread cache bin {i} holds more than {} blocks", c.cap(i)));
                break;
            }
            h = unmangle(h, word);
            if !b.link_ok(h) {
                r.err(format_args!("thread cache bin {i} links to {h:#x}, out of bounds"));
                break;
            }
        }
        if k != c.n[i] as usize {
            r.err(format_args!("thread cache bin {i} holds {k} blocks, counts {}", c.n[i]));
        }
        bytes += k * (16 * i - HDR);
        blocks += k;
    }
    if (bytes, blocks) != c.held() {
        r.err(format_args!(
            "thread cache holds {blocks} blocks ({bytes} B), totals {} ({} B)",
            c.held_blocks, c.held
        ));
    }
    r.ok
}

/// Gives cache `c` back if it is over its limit (checked on the locked
/// free path too: frees that do not reach the cache still empty the heap).
#[inline]
pub(super) fn enforce_limit<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache) {
    if c.held_blocks > c.limit {
        flush_into(g, c);
    }
}

/// Caches a block that the heap validated (`RawHeap::locate`) in `c` if it
/// is small and its bin has room; false if it was not taken.
pub(super) fn take_checked<S: Source>(
    g: &mut RawHeap<S>,
    c: &mut ThreadCache,
    found: &super::free::Found,
) -> bool {
    let super::free::Found::Block { h, s, .. } = *found else { return false };
    if s > CACHE_MAX || c.n[s >> 4] >= c.cap(s >> 4) {
        return false;
    }
    c.push(g.mem(), s >> 4, h, key_of(h));
    g.set_parked(c.held());
    enforce_limit(g, c);
    true
}

/// Cache `c`'s bin `i` is full: a bin found full more than
/// [`CACHE_GROW_AFTER`] times since the last collection may hold twice as
/// many blocks (within [`CACHE_CAP_MAX`] and [`CACHE_BUDGET`]); otherwise
/// half of it, at most [`CACHE_CAP`] blocks, goes back to the heap.
pub(super) fn spill<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache, i: usize) {
    let cap = c.cap(i);
    c.full[i] = c.full[i].saturating_add(1);
    if c.full[i] > CACHE_GROW_AFTER
        && cap < CACHE_CAP_MAX
        && c.held + cap as usize * (16 * i - HDR) <= CACHE_BUDGET
    {
        c.grow[i] += 1;
    } else {
        shed(g, c, i, (cap / 2).min(CACHE_CAP));
    }
}

/// Gives `k` blocks of cache `c`'s bin `i` back to the heap: the oldest
/// in a small bin (in a stack-like pattern those are the highest, next to
/// the top), the newest in a big one (the oldest would take a walk down
/// the whole list).
fn shed<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache, i: usize, k: u16) {
    let n = c.n[i];
    if n <= CACHE_CAP {
        give_back(g, c, i, (n - k.min(n)) as usize);
        return;
    }
    let (m, b, func) = (g.mem(), Bounds::new(g.bounds()), g.op().unwrap_or("free"));
    for _ in 0..k {
        let h = c.pop(m, b, i, func);
        if h == 0 {
            break;
        }
        return_block(g, c, h);
    }
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
