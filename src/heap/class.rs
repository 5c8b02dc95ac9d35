//! Segregated free lists with two-level size classes (TLSF style).
//!
//! Sizes below 512 have exact classes 16 bytes wide (`fl` 0 and 1). Above,
//! each power of two `[2^f, 2^(f+1))` is split into 16 classes, so a class
//! is at most 1/16 of its sizes wide. Sizes from 2^39 up share the last
//! class. `fl_map` bit `i` is set iff `sl_map[i] != 0`; `sl_map[i]` bit `j`
//! is set iff `heads[i][j]` is a non-empty list. Lists are doubly linked
//! through the words at `h+8` (next) and `h+16` (prev), newest first.

use super::block::{Mem, ALIGN, HDR, IN_USE, MIN_BLOCK, PREV_IN_USE, SIZE, TAG_BITS};
use super::error::Corruption;
use super::segment::Segments;

const SL_BITS: u32 = 4;
/// Classes per power of two.
pub const SL: usize = 1 << SL_BITS;
/// Rows of classes.
pub const FL: usize = 32;
// Indices are taken modulo FL and SL (every index the lists make is below
// them), so that indexing compiles to no bounds check and no panic path.
const _: () = assert!(FL.is_power_of_two() && SL.is_power_of_two());
/// How many blocks of its own class an allocation looks at for a fit.
pub const FIT_SCAN: usize = 32;
/// Requests from this size on take TLSF's good fit at once: for big
/// blocks, splitting a bigger one is cheaper than hunting for the best
/// (fewer trips to the kernel, measured).
pub const FIT_BELOW: usize = 64 << 10;

/// A damaged list found at a block: which check and the block's header
/// address.
pub type Damage = (Corruption, usize);

/// The class `(fl, sl)` that a free block of size `s` lives in.
#[inline(always)]
pub fn class_of(s: usize) -> (usize, usize) {
    if s < 256 {
        return (0, s >> 4);
    }
    let f = usize::BITS - 1 - s.leading_zeros();
    let fl = (f - 7) as usize;
    if fl >= FL {
        return (FL - 1, SL - 1);
    }
    (fl, (s >> (f - SL_BITS)) & (SL - 1))
}

/// The lowest class in which every block is at least `s` bytes (except
/// the open-ended last class).
#[inline(always)]
fn class_up(s: usize) -> (usize, usize) {
    if s < 512 {
        return class_of(s);
    }
    let f = usize::BITS - 1 - s.leading_zeros();
    class_of(s + (1 << (f - SL_BITS)) - 1)
}

/// How list code reaches and judges blocks: the heap's [`Mem`], its tag,
/// and its segments, to tell whether an address can be a listed block.
pub struct Walk<'a> {
    /// Where the words are.
    pub m: Mem,
    /// The heap's tag (a free block's header carries it).
    pub tag: usize,
    /// The top segment's first header: blocks of the top segment lie in
    /// `[first, top)`.
    first: usize,
    /// How many 16-byte steps above `first` a block with room for its links
    /// may start in the top segment (from the top, see [`Walk::new`]).
    steps: usize,
    /// All segments (the others are searched when an address is not in the
    /// top segment).
    pub segs: &'a Segments,
}

impl<'a> Walk<'a> {
    /// A walk over a heap whose top segment's blocks lie in `[first, top)`.
    #[inline(always)]
    pub fn new(m: Mem, tag: usize, first: usize, top: usize, segs: &'a Segments) -> Self {
        let steps = top.wrapping_sub(first).saturating_sub(MIN_BLOCK - ALIGN) >> 4;
        Walk { m, tag, first, steps, segs }
    }

    /// Whether `x` can be the header address of a block with room for its
    /// links: ≡ 8 (mod 16), inside a segment's block area with at least a
    /// minimal block before its end. The top segment in one comparison:
    /// `first` is ≡ 8 (mod 16), so `x - first` of a block address is a
    /// multiple of 16, and rotating it right by 4 moves other low bits to
    /// the top.
    #[inline(always)]
    pub fn link_ok(&self, x: usize) -> bool {
        if self.in_top(x) {
            return true;
        }
        x % ALIGN == HDR && self.segs.limit_other(x).is_some_and(|end| end - x >= MIN_BLOCK)
    }

    /// Whether `x` is the header address of a block with room for its
    /// links in the top segment (the first test of
    /// [`link_ok`](Self::link_ok); false for 0).
    #[inline(always)]
    pub fn in_top(&self, x: usize) -> bool {
        x.wrapping_sub(self.first).rotate_right(4) < self.steps
    }

