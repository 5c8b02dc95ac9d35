//! Block layout: the one place that knows where words live.
//!
//! All addresses are plain `usize`; a word `W` is 8 bytes (64-bit only).
//!
//! ```text
//! segment (from the Source)                                   sentinel
//! | pad | hdr | payload ......| hdr | payload ..| top ....... | 0|USED |
//!       ^ first header: ≡ 8 (mod 16), so every payload is 16-aligned
//!
//! used block at h, size S (multiple of 16, >= MIN_BLOCK):
//!   h      header = S | IN_USE | PREV_IN_USE?
//!   h+8    payload: S-8 bytes, up to h+S exclusive. Its last word is the
//!          slot the next block reads as our size when we are free (the
//!          borrowed boundary tag), so the overhead is one word.
//! free block at h:
//!   h      header = S | PREV_IN_USE   (no two free blocks ever touch)
//!   h+8    next free block in its class list (0 = end)
//!   h+16   previous free block in its class list (0 = head)
//!   h+24   dirty bytes not yet purged (only when S >= PURGE_MIN)
//!   h+S-8  footer = S
//! top: [top, top_end) of the top segment. Not on any list, no header; its
//!   size is 0 or >= MIN_BLOCK and the block before it is always in use.
//! sentinel: header `IN_USE` (size 0) in the last word of each segment, so
//!   every block has a successor header. In the top segment its
//!   PREV_IN_USE bit is not maintained.
//! large block (own mapping at M, L bytes, payload P):
//!   P-16   P - M          P-8   L | IN_USE | LARGE
//! ```
//!
//! Invariants: the header of the block after a used block has PREV_IN_USE
//! set, after a free block clear; a free block of size S is on exactly the
//! list of `class_of(S)`; `fresh >= top` and every byte of
//! `[fresh, top_end)` is zero (memory fresh from the kernel).

use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Payload alignment of every block.
pub const ALIGN: usize = 16;
/// Bytes of header per block.
pub const HDR: usize = 8;
/// Smallest block: header, two links and a footer.
pub const MIN_BLOCK: usize = 32;
/// Free blocks at least this big keep a dirty count and get purged.
pub const PURGE_MIN: usize = 64 * 1024;
/// The largest request the heap considers; anything above fails at once.
pub const MAX_REQUEST: usize = (isize::MAX as usize) >> 1;

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
pub const SIZE: usize = !15;

/// Reads the word at `a`. Words are accessed as relaxed atomics (plain
/// loads and stores on every target): a thread cache reads the header of
/// a block it frees without the heap's lock, while the lock holder may be
/// updating that header's `PREV_IN_USE` bit (see `tcache.rs`).
///
/// # Safety
/// `a` must be 8-aligned and inside memory the heap owns.
#[inline(always)]
pub unsafe fn rd(a: usize) -> usize {
    // SAFETY: the caller vouches for alignment and ownership.
    unsafe { (*(a as *const AtomicUsize)).load(Relaxed) }
}

/// Writes the word at `a`.
///
/// # Safety
/// As for [`rd`], and nothing else may rely on the old value.
#[inline(always)]
pub unsafe fn wr(a: usize, v: usize) {
    // SAFETY: the caller vouches for alignment and ownership.
    unsafe { (*(a as *const AtomicUsize)).store(v, Relaxed) }
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

/// Writes the header and footer of a free block (PREV_IN_USE set).
///
/// # Safety
/// `[h, h+s)` must be heap memory that no used block covers.
#[inline(always)]
pub unsafe fn set_free(h: usize, s: usize) {
    // SAFETY: the caller owns the block.
    unsafe {
        wr(h, s | PREV_IN_USE);
        wr(h + s - HDR, s);
    }
}

/// The bytes of free block `h` (size `s`) not purged since they were
/// last written.
///
/// # Safety
/// `h` must be a free block of size `s`.
#[inline(always)]
pub unsafe fn dirty_of(h: usize, s: usize) -> usize {
    if s >= PURGE_MIN {
        // SAFETY: big free blocks keep their dirty count at h+24.
        unsafe { rd(h + 24) }
    } else {
        s
    }
}
