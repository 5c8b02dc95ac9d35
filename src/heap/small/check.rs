//! The small core's inspections: the integrity check, the figures, the
//! block walk and dump, and the ownership test.

use core::fmt::{self, Write};

use super::super::info::HeapInfo;
use super::raw::{class_of, SmallRaw, CLASSES, HDR, IN_USE, MIN_BLOCK, PREV_IN_USE, SIZE, TAG};

/// One block of a walk: payload address, usable bytes, whether in use.
pub type Walked = (usize, usize, bool);

impl SmallRaw {
    /// Calls `f` for every block in address order; stops at the first
    /// header that cannot be a block's and returns its address.
    pub fn walk(&self, f: &mut dyn FnMut(Walked)) -> Result<(), usize> {
        let (base, sent) = self.area();
        let mut h = base;
        while h < sent {
            // SAFETY: `h` is a header address inside the area.
            let hdr = unsafe { self.r32(h) };
            let s = (hdr & SIZE) as usize;
            if hdr & TAG != self.tag() || s < MIN_BLOCK || s > sent - h {
                return Err(h);
            }
            f((h + HDR, s - HDR, hdr & IN_USE != 0));
            h += s;
        }
        if h == sent {
            Ok(())
        } else {
            Err(h)
        }
    }

    /// The figures (ESP-IDF's `multi_heap_info_t` plus the peak and the
    /// region's size as footprint): from the totals, and the largest free
    /// block from the highest non-empty list.
    pub fn info(&self) -> HeapInfo {
        let st = *self.stats();
        HeapInfo {
            total_free_bytes: st.free,
            total_allocated_bytes: st.used,
            largest_free_block: self.largest(),
            minimum_free_bytes: st.min_free,
            allocated_blocks: st.used_blocks,
            free_blocks: st.free_blocks,
            total_blocks: st.used_blocks + st.free_blocks,
            peak_allocated_bytes: st.peak,
            footprint: self.area().1 + HDR - self.area().0,
            ..HeapInfo::default()
        }
    }

    /// The usable bytes of the largest free block (the largest request of
    /// alignment 8 that succeeds). Damage on the way aborts.
    fn largest(&self) -> usize {
        let c = (0..CLASSES).rev().find(|&c| self.head(c) != 0);
        let Some(c) = c else { return 0 };
        let (mut i, mut best, mut steps) = (self.head(c), 0, 0);
        let limit = (self.area().1 - self.area().0) / MIN_BLOCK;
        while i != 0 {
            let h = self.at(i);
            best = best.max(self.intact(self.free_size(h)));
            // SAFETY: `h` is a checked free block.
            i = unsafe { self.r16(h + 4) };
            steps += 1;
            if !self.link_ok(i) || steps > limit {
                self.corrupt((super::super::error::Corruption::Link, h));
            }
        }
        best - HDR
    }

    /// Whether `p` is the payload of a block in use.
    pub fn check_addr(&self, p: usize) -> bool {
        let mut found = false;
        let _ = self.walk(&mut |(q, _, used)| found |= used && q == p);
        found
    }

    /// Verifies every invariant, printing each violation as a `CORRUPT
    /// HEAP: ...` line to `out` if given. Whether the heap is intact.
    pub fn check(&self, mut out: Option<&mut dyn Write>) -> bool {
        let mut ok = true;
        let mut err = |args: fmt::Arguments<'_>| {
            ok = false;
            if let Some(o) = out.as_mut() {
                let _ = writeln!(o, "CORRUPT HEAP: {args}");
            }
        };
        let (base, sent) = self.area();
        let (mut used, mut used_sum, mut free, mut free_sum) = (0, 0, 0, 0);
        let mut prev_free = false;
        let mut h = base;
        while h < sent {
            // SAFETY: `h` is a header address inside the area.
            let hdr = unsafe { self.r32(h) };
            let s = (hdr & SIZE) as usize;
            if hdr & TAG != self.tag() || s < MIN_BLOCK || s > sent - h {
                err(format_args!("bad header {hdr:#x} at {h:#x}"));
                break;
            }
            if (hdr & PREV_IN_USE == 0) != prev_free {
                err(format_args!("PREV_IN_USE of {h:#x} disagrees with its neighbour"));
            }
            if hdr & IN_USE != 0 {
                (used, used_sum, prev_free) = (used + 1, used_sum + s - HDR, false);
            } else {
                if prev_free {
                    err(format_args!("two free blocks touch at {h:#x}"));
                }
                if let Err((c, _)) = self.free_size(h) {
                    err(format_args!("{} at {h:#x}", c.message()));
                }
                (free, free_sum, prev_free) = (free + 1, free_sum + s - HDR, true);
            }
            h += s;
        }
        if h == sent {
            // SAFETY: the sentinel is in the region.
            let sh = unsafe { self.r32(sent) };
            if sh & (TAG | SIZE | IN_USE) != self.tag() | IN_USE
                || (sh & PREV_IN_USE == 0) != prev_free
            {
                err(format_args!("bad sentinel {sh:#x} at {sent:#x}"));
            }
        }
        let (mut listed, mut listed_sum) = (0, 0);
        let limit = (sent - base) / MIN_BLOCK;
        for c in 0..CLASSES {
            let (mut i, mut back, mut steps) = (self.head(c), 0u16, 0);
            while i != 0 {
                if !self.link_ok(i) || steps > limit {
                    err(format_args!("list {c}: link {i} is not a block"));
                    break;
                }
                let h = self.at(i);
                match self.free_size(h) {
                    Ok(s) if class_of(s) == c => {
                        (listed, listed_sum) = (listed + 1, listed_sum + s - HDR);
                    }
                    Ok(s) => err(format_args!("free block {h:#x} of {s} B in list {c}")),
                    Err((k, _)) => {
                        err(format_args!("list {c}: {} at {h:#x}", k.message()));
                        break;
                    }
                }
                // SAFETY: `h` is a checked free block: its links are its words.
                if unsafe { self.r16(h + 6) } != back {
                    err(format_args!("list {c}: back link of {h:#x} does not point back"));
                }
                back = i;
                // SAFETY: as above.
                i = unsafe { self.r16(h + 4) };
                steps += 1;
            }
        }
        let st = self.stats();
        if (free, free_sum) != (listed, listed_sum)
            || (listed, listed_sum) != (st.free_blocks, st.free)
        {
            err(format_args!(
                "{free} free blocks ({free_sum} B), {listed} listed ({listed_sum} B), totals {} ({} B)",
                st.free_blocks, st.free
            ));
        }
        if (used, used_sum) != (st.used_blocks, st.used) {
            err(format_args!(
                "used totals {} / {} B, blocks {used} / {used_sum} B",
                st.used_blocks, st.used
            ));
        }
        ok
    }

    /// Writes one line per block (`0x... 24 used`) and the figures.
    pub fn dump(&self, out: &mut dyn Write) -> fmt::Result {
        let mut r = Ok(());
        let bad = self.walk(&mut |(p, n, used)| {
            if r.is_ok() {
                r = writeln!(out, "{p:#x} {n} {}", if used { "used" } else { "free" });
            }
        });
        r?;
        if let Err(h) = bad {
            writeln!(out, "bad header at {h:#x}")?;
        }
        let i = self.info();
        writeln!(
            out,
            "free {} B in {} blocks (largest {}), allocated {} B in {} blocks",
            i.total_free_bytes,
            i.free_blocks,
            i.largest_free_block,
            i.total_allocated_bytes,
            i.allocated_blocks
        )
    }
}
