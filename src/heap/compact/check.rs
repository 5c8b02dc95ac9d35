//! The compact core's inspections: the integrity check, the figures, the
//! block walk and dump, and the ownership test.

use core::fmt::{self, Write};

use super::super::error::Corruption;
use super::super::info::HeapInfo;
use super::format::{Area, Format};
use super::raw::{Compact, IN_USE, PREV_IN_USE};

impl<F: Format> Compact<F> {
    /// Calls `f(area span, payload, usable bytes, in use)` for every block
    /// in address order until it returns false; stops at a header that
    /// cannot be a block's, and returns its address.
    pub fn walk(
        &self,
        f: &mut dyn FnMut((usize, usize), usize, usize, bool) -> bool,
    ) -> Result<(), usize> {
        for &ar in self.areas() {
            if !self.walk_area(ar, f)? {
                break;
            }
        }
        Ok(())
    }

    /// [`walk`](Self::walk) over area `ar`: whether `f` wanted more.
    pub(super) fn walk_area(
        &self,
        ar: Area,
        f: &mut dyn FnMut((usize, usize), usize, usize, bool) -> bool,
    ) -> Result<bool, usize> {
        let mut h = ar.base;
        while h < ar.sent {
            // SAFETY: `h` is a header address inside the area.
            let hdr = unsafe { self.rd(h) };
            let s = hdr & F::SIZE;
            if hdr & F::TAG != self.tag() || s < F::MIN_BLOCK || s > ar.sent - h {
                return Err(h);
            }
            if !f((ar.base, ar.sent + F::HDR), h + F::HDR, s - F::HDR, hdr & IN_USE != 0) {
                return Ok(false);
            }
            h += s;
        }
        if h != ar.sent {
            return Err(h);
        }
        Ok(true)
    }

