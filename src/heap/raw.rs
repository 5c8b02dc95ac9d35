//! [`RawHeap`]: the allocator core, `&mut self`, no locks. Its state and
//! how it takes on memory; the operations live in sibling files.

use super::block::{dirty_of, Mem, HDR, PURGE_MIN};
use super::class::{Damage, FreeLists, Walk};
use super::decay::Decay;
use super::error::HeapError;
use super::large::LargeSet;
use super::segment::Segments;
use super::source::Source;

mod grow;
mod purge;
mod view;

pub use grow::AddRegion;

/// Requests at or above this many bytes get their own mapping by default
/// (until a freed large block raises it, see [`MAX_DYN_MMAP_THRESHOLD`]).
pub const DEFAULT_MMAP_THRESHOLD: usize = 128 * 1024;
/// A free top bigger than this is given back by default. It exceeds
/// [`TRIM_KEEP`] plus the break's growth step
/// ([`GROW_STEP`](super::GROW_STEP)), so that a working set that grew the
/// heap once and is freed again does not trim and regrow every round
/// (the trim's hysteresis).
pub const DEFAULT_TRIM_THRESHOLD: usize = 2048 * 1024;
/// How much free top an automatic trim keeps.
pub const TRIM_KEEP: usize = 128 * 1024;
/// The most free top the heap keeps at the default thresholds once
/// everything was freed: a top up to the trim threshold is kept (its
/// pages purged with the rest of the dirty memory once unused for
/// [`PURGE_DELAY_MS`](super::PURGE_DELAY_MS), so that it is reused
/// without faults until then); above it, an automatic trim leaves
/// [`TRIM_KEEP`].
pub const TOP_PAD: usize = DEFAULT_TRIM_THRESHOLD;
/// As in glibc: freeing a large block of up to this many bytes raises the
/// mmap threshold to its size (and the trim threshold to twice that),
/// unless a threshold was set explicitly.
pub const MAX_DYN_MMAP_THRESHOLD: usize = 32 * 1024 * 1024;

/// Called after an allocation fails: `(size, align, function name)`.
pub type FailedAllocFn = fn(usize, usize, &'static str);

/// Running totals, kept so that `info` costs no walk. Only `RawHeap`'s
/// own methods (in `raw.rs`) change them; other files read them through
/// [`RawHeap::stats`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stats {
    /// Usable bytes (size less one header) of the used blocks in segments,
    /// cached ones included (see [`RawHeap::note_alloc`]).
    pub used: usize,
    /// Number of those blocks.
    pub used_blocks: usize,
    /// Sum of the sizes of the listed free blocks (the top excluded).
    pub free: usize,
    /// Number of the listed free blocks.
    pub free_blocks: usize,
    /// Dirty (unpurged) bytes of the listed free blocks of at least
    /// `PURGE_MIN` bytes: the sum of the counts they keep at `h+24`.
    pub dirty: usize,
    /// Usable bytes of the large blocks (payload to end of mapping).
    pub large: usize,
    /// Number of the large blocks (the live entries of the large set).
    pub large_blocks: usize,
    /// Bytes mapped for the large blocks (the large set's table excluded).
    pub mapped: usize,
    /// The most bytes ever allocated at once (`used + large - parked`).
    pub peak: usize,
    /// The low-water mark of the free bytes, complemented (`!0` is zero
    /// free bytes; a new heap, all zeros, has seen no low yet).
    pub min_free_c: usize,
}

