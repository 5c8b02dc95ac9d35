//! A process source over a reservation: address space taken once,
//! inaccessible, and made readable and writable from its start as the
//! heap grows (`mprotect`), so that the heap stays one segment that
//! always extends in place. Thread arenas (`arena.rs`) are heaps over
//! such sources; that all their blocks lie in one known range is what
//! lets any thread find a block's arena from its address alone.

use super::super::block::up;
use super::super::os::Os;
use super::super::source::{Source, Span};
use super::{ProcessSource, GROW_STEP};

/// Span kind: part of a reservation.
pub const KIND_RESERVED: u8 = 3;

/// A reservation `[lo, hi)`, made accessible up to `end`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Reserve {
    pub lo: usize,
    pub hi: usize,
    pub end: usize,
}

impl<O: Os> ProcessSource<O> {
    /// A source over the reservation `[base, base+len)` (page-aligned, made
    /// with [`Os::reserve`]); it never touches the break and never maps.
    pub fn reserved(os: O, base: usize, len: usize) -> Self {
        let mut s = Self::mmap_only(os);
        s.space = Reserve { lo: base, hi: base + len, end: base };
        s
    }

    /// Whether this source is over a reservation.
    #[inline]
    pub(super) fn is_reserved(&self) -> bool {
        self.space.hi != 0
    }

    /// Commits the next step of the reservation, or only `min` bytes when
    /// the step does not fit or is refused (a memory limit).
    pub(super) fn grow_reserved(&mut self, min: usize) -> Option<Span> {
        let page = self.page_size();
        let Reserve { hi, end, .. } = self.space;
        let least = up(min, page);
        for len in [up(min.max(GROW_STEP), page), least] {
            if len > hi - end {
                continue;
            }
            // Counted as an mmap: it is the call that gives memory.
            self.n.mmap += 1;
            // SAFETY: `[end, end+len)` lies in our reservation, unused.
            if unsafe { self.os.commit(end, len) } {
                self.space.end = end + len;
                return Some(Span { base: end, len, kind: KIND_RESERVED, zeroed: true });
            }
            if len == least {
                break;
            }
        }
        None
    }

    /// Gives the tail of the reservation's segment beyond `new_end` back.
    ///
    /// # Safety
    /// Nothing may use `[new_end, end)` afterwards.
    pub(super) unsafe fn shrink_reserved(&mut self, new_end: usize) -> bool {
        let end = self.space.end;
        if new_end >= end || new_end < self.space.lo {
            return false;
        }
        self.n.munmap += 1;
        // SAFETY: the heap gives the tail up; it is in our reservation.
        if unsafe { self.os.decommit(new_end, end - new_end) } {
            self.space.end = new_end;
            return true;
        }
        false
    }
}
