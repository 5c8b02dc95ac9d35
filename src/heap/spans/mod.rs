//! The small heap: size-class spans, for programs that want the smallest
//! binary (issue 15: a C program of `malloc`, `memcpy`, `write` and `free`
//! within 12 KiB): they link the library built with the feature
//! `small-heap` (see the README), which puts it behind `malloc` and Rust's
//! global allocator.
//!
//! Memory comes from a [`Source`] in spans of [`SPAN`] bytes, aligned to
//! their size. A span serves one size class ([`class_of`]): a header,
//! then blocks of the class's size, handed out first from the span's free
//! list and then by bumping. A block has no header of its own: `free`
//! finds its span by masking the address. Requests above [`SMALL_MAX`]
//! bytes, and alignments above 16, get a mapping of their own
//! (`Source::map`) with a header before the block.
//!
//! ```text
//! span s (SPAN-aligned): | header (64 B) | block | block | ... | bump -> never used |
//! header words: MAGIC = s ^ key   SIZE   HEAD (mangled)   BUMP   USED   PREV   NEXT   FLAGS
//! a free block at p:  p+0 the next free block, mangled   p+8 the key p ^ key
//! a mapped block p:   p-24 p ^ key ^ LARGE   p-16 the mapping's length   p-8 its base
//! ```
//!
//! As in the other cores nothing is trusted before it is checked: `free`
//! takes a block only if it lies in one of the heap's segments, in a span
//! whose header bears the secret, at a block boundary below the bump, and
//! without the key of a free block (a second `free` is reported as a
//! double free); a free list's link, decoded with the secret, must name a
//! block of its own span before `malloc` follows it. Misuse comes back as
//! a [`HeapError`], and so does damage (`Corrupted`, where it was found:
//! [`SpanHeap::damage`]); the process's small heap reports either on
//! stderr and aborts.
//!
//! A class keeps its current span and a list of spans with free blocks; a
//! span whose last block is freed goes to a pool of empty spans that any
//! class takes from, beyond [`KEEP_EMPTY`] of which their pages are given
//! back to the kernel (`Source::purge`).
//!
//! Here: the spans and the allocation paths. `class.rs`: the size
//! classes; `mapped.rs`: the mapped blocks; `check.rs`: the figures and the
//! integrity check; `process.rs`: the process's small heap (the C ABI's and
//! Rust's global allocator with the feature).

mod check;
mod class;
mod mapped;
mod process;
#[cfg(test)]
pub(crate) mod tests;

pub use class::{class_of, size_of_class, CLASSES, SMALL_MAX};
pub use process::SmallProcessHeap;

use super::block::Mem;
use super::error::{Corruption, HeapError};
use super::secret;
use super::source::{Source, Span};
use core::ptr::NonNull;

/// Bytes per span (and their alignment).
pub const SPAN: usize = 64 << 10;
/// The span header's size: blocks start this far into a span.
const HDR: usize = 64;
/// Empty spans kept with their pages; more are purged.
pub const KEEP_EMPTY: usize = 16;
/// Segments (disjoint runs of spans) a heap holds at most.
const SEGMENTS: usize = 16;
/// Distinguishes a mapped block's check word from a span's.
const LARGE: usize = 0x4c41_5247_454d_4150;

// Span header words (byte offsets).
const MAGIC: usize = 0;
const SIZE: usize = 8;
const HEAD: usize = 16;
const BUMP: usize = 24;
const USED: usize = 32;
const PREV: usize = 40;
const NEXT: usize = 48;
const FLAGS: usize = 56;
/// FLAGS: the span's class, whether it is on its class's list, and (from
/// bit 32) the reciprocal of its block size, `2^32 / size + 1`, which
/// divides an offset within the span exactly (offsets are below `2^16`).
const CLASS_MASK: usize = 0xff;
const LISTED: usize = 0x100;
const RECIP_SHIFT: u32 = 32;