/// A heap over a [`Source`]: bump allocation from the top of the last
/// segment plus segregated free lists (layout: see `block.rs`).
///
/// ```text
///   segment (older)           top segment
///  +---------------------+   +--------------------------------------+
///  | blocks ... sentinel |   | blocks ... | top ......... | sentinel |
///  +---------------------+   +--------------------------------------+
///                             ^top_first  ^top   ^fresh    ^top_end
/// ```
///
/// The fields are private to this file: the other heap files (the
/// operations) read them through accessors and change them only through
/// the methods here, which keep the running totals (`Stats`), the top
/// and the segment bookkeeping consistent with each other.
pub struct RawHeap<S: Source> {
    /// The free blocks. Every free block of a segment other than the top
    /// is on exactly one list, that of its size class, with its tags
    /// written (`set_free`); `st.free` and `st.free_blocks` are the sum of
    /// their sizes and their number; a big one (at least `PURGE_MIN`
    /// bytes) keeps its dirty count at `h+24`, and those sum to `st.dirty`.
    /// Changed only by [`list_block`](Self::list_block) and
    /// [`unlist_block`](Self::unlist_block).
    lists: FreeLists,
    /// How addresses become pointers (set from the source at the first
    /// `grow`, before any block exists).
    mem: Mem,
    /// This heap's tag in every header it writes (see `block.rs`); set at
    /// the first `grow`, 0 before.
    tag: usize,
    /// The function a corruption found now is reported under (set by the
    /// locked wrapper for each operation; `None`: `malloc`). `None` is all
    /// zeros, so a new heap still is.
    op: Option<&'static str>,
    /// Always `segs.bounds()`: the lowest first header and the highest
    /// sentinel of all segments, kept as segments come and go.
    bounds: (usize, usize),
    /// Counts changes of what the locked wrapper publishes for the caches
    /// (the top segment's block area, `bounds`, `tag`): bumped whenever
    /// one of them changes.
    layout: usize,
    /// Header address of the top: `top_first <= top <= top_end`; the top
    /// `[top, top_end)` is free memory that no header describes
    /// (`top == top_end` when the top is empty).
    top: usize,
    /// The top segment's sentinel address (0 before the first segment).
    top_end: usize,
    /// The top segment's first header, for a quick segment test (0 before
    /// the first segment).
    top_first: usize,
    /// `top <= fresh <= top_end`, and every byte of `[fresh, top_end)` is
    /// zero (memory fresh from the kernel, or purged).
    fresh: usize,
    /// The segments; the top segment is `segs.top()`. Every byte of a
    /// segment's block area is covered by blocks, then (top segment only)
    /// the top, then the sentinel header (not written in the top segment,
    /// see `block.rs`).
    segs: Segments,
    /// The live large blocks (each its own mapping) and tombstones of
    /// freed ones; `st.large`, `st.large_blocks` and `st.mapped` sum over
    /// the live ones.
    large: LargeSet,
    /// The running totals (see [`Stats`] for each one's invariant).
    st: Stats,
    /// The mmap and trim thresholds, each stored XOR its default, so that
    /// a new heap is all zeros (the process heap lives in `.bss`, not in
    /// the program file); see [`mmap_threshold`](Self::mmap_threshold).
    mmap_x: usize,
    trim_x: usize,
    /// The thresholds were set explicitly: no dynamic adjustment.
    mmap_fixed: bool,
    trim_fixed: bool,
    /// An automatic trim failed: do not retry until the top exceeds this
    /// (0: no failure since the top segment last changed).
    trim_fail_at: usize,
    /// When dirty memory goes back: the stamp that big free blocks keep at
    /// `h+32` and the top's, the clock checks (see `decay.rs`).
    decay: Decay,
    /// The failed-allocation callback, if any.
    on_fail: Option<FailedAllocFn>,
    /// Payload address of the block freed last, to name a second free of
    /// it even after a trim gave its memory back.
    last_freed: usize,
    /// No thread caches hold this heap's blocks, so `free` need not check
    /// their keys (`tcache.rs`); false for the process heap (a new heap
    /// is all zeros), set by the other constructors.
    unkeyed: bool,
    /// Usable bytes and number of the used blocks that the calling thread's
    /// cache holds (at most `st.used` and `st.used_blocks`): the figures
    /// count them as free.
    parked: usize,
    parked_blocks: usize,
    /// Where the memory comes from; every segment's span and every large
    /// mapping is the source's until given back.
    source: S,
}

// SAFETY: the heap owns all memory its addresses point to.
unsafe impl<S: Source + Send> Send for RawHeap<S> {}

