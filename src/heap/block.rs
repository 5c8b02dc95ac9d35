//! Block layout: the one place that knows where words live.
//!
//! All addresses are plain `usize`; a word `W` is 8 bytes (64-bit only).
//! They become pointers only through a heap's [`Mem`] (provenance).
//!
//! ```text
//! segment (from the Source)                                   sentinel
//! | pad | hdr | payload ......| hdr | payload ..| top ....... | 0|USED |
//!       ^ first header: ≡ 8 (mod 16), so every payload is 16-aligned
//!
//! used block at h, size S (multiple of 16, >= MIN_BLOCK):
//!   h      header = TAG | S | IN_USE | PREV_IN_USE?
//!   h+8    payload: S-8 bytes, up to h+S exclusive. Its last word is the
//!          slot the next block reads as our size when we are free (the
//!          borrowed boundary tag), so the overhead is one word.
//! free block at h:
//!   h      header = TAG | S | PREV_IN_USE   (no two free blocks ever touch)
//!   h+8    next free block in its class list (0 = end)
//!   h+16   previous free block in its class list (0 = head)
//!   h+24   dirty bytes not yet purged (only when S >= PURGE_MIN)
//!   h+32   the decay period it was freed in (only when S >= PURGE_MIN;
//!          see `decay.rs`)
//!   h+S-8  footer = S
//! top: [top, top_end) of the top segment. Not on any list, no header; its
//!   size is 0 or >= MIN_BLOCK and the block before it is always in use.
//! sentinel: header `TAG | IN_USE` (size 0) in the last word of each
//!   segment but the top one, so every block has a successor header. The
//!   top segment's blocks end at the top, which no header describes, and
//!   its last word is written only when another segment becomes the top
//!   (so that growing and trimming the top touch no page beyond what the
//!   blocks use: glibc's top does the same).
//! large block (own mapping at M, L bytes, payload P):
//!   P-16   P - M          P-8   L | IN_USE | LARGE
//! ```
//!
//! `TAG` (the top 16 bits, [`TAG_BITS`]) is the heap's own tag: the top
//! bit set and 15 bits derived from the process secret and the heap's
//! serial number, so that no two heaps of a process (the first 32,768)
//! share one and an attacker cannot guess it. A header whose tag is not
//! its heap's is not that heap's block: a block of a heap that lives
//! inside a block of another is refused by the outer one.
//!
//! Invariants: the header of the block after a used block has PREV_IN_USE
//! set, after a free block clear; a free block of size S is on exactly the
//! list of `class_of(S)`; `fresh >= top` and every byte of
//! `[fresh, top_end)` is zero (memory fresh from the kernel). Nothing in a
//! block is trusted before it is checked: free-list links must point to
//! block addresses inside a segment and back at their block, a free
//! block's size must fit its segment and match its footer (see
//! `integrity.rs`).

use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Payload alignment of every block.
pub const ALIGN: usize = 16;
/// Bytes of header per block.
pub const HDR: usize = 8;
/// Smallest block: header, two links and a footer.
pub const MIN_BLOCK: usize = 32;
/// Free blocks at least this big keep a dirty count and get purged.
pub const PURGE_MIN: usize = 64 * 1024;
/// The largest request the heap considers; anything above fails at once
/// (a block's size, a large block's mapping included, must fit in the
/// 48 size bits of a header, below the tag).
pub const MAX_REQUEST: usize = (1 << 48) - (1 << 30);

/// Header flag: this block is in use.
pub const IN_USE: usize = 1;
/// Header flag: the block before this one is in use (its footer is not
/// valid). Always set on free blocks.
pub const PREV_IN_USE: usize = 2;
/// Header flag: a large block in its own mapping (always with IN_USE).
pub const LARGE: usize = 4;
/// Header flag used only while `check` walks the free lists.
pub const MARK: usize = 8;
/// The size bits of a header.
pub const SIZE: usize = (1 << 48) - 16;
/// The tag bits of a header (see the module documentation).
pub const TAG_BITS: usize = !((1 << 48) - 1);
/// The bit every tag has (so that no tag is zero).
pub const TAG_ONE: usize = 1 << 63;

