//! Taking blocks back: pointer validation, coalescing with free
//! neighbours and the top; each free counts towards the next purge check
//! (`decay.rs`).

use super::block::{
    set_free, ALIGN, HDR, IN_USE, LARGE, MIN_BLOCK, PREV_IN_USE, PURGE_MIN, SIZE, TAG_BITS,
};
use super::error::{Corruption, HeapError};
use super::raw::RawHeap;
use super::remote::remote_key;
use super::segment::NONE;
use super::source::Source;
use super::tcache::{key_of, CACHE_MEDIUM_MAX};

/// What `locate` reports when the tags around a block disagree with it.
const NEIGHBOUR: HeapError = HeapError::Corrupted(Corruption::Neighbour);

/// What a pointer handed back to the heap turned out to be.
#[derive(Clone, Copy)]
pub(super) enum Found {
    /// A used block in segment `seg`: header address, size, and the size
    /// of the free block before it (checked), or 0.
    Block { h: usize, s: usize, seg: usize, ps: usize },
    /// A live large block.
    Large(usize),
}

/// A hint to fetch the cache line of `a` (never faults).
#[inline(always)]
fn prefetch(m: super::block::Mem, a: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(m.ptr(a))
    };
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = (m, a);
}

impl<S: Source> RawHeap<S> {
    /// Validates a payload pointer handed back by the user: it must be
    /// a block of this heap (its segment, its tag), in use, with boundary
    /// tags around it that agree. One copy, for every caller but
    /// `realloc`'s and the locked `free`'s
    /// ([`locate_inlined`](Self::locate_inlined)).
    #[inline(never)]
    pub(super) fn locate(&self, p: usize) -> Result<Found, HeapError> {
        self.locate_inlined(p)
    }

    /// [`locate`](Self::locate) inlined into its caller: for
    /// [`realloc`](Self::realloc) and the locked path of `free`, where
    /// what it finds is used at once rather than handed back through
    /// memory.
    #[inline(always)]
    pub(super) fn locate_inlined(&self, p: usize) -> Result<Found, HeapError> {
        if p % ALIGN != 0 || p == 0 {
            return Err(HeapError::InvalidPointer);
        }
        let h = p - HDR;
        let (seg, limit) = if h.wrapping_sub(self.top_first()) < self.top_end() - self.top_first() {
            (self.segs().top(), self.top())
        } else if let Some(i) = self.segs().find_other(h) {
            (i, self.segs().get(i).sentinel)
        } else if self.large().contains(self.mem(), p) {
            return Ok(Found::Large(p));
        } else if self.large().recently_freed(self.mem(), p) || p == self.last_freed() {
            return Err(HeapError::DoubleFree);
        } else {
            return Err(HeapError::InvalidPointer);
        };
        // The next header is read right after this one: start fetching the
        // lines where it most likely is, in parallel with the header's.
        let m = self.mem();
        prefetch(m, h + 64);
        prefetch(m, h + 128);
        // SAFETY: `h` lies in a segment's block area.
        let hdr = unsafe { m.rd(h) };
        if hdr & TAG_BITS != self.tag() {
            // Not a header this heap wrote: a stray pointer, or a block of
            // another heap (one that lives inside a block of this one).
            return Err(HeapError::InvalidPointer);
        }
        if hdr & IN_USE == 0 {
            // A freed (or parked) block keeps its size in its header; a
            // word with neither IN_USE nor a size is no block at all.
            return Err(if hdr & SIZE >= MIN_BLOCK {
                HeapError::DoubleFree
            } else {
                HeapError::InvalidPointer
            });
        }
        let s = hdr & SIZE;
        if h >= limit || hdr & LARGE != 0 || s < MIN_BLOCK || s > limit - h {
            return Err(HeapError::InvalidPointer);
        }
        if !self.unkeyed() {
            // SAFETY: the block is at least MIN_BLOCK bytes.
            let k = unsafe { m.rd(h + 16) };
            if (s <= CACHE_MEDIUM_MAX && k == key_of(h)) || k == remote_key(h) {
                // It sits in a thread cache, or on the heap's list of
                // blocks freed by other threads.
                return Err(HeapError::DoubleFree);
            }
        }
        let (n, tag) = (h + s, self.tag());
        // SAFETY: `n` is at most the segment's sentinel.
        if n != self.top() && unsafe { m.rd(n) } & (TAG_BITS | PREV_IN_USE) != tag | PREV_IN_USE {
            return Err(NEIGHBOUR);
        }
        let mut ps = 0;
        if hdr & PREV_IN_USE == 0 {
            let first = self.segs().get(seg).first;
            // SAFETY: `h-8` is the previous block's footer or the segment's
            // pad word; `h-ps` is checked to lie in the segment first.
            let bad = unsafe {
                ps = m.rd(h - HDR);
                ps < MIN_BLOCK
                    || ps % ALIGN != 0
                    || ps > h - first
                    || m.rd(h - ps) & (TAG_BITS | SIZE | IN_USE | PREV_IN_USE)
                        != self.tag() | ps | PREV_IN_USE
            };
            if bad {
                return Err(NEIGHBOUR);
            }
        }
        Ok(Found::Block { h, s, seg, ps })
    }

