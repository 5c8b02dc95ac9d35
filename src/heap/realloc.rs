//! Resizing: in place whenever the block can shrink or its next neighbour
//! (a free block or the top) can feed it; `mremap` for large blocks; else
//! allocate, copy and free. A failed resize leaves the block intact.

use core::ptr::{copy_nonoverlapping, NonNull};

use super::block::{block_for, set_free, up, ALIGN, HDR, IN_USE, MIN_BLOCK, PREV_IN_USE, SIZE};
use super::error::HeapError;
use super::free::Found;
use super::raw::RawHeap;
use super::segment::NONE;
use super::source::Source;

/// A block that grows gets `1 / GROW_SLACK` of its new size as extra
/// room (at most [`GROW_SLACK_MAX`] bytes).
pub const GROW_SLACK: usize = 4;
/// The most extra room a growing block gets.
pub const GROW_SLACK_MAX: usize = 64 << 10;

/// What [`RawHeap::resize`] gives back: the block, or what went wrong.
/// Two scalars, so that it comes back in two registers (a `Result` of a
/// pointer and an error is returned through memory).
#[derive(Clone, Copy)]
pub(in crate::heap) struct Resized {
    /// The block (when `err` is `None`).
    p: *mut u8,
    /// Why the resize failed, if it did.
    err: Option<HeapError>,
}

impl Resized {
    /// The outcome `r`.
    #[inline(always)]
    pub(in crate::heap) fn from_result(r: Result<NonNull<u8>, HeapError>) -> Self {
        match r {
            Ok(p) => Resized { p: p.as_ptr(), err: None },
            Err(e) => Resized { p: core::ptr::null_mut(), err: Some(e) },
        }
    }

    /// The outcome as a `Result`.
    #[inline(always)]
    pub(in crate::heap) fn result(self) -> Result<NonNull<u8>, HeapError> {
        match self.err {
            // SAFETY: without an error, `p` is a block (never null).
            None => Ok(unsafe { NonNull::new_unchecked(self.p) }),
            Some(e) => Err(e),
        }
    }
}

