//! How much a thread cache keeps: the policy over its bins (`bins.rs`).
//!
//! Bounds: a bin holds [`CACHE_CAP`] blocks at first. A free that finds its
//! bin full takes the lock; there a bin found full more than
//! [`CACHE_GROW_AFTER`] times since the last collection doubles its
//! capacity (up to [`CACHE_CAP_MAX`], while the cache holds less than
//! [`CACHE_BUDGET`] bytes), so that a thread that frees and reallocates big
//! batches of one size keeps them, while a mix of sizes that comes and
//! goes does not pile up blocks (blocks that other threads freed, taken
//! back from the heap's remote list into a full bin, count and grow it
//! the same way: a thread that allocates what others free gets them back
//! in bursts); otherwise the bin gives blocks back: the
//! older half of a small bin (in a stack-like pattern those are the
//! highest, next to the top), the newest [`CACHE_CAP`] of a big one. Every
//! [`CACHE_GC_PERIOD`] requests, each bin gives back half of the blocks it
//! held all along since the last such collection (its low-water mark, as
//! jemalloc's thread caches do) and halves its capacity if most of it went
//! unused, so that a cache holds about what the thread reuses. In a heap
//! whose blocks span [`CACHE_LIMIT_FROM`] or more, a cache may also hold no
//! more than half of the heap's used blocks (its own included, as of the
//! thread's last locked call; at least [`CACHE_MIN_KEEP`]), beyond which
//! the thread gives its whole cache back: so when a program frees a big
//! burst of blocks, in any order, the blocks reach the heap, which
//! coalesces them and gives the memory back to the kernel, instead of
//! cached blocks scattered over it keeping their pages resident; in a small
//! heap, stack-like rounds of allocation and free stay in the cache. Not
//! while the thread draws on its cache as it fills it: when, since the
//! limit was last met, it took out at least one block for every three it
//! gained, and the cache holds less than [`CACHE_DEFER_MAX`], the limit is
//! raised by a quarter instead (a live set that shrinks while the program
//! still allocates, whose blocks the next growth reuses; giving them all
//! back sent that growth through the heap's lock block by block). A
//! thread's cache is emptied when the thread ends, by `trim`, and by an
//! allocation that would fail otherwise (before it reports ENOMEM).
//!
//! The medium bins (blocks over 1 KiB, up to 40 KiB) hold
//! [`CACHE_MEDIUM_CAP`] blocks each at first, grow as the small ones do,
//! and together hold at most 1/[`CACHE_MEDIUM_SHARE`] of the bytes the
//! heap's blocks span (at least [`CACHE_MEDIUM_MIN`]): a medium block kept
//! from the heap keeps its free neighbours from coalescing, and the heap
//! fragments around it. Their bytes do not count towards
//! [`CACHE_DEFER_MAX`] (a few of them would end the deferral). Once the
//! heap's source was refused memory (a memory limit is near: `brk` or
//! `mmap` failed once), the medium bins take no more blocks and medium
//! requests are no longer rounded up to their bins' sizes. (Under 1 MiB
//! of RLIMIT_DATA, `tests/heap/oom.rs`'s random run with up to 640 KiB
//! live failed with 564 KB live on average over 20 seeds before the
//! medium bins, with 400 KB with them unbounded, and fails with 561 KB
//! with these bounds.)

use super::super::block::{Mem, HDR};
use super::super::free::Found;
use super::super::heap::Heap;
use super::super::raw::RawHeap;
use super::super::source::Source;
use super::bins::{bin_bytes, bin_of, key_of, unkey, At, Bounds, BINS, SMALL_BINS};
use super::{Freed, ThreadCache};

