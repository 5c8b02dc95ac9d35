//! The bins of a thread cache: the data structure. Bin `i` is a list of
//! cached blocks of [`bin_bytes`]`(i)` bytes (`16 * i` in the small bins,
//! then the medium sizes), newest first, with its count; the
//! totals of what the bins hold and their low-water marks are kept as
//! blocks come and go.
//!
//! A cached block stays *in use* to the heap: its header is never written
//! outside the lock (the heap changes a neighbour's `PREV_IN_USE` bit
//! under the lock, so the cache must not touch headers). The cache links
//! its blocks through the first payload word and marks each with a key in
//! the second ([`key_of`]), which names the block's own address and the
//! process's secret ([`secret`]): a second `free` of a cached
//! block finds the key and is reported as a double free, by the cache and
//! by the heap alike (`RawHeap::locate` checks keys in heaps that have
//! caches). Links are stored mangled with the secret and the address they
//! are stored at (glibc's safe-linking, with a secret): `malloc` checks the
//! key and the decoded link of the block it takes, so a write into a freed
//! block, or a link forged without the secret, is caught there and
//! reported. A key exists only while its block is cached: taking a block
//! out of a cache, to hand out or to give back to the heap, clears it.

use super::super::block::{Mem, HDR, IN_USE, LARGE, SIZE, TAG_BITS};
use super::super::check::Report;
use super::super::class::Damage;
use super::super::error::{Corruption, HeapError};
use super::super::raw::RawHeap;
use super::super::secret;
use super::super::source::Source;

/// The largest block size (header included) of the small bins: one per
/// 16 bytes.
pub const CACHE_MAX: usize = 1024;
/// The small bins: bin `i` holds blocks of `16 * i` bytes.
pub(in crate::heap) const SMALL_BINS: usize = CACHE_MAX / 16 + 1;
/// The largest block size of the medium bins: four per doubling of the
/// payload above [`CACHE_MAX`] (blocks of 1,296, 1,552, 1,808, 2,064, 2,576,
/// ... 32,784, 40,976 bytes: payloads of 1,280 ... 40,960 bytes and the
/// header, aligned), so that requests up to 40,968 bytes are cached too,
/// and a request of a power of two or a quarter between two takes a
/// block of just its size.
pub const CACHE_MEDIUM_MAX: usize = 40960 + 16;
/// The medium bins (see [`medium_bytes`]).
const MEDIUM_BINS: usize = 21;
/// All bins: the small ones, then the medium ones.
pub(in crate::heap) const BINS: usize = SMALL_BINS + MEDIUM_BINS;
/// How many bins above its own a request may take a cached block from.
pub const CACHE_NEAR: usize = 2;

/// The block size of medium bin `i` (`SMALL_BINS <= i < BINS`): with
/// `k = i - SMALL_BINS + 1`, `(4 + k % 4) << (8 + k / 4)` and 16 bytes
/// for the header (aligned).
#[inline(always)]
const fn medium_bytes(i: usize) -> usize {
    let k = i + 1 - SMALL_BINS;
    ((4 + k % 4) << (8 + k / 4)) + 16
}

/// The size of the blocks bin `i` holds.
#[inline(always)]
pub(in crate::heap) const fn bin_bytes(i: usize) -> usize {
    if i < SMALL_BINS {
        16 * i
    } else {
        medium_bytes(i)
    }
}

/// The medium bin whose size is exactly `s` bytes, if there is one: `s`
/// less 16 is above [`CACHE_MAX`], at most [`CACHE_MEDIUM_MAX`] less 16,
/// and a multiple of a quarter of the power of two below it.
#[inline]
pub(in crate::heap) fn medium_bin(s: usize) -> Option<usize> {
    let t = s.wrapping_sub(16);
    if t <= CACHE_MAX || t > CACHE_MEDIUM_MAX - 16 {
        return None;
    }
    let e = usize::BITS - 1 - t.leading_zeros();
    let q = t >> (e - 2);
    if q << (e - 2) != t {
        return None;
    }
    // `t = q << (e - 2)`, `4 <= q < 8`: `k = 4 * (e - 10) + q - 4`.
    Some(SMALL_BINS - 1 + 4 * (e as usize - 10) + q - 4)
}

/// The bin of the blocks a thread cache may hold: `s` bytes, a small
/// bin's or a medium bin's size exactly.
#[inline]
pub(super) fn bin_of(s: usize) -> Option<usize> {
    if s <= CACHE_MAX {
        (s >= 32 && s % 16 == 0).then_some(s >> 4)
    } else {
        medium_bin(s)
    }
}

