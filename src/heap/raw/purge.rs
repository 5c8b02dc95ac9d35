//! Purging: discarding the pages of free memory that stayed unused (the
//! decay's checks, `decay.rs`), or of all of it when asked.

use super::super::block::{down, up, HDR, PURGE_MIN};
use super::super::class::class_of;
use super::super::source::Source;
use super::RawHeap;

impl<S: Source> RawHeap<S> {
    /// Counts a free (of a block in a segment), and checks the decay when
    /// one is due.
    #[inline(always)]
    pub(in crate::heap) fn note_free_tick(&mut self) {
        if self.decay.tick() {
            self.decay_check();
        }
    }

    /// The same for a free that left dirty memory next to the top or in a
    /// big free block, which also checks once the dirty memory grew by
    /// `DECAY_CHECK_BYTES`.
    #[inline(always)]
    pub(in crate::heap) fn note_dirty_free(&mut self) {
        if self.decay.tick_dirty(self.dirty_total()) {
            self.decay_check();
        }
    }

    /// Before the heap grows: a check, if anything was freed since the
    /// last one and dirty memory could go back.
    #[inline]
    pub(in crate::heap) fn decay_before_growth(&mut self) {
        if self.decay.ticked() && self.dirty_total() >= PURGE_MIN {
            self.decay_check();
        }
    }

    /// Checks now what the heap otherwise checks every so often as it is
    /// used: reads the clock and purges the dirty free memory that has
    /// stayed unused for the purge delay (memory freed since the last
    /// check counts from now; see `decay.rs`). For a program about to go
    /// idle, or one that wants to call it from a timer.
    pub fn purge_expired(&mut self) {
        self.decay_check();
    }

    /// Reads the clock and purges the dirty memory that has stayed unused
    /// for the purge delay (see `decay.rs`).
    #[cold]
    #[inline(never)]
    pub(in crate::heap) fn decay_check(&mut self) {
        // Less than the least that is ever purged: no clock read.
        let dirty = if self.dirty_total() < PURGE_MIN { 0 } else { self.dirty_total() };
        let now = if dirty == 0 || self.decay.delay() == usize::MAX {
            None // the check purges nothing
        } else {
            self.source.now_ms()
        };
        if let Some(cut) = self.decay.check(now, dirty) {
            let page = self.source.page_size();
            if self.decay.top_stamp() <= cut {
                self.purge_top(page);
            }
            self.purge_listed(page, cut);
        }
        self.decay.checked(self.dirty_total());
    }

    /// Purges every big free block that has dirty pages, and the top,
    /// whatever their age (`malloc_trim`, and when memory is short).
    pub(in crate::heap) fn purge_dirty(&mut self) -> bool {
        let page = self.source.page_size();
        let done = self.purge_top(page);
        self.purge_listed(page, usize::MAX) != 0 || done
    }

    /// Purges the dirty pages (of size `page`) of every listed big free
    /// block stamped with period `cut` or before, clearing their dirty
    /// counts; returns the bytes purged.
    pub(in crate::heap) fn purge_listed(&mut self, page: usize, cut: usize) -> usize {
        let (m, mut purged) = (self.mem, 0);
        let w = super::Walk::new(self.mem, self.tag, self.top_first, self.top, &self.segs);
        let source = &mut self.source;
        let walked = self.lists.each_from(&w, class_of(PURGE_MIN).0, |h, s| {
            // SAFETY: a checked listed block; big ones keep their dirty
            // count at h+24 and their stamp at h+32; the pages purged lie
            // inside it, clear of its tags and those words.
            unsafe {
                let d = m.rd(h + 24);
                let (lo, hi) = (up(h + 40, page), down(h + s - HDR, page));
                if s >= PURGE_MIN
                    && d != 0
                    && m.rd(h + 32) <= cut
                    && hi > lo
                    && source.purge(lo, hi - lo)
                {
                    m.wr(h + 24, 0);
                    purged += d;
                }
            }
        });
        if let Err(d) = walked {
            self.corrupt(d);
        }
        self.st.dirty -= purged;
        purged
    }
}
