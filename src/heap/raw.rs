//! [`RawHeap`]: the allocator core, `&mut self`, no locks. Its state and
//! how it takes on memory; the operations live in sibling files.

use super::block::{set_free, Mem, HDR, IN_USE, MIN_BLOCK, PREV_IN_USE};
use super::class::{Damage, FreeLists, Walk};
use super::error::HeapError;
use super::large::LargeSet;
use super::segment::{Seg, Segments};
use super::source::Source;

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
/// everything was freed: a top up to the trim threshold is kept (purged
/// only with the rest of the dirty memory, see [`PURGE_AUTO`], so that it
/// is reused without faults); above it, an automatic trim leaves
/// [`TRIM_KEEP`].
pub const TOP_PAD: usize = DEFAULT_TRIM_THRESHOLD;
/// As in glibc: freeing a large block of up to this many bytes raises the
/// mmap threshold to its size (and the trim threshold to twice that),
/// unless a threshold was set explicitly.
pub const MAX_DYN_MMAP_THRESHOLD: usize = 32 * 1024 * 1024;
/// The big free blocks (of at least `PURGE_MIN` bytes, inside the heap)
/// and the top are purged, their pages discarded, only once together they
/// hold more than this many dirty bytes (and more than the trim threshold
/// and twice the bytes in use), so that memory that is about to be reused
/// is not faulted in again on every round.
pub const PURGE_AUTO: usize = 2048 * 1024;

/// Called after an allocation fails: `(size, align, function name)`.
pub type FailedAllocFn = fn(usize, usize, &'static str);

/// Running totals, kept so that `info` costs no walk.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stats {
    /// Usable bytes of used blocks in segments.
    pub used: usize,
    pub used_blocks: usize,
    /// Sum of the sizes of listed free blocks.
    pub free: usize,
    pub free_blocks: usize,
    /// Dirty (unpurged) bytes of the listed free blocks of at least
    /// `PURGE_MIN` bytes.
    pub dirty: usize,
    /// Usable bytes of large blocks, their number and mapped bytes.
    pub large: usize,
    pub large_blocks: usize,
    pub mapped: usize,
    pub peak: usize,
    /// The low-water mark of the free bytes, complemented (`!0` is zero
    /// free bytes; a new heap, all zeros, has seen no low yet).
    pub min_free_c: usize,
}

/// A heap over a [`Source`]: bump allocation from the top of the last
/// segment plus segregated free lists (layout: see `block.rs`).
pub struct RawHeap<S: Source> {
    pub(super) lists: FreeLists,
    /// How addresses become pointers (set from the source at the first
    /// `grow`, before any block exists).
    pub(super) mem: Mem,
    /// This heap's tag in every header it writes (see `block.rs`); set at
    /// the first `grow`, 0 before.
    pub(super) tag: usize,
    /// The function a corruption found now is reported under (set by the
    /// locked wrapper for each operation; `None`: `malloc`). `None` is all
    /// zeros, so a new heap still is.
    pub(super) op: Option<&'static str>,
    /// The lowest first header and the highest sentinel of all segments
    /// (see [`Segments::bounds`]), kept as segments come and go.
    pub(super) bounds: (usize, usize),
    /// Counts changes of what the locked wrapper publishes for the caches
    /// (the top segment's block area, `bounds`, `tag`).
    pub(super) layout: usize,
    /// Header address of the top (== `top_end` when the top is empty).
    pub(super) top: usize,
    /// The top segment's sentinel address: the top is `[top, top_end)`.
    pub(super) top_end: usize,
    /// The top segment's first header, for a quick segment test.
    pub(super) top_first: usize,
    /// Every byte of `[fresh, top_end)` is zero.
    pub(super) fresh: usize,
    pub(super) segs: Segments,
    pub(super) large: LargeSet,
    pub(super) st: Stats,
    /// The mmap and trim thresholds, each stored XOR its default, so that
    /// a new heap is all zeros (the process heap lives in `.bss`, not in
    /// the program file); see [`mmap_threshold`](Self::mmap_threshold).
    mmap_x: usize,
    trim_x: usize,
    /// The thresholds were set explicitly: no dynamic adjustment.
    pub(super) mmap_fixed: bool,
    pub(super) trim_fixed: bool,
    /// An automatic trim failed: do not retry until the top exceeds this.
    pub(super) trim_fail_at: usize,
    /// An automatic purge discarded nothing: do not retry until the dirty
    /// memory exceeds this.
    pub(super) purge_fail_at: usize,
    pub(super) on_fail: Option<FailedAllocFn>,
    /// Payload address of the block freed last, to name a second free of
    /// it even after a trim gave its memory back.
    pub(super) last_freed: usize,
    /// No thread caches hold this heap's blocks, so `free` need not check
    /// their keys (`tcache.rs`); false for the process heap (a new heap
    /// is all zeros), set by the other constructors.
    pub(super) unkeyed: bool,
    /// Usable bytes and number of the used blocks that the calling thread's
    /// cache holds: the figures count them as free.
    pub(super) parked: usize,
    pub(super) parked_blocks: usize,
    pub(super) source: S,
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
            purge_fail_at: 0,
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

