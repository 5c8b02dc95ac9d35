//! The table of segments a heap owns: contiguous spans from its source,
//! each holding blocks from `first` to its sentinel header.

use super::block::{down, up, ALIGN, HDR};
use super::source::Span;

/// How many segments a heap can hold at once.
pub const MAX_SEGS: usize = 32;
const _: () = assert!(MAX_SEGS.is_power_of_two(), "indices are taken modulo MAX_SEGS");
/// "No segment".
pub const NONE: usize = usize::MAX;

/// One segment.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    /// The span as the source handed it out (and wants it back).
    pub span: Span,
    /// Header address of the first block.
    pub first: usize,
    /// Header address of the sentinel (the last word before the aligned end).
    pub sentinel: usize,
}

impl Seg {
    /// The block area of `span`, or `None` if it is too small for any.
    pub fn of(span: Span) -> Option<Seg> {
        let first = up(span.base.checked_add(ALIGN - 1)?, ALIGN) + HDR;
        let sentinel = down(span.end(), ALIGN).checked_sub(HDR)?;
        (sentinel >= first).then_some(Seg { span, first, sentinel })
    }

    /// The segment with its span's length set to `len`: grown, or trimmed
    /// to a length that still holds its blocks. The first header stays; the
    /// sentinel moves to the new end (never below the first header).
    #[inline]
    pub fn resized(self, len: usize) -> Seg {
        let span = Span { len, ..self.span };
        let sentinel = down(span.end(), ALIGN).wrapping_sub(HDR).max(self.first);
        Seg { span, first: self.first, sentinel }
    }

    /// Whether header address `h` lies in the block area.
    #[inline(always)]
    pub fn holds(&self, h: usize) -> bool {
        h.wrapping_sub(self.first) < self.sentinel - self.first
    }
}

const EMPTY: Seg =
    Seg { span: Span { base: 0, len: 0, kind: 0, zeroed: false }, first: 0, sentinel: 0 };

/// The segment table; [`top`](Segments::top) indexes the segment that
/// holds the top.
pub struct Segments {
    list: [Seg; MAX_SEGS],
    n: usize,
    /// Index of the top segment plus one, 0 for none (so that a new table
    /// is all zeros).
    top1: usize,
}

impl Segments {
    /// No segments.
    pub const fn new() -> Self {
        Segments { list: [EMPTY; MAX_SEGS], n: 0, top1: 0 }
    }

    /// Index of the top segment, or [`NONE`].
    #[inline(always)]
    pub fn top(&self) -> usize {
        self.top1.wrapping_sub(1)
    }

    /// Makes segment `i` the top segment.
    #[inline]
    pub fn set_top(&mut self, i: usize) {
        self.top1 = i + 1;
    }

    /// How many segments there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.n
    }

    /// Segment `i` (`i < len()`: every index the heap holds was made so;
    /// taken modulo the table's size, so that no bounds check, and no
    /// panic, is compiled in).
    #[inline(always)]
    pub fn get(&self, i: usize) -> &Seg {
        &self.list[i % MAX_SEGS]
    }

    /// Segment `i`, to change (as for [`get`](Self::get)).
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut Seg {
        &mut self.list[i % MAX_SEGS]
    }

    /// The segments in use.
    #[inline(always)]
    fn used(&self) -> impl Iterator<Item = &Seg> {
        self.list.iter().take(self.n)
    }

    /// Adds a segment; `None` when the table is full.
    pub fn push(&mut self, s: Seg) -> Option<usize> {
        let slot = self.list.get_mut(self.n)?;
        *slot = s;
        self.n += 1;
        Some(self.n - 1)
    }

    /// Removes segment `i` (never the top one).
    pub fn remove(&mut self, i: usize) {
        debug_assert!(i != self.top() && i < self.n);
        self.n -= 1;
        *self.get_mut(i) = *self.get(self.n);
        if self.top() == self.n {
            self.set_top(i);
        }
    }

    /// The segment whose block area holds header address `h`, searching
    /// all but the top segment (the caller checks that one first).
    #[inline]
    pub fn find_other(&self, h: usize) -> Option<usize> {
        // Indices below `min(n, MAX_SEGS)`: in bounds as the compiler sees it.
        (0..self.n.min(MAX_SEGS)).find(|&i| i != self.top() && self.list[i].holds(h))
    }

    /// The sentinel of the segment other than the top one whose block area
    /// holds header address `h` (out of line: most blocks are in the top
    /// segment, which callers check first).
    #[inline(never)]
    pub fn limit_other(&self, h: usize) -> Option<usize> {
        self.find_other(h).map(|i| self.get(i).sentinel)
    }

    /// The lowest first header and the highest sentinel of all segments:
    /// every block address lies in between (`(0, 0)` with no segment).
    #[inline(never)]
    pub fn bounds(&self) -> (usize, usize) {
        let (mut lo, mut hi) = (usize::MAX, 0);
        for s in self.used() {
            lo = lo.min(s.first);
            hi = hi.max(s.sentinel);
        }
        if self.n == 0 {
            (0, 0)
        } else {
            (lo, hi)
        }
    }

    /// The segment holding `h`, top segment included.
    pub fn find(&self, h: usize) -> Option<usize> {
        (0..self.n.min(MAX_SEGS)).find(|&i| self.list[i].holds(h))
    }

    /// The top segment's span.
    pub fn top_span(&self) -> Option<Span> {
        (self.top() != NONE).then(|| self.get(self.top()).span)
    }
}
