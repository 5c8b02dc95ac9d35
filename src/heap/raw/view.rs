//! Reading a [`RawHeap`]'s state: the accessors that the operations in
//! the sibling files use (the fields are private to `raw`), and the few
//! settings that keep no totals.

use super::super::block::Mem;
use super::super::class::FreeLists;
use super::super::large::LargeSet;
use super::super::segment::Segments;
use super::super::source::Source;
use super::{RawHeap, Stats};

/// Reading the state: what the operations in the sibling files see.
impl<S: Source> RawHeap<S> {
    /// How addresses become pointers.
    #[inline(always)]
    pub(in crate::heap) fn mem(&self) -> Mem {
        self.mem
    }

    /// This heap's tag (0 before its first memory).
    #[inline(always)]
    pub(in crate::heap) fn tag(&self) -> usize {
        self.tag
    }

    /// The function the current operation reports under, if set.
    #[inline(always)]
    pub(in crate::heap) fn op(&self) -> Option<&'static str> {
        self.op
    }

    /// Names the function that the current operation reports under.
    #[inline(always)]
    pub(in crate::heap) fn set_op(&mut self, func: &'static str) {
        self.op = Some(func);
    }

    /// The lowest first header and the highest sentinel of all segments.
    #[inline(always)]
    pub(in crate::heap) fn bounds(&self) -> (usize, usize) {
        self.bounds
    }

    /// The count of changes to what the caches see (see the field).
    #[inline(always)]
    pub(in crate::heap) fn layout(&self) -> usize {
        self.layout
    }

    /// Header address of the top.
    #[inline(always)]
    pub(in crate::heap) fn top(&self) -> usize {
        self.top
    }

    /// The top segment's sentinel: the top is `[top, top_end)`.
    #[inline(always)]
    pub(in crate::heap) fn top_end(&self) -> usize {
        self.top_end
    }

    /// The top segment's first header.
    #[inline(always)]
    pub(in crate::heap) fn top_first(&self) -> usize {
        self.top_first
    }

    /// Every byte of `[fresh, top_end)` is zero.
    #[inline(always)]
    pub(in crate::heap) fn fresh(&self) -> usize {
        self.fresh
    }

    /// The segments.
    #[inline(always)]
    pub(in crate::heap) fn segs(&self) -> &Segments {
        &self.segs
    }

    /// The free lists.
    #[inline(always)]
    pub(in crate::heap) fn lists(&self) -> &FreeLists {
        &self.lists
    }

    /// The large blocks.
    #[inline(always)]
    pub(in crate::heap) fn large(&self) -> &LargeSet {
        &self.large
    }

    /// The running totals.
    #[inline(always)]
    pub(in crate::heap) fn stats(&self) -> &Stats {
        &self.st
    }

    /// Usable bytes of the blocks the calling thread's cache holds.
    #[inline(always)]
    pub(in crate::heap) fn parked(&self) -> usize {
        self.parked
    }

    /// Number of the blocks the calling thread's cache holds.
    #[inline(always)]
    pub(in crate::heap) fn parked_blocks(&self) -> usize {
        self.parked_blocks
    }

    /// Tells the heap what the calling thread's cache holds now: `(usable
    /// bytes, blocks)`.
    #[inline(always)]
    pub(in crate::heap) fn set_parked(&mut self, (bytes, blocks): (usize, usize)) {
        self.parked = bytes;
        self.parked_blocks = blocks;
    }

    /// Whether no thread cache holds this heap's blocks.
    #[inline(always)]
    pub(in crate::heap) fn unkeyed(&self) -> bool {
        self.unkeyed
    }

    /// Thread caches will hold this heap's blocks: `free` checks keys.
    pub(in crate::heap) const fn set_keyed(&mut self) {
        self.unkeyed = false;
    }

    /// The mmap threshold was set explicitly.
    #[inline(always)]
    pub(in crate::heap) fn mmap_fixed(&self) -> bool {
        self.mmap_fixed
    }

    /// The source, shared.
    #[inline(always)]
    pub(in crate::heap) fn source_ref(&self) -> &S {
        &self.source
    }

    /// Payload address of the block freed last.
    #[inline(always)]
    pub(in crate::heap) fn last_freed(&self) -> usize {
        self.last_freed
    }

    /// Remembers `p` as the payload freed last.
    #[inline(always)]
    pub(in crate::heap) fn set_last_freed(&mut self, p: usize) {
        self.last_freed = p;
    }

    /// The top size below which an automatic trim is not retried.
    #[inline(always)]
    pub(in crate::heap) fn trim_fail_at(&self) -> usize {
        self.trim_fail_at
    }

    /// Sets the top size below which an automatic trim is not retried.
    #[inline(always)]
    pub(in crate::heap) fn set_trim_fail_at(&mut self, n: usize) {
        self.trim_fail_at = n;
    }

    /// Dirty bytes of the big free blocks and of the top.
    #[inline(always)]
    pub(in crate::heap) fn dirty_total(&self) -> usize {
        self.st.dirty + (self.fresh - self.top)
    }
}
