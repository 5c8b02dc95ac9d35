//! A chunk: one contiguous piece of pool memory holding a header, a bitmap
//! and `nblocks` blocks.
//!
//! Layout: `[ChunkHeader][bitmap: nwords u64][padding][block 0][block 1]...`,
//! the header 8-aligned, block 0 aligned to the pool alignment, blocks
//! `block_size` apart (a multiple of the alignment).
//!
//! Invariants, which hold whenever the owning pool's lock is free:
//! - bit `i` of the bitmap is set iff block `i` is in use (handed out and
//!   not freed); bits at `nblocks..` are clear;
//! - `used` is the number of set bits;
//! - blocks `bump..nblocks` have never been handed out (their bits are
//!   clear and they are on no list);
//! - the free list, threaded through the first word of each free block as a
//!   block index (`NONE` ends it), holds exactly the blocks below `bump`
//!   whose bits are clear, each once.
//!
//! A [`Chunk`] is a copyable handle to a header. It is created only by
//! [`Chunk::init`] over memory the pool owns, lives in the pool's state
//! behind the pool lock, and is used only by the holder of that lock; its
//! safe methods rely on this.

use core::mem::size_of;
use core::ptr::NonNull;

use super::block_pool::Geometry;
use super::PoolError;

/// `alloc` on a full chunk: the pool's partial list (chunks with a free
/// block) was wrong, which its own code keeps right.
#[cold]
fn unreachable_full() -> ! {
    crate::rt::fatal_at("pool", "partial-chunk list names a full chunk", 0)
}

/// End of a free list.
const NONE: usize = usize::MAX;

/// Bits per bitmap word.
const WORD_BITS: usize = 64;

/// The bookkeeping at the start of every chunk.
#[repr(C)]
pub(super) struct ChunkHeader {
    /// Block 0.
    first: *mut u8,
    nblocks: usize,
    used: usize,
    bump: usize,
    /// Index of the first block of the free list, or `NONE`.
    free_head: usize,
    /// The next chunk with a free block (see the pool's partial list).
    next_partial: Option<Chunk>,
    /// Bytes obtained from the chunk source, 0 for a caller's region.
    alloc_size: usize,
    nwords: usize,
}

/// Bytes of header plus a bitmap of `nwords` words.
pub(super) const fn header_bytes(nwords: usize) -> usize {
    size_of::<ChunkHeader>() + nwords * 8
}

/// Bytes of a staging chunk ([`Chunk::staged`]).
pub(super) const STAGE_BYTES: usize = header_bytes(1);

/// Words of bitmap for `nblocks` blocks.
pub(super) const fn words_for(nblocks: usize) -> usize {
    nblocks.div_ceil(WORD_BITS)
}

/// A handle to a chunk header (see the module invariants).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Chunk(NonNull<ChunkHeader>);

impl Chunk {
    /// Writes a header and a clear bitmap at `at` for `nblocks` blocks
    /// starting at `first`.
    ///
    /// # Safety
    /// `at` must be 8-aligned and valid for writes of
    /// `header_bytes(words_for(nblocks))` bytes; `first` must be aligned
    /// to the pool alignment, at or after the end of the bitmap, and valid
    /// for `nblocks` blocks; all of it owned by the calling pool.
    pub(super) unsafe fn init(
        at: *mut u8,
        first: *mut u8,
        nblocks: usize,
        alloc_size: usize,
    ) -> Chunk {
        let nwords = words_for(nblocks);
        let header = at.cast::<ChunkHeader>();
        // SAFETY: the caller provides writable, aligned memory for the
        // header and the bitmap that follows it.
        unsafe {
            header.write(ChunkHeader {
                first,
                nblocks,
                used: 0,
                bump: 0,
                free_head: NONE,
                next_partial: None,
                alloc_size,
                nwords,
            });
            core::ptr::write_bytes(at.add(size_of::<ChunkHeader>()).cast::<u64>(), 0, nwords);
        }
        // SAFETY: `at` is non-null (valid for writes).
        Chunk(unsafe { NonNull::new_unchecked(header) })
    }

