//! The granule allocator: whole granules from one region, tracked by a
//! bitmap.
//!
//! Invariants (all under the lock):
//! - granule `i` covers `heap + (i << log2gran) .. heap + ((i + 1) << log2gran)`
//!   and `heap` is aligned to `1 << log2align`;
//! - bit `i` of the bitmap is set iff granule `i` is allocated; bits at
//!   `ngranules..` of the last word are ignored;
//! - bit `i` of the second bitmap (`starts`, the `nwords` words after the
//!   first) is set iff an allocation begins at granule `i`: an allocation
//!   is granules `i..j`, where `j` is the first granule after `i` that is
//!   free or begins another allocation. A free must name exactly one
//!   allocation (its start and its length): any other range is reported,
//!   and nothing changes (1 bit more per granule);
//! - `nfree` is the number of clear bits among the first `ngranules`;
//! - every bitmap word below `hint` is all ones (so searches start there).
//!
//! An allocation of `n` granules is the lowest run of `n` free granules whose
//! first granule index is a multiple of `step = 1 << (log2align - log2gran)`
//! (1 when the alignment is not larger than a granule), i.e. first fit. The
//! run may be any length up to the whole heap.
//!
//! Cost, with `W = ngranules / 64` bitmap words: `alloc` O(W) word steps
//! from the first non-full word (full words cost one comparison, mixed words
//! one step per run of free bits); `free` O(n / 64) for `n` granules; `info`
//! O(W) (it computes `mxfree`).

use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use super::bitmap::{self, words_for};
use super::GranError;
use crate::rt::valgrind;
use crate::sync::Lock;

/// Statistics of a granule allocator, as NuttX's `struct graninfo_s` (with
/// counts as `usize`: rawrt has no 65 535-granule limit).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct GranInfo {
    /// Log base 2 of the granule size.
    pub log2gran: u8,
    /// Granules in the heap.
    pub ngranules: usize,
    /// Free granules.
    pub nfree: usize,
    /// The longest run of free granules.
    pub mxfree: usize,
}

/// The state behind the lock.
pub(super) struct GranInner {
    /// Granule 0.
    pub(super) heap: *mut u8,
    pub(super) ngranules: usize,
    pub(super) nfree: usize,
    pub(super) log2gran: u8,
    pub(super) log2align: u8,
    /// Alignment in granules: allocations start at multiples of it.
    step: usize,
    pub(super) bitmap: NonNull<u64>,
    /// Words of each of the two bitmaps (the allocation bitmap, then the
    /// starts).
    nwords: usize,
    /// Every word below this index is all ones.
    hint: usize,
    /// A mapping this allocator owns and unmaps on drop (the page
    /// allocator's); null and 0 if none.
    pub(super) owned_map: (*mut u8, usize),
}

// SAFETY: the raw pointers refer to memory the allocator owns exclusively;
// all access goes through the lock.
unsafe impl Send for GranInner {}

impl GranInner {
    pub(super) const EMPTY: GranInner = GranInner {
        heap: core::ptr::null_mut(),
        ngranules: 0,
        nfree: 0,
        log2gran: 0,
        log2align: 0,
        step: 1,
        bitmap: NonNull::dangling(),
        nwords: 0,
        hint: 0,
        owned_map: (core::ptr::null_mut(), 0),
    };

    fn words(&self) -> &[u64] {
        // SAFETY: `bitmap` points to `nwords` words owned by this allocator
        // (dangling with `nwords == 0` when empty), and `&self` comes from
        // the lock.
        unsafe { core::slice::from_raw_parts(self.bitmap.as_ptr(), self.nwords) }
    }

    /// The allocation bitmap and the starts, to change.
    fn both_mut(&mut self) -> (&mut [u64], &mut [u64]) {
        let (p, n) = (self.bitmap.as_ptr(), self.nwords);
        // SAFETY: the storage holds `2 * nwords` words (the starts follow
        // the allocation bitmap), exclusively ours through `&mut self`
        // (dangling with `nwords == 0` when empty); the two halves are
        // disjoint. (Two slices rather than `split_at_mut`, whose panic on
        // a split past the end the compiler cannot rule out.)
        unsafe {
            (core::slice::from_raw_parts_mut(p, n), core::slice::from_raw_parts_mut(p.add(n), n))
        }
    }