    /// Frees the block at payload `p`.
    ///
    /// # Safety
    /// If `p` is a live block of this heap, nothing may use it afterwards.
    /// Other pointers are rejected (with certainty when misaligned, outside
    /// the heap, or freed just before; by header checks otherwise).
    #[inline]
    pub unsafe fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        let found = self.locate(p.addr())?;
        self.free_found(found)
    }

    /// Frees what [`locate`](Self::locate) found.
    #[inline]
    pub(super) fn free_found(&mut self, found: Found) -> Result<(), HeapError> {
        match found {
            Found::Large(p) => self.large_free(p),
            Found::Block { h, s, seg, ps } => {
                self.set_last_freed(h + HDR);
                self.note_free(s - HDR);
                self.release(h, s, ps, seg);
                Ok(())
            }
        }
    }

    /// The usable size of the block at payload `p`.
    ///
    /// # Safety
    /// `p` should come from this heap; others are rejected as by `free`.
    pub unsafe fn usable_size(&self, p: *const u8) -> Result<usize, HeapError> {
        match self.locate(p.addr())? {
            Found::Large(p) => self.large_parts(p).map(|(m, len)| m + len - p),
            Found::Block { s, .. } => Ok(s - HDR),
        }
    }

    /// Returns block `[h, h+s)` (no longer counted as used) to the free
    /// state: merges it with free neighbours or the top, lists it. `ps` is
    /// the size of the free block before it, checked by the caller
    /// ([`locate`](Self::locate) or [`prev_free`](Self::prev_free)), or 0
    /// if that block is in use; the block after it is checked here.
    pub(super) fn release(&mut self, h: usize, s: usize, ps: usize, seg: usize) {
        let (mut start, mut size, mut dirty) = (h, s, s);
        let m = self.mem();
        // SAFETY: `h` was a used block; its neighbours' tags are checked
        // before they are trusted.
        unsafe {
            if ps != 0 {
                start = h - ps;
                self.unlist(start, ps, &mut dirty);
                size += ps;
            }
            m.wr(h, self.tag() | s); // IN_USE clear: a second free of `h` is seen as double
            let n = h + s;
            if n == self.top() {
                self.lower_top(start);
                let t = self.top_size();
                if t > self.trim_threshold() && t > self.trim_fail_at() {
                    self.auto_trim();
                } else {
                    self.note_dirty_free();
                }
                return;
            }
            let nh = m.rd(n);
            if nh & IN_USE == 0 {
                let ns = self.free_size_of(n, nh);
                self.unlist(n, ns, &mut dirty);
                size += ns;
            } else {
                m.wr(n, nh & !PREV_IN_USE);
            }
            self.put_free(start, size, dirty, seg);
        }
    }

    /// Takes a free neighbour off its list, adding up its dirty bytes.
    ///
    /// # Safety
    /// `h` must be a listed free block of size `s`, checked.
    #[inline(always)]
    pub(super) unsafe fn unlist(&mut self, h: usize, s: usize, dirty: &mut usize) {
        // SAFETY: forwarded contract.
        *dirty += unsafe { self.unlist_block(h, s) };
    }

    /// Lists free block `[h, h+s)` with `dirty` unpurged bytes; a big one
    /// that fills an old segment is given back instead. A big one's dirty
    /// pages are purged once they have stayed unused for the purge delay
    /// (`decay.rs`), not now: memory that is freed and reused soon is not
    /// faulted in again, and memory that stays free goes back.
    ///
    /// # Safety
    /// `[h, h+s)` must be heap memory that no block covers any more, with
    /// used blocks on both sides.
    unsafe fn put_free(&mut self, h: usize, s: usize, dirty: usize, seg: usize) {
        // SAFETY: `[h, h+s)` is free heap memory.
        unsafe { set_free(self.mem(), self.tag(), h, s) };
        if s >= PURGE_MIN {
            let seg = if seg == NONE { self.segs().find(h).unwrap_or(NONE) } else { seg };
            if seg != NONE && seg != self.segs().top() && self.release_segment(seg, h, s) {
                return;
            }
        }
        // SAFETY: as above, and the block is on no list.
        unsafe { self.list_block(h, s, dirty) };
        if s >= PURGE_MIN {
            self.note_dirty_free();
        } else {
            self.note_free_tick();
        }
    }
}
