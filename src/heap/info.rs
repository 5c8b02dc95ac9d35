//! Heap information (ESP-IDF `multi_heap_info_t` plus system-call counts)
//! and the block-by-block dump.

use core::fmt::{self, Write};

use super::block::{HDR, IN_USE, MIN_BLOCK, SIZE};
use super::raw::RawHeap;
use super::source::Source;
use super::tcache::{key_of, unmangle, CACHE_MEDIUM_MAX};

/// A snapshot of a heap's state. The first seven fields mean what they
/// mean in ESP-IDF's `multi_heap_info_t`; sizes are usable bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapInfo {
    /// Free bytes: every free block and the top, less one header each.
    pub total_free_bytes: usize,
    /// Usable bytes of all allocated blocks.
    pub total_allocated_bytes: usize,
    /// The largest request that succeeds without asking the source for
    /// memory (exact).
    pub largest_free_block: usize,
    /// Low-water mark of `total_free_bytes`.
    pub minimum_free_bytes: usize,
    /// Allocated blocks, large ones included.
    pub allocated_blocks: usize,
    /// Free blocks, the top counted as one when it can hold a block.
    pub free_blocks: usize,
    /// `allocated_blocks + free_blocks`.
    pub total_blocks: usize,
    /// Highest `total_allocated_bytes` seen.
    pub peak_allocated_bytes: usize,
    /// Bytes obtained from the source and not given back.
    pub footprint: usize,
    /// `brk` calls made.
    pub brk_calls: usize,
    /// `mmap` calls made.
    pub mmap_calls: usize,
    /// `munmap` calls made.
    pub munmap_calls: usize,
    /// `mremap` calls made.
    pub mremap_calls: usize,
    /// `madvise` calls made.
    pub madvise_calls: usize,
}

/// What a walk over a segment finds a block to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockKind {
    /// Allocated.
    Used,
    /// Free, in the heap's lists.
    Free,
    /// Allocated to the heap, held by a thread cache.
    Cached,
    /// The free top of the heap's newest segment.
    Top,
}

/// One step of [`RawHeap::segment_blocks`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Walked {
    /// A block: header address, size with header, kind, and for a free or
    /// cached block the next one in its list (0 otherwise).
    Block { h: usize, size: usize, kind: BlockKind, link: usize },
    /// A header that cannot be a block's; the walk stops there.
    Bad { h: usize, hdr: usize },
}

impl HeapInfo {
    /// Adds the figures of another heap: sums, except the largest free
    /// block (the larger one). The peak and the low-water mark become the
    /// sums of each heap's own (an upper and a lower bound of the whole's).
    pub fn merge(&mut self, o: &HeapInfo) {
        self.total_free_bytes += o.total_free_bytes;
        self.total_allocated_bytes += o.total_allocated_bytes;
        self.largest_free_block = self.largest_free_block.max(o.largest_free_block);
        self.minimum_free_bytes += o.minimum_free_bytes;
        self.allocated_blocks += o.allocated_blocks;
        self.free_blocks += o.free_blocks;
        self.total_blocks += o.total_blocks;
        self.peak_allocated_bytes += o.peak_allocated_bytes;
        self.footprint += o.footprint;
        self.brk_calls += o.brk_calls;
        self.mmap_calls += o.mmap_calls;
        self.munmap_calls += o.munmap_calls;
        self.mremap_calls += o.mremap_calls;
        self.madvise_calls += o.madvise_calls;
    }
}

impl fmt::Display for HeapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "free {} B in {} blocks (largest {}, minimum ever {})",
            self.total_free_bytes,
            self.free_blocks,
            self.largest_free_block,
            self.minimum_free_bytes
        )?;
        writeln!(
            f,
            "allocated {} B in {} blocks (peak {} B), footprint {} B",
            self.total_allocated_bytes,
            self.allocated_blocks,
            self.peak_allocated_bytes,
            self.footprint
        )?;
        write!(
            f,
            "calls: brk {} mmap {} munmap {} mremap {} madvise {}",
            self.brk_calls,
            self.mmap_calls,
            self.munmap_calls,
            self.mremap_calls,
            self.madvise_calls
        )
    }
}

impl<S: Source> RawHeap<S> {
    /// The heap's figures. Costs one scan of the highest non-empty class.
    pub fn info(&self) -> HeapInfo {
        let t = self.top_size();
        let largest = self.intact(self.lists().largest(&self.walk())).max(t);
        let free = self.free_now() + self.parked();
        let allocated_blocks =
            self.stats().used_blocks + self.stats().large_blocks - self.parked_blocks();
        let free_blocks =
            self.stats().free_blocks + (t >= MIN_BLOCK) as usize + self.parked_blocks();
        let segs: usize = (0..self.segs().len()).map(|i| self.segs().get(i).span.len).sum();
        let n = self.source_ref().counters();
        let allocated = self.stats().used + self.stats().large - self.parked();
        HeapInfo {
            total_free_bytes: free,
            total_allocated_bytes: allocated,
            largest_free_block: largest.saturating_sub(HDR),
            minimum_free_bytes: (!self.stats().min_free_c).min(free),
            allocated_blocks,
            free_blocks,
            total_blocks: allocated_blocks + free_blocks,
            // The peak can lag what is allocated now when other threads
            // freed blocks the calling thread's cache handed out (see
            // `remote.rs`); it is never reported below it.
            peak_allocated_bytes: self.stats().peak.max(allocated),
            footprint: segs + self.stats().mapped + self.large().table_bytes(),
            brk_calls: n.brk,
            mmap_calls: n.mmap,
            munmap_calls: n.munmap,
            mremap_calls: n.mremap,
            madvise_calls: n.madvise,
        }
    }