    /// Follows the link at `at` (block `h`'s word), checked.
    #[inline(always)]
    fn link(&self, h: usize, at: usize) -> Result<usize, Damage> {
        // SAFETY: `h` is a checked listed block; its links are its words.
        let x = unsafe { self.m.rd(at) };
        if x != 0 && !self.link_ok(x) {
            return Err((Corruption::Link, h));
        }
        Ok(x)
    }

    /// The size of listed block `h`, whose header must be a free block's
    /// of this heap.
    #[inline(always)]
    fn size(&self, h: usize) -> Result<usize, Damage> {
        // SAFETY: `h` is a head or a checked link: a block address.
        let hdr = unsafe { self.m.rd(h) };
        if hdr & (TAG_BITS | IN_USE | PREV_IN_USE) != self.tag | PREV_IN_USE {
            return Err((Corruption::FreeHeader, h));
        }
        Ok(hdr & SIZE)
    }

    /// The size bits of listed block `h` while a list is scanned for a
    /// fit: the block the scan chooses has its header, size and boundary
    /// tags checked before it is taken (`RawHeap::take_free`), so a scan
    /// only needs the links it follows to be checked.
    #[inline(always)]
    fn scan_size(&self, h: usize) -> usize {
        // SAFETY: `h` is a head or a checked link: a block address.
        unsafe { self.m.rd(h) & SIZE }
    }
}

/// The free lists and their bitmaps.
pub struct FreeLists {
    fl_map: u64,
    sl_map: [u32; FL],
    heads: [[usize; SL]; FL],
}

impl FreeLists {
    /// No free blocks.
    pub const fn new() -> Self {
        FreeLists { fl_map: 0, sl_map: [0; FL], heads: [[0; SL]; FL] }
    }

    /// Puts free block `h` of size `s` at the head of its list, after
    /// checking that the list's present head is a free block of the heap
    /// with tag `tag`, whose back link is about to be written (a head left
    /// stale by a forged back link may be a block in use: its payload is
    /// not written). Nothing changes on `Err`.
    ///
    /// # Safety
    /// `h` must be a free block of size `s` with room for its links; the
    /// heads must be block addresses of the heap.
    #[inline]
    pub unsafe fn insert(&mut self, m: Mem, tag: usize, h: usize, s: usize) -> Result<(), Damage> {
        let (fl, sl) = class_of(s);
        let head = self.heads[fl % FL][sl % SL];
        // SAFETY: `h` is a free block owned by the heap; `head` is a block
        // address of the heap, written to only once its header says free.
        unsafe {
            if head != 0 {
                if m.rd(head) & (TAG_BITS | IN_USE | PREV_IN_USE) != tag | PREV_IN_USE {
                    return Err((Corruption::FreeHeader, head));
                }
                m.wr(head + 16, h);
            }
            m.wr(h + 8, head);
            m.wr(h + 16, 0);
        }
        self.heads[fl % FL][sl % SL] = h;
        self.fl_map |= 1 << fl;
        self.sl_map[fl % FL] |= 1 << sl;
        Ok(())
    }

    /// Takes free block `h` of size `s` off its list, after checking that
    /// its links point to blocks that point back at it (and that a block
    /// with no previous one heads the list of its size): a block whose
    /// links were overwritten is reported, never followed.
    ///
    /// # Safety
    /// `h` must be a block address of the heap whose header was checked.
    #[inline(always)]
    pub unsafe fn remove(&mut self, w: &Walk<'_>, h: usize, s: usize) -> Result<(), Damage> {
        // SAFETY: `h` is a checked block: its links are its words. The
        // common case first: a block in the middle of its list with both
        // neighbours in the top segment (where `in_top` also refuses 0),
        // each of which must point back at `h` before it is written.
        unsafe {
            let (next, prev) = (w.m.rd(h + 8), w.m.rd(h + 16));
            if w.in_top(next) && w.in_top(prev) {
                if w.m.rd(next + 16) != h || w.m.rd(prev + 8) != h {
                    return Err((Corruption::Unlink, h));
                }
                w.m.wr(next + 16, prev);
                w.m.wr(prev + 8, next);
                return Ok(());
            }
        }
        let next = w.link(h, h + 8)?;
        let prev = w.link(h, h + 16)?;
        // SAFETY: `next` and `prev` passed the link check: block addresses
        // inside a segment, with room for their links.
        unsafe {
            if next != 0 && w.m.rd(next + 16) != h {
                return Err((Corruption::Unlink, h));
            }
            if prev != 0 {
                // A back link forged on a list's head (to a block whose
                // next word an attacker set to `h`) passes: `h` leaves as
                // if from the middle and its list still starts at it. That
                // stale head is refused when the list is next used: a
                // block inserted in front of it checks its header first
                // (`insert`), and one taken from it is checked whole (in
                // use, or merged into a free block around it, it fails a
                // header, footer or neighbour check; merged with the free
                // block after it, it is that block's head now and is
                // taken from there). Asking here whether `h` heads its
                // list costs a class computation on every unlink, 4% more
                // instructions where frees coalesce.
                if w.m.rd(prev + 8) != h {
                    return Err((Corruption::Unlink, h));
                }
                if next != 0 {
                    w.m.wr(next + 16, prev);
                }
                w.m.wr(prev + 8, next);
                return Ok(());
            }
        }
        // The list's head: its class is looked up only now.
        let (fl, sl) = class_of(s);
        if self.heads[fl % FL][sl % SL] != h {
            return Err((Corruption::Unlink, h));
        }
        if next != 0 {
            // SAFETY: as above.
            unsafe { w.m.wr(next + 16, 0) };
        }
        self.behead(fl, sl, next);
        Ok(())
    }