impl<S: Source> RawHeap<S> {
    /// An empty heap; memory is asked for on first use.
    pub const fn new(source: S) -> Self {
        RawHeap {
            lists: FreeLists::new(),
            mem: Mem::new(core::ptr::null_mut()),
            tag: 0,
            op: None,
            bounds: (0, 0),
            layout: 0,
            top: 0,
            top_end: 0,
            top_first: 0,
            fresh: 0,
            segs: Segments::new(),
            large: LargeSet::new(),
            st: Stats {
                used: 0,
                used_blocks: 0,
                free: 0,
                free_blocks: 0,
                dirty: 0,
                large: 0,
                large_blocks: 0,
                mapped: 0,
                peak: 0,
                min_free_c: 0,
            },
            mmap_x: 0,
            trim_x: 0,
            mmap_fixed: false,
            trim_fixed: false,
            trim_fail_at: 0,
            decay: Decay::new(),
            on_fail: None,
            last_freed: 0,
            unkeyed: true,
            parked: 0,
            parked_blocks: 0,
            source,
        }
    }

    /// Takes the first memory from the source now (a region heap does this
    /// at creation so that `info` shows its size). Returns whether it got any.
    pub fn init(&mut self) -> bool {
        self.segs.len() > 0 || self.grow(0)
    }

    /// The source, e.g. to inspect a test double.
    pub fn source(&mut self) -> &mut S {
        &mut self.source
    }

    /// Requests of at least this many bytes get their own mapping.
    #[inline(always)]
    pub fn mmap_threshold(&self) -> usize {
        self.mmap_x ^ DEFAULT_MMAP_THRESHOLD
    }

    /// A free top bigger than this is given back.
    #[inline(always)]
    pub fn trim_threshold(&self) -> usize {
        self.trim_x ^ DEFAULT_TRIM_THRESHOLD
    }

    /// Requests of at least `n` bytes get their own mapping (when the
    /// source can map). Turns the dynamic thresholds off; a trim threshold
    /// that was only raised dynamically goes back to its default.
    pub fn set_mmap_threshold(&mut self, n: usize) {
        self.mmap_x = n ^ DEFAULT_MMAP_THRESHOLD;
        self.mmap_fixed = true;
        if !self.trim_fixed {
            self.trim_x = 0; // the default
        }
    }

    /// A free top bigger than `n` bytes is given back to the source.
    /// Turns the dynamic thresholds off; an mmap threshold that was only
    /// raised dynamically goes back to its default.
    pub fn set_trim_threshold(&mut self, n: usize) {
        self.trim_x = n ^ DEFAULT_TRIM_THRESHOLD;
        self.trim_fixed = true;
        if !self.mmap_fixed {
            self.mmap_x = 0; // the default
        }
    }

    /// glibc's dynamic mmap threshold: a freed large block of `len` mapped
    /// bytes shows that blocks of its size come and go, so later ones are
    /// served from the heap instead of a mapping each.
    #[inline]
    pub(super) fn raise_thresholds(&mut self, len: usize) {
        if !self.mmap_fixed
            && !self.trim_fixed
            && len > self.mmap_threshold()
            && len <= MAX_DYN_MMAP_THRESHOLD
        {
            self.mmap_x = len ^ DEFAULT_MMAP_THRESHOLD;
            self.trim_x = self.trim_threshold().max(2 * len) ^ DEFAULT_TRIM_THRESHOLD;
        }
    }

    /// Milliseconds that dirty free memory stays unused before it is
    /// purged ([`PURGE_DELAY_MS`](super::PURGE_DELAY_MS) by default;
    /// `usize::MAX`: only by [`trim`](Self::trim) or when memory is short).
    pub fn purge_delay(&self) -> usize {
        self.decay.delay()
    }

    /// Sets how long dirty free memory stays unused before it is purged:
    /// 0 purges it at the next check (see `decay.rs`), `usize::MAX`
    /// never automatically.
    pub fn set_purge_delay(&mut self, ms: usize) {
        self.decay.set_delay(ms);
    }

