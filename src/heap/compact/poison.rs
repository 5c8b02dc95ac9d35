//! Heap poisoning in the compact core (`RAWRT_HEAP_POISONING`, see
//! `heap/poison/`), for heaps as small as 4 KiB: no quarantine (the
//! process heap's 1,024-slot ring would outweigh such a heap), ESP-IDF's
//! way instead. A heap created while poisoning is on is poisoned for its
//! life ([`CompactHeap::poisoning`](super::CompactHeap::poisoning)).
//!
//! ```text
//! outer block (the core's payload q)              user block p = q + H
//! | pad (zeros) | meta | canary |  n bytes ...  | tail (HDR bytes) | slack
//!  q             p-2HDR  p-HDR   p               p+n
//! ```
//!
//! Each head word is `HDR` bytes (4 in the small model, 8 in the wide
//! one): `meta` holds the user's size `n` and, in its top byte, log2 of
//! the head size `H` (`2*HDR` for the format's alignment, else the
//! alignment); `canary` is [`Compact::canary`]`(p)`, derived from the
//! process secret, the heap's tag and `p`, and is changed when the block
//! is freed (so that a second free is found). The tail is the first `HDR`
//! bytes of [`TAIL`]. A block costs `3*HDR` bytes more (12 in the small
//! model, 24 in the wide one) before rounding.
//!
//! Comprehensive mode also fills new blocks with [`NEW_FILL`] and every
//! byte of free blocks with [`FREE_FILL`] except the core's own words (a
//! free block's header, two links and footer, and the headers left
//! marked free inside a merged block: words with the heap's tag and no
//! `IN_USE` at a header's place, which name a later free of their block
//! a double free, as without poisoning). The
//! fill is verified when a block is handed out again (all but its first
//! two links' and last `HDR` bytes, where the core's words may have been)
//! and by the integrity check over every free block; a byte that differs
//! is a write after free, reported at the user block that began there
//! (`H` past the free block's payload) and its offset.
//!
//! The walk, the dump and the picture show the core's blocks (head and
//! tail inside them); the figures are the user's (`info_poisoned`).

use core::fmt::Write;
use core::ptr::NonNull;

use super::super::error::HeapError;
use super::super::info::HeapInfo;
use super::super::poison::layer::{self, Damage, FREED, FREE_FILL, NEW_FILL, TAIL};
use super::super::poison::Poisoning;
use super::format::Format;
use super::raw::{Compact, IN_USE, PREV_IN_USE};
use super::CompactHeap;
use crate::rt::valgrind;

/// A block found from a user pointer: the core's payload and the user's
/// size; or why not.
enum Fault {
    /// Misuse the core names (not a block, a double free, a damaged
    /// neighbour).
    Heap(HeapError),
    /// Damage the canaries show.
    Canary(Damage),
}

impl<F: Format> Compact<F> {
    /// The head before a block of the format's alignment.
    const HH: usize = 2 * F::HDR;
    /// Bits of `meta` that hold the size.
    const SIZE_BITS: u32 = 8 * F::HDR as u32 - 8;

    /// The head size for alignment `align`.
    fn head_for(align: usize) -> usize {
        if align <= F::GRAIN {
            Self::HH
        } else {
            align.max(Self::HH)
        }
    }

    /// The canary of the user block at `p` (`HDR` bytes).
    fn canary(&self, p: usize) -> usize {
        // The layer's canary of the address mixed with the heap's tag, cut
        // to the format's word.
        layer::canary(core::ptr::without_provenance(p ^ self.tag()))
            >> (usize::BITS - 8 * F::HDR as u32)
    }

    /// The freed mark of the block at `p`.
    fn freed_mark(&self, p: usize) -> usize {
        (self.canary(p) ^ FREED) & (usize::MAX >> (usize::BITS - 8 * F::HDR as u32))
    }