    /// Makes `next` (0: none) the head of list `(fl, sl)`, whose head just
    /// left it, clearing the bitmaps' bits when the list is now empty.
    #[inline(always)]
    fn behead(&mut self, fl: usize, sl: usize, next: usize) {
        self.heads[fl % FL][sl % SL] = next;
        if next == 0 {
            self.sl_map[fl % FL] &= !(1 << sl);
            if self.sl_map[fl % FL] == 0 {
                self.fl_map &= !(1 << fl);
            }
        }
    }

    /// The head of the list of exact class `b` (a block size below 512),
    /// or 0.
    #[inline(always)]
    pub fn exact_head(&self, b: usize) -> usize {
        debug_assert!(b < 512);
        self.heads[(b >> 8) % FL][(b >> 4) % SL]
    }

    /// Takes head `h` of the list of exact class `b` (below 512) off it if
    /// its links are those of a head: no block before it, and the next
    /// one (if any) a block address that points back at it. Returns
    /// whether it did; on `false` nothing changed, and the checked
    /// [`remove`](Self::remove) reports what is wrong.
    ///
    /// # Safety
    /// `h` must be that list's head, its header checked.
    #[inline(always)]
    pub unsafe fn pop_exact(&mut self, w: &Walk<'_>, h: usize, b: usize) -> bool {
        debug_assert!(b < 512);
        // SAFETY: `h` is a checked free block: its links are its words;
        // `next` is read from only after it passed the link check.
        let next = unsafe { w.m.rd(h + 8) };
        // SAFETY: as above.
        unsafe {
            if w.m.rd(h + 16) != 0 {
                return false;
            }
            if next != 0 {
                if !w.link_ok(next) || w.m.rd(next + 16) != h {
                    return false;
                }
                w.m.wr(next + 16, 0);
            }
        }
        self.behead(b >> 8, (b >> 4) % SL, next);
        true
    }

    /// A free block of at least `s` bytes from the first non-empty class
    /// that guarantees the fit, in O(1); `None` if there is none.
    #[inline]
    pub fn find(&self, w: &Walk<'_>, s: usize) -> Option<usize> {
        let (fl, sl) = class_up(s);
        let here = self.sl_map[fl % FL] & (!0u32 << sl);
        let (fl, sl) = if here != 0 {
            (fl, here.trailing_zeros() as usize)
        } else {
            let above = self.fl_map & (!0u64 << (fl + 1));
            if above == 0 {
                return None;
            }
            let fl = above.trailing_zeros() as usize;
            (fl, self.sl_map[fl % FL].trailing_zeros() as usize)
        };
        let h = self.heads[fl % FL][sl % SL];
        // Only the open-ended last class may hold a block too small.
        (w.scan_size(h) >= s).then_some(h)
    }

