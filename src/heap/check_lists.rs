//! The parts of `check` that walk the free lists and the large blocks.
//! Listed blocks get the MARK bit while `check`
//! runs, so that the segment walk can tell that each is on exactly one
//! list; `unmark` clears it again.

use super::block::{IN_USE, MARK, MIN_BLOCK, PURGE_MIN, SIZE};
use super::check::Report;
use super::class::{class_of, FL, SL};
use super::raw::RawHeap;
use super::source::Source;

impl<S: Source> RawHeap<S> {
    /// Walks the free lists, marking each block; returns count and bytes.
    /// Also checks the total of dirty bytes in big free blocks.
    pub(super) fn check_lists(&mut self, r: &mut Report<'_>) -> (usize, usize) {
        let (mut n, mut sum, mut dirty) = (0, 0, 0);
        let m = self.mem();
        for fl in 0..FL {
            if !self.lists().row_consistent(fl) {
                r.err(format_args!("first-level bitmap bit {fl} is wrong"));
            }
            for sl in 0..SL {
                let mut h = self.lists().head(fl, sl);
                if self.lists().bit(fl, sl) != (h != 0) {
                    r.err(format_args!("bitmap bit ({fl},{sl}) disagrees with its list"));
                }
                let mut prev = 0;
                while h != 0 {
                    if !self.is_block_addr(h) {
                        r.err(format_args!("list ({fl},{sl}) points to {h:#x}, not a block"));
                        break;
                    }
                    // SAFETY: `h` is a block address inside a segment.
                    let (hdr, back) = unsafe { (m.rd(h), m.rd(h + 16)) };
                    let s = hdr & SIZE;
                    if hdr & (IN_USE | MARK) != 0 || s < MIN_BLOCK {
                        r.err(format_args!("list ({fl},{sl}) holds {h:#x} with header {hdr:#x}"));
                        break;
                    }
                    if class_of(s) != (fl, sl) {
                        r.err(format_args!("block {h:#x} of {s} B is on list ({fl},{sl})"));
                    }
                    if back != prev {
                        r.err(format_args!("block {h:#x} links back to {back:#x}, not {prev:#x}"));
                    }
                    if s >= PURGE_MIN {
                        // SAFETY: big free blocks keep their dirty count at h+24.
                        let d = unsafe { m.rd(h + 24) };
                        if d > s {
                            r.err(format_args!("free block {h:#x} of {s} B claims {d} B dirty"));
                        }
                        dirty += d;
                    }
                    // SAFETY: as above.
                    unsafe { m.wr(h, hdr | MARK) };
                    n += 1;
                    sum += s;
                    prev = h;
                    // SAFETY: as above.
                    h = unsafe { m.rd(h + 8) };
                }
            }
        }
        if dirty != self.stats().dirty {
            r.err(format_args!(
                "big free blocks hold {dirty} dirty B, total says {}",
                self.stats().dirty
            ));
        }
        (n, sum)
    }

    /// Clears the marks `check_lists` left (also on
    /// blocks the walk missed).
    pub(super) fn unmark(&mut self) {
        let m = self.mem();
        for fl in 0..FL {
            for sl in 0..SL {
                let mut h = self.lists().head(fl, sl);
                // SAFETY: only marked blocks (validated before marking) are
                // followed; the first unmarked one ends the list walk.
                unsafe {
                    while h != 0 && self.is_block_addr(h) && m.rd(h) & (MARK | IN_USE) == MARK {
                        m.wr(h, m.rd(h) & !MARK);
                        h = m.rd(h + 8);
                    }
                }
            }
        }
    }

    pub(super) fn check_large(&self, r: &mut Report<'_>) {
        let (mut n, mut usable, mut mapped) = (0, 0, 0);
        self.large().each(self.mem(), |p| match self.large_parts(p) {
            Ok((m, len)) => {
                n += 1;
                usable += m + len - p;
                mapped += len;
            }
            Err(_) => r.err(format_args!("large block {p:#x} has a bad header")),
        });
        if (n, usable, mapped)
            != (self.stats().large_blocks, self.stats().large, self.stats().mapped)
            || n != self.large().len()
        {
            r.err(format_args!("large totals disagree: {n} blocks, {usable} B, {mapped} B mapped"));
        }
    }
}
