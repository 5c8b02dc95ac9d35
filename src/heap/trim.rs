//! Giving memory back: lowering the end of the top segment, and purging
//! (discarding the pages of) free memory that cannot be given back.

use super::block::{down, up, HDR, MIN_BLOCK, PURGE_MIN};
use super::raw::{RawHeap, TRIM_KEEP};
use super::segment::NONE;
use super::source::Source;

impl<S: Source> RawHeap<S> {
    /// Gives back all but `pad` bytes of free top, and purges the unused
    /// pages of every big free block. Returns whether any memory was
    /// given back or purged.
    pub fn trim(&mut self, pad: usize) -> bool {
        let trimmed = self.trim_top(pad);
        self.purge_dirty() | trimmed
    }

    /// The trim that runs when a free makes the top bigger than the trim
    /// threshold. It keeps `TRIM_KEEP` (less than the threshold by more than
    /// the break's growth step, so a heap that grows once by a step and
    /// frees it again does not trim).
    #[cold]
    pub(super) fn auto_trim(&mut self) {
        let pad = TRIM_KEEP.min(self.trim_threshold());
        if !self.trim_top(pad) {
            // Do not retry on every free: wait for the top to grow further.
            self.set_trim_fail_at(self.top_size() + self.trim_threshold().max(PURGE_MIN));
        }
    }

    /// Shrinks the top segment so that about `pad` bytes of top remain;
    /// if the source refuses, purges the top's dirty pages instead.
    fn trim_top(&mut self, pad: usize) -> bool {
        let i = self.segs().top();
        if i == NONE {
            return false;
        }
        let page = self.source().page_size();
        let seg = *self.segs().get(i);
        let keep = pad.clamp(MIN_BLOCK, usize::MAX / 4);
        let new_len = up(self.top() + HDR + keep - seg.span.base, page);
        if new_len < seg.span.len {
            // SAFETY: the tail beyond the new sentinel is all top.
            if unsafe { self.shrink_top_segment(new_len) } {
                self.set_trim_fail_at(0);
                return true;
            }
        }
        self.purge_top(page)
    }

    /// Purges the top's pages that were ever written, so that they count
    /// as fresh (zero) again.
    pub(super) fn purge_top(&mut self, page: usize) -> bool {
        if self.fresh() - self.top() < PURGE_MIN {
            return false;
        }
        let lo = up(self.top() + HDR, page);
        let hi = up(self.fresh(), page).min(down(self.top_end(), page));
        // SAFETY: `[lo, hi)` lies in the top, which nothing uses.
        if hi <= lo || !unsafe { self.source().purge(lo, hi - lo) } {
            return false;
        }
        if hi < self.fresh() {
            // SAFETY: as above; less than a page before the sentinel.
            unsafe { core::ptr::write_bytes(self.mem().ptr::<u8>(hi), 0, self.fresh() - hi) };
        }
        // SAFETY: `[lo, hi)` was purged (reads as zero), `[hi, fresh)`
        // zeroed just now, and `[fresh, top_end)` was zero; `lo > top`.
        unsafe { self.set_fresh(lo) };
        true
    }
}
