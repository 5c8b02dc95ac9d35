//! [`SmallRaw`]: the small core's state and operations (`&mut self`, no
//! lock, no system call). The block layout is in the parent module's
//! documentation.

use super::super::block::{down, up, Mem};
use super::super::error::{Corruption, HeapError};
use super::super::secret;

/// Payload alignment of every block (NuttX's small model: 8 bytes here,
/// as ESP-IDF's `multi_heap_*` and rawrt's `mm_*` promise).
pub const GRAIN: usize = 8;
/// Bytes of header per block.
pub const HDR: usize = 4;
/// Smallest block: header, two 16-bit links, and a footer.
pub const MIN_BLOCK: usize = 16;
/// The largest region the small core manages: every size fits the 16
/// size bits of a header, every block index a 16-bit link.
pub const MAX_REGION: usize = 64 * 1024;

/// Header flag: the block is in use.
pub(super) const IN_USE: u32 = 1;
/// Header flag: the block before is in use (its footer is not valid).
/// Always set on free blocks.
pub(super) const PREV_IN_USE: u32 = 2;
/// The size bits of a header.
pub(super) const SIZE: u32 = 0xFFF8;
/// The tag bits of a header (the heap's tag, never zero).
pub(super) const TAG: u32 = 0xFFFF_0000;

/// Number of size classes: exact below 128 bytes, then four per power of
/// two up to [`MAX_REGION`].
pub(super) const CLASSES: usize = 50;

/// A damaged list or block: which check and the block's header address.
pub(super) type Damage = (Corruption, usize);

/// The class a free block of `s` bytes (a multiple of 8, at least
/// [`MIN_BLOCK`], below [`MAX_REGION`]) is listed in.
#[inline]
pub(super) fn class_of(s: usize) -> usize {
    let g = s >> 3;
    if g < 16 {
        return g.saturating_sub(2);
    }
    let f = (usize::BITS - 1 - g.leading_zeros()) as usize;
    (14 + (f - 4) * 4 + ((g >> (f - 2)) & 3)).min(CLASSES - 1)
}

/// The block size for a request of `size` bytes (`None`: more than any
/// small region holds).
#[inline]
pub(super) fn block_for(size: usize) -> Option<usize> {
    if size >= MAX_REGION {
        return None;
    }
    Some(up(size + HDR, GRAIN).max(MIN_BLOCK))
}

/// Running totals, so that the figures cost no walk.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stats {
    /// Usable bytes (size less header) and number of the used blocks.
    pub used: usize,
    pub used_blocks: usize,
    /// Usable bytes and number of the free blocks (all listed).
    pub free: usize,
    pub free_blocks: usize,
    /// The most usable bytes ever in use at once.
    pub peak: usize,
    /// The fewest free bytes ever.
    pub min_free: usize,
}

/// A heap over one region of at most [`MAX_REGION`] bytes: blocks with
/// 4-byte headers, segregated free lists linked by 16-bit block indices.
pub struct SmallRaw {
    /// How addresses become pointers.
    mem: Mem,
    /// The first block's header (≡ 4 mod 8): blocks cover `[base, sent)`.
    base: usize,
    /// The sentinel header (≡ 4 mod 8; size 0, in use).
    sent: usize,
    /// The heap's tag in the top 16 bits of every header and footer.
    tag: u32,
    /// Bit `c` set iff list `c` is not empty.
    map: u64,
    /// The first block of each class's list, as an index (see `idx`; 0:
    /// empty). Lists are doubly linked through the 16-bit words at `h+4`
    /// (next) and `h+6` (previous), newest first.
    heads: [u16; CLASSES],
    /// The function a corruption found now is reported under.
    op: Option<&'static str>,
    /// The totals (see [`Stats`]).
    st: Stats,
}

// SAFETY: the heap owns the memory its addresses point to.
unsafe impl Send for SmallRaw {}

