//! The small heap's mapped blocks: requests above `SMALL_MAX` bytes and
//! alignments above 16, each in a mapping of its own with a header before
//! the block (`p-24` the check word `p ^ key ^ LARGE`, `p-16` the
//! mapping's length, `p-8` its base).

use super::{secret, SpanHeap, LARGE};
use crate::heap::block::Mem;
use crate::heap::error::HeapError;
use crate::heap::source::Source;

impl<S: Source> SpanHeap<S> {
    /// `n` bytes aligned to `align` in a mapping of their own.
    #[cold]
    #[inline(never)]
    pub(super) fn alloc_mapped(&mut self, n: usize, align: usize) -> Option<usize> {
        secret::init();
        let page = self.src.page_size();
        // The block starts 32 bytes into a page or on one past the first:
        // the check word before it is always in the mapping.
        // The block starts `align` (at least 32) bytes into the mapping, or
        // for an alignment of a page or more on the first such boundary
        // past the mapping's first page: its check word is always in the
        // mapping, and only a block aligned to a page or more starts on a
        // page boundary.
        let extra = if align < page { align.max(32) } else { align };
        let len = n.checked_add(extra)?.checked_add(page - 1)? & !(page - 1);
        let base = self.src.map(len)?;
        self.mem = Mem::new(self.src.root());
        let p = if align < page {
            base + align.max(32)
        } else {
            (base + page + align - 1) & !(align - 1)
        };
        debug_assert!(p + n <= base + len);
        let off = p - base;
        self.wr(p - 24, p ^ secret::key_mask() ^ LARGE);
        self.wr(p - 16, len);
        self.wr(p - 8, base);
        self.st.mapped += len;
        self.st.blocks += 1;
        self.st.used += len - off;
        Some(p)
    }

    /// The mapping `(base, len)` of mapped block `p`, if `p` is one. The
    /// check word before `p` is read only where a mapped block can start:
    /// not at all over a source that does not map; else at a multiple of
    /// 32 that is 32 bytes or more into a page (the word is then in `p`'s
    /// page), or at the start of a page (a block aligned to a page or
    /// more: the word is in the page before, which a pointer no heap
    /// handed out may not have, and reading it then faults).
    pub(super) fn mapping(&self, p: usize) -> Result<(usize, usize), HeapError> {
        let page = 4096;
        if !self.src.can_map() || p % 32 != 0 || p % page < 32 && p % page != 0 || p < page {
            return Err(HeapError::InvalidPointer);
        }
        if self.rd(p - 24) != p ^ secret::key_mask() ^ LARGE {
            return Err(HeapError::InvalidPointer);
        }
        Ok((self.rd(p - 8), self.rd(p - 16)))
    }

    #[cold]
    #[inline(never)]
    pub(super) fn free_mapped(&mut self, p: usize) -> Result<(), HeapError> {
        let (base, len) = self.mapping(p)?;
        self.wr(p - 24, 0);
        self.st.mapped -= len;
        self.st.blocks -= 1;
        self.st.used -= len - (p - base);
        // SAFETY: the mapping was the block's alone.
        unsafe { self.src.unmap(base, len) };
        Ok(())
    }

    /// Mapped block `p` remapped to hold `n` bytes, if the source can.
    pub(super) fn remap(&mut self, p: usize, n: usize) -> Result<Option<usize>, HeapError> {
        let (base, len) = self.mapping(p)?;
        let off = p - base;
        let page = self.src.page_size();
        let Some(new) = n.checked_add(off + page - 1).map(|x| x & !(page - 1)) else {
            return Err(HeapError::OutOfMemory);
        };
        // SAFETY: the mapping is the block's alone.
        let Some(nb) = (unsafe { self.src.remap(base, len, new) }) else { return Ok(None) };
        let q = nb + off;
        self.wr(q - 24, q ^ secret::key_mask() ^ LARGE);
        self.wr(q - 16, new);
        self.wr(q - 8, nb);
        self.st.mapped = self.st.mapped - len + new;
        self.st.used = self.st.used - (len - off) + (new - off);
        Ok(Some(q))
    }
}