/// How a heap turns its addresses into pointers.
///
/// Memory from the kernel arrives as integers (`brk`, `mmap`), and a
/// region as a pointer whose provenance rawrt exposes when it takes the
/// region over; the block code reaches both through exposed provenance
/// (`with_exposed_provenance`), at no cost. Under Miri, which checks
/// strict provenance, a `Mem` carries the root pointer its source handed
/// over ([`Source::root`](super::Source::root)), and every address becomes
/// `root.with_addr(address)`: an access outside the memory the source
/// handed out is then an error Miri reports.
#[derive(Clone, Copy)]
pub struct Mem {
    #[cfg(miri)]
    root: *mut u8,
}

// SAFETY: a `Mem` is only a way to form pointers into memory its heap owns.
unsafe impl Send for Mem {}
// SAFETY: as above.
unsafe impl Sync for Mem {}

impl Mem {
    /// A `Mem` for memory reached through `root`'s provenance (null: the
    /// kernel's memory, through exposed provenance).
    #[inline(always)]
    pub const fn new(root: *mut u8) -> Mem {
        #[cfg(not(miri))]
        let _ = root;
        Mem {
            #[cfg(miri)]
            root,
        }
    }

    /// The pointer for address `a`.
    #[inline(always)]
    pub fn ptr<T>(self, a: usize) -> *mut T {
        #[cfg(miri)]
        return self.root.with_addr(a).cast();
        #[cfg(not(miri))]
        core::ptr::with_exposed_provenance_mut(a)
    }

    /// Reads the word at `a`. Words are accessed as relaxed atomics (plain
    /// loads and stores on every target): a thread cache reads the header
    /// of a block it frees without the heap's lock, while the lock holder
    /// may be updating that header's `PREV_IN_USE` bit (see `tcache.rs`).
    ///
    /// # Safety
    /// `a` must be 8-aligned and inside memory the heap owns.
    #[inline(always)]
    pub unsafe fn rd(self, a: usize) -> usize {
        // SAFETY: the caller vouches for alignment and ownership.
        unsafe { (*self.ptr::<AtomicUsize>(a)).load(Relaxed) }
    }

    /// Writes the word at `a`.
    ///
    /// # Safety
    /// As for [`rd`](Self::rd), and nothing else may rely on the old value.
    #[inline(always)]
    pub unsafe fn wr(self, a: usize, v: usize) {
        // SAFETY: the caller vouches for alignment and ownership.
        unsafe { (*self.ptr::<AtomicUsize>(a)).store(v, Relaxed) }
    }
}

/// The block size for a request of `size` payload bytes, or `None` when
/// the request is too large to consider.
#[inline(always)]
pub fn block_for(size: usize) -> Option<usize> {
    if size > MAX_REQUEST {
        return None;
    }
    Some(block_of(size))
}

/// The block size for a request of `size` payload bytes, which must be at
/// most [`MAX_REQUEST`].
#[inline(always)]
pub fn block_of(size: usize) -> usize {
    let b = (size + HDR + ALIGN - 1) & !(ALIGN - 1);
    if b < MIN_BLOCK {
        MIN_BLOCK
    } else {
        b
    }
}

/// `a` rounded up to a multiple of the power of two `p`.
#[inline(always)]
pub const fn up(a: usize, p: usize) -> usize {
    (a + p - 1) & !(p - 1)
}

/// `a` rounded down to a multiple of the power of two `p`.
#[inline(always)]
pub const fn down(a: usize, p: usize) -> usize {
    a & !(p - 1)
}

/// Writes the header (with tag `tag`) and footer of a free block
/// (PREV_IN_USE set).
///
/// # Safety
/// `[h, h+s)` must be heap memory that no used block covers.
#[inline(always)]
pub unsafe fn set_free(m: Mem, tag: usize, h: usize, s: usize) {
    // SAFETY: the caller owns the block.
    unsafe {
        m.wr(h, tag | s | PREV_IN_USE);
        m.wr(h + s - HDR, s);
    }
}

/// The bytes of free block `h` (size `s`) not purged since they were
/// last written.
///
/// # Safety
/// `h` must be a free block of size `s`.
#[inline(always)]
pub unsafe fn dirty_of(m: Mem, h: usize, s: usize) -> usize {
    if s >= PURGE_MIN {
        // SAFETY: big free blocks keep their dirty count at h+24.
        unsafe { m.rd(h + 24) }
    } else {
        s
    }
}