/// The medium bin for a block of at least `b` bytes (`CACHE_MAX < b <=
/// CACHE_MEDIUM_MAX`): the least medium size that holds it.
#[inline]
pub(in crate::heap) fn medium_bin_for(b: usize) -> usize {
    debug_assert!(b > CACHE_MAX && b <= CACHE_MEDIUM_MAX);
    // The payload part, rounded up to a quarter of its power of two.
    let t = b.saturating_sub(16).max(CACHE_MAX + 1);
    let e = usize::BITS - 1 - (t - 1).leading_zeros();
    let step = 1usize << (e - 2);
    let up = (t + step - 1) & !(step - 1);
    // `up + 16` is a medium size (so never the last bin's fallback,
    // which would still fit).
    medium_bin(up + 16).unwrap_or(BINS - 1)
}

/// The key that marks block `h` as cached (see the module documentation).
#[inline(always)]
pub fn key_of(h: usize) -> usize {
    h ^ secret::key_mask()
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
pub(in crate::heap) struct Bounds {
    lo: usize,
    span16: usize,
}

impl Bounds {
    /// The bounds of `(lowest first header, highest sentinel)`.
    pub(in crate::heap) fn new((lo, hi): (usize, usize)) -> Bounds {
        Bounds::from_span(lo, (hi - lo) >> 4)
    }

    /// The bounds from `lo` and the span in 16-byte steps.
    #[inline(always)]
    pub(in crate::heap) fn from_span(lo: usize, span16: usize) -> Bounds {
        Bounds { lo, span16 }
    }

    /// Whether `x` is a block address in bounds (one comparison, as in
    /// [`link_ok`](Self::link_ok)).
    #[inline(always)]
    pub(in crate::heap) fn holds(self, x: usize) -> bool {
        x.wrapping_sub(self.lo).rotate_right(4) < self.span16
    }

    /// Whether `x` can be a link: none, or a block address in bounds. One
    /// comparison: `lo` is a block address (≡ 8 mod 16), so `x - lo` of a
    /// block address is a multiple of 16, and rotating it right by 4 moves
    /// any other low bits to the top; none (0) is tested as `lo`, which is
    /// in bounds whenever a block is (a conditional move, not a branch:
    /// whether a link ends its list is what a branch would mispredict,
    /// about one `malloc` in eight of a random-size workload, whereas the
    /// result is always true in a sound cache).
    #[inline(always)]
    pub(in crate::heap) fn link_ok(self, x: usize) -> bool {
        self.holds(if x == 0 { self.lo } else { x })
    }
}

/// A cached block's key or link was found overwritten: reports it under
/// `func` and aborts.
#[cold]
#[inline(never)]
fn corrupted(func: &'static str, (k, h): Damage) -> ! {
    super::super::misuse(func, HeapError::Corrupted(k), (h + HDR) as *const u8)
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
pub(super) unsafe fn unkey(m: Mem, b: Bounds, h: usize, func: &'static str) -> usize {
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

/// A bin index as the arrays take it: `i` itself. Every index the cache
/// uses is a block size over 16 of at most [`CACHE_MAX`], checked where it
/// is made (`cacheable`, the header check of the cache's free path,
/// `take_checked`, the policy's loops over `0..BINS`); the indexing below
/// relies on it without a bounds check, so that no panic path is compiled
/// into `malloc` and `free` (and no instruction spent on one).
#[inline(always)]
pub(super) fn ix(i: usize) -> usize {
    debug_assert!(i < BINS, "bin index {i}");
    i
}

/// Unchecked indexing by bin (see [`ix`]).
pub(super) trait At<T> {
    /// Element `i`, which [`ix`] vouches for.
    fn at(&self, i: usize) -> &T;
    /// Element `i`, to change.
    fn at_mut(&mut self, i: usize) -> &mut T;
}

impl<T> At<T> for [T; BINS] {
    #[inline(always)]
    fn at(&self, i: usize) -> &T {
        // SAFETY: `i < BINS` (see `ix`).
        unsafe { self.get_unchecked(ix(i)) }
    }
    #[inline(always)]
    fn at_mut(&mut self, i: usize) -> &mut T {
        // SAFETY: `i < BINS` (see `ix`).
        unsafe { self.get_unchecked_mut(ix(i)) }
    }
}

/// The bins; all zeros is empty.
#[repr(C)]
pub(super) struct Bins {
    /// The newest block of each bin (0: empty); each block links to the
    /// next older one (mangled, see [`mangle`]) and carries its key.
    heads: [usize; BINS],
    /// `n[i]` is the length of bin `i`'s list.
    n: [u16; BINS],
    /// Low-water marks: `lw[i] <= n[i]` is the least `n[i]` since the
    /// policy last reset it.
    lw: [u16; BINS],
    /// Usable bytes (`bin_bytes(i) - HDR` each) and number of the blocks held:
    /// the sums over the bins.
    held: usize,
    held_blocks: usize,
    /// Usable bytes of the blocks in the medium bins (part of `held`).
    medium: usize,
    /// The least `held` since the heap last saw this cache (for the peak
    /// and the low-water mark, see `RawHeap::parked`).
    low: usize,
    /// `held` at the heap's last look ([`take_low`](Self::take_low)).
    synced: usize,
}

impl Bins {
    /// Empty bins.
    pub(super) const fn new() -> Self {
        Bins {
            heads: [0; BINS],
            n: [0; BINS],
            lw: [0; BINS],
            held: 0,
            held_blocks: 0,
            medium: 0,
            low: 0,
            synced: 0,
        }
    }

    /// Whether bin `i` holds a block.
    #[inline(always)]
    pub(super) fn has(&self, i: usize) -> bool {
        *self.heads.at(i) != 0
    }

    /// How many blocks bin `i` holds.
    #[inline(always)]
    pub(super) fn len(&self, i: usize) -> u16 {
        *self.n.at(i)
    }

    /// The least length of bin `i` since [`reset_low`](Self::reset_low).
    #[inline]
    pub(super) fn low_water(&self, i: usize) -> u16 {
        *self.lw.at(i)
    }

    /// Starts bin `i`'s low-water mark over at its length.
    #[inline]
    pub(super) fn reset_low(&mut self, i: usize) {
        *self.lw.at_mut(i) = *self.n.at(i);
    }

    /// Sets every low-water mark to zero (the bins are empty).
    pub(super) fn clear_low(&mut self) {
        self.lw = [0; BINS];
    }

    /// Usable bytes and number of blocks held.
    #[inline(always)]
    pub(super) fn held(&self) -> (usize, usize) {
        (self.held, self.held_blocks)
    }

    /// Usable bytes held in the medium bins.
    #[inline]
    pub(super) fn held_medium(&self) -> usize {
        self.medium
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

    /// Takes the newest block of small bin `i`, checking and clearing its
    /// key and checking its link (damage is reported under `func`); 0 if
    /// empty.
    #[inline(always)]
    pub(super) fn pop(&mut self, m: Mem, b: Bounds, i: usize, func: &'static str) -> usize {
        debug_assert!(i < SMALL_BINS);
        self.pop_sized(m, b, i, 16 * i, func)
    }

    /// [`pop`](Self::pop) for any bin.
    #[inline]
    pub(super) fn pop_any(&mut self, m: Mem, b: Bounds, i: usize, func: &'static str) -> usize {
        let bytes = bin_bytes(i);
        let h = self.pop_sized(m, b, i, bytes, func);
        if h != 0 && i >= SMALL_BINS {
            self.medium -= bytes - HDR;
        }
        h
    }

    /// [`pop`](Self::pop) of bin `i`, whose blocks are `bytes` bytes.
    #[inline(always)]
    fn pop_sized(
        &mut self,
        m: Mem,
        b: Bounds,
        i: usize,
        bytes: usize,
        func: &'static str,
    ) -> usize {
        let h = *self.heads.at(i);
        if h != 0 {
            // SAFETY: `h` heads bin `i`: a cached block.
            *self.heads.at_mut(i) = unsafe { unkey(m, b, h, func) };
            *self.n.at_mut(i) -= 1;
            // The low-water marks by `min` and a plain store, without a
            // branch (which would mispredict as the bins fill and drain).
            *self.lw.at_mut(i) = (*self.lw.at(i)).min(*self.n.at(i));
            self.held -= bytes - HDR;
            self.held_blocks -= 1;
            self.low = self.low.min(self.held);
        }
        h
    }

    /// A block from one of the [`CACHE_NEAR`] bins above `i` (at most
    /// `16 * CACHE_NEAR` bytes more than asked), or 0: memory the thread
    /// freed is reused before the heap is asked for more.
    #[inline(always)]
    pub(super) fn pop_near(&mut self, m: Mem, b: Bounds, i: usize, func: &'static str) -> usize {
        match self.near(i) {
            Some(j) => self.pop(m, b, j, func),
            None => 0,
        }
    }

    /// The first non-empty bin of the [`CACHE_NEAR`] small bins above `i`,
    /// if any.
    #[inline(always)]
    pub(super) fn near(&self, i: usize) -> Option<usize> {
        (1..=CACHE_NEAR).map(|d| i + d).find(|&j| j < SMALL_BINS && *self.heads.at(j) != 0)
    }

    /// Takes all but the newest `keep` blocks out of bin `i`; returns the
    /// first of them (still linked and keyed), or 0. Links are checked as
    /// they are followed.
    pub(super) fn detach_older(
        &mut self,
        m: Mem,
        b: Bounds,
        i: usize,
        keep: usize,
        func: &'static str,
    ) -> usize {
        let (mut prev, mut cur) = (0, *self.heads.at(i));
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
            *self.heads.at_mut(i) = 0;
        } else {
            // SAFETY: `prev` is a cached block.
            unsafe { m.wr(prev + 8, mangle(prev, 0)) };
        }
        let gone = *self.n.at(i) as usize - keep;
        *self.n.at_mut(i) = keep as u16;
        *self.lw.at_mut(i) = (*self.lw.at(i)).min(keep as u16);
        let bytes = gone * (bin_bytes(i) - HDR);
        self.held -= bytes;
        self.held_blocks -= gone;
        if i >= SMALL_BINS {
            self.medium -= bytes;
        }
        self.low = self.low.min(self.held);
        cur
    }

    /// Caches block `h` of `bytes` bytes, `bin_bytes(i)` (which the
    /// caller knows without computing it), in bin `i` (which has room, and
    /// is a medium bin if `medium`); `key` is its key ([`key_of`]).
    #[inline(always)]
    pub(super) fn push(
        &mut self,
        m: Mem,
        (i, medium): (usize, bool),
        bytes: usize,
        h: usize,
        key: usize,
    ) {
        debug_assert_eq!(bytes, bin_bytes(i));
        debug_assert_eq!(medium, i >= SMALL_BINS);
        // SAFETY: `h` is a used block of ours, at least MIN_BLOCK bytes.
        unsafe {
            m.wr(h + 8, mangle(h, *self.heads.at(i)));
            m.wr(h + 16, key);
        }
        *self.heads.at_mut(i) = h;
        *self.n.at_mut(i) += 1;
        self.held += bytes - HDR;
        self.held_blocks += 1;
        if medium {
            self.medium += bytes - HDR;
        }
    }

    /// Checks the bins against heap `g`: every cached block is a used
    /// block of its bin's size with its key and a link in bounds, no bin
    /// holds more than `cap(i)`, and the counts and totals agree.
    pub(super) fn check<S: Source>(
        &self,
        g: &RawHeap<S>,
        cap: impl Fn(usize) -> usize,
        r: &mut Report<'_>,
    ) {
        let (m, b) = (g.mem(), Bounds::new(g.bounds()));
        let (mut bytes, mut blocks, mut medium) = (0, 0, 0);
        for i in 1..BINS {
            let (mut h, mut k) = (*self.heads.at(i), 0);
            while h != 0 {
                if !g.is_block_addr(h) {
                    r.err(format_args!("thread cache bin {i} points to {h:#x}, not a block"));
                    break;
                }
                // SAFETY: `h` is a block address inside a segment.
                let (hdr, word, key) = unsafe { (m.rd(h), m.rd(h + 8), m.rd(h + 16)) };
                if hdr & (TAG_BITS | IN_USE | LARGE) != g.tag() | IN_USE
                    || hdr & SIZE != bin_bytes(i)
                    || key != key_of(h)
                {
                    r.err(format_args!("thread cache bin {i} holds {h:#x} with header {hdr:#x}"));
                    break;
                }
                k += 1;
                if k > cap(i) {
                    r.err(format_args!("thread cache bin {i} holds more than {} blocks", cap(i)));
                    break;
                }
                h = unmangle(h, word);
                if !b.link_ok(h) {
                    r.err(format_args!("thread cache bin {i} links to {h:#x}, out of bounds"));
                    break;
                }
            }
            if k != *self.n.at(i) as usize {
                r.err(format_args!(
                    "thread cache bin {i} holds {k} blocks, counts {}",
                    *self.n.at(i)
                ));
            }
            bytes += k * (bin_bytes(i) - HDR);
            blocks += k;
            if i >= SMALL_BINS {
                medium += k * (bin_bytes(i) - HDR);
            }
        }
        if (bytes, blocks) != self.held() {
            r.err(format_args!(
                "thread cache holds {blocks} blocks ({bytes} B), totals {} ({} B)",
                self.held_blocks, self.held
            ));
        }
        if medium != self.medium {
            r.err(format_args!(
                "thread cache holds {medium} B in its medium bins, totals {} B",
                self.medium
            ));
        }
    }
}