impl SmallRaw {
    /// A heap over `[ptr, ptr+len)`; `None` if the region is larger than
    /// [`MAX_REGION`] or holds no block.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else while the heap is used.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> Option<SmallRaw> {
        if len > MAX_REGION {
            return None;
        }
        let start = ptr.expose_provenance();
        let end = start.checked_add(len)?;
        let base = up(start.checked_add(HDR)?, GRAIN) - HDR;
        let sent = down(end.checked_sub(2 * HDR)?, GRAIN) + HDR;
        if sent < base.checked_add(MIN_BLOCK)? {
            return None;
        }
        let tag = ((secret::new_tag() >> 48) as u32) << 16;
        let mut h = SmallRaw {
            mem: Mem::new(ptr),
            base,
            sent,
            tag,
            map: 0,
            heads: [0; CLASSES],
            op: None,
            st: Stats::default(),
        };
        // SAFETY: `[base, sent + 4)` lies in the region, which is ours.
        unsafe {
            h.w32(sent, tag | IN_USE);
            h.put_free(base, sent - base);
        }
        h.st.min_free = h.st.free;
        Some(h)
    }

    /// Sets the function name corruption is reported under.
    #[inline]
    pub fn set_op(&mut self, op: &'static str) {
        self.op = Some(op);
    }

    /// The totals.
    pub(super) fn stats(&self) -> &Stats {
        &self.st
    }

    /// `[base, sent)`: where blocks are.
    pub(super) fn area(&self) -> (usize, usize) {
        (self.base, self.sent)
    }

    /// The heap's tag bits.
    pub(super) fn tag(&self) -> u32 {
        self.tag
    }

    /// The head of list `c`.
    pub(super) fn head(&self, c: usize) -> u16 {
        self.heads[c % CLASSES]
    }

    /// The 32-bit word at `a`.
    ///
    /// # Safety
    /// `a` must be 4-aligned in `[base, sent + 4)`.
    #[inline(always)]
    pub(super) unsafe fn r32(&self, a: usize) -> u32 {
        // SAFETY: the caller's contract: heap memory.
        unsafe { self.mem.ptr::<u32>(a).read() }
    }

    /// Writes the 32-bit word at `a`.
    ///
    /// # Safety
    /// As for [`r32`](Self::r32), and nothing may rely on the old value.
    #[inline(always)]
    unsafe fn w32(&mut self, a: usize, v: u32) {
        // SAFETY: as above.
        unsafe { self.mem.ptr::<u32>(a).write(v) }
    }

    /// The 16-bit word at `a` (a link).
    ///
    /// # Safety
    /// `a` must be 2-aligned in `[base, sent)`.
    #[inline(always)]
    pub(super) unsafe fn r16(&self, a: usize) -> u16 {
        // SAFETY: as above.
        unsafe { self.mem.ptr::<u16>(a).read() }
    }

    /// Writes the 16-bit word at `a`.
    ///
    /// # Safety
    /// As for [`r16`](Self::r16).
    #[inline(always)]
    unsafe fn w16(&mut self, a: usize, v: u16) {
        // SAFETY: as above.
        unsafe { self.mem.ptr::<u16>(a).write(v) }
    }

    /// A pointer to the byte at `a`.
    pub(super) fn ptr(&self, a: usize) -> *mut u8 {
        self.mem.ptr(a)
    }

    /// The index of block `h` in links and heads.
    #[inline(always)]
    fn idx(&self, h: usize) -> u16 {
        (((h - self.base) >> 3) + 1) as u16
    }

    /// The block a link names (`i != 0`).
    #[inline(always)]
    pub(super) fn at(&self, i: u16) -> usize {
        self.base + ((i as usize - 1) << 3)
    }

    /// Whether link `i` is empty or names an address with room for a
    /// minimal block before the sentinel.
    #[inline(always)]
    pub(super) fn link_ok(&self, i: u16) -> bool {
        i == 0 || self.at(i) + MIN_BLOCK <= self.sent
    }

    /// The size of free block `h`, checked: a free header with the tag,
    /// a size that fits, and a footer that agrees.
    pub(super) fn free_size(&self, h: usize) -> Result<usize, Damage> {
        // SAFETY: `h` is a block address in `[base, sent)`.
        let hdr = unsafe { self.r32(h) };
        if hdr & (TAG | IN_USE | PREV_IN_USE) != self.tag | PREV_IN_USE {
            return Err((Corruption::FreeHeader, h));
        }
        let s = (hdr & SIZE) as usize;
        if s < MIN_BLOCK || s > self.sent - h {
            return Err((Corruption::FreeSize, h));
        }
        // SAFETY: the footer lies inside the block, which fits the area.
        if unsafe { self.r32(h + s - HDR) } != self.tag | s as u32 {
            return Err((Corruption::FreeSize, h));
        }
        Ok(s)
    }

    /// Checks that free block `h` of size `s` can leave its list: its
    /// links name blocks that point back at it (or the head does).
    fn check_unlink(&self, h: usize, s: usize) -> Result<(), Damage> {
        // SAFETY: `h` is a checked free block: its links are its words.
        let (n, p) = unsafe { (self.r16(h + 4), self.r16(h + 6)) };
        if !self.link_ok(n) || !self.link_ok(p) {
            return Err((Corruption::Link, h));
        }
        let me = self.idx(h);
        // SAFETY: checked links name addresses with room for a block.
        if n != 0 && unsafe { self.r16(self.at(n) + 6) } != me {
            return Err((Corruption::Unlink, h));
        }
        let back = if p != 0 {
            // SAFETY: as above.
            unsafe { self.r16(self.at(p) + 4) }
        } else {
            self.heads[class_of(s) % CLASSES]
        };
        if back != me {
            return Err((Corruption::Unlink, h));
        }
        Ok(())
    }

    /// Takes free block `h` of size `s` off its list (checked by
    /// [`check_unlink`](Self::check_unlink) first).
    ///
    /// # Safety
    /// `h` must be a free block of size `s` that passed `check_unlink`.
    unsafe fn unlink(&mut self, h: usize, s: usize) {
        // SAFETY: the caller's contract: checked links.
        unsafe {
            let (n, p) = (self.r16(h + 4), self.r16(h + 6));
            if n != 0 {
                self.w16(self.at(n) + 6, p);
            }
            if p != 0 {
                self.w16(self.at(p) + 4, n);
            } else {
                let c = class_of(s) % CLASSES;
                self.heads[c] = n;
                if n == 0 {
                    self.map &= !(1 << c);
                }
            }
        }
        self.st.free -= s - HDR;
        self.st.free_blocks -= 1;
    }

    /// Makes `[h, h+s)` a free block (its predecessor in use), lists it,
    /// and clears the next header's PREV_IN_USE.
    ///
    /// # Safety
    /// `[h, h+s)` is heap memory no block covers; a header follows it.
    unsafe fn put_free(&mut self, h: usize, s: usize) {
        let c = class_of(s) % CLASSES;
        let head = self.heads[c];
        let me = self.idx(h);
        // SAFETY: the caller's contract; the head is a listed block.
        unsafe {
            self.w32(h, self.tag | s as u32 | PREV_IN_USE);
            self.w32(h + s - HDR, self.tag | s as u32);
            let next = self.r32(h + s);
            self.w32(h + s, next & !PREV_IN_USE);
            self.w16(h + 4, head);
            self.w16(h + 6, 0);
            if head != 0 {
                self.w16(self.at(head) + 6, me);
            }
        }
        self.heads[c] = me;
        self.map |= 1 << c;
        self.st.free += s - HDR;
        self.st.free_blocks += 1;
    }

    /// Reports damage at block `h` under the current operation's name,
    /// and aborts.
    #[cold]
    #[inline(never)]
    pub(super) fn corrupt(&self, (c, h): Damage) -> ! {
        super::super::misuse(
            self.op.unwrap_or("malloc"),
            HeapError::Corrupted(c),
            (h + HDR) as *const u8,
        )
    }

    /// Unwraps a list operation's result, reporting damage.
    #[inline(always)]
    pub(super) fn intact<T>(&self, r: Result<T, Damage>) -> T {
        r.unwrap_or_else(|d| self.corrupt(d))
    }

    /// Where a block of `s` bytes whose payload is `align`-aligned fits in
    /// free block `h` of `bs` bytes: its header address, leaving before it
    /// nothing or a free block.
    fn fit(h: usize, bs: usize, s: usize, align: usize) -> Option<usize> {
        let p0 = up(h + HDR, align);
        let p = if p0 == h + HDR { p0 } else { up(h + HDR + MIN_BLOCK, align) };
        (p - HDR + s <= h + bs).then_some(p - HDR)
    }

    /// Allocates `size` bytes aligned to `align` (a power of two); the
    /// payload address, or `None`. Damage found on the way aborts.
    pub fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        let s = block_for(size)?;
        let align = align.max(GRAIN);
        if align >= MAX_REGION {
            return None;
        }
        let limit = (self.sent - self.base) / MIN_BLOCK;
        let mut c = class_of(s);
        while c < CLASSES {
            let m = self.map & (!0u64 << c);
            if m == 0 {
                return None;
            }
            c = m.trailing_zeros() as usize;
            let mut i = self.heads[c % CLASSES];
            let mut steps = 0;
            while i != 0 {
                let h = self.at(i);
                let bs = self.intact(self.free_size(h));
                if class_of(bs) != c {
                    self.corrupt((Corruption::FreeSize, h));
                }
                if let Some(nh) = Self::fit(h, bs, s, align) {
                    self.intact(self.check_unlink(h, bs));
                    // SAFETY: `h` is a checked free block, `nh` in it.
                    unsafe { self.take(h, bs, nh, s) };
                    return Some(nh + HDR);
                }
                // SAFETY: `h` is a checked free block.
                i = unsafe { self.r16(h + 4) };
                steps += 1;
                if !self.link_ok(i) || steps > limit {
                    self.corrupt((Corruption::Link, h));
                }
            }
            c += 1;
        }
        None
    }

    /// Carves a used block of (at least) `s` bytes at `nh` out of free
    /// block `h` of `bs` bytes; what is left before and after is freed.
    ///
    /// # Safety
    /// `h` passed `check_unlink`; `nh` comes from [`fit`](Self::fit).
    unsafe fn take(&mut self, h: usize, bs: usize, nh: usize, s: usize) {
        // SAFETY: the caller's contract; every address is inside `h`'s
        // block or the header after it.
        unsafe {
            self.unlink(h, bs);
            if nh > h {
                self.put_free(h, nh - h);
            }
            let end = h + bs;
            let mut s = s;
            if end - (nh + s) >= MIN_BLOCK {
                self.put_free(nh + s, end - (nh + s));
            } else {
                s = end - nh;
                let next = self.r32(end);
                self.w32(end, next | PREV_IN_USE);
            }
            let prev = if nh == h { PREV_IN_USE } else { 0 };
            self.w32(nh, self.tag | s as u32 | IN_USE | prev);
            self.note_used(s as isize, 1);
        }
    }

    /// Adds `ds` bytes and `dn` blocks to the used totals.
    fn note_used(&mut self, ds: isize, dn: isize) {
        self.st.used = self.st.used.wrapping_add_signed(ds - dn * HDR as isize);
        self.st.used_blocks = self.st.used_blocks.wrapping_add_signed(dn);
        self.st.peak = self.st.peak.max(self.st.used);
        self.st.min_free = self.st.min_free.min(self.st.free);
    }

    /// The header address and size of the used block at payload `p`,
    /// checked: aligned, inside the area, this heap's tag, in use, a size
    /// that fits, a next header that says so.
    pub fn used_block(&self, p: usize) -> Result<(usize, usize), HeapError> {
        if p % GRAIN != 0 || p < self.base + HDR || p >= self.sent {
            return Err(HeapError::InvalidPointer);
        }
        let h = p - HDR;
        // SAFETY: `h` is a 4-aligned address in the area.
        let hdr = unsafe { self.r32(h) };
        if hdr & TAG != self.tag {
            return Err(HeapError::InvalidPointer);
        }
        if hdr & IN_USE == 0 {
            return Err(HeapError::DoubleFree);
        }
        let s = (hdr & SIZE) as usize;
        let neighbour = HeapError::Corrupted(Corruption::Neighbour);
        if s < MIN_BLOCK || s > self.sent - h {
            return Err(neighbour);
        }
        // SAFETY: `h + s` is at most the sentinel.
        let next = unsafe { self.r32(h + s) };
        if next & TAG != self.tag || next & PREV_IN_USE == 0 {
            return Err(neighbour);
        }
        Ok((h, s))
    }

    /// The free block before used block `h`, if any, checked.
    fn free_before(&self, h: usize, hdr: u32) -> Result<Option<(usize, usize)>, HeapError> {
        if hdr & PREV_IN_USE != 0 {
            return Ok(None);
        }
        let bad = Err(HeapError::Corrupted(Corruption::Neighbour));
        if h < self.base + MIN_BLOCK {
            return bad;
        }
        // SAFETY: `h - 4` is in the area.
        let ps = (unsafe { self.r32(h - HDR) } & SIZE) as usize;
        if ps < MIN_BLOCK || ps > h - self.base {
            return bad;
        }
        let ph = h - ps;
        match self.free_size(ph) {
            Ok(s) if s == ps => {}
            Ok(_) => return bad,
            Err((c, _)) => return Err(HeapError::Corrupted(c)),
        }
        self.check_unlink(ph, ps).map_err(|(c, _)| HeapError::Corrupted(c))?;
        Ok(Some((ph, ps)))
    }

    /// The free block at `n` (after a used block), if it is one, checked.
    fn free_at(&self, n: usize) -> Result<Option<usize>, HeapError> {
        // SAFETY: `n` is a header address at most the sentinel.
        if unsafe { self.r32(n) } & IN_USE != 0 {
            return Ok(None);
        }
        let s = self.free_size(n).map_err(|(c, _)| HeapError::Corrupted(c))?;
        self.check_unlink(n, s).map_err(|(c, _)| HeapError::Corrupted(c))?;
        Ok(Some(s))
    }

    /// Frees the block at payload `p`, merging it with free neighbours.
    /// Misuse and damage change nothing and come back as the error.
    pub fn free(&mut self, p: usize) -> Result<(), HeapError> {
        let (h, s) = self.used_block(p)?;
        // SAFETY: `h` is a checked used block.
        let hdr = unsafe { self.r32(h) };
        let before = self.free_before(h, hdr)?;
        let after = self.free_at(h + s)?;
        let (mut start, mut size) = (h, s);
        // SAFETY: both neighbours passed their checks.
        unsafe {
            if let Some((ph, ps)) = before {
                self.unlink(ph, ps);
                start = ph;
                size += ps;
            }
            if let Some(ns) = after {
                self.unlink(h + s, ns);
                size += ns;
            }
            self.note_used(-(s as isize), -1);
            self.put_free(start, size);
        }
        Ok(())
    }

    /// The usable bytes of the block at payload `p`.
    pub fn usable(&self, p: usize) -> Result<usize, HeapError> {
        self.used_block(p).map(|(_, s)| s - HDR)
    }

    /// Resizes the block at `p` in place if it can (shrinking, or growing
    /// into a free block after it): whether it did.
    pub fn resize(&mut self, p: usize, size: usize) -> Result<bool, HeapError> {
        let (h, s) = self.used_block(p)?;
        let Some(ns) = block_for(size) else { return Ok(false) };
        let after = self.free_at(h + s)?;
        let total = s + after.unwrap_or(0);
        if ns > total {
            return Ok(false);
        }
        if after.is_none() && s - ns < MIN_BLOCK {
            return Ok(true);
        }
        // SAFETY: `h` is checked and in use, the block after it checked.
        unsafe {
            let hdr = self.r32(h);
            if let Some(fs) = after {
                self.unlink(h + s, fs);
            }
            let keep = if total - ns >= MIN_BLOCK { ns } else { total };
            self.w32(h, self.tag | keep as u32 | IN_USE | (hdr & PREV_IN_USE));
            if keep < total {
                // (Its successor's PREV_IN_USE: set if it was after a used
                // block, cleared by `put_free`.)
                let next = self.r32(h + total);
                self.w32(h + total, next | PREV_IN_USE);
                self.put_free(h + keep, total - keep);
            } else {
                let next = self.r32(h + total);
                self.w32(h + total, next | PREV_IN_USE);
            }
            self.note_used(keep as isize - s as isize, 0);
        }
        Ok(true)
    }
}
