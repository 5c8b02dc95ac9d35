//! The parts of `check` that walk the free lists, the quick bins and the
//! large blocks. Listed and parked blocks get the MARK bit while `check`
//! runs, so that the segment walk can tell that each is on exactly one
//! list; `unmark` clears it again.

use super::block::{rd, wr, CACHED, IN_USE, MARK, MIN_BLOCK, SIZE};
use super::check::Report;
use super::class::{class_of, FL, SL};
use super::quick::Quick;
use super::raw::RawHeap;
use super::source::Source;

impl<S: Source> RawHeap<S> {
    /// Walks the free lists, marking each block; returns count and bytes.
    pub(super) fn check_lists(&mut self, r: &mut Report<'_>) -> (usize, usize) {
        let (mut n, mut sum) = (0, 0);
        for fl in 0..FL {
            if !self.lists.row_consistent(fl) {
                r.err(format_args!("first-level bitmap bit {fl} is wrong"));
            }
            for sl in 0..SL {
                let mut h = self.lists.head(fl, sl);
                if self.lists.bit(fl, sl) != (h != 0) {
                    r.err(format_args!("bitmap bit ({fl},{sl}) disagrees with its list"));
                }
                let mut prev = 0;
                while h != 0 {
                    if !self.is_block_addr(h) {
                        r.err(format_args!("list ({fl},{sl}) points to {h:#x}, not a block"));
                        break;
                    }
                    // SAFETY: `h` is a block address inside a segment.
                    let (hdr, back) = unsafe { (rd(h), rd(h + 16)) };
                    let s = hdr & SIZE;
                    if hdr & (IN_USE | CACHED | MARK) != 0 || s < MIN_BLOCK {
                        r.err(format_args!("list ({fl},{sl}) holds {h:#x} with header {hdr:#x}"));
                        break;
                    }
                    if class_of(s) != (fl, sl) {
                        r.err(format_args!("block {h:#x} of {s} B is on list ({fl},{sl})"));
                    }
                    if back != prev {
                        r.err(format_args!("block {h:#x} links back to {back:#x}, not {prev:#x}"));
                    }
                    // SAFETY: as above.
                    unsafe { wr(h, hdr | MARK) };
                    n += 1;
                    sum += s;
                    prev = h;
                    // SAFETY: as above.
                    h = unsafe { rd(h + 8) };
                }
            }
        }
        (n, sum)
    }

    /// Walks the quick bins, marking each block; returns count and bytes.
    pub(super) fn check_quick(&mut self, r: &mut Report<'_>) -> (usize, usize) {
        let (mut total, mut sum) = (0, 0);
        for i in 1..Quick::BINS {
            let (mut h, n) = self.quick.bin(i);
            let mut k = 0;
            while h != 0 {
                if !self.is_block_addr(h) {
                    r.err(format_args!("quick bin {i} points to {h:#x}, not a block"));
                    break;
                }
                // SAFETY: `h` is a block address inside a segment.
                let hdr = unsafe { rd(h) };
                if hdr & (IN_USE | CACHED | MARK) != CACHED || hdr & SIZE != 16 * i {
                    r.err(format_args!("quick bin {i} holds {h:#x} with header {hdr:#x}"));
                    break;
                }
                // SAFETY: as above.
                unsafe { wr(h, hdr | MARK) };
                k += 1;
                // SAFETY: as above.
                h = unsafe { rd(h + 8) };
            }
            if k != n {
                r.err(format_args!("quick bin {i} holds {k} blocks, counts {n}"));
            }
            total += k;
            sum += 16 * i * k;
        }
        (total, sum)
    }

    /// Clears the marks `check_lists` and `check_quick` left (also on
    /// blocks the walk missed).
    pub(super) fn unmark(&mut self) {
        for i in 1..Quick::BINS {
            let (mut h, _) = self.quick.bin(i);
            // SAFETY: only blocks marked by `check_quick` are followed.
            unsafe {
                while h != 0
                    && self.is_block_addr(h)
                    && rd(h) & (MARK | IN_USE | CACHED) == MARK | CACHED
                {
                    wr(h, rd(h) & !MARK);
                    h = rd(h + 8);
                }
            }
        }
        for fl in 0..FL {
            for sl in 0..SL {
                let mut h = self.lists.head(fl, sl);
                // SAFETY: only marked blocks (validated before marking) are
                // followed; the first unmarked one ends the list walk.
                unsafe {
                    while h != 0
                        && self.is_block_addr(h)
                        && rd(h) & (MARK | IN_USE | CACHED) == MARK
                    {
                        wr(h, rd(h) & !MARK);
                        h = rd(h + 8);
                    }
                }
            }
        }
    }

    pub(super) fn check_large(&self, r: &mut Report<'_>) {
        let (mut n, mut usable, mut mapped) = (0, 0, 0);
        self.large.each(|p| match self.large_parts(p) {
            Ok((m, len)) => {
                n += 1;
                usable += m + len - p;
                mapped += len;
            }
            Err(_) => r.err(format_args!("large block {p:#x} has a bad header")),
        });
        if (n, usable, mapped) != (self.st.large_blocks, self.st.large, self.st.mapped)
            || n != self.large.len()
        {
            r.err(format_args!("large totals disagree: {n} blocks, {usable} B, {mapped} B mapped"));
        }
    }
}
