//! Large blocks: one mapping each, found through an open-addressing hash
//! set of their payload addresses. The set lets `free` tell a large block
//! from a stray pointer without reading memory that may not be mapped.
//! A freed block leaves a tombstone in the set, so that a second free of
//! it is named a double free (until the set is next rebuilt, which keeps
//! the last few in a small ring).

use super::block::{up, Mem, HDR, IN_USE, LARGE, SIZE};
use super::error::{Corruption, HeapError};
use super::raw::RawHeap;
use super::source::Source;

/// Payload addresses of live large blocks (`p`), tombstones of freed ones
/// (`p | 1`), 0 for an empty slot; plus the last [`RECENT`] freed, which
/// survive a rebuild.
pub(super) struct LargeSet {
    table: usize,
    cap: usize,
    len: usize,
    /// Tombstones in the table.
    dead: usize,
    /// The page size the mappings were made in (0 until the first: a new
    /// set is all zeros); see [`LargeSet::page`].
    page: usize,
    recent: [usize; RECENT],
    recent_i: usize,
}

/// Freed large blocks remembered whatever happens to the table: a second
/// free of one of the last this many is named a double free for certain
/// (older ones while their tombstones last: the table drops tombstones
/// when it is rebuilt, which depends on how many other blocks came and
/// went, and at which addresses).
const RECENT: usize = 16;
const _: () = assert!(RECENT.is_power_of_two(), "the ring's index is taken modulo RECENT");

#[inline(always)]
fn hash(key: usize, mask: usize) -> usize {
    ((key >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) & mask
}

impl LargeSet {
    pub const fn new() -> Self {
        LargeSet { table: 0, cap: 0, len: 0, dead: 0, page: 0, recent: [0; RECENT], recent_i: 0 }
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
    fn slot(&self, m: Mem, i: usize) -> usize {
        // SAFETY: `i < cap` and the table maps `cap` words.
        unsafe { m.rd(self.table + 8 * i) }
    }

    #[inline(always)]
    fn set(&mut self, m: Mem, i: usize, v: usize) {
        // SAFETY: as for `slot`.
        unsafe { m.wr(self.table + 8 * i, v) }
    }

    /// The slot holding `key` (a live entry or a tombstone), if any.
    fn find(&self, m: Mem, key: usize) -> Option<usize> {
        if self.cap == 0 {
            return None;
        }
        let mask = self.cap - 1;
        let mut i = hash(key, mask);
        loop {
            match self.slot(m, i) {
                0 => return None,
                k if k == key => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Whether `p` is a live large block.
    pub fn contains(&self, m: Mem, p: usize) -> bool {
        self.len != 0 && self.find(m, p).is_some()
    }

    /// Whether `p` is a large block that was unmapped (a tombstone since
    /// the last rebuild, or one of the last few).
    pub fn recently_freed(&self, m: Mem, p: usize) -> bool {
        p % 16 == 0 && (self.recent.contains(&p) || self.find(m, p | 1).is_some())
    }

    /// Makes room for one more entry, mapping a new table (bigger if the
    /// live entries need it) when live entries and tombstones fill half.
    pub fn reserve<S: Source>(&mut self, m: Mem, src: &mut S) -> bool {
        if (self.len + self.dead + 1) * 2 <= self.cap {
            return true;
        }
        let cap = if (self.len + 1) * 4 > self.cap { (self.cap * 2).max(512) } else { self.cap };
        let Some(bytes) = cap.checked_mul(8) else { return false };
        let Some(table) = src.map(up(bytes, self.page())) else { return false };
        let (old, old_cap) = (self.table, self.cap);
        let old_bytes = self.table_bytes();
        self.table = table;
        self.cap = cap;
        self.len = 0;
        self.dead = 0;
        for i in 0..old_cap {
            // SAFETY: the old table maps `old_cap` words.
            let k = unsafe { m.rd(old + 8 * i) };
            if k != 0 && k & 1 == 0 {
                self.insert(m, k);
            }
        }
        if old != 0 {
            // SAFETY: the old table is no longer used.
            unsafe { src.unmap(old, old_bytes) };
        }
        true
    }

    /// Adds `p`; [`reserve`](Self::reserve) must have made room. A
    /// tombstone of `p` (its address mapped again) is replaced.
    pub fn insert(&mut self, m: Mem, p: usize) {
        if let Some(i) = self.find(m, p | 1) {
            self.set(m, i, p);
            self.dead -= 1;
            self.len += 1;
            return;
        }
        let mask = self.cap - 1;
        let mut i = hash(p, mask);
        while self.slot(m, i) != 0 {
            i = (i + 1) & mask;
        }
        self.set(m, i, p);
        self.len += 1;
    }

    /// Removes `p` (which must be present), leaving its tombstone.
    pub fn remove(&mut self, m: Mem, p: usize) {
        if let Some(i) = self.find(m, p) {
            self.set(m, i, p | 1);
            self.len -= 1;
            self.dead += 1;
        }
        self.recent[self.recent_i % RECENT] = p;
        self.recent_i = (self.recent_i + 1) % RECENT;
    }

    /// Calls `f` with every live large block.
    pub fn each(&self, m: Mem, mut f: impl FnMut(usize)) {
        for i in 0..self.cap {
            let k = self.slot(m, i);
            if k != 0 && k & 1 == 0 {
                f(k);
            }
        }
    }
}

impl<S: Source> RawHeap<S> {
    /// A large block of `size` bytes aligned to `align`, in its own mapping.
    pub(super) fn large_alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        if self.tag() == 0 {
            self.first_use();
        }
        let page = self.source().page_size();
        self.set_large_page(page);
        let room = if align <= 16 { 16 } else { align.checked_add(16)? };
        let len = size.checked_add(room)?.checked_add(page - 1)? & !(page - 1);
        if len > SIZE {
            return None; // the header could not hold it
        }
        let m = self.source().map(len)?;
        if !self.reserve_large() {
            // SAFETY: the mapping was never handed out.
            unsafe { self.source().unmap(m, len) };
            return None;
        }
        let p = if align <= 16 { m + 16 } else { up(m + 16, align) };
        // SAFETY: both words lie in the new mapping, before the payload.
        unsafe {
            self.mem().wr(p - 16, p - m);
            self.mem().wr(p - HDR, len | IN_USE | LARGE);
        }
        self.add_large(p, m + len - p, len);
        Some(p)
    }

    /// The mapping `(base, len)` of live large block `p`, validated.
    pub(super) fn large_parts(&self, p: usize) -> Result<(usize, usize), HeapError> {
        // SAFETY: `p` is in the set, so its mapping is live.
        let (hdr, off) = unsafe { (self.mem().rd(p - HDR), self.mem().rd(p - 16)) };
        let len = hdr & SIZE;
        let m = p.wrapping_sub(off);
        if hdr & (IN_USE | LARGE) != IN_USE | LARGE
            || off < 16
            || off % 16 != 0
            || off >= len
            || m % self.large().page() != 0
        {
            return Err(HeapError::Corrupted(Corruption::LargeHeader));
        }
        Ok((m, len))
    }

    /// Frees large block `p` (known to be in the set).
    pub(super) fn large_free(&mut self, p: usize) -> Result<(), HeapError> {
        let (m, len) = self.large_parts(p)?;
        self.remove_large(p, m + len - p, len);
        // SAFETY: the block was live and is now forgotten.
        unsafe { self.source().unmap(m, len) };
        self.raise_thresholds(len);
        Ok(())
    }
}