    /// The tail canary's bytes.
    fn tail() -> &'static [u8] {
        &TAIL[..F::HDR]
    }

    /// The user's size and head size in a `meta` word, if the head size
    /// is one the layer makes.
    fn meta(m: usize) -> Option<(usize, usize)> {
        let sh = m >> Self::SIZE_BITS;
        let n = m & ((1 << Self::SIZE_BITS) - 1);
        let h = 1usize.checked_shl(sh as u32)?;
        let ok = h == Self::HH || (h > F::GRAIN && h.trailing_zeros() < 40);
        ok.then_some((n, h))
    }

    /// Fills `[lo, hi)` with `b`.
    ///
    /// # Safety
    /// The bytes lie in an area and belong to no one else.
    unsafe fn fill(&self, lo: usize, hi: usize, b: u8) {
        if hi > lo {
            // SAFETY: the caller's contract.
            unsafe { self.ptr(lo).write_bytes(b, hi - lo) };
        }
    }

    /// Whether the word at header position `a` is a header the core left
    /// marked free inside a merged block.
    ///
    /// # Safety
    /// `a` lies in an area.
    unsafe fn stale_header(&self, a: usize) -> bool {
        // SAFETY: the caller's contract.
        a % F::GRAIN == F::GRAIN - F::HDR && unsafe { self.rd(a) } & (F::TAG | IN_USE) == self.tag()
    }

    /// The first byte of `[lo, hi)` that is not [`FREE_FILL`], stale
    /// headers skipped.
    ///
    /// # Safety
    /// The bytes lie in an area.
    unsafe fn unfilled(&self, lo: usize, hi: usize) -> Option<usize> {
        let mut a = lo;
        while a < hi {
            // SAFETY: the caller's contract.
            let s = unsafe { core::slice::from_raw_parts(self.ptr(a), hi - a) };
            let x = a + s.iter().position(|&b| b != FREE_FILL)?;
            // The header place that holds `x`, if one does.
            let off = (x + F::HDR) % F::GRAIN;
            let h = x - off;
            // SAFETY: `h` lies in `[lo, hi)`, in an area.
            if off < F::HDR && h >= lo && h + F::HDR <= hi && unsafe { self.stale_header(h) } {
                a = h + F::HDR;
                continue;
            }
            return Some(x);
        }
        None
    }

    /// The write after free at byte `x` of the free block (or block just
    /// handed out) whose payload is `q`.
    fn after_free(q: usize, x: usize) -> (Damage, usize) {
        let b = if x >= q + Self::HH { q + Self::HH } else { q };
        (Damage::AfterFree(x - b), b)
    }

    /// The bytes of the free block at payload `q` (usable `u`) that hold
    /// the fill.
    fn filled_part(q: usize, u: usize) -> (usize, usize) {
        (q + 2 * F::LINK, (q + u).saturating_sub(F::HDR))
    }

    /// Fills every free block of area `i` (a new area) with [`FREE_FILL`].
    pub(super) fn fill_area(&mut self, i: usize) {
        let Some(&ar) = self.areas().get(i) else { return };
        let mut spans = [(0usize, 0usize); 4];
        let mut k = 0;
        let _ = self.walk_area(ar, &mut |_, q, u, used| {
            if !used && k < spans.len() {
                spans[k] = Self::filled_part(q, u);
                k += 1;
            }
            true
        });
        for (lo, hi) in spans.into_iter().take(k) {
            // SAFETY: the interior of a free block: no one's bytes.
            unsafe { self.fill(lo, hi, FREE_FILL) };
        }
    }

    /// Poisoned allocation: `size` bytes aligned to `align` between
    /// canaries, zeroed if `zero`, else filled with [`NEW_FILL`] if
    /// `full`. With `full`, a block whose fill was written after its free
    /// is reported under `func` and aborts.
    pub(super) fn alloc_poisoned(
        &mut self,
        size: usize,
        align: usize,
        zero: bool,
        full: bool,
        func: &'static str,
    ) -> Option<usize> {
        let h = Self::head_for(align);
        if size >= 1 << Self::SIZE_BITS {
            return None;
        }
        let q = self.alloc(size.checked_add(h + F::HDR)?, align)?;
        if full {
            let u = self.usable(q).ok()?;
            let (lo, hi) = Self::filled_part(q, u);
            // SAFETY: the block just taken, in an area.
            if let Some(x) = unsafe { self.unfilled(lo, hi) } {
                let (d, b) = Self::after_free(q, x);
                d.abort(func, core::ptr::without_provenance::<u8>(b))
            }
        }
        let p = q + h;
        // SAFETY: `[q, q + h + size + HDR)` is the new block, ours alone.
        unsafe {
            self.fill(q, p - Self::HH, 0);
            self.wr(p - Self::HH, size | (h.trailing_zeros() as usize) << Self::SIZE_BITS);
            self.wr(p - F::HDR, self.canary(p));
            if zero || full {
                self.fill(p, p + size, if zero { 0 } else { NEW_FILL });
            }
            let t = Self::tail();
            core::ptr::copy_nonoverlapping(t.as_ptr(), self.ptr(p + size), t.len());
        }
        Some(p)
    }

    /// The core's payload and the user's size of the live block at `p`,
    /// its canaries checked.
    fn find(&self, p: usize) -> Result<(usize, usize), Fault> {
        let invalid = Fault::Heap(HeapError::InvalidPointer);
        let Some(area) = self.area_of(p.wrapping_sub(Self::HH)).filter(|_| p % F::GRAIN == 0)
        else {
            return Err(invalid);
        };
        // What the core says of the block a plain head would make.
        let plain = |d: Damage| match self.used_block(p - Self::HH) {
            Ok(_) | Err(HeapError::Corrupted(_)) => Fault::Canary(d),
            Err(e) => Fault::Heap(e),
        };
        // SAFETY: `[p - HH, p)` lies in an area (checked above).
        let (m, c) = unsafe { (self.rd(p - Self::HH), self.rd(p - F::HDR)) };
        if c != self.canary(p) {
            if c == self.freed_mark(p) {
                // The mark `free_poisoned` left (whatever the core says of
                // the block a plain head would make: with an alignment
                // head, no block starts there).
                return Err(Fault::Heap(HeapError::DoubleFree));
            }
            return Err(plain(Damage::Head));
        }
        let Some((n, h)) = Self::meta(m) else { return Err(plain(Damage::Head)) };
        let q = p.wrapping_sub(h);
        let tail_ok = || {
            let t = Self::tail();
            let mut b = [0u8; 8];
            // SAFETY: the callers checked that the tail lies in the block
            // (or, past a damaged header, in its area).
            unsafe { core::ptr::copy_nonoverlapping(self.ptr(p + n), b.as_mut_ptr(), t.len()) };
            b[..t.len()] == *t
        };
        match self.used_block(q) {
            Ok((_, s, _)) => {
                let room = s - F::HDR;
                if n.checked_add(h + F::HDR).is_none_or(|e| e > room) {
                    return Err(Fault::Canary(Damage::Head));
                }
                if !tail_ok() {
                    return Err(Fault::Canary(Damage::Tail));
                }
                Ok((q, n))
            }
            Err(e @ HeapError::Corrupted(_)) => {
                // The next header is damaged: an overflow the tail canary
                // names better, if the tail lies in the block's own area.
                let end = p.checked_add(n + F::HDR).ok_or(Fault::Heap(e))?;
                if end <= area.sent && !tail_ok() {
                    return Err(Fault::Canary(Damage::Tail));
                }
                Err(Fault::Heap(e))
            }
            Err(e) => Err(Fault::Heap(e)),
        }
    }

    /// [`find`](Self::find), damage reported under `func` and aborting.
    fn found(&self, p: usize, func: &str) -> Result<(usize, usize), HeapError> {
        match self.find(p) {
            Ok(f) => Ok(f),
            Err(Fault::Heap(e)) => Err(e),
            Err(Fault::Canary(d)) => d.abort(func, core::ptr::without_provenance::<u8>(p)),
        }
    }

    /// Poisoned free of the user block at `p`: canaries checked (damage
    /// reported under `func`, aborting), the canary marked freed, and with
    /// `full` every byte the core does not use filled with [`FREE_FILL`].
    pub(super) fn free_poisoned(
        &mut self,
        p: usize,
        full: bool,
        func: &str,
    ) -> Result<(), HeapError> {
        let (q, _) = self.found(p, func)?;
        let (h, s, _) = self.used_block(q)?;
        // SAFETY: `h` is a checked used block; `h + s` at most the sentinel.
        let (hdr, next) = unsafe { (self.rd(h), self.rd(h + s)) };
        let (before, after) = (hdr & PREV_IN_USE == 0, next & IN_USE == 0);
        let c = self.canary(p);
        // SAFETY: the head lies in the live block.
        unsafe { self.wr(p - F::HDR, self.freed_mark(p)) };
        if let Err(e) = self.free(q) {
            // SAFETY: as above: the block is still live.
            unsafe { self.wr(p - F::HDR, c) };
            return Err(e);
        }
        if full {
            // SAFETY: the free succeeded, so a free block before `h` was
            // checked and merged: its footer, the word before `h`, still
            // holds its size, and the merged block starts there. The
            // bytes filled are the merged block's interior.
            unsafe {
                let start = if before { h - (self.rd(h - F::HDR) & F::SIZE) } else { h };
                let size = self.rd(start) & F::SIZE;
                let (lo, hi) = Self::filled_part(start + F::HDR, size - F::HDR);
                // The freed block's bytes, and the merged neighbours' words
                // now inside the block: the previous one's footer, the next
                // one's links. (The headers stay, marked free: a second free
                // of either block is a double free, as without poisoning.)
                let from = if before { h - F::HDR } else { q };
                let stale = before.then(|| self.rd(h));
                self.fill(from.max(lo), (h + s).min(hi), FREE_FILL);
                if let Some(v) = stale {
                    self.wr(h, v);
                }
                if after {
                    let links = h + s + F::HDR;
                    self.fill(links.max(lo), (links + 2 * F::LINK).min(hi), FREE_FILL);
                }
            }
        }
        Ok(())
    }

    /// The user's size of the live block at `p`.
    pub(super) fn usable_poisoned(&self, p: usize) -> Result<usize, HeapError> {
        match self.find(p) {
            Ok((_, n)) => Ok(n),
            Err(Fault::Heap(e)) => Err(e),
            Err(Fault::Canary(_)) => Err(HeapError::InvalidPointer),
        }
    }

    /// Poisoned resize of the user block at `p` (damage reported under
    /// `func`, aborting): a smaller size in place (the tail moved) unless
    /// `announce` is given, else a new block, announced by `announce` (to
    /// Memcheck, before the bytes are copied into it: they keep what
    /// Memcheck knew of them), the bytes copied, the old one freed.
    pub(super) fn realloc_poisoned(
        &mut self,
        p: usize,
        size: usize,
        align: usize,
        full: bool,
        announce: Option<&dyn Fn(*mut u8)>,
        func: &'static str,
    ) -> Result<usize, HeapError> {
        let (_, n) = self.found(p, func)?;
        if size <= n && p % align == 0 && announce.is_none() {
            // SAFETY: the live block holds `n + HDR` bytes from `p`.
            unsafe {
                let m = self.rd(p - Self::HH);
                self.wr(p - Self::HH, size | (m & !((1 << Self::SIZE_BITS) - 1)));
                let t = Self::tail();
                core::ptr::copy_nonoverlapping(t.as_ptr(), self.ptr(p + size), t.len());
            }
            return Ok(p);
        }
        let np =
            self.alloc_poisoned(size, align, false, full, func).ok_or(HeapError::OutOfMemory)?;
        if let Some(announce) = announce {
            announce(self.ptr(np));
        }
        // SAFETY: two distinct live blocks of at least the copied length.
        unsafe { core::ptr::copy_nonoverlapping(self.ptr(p), self.ptr(np), n.min(size)) };
        self.free_poisoned(p, full, func)?;
        Ok(np)
    }

    /// The user block in the used block at payload `q` (usable `u`), and
    /// its damage, if any.
    fn check_used(&self, q: usize, u: usize) -> (usize, Option<Damage>) {
        let mut h = Self::HH;
        while h + F::HDR <= u {
            let p = q + h;
            // SAFETY: the canary word lies in the block.
            if unsafe { self.rd(p - F::HDR) } == self.canary(p) {
                let d = match self.find(p) {
                    Ok(_) => None,
                    Err(Fault::Canary(d)) => Some(d),
                    Err(Fault::Heap(_)) => Some(Damage::Head),
                };
                return (p, d);
            }
            h = if h == Self::HH { (2 * F::GRAIN).max(2 * Self::HH) } else { 2 * h };
        }
        (q + Self::HH, Some(Damage::Head))
    }

    /// The poisoning part of the integrity check: every used block's
    /// canaries and, with `full`, every free block's fill; each damaged
    /// block printed on `out` (`rawrt: check(): ...`) if given.
    pub(super) fn check_poisoned(&self, full: bool, mut out: Option<&mut dyn Write>) -> bool {
        let mut ok = true;
        let _ = self.walk(&mut |_, q, u, used| {
            let (b, d) = if used {
                self.check_used(q, u)
            } else if full {
                let (lo, hi) = Self::filled_part(q, u);
                // SAFETY: a walked free block's bytes.
                match unsafe { self.unfilled(lo, hi) } {
                    Some(x) => {
                        let (d, b) = Self::after_free(q, x);
                        (b, Some(d))
                    }
                    None => (0, None),
                }
            } else {
                (0, None)
            };
            if let Some(d) = d {
                ok = false;
                if let Some(o) = out.as_mut() {
                    d.print(&mut **o, "check", core::ptr::without_provenance::<u8>(b));
                }
            }
            true
        });
        ok
    }

    /// The figures as a poisoned heap's user sees them: the allocated
    /// bytes are the user's sizes (what `malloc_usable_size` says of each
    /// live block: a walk adds them up), and, as ESP-IDF's
    /// `multi_heap_get_info` with poisoning, the free bytes, the largest
    /// free block and the low-water mark are each one block's overhead
    /// (`3*HDR`) less: the largest free block is the largest request of
    /// the format's alignment that succeeds. Blocks, the peak and the
    /// footprint are the core's.
    pub(super) fn info_poisoned(&self) -> HeapInfo {
        let mut i = self.info();
        let mut user = 0;
        let _ = self.walk(&mut |_, q, u, used| {
            if used {
                user += match self.check_used(q, u) {
                    (p, None) => self.find(p).map_or(u, |(_, n)| n),
                    _ => u,
                };
            }
            true
        });
        let o = 3 * F::HDR;
        i.total_allocated_bytes = user;
        i.total_free_bytes = i.total_free_bytes.saturating_sub(o);
        i.largest_free_block = i.largest_free_block.saturating_sub(o);
        i.minimum_free_bytes = i.minimum_free_bytes.saturating_sub(o);
        i
    }
}

