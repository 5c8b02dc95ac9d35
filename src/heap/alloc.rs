//! Allocation: good fit from the free lists, else bump the top, else first
//! fit within the request's own class, else a large mapping or more memory
//! from the source.

use core::ptr::NonNull;

use super::block::{block_for, set_free, up, ALIGN, HDR, IN_USE, MIN_BLOCK, PREV_IN_USE, TAG_BITS};
use super::raw::RawHeap;
use super::source::Source;

/// A block handed out: `(header, size, end of the payload prefix that may
/// hold old data)`. Payload bytes from the third value on are zero.
type Got = (usize, usize, usize);

/// What [`RawHeap::take_exact`] did.
enum Exact {
    /// It took the block with this header.
    Taken(usize),
    /// The list of that exact size is empty.
    Empty,
    /// Its head is for the checked path (another segment, or damage).
    Refused,
}

impl<S: Source> RawHeap<S> {
    /// `size` bytes aligned to `align`, or `None`. `align` must be a power
    /// of two (one above 16 that is not gives `None`; callers validate).
    #[inline]
    pub fn alloc(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let got = self.alloc_any(size, align)?;
        Some(self.hand_out(got, size, false))
    }

    /// As [`alloc`](Self::alloc), with the first `size` bytes zeroed.
    /// Memory known to be fresh from the kernel is not written.
    #[inline]
    pub fn alloc_zeroed(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let got = self.alloc_any(size, align)?;
        Some(self.hand_out(got, size, true))
    }

    /// [`alloc`](Self::alloc) or [`alloc_zeroed`](Self::alloc_zeroed),
    /// inlined into the caller: the locked path of a heap without caches.
    #[inline(always)]
    pub(super) fn alloc_inline(
        &mut self,
        size: usize,
        align: usize,
        zero: bool,
    ) -> Option<NonNull<u8>> {
        let got = self.get(size, align)?;
        Some(self.hand_out(got, size, zero))
    }