    /// How many dirty bytes the big free blocks and the top may hold
    /// before they are purged: the trim threshold (at least
    /// [`PURGE_AUTO`]), or twice what is in use if that is more, so that a
    /// heap in steady use keeps the free memory it keeps reusing (glibc
    /// keeps all of it), and one that was emptied gives it back.
    #[inline(always)]
    pub(super) fn purge_limit(&self) -> usize {
        self.trim_threshold().max(PURGE_AUTO).max(self.st.used * 2)
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
        c.set_limit(self.st.used_blocks, self.block_bytes());
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

    /// Takes on the source's provenance and this heap's tag: done before
    /// the first segment or mapping exists.
    #[cold]
    #[inline(never)]
    pub(super) fn first_use(&mut self) {
        self.mem = Mem::new(self.source.root());
        if self.tag == 0 {
            self.tag = super::secret::new_tag();
            self.layout = self.layout.wrapping_add(1);
        }
    }

    /// Gets at least `b` more bytes of top from the source. Returns
    /// whether the top now holds `b`.
    #[cold]
    pub(super) fn grow(&mut self, b: usize) -> bool {
        if self.tag == 0 {
            self.first_use();
        }
        let Some(min) = b.checked_add(4 * MIN_BLOCK) else { return false };
        let top = self.segs.top_span();
        let Some(sp) = self.source.grow(top, min) else { return false };
        match top {
            Some(t) if sp.base == t.end() && sp.kind == t.kind => {
                self.extend_top(sp.len, sp.zeroed)
            }
            _ => {
                let Some(seg) = Seg::of(sp) else {
                    // SAFETY: the span is ours and unused.
                    unsafe { self.source.release(sp) };
                    return false;
                };
                if !self.new_top_segment(seg) {
                    // SAFETY: as above.
                    unsafe { self.source.release(sp) };
                    return false;
                }
            }
        }
        self.top_size() >= b
    }

    /// Adds the `len` bytes at `base` to a region heap as one more segment (or as
    /// growth of the top segment when it starts where the top ends). False
    /// if the region is too small, or the heap has no room for another
    /// segment.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else for as long as the heap lives.
    pub unsafe fn add_region(&mut self, base: *mut u8, len: usize) -> bool
    where
        S: AddRegion,
    {
        // SAFETY: forwarded contract.
        let queued = unsafe { self.source.add_region(base, len) };
        queued && self.grow(0)
    }

    /// The top segment grew in place by `len` bytes.
    fn extend_top(&mut self, len: usize, zeroed: bool) {
        let i = self.segs.top();
        let old = self.top_end;
        let seg = self.segs.get_mut(i);
        seg.span.len += len;
        *seg = Seg::of(seg.span).expect("a grown segment still holds its blocks");
        let new = seg.sentinel;
        // SAFETY: the old sentinel word is now part of the top; the new
        // sentinel lies in the new memory.
        unsafe {
            self.mem.wr(old, 0);
            self.mem.wr(new, self.tag | IN_USE | PREV_IN_USE);
        }
        self.top_end = new;
        self.bounds = self.segs.bounds();
        self.layout = self.layout.wrapping_add(1);
        if !zeroed {
            self.fresh = new; // nothing known to be zero any more
        }
    }

    /// Makes `seg` the top segment; the old top becomes a free block.
    fn new_top_segment(&mut self, seg: Seg) -> bool {
        let Some(i) = self.segs.push(seg) else { return false };
        if self.segs.len() > 1 {
            self.retire_top();
        }
        self.segs.set_top(i);
        self.top_first = seg.first;
        self.top = seg.first;
        self.top_end = seg.sentinel;
        self.fresh = if seg.span.zeroed { seg.first } else { seg.sentinel };
        self.trim_fail_at = 0;
        self.bounds = self.segs.bounds();
        self.layout = self.layout.wrapping_add(1);
        // SAFETY: the sentinel word is inside the new segment.
        unsafe { self.mem.wr(seg.sentinel, self.tag | IN_USE | PREV_IN_USE) };
        true
    }

    /// Turns the old top into an ordinary free block (or nothing).
    fn retire_top(&mut self) {
        let (t, s) = (self.top, self.top_size());
        // SAFETY: the top and its sentinel belong to the old top segment.
        unsafe {
            if s < MIN_BLOCK {
                self.mem.wr(self.top_end, self.tag | IN_USE | PREV_IN_USE);
                return;
            }
            set_free(self.mem, self.tag, t, s);
            self.mem.wr(self.top_end, self.tag | IN_USE);
            self.list_block(t, s, self.fresh.min(self.top_end) - t);
        }
        self.top = self.top_end;
    }
}

/// A source that can take more regions after creation.
pub trait AddRegion {
    /// Queues a region for the next `grow`; false if it cannot.
    ///
    /// # Safety
    /// As for [`RawHeap::add_region`].
    unsafe fn add_region(&mut self, base: *mut u8, len: usize) -> bool;
}

impl AddRegion for super::source::RegionSource {
    unsafe fn add_region(&mut self, base: *mut u8, len: usize) -> bool {
        // SAFETY: forwarded contract.
        unsafe { self.add(base, len) }
    }
}
