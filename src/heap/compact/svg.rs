//! The picture of a compact heap (see `heap::svg`): one row per area, its
//! blocks drawn to scale, and the heap's figures.

use core::fmt::{self, Write};

use super::super::svg::Picture;
use super::{CompactHeap, Format};

impl<F: Format> CompactHeap<F> {
    /// Writes an SVG picture of this heap to `out`.
    pub fn svg(&self, out: &mut dyn Write) -> fmt::Result {
        let h = self.hold("svg");
        let areas = h.g.areas();
        let mut p = Picture::begin(out, "rawrt heap", 1, areas.len())?;
        p.title(format_args!("heap ({}-byte headers)", F::HDR))?;
        for ar in areas {
            let (lo, hi) = (ar.base, ar.sent + F::HDR);
            p.row(format_args!("area {lo:#x}..{hi:#x} ({} B)", hi - lo))?;
            let mut r = Ok(());
            let bad = h.g.walk_area(*ar, &mut |(a, b), q, n, used| {
                let class = if used { "used" } else { "free" };
                r = p.block(class, (q - F::HDR - lo, n + F::HDR, b - a), q - F::HDR, n);
                r.is_ok()
            });
            r?;
            if let Err(at) = bad {
                p.comment(format_args!("walk stopped at {at:#x}: bad header"))?;
            }
        }
        p.figures(&h.g.info())?;
        p.end()
    }
}