    /// Number of granules covering `size` bytes, if representable.
    fn granules(&self, size: usize) -> Option<usize> {
        let mask = (1usize << self.log2gran) - 1;
        Some(size.checked_add(mask)? >> self.log2gran)
    }

    fn alloc(&mut self, size: usize) -> Result<NonNull<u8>, GranError> {
        if size == 0 {
            return Err(GranError::InvalidArgument);
        }
        let n = self.granules(size).ok_or(GranError::NoMemory)?;
        if n > self.nfree {
            return Err(GranError::NoMemory);
        }
        let (nbits, step) = (self.ngranules, self.step);
        let mut hint = self.hint;
        let words = self.words();
        while hint < words.len() && bitmap::word(words, hint) == u64::MAX {
            hint += 1;
        }
        let found = bitmap::find_clear_run(words, nbits, hint, n, step);
        self.hint = hint;
        let i = found.ok_or(GranError::NoMemory)?;
        let (words, starts) = self.both_mut();
        bitmap::set_range(words, i, n);
        bitmap::word_mut(starts, i / bitmap::WORD_BITS, |w| *w |= 1 << (i % bitmap::WORD_BITS));
        self.nfree -= n;
        // SAFETY: granule `i` lies inside the heap, which does not contain 0.
        let p = unsafe { NonNull::new_unchecked(self.heap.add(i << self.log2gran)) };
        valgrind::pool_alloc(self.pool(), p.as_ptr(), size);
        Ok(p)
    }

    /// The name of this allocator's pool for Valgrind (`rt::valgrind`):
    /// granule 0's address, which no move of the allocator changes.
    pub(super) fn pool(&self) -> usize {
        self.heap.addr()
    }

    /// The granules' memory: granule 0 and the bytes they span.
    fn area(&self) -> (*mut u8, usize) {
        (self.heap, self.ngranules << self.log2gran)
    }

    /// The granule range `(first, count)` of a free request, validated.
    fn range_of(&self, ptr: *mut u8, size: usize) -> Result<(usize, usize), GranError> {
        if size == 0 {
            return Err(GranError::InvalidArgument);
        }
        let (addr, heap) = (ptr as usize, self.heap as usize);
        let end = heap + (self.ngranules << self.log2gran);
        if addr < heap || addr >= end {
            return Err(GranError::OutOfRange);
        }
        let off = addr - heap;
        if off & ((1usize << self.log2gran) - 1) != 0 {
            return Err(GranError::Misaligned);
        }
        let first = off >> self.log2gran;
        let n = self.granules(size).ok_or(GranError::OutOfRange)?;
        if n > self.ngranules - first {
            return Err(GranError::OutOfRange);
        }
        Ok((first, n))
    }

    fn free(&mut self, ptr: *mut u8, size: usize) -> Result<(), GranError> {
        let (first, n) = self.range_of(ptr, size)?;
        let ngranules = self.ngranules;
        let (words, starts) = self.both_mut();
        let bit = |w: &[u64], i: usize| {
            bitmap::word(w, i / bitmap::WORD_BITS) >> (i % bitmap::WORD_BITS) & 1
        };
        if bit(starts, first) == 0 {
            return Err(if bit(words, first) != 0 {
                GranError::NotAStart
            } else {
                GranError::NotAllocated
            });
        }
        if bitmap::allocation_len(words, starts, ngranules, first) != n {
            return Err(GranError::WrongSize);
        }
        bitmap::clear_range(words, first, n);
        let start_bit = !(1 << (first % bitmap::WORD_BITS));
        bitmap::word_mut(starts, first / bitmap::WORD_BITS, |w| *w &= start_bit);
        self.nfree += n;
        self.hint = self.hint.min(first / bitmap::WORD_BITS);
        valgrind::pool_free(self.pool(), ptr);
        Ok(())
    }

    fn info(&self) -> GranInfo {
        GranInfo {
            log2gran: self.log2gran,
            ngranules: self.ngranules,
            nfree: self.nfree,
            mxfree: bitmap::largest_clear_run(self.words(), self.ngranules),
        }
    }
}

/// The geometry of a granule heap: where granule 0 is and how many there
/// are.
#[derive(Clone, Copy)]
struct Geometry {
    heap: usize,
    ngranules: usize,
}

