//! [`Compact`]: the compact core's state and operations (`&mut self`, no
//! lock, no system call), for either [`Format`]. The block layout is in
//! the parent module's documentation.

use core::marker::PhantomData;

use super::super::block::{down, up, Mem};
use super::super::error::{Corruption, HeapError};
use super::super::secret;
use super::format::{Area, Format};

/// Header flag: the block is in use.
pub(super) const IN_USE: usize = 1;
/// Header flag: the block before is in use (its footer is not valid).
/// Always set on free blocks.
pub(super) const PREV_IN_USE: usize = 2;

/// The most size classes a heap has (the map is a `u128`).
pub(super) const MAX_CLASSES: usize = 128;

/// A damaged list or block: which check and the block's header address.
pub(super) type Damage = (Corruption, usize);

/// The class of a block of `g` grains, in a heap with unlimited classes:
/// exact below 16 grains, then four per power of two.
#[inline]
fn class_g(g: usize) -> usize {
    if g < 16 {
        return g.saturating_sub(2);
    }
    let f = (usize::BITS - 1 - g.leading_zeros()) as usize;
    14 + (f - 4) * 4 + ((g >> (f - 2)) & 3)
}

/// Running totals, so that the figures cost no walk.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stats {
    /// Usable bytes (size less header) and number of the used blocks.
    pub used: usize,
    pub used_blocks: usize,
    /// Usable bytes and number of the free blocks (all listed, and the
    /// top block).
    pub free: usize,
    pub free_blocks: usize,
    /// The most usable bytes ever in use at once.
    pub peak: usize,
    /// The fewest free bytes ever.
    pub min_free: usize,
}

/// A heap over areas of memory: blocks with headers of format `F`,
/// segregated free lists whose heads live in a table at the start of the
/// first region, sized to it.
pub struct Compact<F: Format> {
    /// How addresses become pointers.
    mem: Mem,
    /// The areas, `areas[..n_areas]` in use, disjoint.
    areas: F::Areas,
    n_areas: usize,
    /// The heads table: `classes` links (0: empty list), newest first.
    heads: usize,
    classes: usize,
    /// The heap's tag bits in every header and footer.
    tag: usize,
    /// Bit `c` set iff list `c` is not empty.
    map: u128,
    /// The top block: the free block that ends at the first area's
    /// sentinel, kept off the lists (0: none, the last block is in use).
    /// Requests no listed block serves are carved from its start, and a
    /// block freed next to it joins it, with no list operation: a heap
    /// that allocates and frees in stack order never touches a list.
    top: usize,
    /// The function a corruption found now is reported under.
    op: Option<&'static str>,
    /// The totals (see [`Stats`]).
    st: Stats,
    _f: PhantomData<F>,
}

// SAFETY: the heap owns the memory its addresses point to.
unsafe impl<F: Format> Send for Compact<F> {}