/// Blocks cached per size, in a small bin.
pub const CACHE_CAP: u16 = 32;
/// Blocks cached per size, in a medium bin (over 1 KiB: fewer; what the
/// medium bins hold in all is bounded by [`CACHE_MEDIUM_SHARE`]).
pub const CACHE_MEDIUM_CAP: u16 = 4;
/// The most blocks a bin may grow to hold.
pub const CACHE_CAP_MAX: u16 = 16384;
/// Usable bytes beyond which a cache's bins stop growing.
pub const CACHE_BUDGET: usize = 2 << 20;
/// The fewest blocks a cache may always hold (see the module documentation).
pub const CACHE_MIN_KEEP: usize = 64;
/// A heap whose blocks span less than this has no block limit: the blocks
/// a cache could keep there hold little memory.
pub const CACHE_LIMIT_FROM: usize = 4 << 20;
/// A bin grows once it was found full more than this many times since the
/// last collection: batches of one size, not the ups and downs of a mix.
/// (It was 8: a stack-like round of 1000 blocks of mixed sizes, whose bins
/// each overflow a few times a round, then went through the heap's lock on
/// most frees and allocations; at 2 such a round stays in the cache, for
/// 42% fewer instructions in `bench/malloc_bench.c`'s lifo and 52 KiB more
/// peak RSS there, and the other workloads within 1%.)
pub const CACHE_GROW_AFTER: u8 = 2;
/// Requests to a cache between two collections of its unused blocks.
pub const CACHE_GC_PERIOD: usize = 8192;
/// The medium bins together hold at most this share of the bytes the
/// heap's blocks span (as of the thread's last locked call; at least
/// [`CACHE_MEDIUM_MIN`]): medium blocks kept from the heap keep it from
/// coalescing them, and the bigger they are the more a heap fragments
/// around them.
pub const CACHE_MEDIUM_SHARE: usize = 4;
/// The usable bytes the medium bins may always hold.
pub const CACHE_MEDIUM_MIN: usize = 32 << 10;
/// Usable bytes up to which a cache that the thread draws on as it fills
/// it may go on past its block limit (see the module documentation).
pub const CACHE_DEFER_MAX: usize = 1 << 20;

/// The first capacity of bin `i`: [`CACHE_CAP`] or [`CACHE_MEDIUM_CAP`].
#[inline]
fn first_cap(i: usize) -> u16 {
    if i < SMALL_BINS {
        CACHE_CAP
    } else {
        CACHE_MEDIUM_CAP
    }
}

impl ThreadCache {
    /// How many blocks bin `i` may hold.
    #[inline]
    pub(super) fn cap(&self, i: usize) -> u16 {
        first_cap(i) + *self.extra.at(i)
    }

    /// Whether a block of `bytes` bytes fits in the room of the medium
    /// bins (see [`CACHE_MEDIUM_SHARE`]).
    #[inline]
    pub(super) fn medium_fits(&self, bytes: usize) -> bool {
        self.bins.held_medium() + bytes - HDR <= self.medium_room
    }

    /// How many blocks small bin `i` may hold.
    #[inline(always)]
    pub(super) fn small_cap(&self, i: usize) -> u16 {
        debug_assert!(i < SMALL_BINS);
        CACHE_CAP + *self.extra.at(i)
    }

    /// Sets bin `i`'s capacity to `cap` blocks (a power of two times its
    /// first capacity).
    fn set_cap(&mut self, i: usize, cap: u16) {
        *self.extra.at_mut(i) = cap - first_cap(i);
    }

    /// Bin `i` was found full: counts it, and doubles its capacity if it
    /// was found full more than [`CACHE_GROW_AFTER`] times since the last
    /// collection (within [`CACHE_CAP_MAX`] and [`CACHE_BUDGET`]); whether
    /// it did.
    fn grow(&mut self, i: usize) -> bool {
        let cap = self.cap(i);
        *self.full.at_mut(i) = self.full.at(i).saturating_add(1);
        let grows = *self.full.at(i) > CACHE_GROW_AFTER
            && cap < CACHE_CAP_MAX
            && self.held().0 + cap as usize * (bin_bytes(i) - HDR) <= CACHE_BUDGET;
        if grows {
            self.set_cap(i, 2 * cap);
        }
        grows
    }

    /// Whether the cache holds more blocks than its limit.
    #[inline(always)]
    pub(in crate::heap) fn over_limit(&self) -> bool {
        self.bins.held().1 > self.limit
    }

    /// Sets the block limit from the heap's count of used blocks (this
    /// cache's included) and the bytes its blocks span; a deferred limit
    /// ([`must_give_back`](Self::must_give_back)) stands. Sets the room of
    /// the medium bins from the latter too, none if the heap's source was
    /// ever `refused` memory.
    #[inline]
    pub(in crate::heap) fn set_limit(
        &mut self,
        used_blocks: usize,
        heap_bytes: usize,
        refused: bool,
    ) {
        self.medium_off = refused;
        self.medium_room =
            if refused { 0 } else { (heap_bytes / CACHE_MEDIUM_SHARE).max(CACHE_MEDIUM_MIN) };
        self.limit = if heap_bytes < CACHE_LIMIT_FROM {
            usize::MAX
        } else {
            (used_blocks / 2).max(CACHE_MIN_KEEP).max(self.defer)
        };
    }