    /// Registers (or clears) the failed-allocation callback.
    pub fn set_failed_alloc_callback(&mut self, f: Option<FailedAllocFn>) {
        self.on_fail = f;
    }

    /// The failed-allocation callback.
    pub fn failed_alloc_callback(&self) -> Option<FailedAllocFn> {
        self.on_fail
    }

    /// The spans of all segments (for tests that measure residency).
    #[cfg(test)]
    pub(crate) fn spans(&self) -> Vec<super::source::Span> {
        (0..self.segs.len()).map(|i| self.segs.get(i).span).collect()
    }

    /// Size of the top.
    #[inline(always)]
    pub(super) fn top_size(&self) -> usize {
        self.top_end - self.top
    }

    /// Free bytes in ESP-IDF terms: each free or parked block and the top
    /// count their size less one header.
    #[inline(always)]
    pub(super) fn free_now(&self) -> usize {
        self.st.free - HDR * self.st.free_blocks + self.top_size().saturating_sub(HDR)
    }

    /// Books an allocation of `usable` bytes from a segment.
    #[inline(always)]
    pub(super) fn note_alloc(&mut self, usable: usize) {
        self.st.used += usable;
        self.st.used_blocks += 1;
        self.note_peak();
    }

    /// Sets the low-water mark of the free bytes to `v` (ESP-IDF's
    /// `heap_caps_monitor_local_minimum_free_size_*`).
    pub fn set_minimum_free(&mut self, v: usize) {
        self.st.min_free_c = !v;
    }

    /// Updates the peak and the low-water mark.
    #[inline(always)]
    pub(super) fn note_peak(&mut self) {
        let total = self.st.used + self.st.large - self.parked;
        if total > self.st.peak {
            self.st.peak = total;
        }
        let f = self.free_now() + self.parked;
        if !f > self.st.min_free_c {
            self.st.min_free_c = !f;
        }
    }

    /// Takes note of the calling thread's cache as the lock is taken: the
    /// peak and low-water mark of the time since the last lock (when the
    /// cache held its least), then what it holds now.
    #[inline]
    pub(super) fn sync_cache(&mut self, c: &mut super::tcache::ThreadCache) {
        let (held, blocks) = c.held();
        if let Some(low) = c.take_low() {
            self.parked = low;
            self.note_peak();
        }
        self.parked = held;
        self.parked_blocks = blocks;
        c.set_limit(self.st.used_blocks, self.block_bytes(), self.source.refused());
    }

    /// Bytes the heap's segments hold in blocks and the top (about its
    /// footprint), without a walk.
    #[inline(always)]
    pub(super) fn block_bytes(&self) -> usize {
        self.st.used + self.st.free + self.top_size()
    }

    /// The top segment's block area `[first, sentinel)` (`(0, 0)` before
    /// the first segment).
    #[inline(always)]
    pub(super) fn block_area(&self) -> (usize, usize) {
        (self.top_first, self.top_end)
    }

    /// The view of the heap that list code checks blocks and links with.
    #[inline(always)]
    pub(super) fn walk(&self) -> Walk<'_> {
        Walk::new(self.mem, self.tag, self.top_first, self.top, &self.segs)
    }

    /// Reports damage found at block `h` under the current operation's
    /// name, and aborts.
    #[cold]
    #[inline(never)]
    pub(super) fn corrupt(&self, (c, h): Damage) -> ! {
        super::misuse(self.op.unwrap_or("malloc"), HeapError::Corrupted(c), (h + HDR) as *const u8)
    }

    /// Unwraps a list operation's result, reporting damage.
    #[inline(always)]
    pub(super) fn intact<T>(&self, r: Result<T, Damage>) -> T {
        match r {
            Ok(v) => v,
            Err(d) => self.corrupt(d),
        }
    }
}

/// Changing the state: each method keeps the totals, the top and the
/// segment bookkeeping consistent.
impl<S: Source> RawHeap<S> {
    /// Books the free of a used segment block of `usable` bytes.
    #[inline(always)]
    pub(super) fn note_free(&mut self, usable: usize) {
        self.st.used -= usable;
        self.st.used_blocks -= 1;
        self.clamp_parked();
    }