/// Checks the exponents; returns the alignment of the heap start in bytes.
fn check_exponents(log2gran: u8, log2align: u8) -> Result<usize, GranError> {
    let limit = usize::BITS as u8 - 2;
    if log2gran > limit || log2align > limit {
        return Err(GranError::InvalidArgument);
    }
    Ok(1usize << log2align)
}

/// Rounds `v` up to `a` (a power of two), if representable.
fn round_up(v: usize, a: usize) -> Option<usize> {
    Some(v.checked_add(a - 1)? & !(a - 1))
}

/// The heap when the granules start at the first aligned address at or
/// after `from` and end before `end`, limited to `max` granules.
fn geometry(from: usize, end: usize, log2gran: u8, align: usize, max: usize) -> Option<Geometry> {
    let heap = round_up(from, align)?;
    if heap >= end {
        return None;
    }
    let ngranules = ((end - heap) >> log2gran).min(max);
    (ngranules > 0).then_some(Geometry { heap, ngranules })
}

/// The geometry when the two bitmaps are placed at `bm_at` (8-aligned) and
/// the heap after them, all before `end`: sized with a first over-estimate
/// of the bitmaps and refined once, so each wastes at most one word.
fn geometry_after_bitmap(bm_at: usize, end: usize, log2gran: u8, align: usize) -> Option<Geometry> {
    let estimate = words_for((end - bm_at) >> log2gran);
    let first = geometry(bm_at.checked_add(estimate * 16)?, end, log2gran, align, usize::MAX)?;
    let words = words_for(first.ngranules);
    geometry(bm_at + words * 16, end, log2gran, align, words * bitmap::WORD_BITS)
}

/// A granule allocator (NuttX's `GRAN_HANDLE`).
///
/// All methods take `&self`; a [`Lock`] serialises them.
pub struct Gran {
    pub(super) inner: Lock<GranInner>,
}

/// Under Valgrind, the granules go back to their owner (see
/// `rt::valgrind::destroy_pool`); nothing otherwise (a `Gran` owns no
/// resource).
impl Drop for Gran {
    fn drop(&mut self) {
        let g = self.inner.get_mut();
        if g.ngranules != 0 {
            let (area, len) = g.area();
            valgrind::destroy_pool(g.pool(), area, len);
        }
    }
}

impl Gran {
    /// An allocator with no granules (every allocation fails); used by the
    /// page allocator before it is mapped.
    pub(super) const fn empty() -> Gran {
        Gran { inner: Lock::new(GranInner::EMPTY) }
    }

    /// Builds the state for a heap at `geo` with its two bitmaps at
    /// `bitmap` (`nwords` words each, the starts after the allocation
    /// bitmap, zeroed here); `region` is any pointer into the heap's region
    /// (its provenance is used for the granules).
    ///
    /// # Safety
    /// `bitmap` must be valid for `2 * nwords` words and not overlap the
    /// heap; both are owned by the allocator from now on.
    unsafe fn build(
        region: *mut u8,
        geo: Geometry,
        log2gran: u8,
        log2align: u8,
        bitmap: *mut u64,
        nwords: usize,
    ) -> GranInner {
        debug_assert!(nwords >= words_for(geo.ngranules));
        // SAFETY: the caller hands over `2 * nwords` words at `bitmap`.
        unsafe { core::ptr::write_bytes(bitmap, 0, 2 * nwords) };
        let step = if log2align > log2gran { 1usize << (log2align - log2gran) } else { 1 };
        // Under Valgrind the granules are a pool, inaccessible until handed
        // out (see `rt::valgrind`); ended when the allocator is dropped.
        valgrind::create_pool(geo.heap, region.with_addr(geo.heap), geo.ngranules << log2gran);
        GranInner {
            heap: region.with_addr(geo.heap),
            ngranules: geo.ngranules,
            nfree: geo.ngranules,
            log2gran,
            log2align,
            step,
            // SAFETY: the caller passes a valid, hence non-null, pointer.
            bitmap: unsafe { NonNull::new_unchecked(bitmap) },
            nwords,
            hint: 0,
            owned_map: (core::ptr::null_mut(), 0),
        }
    }