    /// The best fit for `s` (below [`FIT_BELOW`]) among the first
    /// [`FIT_SCAN`] blocks of the class of `s` itself (an exact size ends
    /// the scan), else a block from the
    /// first class above that guarantees the fit ([`find`](Self::find)).
    /// Taking a block of the request's own class when one fits, rather than
    /// splitting a bigger one, keeps big free blocks big. Every block
    /// looked at and every link followed is checked first.
    #[inline(always)]
    pub fn fit(&self, w: &Walk<'_>, s: usize) -> Result<Option<usize>, Damage> {
        if s < 512 {
            // An exact class: every block on the list is `s` bytes (which
            // `take_free` checks), so its head is the best fit.
            let h = self.exact_head(s);
            if h != 0 {
                return Ok(Some(h));
            }
            return Ok(self.find(w, s));
        }
        if s >= FIT_BELOW {
            return Ok(self.find(w, s));
        }
        let (fl, sl) = class_of(s);
        let mut h = self.heads[fl % FL][sl % SL];
        let (mut best, mut best_size) = (0, usize::MAX);
        for _ in 0..FIT_SCAN {
            if h == 0 {
                break;
            }
            let size = w.scan_size(h);
            if size >= s && size < best_size {
                (best, best_size) = (h, size);
                if size == s {
                    break;
                }
            }
            h = w.link(h, h + 8)?;
        }
        if best != 0 {
            return Ok(Some(best));
        }
        Ok(self.find(w, s))
    }

    /// First fit within the class of `s` itself: the slow path that makes
    /// every free block allocatable at its exact size.
    pub fn first_fit(&self, w: &Walk<'_>, s: usize) -> Result<Option<usize>, Damage> {
        let (fl, sl) = class_of(s);
        let mut h = self.heads[fl % FL][sl % SL];
        while h != 0 {
            if w.scan_size(h) >= s {
                return Ok(Some(h));
            }
            h = w.link(h, h + 8)?;
        }
        Ok(None)
    }

    /// The size of the largest free block (scans one list).
    pub fn largest(&self, w: &Walk<'_>) -> Result<usize, Damage> {
        if self.fl_map == 0 {
            return Ok(0);
        }
        let fl = 63 - self.fl_map.leading_zeros() as usize;
        let sl = 31 - self.sl_map[fl % FL].leading_zeros() as usize;
        let (mut h, mut best) = (self.heads[fl % FL][sl % SL], 0);
        while h != 0 {
            best = best.max(w.size(h)?);
            h = w.link(h, h + 8)?;
        }
        Ok(best)
    }

    /// Calls `f(h, size)` for every block of the lists of classes from
    /// `(fl, 0)` up, checking each block and link first.
    pub fn each_from(
        &self,
        w: &Walk<'_>,
        fl: usize,
        mut f: impl FnMut(usize, usize),
    ) -> Result<(), Damage> {
        for row in self.heads.iter().skip(fl) {
            for &head in row {
                let mut h = head;
                while h != 0 {
                    f(h, w.size(h)?);
                    h = w.link(h, h + 8)?;
                }
            }
        }
        Ok(())
    }

    /// The head of list `(fl, sl)`, for walks by `check` and `dump`.
    pub fn head(&self, fl: usize, sl: usize) -> usize {
        self.heads[fl % FL][sl % SL]
    }

    /// Whether the bitmaps say list `(fl, sl)` is non-empty.
    pub fn bit(&self, fl: usize, sl: usize) -> bool {
        self.sl_map[fl % FL] & (1 << sl) != 0 && self.fl_map & (1 << fl) != 0
    }

    /// Whether `fl_map` agrees with `sl_map` for row `fl`.
    pub fn row_consistent(&self, fl: usize) -> bool {
        (self.fl_map & (1 << fl) != 0) == (self.sl_map[fl % FL] != 0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn classes_are_monotonic_and_exact_below_512() {
        let mut last = (0, 0);
        for s in (32..1 << 20).step_by(16) {
            let c = class_of(s);
            assert!(c >= last, "class of {s} went down");
            last = c;
            let u = class_up(s);
            assert!(u >= c);
            if s < 512 {
                assert_eq!(u, c);
            }
        }
        assert_eq!(class_of(32), (0, 2));
        assert_eq!(class_of(256), (1, 0));
        assert_eq!(class_of(512), (2, 0));
        assert_eq!(class_of(544), (2, 1));
        assert_eq!(class_of(usize::MAX & !15), (FL - 1, SL - 1));
    }

    fn class_up_guarantees_fit() {
        // Every size in class_up(s) is >= s: the class's lower bound is.
        for s in (512..1 << 22).step_by(48) {
            let (fl, sl) = class_up(s);
            let f = fl as u32 + 7;
            let lower = (1usize << f) + (sl << (f - SL_BITS));
            assert!(lower >= s, "class_up({s}) starts at {lower}");
        }
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("heap::class::monotonic_exact", classes_are_monotonic_and_exact_below_512),
        ("heap::class::class_up_fits", class_up_guarantees_fit),
    ];
}