/// What the heap holds: blocks and bytes in use, and the memory it took.
/// (Counted when asked for, from the spans' headers: `malloc` and `free`
/// keep no totals, so there is no peak.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpanStats {
    /// Blocks in use.
    pub blocks: usize,
    /// Bytes in use (block sizes, mapped blocks' usable bytes).
    pub used: usize,
    /// Spans taken from the source.
    pub spans: usize,
    /// Empty spans held for reuse.
    pub empty: usize,
    /// Bytes of mapped blocks' mappings.
    pub mapped: usize,
}

/// A class's spans: the one it allocates from, and those with free
/// blocks (a list through their headers' PREV / NEXT).
#[derive(Clone, Copy)]
struct Class {
    cur: usize,
    partial: usize,
}

/// The small heap's core over a [`Source`]: `&mut self`, no lock.
pub struct SpanHeap<S: Source> {
    src: S,
    mem: Mem,
    classes: [Class; CLASSES],
    /// Disjoint runs of spans: `(first span, end)`.
    segs: [(usize, usize); SEGMENTS],
    n_segs: usize,
    /// The free tail of the last segment (never used spans).
    fresh: (usize, usize),
    /// The source's last span, as the source sees it (extended in place;
    /// empty: none yet). Not an `Option`, whose `None` would put the heap
    /// in `.data` rather than `.bss`.
    top: Span,
    /// Empty spans (a list through NEXT), how many, and how many of them
    /// still have their pages.
    empty: usize,
    /// Empty spans whose pages were not given back.
    dirty: usize,
    /// Where the last damage was found (a span's header).
    damage: usize,
    st: SpanStats,
}

impl<S: Source> SpanHeap<S> {
    /// An empty heap over `src` (which it asks for memory at the first
    /// allocation).
    pub const fn new(src: S) -> Self {
        SpanHeap {
            src,
            mem: Mem::new(core::ptr::null_mut()),
            classes: [Class { cur: 0, partial: 0 }; CLASSES],
            segs: [(0, 0); SEGMENTS],
            n_segs: 0,
            fresh: (0, 0),
            top: Span { base: 0, len: 0, kind: 0, zeroed: false },
            empty: 0,
            dirty: 0,
            damage: 0,
            st: SpanStats { blocks: 0, used: 0, spans: 0, empty: 0, mapped: 0 },
        }
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// The source, to change.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.src
    }

    #[inline(always)]
    fn rd(&self, a: usize) -> usize {
        // SAFETY: callers pass addresses of span headers or blocks the
        // heap owns (checked before any read of a pointer handed in).
        unsafe { self.mem.rd(a) }
    }

    #[inline(always)]
    fn wr(&self, a: usize, v: usize) {
        // SAFETY: as for `rd`.
        unsafe { self.mem.wr(a, v) }
    }

    /// Class `c`'s spans. Every class index is below [`CLASSES`]: made by
    /// [`class_of`], or read from a span header and checked (`free`).
    #[inline(always)]
    fn cls(&mut self, c: usize) -> &mut Class {
        debug_assert!(c < CLASSES);
        // SAFETY: `c < CLASSES` (above); unchecked so that no panic path
        // is linked into `malloc`.
        unsafe { self.classes.get_unchecked_mut(c) }
    }

    /// The span that would hold address `p`, if `p` lies in a segment.
    #[inline(always)]
    fn span_of(&self, p: usize) -> Option<usize> {
        let segs = &self.segs[..self.n_segs.min(SEGMENTS)];
        let inside = |&(lo, hi): &(usize, usize)| p.wrapping_sub(lo) < hi - lo;
        // Most programs have one segment: it is tested first, unrolled.
        let first = segs.first().is_some_and(inside);
        (first || segs.iter().skip(1).any(inside)).then_some(p & !(SPAN - 1))
    }

