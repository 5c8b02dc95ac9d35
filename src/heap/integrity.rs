//! The checks a block passes before the heap trusts its metadata: what
//! stops an overflow or a write after free from turning the allocator
//! against its program. Links are checked by the list code (`class.rs`,
//! through [`Walk`](super::class::Walk)); sizes and boundary tags here.
//! Every failed check reports the block and aborts
//! ([`RawHeap::corrupt`]).

use super::block::{HDR, IN_USE, MIN_BLOCK, PREV_IN_USE, SIZE, TAG_BITS};
use super::error::Corruption;
use super::raw::RawHeap;
use super::source::Source;

impl<S: Source> RawHeap<S> {
    /// Where a block with header `h` must end: the top in the top
    /// segment, the sentinel in the others; `None` if `h` lies in no
    /// segment's block area below that end.
    #[inline(always)]
    pub(super) fn limit_of(&self, h: usize) -> Option<usize> {
        if h.wrapping_sub(self.top_first()) < self.top_end() - self.top_first() {
            return (h < self.top()).then_some(self.top());
        }
        self.segs().limit_other(h)
    }

    /// The size of free block `h`, checked: its header is a free block's
    /// of this heap, its size fits its segment and matches its footer, and
    /// the block after it is in use and knows that `h` is free. Reports
    /// the block otherwise.
    #[inline(always)]
    pub(super) fn free_size(&self, h: usize) -> usize {
        // SAFETY: `h` is a list head or a checked link, or a neighbour
        // header of a checked block: inside a segment's block area.
        self.free_size_of(h, unsafe { self.mem().rd(h) })
    }

    /// [`free_size`](Self::free_size) of block `h` whose header `hdr` the
    /// caller has just read.
    #[inline(always)]
    pub(super) fn free_size_of(&self, h: usize, hdr: usize) -> usize {
        let m = self.mem();
        if hdr & (TAG_BITS | IN_USE | PREV_IN_USE) != self.tag() | PREV_IN_USE {
            self.corrupt((Corruption::FreeHeader, h));
        }
        let s = hdr & SIZE;
        let Some(end) = self.limit_of(h) else { self.corrupt((Corruption::Link, h)) };
        if s < MIN_BLOCK || s > end - h {
            self.corrupt((Corruption::FreeSize, h));
        }
        // SAFETY: `[h, h+s]` lies in the segment (the word at `h+s` at most
        // its sentinel).
        let (footer, next) = unsafe { (m.rd(h + s - HDR), m.rd(h + s)) };
        if footer != s || next & (TAG_BITS | IN_USE | PREV_IN_USE) != self.tag() | IN_USE {
            self.corrupt((Corruption::FreeSize, h));
        }
        s
    }

    /// The size of the free block before used block `h` (whose
    /// `PREV_IN_USE` is clear), from `h`'s footer, checked against that
    /// block's header: the footer of a free block is its last word, which
    /// the block before `h` could overwrite.
    #[inline(always)]
    pub(super) fn prev_free(&self, h: usize) -> usize {
        let first = if h.wrapping_sub(self.top_first()) < self.top_end() - self.top_first() {
            self.top_first()
        } else {
            self.segs().find(h).map_or(h, |i| self.segs().get(i).first)
        };
        // SAFETY: `h` is a block header; the word before it is the previous
        // block's footer (or the segment's pad word, for the first block).
        let ps = unsafe { self.mem().rd(h - HDR) };
        if ps < MIN_BLOCK || ps % 16 != 0 || ps > h - first {
            self.corrupt((Corruption::Neighbour, h));
        }
        // SAFETY: `h - ps` lies in the segment, checked just now.
        let hdr = unsafe { self.mem().rd(h - ps) };
        if hdr & (TAG_BITS | SIZE | IN_USE | PREV_IN_USE) != self.tag() | ps | PREV_IN_USE {
            self.corrupt((Corruption::Neighbour, h));
        }
        ps
    }
}