    /// The pointer to payload `p` (from [`alloc_any`](Self::alloc_any),
    /// with the end of its possibly-dirty prefix), its first `size` bytes
    /// zeroed if `zero` (memory fresh from the kernel is not written).
    #[inline(always)]
    fn hand_out(&self, (p, dirty_end): (usize, usize), size: usize, zero: bool) -> NonNull<u8> {
        let ptr = self.mem().ptr::<u8>(p);
        let end = dirty_end.min(p + size);
        if zero && end > p {
            // SAFETY: `[p, end)` lies in the payload just handed out.
            unsafe { core::ptr::write_bytes(ptr, 0, end - p) };
        }
        // SAFETY: payload addresses are never 0.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    /// The payload address and the end of its possibly-dirty prefix (one
    /// out-of-line copy: inlining it into the locked path of `malloc` saves
    /// a call but made a batch workload 20% slower on this machine).
    #[inline(never)]
    pub(super) fn alloc_any(&mut self, size: usize, align: usize) -> Option<(usize, usize)> {
        self.get(size, align)
    }

    /// What [`alloc_any`](Self::alloc_any) does, inlined.
    #[inline(always)]
    fn get(&mut self, size: usize, align: usize) -> Option<(usize, usize)> {
        if align <= ALIGN && size < self.mmap_threshold() {
            let b = block_for(size)?;
            let fitted = if b < 512 {
                match self.take_exact(b) {
                    Exact::Taken(h) => {
                        self.note_alloc(b - HDR);
                        return Some((h + HDR, h + b));
                    }
                    // No block of exactly `b` bytes: one from a class
                    // above that is sure to fit (what `fit` would do).
                    Exact::Empty => self.lists().find(&self.walk(), b),
                    Exact::Refused => self.intact(self.lists().fit(&self.walk(), b)),
                }
            } else {
                self.intact(self.lists().fit(&self.walk(), b))
            };
            let (h, s, d) = if let Some(h) = fitted {
                self.take_free(h, b)
            } else if self.top_size() >= b {
                self.bump(b)
            } else {
                return self.alloc_slow(size, align);
            };
            self.note_alloc(s - HDR);
            return Some((h + HDR, d));
        }
        self.alloc_slow(size, align)
    }

    #[cold]
    fn alloc_slow(&mut self, size: usize, align: usize) -> Option<(usize, usize)> {
        if !align.is_power_of_two() {
            return None;
        }
        let b = block_for(size)?;
        let large = size >= self.mmap_threshold() && self.source_ref().can_map();
        // Room for moving the payload up to an alignment boundary.
        let need = if align <= ALIGN { b } else { b.checked_add(align)?.checked_add(MIN_BLOCK)? };
        // A large request reuses free memory if it fits without growing,
        // else gets a mapping; when the kernel refuses that, it fails.
        let got = self.block(need, !large);
        if got.is_none() && large {
            if let Some(p) = self.large_alloc(size, align.max(ALIGN)) {
                return Some((p, p));
            }
            // The kernel refused this much memory as a mapping: growing the
            // heap by as much is refused too (the same address-space and
            // overcommit limits), so fail without more system calls.
            return None;
        }
        let got = got?;
        let (h, s, d) = if align <= ALIGN { got } else { self.carve(got, b, align) };
        self.note_alloc(s - HDR);
        Some((h + HDR, d))
    }

    /// A block of `b` bytes (a block size) aligned to `align` from free
    /// memory, without asking the source; booked. Its payload address.
    pub(super) fn alloc_free(&mut self, b: usize, align: usize) -> Option<usize> {
        if align > ALIGN || b >= self.mmap_threshold() {
            return None;
        }
        let (h, s, _) = self.block(b, false)?;
        self.note_alloc(s - HDR);
        Some(h + HDR)
    }

    /// A used block of at least `b` bytes from anywhere in the heap,
    /// growing it only if `may_grow`. Its stats are not booked yet.
    fn block(&mut self, b: usize, may_grow: bool) -> Option<Got> {
        if let Some(h) = self.intact(self.lists().fit(&self.walk(), b)) {
            return Some(self.take_free_outlined(h, b));
        }
        if self.top_size() >= b {
            return Some(self.bump(b));
        }
        if let Some(h) = self.intact(self.lists().first_fit(&self.walk(), b)) {
            return Some(self.take_free_outlined(h, b));
        }
        if may_grow && self.grow(b) {
            return Some(self.bump(b));
        }
        None
    }

    /// Takes free block `h` (a list offered it for `b` bytes) off its
    /// list, splitting off the remainder as a new free block when it can
    /// stand alone. Its size is checked first (`free_size`).
    #[inline(always)]
    pub(super) fn take_free(&mut self, h: usize, b: usize) -> Got {
        let s = self.free_size(h);
        if s < b {
            self.corrupt((super::error::Corruption::FreeSize, h));
        }
        let (m, tag) = (self.mem(), self.tag());
        // SAFETY: `h` is a listed free block of `s >= b` bytes, checked;
        // the remainder and the next header lie within or just after it.
        unsafe {
            let d = self.unlist_block(h, s);
            let rem = s - b;
            if rem >= MIN_BLOCK {
                let r = h + b;
                set_free(m, tag, r, rem);
                self.list_block(r, rem, d.min(rem));
                m.wr(h, tag | b | IN_USE | PREV_IN_USE);
                (h, b, h + b)
            } else {
                m.wr(h, tag | s | IN_USE | PREV_IN_USE);
                let n = h + s;
                m.wr(n, m.rd(n) | PREV_IN_USE);
                (h, s, h + s)
            }
        }
    }

    /// The head of exact class `b` (below 512) taken whole, in use, when
    /// it passes every check [`take_free`](Self::take_free) makes (its
    /// header, its place in the top segment, its footer, the block after
    /// it, its links); else nothing changed: the list is empty, or its
    /// head is in another segment or damaged, which the checked path then
    /// takes or reports.
    #[inline(always)]
    fn take_exact(&mut self, b: usize) -> Exact {
        let h = self.lists().exact_head(b);
        if h == 0 {
            return Exact::Empty;
        }
        let (m, tag, first, top) = (self.mem(), self.tag(), self.top_first(), self.top());
        if h.wrapping_sub(first) >= top - first || b > top - h {
            return Exact::Refused;
        }
        // SAFETY: `h` heads a list (a block address) and `[h, h+b]` lies in
        // the top segment, `h+b` at most the top.
        unsafe {
            let nh = m.rd(h + b);
            if m.rd(h) != tag | b | PREV_IN_USE
                || m.rd(h + b - HDR) != b
                || nh & (TAG_BITS | IN_USE | PREV_IN_USE) != tag | IN_USE
            {
                return Exact::Refused;
            }
            if !self.unlist_exact(h, b) {
                return Exact::Refused;
            }
            m.wr(h, tag | b | IN_USE | PREV_IN_USE);
            m.wr(h + b, nh | PREV_IN_USE);
        }
        Exact::Taken(h)
    }

    /// [`take_free`](Self::take_free) for the slow paths, one copy.
    #[inline(never)]
    fn take_free_outlined(&mut self, h: usize, b: usize) -> Got {
        self.take_free(h, b)
    }

    /// Takes `b` bytes (which the top holds) off the front of the top.
    #[inline(always)]
    pub(super) fn bump(&mut self, b: usize) -> Got {
        let h = self.top();
        // A 16-byte rest could not stand alone as a top block: take it too.
        let s = if self.top_end() - h - b < MIN_BLOCK { self.top_end() - h } else { b };
        // SAFETY: the top is heap memory; its first word becomes a header.
        unsafe { self.mem().wr(h, self.tag() | s | IN_USE | PREV_IN_USE) };
        let end = h + s;
        let f = self.advance_top(end);
        // `f` within `[h + HDR, end]` (max, then min: no panic path, as
        // `clamp` has for bounds the compiler cannot order).
        (h, s, f.max(h + HDR).min(end))
    }

    /// Moves the payload of used block `got` up to an `align` boundary,
    /// freeing the front (merged into a free block before it, if any),
    /// then trims it to `b` bytes.
    fn carve(&mut self, got: Got, b: usize, align: usize) -> Got {
        let (mut h, mut s, d) = got;
        if (h + HDR) % align != 0 {
            let nh = up(h + HDR + MIN_BLOCK, align) - HDR;
            let front = nh - h;
            // SAFETY: `[h, nh)` is the front of our block; `nh` is inside
            // it; a free block before `h` is listed with a valid footer.
            unsafe {
                let (mut start, mut size, mut dirty) = (h, front, front);
                if self.mem().rd(h) & PREV_IN_USE == 0 {
                    let ps = self.prev_free(h);
                    self.unlist(h - ps, ps, &mut dirty);
                    start -= ps;
                    size += ps;
                }
                set_free(self.mem(), self.tag(), start, size);
                self.list_block(start, size, dirty);
                self.mem().wr(nh, self.tag() | (s - front) | IN_USE);
            }
            h = nh;
            s -= front;
        }
        s = self.shrink_block(h, s, b);
        (h, s, d.max(h + HDR))
    }

    /// Cuts used block `h` of size `s` down to `b` bytes when the rest can
    /// stand alone, freeing the rest. Returns the new size.
    pub(super) fn shrink_block(&mut self, h: usize, s: usize, b: usize) -> usize {
        if s - b < MIN_BLOCK {
            return s;
        }
        // SAFETY: `h` is a used block of size `s`.
        unsafe { self.mem().wr(h, self.tag() | b | (self.mem().rd(h) & PREV_IN_USE) | IN_USE) };
        self.release(h + b, s - b, 0, super::segment::NONE);
        b
    }
}