    /// The cache is over its limit: whether it must be given back now.
    /// Not while the thread draws on it as it fills it (since the limit
    /// was last met, it took out at least one block for every three it
    /// gained) and it holds less than [`CACHE_DEFER_MAX`]: the limit is
    /// then raised by a quarter, and met again there. A burst of frees
    /// draws nothing, and goes back at once.
    #[cold]
    #[inline(never)]
    pub(super) fn must_give_back(&mut self) -> bool {
        let (bytes, held) = self.bins.held();
        // Blocks taken out since the snapshot: `tick` counts the requests
        // since the last collection, which takes a new snapshot.
        let drawn = self.tick - self.snap_tick;
        let keep =
            3 * drawn + self.snap_held >= held && bytes - self.bins.held_medium() < CACHE_DEFER_MAX;
        (self.snap_held, self.snap_tick) = (held, self.tick);
        if keep {
            // Above `held`, so above the limit the cache is over.
            self.defer = held + (held / 4).max(CACHE_MIN_KEEP);
            self.limit = self.defer;
        } else {
            self.defer = 0;
        }
        !keep
    }

    /// Whether the next request runs the collection (see
    /// [`CACHE_GC_PERIOD`]).
    #[inline(always)]
    pub(in crate::heap) fn collection_due(&self) -> bool {
        self.tick >= CACHE_GC_PERIOD - 1
    }

    /// Counts a request that the cache could not serve towards the next
    /// collection (which only a request it serves, or that finds it due,
    /// runs).
    #[inline(always)]
    pub(in crate::heap) fn count_request(&mut self) {
        self.tick += 1;
    }
}

impl<S: Source> Heap<S> {
    /// Cache `c` is over its limit (see the module documentation), or its
    /// collection is due: gives back all of it, or in each bin half of the
    /// blocks that stayed unused since the last collection (see [`shed`]
    /// for which).
    #[cold]
    pub(super) fn collect_cache(&self, c: &mut ThreadCache) {
        let mut g = self.lock_with(Some(c));
        enforce_limit(&mut g, c);
        for i in 1..BINS {
            // Blocks that stayed in the bin all along: half of them go.
            let unused = c.bins.low_water(i).min(c.bins.len(i));
            if unused > 0 {
                shed(&mut g, c, i, unused.div_ceil(2));
                let cap = c.cap(i);
                if unused > cap / 2 && cap > first_cap(i) && c.bins.len(i) <= cap / 2 {
                    c.set_cap(i, cap / 2);
                }
            }
            c.bins.reset_low(i);
            *c.full.at_mut(i) = 0;
        }
        c.tick = 0;
        (c.snap_held, c.snap_tick) = (c.held().1, 0);
    }
}

/// Frees block `h`, no longer cached, into `g` as an ordinary free (which
/// validates it), telling `g` what cache `c` holds now.
fn return_block<S: Source>(g: &mut RawHeap<S>, c: &ThreadCache, h: usize) {
    g.set_parked(c.held());
    match g.locate(h + HDR).and_then(|f| g.free_found(f)) {
        Ok(()) => {}
        Err(e) => super::super::misuse("free", e, (h + HDR) as *const u8),
    }
}

/// Empties cache `c` into `g`; its bins start over at their first
/// capacity.
pub(in crate::heap) fn flush_into<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache) {
    for i in 1..BINS {
        give_back(g, c, i, 0);
    }
    (c.extra, c.full) = ([0; BINS], [0; BINS]);
    c.bins.clear_low();
    (c.defer, c.snap_held, c.snap_tick) = (0, 0, c.tick);
    c.set_limit(g.stats().used_blocks, g.block_bytes(), g.source_ref().refused());
}

/// Frees all but the newest `keep` blocks of bin `i` of cache `c` into
/// `g` (the oldest go: in a stack-like pattern those are the highest,
/// next to the top), each validated by the heap as an ordinary free.
fn give_back<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache, i: usize, keep: usize) {
    let (m, b, func) = (g.mem(), Bounds::new(g.bounds()), g.op().unwrap_or("free"));
    let mut h = c.bins.detach_older(m, b, i, keep, func);
    while h != 0 {
        // SAFETY: detached blocks are still cached blocks, linked and keyed.
        let next = unsafe { unkey(m, b, h, func) };
        return_block(g, c, h);
        h = next;
    }
}

