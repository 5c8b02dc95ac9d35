//! Heap information (ESP-IDF `multi_heap_info_t` plus system-call counts)
//! and the block-by-block dump.

use core::fmt::{self, Write};

use super::block::{HDR, IN_USE, MIN_BLOCK, SIZE};
use super::raw::RawHeap;
use super::source::Source;
use super::tcache::{key_of, unmangle, CACHE_MAX};

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

    /// Calls `f(span, payload, usable, used)` for every block: `span` is
    /// the `(start, end)` of the segment (or a large block's mapping) it
    /// lies in, `payload` the address a user holds, `used` false for free
    /// blocks, the top and blocks a thread cache keeps; `f` returning
    /// false ends the walk. A damaged header ends it too.
    pub fn walk_blocks(&self, f: &mut dyn FnMut((usize, usize), usize, usize, bool) -> bool) {
        for i in 0..self.segs().len() {
            let seg = self.segs().get(i);
            let span = (seg.span.base, seg.span.end());
            let limit = if i == self.segs().top() { self.top() } else { seg.sentinel };
            let mut h = seg.first;
            while h < limit {
                // SAFETY: `h` is inside the segment's block area.
                let hdr = unsafe { self.mem().rd(h) };
                let s = hdr & SIZE;
                if s < MIN_BLOCK || s > limit - h {
                    return;
                }
                // SAFETY: a cached block's key is its third word; s >= MIN_BLOCK.
                let key = unsafe { self.mem().rd(h + 16) };
                let cached = !self.unkeyed() && s <= CACHE_MAX && key == key_of(h);
                if !f(span, h + HDR, s - HDR, hdr & IN_USE != 0 && !cached) {
                    return;
                }
                h += s;
            }
            if i == self.segs().top()
                && self.top_size() > 0
                && !f(span, self.top() + HDR, self.top_size() - HDR, false)
            {
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
            let limit = if i == self.segs().top() { self.top() } else { seg.sentinel };
            let mut h = seg.first;
            while h < limit {
                // SAFETY: `h` is inside the segment's block area.
                let hdr = unsafe { self.mem().rd(h) };
                let s = hdr & SIZE;
                if s < MIN_BLOCK || s > limit - h {
                    writeln!(out, "  {h:#x} bad header {hdr:#x}")?;
                    break;
                }
                // SAFETY: a free or cached block's next link is its second
                // word, a cached block's key its third; s >= MIN_BLOCK.
                let (nf, key) = unsafe { (self.mem().rd(h + 8), self.mem().rd(h + 16)) };
                let (u, n) = (s - HDR, h + s);
                if hdr & IN_USE != 0 && !self.unkeyed() && s <= CACHE_MAX && key == key_of(h) {
                    let nc = unmangle(h, nf);
                    writeln!(out, "  {h:#x} {u:>10} cached next {n:#x} next_cached {nc:#x}")?;
                } else if hdr & IN_USE != 0 {
                    writeln!(out, "  {h:#x} {u:>10} used next {n:#x}")?;
                } else {
                    writeln!(out, "  {h:#x} {u:>10} free next {n:#x} next_free {nf:#x}")?;
                }
                h += s;
            }
            if i == self.segs().top() && self.top_size() > 0 {
                writeln!(
                    out,
                    "  {:#x} {:>10} top next {:#x}",
                    self.top(),
                    self.top_size() - HDR,
                    self.top_end()
                )?;
            }
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