    /// NuttX's `gran_initialize`: a granule allocator for the `heapsize`
    /// bytes at `heapstart`, with granules of `1 << log2gran` bytes and
    /// allocations aligned to `1 << log2align` bytes.
    ///
    /// The bitmaps (two bits per granule: allocated, and allocation start)
    /// are placed at the start of the region; the granules follow them,
    /// from the first address aligned to
    /// `1 << log2align`, so the region yields slightly fewer granules than
    /// `heapsize >> log2gran`. Use [`Gran::with_bitmap`] to keep the bitmap
    /// elsewhere.
    ///
    /// Unlike NuttX, `log2align` may exceed `log2gran`: allocations then
    /// start only at granules whose address is a multiple of the alignment.
    ///
    /// Errors: [`GranError::InvalidArgument`] for a null start, exponents
    /// of `usize::BITS - 1` or more, or a region too small for one granule.
    ///
    /// # Safety
    /// The region must be valid for reads and writes, and used by nothing
    /// else while the allocator (or memory it handed out) is in use.
    pub unsafe fn new(
        heapstart: *mut u8,
        heapsize: usize,
        log2gran: u8,
        log2align: u8,
    ) -> Result<Gran, GranError> {
        let align = check_exponents(log2gran, log2align)?;
        let (start, end) = region_bounds(heapstart, heapsize)?;
        let bm_at = round_up(start, align_of::<u64>()).ok_or(GranError::InvalidArgument)?;
        if bm_at >= end {
            return Err(GranError::InvalidArgument);
        }
        let geo =
            geometry_after_bitmap(bm_at, end, log2gran, align).ok_or(GranError::InvalidArgument)?;
        let nwords = words_for(geo.ngranules);
        // SAFETY: the bitmaps occupy `bm_at..bm_at + 16 * nwords`, inside
        // the caller's region and below `geo.heap`.
        let inner = unsafe {
            Gran::build(
                heapstart,
                geo,
                log2gran,
                log2align,
                heapstart.with_addr(bm_at).cast(),
                nwords,
            )
        };
        Ok(Gran { inner: Lock::new(inner) })
    }

    /// Like [`Gran::new`], but the bitmaps live in `bitmap_words` words at
    /// `bitmap`, supplied by the caller (two bits per granule), and the
    /// whole region (from its first aligned address) holds granules.
    /// [`Gran::bitmap_words`] gives a sufficient size.
    ///
    /// Errors: as [`Gran::new`], and [`GranError::InvalidArgument`] if the
    /// bitmap is null or too small.
    ///
    /// # Safety
    /// As for [`Gran::new`]; in addition `bitmap` must be valid for
    /// `bitmap_words` words, not overlap the region, and be owned by the
    /// allocator for its lifetime.
    pub unsafe fn with_bitmap(
        heapstart: *mut u8,
        heapsize: usize,
        log2gran: u8,
        log2align: u8,
        bitmap: *mut u64,
        bitmap_words: usize,
    ) -> Result<Gran, GranError> {
        let align = check_exponents(log2gran, log2align)?;
        let (start, end) = region_bounds(heapstart, heapsize)?;
        if bitmap.is_null() || !bitmap.is_aligned() {
            return Err(GranError::InvalidArgument);
        }
        let geo =
            geometry(start, end, log2gran, align, usize::MAX).ok_or(GranError::InvalidArgument)?;
        let nwords = words_for(geo.ngranules);
        if bitmap_words / 2 < nwords {
            return Err(GranError::InvalidArgument);
        }
        // SAFETY: the caller hands over the bitmap storage.
        let inner = unsafe { Gran::build(heapstart, geo, log2gran, log2align, bitmap, nwords) };
        Ok(Gran { inner: Lock::new(inner) })
    }