impl<F: Format> Compact<F> {
    /// A heap over `[ptr, ptr+len)`: its heads table, then blocks. `None`
    /// if the region is over [`Format::MAX_AREA`] bytes or holds no block.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else while the heap is used.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> Option<Self> {
        if len > F::MAX_AREA {
            return None;
        }
        let start = ptr.expose_provenance();
        let end = start.checked_add(len)?;
        let classes = (class_g(len / F::GRAIN) + 1).min(MAX_CLASSES);
        let heads = up(start, F::LINK);
        let table_end = heads.checked_add(classes * F::LINK)?;
        let base = up(table_end.checked_add(F::HDR)?, F::GRAIN) - F::HDR;
        let sent = down(end.checked_sub(2 * F::HDR)?, F::GRAIN) + F::HDR;
        if sent < base.checked_add(F::MIN_BLOCK)? {
            return None;
        }
        let mut h = Compact {
            mem: Mem::new(ptr),
            areas: F::NO_AREAS,
            n_areas: 0,
            heads,
            classes,
            tag: ((secret::new_tag() >> 48) & 0xFFFF) << F::TAG_SHIFT,
            map: 0,
            top: 0,
            op: None,
            st: Stats::default(),
            _f: PhantomData,
        };
        for c in 0..classes {
            // SAFETY: the table lies at the start of the region.
            unsafe { F::wr_link(h.mem, heads + c * F::LINK, 0) };
        }
        // SAFETY: `[base, sent + HDR)` lies in the region, after the table.
        unsafe { h.take_area(Area { base, sent }) };
        h.st.min_free = h.st.free;
        Some(h)
    }

    /// Adds `[ptr, ptr+len)` as another area (NuttX's `mm_addregion`);
    /// false if the format holds no more areas, the region is too small or
    /// too big, or it overlaps the heap's memory.
    ///
    /// # Safety
    /// As for [`new`](Self::new).
    pub unsafe fn add_area(&mut self, ptr: *mut u8, len: usize) -> bool {
        let start = ptr.expose_provenance();
        let Some(end) = start.checked_add(len) else { return false };
        let (Some(b), Some(e)) = (start.checked_add(F::HDR), end.checked_sub(2 * F::HDR)) else {
            return false;
        };
        let (base, sent) = (up(b, F::GRAIN) - F::HDR, down(e, F::GRAIN) + F::HDR);
        let table = (self.heads, self.heads + self.classes * F::LINK);
        let overlaps = |lo: usize, hi: usize| start < hi && lo < end;
        if self.n_areas >= F::AREAS
            || len > F::MAX_AREA
            || sent < base + F::MIN_BLOCK
            || overlaps(table.0, table.1)
            || self.areas().iter().any(|a| overlaps(a.base, a.sent + F::HDR))
        {
            return false;
        }
        // SAFETY: the caller's contract: the region is ours.
        unsafe { self.take_area(Area { base, sent }) };
        true
    }

    /// Makes `a` one free block and a sentinel.
    ///
    /// # Safety
    /// `[a.base, a.sent + HDR)` is memory the heap owns and no area holds.
    unsafe fn take_area(&mut self, a: Area) {
        self.areas.as_mut()[self.n_areas % F::AREAS] = a;
        self.n_areas += 1;
        // SAFETY: the caller's contract.
        unsafe {
            self.wr(a.sent, self.tag | IN_USE);
            self.put_free(a.base, a.sent - a.base);
        }
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

    /// Sets the low-water mark of the free bytes.
    pub(super) fn set_min_free(&mut self, v: usize) {
        self.st.min_free = v;
    }

    /// The areas.
    pub fn areas(&self) -> &[Area] {
        &self.areas.as_ref()[..self.n_areas.min(F::AREAS)]
    }

    /// The area that holds address `a`.
    #[inline(always)]
    pub(super) fn area_of(&self, a: usize) -> Option<Area> {
        self.areas().iter().find(|ar| a.wrapping_sub(ar.base) < ar.sent - ar.base).copied()
    }

    /// The heap's tag bits.
    pub(super) fn tag(&self) -> usize {
        self.tag
    }

    /// Bytes of all areas' blocks.
    pub(super) fn bytes(&self) -> usize {
        // Computed, not kept: a word less of state (at most eight areas).
        self.areas().iter().map(|a| a.sent - a.base).sum()
    }

    /// The number of size classes.
    pub(super) fn classes(&self) -> usize {
        self.classes
    }

    /// The class of a free block of `s` bytes (the last one open-ended).
    #[inline]
    pub(super) fn class_of(&self, s: usize) -> usize {
        class_g(s / F::GRAIN).min(self.classes.saturating_sub(1))
    }

    /// The head of list `c` (a link). (Classes are clamped, not taken
    /// modulo the count: a division could panic, and `malloc` reaches
    /// this.)
    pub(super) fn head(&self, c: usize) -> usize {
        let c = c.min(self.classes.saturating_sub(1));
        // SAFETY: `c < classes`: inside the table.
        unsafe { F::rd_link(self.mem, self.heads + c * F::LINK) }
    }

    /// Sets the head of list `c`.
    fn set_head(&mut self, c: usize, v: usize) {
        let c = c.min(self.classes.saturating_sub(1));
        // SAFETY: as above.
        unsafe { F::wr_link(self.mem, self.heads + c * F::LINK, v) }
    }

    /// The header or footer word at `a`.
    ///
    /// # Safety
    /// `a` must be a header or footer address of the heap's areas.
    #[inline(always)]
    pub(super) unsafe fn rd(&self, a: usize) -> usize {
        // SAFETY: the caller's contract: heap memory.
        unsafe { F::rd(self.mem, a) }
    }

    /// Writes the header or footer word at `a`.
    ///
    /// # Safety
    /// As for [`rd`](Self::rd), and nothing may rely on the old value.
    #[inline(always)]
    pub(super) unsafe fn wr(&mut self, a: usize, v: usize) {
        // SAFETY: as above.
        unsafe { F::wr(self.mem, a, v) }
    }

    /// Link `k` (0: next, 1: previous) of free block `h`.
    ///
    /// # Safety
    /// `h` must be a checked block of at least `MIN_BLOCK` bytes.
    #[inline(always)]
    pub(super) unsafe fn link(&self, h: usize, k: usize) -> usize {
        // SAFETY: the caller's contract.
        unsafe { F::rd_link(self.mem, h + F::HDR + k * F::LINK) }
    }

    /// Sets link `k` of free block `h`.
    ///
    /// # Safety
    /// As for [`link`](Self::link).
    #[inline(always)]
    unsafe fn set_link(&mut self, h: usize, k: usize, v: usize) {
        // SAFETY: the caller's contract.
        unsafe { F::wr_link(self.mem, h + F::HDR + k * F::LINK, v) }
    }

    /// A pointer to the byte at `a`.
    pub(super) fn ptr(&self, a: usize) -> *mut u8 {
        self.mem.ptr(a)
    }

    /// The link to block `h`.
    #[inline(always)]
    fn enc(&self, h: usize) -> usize {
        F::encode(self.areas.as_ref()[0].base, h)
    }

    /// The block a non-zero link names.
    #[inline(always)]
    pub(super) fn at(&self, v: usize) -> usize {
        F::decode(self.areas.as_ref()[0].base, v)
    }

    /// Whether link `v` is empty or names a block address with room for
    /// a minimal block before its area's sentinel.
    #[inline(always)]
    pub(super) fn link_ok(&self, v: usize) -> bool {
        if v == 0 {
            return true;
        }
        let a = self.at(v);
        a % F::GRAIN == F::HDR % F::GRAIN
            && self.area_of(a).is_some_and(|ar| ar.sent - a >= F::MIN_BLOCK)
    }

    /// The size of free block `h` (an address in an area), checked: a
    /// free header with the tag, a size that fits, a footer that agrees.
    pub(super) fn free_size(&self, h: usize) -> Result<usize, Damage> {
        let Some(ar) = self.area_of(h) else { return Err((Corruption::Link, h)) };
        // SAFETY: `h` is a block address in an area.
        let hdr = unsafe { self.rd(h) };
        if hdr & (F::TAG | IN_USE | PREV_IN_USE) != self.tag | PREV_IN_USE {
            return Err((Corruption::FreeHeader, h));
        }
        let s = hdr & F::SIZE;
        if s < F::MIN_BLOCK || s > ar.sent - h {
            return Err((Corruption::FreeSize, h));
        }
        // SAFETY: the footer lies inside the block, which fits the area.
        if unsafe { self.rd(h + s - F::HDR) } != self.tag | s {
            return Err((Corruption::FreeSize, h));
        }
        Ok(s)
    }

    /// The top block (see the field), if any.
    pub(super) fn top(&self) -> Option<usize> {
        (self.top != 0).then_some(self.top)
    }

    /// Whether a free block `[h, h+s)` is the top block's place: it ends at
    /// the first area's sentinel.
    #[inline(always)]
    fn at_top(&self, h: usize, s: usize) -> bool {
        h + s == self.areas.as_ref()[0].sent
    }

    /// Checks that free block `h` of size `s` can leave its list: its
    /// links name blocks that point back at it (or the head does). The
    /// top block is on no list.
    fn check_unlink(&self, h: usize, s: usize) -> Result<(), Damage> {
        if h == self.top {
            return if self.at_top(h, s) { Ok(()) } else { Err((Corruption::FreeSize, h)) };
        }
        // SAFETY: `h` is a checked free block: its links are its words.
        let (n, p) = unsafe { (self.link(h, 0), self.link(h, 1)) };
        if !self.link_ok(n) || !self.link_ok(p) {
            return Err((Corruption::Link, h));
        }
        let me = self.enc(h);
        // SAFETY: checked links name addresses with room for a block.
        if n != 0 && unsafe { self.link(self.at(n), 1) } != me {
            return Err((Corruption::Unlink, h));
        }
        let head = self.head(self.class_of(s));
        let back = if p != 0 {
            // A list's head has no block before it: a back link forged on
            // the head (to a block whose next link an attacker set to `h`)
            // would unlink it as if from the middle and leave the list
            // starting at it. (The main core finds such a stale head when
            // it is next taken; here the class is at hand, so at once.)
            if head == me {
                return Err((Corruption::Unlink, h));
            }
            // SAFETY: as above.
            unsafe { self.link(self.at(p), 0) }
        } else {
            head
        };
        if back != me {
            return Err((Corruption::Unlink, h));
        }
        Ok(())
    }

    /// Takes free block `h` of size `s` off its list.
    ///
    /// # Safety
    /// `h` must be a free block of size `s` that passed `check_unlink`.
    unsafe fn unlink(&mut self, h: usize, s: usize) {
        if h == self.top {
            self.top = 0;
            self.st.free -= s - F::HDR;
            self.st.free_blocks -= 1;
            return;
        }
        // SAFETY: the caller's contract: checked links.
        unsafe {
            let (n, p) = (self.link(h, 0), self.link(h, 1));
            if n != 0 {
                self.set_link(self.at(n), 1, p);
            }
            if p != 0 {
                self.set_link(self.at(p), 0, n);
            } else {
                let c = self.class_of(s);
                self.set_head(c, n);
                if n == 0 {
                    self.map &= !(1 << c);
                }
            }
        }
        self.st.free -= s - F::HDR;
        self.st.free_blocks -= 1;
    }

    /// Makes `[h, h+s)` a free block (its predecessor in use), lists it
    /// (or makes it the top block, if it ends at the first area's
    /// sentinel), and clears the next header's PREV_IN_USE.
    ///
    /// # Safety
    /// `[h, h+s)` is area memory no block covers; a header follows it.
    unsafe fn put_free(&mut self, h: usize, s: usize) {
        if self.at_top(h, s) {
            // SAFETY: the caller's contract.
            unsafe {
                self.wr(h, self.tag | s | PREV_IN_USE);
                self.wr(h + s - F::HDR, self.tag | s);
                let next = self.rd(h + s);
                self.wr(h + s, next & !PREV_IN_USE);
                // No links: a dump shows none.
                self.set_link(h, 0, 0);
                self.set_link(h, 1, 0);
            }
            self.top = h;
            self.st.free += s - F::HDR;
            self.st.free_blocks += 1;
            return;
        }
        let c = self.class_of(s);
        let head = self.head(c);
        let me = self.enc(h);
        // SAFETY: the caller's contract; the head is a listed block.
        unsafe {
            self.wr(h, self.tag | s | PREV_IN_USE);
            self.wr(h + s - F::HDR, self.tag | s);
            let next = self.rd(h + s);
            self.wr(h + s, next & !PREV_IN_USE);
            self.set_link(h, 0, head);
            self.set_link(h, 1, 0);
            if head != 0 {
                self.set_link(self.at(head), 1, me);
            }
        }
        self.set_head(c, me);
        self.map |= 1 << c;
        self.st.free += s - F::HDR;
        self.st.free_blocks += 1;
    }

    /// Reports damage at block `h` under the current operation's name,
    /// and aborts.
    #[cold]
    #[inline(never)]
    pub(super) fn corrupt(&self, (c, h): Damage) -> ! {
        let p = (h + F::HDR) as *const u8;
        super::super::misuse(self.op.unwrap_or("malloc"), HeapError::Corrupted(c), p)
    }

    /// Unwraps a list operation's result, reporting damage.
    #[inline(always)]
    pub(super) fn intact<T>(&self, r: Result<T, Damage>) -> T {
        r.unwrap_or_else(|d| self.corrupt(d))
    }

    /// The block size for a request of `size` bytes.
    #[inline]
    fn block_for(size: usize) -> Option<usize> {
        if size >= F::MAX_AREA {
            return None;
        }
        Some(up(size + F::HDR, F::GRAIN).max(F::MIN_BLOCK))
    }

    /// Where a block of `s` bytes whose payload is `align`-aligned fits in
    /// free block `h` of `bs` bytes: its header address, leaving before it
    /// nothing or a free block.
    fn fit(h: usize, bs: usize, s: usize, align: usize) -> Option<usize> {
        let p0 = up(h + F::HDR, align);
        let p = if p0 == h + F::HDR { p0 } else { up(h + F::HDR + F::MIN_BLOCK, align) };
        (p - F::HDR + s <= h + bs).then_some(p - F::HDR)
    }

    /// Allocates `size` bytes aligned to `align` (a power of two; at least
    /// [`Format::GRAIN`] is given anyway); the payload address, or `None`.
    /// Damage found on the way aborts.
    pub fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        let s = Self::block_for(size)?;
        let align = align.max(F::GRAIN);
        if align >= F::MAX_AREA {
            return None;
        }
        let mut c = self.class_of(s);
        while c < self.classes {
            let m = self.map & (!0u128 << c);
            if m == 0 {
                break;
            }
            c = m.trailing_zeros() as usize;
            let limit = self.bytes() / F::MIN_BLOCK;
            let mut i = self.head(c);
            let mut steps = 0;
            while i != 0 {
                let h = self.at(i);
                let bs = self.intact(self.free_size(h));
                if self.class_of(bs) != c {
                    self.corrupt((Corruption::FreeSize, h));
                }
                if let Some(nh) = Self::fit(h, bs, s, align) {
                    self.intact(self.check_unlink(h, bs));
                    // SAFETY: `h` is a checked free block, `nh` in it.
                    unsafe { self.take(h, bs, nh, s) };
                    return Some(nh + F::HDR);
                }
                // SAFETY: `h` is a checked free block.
                i = unsafe { self.link(h, 0) };
                steps += 1;
                if !self.link_ok(i) || steps > limit {
                    self.corrupt((Corruption::Link, h));
                }
            }
            c += 1;
        }
        self.alloc_top(s, align)
    }

    /// Carves a block of `s` bytes aligned to `align` from the top block,
    /// if it has room.
    fn alloc_top(&mut self, s: usize, align: usize) -> Option<usize> {
        let t = self.top()?;
        let bs = self.intact(self.free_size(t));
        if !self.at_top(t, bs) {
            self.corrupt((Corruption::FreeSize, t));
        }
        let nh = Self::fit(t, bs, s, align)?;
        // SAFETY: `t` is the checked top block, `nh` in it.
        unsafe { self.take(t, bs, nh, s) };
        Some(nh + F::HDR)
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
            if end - (nh + s) >= F::MIN_BLOCK {
                self.put_free(nh + s, end - (nh + s));
            } else {
                s = end - nh;
                let next = self.rd(end);
                self.wr(end, next | PREV_IN_USE);
            }
            let prev = if nh == h { PREV_IN_USE } else { 0 };
            self.wr(nh, self.tag | s | IN_USE | prev);
            self.note_used(s as isize, 1);
        }
    }

    /// Adds `ds` bytes and `dn` blocks to the used totals.
    fn note_used(&mut self, ds: isize, dn: isize) {
        self.st.used = self.st.used.wrapping_add_signed(ds - dn * F::HDR as isize);
        self.st.used_blocks = self.st.used_blocks.wrapping_add_signed(dn);
        self.st.peak = self.st.peak.max(self.st.used);
        self.st.min_free = self.st.min_free.min(self.st.free);
    }

    /// The header address, size and area of the used block at payload
    /// `p`, checked: aligned, inside an area, this heap's tag, in use, a
    /// size that fits, a next header that says so.
    pub fn used_block(&self, p: usize) -> Result<(usize, usize, Area), HeapError> {
        let h = p.wrapping_sub(F::HDR);
        let ar = match self.area_of(h) {
            Some(ar) if p % F::GRAIN == 0 => ar,
            _ => return Err(HeapError::InvalidPointer),
        };
        // SAFETY: `h` is a header-aligned address in the area.
        let hdr = unsafe { self.rd(h) };
        if hdr & F::TAG != self.tag {
            return Err(HeapError::InvalidPointer);
        }
        if hdr & IN_USE == 0 {
            return Err(HeapError::DoubleFree);
        }
        let s = hdr & F::SIZE;
        let neighbour = HeapError::Corrupted(Corruption::Neighbour);
        if s < F::MIN_BLOCK || s > ar.sent - h {
            return Err(neighbour);
        }
        // SAFETY: `h + s` is at most the sentinel.
        let next = unsafe { self.rd(h + s) };
        if next & F::TAG != self.tag || next & PREV_IN_USE == 0 {
            return Err(neighbour);
        }
        Ok((h, s, ar))
    }

    /// The free block before used block `h` (header `hdr`, area `ar`), if
    /// any, checked.
    fn free_before(
        &self,
        h: usize,
        hdr: usize,
        ar: Area,
    ) -> Result<Option<(usize, usize)>, HeapError> {
        if hdr & PREV_IN_USE != 0 {
            return Ok(None);
        }
        let bad = Err(HeapError::Corrupted(Corruption::Neighbour));
        if h - ar.base < F::MIN_BLOCK {
            return bad;
        }
        // SAFETY: `h - HDR` is in the area.
        let ps = unsafe { self.rd(h - F::HDR) } & F::SIZE;
        if ps < F::MIN_BLOCK || ps > h - ar.base {
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
        if unsafe { self.rd(n) } & IN_USE != 0 {
            return Ok(None);
        }
        let s = self.free_size(n).map_err(|(c, _)| HeapError::Corrupted(c))?;
        self.check_unlink(n, s).map_err(|(c, _)| HeapError::Corrupted(c))?;
        Ok(Some(s))
    }

    /// Frees the block at payload `p`, merging it with free neighbours.
    /// Misuse and damage change nothing and come back as the error.
    pub fn free(&mut self, p: usize) -> Result<(), HeapError> {
        let (h, s, ar) = self.used_block(p)?;
        // SAFETY: `h` is a checked used block.
        let hdr = unsafe { self.rd(h) };
        let before = self.free_before(h, hdr, ar)?;
        let after = self.free_at(h + s)?;
        let (mut start, mut size) = (h, s);
        // SAFETY: both neighbours passed their checks.
        unsafe {
            if let Some((ph, ps)) = before {
                self.unlink(ph, ps);
                start = ph;
                size += ps;
                // The header stays inside the merged block, marked free, so
                // that a second free of `p` is named a double free. (It lies
                // past the links and before the footer: `h - ph >= MIN_BLOCK`.)
                self.wr(h, hdr & !IN_USE);
            }
            if let Some(ns) = after {
                self.unlink(h + s, ns);
                size += ns;
            }
            self.put_free(start, size);
            // (After `put_free`: the unlinks above lowered the free bytes
            // for a moment, which is no low-water mark.)
            self.note_used(-(s as isize), -1);
        }
        Ok(())
    }

    /// The usable bytes of the block at payload `p`.
    pub fn usable(&self, p: usize) -> Result<usize, HeapError> {
        self.used_block(p).map(|(_, s, _)| s - F::HDR)
    }

    /// Resizes the block at `p` in place if it can (shrinking, or growing
    /// into a free block after it): whether it did.
    pub fn resize(&mut self, p: usize, size: usize) -> Result<bool, HeapError> {
        let (h, s, _) = self.used_block(p)?;
        let Some(ns) = Self::block_for(size) else { return Ok(false) };
        let after = self.free_at(h + s)?;
        let total = s + after.unwrap_or(0);
        if ns > total {
            return Ok(false);
        }
        if after.is_none() && s - ns < F::MIN_BLOCK {
            return Ok(true);
        }
        // SAFETY: `h` is checked and in use, the block after it checked.
        unsafe {
            let hdr = self.rd(h);
            if let Some(fs) = after {
                self.unlink(h + s, fs);
            }
            let keep = if total - ns >= F::MIN_BLOCK { ns } else { total };
            self.wr(h, self.tag | keep | IN_USE | (hdr & PREV_IN_USE));
            let next = self.rd(h + total);
            self.wr(h + total, next | PREV_IN_USE);
            if keep < total {
                self.put_free(h + keep, total - keep);
            }
            self.note_used(keep as isize - s as isize, 0);
        }
        Ok(true)
    }
}