impl<F: Format> CompactHeap<F> {
    /// The heap's poisoning, fixed when it was made.
    pub fn poisoning(&self) -> Poisoning {
        match self.poison {
            0 => Poisoning::Off,
            1 => Poisoning::Light,
            _ => Poisoning::Comprehensive,
        }
    }

    /// [`allocate`](CompactHeap::allocate) of a poisoned heap (also
    /// announced to Memcheck: the user's bytes).
    #[cold]
    #[inline(never)]
    pub(super) fn allocate_poisoned(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let mut h = self.hold_quietly(func);
        let p = h.g.alloc_poisoned(size, align, zero, self.poison == 2, func)?;
        let p = h.g.ptr(p);
        valgrind::pool_alloc(Self::pool(&h.g), p, size);
        if zero {
            // The announcement made the block undefined; its bytes are the
            // zeros written before it.
            valgrind::make_defined(p, size);
        }
        NonNull::new(p)
    }

    /// [`dealloc`](CompactHeap::dealloc) of a poisoned heap; damage is
    /// reported under `func` and aborts.
    #[cold]
    #[inline(never)]
    pub(super) fn dealloc_poisoned(&self, p: NonNull<u8>, func: &str) -> Result<(), HeapError> {
        let mut h = self.hold_quietly("free");
        h.g.free_poisoned(p.as_ptr().addr(), self.poison == 2, func)?;
        valgrind::pool_free(Self::pool(&h.g), p.as_ptr());
        Ok(())
    }

    /// [`reallocate`](CompactHeap::reallocate) of a poisoned heap.
    #[cold]
    #[inline(never)]
    pub(super) fn reallocate_poisoned(
        &self,
        p: NonNull<u8>,
        size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let mut h = self.hold_quietly(func);
        let a = p.as_ptr().addr();
        let pool = Self::pool(&h.g);
        // Under Memcheck the block always moves (as the plain heap's does):
        // the new one announced before the bytes are copied in, the old one
        // taken back after.
        let announce = |q: *mut u8| valgrind::pool_alloc(pool, q, size);
        let memcheck = valgrind::running().then_some(&announce as &dyn Fn(*mut u8));
        let q = h.g.realloc_poisoned(a, size, align, self.poison == 2, memcheck, func)?;
        if q != a && memcheck.is_some() {
            valgrind::pool_free(pool, p.as_ptr());
        }
        NonNull::new(h.g.ptr(q)).ok_or(HeapError::OutOfMemory)
    }
}
