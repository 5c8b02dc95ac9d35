//! A picture of a heap: an SVG map with one row per segment, its blocks
//! drawn to scale (used, free, cached, the top), a row for the blocks that
//! live in their own mappings (large), a legend and the heap's figures.
//!
//! Every block is one `<rect>` whose `class` says what it is and whose
//! `data-size` is its usable size (the figures of [`HeapInfo`] count the
//! same bytes), with a `<title>` (address, kind, size) that viewers show on
//! hover. Blocks too small to see at the scale of their segment are still
//! there, a fraction of a pixel wide.

use core::fmt::{self, Write};

use super::block::HDR;
use super::info::{BlockKind, HeapInfo, Walked};
use super::raw::RawHeap;
use super::region::RegionRef;
use super::source::Source;
use crate::rt::io::FdWriter;
use crate::sys::{Errno, Fd};

/// Width of a row's bar, in pixels.
const BAR: u128 = 1000;
/// Left margin.
const LEFT: u128 = 10;
/// Height of a bar.
const BAR_H: usize = 24;
/// Height of a segment's row: its label and its bar.
const ROW_H: usize = 46;
/// Height of a heap's title line, and of the legend.
const LINE_H: usize = 20;
/// Height of the figures under a heap (three lines).
const FIGURES_H: usize = 3 * 16 + 8;

/// An SVG document being written: where the next row goes.
pub(super) struct Picture<'a> {
    out: &'a mut dyn Write,
    y: usize,
}

impl<'a> Picture<'a> {
    /// Starts a document of `heaps` heaps with `rows` rows in all (see
    /// [`RawHeap::svg_rows`]), titled `title`, with its legend.
    pub(super) fn begin(
        out: &'a mut dyn Write,
        title: &str,
        heaps: usize,
        rows: usize,
    ) -> Result<Self, fmt::Error> {
        let h = 2 * LINE_H + heaps * (LINE_H + FIGURES_H) + rows * ROW_H + 10;
        let w = BAR + 2 * LEFT;
        write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"monospace\" font-size=\"12\">\n\
             <title>"
        )?;
        escaped(out, title)?;
        out.write_str(
            "</title>\n<style>\
             .used{fill:#d9534f}.free{fill:#5cb85c}.cached{fill:#f0ad4e}\
             .top{fill:#a8dba8}.large{fill:#5b7bd5}.bar{fill:#eee;stroke:#999}\
             </style>\n",
        )?;
        let mut p = Picture { out, y: 0 };
        p.text(LEFT as usize, 14, title)?;
        p.legend()?;
        Ok(p)
    }

    /// Ends the document.
    pub(super) fn end(self) -> fmt::Result {
        self.out.write_str("</svg>\n")
    }

    fn legend(&mut self) -> fmt::Result {
        self.y = LINE_H;
        let mut x = LEFT as usize;
        for (class, label) in [
            ("used", "used"),
            ("free", "free"),
            ("cached", "cached (a thread's)"),
            ("top", "top"),
            ("large", "own mapping"),
        ] {
            writeln!(
                self.out,
                "<rect class=\"{class} legend\" x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\"/>",
                self.y + 4
            )?;
            self.text(x + 16, self.y + 14, label)?;
            x += 24 + 8 * label.len();
        }
        self.y += LINE_H;
        Ok(())
    }

    fn text(&mut self, x: usize, y: usize, s: &str) -> fmt::Result {
        write!(self.out, "<text x=\"{x}\" y=\"{y}\">")?;
        escaped(self.out, s)?;
        self.out.write_str("</text>\n")
    }

    /// A heap's title line.
    pub(super) fn title(&mut self, name: fmt::Arguments<'_>) -> fmt::Result {
        writeln!(
            self.out,
            "<text x=\"{LEFT}\" y=\"{}\" font-weight=\"bold\">{name}</text>",
            self.y + 14
        )?;
        self.y += LINE_H;
        Ok(())
    }

    /// A comment in the document.
    pub(super) fn comment(&mut self, text: fmt::Arguments<'_>) -> fmt::Result {
        writeln!(self.out, "<!-- {text} -->")
    }

    /// A row: its label and an empty bar; blocks follow with [`block`].
    pub(super) fn row(&mut self, label: fmt::Arguments<'_>) -> fmt::Result {
        writeln!(self.out, "<text x=\"{}\" y=\"{}\">{label}</text>", LEFT, self.y + 14)?;
        writeln!(
            self.out,
            "<rect class=\"bar\" x=\"{LEFT}\" y=\"{}\" width=\"{BAR}\" height=\"{BAR_H}\"/>",
            self.y + 18
        )?;
        self.y += ROW_H;
        Ok(())
    }

    /// A block of the last row: `at..at + len` of the row's `span` bytes.
    pub(super) fn block(
        &mut self,
        class: &str,
        (at, len, span): (usize, usize, usize),
        addr: usize,
        usable: usize,
    ) -> fmt::Result {
        let scale = |v: usize| (v as u128 * BAR * 1000) / span.max(1) as u128;
        let (x, w) = (LEFT * 1000 + scale(at), scale(len));
        writeln!(
            self.out,
            "<rect class=\"{class}\" x=\"{}.{:03}\" y=\"{}\" width=\"{}.{:03}\" height=\"{BAR_H}\" \
             data-addr=\"{addr:#x}\" data-size=\"{usable}\"><title>{addr:#x} {class} {usable} B</title></rect>",
            x / 1000,
            x % 1000,
            self.y - ROW_H + 18,
            w / 1000,
            w % 1000,
        )
    }

    /// A heap's figures, three lines.
    pub(super) fn figures(&mut self, i: &HeapInfo) -> fmt::Result {
        writeln!(
            self.out,
            "<g class=\"figures\" data-allocated-blocks=\"{}\" data-allocated-bytes=\"{}\" \
             data-free-blocks=\"{}\" data-free-bytes=\"{}\" data-largest-free=\"{}\" \
             data-footprint=\"{}\">",
            i.allocated_blocks,
            i.total_allocated_bytes,
            i.free_blocks,
            i.total_free_bytes,
            i.largest_free_block,
            i.footprint
        )?;
        let lines = [
            format_args!(
                "allocated {} B in {} blocks (peak {} B), footprint {} B",
                i.total_allocated_bytes, i.allocated_blocks, i.peak_allocated_bytes, i.footprint
            ),
            format_args!(
                "free {} B in {} blocks (largest {} B, minimum ever {} B)",
                i.total_free_bytes, i.free_blocks, i.largest_free_block, i.minimum_free_bytes
            ),
            format_args!(
                "calls: brk {} mmap {} munmap {} mremap {} madvise {}",
                i.brk_calls, i.mmap_calls, i.munmap_calls, i.mremap_calls, i.madvise_calls
            ),
        ];
        for (k, l) in lines.into_iter().enumerate() {
            writeln!(self.out, "<text x=\"{LEFT}\" y=\"{}\">{l}</text>", self.y + 14 + 16 * k)?;
        }
        self.y += FIGURES_H;
        self.out.write_str("</g>\n")
    }
}