    /// `n` bytes aligned to 16: `OutOfMemory` when the source has no more
    /// memory, `Corrupted` when the span's free list was overwritten. A
    /// request above [`SMALL_MAX`] is mapped.
    #[inline]
    fn alloc_at(&mut self, n: usize) -> Result<usize, HeapError> {
        if n > SMALL_MAX {
            return self.alloc_mapped(n, 16).ok_or(HeapError::OutOfMemory);
        }
        let (c, size) = class_of(n);
        let mut s = self.cls(c).cur;
        loop {
            if s != 0 {
                let lm = secret::link_mask();
                let head = self.rd(s + HEAD) ^ lm;
                if head != 0 {
                    // The link out of the block taken is checked before it
                    // heads the list: none, or a block of this span below
                    // the bump (a write after free or a forged link decodes
                    // elsewhere). The head itself was checked so, or freed.
                    let next = self.rd(head) ^ (head >> 12) ^ lm;
                    let bump = self.rd(s + BUMP);
                    if next != 0 && next.wrapping_sub(s + HDR) >= bump - HDR {
                        self.damage = head;
                        return Err(HeapError::Corrupted(Corruption::Link));
                    }
                    self.wr(s + HEAD, next ^ lm);
                    self.wr(head + 8, 0);
                    return Ok(self.taken(s, head));
                }
                let b = self.rd(s + BUMP);
                if b + size <= SPAN {
                    self.wr(s + BUMP, b + size);
                    // A span used before by another class may hold an old
                    // key where this block's would be.
                    self.wr(s + b + 8, 0);
                    return Ok(self.taken(s, s + b));
                }
            }
            s = self.refill(c, size)?;
        }
    }

    /// Counts block `p` of span `s`, `size` bytes, as handed out.
    #[inline(always)]
    fn taken(&mut self, s: usize, p: usize) -> usize {
        self.wr(s + USED, self.rd(s + USED) + 1);
        p
    }