    /// The figures (ESP-IDF's `multi_heap_info_t` plus the peak, and the
    /// areas' bytes as footprint): from the totals, and the largest free
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
            footprint: self.areas().iter().map(|a| a.sent + F::HDR - a.base).sum(),
            ..HeapInfo::default()
        }
    }

    /// Sets the low-water mark of the free bytes (ESP-IDF's local
    /// minimum monitoring), at most the free bytes now.
    pub fn set_minimum_free(&mut self, v: usize) {
        self.set_min_free(v.min(self.stats().free));
    }

    /// The usable bytes of the largest free block (the largest request of
    /// the format's alignment that succeeds). Damage on the way aborts.
    fn largest(&self) -> usize {
        let top = self.top().map_or(0, |t| self.intact(self.free_size(t)));
        let Some(c) = (0..self.classes()).rev().find(|&c| self.head(c) != 0) else {
            return top.saturating_sub(F::HDR);
        };
        let (mut i, mut best, mut steps) = (self.head(c), top, 0);
        while i != 0 {
            let h = self.at(i);
            best = best.max(self.intact(self.free_size(h)));
            // SAFETY: `h` is a checked free block.
            i = unsafe { self.link(h, 0) };
            steps += 1;
            if !self.link_ok(i) || steps > self.bytes() / F::MIN_BLOCK {
                self.corrupt((Corruption::Link, h));
            }
        }
        best - F::HDR
    }

    /// Whether `p` is the payload of a block in use.
    pub fn check_addr(&self, p: usize) -> bool {
        let mut found = false;
        let _ = self.walk(&mut |_, q, _, used| {
            found |= used && q == p;
            true
        });
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
        let (mut used, mut used_sum, mut free, mut free_sum) = (0, 0, 0, 0);
        for ar in self.areas() {
            let (mut h, mut prev_free) = (ar.base, false);
            while h < ar.sent {
                // SAFETY: `h` is a header address inside the area.
                let hdr = unsafe { self.rd(h) };
                let s = hdr & F::SIZE;
                if hdr & F::TAG != self.tag() || s < F::MIN_BLOCK || s > ar.sent - h {
                    err(format_args!("bad header {hdr:#x} at {h:#x}"));
                    break;
                }
                if (hdr & PREV_IN_USE == 0) != prev_free {
                    err(format_args!("PREV_IN_USE of {h:#x} disagrees with its neighbour"));
                }
                if hdr & IN_USE != 0 {
                    (used, used_sum, prev_free) = (used + 1, used_sum + s - F::HDR, false);
                } else {
                    if let Err((c, _)) = self.free_size(h) {
                        err(format_args!("{} at {h:#x}", c.message()));
                    }
                    (free, free_sum, prev_free) = (free + 1, free_sum + s - F::HDR, true);
                }
                h += s;
            }
            if h == ar.sent {
                // SAFETY: the sentinel is in the area's region.
                let sh = unsafe { self.rd(h) };
                if sh & (F::TAG | F::SIZE | IN_USE) != self.tag() | IN_USE
                    || (sh & PREV_IN_USE == 0) != prev_free
                {
                    err(format_args!("bad sentinel {sh:#x} at {h:#x}"));
                }
            }
        }
        let (mut listed, mut listed_sum) = (0, 0);
        for c in 0..self.classes() {
            let (mut i, mut back, mut steps) = (self.head(c), 0, 0);
            while i != 0 {
                if !self.link_ok(i) || steps > self.bytes() / F::MIN_BLOCK {
                    err(format_args!("list {c}: link {i:#x} is not a block"));
                    break;
                }
                let h = self.at(i);
                match self.free_size(h) {
                    Ok(s) if self.class_of(s) == c => {
                        (listed, listed_sum) = (listed + 1, listed_sum + s - F::HDR);
                    }
                    Ok(s) => err(format_args!("free block {h:#x} of {s} B in list {c}")),
                    Err((k, _)) => {
                        err(format_args!("list {c}: {} at {h:#x}", k.message()));
                        break;
                    }
                }
                // SAFETY: `h` is a checked free block: its links are its words.
                if unsafe { self.link(h, 1) } != back {
                    err(format_args!("list {c}: back link of {h:#x} does not point back"));
                }
                back = i;
                // SAFETY: as above.
                i = unsafe { self.link(h, 0) };
                steps += 1;
            }
        }
        // The top block: off the lists, ending at the first area's sentinel.
        if let Some(t) = self.top() {
            match self.free_size(t) {
                Ok(s) if self.areas().first().is_some_and(|a| t + s == a.sent) => {
                    (listed, listed_sum) = (listed + 1, listed_sum + s - F::HDR);
                }
                Ok(s) => err(format_args!("top block {t:#x} of {s} B does not end its area")),
                Err((k, _)) => err(format_args!("top block: {} at {t:#x}", k.message())),
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

    /// Writes the main core's dump (see `info.rs`): per area a `segment
    /// A..B (N B)` line, one line per block (header address, usable size,
    /// used or free, next block; next free block for free ones; the next
    /// block is `HDR` bytes past the usable ones), and a summary.
    pub fn dump(&self, out: &mut dyn Write) -> fmt::Result {
        for ar in self.areas() {
            let (lo, hi) = (ar.base, ar.sent + F::HDR);
            writeln!(out, "segment {lo:#x}..{hi:#x} ({} B)", hi - lo)?;
            let mut r = Ok(());
            let bad = self.walk_area(*ar, &mut |_, p, u, used| {
                let (h, n) = (p - F::HDR, p + u);
                r = if used {
                    writeln!(out, "  {h:#x} {u:>10} used next {n:#x}")
                } else {
                    // SAFETY: a walked free block: its links are its words.
                    let link = unsafe { self.link(h, 0) };
                    let next_free = if link == 0 { 0 } else { self.at(link) };
                    writeln!(out, "  {h:#x} {u:>10} free next {n:#x} next_free {next_free:#x}")
                };
                r.is_ok()
            });
            r?;
            if let Err(h) = bad {
                // SAFETY: the walk stopped at a header address of the area.
                writeln!(out, "  {h:#x} bad header {:#x}", unsafe { self.rd(h) })?;
            }
        }
        let i = self.info();
        writeln!(
            out,
            "heap: {} used blocks ({} B), {} free blocks ({} B, largest {}), footprint {} B",
            i.allocated_blocks,
            i.total_allocated_bytes,
            i.free_blocks,
            i.total_free_bytes,
            i.largest_free_block,
            i.footprint
        )
    }
}
