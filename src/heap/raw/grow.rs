//! How a [`RawHeap`] takes on memory: its first use, growth of the top
//! segment in place, new segments (the old top becomes a free block), and
//! regions added to a region heap.

use super::super::block::{set_free, Mem, IN_USE, MIN_BLOCK, PREV_IN_USE};
use super::super::segment::Seg;
use super::super::source::Source;
use super::RawHeap;

impl<S: Source> RawHeap<S> {
    /// Takes on the source's provenance and this heap's tag: done before
    /// the first segment or mapping exists.
    #[cold]
    #[inline(never)]
    pub(in crate::heap) fn first_use(&mut self) {
        self.mem = Mem::new(self.source.root());
        if self.tag == 0 {
            self.tag = super::super::secret::new_tag();
            self.layout = self.layout.wrapping_add(1);
        }
    }

    /// Gets at least `b` more bytes of top from the source. Returns
    /// whether the top now holds `b`.
    #[cold]
    pub(in crate::heap) fn grow(&mut self, b: usize) -> bool {
        if self.tag == 0 {
            self.first_use();
        }
        self.decay_before_growth();
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
        let old_span_end = seg.span.end();
        *seg = seg.resized(seg.span.len + len);
        let new = seg.sentinel;
        // The old end word joins the top. Nothing writes the top
        // segment's last word (see `block.rs`), so above the fresh mark it
        // is zero already; at the mark (a trim lowered the end into memory
        // that was used) it may not be: the zero memory then starts where
        // the new memory does (writing a zero there would fault in a page
        // that nothing else may touch).
        if old == self.fresh {
            self.fresh = old_span_end;
        }
        self.top_end = new;
        self.segments_changed();
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
        self.segments_changed();
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

impl AddRegion for super::super::source::RegionSource {
    unsafe fn add_region(&mut self, base: *mut u8, len: usize) -> bool {
        // SAFETY: forwarded contract.
        unsafe { self.add(base, len) }
    }
}