    /// Class `c`'s current span is full: it takes one of its spans with
    /// free blocks, an empty span or a new one.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, c: usize, size: usize) -> Result<usize, HeapError> {
        let s = match self.cls(c).partial {
            0 => self.new_span(c, size).ok_or(HeapError::OutOfMemory)?,
            s => {
                self.unlist(c, s)?;
                s
            }
        };
        self.cls(c).cur = s;
        Ok(s)
    }

    /// A span for class `c`: an empty one, or one from the source.
    fn new_span(&mut self, c: usize, size: usize) -> Option<usize> {
        let s = if self.empty != 0 {
            let s = self.empty;
            self.empty = self.rd(s + NEXT);
            self.st.empty -= 1;
            if self.rd(s + SIZE) == 0 {
                self.dirty -= 1;
            }
            s
        } else {
            if self.fresh.0 == self.fresh.1 {
                self.grow()?;
            }
            let s = self.fresh.0;
            self.fresh.0 += SPAN;
            self.st.spans += 1;
            s
        };
        self.wr(s + MAGIC, s ^ secret::key_mask());
        self.wr(s + SIZE, size);
        self.wr(s + HEAD, secret::link_mask());
        self.wr(s + BUMP, HDR);
        self.wr(s + USED, 0);
        self.wr(s + PREV, 0);
        self.wr(s + NEXT, 0);
        self.wr(s + FLAGS, c | recip(size));
        Some(s)
    }

    /// More spans from the source: extends the last segment if the source
    /// extends its memory in place, else starts a segment.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> Option<()> {
        secret::init();
        let last = (self.top.len > 0).then_some(self.top);
        let got = self.src.grow(last, 4 * SPAN)?;
        self.mem = Mem::new(self.src.root());
        let t = self.top;
        let extends = t.len > 0 && t.end() == got.base && t.kind == got.kind;
        let top = if extends { Span { len: t.len + got.len, ..t } } else { got };
        self.top = top;
        let hi = top.end() & !(SPAN - 1);
        let n = self.n_segs;
        match self.segs.get_mut(n.wrapping_sub(1)) {
            Some(seg) if extends => {
                if seg.1 >= hi {
                    return None;
                }
                self.fresh = (seg.1, hi);
                seg.1 = hi;
            }
            _ => {
                let lo = (got.base + SPAN - 1) & !(SPAN - 1);
                let seg = self.segs.get_mut(n)?;
                if lo >= hi {
                    return None;
                }
                *seg = (lo, hi);
                self.n_segs += 1;
                self.fresh = (lo, hi);
            }
        }
        Some(())
    }

    /// Frees block `p`. Misuse (not a block of this heap, a double free)
    /// changes nothing and comes back as the error.
    fn free_at(&mut self, p: usize) -> Result<(), HeapError> {
        let Some(s) = self.span_of(p) else { return self.free_mapped(p) };
        let (flags, _) = self.checked(s, p)?;
        let (km, lm) = (secret::key_mask(), secret::link_mask());
        let key = p ^ km;
        if self.rd(p + 8) == key {
            return Err(HeapError::DoubleFree);
        }
        let head = self.rd(s + HEAD) ^ lm;
        self.wr(p, head ^ (p >> 12) ^ lm);
        self.wr(p + 8, key);
        self.wr(s + HEAD, p ^ lm);
        let used = self.rd(s + USED) - 1;
        self.wr(s + USED, used);
        let c = flags & CLASS_MASK;
        if self.cls(c).cur != s {
            if used == 0 {
                self.retire(c, s, flags)?;
            } else if flags & LISTED == 0 {
                self.list(c, s);
            }
        }
        Ok(())
    }

    /// The flags and block size of span `s`, if `p` is a block there by
    /// the span's header: a span of this heap (its magic), of a class, `p`
    /// at a block boundary (by the size's reciprocal: no division) below
    /// the bump.
    #[inline(always)]
    fn checked(&mut self, s: usize, p: usize) -> Result<(usize, usize), HeapError> {
        if self.rd(s + MAGIC) != s ^ secret::key_mask() {
            return Err(HeapError::InvalidPointer);
        }
        let flags = self.rd(s + FLAGS);
        let c = flags & CLASS_MASK;
        if c == 0 || c >= CLASSES {
            self.damage = s;
            return Err(HeapError::Corrupted(Corruption::FreeHeader));
        }
        let (size, off) = (self.rd(s + SIZE), (p - s).wrapping_sub(HDR));
        if off >= self.rd(s + BUMP) - HDR {
            return Err(HeapError::InvalidPointer);
        }
        // `off < SPAN`: the product fits, and the quotient is exact.
        let q = (off as u64).wrapping_mul((flags >> RECIP_SHIFT) as u64) >> 32;
        if (q as usize).wrapping_mul(size) != off {
            return Err(HeapError::InvalidPointer);
        }
        Ok((flags, size))
    }

    /// Puts span `s` on class `c`'s list of spans with free blocks.
    fn list(&mut self, c: usize, s: usize) {
        let first = self.cls(c).partial;
        self.wr(s + PREV, 0);
        self.wr(s + NEXT, first);
        self.wr(s + FLAGS, self.rd(s + FLAGS) | LISTED);
        if first != 0 {
            self.wr(first + PREV, s);
        }
        self.cls(c).partial = s;
    }

    /// Takes span `s` off class `c`'s list, after checking that its
    /// neighbours there are listed spans of the class.
    fn unlist(&mut self, c: usize, s: usize) -> Result<(), HeapError> {
        let (prev, next) = (self.rd(s + PREV), self.rd(s + NEXT));
        for l in [prev, next] {
            if l != 0
                && (self.span_of(l) != Some(l)
                    || self.rd(l + FLAGS) & (CLASS_MASK | LISTED) != c | LISTED)
            {
                self.damage = s;
                return Err(HeapError::Corrupted(Corruption::Unlink));
            }
        }
        if prev == 0 {
            self.cls(c).partial = next;
        } else {
            self.wr(prev + NEXT, next);
        }
        if next != 0 {
            self.wr(next + PREV, prev);
        }
        self.wr(s + FLAGS, self.rd(s + FLAGS) & !LISTED);
        Ok(())
    }

    /// Span `s` of class `c` (not its current one), with `flags`, holds no
    /// block: it leaves the class for the pool of empty spans, its pages
    /// given back beyond [`KEEP_EMPTY`] such spans.
    #[cold]
    fn retire(&mut self, c: usize, s: usize, flags: usize) -> Result<(), HeapError> {
        if flags & LISTED != 0 {
            self.unlist(c, s)?;
        }
        self.wr(s + MAGIC, 0);
        // SIZE, unused while the span is empty, says whether its pages
        // went back.
        if self.dirty < KEEP_EMPTY {
            self.dirty += 1;
            self.wr(s + SIZE, 0);
        } else {
            self.purge(s);
        }
        self.wr(s + NEXT, self.empty);
        self.empty = s;
        self.st.empty += 1;
        Ok(())
    }

    /// Gives back the pages of empty span `s` but its header's.
    fn purge(&mut self, s: usize) {
        let page = self.src.page_size();
        if page < SPAN {
            // SAFETY: the span holds no block; its header's page stays.
            unsafe { self.src.purge(s + page, SPAN - page) };
        }
        self.wr(s + SIZE, 1);
    }

    /// Gives back the pages of every empty span (C's `malloc_trim`):
    /// whether any still had them.
    pub fn trim(&mut self) -> bool {
        let (mut s, had) = (self.empty, self.dirty > 0);
        while s != 0 {
            if self.rd(s + SIZE) == 0 {
                self.purge(s);
            }
            s = self.rd(s + NEXT);
        }
        self.dirty = 0;
        had
    }

    /// Where the damage last reported as `Corrupted` was found.
    pub fn damage(&self) -> usize {
        self.damage
    }

    /// The bytes usable in block `p`.
    fn usable_at(&mut self, p: usize) -> Result<usize, HeapError> {
        match self.span_of(p) {
            Some(s) => {
                let (_, size) = self.checked(s, p)?;
                if self.rd(p + 8) == p ^ secret::key_mask() {
                    return Err(HeapError::DoubleFree);
                }
                Ok(size)
            }
            None => self.mapping(p).map(|(base, len)| len - (p - base)),
        }
    }

    /// `n` zeroed bytes (see [`alloc`](Self::alloc)).
    fn alloc_zeroed_at(&mut self, n: usize) -> Result<usize, HeapError> {
        let p = self.alloc_at(n)?;
        if self.span_of(p).is_some() {
            // SAFETY: the block holds `n` bytes.
            unsafe { self.mem.ptr::<u8>(p).write_bytes(0, n) };
        }
        // (A mapping is fresh from the kernel, hence zero.)
        Ok(p)
    }

    /// `n` bytes aligned to `align` (a power of two): up to 16 from a
    /// span, above that in a mapping of their own (`OutOfMemory` where
    /// the source cannot map).
    fn alloc_aligned_at(&mut self, n: usize, align: usize) -> Result<usize, HeapError> {
        if align <= 16 {
            return self.alloc_at(n);
        }
        self.alloc_mapped(n, align).ok_or(HeapError::OutOfMemory)
    }

    /// Resizes block `p` to `n` bytes: where it is if the block holds `n`
    /// bytes and no more than twice them, or a mapped block's pages moved
    /// by the kernel; else a new block with the contents copied and `p`
    /// freed. On failure `p` is left as it was.
    fn realloc_at(&mut self, p: usize, n: usize) -> Result<usize, HeapError> {
        let have = self.usable_at(p)?;
        if n <= have && n > have / 2 {
            return Ok(p);
        }
        if n > SMALL_MAX && self.span_of(p).is_none() {
            if let Some(q) = self.remap(p, n)? {
                return Ok(q);
            }
        }
        let q = self.alloc_at(n)?;
        // SAFETY: both blocks are live and distinct; `p` holds `have`
        // bytes and `q` at least `n`.
        unsafe {
            core::ptr::copy_nonoverlapping(self.mem.ptr::<u8>(p), self.mem.ptr(q), have.min(n))
        };
        self.free_at(p)?;
        Ok(q)
    }

    /// [`realloc`](Self::realloc) to `n` bytes aligned to `align` (above
    /// 16): the block itself if it holds `n` bytes at that alignment, else
    /// a new mapped block with the contents copied and `p` freed.
    fn realloc_aligned_at(&mut self, p: usize, n: usize, align: usize) -> Result<usize, HeapError> {
        let have = self.usable_at(p)?;
        if n <= have && p % align == 0 {
            return Ok(p);
        }
        let q = self.alloc_aligned_at(n, align)?;
        // SAFETY: as in `realloc`.
        unsafe {
            core::ptr::copy_nonoverlapping(self.mem.ptr::<u8>(p), self.mem.ptr(q), have.min(n))
        };
        self.free_at(p)?;
        Ok(q)
    }

    /// The pointer to block `a` (the source's provenance under Miri).
    #[inline(always)]
    fn nn(&self, a: usize) -> NonNull<u8> {
        // SAFETY: a block's address is never 0.
        unsafe { NonNull::new_unchecked(self.mem.ptr(a)) }
    }

    /// `n` bytes aligned to 16: `OutOfMemory` when the source has no more
    /// memory, `Corrupted` when a span's free list was found overwritten
    /// (where: [`damage`](Self::damage)). A request above [`SMALL_MAX`] is
    /// mapped.
    #[inline]
    pub fn alloc(&mut self, n: usize) -> Result<NonNull<u8>, HeapError> {
        self.alloc_at(n).map(|a| self.nn(a))
    }

    /// [`alloc`](Self::alloc), the `n` bytes zeroed.
    pub fn alloc_zeroed(&mut self, n: usize) -> Result<NonNull<u8>, HeapError> {
        self.alloc_zeroed_at(n).map(|a| self.nn(a))
    }

    /// `n` bytes aligned to `align` (a power of two): up to 16 from a
    /// span, above that in a mapping of their own (`OutOfMemory` where
    /// the source cannot map).
    pub fn alloc_aligned(&mut self, n: usize, align: usize) -> Result<NonNull<u8>, HeapError> {
        self.alloc_aligned_at(n, align).map(|a| self.nn(a))
    }

    /// Frees block `p`. Misuse (not a live block of this heap, a double
    /// free) changes nothing and comes back as the error.
    #[inline]
    pub fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        self.free_at(p.addr())
    }

    /// The bytes usable in block `p` (misuse as for [`free`](Self::free)).
    pub fn usable(&mut self, p: *const u8) -> Result<usize, HeapError> {
        self.usable_at(p.addr())
    }

    /// Block `p` resized to `n` bytes: itself if it holds `n` bytes and no
    /// more than twice them, a mapped block's pages moved by the kernel,
    /// or a new block with the contents copied and `p` freed. On failure
    /// `p` is left as it was.
    pub fn realloc(&mut self, p: NonNull<u8>, n: usize) -> Result<NonNull<u8>, HeapError> {
        self.realloc_at(p.as_ptr().addr(), n).map(|a| self.nn(a))
    }

    /// [`realloc`](Self::realloc) to `n` bytes aligned to `align` (above
    /// 16): the block itself if it holds `n` bytes at that alignment, else
    /// a new mapped block with the contents copied and `p` freed.
    pub fn realloc_aligned(
        &mut self,
        p: NonNull<u8>,
        n: usize,
        align: usize,
    ) -> Result<NonNull<u8>, HeapError> {
        self.realloc_aligned_at(p.as_ptr().addr(), n, align).map(|a| self.nn(a))
    }
}

/// The FLAGS bits of a span of blocks of `size` bytes: the reciprocal.
const fn recip(size: usize) -> usize {
    ((1usize << 32) / size + 1) << RECIP_SHIFT
}
