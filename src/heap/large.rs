//! Large blocks: one mapping each, found through an open-addressing hash
//! set of their payload addresses. The set lets `free` tell a large block
//! from a stray pointer without reading memory that may not be mapped.

use super::block::{rd, up, wr, HDR, IN_USE, LARGE, SIZE};
use super::error::HeapError;
use super::raw::RawHeap;
use super::source::Source;

/// Payload addresses of live large blocks (0 marks an empty slot), plus
/// the last few that were unmapped, to name a repeated free.
pub(super) struct LargeSet {
    table: usize,
    cap: usize,
    len: usize,
    /// The page size the mappings were made in (0 until the first: a new
    /// set is all zeros); see [`LargeSet::page`].
    page: usize,
    recent: [usize; 4],
    recent_i: usize,
}

#[inline(always)]
fn hash(key: usize, mask: usize) -> usize {
    ((key >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) & mask
}

impl LargeSet {
    pub const fn new() -> Self {
        LargeSet { table: 0, cap: 0, len: 0, page: 0, recent: [0; 4], recent_i: 0 }
    }

    /// The page size of the mappings (4096 before the first).
    #[inline]
    pub fn page(&self) -> usize {
        if self.page == 0 {
            4096
        } else {
            self.page
        }
    }

    /// Records the source's page size.
    pub fn set_page(&mut self, page: usize) {
        self.page = page;
    }

    /// How many large blocks there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes the table itself maps.
    pub fn table_bytes(&self) -> usize {
        up(self.cap * 8, self.page())
    }

    #[inline(always)]
    fn slot(&self, i: usize) -> usize {
        // SAFETY: `i < cap` and the table maps `cap` words.
        unsafe { rd(self.table + 8 * i) }
    }

    #[inline(always)]
    fn set(&mut self, i: usize, v: usize) {
        // SAFETY: as for `slot`.
        unsafe { wr(self.table + 8 * i, v) }
    }

    /// Whether `p` is a live large block.
    pub fn contains(&self, p: usize) -> bool {
        if self.len == 0 {
            return false;
        }
        let mask = self.cap - 1;
        let mut i = hash(p, mask);
        loop {
            match self.slot(i) {
                0 => return false,
                k if k == p => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Whether `p` was one of the last large blocks unmapped.
    pub fn recently_freed(&self, p: usize) -> bool {
        self.recent.contains(&p)
    }

    /// Makes room for one more entry, mapping a bigger table if needed.
    pub fn reserve<S: Source>(&mut self, src: &mut S) -> bool {
        if (self.len + 1) * 2 <= self.cap {
            return true;
        }
        let cap = (self.cap * 2).max(512);
        let Some(bytes) = cap.checked_mul(8) else { return false };
        let Some(table) = src.map(up(bytes, self.page())) else { return false };
        let (old, old_cap) = (self.table, self.cap);
        let old_bytes = self.table_bytes();
        self.table = table;
        self.cap = cap;
        self.len = 0;
        for i in 0..old_cap {
            // SAFETY: the old table maps `old_cap` words.
            let k = unsafe { rd(old + 8 * i) };
            if k != 0 {
                self.insert(k);
            }
        }
        if old != 0 {
            // SAFETY: the old table is no longer used.
            unsafe { src.unmap(old, old_bytes) };
        }
        true
    }

    /// Adds `p`; [`reserve`](Self::reserve) must have made room.
    pub fn insert(&mut self, p: usize) {
        let mask = self.cap - 1;
        let mut i = hash(p, mask);
        while self.slot(i) != 0 {
            i = (i + 1) & mask;
        }
        self.set(i, p);
        self.len += 1;
    }

    /// Removes `p` (which must be present), shifting later entries back.
    pub fn remove(&mut self, p: usize) {
        let mask = self.cap - 1;
        let mut i = hash(p, mask);
        while self.slot(i) != p {
            i = (i + 1) & mask;
        }
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let k = self.slot(j);
            if k == 0 {
                break;
            }
            let h = hash(k, mask);
            // Move k back into the hole unless its home lies in (i, j].
            let stays = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !stays {
                self.set(i, k);
                i = j;
            }
        }
        self.set(i, 0);
        self.len -= 1;
        self.recent[self.recent_i] = p;
        self.recent_i = (self.recent_i + 1) % self.recent.len();
    }

    /// Calls `f` with every live large block.
    pub fn each(&self, mut f: impl FnMut(usize)) {
        for i in 0..self.cap {
            let k = self.slot(i);
            if k != 0 {
                f(k);
            }
        }
    }
}

impl<S: Source> RawHeap<S> {
    /// A large block of `size` bytes aligned to `align`, in its own mapping.
    pub(super) fn large_alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        let page = self.source.page_size();
        self.large.set_page(page);
        let room = if align <= 16 { 16 } else { align.checked_add(16)? };
        let len = size.checked_add(room)?.checked_add(page - 1)? & !(page - 1);
        let m = self.source.map(len)?;
        if !self.large.reserve(&mut self.source) {
            // SAFETY: the mapping was never handed out.
            unsafe { self.source.unmap(m, len) };
            return None;
        }
        let p = if align <= 16 { m + 16 } else { up(m + 16, align) };
        // SAFETY: both words lie in the new mapping, before the payload.
        unsafe {
            wr(p - 16, p - m);
            wr(p - HDR, len | IN_USE | LARGE);
        }
        self.large.insert(p);
        self.st.large += m + len - p;
        self.st.large_blocks += 1;
        self.st.mapped += len;
        self.note_peak();
        Some(p)
    }

    /// The mapping `(base, len)` of live large block `p`, validated.
    pub(super) fn large_parts(&self, p: usize) -> Result<(usize, usize), HeapError> {
        // SAFETY: `p` is in the set, so its mapping is live.
        let (hdr, off) = unsafe { (rd(p - HDR), rd(p - 16)) };
        let len = hdr & SIZE;
        let m = p.wrapping_sub(off);
        if hdr & (IN_USE | LARGE) != IN_USE | LARGE
            || off < 16
            || off % 16 != 0
            || off >= len
            || m % self.large.page() != 0
        {
            return Err(HeapError::Corrupted);
        }
        Ok((m, len))
    }

    /// Frees large block `p` (known to be in the set).
    pub(super) fn large_free(&mut self, p: usize) -> Result<(), HeapError> {
        let (m, len) = self.large_parts(p)?;
        self.large.remove(p);
        self.st.large -= m + len - p;
        self.st.large_blocks -= 1;
        self.st.mapped -= len;
        // SAFETY: the block was live and is now forgotten.
        unsafe { self.source.unmap(m, len) };
        self.raise_thresholds(len);
        Ok(())
    }
}