    /// Places the allocator itself, then its bitmap, at the start of the
    /// region and returns a pointer to it: a handle for C's
    /// `gran_initialize` that needs no other memory. The handle stays valid
    /// as long as the region; a `Gran` owns no other resource, so nothing
    /// needs to be released (dropping it in place is a no-op).
    ///
    /// # Safety
    /// As for [`Gran::new`].
    pub unsafe fn new_in_place(
        heapstart: *mut u8,
        heapsize: usize,
        log2gran: u8,
        log2align: u8,
    ) -> Result<NonNull<Gran>, GranError> {
        check_exponents(log2gran, log2align)?;
        let (start, end) = region_bounds(heapstart, heapsize)?;
        let at = round_up(start, align_of::<Gran>()).ok_or(GranError::InvalidArgument)?;
        let after = at.checked_add(size_of::<Gran>()).ok_or(GranError::InvalidArgument)?;
        if after >= end {
            return Err(GranError::InvalidArgument);
        }
        // SAFETY: `after..end` is the tail of the caller's region.
        let gran =
            unsafe { Gran::new(heapstart.with_addr(after), end - after, log2gran, log2align)? };
        let slot = heapstart.with_addr(at).cast::<Gran>();
        // SAFETY: `at..after` lies in the region, is aligned for `Gran`
        // and disjoint from the bitmap and granules, which start at `after`.
        unsafe { slot.write(gran) };
        // SAFETY: `slot` is inside a region that does not contain 0.
        Ok(unsafe { NonNull::new_unchecked(slot) })
    }

    /// A number of bitmap words sufficient for a region of `heapsize`
    /// bytes with granules of `1 << log2gran` bytes (for
    /// [`Gran::with_bitmap`]): two bits per granule.
    pub const fn bitmap_words(heapsize: usize, log2gran: u8) -> usize {
        2 * words_for(heapsize >> log2gran)
    }

    /// NuttX's `gran_alloc`: at least `size` bytes as whole granules,
    /// aligned to `1 << log2align`. Any number of granules, up to the whole
    /// heap.
    ///
    /// Errors: [`GranError::InvalidArgument`] for `size == 0`,
    /// [`GranError::NoMemory`] if no suitable run of free granules exists.
    pub fn alloc(&self, size: usize) -> Result<NonNull<u8>, GranError> {
        self.inner.lock().alloc(size)
    }

    /// NuttX's `gran_free`: returns the allocation at `ptr`, whose size
    /// `size` was asked for (any size that covers the same number of
    /// granules). Anything else changes nothing and the error says why:
    /// [`GranError::OutOfRange`], [`GranError::Misaligned`],
    /// [`GranError::NotAllocated`] (not allocated: a double free),
    /// [`GranError::NotAStart`] (inside an allocation),
    /// [`GranError::WrongSize`] (more or fewer granules than the
    /// allocation: freeing a neighbour's, or part of one), or
    /// [`GranError::InvalidArgument`] for `size == 0`.
    ///
    /// # Safety
    /// Nothing may use the freed memory afterwards.
    pub unsafe fn free(&self, ptr: *mut u8, size: usize) -> Result<(), GranError> {
        self.inner.lock().free(ptr, size)
    }

    /// [`free`](Self::free) for interfaces that cannot return an error
    /// (NuttX's `gran_free`): a bad range is reported on stderr as
    /// `rawrt: FUNC(): what of 0x...` and aborts.
    ///
    /// # Safety
    /// As for `free`.
    pub unsafe fn free_or_abort(&self, ptr: *mut u8, size: usize, func: &'static str) {
        // SAFETY: forwarded contract; bad ranges are detected.
        if let Err(e) = unsafe { self.free(ptr, size) } {
            crate::rt::fatal(func, e.message(), ptr as usize)
        }
    }

    /// NuttX's `gran_info`: granule size, count, free count and the
    /// longest free run (a word-at-a-time pass over the bitmap).
    pub fn info(&self) -> GranInfo {
        self.inner.lock().info()
    }

    /// The granule size in bytes.
    pub fn granule_size(&self) -> usize {
        1 << self.inner.lock().log2gran
    }

    /// The alignment of every allocation in bytes.
    pub fn alignment(&self) -> usize {
        1 << self.inner.lock().log2align
    }

    /// The address of granule 0 and the heap size in bytes (granules
    /// times granule size).
    pub fn heap(&self) -> (*mut u8, usize) {
        let g = self.inner.lock();
        (g.heap, g.ngranules << g.log2gran)
    }
}

/// Start and end of a region, or `InvalidArgument` for a null start or an
/// overflowing end.
fn region_bounds(start: *mut u8, size: usize) -> Result<(usize, usize), GranError> {
    if start.is_null() {
        return Err(GranError::InvalidArgument);
    }
    let start = start as usize;
    let end = start.checked_add(size).ok_or(GranError::InvalidArgument)?;
    Ok((start, end))
}
