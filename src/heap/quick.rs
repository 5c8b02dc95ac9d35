//! Quick bins: recently freed small blocks parked by exact size, so that
//! the next request of that size takes one back without splitting or
//! coalescing (glibc's tcache idea, inside the heap's lock).
//!
//! A parked block's header has `CACHED` set and `IN_USE` clear (so a
//! second free is still seen as a double free) and it links to the next
//! parked block of its bin through its first payload word. Its neighbours
//! treat it as in use: the next block's PREV_IN_USE stays set, nothing
//! merges into it. A block next to the top is never parked. Parked blocks
//! coalesce only when the bins are flushed: before the heap asks its
//! source for memory, before it trims the top, and when parked blocks
//! exceed half the used ones (a burst being freed), so that memory still
//! flows back. Region heaps keep the bins off by default: there
//! `largest_free_block` must also bound what coalescing could give.

use super::block::{rd, wr, PREV_IN_USE};
use super::raw::RawHeap;
use super::segment::NONE;
use super::source::Source;

/// The largest block size that is parked.
pub const QUICK_MAX: usize = 512;
const BINS: usize = QUICK_MAX / 16 + 1;
/// Blocks parked per size by default (process heaps).
pub const DEFAULT_QUICK_CAP: u16 = 16;

/// Bin `i` holds blocks of `16 * i` bytes; `n[i]` counts them.
pub(super) struct Quick {
    heads: [usize; BINS],
    n: [u16; BINS],
    pub cap: u16,
}

impl Quick {
    pub const fn new(cap: u16) -> Self {
        Quick { heads: [0; BINS], n: [0; BINS], cap }
    }

    /// A parked block of exactly `s` (<= QUICK_MAX) bytes, or 0.
    #[inline(always)]
    pub fn pop(&mut self, s: usize) -> usize {
        let i = s >> 4;
        let h = self.heads[i];
        if h != 0 {
            // SAFETY: parked blocks link through their first payload word.
            self.heads[i] = unsafe { rd(h + 8) };
            self.n[i] -= 1;
        }
        h
    }

    /// Parks block `h` of `s` (<= QUICK_MAX) bytes if its bin has room.
    #[inline(always)]
    pub fn push(&mut self, h: usize, s: usize) -> bool {
        let i = s >> 4;
        if self.n[i] >= self.cap {
            return false;
        }
        // SAFETY: `h` is a block the heap owns and no longer hands out.
        unsafe { wr(h + 8, self.heads[i]) };
        self.heads[i] = h;
        self.n[i] += 1;
        true
    }

    /// Takes parked block `h` of `s` (<= QUICK_MAX) bytes out of its bin;
    /// false if it is not there. A bin holds at most `cap` blocks.
    pub fn take(&mut self, h: usize, s: usize) -> bool {
        let i = s >> 4;
        let mut prev = 0;
        let mut cur = self.heads[i];
        while cur != 0 {
            // SAFETY: parked blocks link through their first payload word.
            let next = unsafe { rd(cur + 8) };
            if cur == h {
                if prev == 0 {
                    self.heads[i] = next;
                } else {
                    // SAFETY: `prev` is a parked block.
                    unsafe { wr(prev + 8, next) };
                }
                self.n[i] -= 1;
                return true;
            }
            prev = cur;
            cur = next;
        }
        false
    }

    /// The size of the largest parked block (0 if none).
    pub fn largest(&self) -> usize {
        (0..BINS).rev().find(|&i| self.heads[i] != 0).map_or(0, |i| 16 * i)
    }

    /// Head and count of bin `i` (for `check` and `dump`).
    pub fn bin(&self, i: usize) -> (usize, usize) {
        (self.heads[i], self.n[i] as usize)
    }

    /// Number of bins.
    pub const BINS: usize = BINS;
}

impl<S: Source> RawHeap<S> {
    /// Returns every parked block to the free lists, coalescing.
    #[cold]
    pub fn flush_quick(&mut self) {
        for i in 1..BINS {
            loop {
                let h = self.quick.pop(16 * i);
                if h == 0 {
                    break;
                }
                self.st.cached -= 16 * i;
                self.st.cached_blocks -= 1;
                // SAFETY: a parked block keeps its PREV_IN_USE bit current.
                let prev_free = unsafe { rd(h) } & PREV_IN_USE == 0;
                self.release(h, 16 * i, prev_free, NONE);
            }
        }
    }

    /// Parks at most `cap` blocks per size (0 turns the bins off).
    pub fn set_quick_cap(&mut self, cap: u16) {
        self.flush_quick();
        self.quick.cap = cap;
    }
}