/// Gives cache `c` back if it is over its limit (checked on the locked
/// free path too: frees that do not reach the cache still empty the heap).
#[inline(never)]
pub(in crate::heap) fn enforce_limit<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache) {
    if c.over_limit() && c.must_give_back() {
        flush_into(g, c);
    }
}

/// Caches used block `h` of `s` bytes, which the caller checked, in `c`
/// if `s` is a bin's size (a medium one's within the medium bins' room)
/// and the bin has room or grows ([`ThreadCache::grow`]: a full bin grows
/// as it would for the free fast path, so a thread that allocates what
/// other threads free gets its blocks back in bursts, but gives nothing
/// back here). [`Freed::ToHeap`]: no bin has the size; [`Freed::BinFull`]:
/// the bin, or the medium bins' room, is full; either way the heap takes
/// the block. Inlined: `take_remote`'s loop would call it for every block.
#[inline(always)]
fn offer(m: Mem, c: &mut ThreadCache, h: usize, s: usize) -> Freed {
    let Some(i) = bin_of(s) else { return Freed::ToHeap };
    if i >= SMALL_BINS && !c.medium_fits(s) {
        return Freed::BinFull(i);
    }
    if c.bins.len(i) >= c.cap(i) && !c.grow(i) {
        return Freed::BinFull(i);
    }
    c.bins.push(m, (i, i >= SMALL_BINS), s, h, key_of(h));
    Freed::Cached
}

/// Caches a block that the heap validated (`RawHeap::locate`) in `c` if it
/// is of a bin's size and its bin has room, or grows ([`offer`]); false if
/// it was not taken.
pub(in crate::heap) fn take_checked<S: Source>(
    g: &mut RawHeap<S>,
    c: &mut ThreadCache,
    found: &Found,
) -> bool {
    let Found::Block { h, s, .. } = *found else { return false };
    if !matches!(offer(g.mem(), c, h, s), Freed::Cached) {
        return false;
    }
    g.set_parked(c.held());
    enforce_limit(g, c);
    true
}

/// Caches block `h`, just taken off the remote list of `heap` (under the
/// lock), in `c` when `free` would have cached it without the lock, after
/// the same checks (`Heap::cache_free`, `Heap::cache_free_medium`): a
/// used, not large block of the top segment (as published) that
/// [`offer`] takes; the block is the heap's and no longer listed (its
/// remote key, checked and cleared, said so). [`Freed::BinFull`]: the heap
/// takes the block; [`Freed::ToHeap`]: those checks do not vouch for it,
/// the heap's full check (`RawHeap::locate`) decides. The caller enforces
/// the cache's limit, and tells the heap what the cache holds before it
/// frees or gives back a block and after the list (the heap's figures are
/// not read meanwhile).
#[inline]
pub(in crate::heap) fn take_listed<S: Source>(
    heap: &Heap<S>,
    c: &mut ThreadCache,
    h: usize,
) -> Freed {
    match heap.top_block(h + HDR) {
        Some((h, s)) => offer(heap.mem(), c, h, s),
        None => Freed::ToHeap,
    }
}

/// Cache `c`'s bin `i` is full: a bin found full more than
/// [`CACHE_GROW_AFTER`] times since the last collection may hold twice as
/// many blocks (within [`CACHE_CAP_MAX`] and [`CACHE_BUDGET`]); otherwise
/// half of it, at most [`CACHE_CAP`] blocks, goes back to the heap.
pub(in crate::heap) fn spill<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache, i: usize) {
    if !c.grow(i) {
        shed(g, c, i, (c.cap(i) / 2).min(CACHE_CAP));
    }
}

/// Gives `k` blocks of cache `c`'s bin `i` back to the heap: the oldest
/// in a small bin (in a stack-like pattern those are the highest, next to
/// the top), the newest in a big one (the oldest would take a walk down
/// the whole list).
fn shed<S: Source>(g: &mut RawHeap<S>, c: &mut ThreadCache, i: usize, k: u16) {
    let n = c.bins.len(i);
    if n <= CACHE_CAP {
        give_back(g, c, i, (n - k.min(n)) as usize);
        return;
    }
    let (m, b, func) = (g.mem(), Bounds::new(g.bounds()), g.op().unwrap_or("free"));
    for _ in 0..k {
        let h = c.bins.pop_any(m, b, i, func);
        if h == 0 {
            break;
        }
        return_block(g, c, h);
    }
}