    /// Whether `p` points into memory this heap manages (a segment or a
    /// large block's mapping, judged by its payload address).
    pub fn owns(&self, p: *const u8) -> bool {
        let a = p.addr();
        self.segs().find(a.wrapping_sub(HDR)).is_some() || self.large().contains(self.mem(), a)
    }

    /// Calls `f` for each block of segment `i` in address order (the top
    /// last, if it can hold a block), or for the first header that cannot
    /// be one, where the walk stops; stops at `f`'s first error.
    pub(super) fn segment_blocks(
        &self,
        i: usize,
        mut f: impl FnMut(Walked) -> fmt::Result,
    ) -> fmt::Result {
        let seg = self.segs().get(i);
        let limit = if i == self.segs().top() { self.top() } else { seg.sentinel };
        let mut h = seg.first;
        while h < limit {
            // SAFETY: `h` is inside the segment's block area.
            let hdr = unsafe { self.mem().rd(h) };
            let s = hdr & SIZE;
            if s < MIN_BLOCK || s > limit - h {
                return f(Walked::Bad { h, hdr });
            }
            // SAFETY: a free or cached block's next link is its second
            // word, a cached block's key its third; s >= MIN_BLOCK.
            let (nf, key) = unsafe { (self.mem().rd(h + 8), self.mem().rd(h + 16)) };
            let (kind, link) = if hdr & IN_USE == 0 {
                (BlockKind::Free, nf)
            } else if !self.unkeyed() && s <= CACHE_MEDIUM_MAX && key == key_of(h) {
                (BlockKind::Cached, unmangle(h, nf))
            } else {
                (BlockKind::Used, 0)
            };
            f(Walked::Block { h, size: s, kind, link })?;
            h += s;
        }
        if i == self.segs().top() && self.top_size() > 0 {
            f(Walked::Block {
                h: self.top(),
                size: self.top_size(),
                kind: BlockKind::Top,
                link: 0,
            })?;
        }
        Ok(())
    }

    /// Calls `f(span, payload, usable, used)` for every block: `span` is
    /// the `(start, end)` of the segment (or a large block's mapping) it
    /// lies in, `payload` the address a user holds, `used` false for free
    /// blocks, the top and blocks a thread cache keeps; `f` returning
    /// false ends the walk. A damaged header ends it too.
    pub fn walk_blocks(&self, f: &mut dyn FnMut((usize, usize), usize, usize, bool) -> bool) {
        for i in 0..self.segs().len() {
            let seg = self.segs().get(i);
            let span = (seg.span.base, seg.span.end());
            // `Err` stops the segment walk: `f` said so, or a header is bad.
            let walked = self.segment_blocks(i, |w| match w {
                Walked::Block { h, size, kind, .. }
                    if f(span, h + HDR, size - HDR, kind == BlockKind::Used) =>
                {
                    Ok(())
                }
                _ => Err(fmt::Error),
            });
            if walked.is_err() {
                return;
            }
        }
        let mut go = true;
        self.large().each(self.mem(), |p| {
            if let (true, Ok((m, len))) = (go, self.large_parts(p)) {
                go = f((m, m + len), p, m + len - p, true);
            }
        });
    }

    /// Prints one line per block (header address, usable size, used or
    /// free, next block; next free block for free ones) and a summary.
    pub fn dump(&self, out: &mut dyn Write) -> fmt::Result {
        for i in 0..self.segs().len() {
            let seg = self.segs().get(i);
            writeln!(
                out,
                "segment {:#x}..{:#x} ({} B)",
                seg.span.base,
                seg.span.end(),
                seg.span.len
            )?;
            self.segment_blocks(i, |w| match w {
                Walked::Bad { h, hdr } => writeln!(out, "  {h:#x} bad header {hdr:#x}"),
                Walked::Block { h, size, kind, link } => {
                    let (u, n) = (size - HDR, h + size);
                    match kind {
                        BlockKind::Cached => writeln!(
                            out,
                            "  {h:#x} {u:>10} cached next {n:#x} next_cached {link:#x}"
                        ),
                        BlockKind::Used => writeln!(out, "  {h:#x} {u:>10} used next {n:#x}"),
                        BlockKind::Free => {
                            writeln!(out, "  {h:#x} {u:>10} free next {n:#x} next_free {link:#x}")
                        }
                        BlockKind::Top => writeln!(out, "  {h:#x} {u:>10} top next {n:#x}"),
                    }
                }
            })?;
        }
        let mut r = Ok(());
        self.large().each(self.mem(), |p| {
            if let Ok((m, len)) = self.large_parts(p) {
                r = r.and(writeln!(
                    out,
                    "  {:#x} {:>10} large mapping {m:#x}+{len:#x}",
                    p - HDR,
                    m + len - p
                ));
            }
        });
        r?;
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
