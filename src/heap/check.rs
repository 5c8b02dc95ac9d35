//! Integrity check: walks every segment block by block and every free
//! list, and compares what it finds with the running totals.

use core::fmt::Write;

use super::block::{ALIGN, HDR, IN_USE, LARGE, MARK, MIN_BLOCK, PREV_IN_USE, SIZE, TAG_BITS};
use super::raw::RawHeap;
use super::source::Source;

/// Collects errors, printing each if asked.
pub(super) struct Report<'a> {
    pub ok: bool,
    pub out: Option<&'a mut dyn Write>,
}

impl Report<'_> {
    pub fn err(&mut self, args: core::fmt::Arguments<'_>) {
        self.ok = false;
        if let Some(o) = self.out.as_mut() {
            let _ = writeln!(o, "CORRUPT HEAP: {args}");
        }
    }
}

impl<S: Source> RawHeap<S> {
    /// Whether `h` could be the header of a block below the top.
    pub(super) fn is_block_addr(&self, h: usize) -> bool {
        h % ALIGN == HDR
            && match self.segs().find(h) {
                Some(i) if i == self.segs().top() => h < self.top(),
                Some(_) => true,
                None => false,
            }
    }

    /// Verifies every invariant; prints each violation to `out` if
    /// `print_errors`. Returns whether the heap is intact.
    pub fn check(&mut self, print_errors: bool, out: &mut dyn Write) -> bool {
        let mut r = Report { ok: true, out: print_errors.then_some(out) };
        let (listed, listed_sum) = self.check_lists(&mut r);
        let (mut used, mut used_sum, mut free, mut free_sum) = (0, 0, 0, 0);
        for i in 0..self.segs().len() {
            let seg = *self.segs().get(i);
            let is_top = i == self.segs().top();
            let limit = if is_top { self.top() } else { seg.sentinel };
            let (mut h, mut prev_free) = (seg.first, false);
            while h < limit {
                // SAFETY: `h` is inside the segment's block area.
                let hdr = unsafe { self.mem().rd(h) };
                let s = hdr & SIZE;
                if s < MIN_BLOCK
                    || s > limit - h
                    || hdr & (IN_USE | LARGE) == IN_USE | LARGE
                    || hdr & TAG_BITS != self.tag()
                {
                    r.err(format_args!("bad header {hdr:#x} at {h:#x}"));
                    break;
                }
                if (hdr & PREV_IN_USE == 0) != prev_free {
                    r.err(format_args!("PREV_IN_USE of {h:#x} disagrees with its neighbour"));
                }
                if hdr & IN_USE != 0 {
                    used += 1;
                    used_sum += s - HDR;
                    prev_free = false;
                } else {
                    free += 1;
                    free_sum += s;
                    if prev_free {
                        r.err(format_args!("adjacent free blocks at {h:#x}"));
                    }
                    if hdr & MARK == 0 {
                        r.err(format_args!("free block {h:#x} is on no free list"));
                    }
                    // SAFETY: as above; the footer is the block's last word.
                    if unsafe { self.mem().rd(h + s - HDR) } != s {
                        r.err(format_args!("footer of free block {h:#x} is not its size"));
                    }
                    prev_free = true;
                }
                h += s;
            }
            if is_top {
                let t = self.top_size();
                if prev_free || (t != 0 && t < MIN_BLOCK) || t % ALIGN != 0 {
                    r.err(format_args!("bad top {:#x}+{t}", self.top()));
                }
                if self.fresh() < self.top() || self.fresh() > self.top_end() {
                    r.err(format_args!("fresh mark {:#x} outside the top", self.fresh()));
                }
            }
            if is_top {
                // The top segment's last word is not written (`block.rs`).
                continue;
            }
            // SAFETY: the sentinel is the segment's last word.
            let sh = unsafe { self.mem().rd(seg.sentinel) };
            if sh & (TAG_BITS | SIZE | IN_USE | LARGE) != self.tag() | IN_USE
                || (sh & PREV_IN_USE == 0) != prev_free
            {
                r.err(format_args!("bad sentinel {sh:#x} at {:#x}", seg.sentinel));
            }
        }
        self.unmark();
        if (free, free_sum) != (listed, listed_sum) {
            r.err(format_args!(
                "{free} free blocks ({free_sum} B) but {listed} listed ({listed_sum} B)"
            ));
        }
        if (listed, listed_sum) != (self.stats().free_blocks, self.stats().free) {
            r.err(format_args!(
                "free totals {} / {} B, lists hold {listed} / {listed_sum} B",
                self.stats().free_blocks,
                self.stats().free
            ));
        }
        if (used, used_sum) != (self.stats().used_blocks, self.stats().used) {
            r.err(format_args!(
                "used totals {} / {} B, blocks {used} / {used_sum} B",
                self.stats().used_blocks,
                self.stats().used
            ));
        }
        self.check_large(&mut r);
        r.ok
    }
}