/// Writes `s` with XML's special characters escaped.
fn escaped(out: &mut dyn Write, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '<' => out.write_str("&lt;")?,
            '>' => out.write_str("&gt;")?,
            '&' => out.write_str("&amp;")?,
            '"' => out.write_str("&quot;")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

impl<S: Source> RawHeap<S> {
    /// Rows this heap takes in a picture: one per segment, one for its
    /// large blocks if it has any.
    pub(super) fn svg_rows(&self) -> usize {
        self.segs().len() + (self.stats().large_blocks > 0) as usize
    }

    /// Draws this heap into `p` under the title `name`.
    pub(super) fn svg_heap(&self, p: &mut Picture<'_>, name: fmt::Arguments<'_>) -> fmt::Result {
        writeln!(
            p.out,
            "<text x=\"{LEFT}\" y=\"{}\" font-weight=\"bold\">{name}</text>",
            p.y + 14
        )?;
        p.y += LINE_H;
        for i in 0..self.segs().len() {
            let span = self.segs().get(i).span;
            p.row(format_args!("segment {:#x}..{:#x} ({} B)", span.base, span.end(), span.len))?;
            let mut bad = None;
            self.segment_blocks(i, |w| match w {
                Walked::Block { h, size, kind, .. } => {
                    let class = match kind {
                        BlockKind::Used => "used",
                        BlockKind::Free => "free",
                        BlockKind::Cached => "cached",
                        BlockKind::Top => "top",
                    };
                    p.block(class, (h - span.base, size, span.len), h, size - HDR)
                }
                Walked::Bad { h, hdr } => {
                    bad = Some((h, hdr));
                    Ok(())
                }
            })?;
            if let Some((h, hdr)) = bad {
                writeln!(p.out, "<!-- segment walk stopped at {h:#x}: bad header {hdr:#x} -->")?;
            }
        }
        if self.stats().large_blocks > 0 {
            let mut total = 0;
            self.large().each(self.mem(), |q| {
                if let Ok((_, len)) = self.large_parts(q) {
                    total += len;
                }
            });
            p.row(format_args!(
                "own mappings: {} blocks, {} B mapped",
                self.stats().large_blocks,
                total
            ))?;
            let (mut at, mut r) = (0, Ok(()));
            self.large().each(self.mem(), |q| {
                if let Ok((m, len)) = self.large_parts(q) {
                    r = r.and(p.block("large", (at, len, total), q - HDR, m + len - q));
                    at += len;
                }
            });
            r?;
        }
        p.figures(&self.info())
    }

    /// Writes an SVG picture of this heap to `out` (see the module
    /// documentation of `heap::svg`).
    pub fn svg(&self, out: &mut dyn Write) -> fmt::Result {
        let mut p = Picture::begin(out, "rawrt heap", 1, self.svg_rows())?;
        self.svg_heap(&mut p, format_args!("heap"))?;
        p.end()
    }
}

/// Writes a picture of `heap` (of the process heap, all its arenas, if
/// `None`) to file descriptor `fd`: the first write error if one failed
/// (the picture is then incomplete).
pub fn svg_to_fd(heap: Option<RegionRef>, fd: Fd) -> Result<(), Errno> {
    let mut w = FdWriter::new(fd);
    // The writer itself never fails; a failed write is kept in `w`.
    let _ = match heap {
        Some(h) => h.svg(&mut w),
        None => super::process().svg(&mut w),
    };
    w.finish()
}