    /// A staging chunk at `at` (`STAGE_BYTES`, 8-aligned): one free
    /// block at `block`, which the next allocation hands out. A debugging
    /// pool's fast path takes its block there (`super::debug`).
    ///
    /// # Safety
    /// `at` is valid for writes of `STAGE_BYTES` bytes; `block` for
    /// writes of a word; both the calling pool's.
    pub(super) unsafe fn staged(at: *mut u8, block: *mut u8) -> Chunk {
        // SAFETY: forwarded contract (the header and a one-word bitmap).
        unsafe { Chunk::init(at, block, 1, 0) }
    }

    #[inline(always)]
    fn h(&self) -> &ChunkHeader {
        // SAFETY: module invariant: the header is live and the pool lock is
        // held by our caller.
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    fn h_mut(&self) -> &mut ChunkHeader {
        // SAFETY: module invariant: the header is live, the pool lock is
        // held, and no other reference to the header is alive (every method
        // uses one reference at a time).
        unsafe { &mut *self.0.as_ptr() }
    }

    #[inline(always)]
    fn bitmap(&self) -> *mut u64 {
        // SAFETY: the bitmap follows the header inside the same chunk.
        unsafe { self.0.as_ptr().cast::<u8>().add(size_of::<ChunkHeader>()).cast::<u64>() }
    }

    /// Address of the header (the start of the chunk's memory).
    #[inline(always)]
    pub(super) fn addr(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The start of the chunk's memory (what the source handed out).
    pub(super) fn base_ptr(&self) -> *mut u8 {
        self.0.as_ptr().cast()
    }

    /// Address of block 0.
    #[inline(always)]
    pub(super) fn first(&self) -> usize {
        self.h().first as usize
    }

    /// Block 0.
    pub(super) fn first_ptr(&self) -> *mut u8 {
        self.h().first
    }

    /// Blocks in the chunk.
    pub(super) fn nblocks(&self) -> usize {
        self.h().nblocks
    }

    /// Whether every block is in use.
    #[inline(always)]
    pub(super) fn is_full(&self) -> bool {
        let h = self.h();
        h.used == h.nblocks
    }

    /// One past the last block.
    #[inline(always)]
    pub(super) fn end(&self, g: &Geometry) -> usize {
        let h = self.h();
        h.first as usize + h.nblocks * g.block_size
    }

    /// Bytes obtained from the source (0 for a region chunk).
    pub(super) fn alloc_size(&self) -> usize {
        self.h().alloc_size
    }

    /// Words in the bitmap.
    pub(super) fn nwords(&self) -> usize {
        self.h().nwords
    }

    /// Bitmap word `k` (`k < nwords`).
    #[inline(always)]
    pub(super) fn word(&self, k: usize) -> u64 {
        debug_assert!(k < self.h().nwords);
        // SAFETY: `k` is within the bitmap.
        unsafe { self.bitmap().add(k).read() }
    }

    /// The next chunk on the partial list.
    pub(super) fn next_partial(&self) -> Option<Chunk> {
        self.h().next_partial
    }

    /// Links the chunk into the partial list before `next`.
    pub(super) fn set_next_partial(&self, next: Option<Chunk>) {
        self.h_mut().next_partial = next;
    }

    /// Hands out a block: the head of the free list, else the next never
    /// used block. The chunk must not be full. Before the head goes out,
    /// the link it holds is checked: it must end the list or name a free
    /// block below `bump` (whose bit is clear). A write into a freed block
    /// changes its link: `Err` names that block (its address), which is
    /// then not handed out.
    #[inline]
    pub(super) fn alloc(&self, g: &Geometry) -> Result<NonNull<u8>, usize> {
        let bitmap = self.bitmap();
        let h = self.h_mut();
        let bit_of = |i: usize| 1u64 << (i % WORD_BITS);
        let idx = if h.free_head != NONE {
            let idx = h.free_head;
            let block = h.first.wrapping_add(idx * g.block_size);
            // The head's own bit is set first, so that a link to itself
            // reads as a link to a block in use.
            // SAFETY: the head is always a free block below `bump` (set by
            // `free`, or checked below before it became the head), so its
            // word is in the bitmap and its first (aligned) word holds the
            // next index; `next` is read in the bitmap only once it is
            // known to be below `bump`.
            let next = unsafe {
                *bitmap.add(idx / WORD_BITS) |= bit_of(idx);
                block.cast::<usize>().read()
            };
            // SAFETY: as above.
            let used = |i: usize| unsafe { *bitmap.add(i / WORD_BITS) } & bit_of(i) != 0;
            if next != NONE && (next >= h.bump || used(next)) {
                return Err(block.addr());
            }
            h.free_head = next;
            idx
        } else if h.bump < h.nblocks {
            let idx = h.bump;
            h.bump += 1;
            // SAFETY: idx < nblocks.
            unsafe { *bitmap.add(idx / WORD_BITS) |= bit_of(idx) };
            idx
        } else {
            unreachable_full()
        };
        h.used += 1;
        // SAFETY: block `idx` lies inside the chunk, which is not at 0.
        Ok(unsafe { NonNull::new_unchecked(h.first.add(idx * g.block_size)) })
    }

    /// The index of the block starting at `addr`, which must lie in
    /// `addr()..end()`.
    #[inline]
    pub(super) fn index_of(&self, addr: usize, g: &Geometry) -> Result<usize, PoolError> {
        let first = self.first();
        if addr < first {
            // Inside the header, the bitmap or the padding.
            return Err(PoolError::NotInPool);
        }
        let off = addr - first;
        let (idx, rem) = match g.shift {
            Some(s) => (off >> s, off & (g.block_size - 1)),
            None => (off / g.per, off % g.per),
        };
        if idx >= self.nblocks() {
            return Err(PoolError::NotInPool);
        }
        if rem != 0 {
            return Err(PoolError::Misaligned);
        }
        Ok(idx)
    }

    /// Whether block `idx` (`< nblocks`) is in use.
    #[inline]
    pub(super) fn is_used(&self, idx: usize) -> bool {
        self.word(idx / WORD_BITS) & (1u64 << (idx % WORD_BITS)) != 0
    }

    /// Checks the free list: every link names a block below `bump` whose
    /// bit is clear, and the list holds `bump - used` blocks (so each free
    /// block once). `Some` names the block whose link is wrong (or the
    /// last one, or block 0's address for a bad head, when the count is;
    /// block 0's for a header counting more blocks in use than were ever
    /// handed out). The address is the block's start (its slot's, in a
    /// poisoned pool).
    pub(super) fn check_free_list(&self, g: &Geometry) -> Option<usize> {
        let h = self.h();
        // `used > bump` only damage to the header can make.
        let Some(want) = h.bump.checked_sub(h.used) else { return Some(h.first.addr()) };
        let block = |i: usize| h.first.wrapping_add(i * g.block_size);
        let (mut at, mut n, mut last) = (h.free_head, 0, h.first.addr());
        while at != NONE {
            if at >= h.bump || self.is_used(at) || n == want {
                return Some(last);
            }
            last = block(at).addr();
            // SAFETY: a free block below `bump` holds its link in its
            // first (aligned) word.
            at = unsafe { block(at).cast::<usize>().read() };
            n += 1;
        }
        (n != want).then_some(last)
    }

    /// Takes back block `idx` (`< nblocks`); `DoubleFree` if it is not in
    /// use.
    #[inline]
    pub(super) fn free(&self, idx: usize, g: &Geometry) -> Result<(), PoolError> {
        let bitmap = self.bitmap();
        let h = self.h_mut();
        debug_assert!(idx < h.nblocks);
        // SAFETY: idx < nblocks, so the word is in the bitmap.
        let word = unsafe { &mut *bitmap.add(idx / WORD_BITS) };
        let bit = 1u64 << (idx % WORD_BITS);
        if *word & bit == 0 {
            return Err(PoolError::DoubleFree);
        }
        *word &= !bit;
        // SAFETY: block `idx` is in the chunk and now free, so its first
        // (aligned) word may hold the link.
        unsafe { h.first.add(idx * g.block_size).cast::<usize>().write(h.free_head) };
        h.free_head = idx;
        h.used -= 1;
        Ok(())
    }
}