    /// A used block shrank in place by `by` bytes.
    #[inline(always)]
    pub(super) fn note_shrunk(&mut self, by: usize) {
        self.st.used -= by;
        self.clamp_parked();
    }

    /// Keeps what the last cache that synced held within the used blocks:
    /// a thread without that cache (another thread's free through the
    /// locked path, `remote.rs`) may free blocks that cache handed out
    /// since, so the figure can be stale until the cache syncs again.
    #[inline(always)]
    fn clamp_parked(&mut self) {
        // A heap without caches parks nothing: one test instead of two
        // clamps on its every free.
        if self.parked_blocks != 0 {
            self.parked = self.parked.min(self.st.used);
            self.parked_blocks = self.parked_blocks.min(self.st.used_blocks);
        }
    }

    /// A used block grew in place by `by` bytes.
    #[inline(always)]
    pub(super) fn note_grown(&mut self, by: usize) {
        self.st.used += by;
        self.note_peak();
    }

    /// Takes free block `h` of size `s` off its list (its links checked
    /// first); returns its dirty bytes.
    ///
    /// # Safety
    /// `h` must be a listed free block of size `s`, checked.
    #[inline(always)]
    pub(super) unsafe fn unlist_block(&mut self, h: usize, s: usize) -> usize {
        let w = Walk::new(self.mem, self.tag, self.top_first, self.top, &self.segs);
        // SAFETY: `h` is a checked free block.
        if let Err(d) = unsafe { self.lists.remove(&w, h, s) } {
            self.corrupt(d);
        }
        // SAFETY: as above.
        let d = unsafe { dirty_of(self.mem, h, s) };
        if s >= PURGE_MIN {
            self.st.dirty -= d;
        }
        self.st.free -= s;
        self.st.free_blocks -= 1;
        d
    }

    /// Takes head `h` of exact class `b` off its list (see
    /// [`FreeLists::pop_exact`]), counting it out of the free figures;
    /// `false` if its links are not a head's (nothing changed).
    ///
    /// # Safety
    /// `h` must head that list, its header checked.
    #[inline(always)]
    pub(super) unsafe fn unlist_exact(&mut self, h: usize, b: usize) -> bool {
        let w = Walk::new(self.mem, self.tag, self.top_first, self.top, &self.segs);
        // SAFETY: forwarded contract.
        if !unsafe { self.lists.pop_exact(&w, h, b) } {
            return false;
        }
        self.st.free -= b;
        self.st.free_blocks -= 1;
        true
    }

    /// Lists free block `h` of size `s` (its tags written) with `dirty`
    /// unpurged bytes, counted in the heap's dirty total if it is big.
    ///
    /// # Safety
    /// `h` must be a free block of size `s`, on no list.
    #[inline(always)]
    pub(super) unsafe fn list_block(&mut self, h: usize, s: usize, dirty: usize) {
        if s >= PURGE_MIN {
            // SAFETY: big free blocks keep their dirty count at h+24 and
            // the period it dates from at h+32.
            unsafe {
                self.mem.wr(h + 24, dirty);
                self.mem.wr(h + 32, self.decay.stamp());
            }
            self.st.dirty += dirty;
        }
        // SAFETY: forwarded contract; the heads are block addresses.
        if let Err(d) = unsafe { self.lists.insert(self.mem, self.tag, h, s) } {
            self.corrupt(d);
        }
        self.st.free += s;
        self.st.free_blocks += 1;
    }

    /// Moves the start of the top up to `end` (the memory before it now
    /// belongs to a block); returns the old fresh mark.
    #[inline(always)]
    pub(super) fn advance_top(&mut self, end: usize) -> usize {
        debug_assert!(self.top <= end && end <= self.top_end);
        self.top = end;
        let f = self.fresh;
        if f < end {
            self.fresh = end;
        }
        f
    }

