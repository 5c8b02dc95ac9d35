//! Taking blocks back: pointer validation, coalescing with free
//! neighbours and the top, and the purge policy for big free blocks.

use super::block::{
    dirty_of, down, rd, set_free, up, wr, ALIGN, CACHED, HDR, IN_USE, LARGE, MIN_BLOCK,
    PREV_IN_USE, PURGE_MIN, SIZE,
};
use super::error::HeapError;
use super::quick::QUICK_MAX;
use super::raw::RawHeap;
use super::segment::NONE;
use super::source::Source;

/// What a pointer handed back to the heap turned out to be.
pub(super) enum Found {
    /// A used block in segment `seg`: header address, size, header word.
    Block { h: usize, s: usize, hdr: usize, seg: usize },
    /// A live large block.
    Large(usize),
}

/// A hint to fetch the cache line of `a` (never faults).
#[inline(always)]
fn prefetch(a: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(a as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = a;
}

impl<S: Source> RawHeap<S> {
    /// Validates a payload pointer handed back by the user.
    #[inline]
    pub(super) fn locate(&self, p: usize) -> Result<Found, HeapError> {
        if p % ALIGN != 0 || p == 0 {
            return Err(HeapError::InvalidPointer);
        }
        let h = p - HDR;
        let (seg, limit) = if h.wrapping_sub(self.top_first) < self.top_end - self.top_first {
            (self.segs.top, self.top)
        } else if let Some(i) = self.segs.find_other(h) {
            (i, self.segs.get(i).sentinel)
        } else if self.large.contains(p) {
            return Ok(Found::Large(p));
        } else if self.large.recently_freed(p) || p == self.last_freed {
            return Err(HeapError::DoubleFree);
        } else {
            return Err(HeapError::InvalidPointer);
        };
        // The next header is read right after this one: start fetching the
        // lines where it most likely is, in parallel with the header's.
        prefetch(h + 64);
        prefetch(h + 128);
        // SAFETY: `h` lies in a segment's block area.
        let hdr = unsafe { rd(h) };
        if hdr & IN_USE == 0 {
            // A freed (or parked) block keeps its size in its header; a
            // word with neither IN_USE nor a size (zeros inside a payload)
            // is no block at all.
            return Err(if hdr & SIZE >= MIN_BLOCK {
                HeapError::DoubleFree
            } else {
                HeapError::InvalidPointer
            });
        }
        let s = hdr & SIZE;
        if h >= limit || hdr & LARGE != 0 || s < MIN_BLOCK || s > limit - h {
            return Err(HeapError::InvalidPointer);
        }
        let n = h + s;
        // SAFETY: `n` is at most the segment's sentinel.
        if n != self.top && unsafe { rd(n) } & PREV_IN_USE == 0 {
            return Err(HeapError::Corrupted);
        }
        if hdr & PREV_IN_USE == 0 {
            let first = self.segs.get(seg).first;
            // SAFETY: `h-8` is the previous block's footer or the segment's
            // pad word; `h-ps` is checked to lie in the segment first.
            let bad = unsafe {
                let ps = rd(h - HDR);
                ps < MIN_BLOCK
                    || ps % ALIGN != 0
                    || ps > h - first
                    || rd(h - ps) & (SIZE | IN_USE) != ps
            };
            if bad {
                return Err(HeapError::Corrupted);
            }
        }
        Ok(Found::Block { h, s, hdr, seg })
    }

    /// Frees the block at payload `p`.
    ///
    /// # Safety
    /// If `p` is a live block of this heap, nothing may use it afterwards.
    /// Other pointers are rejected (with certainty when misaligned, outside
    /// the heap, or freed just before; by header checks otherwise).
    #[inline]
    pub unsafe fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        match self.locate(p as usize)? {
            Found::Large(p) => self.large_free(p),
            Found::Block { h, s, hdr, seg } => {
                self.last_freed = h + HDR;
                self.st.used -= s - HDR;
                self.st.used_blocks -= 1;
                // A block next to the top goes back to it instead.
                if s <= QUICK_MAX && h + s != self.top && self.quick.push(h, s) {
                    // SAFETY: `h` is our block; IN_USE clear keeps a second
                    // free detectable.
                    unsafe { wr(h, (hdr & !IN_USE) | CACHED) };
                    self.st.cached += s;
                    self.st.cached_blocks += 1;
                } else {
                    self.release(h, s, hdr & PREV_IN_USE == 0, seg);
                }
                if self.st.cached_blocks * 2 > self.st.used_blocks {
                    self.flush_quick(); // a burst is being freed
                }
                Ok(())
            }
        }
    }

    /// The usable size of the block at payload `p`.
    ///
    /// # Safety
    /// `p` should come from this heap; others are rejected as by `free`.
    pub unsafe fn usable_size(&self, p: *const u8) -> Result<usize, HeapError> {
        match self.locate(p as usize)? {
            Found::Large(p) => self.large_parts(p).map(|(m, len)| m + len - p),
            Found::Block { s, .. } => Ok(s - HDR),
        }
    }

    /// Returns block `[h, h+s)` (no longer counted as used) to the free
    /// state: merges it with free neighbours or the top, lists it.
    pub(super) fn release(&mut self, h: usize, s: usize, prev_free: bool, seg: usize) {
        let (mut start, mut size, mut dirty) = (h, s, s);
        // SAFETY: `h` was a used block; its neighbours' tags were validated.
        unsafe {
            wr(h, s); // IN_USE clear: a second free of `h` is seen as double
            if prev_free {
                let ps = rd(h - HDR);
                start = h - ps;
                self.unlist(start, ps, &mut dirty);
                size += ps;
            }
            let n = h + s;
            if n == self.top {
                self.top = start;
                let t = self.top_size();
                if t > self.trim_threshold && t > self.trim_fail_at {
                    self.auto_trim();
                }
                return;
            }
            let nh = rd(n);
            if nh & (IN_USE | CACHED) == 0 {
                self.unlist(n, nh & SIZE, &mut dirty);
                size += nh & SIZE;
            } else {
                wr(n, nh & !PREV_IN_USE);
            }
            self.put_free(start, size, dirty, seg);
        }
    }

    /// Takes a free neighbour off its list, adding up its dirty bytes.
    ///
    /// # Safety
    /// `h` must be a listed free block of size `s`.
    #[inline(always)]
    pub(super) unsafe fn unlist(&mut self, h: usize, s: usize, dirty: &mut usize) {
        // SAFETY: `h` is a listed free block of size `s`.
        unsafe {
            *dirty += dirty_of(h, s);
            self.lists.remove(h, s);
        }
        self.st.free -= s;
        self.st.free_blocks -= 1;
    }

    /// Lists free block `[h, h+s)` with `dirty` unpurged bytes; a big one
    /// is purged or, if it fills an old segment, given back.
    ///
    /// # Safety
    /// `[h, h+s)` must be heap memory that no block covers any more, with
    /// used (or parked) blocks on both sides.
    unsafe fn put_free(&mut self, h: usize, s: usize, dirty: usize, seg: usize) {
        // SAFETY: `[h, h+s)` is free heap memory.
        unsafe {
            set_free(h, s);
            if s >= PURGE_MIN {
                let seg = if seg == NONE { self.segs.find(h).unwrap_or(NONE) } else { seg };
                let mut at = self.purge_at();
                if seg != NONE && seg != self.segs.top {
                    if self.release_segment(seg, h, s) {
                        return;
                    }
                    let sg = self.segs.get(seg);
                    if h == sg.first && h + s == sg.sentinel {
                        at = PURGE_MIN; // an idle old segment that cannot go back
                    }
                }
                // Purge only once enough dirty memory gathered: memory freed
                // and reused round after round is not faulted in each time.
                let d = if dirty >= at && self.purge_block(h, s) { 0 } else { dirty };
                wr(h + 24, d);
            }
            self.lists.insert(h, s);
        }
        self.st.free += s;
        self.st.free_blocks += 1;
    }

    /// Discards the whole pages inside free block `[h, h+s)`.
    pub(super) fn purge_block(&mut self, h: usize, s: usize) -> bool {
        let page = self.source.page_size();
        let (lo, hi) = (up(h + 32, page), down(h + s - HDR, page));
        // SAFETY: the pages lie inside a free block, clear of its tags.
        hi > lo && unsafe { self.source.purge(lo, hi - lo) }
    }

    /// Gives back segment `i` if free block `[h, h+s)` fills it.
    fn release_segment(&mut self, i: usize, h: usize, s: usize) -> bool {
        let seg = *self.segs.get(i);
        // SAFETY: the whole segment is one free block: nothing uses it.
        if h != seg.first || h + s != seg.sentinel || !unsafe { self.source.release(seg.span) } {
            return false;
        }
        self.segs.remove(i);
        self.top_first = self.segs.get(self.segs.top).first;
        true
    }
}