impl<S: Source> RawHeap<S> {
    /// Resizes the block at `p` to `new_size` bytes, keeping its first
    /// bytes and its alignment `align` (which it was allocated with).
    /// `Err(OutOfMemory)` leaves the block as it was.
    ///
    /// # Safety
    /// As for [`free`](Self::free): if the block moves, nothing may use
    /// the old pointer afterwards.
    #[inline(always)]
    pub unsafe fn realloc(
        &mut self,
        p: *mut u8,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.resize(p, new_size, align) }.result()
    }

    /// [`realloc`](Self::realloc), one copy, its outcome in registers.
    ///
    /// # Safety
    /// As for `realloc`.
    #[inline(never)]
    pub(super) unsafe fn resize(&mut self, p: *mut u8, new_size: usize, align: usize) -> Resized {
        // SAFETY: forwarded contract.
        Resized::from_result(unsafe { self.realloc_core(p, new_size, align) })
    }

    /// The body of [`realloc`](Self::realloc).
    ///
    /// # Safety
    /// As for `realloc`.
    #[inline(always)]
    unsafe fn realloc_core(
        &mut self,
        p: *mut u8,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, HeapError> {
        let pa = p.addr();
        let (h, s) = match self.locate_inlined(pa)? {
            Found::Large(p) => return self.realloc_large(p, new_size, align),
            Found::Block { h, s, .. } => (h, s),
        };
        let b = block_for(new_size).ok_or(HeapError::OutOfMemory)?;
        // SAFETY: `p` was just validated as non-null.
        let same = unsafe { NonNull::new_unchecked(p) };
        // A heap that can grow trades some memory for speed: a block that
        // grows is likely to grow again, so it gets room for that
        // ([`GROW_SLACK`]) when there is, and one that shrinks a little
        // keeps its room, so that the next steps need neither a move nor
        // a call into the heap's lists. A region heap (fixed memory) fits
        // every block tightly.
        let roomy_heap = self.source_ref().can_map();
        if b <= s {
            let keep = if roomy_heap { (s / 8).max(MIN_BLOCK) } else { MIN_BLOCK };
            if s - b >= keep {
                let ns = self.shrink_block(h, s, b);
                self.note_shrunk(s - ns);
            }
            return Ok(same);
        }
        let slack = if roomy_heap { (new_size / GROW_SLACK).min(GROW_SLACK_MAX) } else { 0 };
        let roomy = block_for(new_size.saturating_add(slack)).unwrap_or(b);
        let mut refused = false;
        if self.grow_in_place(h, s, b, roomy, &mut refused) {
            return Ok(same);
        }
        // A block that moves past the (static) mmap threshold gets a mapping
        // even when the dynamic threshold is higher: growing it further is
        // then an mremap, not a copy.
        let mapped = if new_size >= self.realloc_threshold() && align <= ALIGN {
            self.large_alloc(new_size, ALIGN)
        } else {
            None
        };
        let np = match mapped {
            Some(np) => np,
            None => match if slack > 0 { self.alloc_free(roomy, align) } else { None } {
                Some(np) => np,
                // The source just refused to grow the heap for less than
                // this: only free memory can serve it (no second refusal).
                None if refused && align <= ALIGN => {
                    self.alloc_free(b, align).ok_or(HeapError::OutOfMemory)?
                }
                None => self.alloc_any(new_size, align.max(ALIGN)).ok_or(HeapError::OutOfMemory)?.0,
            },
        };
        let np = self.mem().ptr::<u8>(np);
        // SAFETY: both blocks are live and distinct; the old payload is
        // `s - HDR < new_size` bytes.
        unsafe { copy_nonoverlapping(p, np, s - HDR) };
        self.note_free(s - HDR);
        // The allocation may have changed our neighbours: reread the header.
        // SAFETY: `h` is still our used block.
        let ps = if unsafe { self.mem().rd(h) } & PREV_IN_USE == 0 { self.prev_free(h) } else { 0 };
        self.release(h, s, ps, NONE);
        // SAFETY: payload addresses are never 0.
        Ok(unsafe { NonNull::new_unchecked(np) })
    }

    /// The size from which a resized block lives in its own mapping: the
    /// mmap threshold, but not above its default unless set explicitly
    /// (the dynamic threshold is for blocks that come and go whole).
    fn realloc_threshold(&self) -> usize {
        if self.mmap_fixed() || !self.source_ref().can_map() {
            self.mmap_threshold()
        } else {
            self.mmap_threshold().min(super::raw::DEFAULT_MMAP_THRESHOLD)
        }
    }

    /// Grows used block `h` (size `s`) to at least `b` bytes and to
    /// `roomy` if there is room, into the top or a free next neighbour;
    /// grows the heap for it if the top is too small even for `b`, and sets
    /// `refused` if the source refused that.
    fn grow_in_place(
        &mut self,
        h: usize,
        s: usize,
        b: usize,
        roomy: usize,
        refused: &mut bool,
    ) -> bool {
        let n = h + s;
        if n == self.top() && s + self.top_size() < b && b < self.mmap_threshold() {
            // Extends the top in place when the source can; refused if
            // the heap got no memory at all.
            let end = self.top_end();
            self.grow(b - s);
            *refused = self.top_end() == end;
        }
        let (m, tag) = (self.mem(), self.tag());
        // SAFETY: `h` is a used block; `n` is the top or a valid header.
        let ns = unsafe {
            let flags = tag | (m.rd(h) & PREV_IN_USE) | IN_USE;
            let ns = if n == self.top() {
                let avail = s + self.top_size();
                if avail < b {
                    return false;
                }
                let want = if avail >= roomy { roomy } else { b };
                let ns = if avail - want < MIN_BLOCK { avail } else { want };
                self.advance_top(h + ns);
                ns
            } else {
                let nh = m.rd(n);
                // Too small (or in use) by its header alone: nothing is
                // trusted or changed. A neighbour that would feed the
                // block is checked in full first.
                if nh & IN_USE != 0 || s + (nh & SIZE) < b {
                    return false;
                }
                let total = s + self.free_size_of(n, nh);
                if total < b {
                    return false;
                }
                let d = self.unlist_block(n, total - s);
                // A block growing in small steps takes all of a neighbour
                // that is smaller than its room (the next steps then need
                // no call into the lists); one that doubles would only
                // strand the rest.
                let want = if total >= roomy {
                    roomy
                } else if b - s <= roomy - b {
                    total
                } else {
                    b
                };
                if total - want >= MIN_BLOCK {
                    let r = h + want;
                    set_free(m, tag, r, total - want);
                    self.list_block(r, total - want, d.min(total - want));
                    want
                } else {
                    m.wr(h + total, m.rd(h + total) | PREV_IN_USE);
                    total
                }
            };
            m.wr(h, ns | flags);
            ns
        };
        self.note_grown(ns - s);
        true
    }

    /// Resizes large block `p`.
    fn realloc_large(
        &mut self,
        p: usize,
        new_size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, HeapError> {
        let (m, len) = self.large_parts(p)?;
        let (off, usable) = (p - m, m + len - p);
        let page = self.large().page();
        // SAFETY: `p` is a live payload, never 0.
        let same = unsafe { NonNull::new_unchecked(self.mem().ptr(p)) };
        if new_size >= self.realloc_threshold() && (align <= page || new_size <= usable) {
            let new_len =
                new_size.checked_add(off + page - 1).ok_or(HeapError::OutOfMemory)? & !(page - 1);
            if new_len > super::block::SIZE {
                return Err(HeapError::OutOfMemory); // the header could not hold it
            }
            if new_len == len {
                return Ok(same);
            }
            // SAFETY: on success the block lives at the new address only.
            if let Some(nm) = unsafe { self.source().remap(m, len, new_len) } {
                let np = nm + off;
                // SAFETY: the header moved with the mapping.
                unsafe { self.mem().wr(np - HDR, new_len | IN_USE | super::block::LARGE) };
                self.move_large((p, usable, len), (np, new_len - off, new_len));
                // SAFETY: payload addresses are never 0.
                return Ok(unsafe { NonNull::new_unchecked(self.mem().ptr(np)) });
            }
        }
        match self.alloc_any(new_size, align.max(ALIGN)) {
            Some((np, _)) => {
                let np = self.mem().ptr::<u8>(np);
                // SAFETY: both blocks are live and distinct.
                unsafe { copy_nonoverlapping(same.as_ptr(), np, usable.min(new_size)) };
                self.large_free(p)?;
                // SAFETY: payload addresses are never 0.
                Ok(unsafe { NonNull::new_unchecked(np) })
            }
            None if new_size <= usable => Ok(same),
            None => Err(HeapError::OutOfMemory),
        }
    }
}

#[allow(dead_code)]
const _: () = assert!(up(MIN_BLOCK, ALIGN) == MIN_BLOCK && HDR == 8);