    /// Moves the start of the top down to `start`: the memory from there
    /// (a block that ended at the top, merged with free blocks before it)
    /// is top now.
    #[inline(always)]
    pub(super) fn lower_top(&mut self, start: usize) {
        debug_assert!(self.top_first <= start && start <= self.top);
        self.top = start;
        self.decay.top_dirtied();
    }

    /// Marks `[f, top_end)` as zero.
    ///
    /// # Safety
    /// Every byte of `[f, top_end)` must be zero, and `top <= f`.
    #[inline]
    pub(super) unsafe fn set_fresh(&mut self, f: usize) {
        debug_assert!(self.top <= f && f <= self.top_end);
        self.fresh = f;
    }

    /// Lowers the end of the top segment to `new_len` bytes of its span
    /// (the source shrinks it); false, and nothing changed, if the source
    /// refuses.
    ///
    /// # Safety
    /// Everything beyond the new sentinel must be top.
    pub(super) unsafe fn shrink_top_segment(&mut self, new_len: usize) -> bool {
        let i = self.segs.top();
        let seg = *self.segs.get(i);
        // SAFETY: forwarded contract: the tail is all top.
        if !unsafe { self.source.shrink(seg.span, new_len) } {
            return false;
        }
        let s = seg.resized(new_len);
        *self.segs.get_mut(i) = s;
        self.top_end = s.sentinel;
        self.segments_changed();
        // No sentinel is written (see `block.rs`).
        self.fresh = self.fresh.min(self.top_end);
        true
    }

    /// Gives segment `i` (not the top one) back to the source if free
    /// block `[h, h+s)` fills it; true if it did.
    pub(super) fn release_segment(&mut self, i: usize, h: usize, s: usize) -> bool {
        let seg = *self.segs.get(i);
        // SAFETY: the whole segment is one free block: nothing uses it.
        if h != seg.first || h + s != seg.sentinel || !unsafe { self.source.release(seg.span) } {
            return false;
        }
        self.segs.remove(i);
        self.top_first = self.segs.get(self.segs.top()).first;
        self.segments_changed();
        true
    }

    /// The segments changed: recomputes `bounds` and counts the change.
    fn segments_changed(&mut self) {
        self.bounds = self.segs.bounds();
        self.layout = self.layout.wrapping_add(1);
    }

    /// Sets the page size the large blocks are mapped in.
    #[inline]
    pub(super) fn set_large_page(&mut self, page: usize) {
        self.large.set_page(page);
    }

    /// Makes room in the large set for one more block; false if its
    /// table could not grow.
    #[inline]
    pub(super) fn reserve_large(&mut self) -> bool {
        self.large.reserve(self.mem, &mut self.source)
    }

    /// Books a new large block at payload `p`, `usable` bytes in a mapping
    /// of `len` (room reserved with [`reserve_large`](Self::reserve_large)).
    pub(super) fn add_large(&mut self, p: usize, usable: usize, len: usize) {
        self.large.insert(self.mem, p);
        self.st.large += usable;
        self.st.large_blocks += 1;
        self.st.mapped += len;
        self.note_peak();
    }

    /// Forgets large block `p` of `usable` bytes in a mapping of `len`
    /// (the caller unmaps it).
    pub(super) fn remove_large(&mut self, p: usize, usable: usize, len: usize) {
        self.large.remove(self.mem, p);
        self.st.large -= usable;
        self.st.large_blocks -= 1;
        self.st.mapped -= len;
    }

    /// Large block `p` (`usable` bytes, `len` mapped) moved to `np` and
    /// now has `new_usable` bytes in `new_len`.
    pub(super) fn move_large(
        &mut self,
        (p, usable, len): (usize, usize, usize),
        (np, new_usable, new_len): (usize, usize, usize),
    ) {
        self.large.remove(self.mem, p);
        self.large.insert(self.mem, np);
        self.st.large = self.st.large + new_usable - usable;
        self.st.mapped = self.st.mapped + new_len - len;
        self.note_peak();
    }
}
