//! [`Pool`]: the untyped fixed-size block pool.
//!
//! State (behind the pool's [`Lock`]):
//! - `table`: every chunk, sorted by address (see [`super::table`]);
//! - `partial`: a singly linked list of the chunks that have a free block;
//!   a chunk is on it iff `used < nblocks`. Allocation takes from its head
//!   and unlinks the head when it becomes full (always the head, so one
//!   link suffices); a free that makes a full chunk non-full pushes it;
//! - `hint`: the chunk of the last free, tried before the binary search;
//! - counters: `capacity` (blocks in all chunks), `in_use` (the sum of
//!   the chunks' `used`), `peak` (the maximum of `in_use` ever),
//!   `low_water` (the minimum of `capacity - in_use` right after an
//!   allocation, `usize::MAX` before the first).
//!
//! - `dbg`: a debugging pool's mode and shelf (`super::debug`): while its
//!   chunks are on the shelf, `table`, `partial` and `hint` above are
//!   empty, so that its fast paths always miss.
//!
//! Outside the lock: `frees` (a wrapping count of frees, the futex word of
//! [`Pool::alloc_wait`]) and `waiters` (threads about to sleep on it).
//!
//! Costs (C = number of chunks): `alloc` O(1) (plus one chunk-source call
//! when every chunk is full and the pool may grow); `free` O(1) when the
//! pointer is in the same chunk as the previous free, else O(log C) for the
//! table search, then O(1); `info` O(1); `for_each_used` O(blocks / 64 +
//! used). Growing pools double their chunk size (header, bitmap and blocks)
//! from 4 KiB to 256 KiB, so C stays below about
//! `7 + capacity * block_size / 256 KiB`.

use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use super::chunk::{header_bytes, words_for, Chunk};
use super::debug::{self, Dbg};
use super::table::ChunkTable;
use super::{ChunkSource, PoolError};
use crate::sync::Lock;
use crate::sys::futex;
use crate::sys::time::{clock_gettime, Timespec, CLOCK_MONOTONIC};

/// The alignment used when 0 is given.
pub const DEFAULT_ALIGN: usize = 16;

/// Bytes of the first chunk of a growing pool.
const FIRST_CHUNK_BYTES: usize = 4096;
/// Chunks of a growing pool double in size up to this many bytes (a chunk
/// is still at least one block).
const MAX_CHUNK_BYTES: usize = 256 * 1024;

/// The fixed shape of a pool's blocks.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geometry {
    /// Bytes per block as the chunks see it (a slot): a multiple of
    /// `align`, at least a pointer; a poisoned pool's slot also holds the
    /// block's canaries (`super::debug`).
    pub(super) block_size: usize,
    /// Alignment of every block: a power of two, at least a pointer's.
    pub(super) align: usize,
    /// `log2(block_size)` when it is a power of two (shifts instead of
    /// divisions on free).
    pub(super) shift: Option<u32>,
    /// `block_size` as a divisor that the compiler knows is not zero (no
    /// division-by-zero panic path).
    pub(super) per: core::num::NonZeroUsize,
    /// Bytes per block as the user sees it (`block_size` unless poisoned).
    pub(super) user: usize,
    /// Bytes of a slot before the user's block (0 unless poisoned).
    pub(super) head: usize,
}

impl Geometry {
    fn new(block_size: usize, align: usize) -> Result<Geometry, PoolError> {
        let align = if align == 0 { DEFAULT_ALIGN } else { align };
        if !align.is_power_of_two() || block_size == 0 || align > isize::MAX as usize / 4 {
            return Err(PoolError::InvalidArgument);
        }
        let align = align.max(align_of::<usize>());
        let block_size = block_size
            .max(size_of::<usize>())
            .checked_next_multiple_of(align)
            .filter(|&b| b <= isize::MAX as usize / 4)
            .ok_or(PoolError::InvalidArgument)?;
        let shift = block_size.is_power_of_two().then(|| block_size.trailing_zeros());
        let per = core::num::NonZeroUsize::new(block_size).ok_or(PoolError::InvalidArgument)?;
        Ok(Geometry { block_size, align, shift, per, user: block_size, head: 0 })
    }

    /// The geometry for the pool's `mode` (`super::debug`): with canaries,
    /// slots of a head (the free-list link and the head canary; the
    /// alignment, at least 16 bytes), the user's block and the tail canary
    /// (8 bytes), rounded up to the alignment.
    fn for_mode(self, mode: u8) -> Result<Geometry, PoolError> {
        if mode & debug::CANARIES == 0 {
            return Ok(self);
        }
        self.poisoned()
    }

    /// [`for_mode`](Self::for_mode) with canaries.
    #[cold]
    #[inline(never)]
    fn poisoned(self) -> Result<Geometry, PoolError> {
        let head = self.align.max(16);
        let slot = (head + self.user + debug::TAIL_BYTES)
            .checked_next_multiple_of(self.align)
            .filter(|&b| b <= isize::MAX as usize / 4)
            .ok_or(PoolError::InvalidArgument)?;
        let shift = slot.is_power_of_two().then(|| slot.trailing_zeros());
        let per = core::num::NonZeroUsize::new(slot).ok_or(PoolError::InvalidArgument)?;
        Ok(Geometry { block_size: slot, shift, per, head, ..self })
    }

    /// Address of block 0 for a chunk whose header is at `at` with
    /// `nwords` bitmap words.
    fn first_block(&self, at: usize, nwords: usize) -> Option<usize> {
        at.checked_add(header_bytes(nwords))?.checked_next_multiple_of(self.align)
    }
}

/// Statistics of a pool (the layout of C's `rawrt_pool_info_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PoolInfo {
    /// Bytes per block (the requested size rounded up to the alignment),
    /// the bytes the user may use: a poisoned pool's canaries are not
    /// counted (they take room of the chunks: a poisoned region pool holds
    /// fewer blocks).
    pub block_size: usize,
    /// Alignment of every block.
    pub align: usize,
    /// Blocks in all chunks.
    pub capacity: usize,
    /// Blocks in use.
    pub in_use: usize,
    /// Blocks free (`capacity - in_use`).
    pub free: usize,
    /// The fewest free blocks seen right after an allocation (the current
    /// `free` if nothing was allocated yet). 0 means the pool ran full.
    pub low_water: usize,
    /// The most blocks ever in use at once.
    pub peak_in_use: usize,
    /// Chunks of memory (1 for a region pool).
    pub chunks: usize,
    /// The cap on `capacity` (0 = unlimited; a region pool's capacity).
    pub max_blocks: usize,
}

/// The state behind the lock.
pub(super) struct Inner {
    table: ChunkTable,
    partial: Option<Chunk>,
    hint: Option<Chunk>,
    capacity: usize,
    pub(super) in_use: usize,
    peak: usize,
    low_water: usize,
    max_blocks: usize,
    /// Target size of the next chunk.
    next_chunk_bytes: usize,
    /// A debugging pool's mode and real state (`super::debug`).
    pub(super) dbg: Dbg,
}

/// Why [`Inner::alloc`] gave no block.
pub(super) enum Fail {
    /// Exhausted, or no memory for a chunk.
    Error(PoolError),
    /// The free list is damaged at this block (see `Chunk::alloc`).
    Corrupt(usize),
}

// SAFETY: the chunks are memory owned by the pool; only the lock holder
// touches them.
unsafe impl Send for Inner {}

impl Inner {
    /// The state of a pool in `mode` (`super::debug`): a debugging pool's
    /// chunks are shelved, so that its fast paths always miss. (One copy
    /// for both constructors.)
    #[inline(never)]
    fn new(table: ChunkTable, capacity: usize, max_blocks: usize, mode: u8) -> Inner {
        let partial = table.as_slice().first().copied();
        let mut inner = Inner {
            table,
            partial,
            hint: None,
            capacity,
            in_use: 0,
            peak: 0,
            low_water: usize::MAX,
            max_blocks,
            next_chunk_bytes: FIRST_CHUNK_BYTES,
            dbg: Dbg::new(mode),
        };
        inner.shelve();
        inner
    }

    // Always inlined: with the debugging path's call site the compiler
    // would otherwise outline it, a call more on the fast path (the same
    // for `locate` and `free`).
    #[inline(always)]
    pub(super) fn alloc(
        &mut self,
        g: &Geometry,
        source: Option<&'static dyn ChunkSource>,
    ) -> Result<NonNull<u8>, Fail> {
        let chunk = match self.partial {
            Some(c) => c,
            None => self.grow(g, source).map_err(Fail::Error)?,
        };
        let block = chunk.alloc(g).map_err(Fail::Corrupt)?;
        if chunk.is_full() {
            self.partial = chunk.next_partial();
            chunk.set_next_partial(None);
        }
        self.in_use += 1;
        self.peak = self.peak.max(self.in_use);
        self.low_water = self.low_water.min(self.capacity - self.in_use);
        Ok(block)
    }

    /// Adds a chunk from the source and makes it the partial list (which
    /// is empty when this is called). A debugging pool, whose chunks are on
    /// the shelf, always comes here: its allocation is made here, and the
    /// caller takes its block from a staging chunk (`super::debug`).
    #[cold]
    fn grow(
        &mut self,
        g: &Geometry,
        source: Option<&'static dyn ChunkSource>,
    ) -> Result<Chunk, PoolError> {
        if self.dbg.shelved() {
            return self.alloc_staged(g, source);
        }
        let source = source.ok_or(PoolError::Exhausted)?;
        // As many blocks as fit in the target size with the header and
        // bitmap (sized for the upper bound), but at least one.
        let target = self.next_chunk_bytes;
        let upper = (target / g.per).max(1);
        let overhead = g.first_block(0, words_for(upper)).ok_or(PoolError::NoMemory)?;
        let mut nblocks = (target.saturating_sub(overhead) / g.per).max(1);
        if self.max_blocks != 0 {
            let room = self.max_blocks.saturating_sub(self.capacity);
            if room == 0 {
                return Err(PoolError::Exhausted);
            }
            nblocks = nblocks.min(room);
        }
        let nwords = words_for(nblocks);
        let first_off = g.first_block(0, nwords).ok_or(PoolError::NoMemory)?;
        let size = nblocks
            .checked_mul(g.block_size)
            .and_then(|b| b.checked_add(first_off))
            .filter(|&s| s <= isize::MAX as usize)
            .ok_or(PoolError::NoMemory)?;
        let mem = source.alloc_chunk(size, g.align);
        if mem.is_null() {
            return Err(PoolError::NoMemory);
        }
        // SAFETY: `mem` is `size` fresh bytes aligned to `g.align` (>= 8):
        // the header and bitmap fit in `first_off`, and block 0 at
        // `mem + first_off` is aligned with room for `nblocks` blocks.
        let chunk = unsafe { Chunk::init(mem, mem.add(first_off), nblocks, size) };
        if let Err(e) = self.table.insert(chunk, source) {
            // SAFETY: the chunk was just obtained and is referenced nowhere.
            unsafe { source.free_chunk(mem, size, g.align) };
            return Err(e);
        }
        // Only now (the chunk is the pool's): a debugging pool's chunk
        // made inaccessible to Memcheck must not go back to its source.
        if self.dbg.mode != 0 {
            debug::new_chunk(self.dbg.mode, chunk, g);
        }
        self.capacity += nblocks;
        self.next_chunk_bytes = (self.next_chunk_bytes * 2).min(MAX_CHUNK_BYTES);
        debug_assert!(self.partial.is_none());
        self.partial = Some(chunk);
        Ok(chunk)
    }

    /// The chunk and block index of a block pointer, validated. (The
    /// debugging paths do not call it, nor `free`: a call more would have
    /// the compiler outline them from the fast path.)
    #[inline]
    pub(super) fn locate(
        &mut self,
        addr: usize,
        g: &Geometry,
    ) -> Result<(Chunk, usize), PoolError> {
        let chunk = match self.hint {
            Some(c) if addr >= c.addr() && addr < c.end(g) => c,
            _ => {
                let c = self.table.predecessor(addr).ok_or(PoolError::NotInPool)?;
                if addr >= c.end(g) {
                    return Err(PoolError::NotInPool);
                }
                self.hint = Some(c);
                c
            }
        };
        Ok((chunk, chunk.index_of(addr, g)?))
    }

    #[inline]
    pub(super) fn free(&mut self, addr: usize, g: &Geometry) -> Result<(), PoolError> {
        let (chunk, idx) = self.locate(addr, g)?;
        let was_full = chunk.is_full();
        chunk.free(idx, g)?;
        if was_full {
            chunk.set_next_partial(self.partial);
            self.partial = Some(chunk);
        }
        self.in_use -= 1;
        Ok(())
    }

    fn info(&self, g: &Geometry) -> PoolInfo {
        let free = self.capacity - self.in_use;
        PoolInfo {
            block_size: g.user,
            align: g.align,
            capacity: self.capacity,
            in_use: self.in_use,
            free,
            low_water: self.low_water.min(free),
            peak_in_use: self.peak,
            chunks: self.chunks().len(),
            max_blocks: self.max_blocks,
        }
    }

    /// The first non-zero bitmap word at or after word `word` of the chunk
    /// at `at` (or of the next chunk above): the chunk's address, the
    /// word's index, its bits and the chunk's block 0.
    fn next_used_word(
        &self,
        mut at: usize,
        mut word: usize,
    ) -> Option<(usize, usize, u64, *mut u8)> {
        loop {
            let chunk = self.chunk_table().at_or_after(at)?;
            if chunk.addr() != at {
                at = chunk.addr();
                word = 0;
            }
            while word < chunk.nwords() {
                let bits = chunk.word(word);
                if bits != 0 {
                    return Some((at, word, bits, chunk.first_ptr()));
                }
                word += 1;
            }
            at += 1;
        }
    }
}

impl Inner {
    /// Swaps a debugging pool's chunk table, partial list and hint
    /// between the fast path's fields and its shelf (`Dbg`).
    fn swap_shelf(&mut self) {
        core::mem::swap(&mut self.table, &mut self.dbg.table);
        core::mem::swap(&mut self.partial, &mut self.dbg.partial);
        core::mem::swap(&mut self.hint, &mut self.dbg.hint);
        self.dbg.shelved = !self.dbg.shelved;
    }

    /// A debugging pool's chunks go on the shelf: the fast path finds no
    /// chunk (an allocation goes to `grow`, a free finds no block).
    fn shelve(&mut self) {
        if self.dbg.mode != 0 && !self.dbg.shelved {
            self.swap_shelf();
        }
    }

    /// The chunks back in the fast path's fields.
    pub(super) fn unshelve(&mut self) {
        if self.dbg.shelved {
            self.swap_shelf();
        }
    }

    /// The state with every chunk in place (a debugging pool's taken off
    /// the shelf until the guard drops).
    pub(super) fn open(&mut self) -> Open<'_> {
        self.unshelve();
        Open(self)
    }

    /// After a debugging pool's free of a block of `chunk` (which was
    /// full if `was_full`): the partial list and the count, as
    /// [`Inner::free`] keeps them.
    pub(super) fn took_back(&mut self, chunk: Chunk, was_full: bool) {
        if was_full {
            chunk.set_next_partial(self.partial);
            self.partial = Some(chunk);
        }
        self.in_use -= 1;
    }

    /// The chunk table, wherever it is.
    pub(super) fn chunk_table(&self) -> &ChunkTable {
        if self.dbg.shelved {
            &self.dbg.table
        } else {
            &self.table
        }
    }

    /// The chunks in address order, wherever they are.
    pub(super) fn chunks(&self) -> &[Chunk] {
        self.chunk_table().as_slice()
    }
}

/// [`Inner::open`]'s guard: shelves a debugging pool's chunks again.
pub(super) struct Open<'a>(&'a mut Inner);

impl core::ops::Deref for Open<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        self.0
    }
}

impl core::ops::DerefMut for Open<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        self.0
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.shelve();
    }
}

/// A pool of fixed-size blocks, backed by a caller's region (fixed
/// capacity) or by a [`ChunkSource`] (growing, optionally capped).
///
/// All operations take `&self` and lock the pool. A `Pool` holds no
/// pointers into itself and may be moved; blocks stay where they are.
pub struct Pool {
    pub(super) inner: Lock<Inner>,
    pub(super) geometry: Geometry,
    pub(super) source: Option<&'static dyn ChunkSource>,
    /// The `Pool` object itself lives in memory from `source`
    /// ([`Pool::create`]).
    in_source: bool,
    /// Counts frees (wrapping): the futex word [`Pool::alloc_wait`] sleeps
    /// on. Bumped after every successful free, outside the lock.
    frees: AtomicU32,
    /// Threads inside [`Pool::alloc_wait`]'s sleep (or about to sleep): a
    /// free wakes one of them when this is non-zero.
    waiters: AtomicU32,
}

impl Pool {
    /// A growing pool of blocks of `block_size` bytes aligned to `align`
    /// (a power of two, or 0 for [`DEFAULT_ALIGN`]), taking chunks from
    /// `source` as needed, never more than `max_blocks` blocks in all
    /// (0 = unlimited). No memory is taken until the first allocation.
    ///
    /// The block size is raised to at least a pointer and rounded up to the
    /// alignment; alignments below a pointer's are raised to it (a free
    /// block holds a link).
    ///
    /// Errors: [`PoolError::InvalidArgument`] for a zero block size, an
    /// alignment that is not a power of two, or sizes that overflow.
    pub fn new(
        block_size: usize,
        align: usize,
        max_blocks: usize,
        source: &'static dyn ChunkSource,
    ) -> Result<Pool, PoolError> {
        Pool::new_in_mode(block_size, align, max_blocks, source, debug::mode_now())
    }

    /// [`Pool::new`] in debugging mode `mode` (`super::debug`).
    pub(crate) fn new_in_mode(
        block_size: usize,
        align: usize,
        max_blocks: usize,
        source: &'static dyn ChunkSource,
        mode: u8,
    ) -> Result<Pool, PoolError> {
        let geometry = Geometry::new(block_size, align)?.for_mode(mode)?;
        let inner = Inner::new(ChunkTable::new(), 0, max_blocks, mode);
        if mode != 0 {
            // Chunks are made inaccessible to Memcheck as they are added.
            debug::created(&inner.dbg, core::ptr::null(), 0);
        }
        Ok(Pool {
            inner: Lock::new(inner),
            geometry,
            source: Some(source),
            in_source: false,
            frees: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        })
    }

    /// A fixed pool in the `region_size` bytes at `region`: one chunk whose
    /// header and bitmap sit at the start of the region, followed by as
    /// many blocks as fit. Block size and alignment as for [`Pool::new`].
    ///
    /// Errors: [`PoolError::InvalidArgument`] for bad sizes, a null
    /// region, or a region too small for one block.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else for as long as the pool, or any block it handed out, is in use.
    pub unsafe fn from_region(
        region: *mut u8,
        region_size: usize,
        block_size: usize,
        align: usize,
    ) -> Result<Pool, PoolError> {
        // SAFETY: forwarded contract.
        unsafe {
            Pool::from_region_in_mode(region, region_size, block_size, align, debug::mode_now())
        }
    }

    /// [`Pool::from_region`] in debugging mode `mode` (`super::debug`).
    ///
    /// # Safety
    /// As for [`Pool::from_region`].
    pub(crate) unsafe fn from_region_in_mode(
        region: *mut u8,
        region_size: usize,
        block_size: usize,
        align: usize,
        mode: u8,
    ) -> Result<Pool, PoolError> {
        let g = Geometry::new(block_size, align)?.for_mode(mode)?;
        if region.is_null() {
            return Err(PoolError::InvalidArgument);
        }
        let start = region as usize;
        let end = start.checked_add(region_size).ok_or(PoolError::InvalidArgument)?;
        let at = start
            .checked_next_multiple_of(align_of::<usize>())
            .ok_or(PoolError::InvalidArgument)?;
        if at >= end {
            return Err(PoolError::InvalidArgument);
        }
        // Size the bitmap for an upper bound of the block count, count the
        // blocks that fit after it, then shrink the bitmap to that count.
        let blocks_after = |nwords: usize| -> usize {
            match g.first_block(at, nwords) {
                Some(first) if first < end => (end - first) / g.per,
                _ => 0,
            }
        };
        let estimate = blocks_after(words_for((end - at) / g.per));
        let nwords = words_for(estimate);
        let nblocks = blocks_after(nwords).min(nwords * 64);
        if nblocks == 0 {
            return Err(PoolError::InvalidArgument);
        }
        let nwords = words_for(nblocks);
        let first = g.first_block(at, nwords).ok_or(PoolError::InvalidArgument)?;
        debug_assert!(first + nblocks * g.block_size <= end);
        // SAFETY: `at` is 8-aligned inside the caller's region; the header
        // and bitmap end at or before `first`, which is aligned and leaves
        // room for `nblocks` blocks before `end`.
        let chunk =
            unsafe { Chunk::init(region.with_addr(at), region.with_addr(first), nblocks, 0) };
        let inner = Inner::new(ChunkTable::single(chunk), nblocks, nblocks, mode);
        if mode != 0 {
            debug::new_chunk(mode, chunk, &g);
            debug::created(&inner.dbg, chunk.first_ptr(), nblocks * g.block_size);
        }
        Ok(Pool {
            inner: Lock::new(inner),
            geometry: g,
            source: None,
            in_source: false,
            frees: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        })
    }

    /// A fixed pool in a static buffer (see [`Pool::from_region`]).
    pub fn from_static(
        region: &'static mut [MaybeUninit<u8>],
        block_size: usize,
        align: usize,
    ) -> Result<Pool, PoolError> {
        // SAFETY: the buffer is borrowed exclusively for ever.
        unsafe { Pool::from_region(region.as_mut_ptr().cast(), region.len(), block_size, align) }
    }

    /// A growing pool (as [`Pool::new`]) whose `Pool` object itself lives
    /// in memory from `source`: the handle of C's `rawrt_pool_create`.
    /// Release it with [`Pool::destroy`].
    pub fn create(
        block_size: usize,
        align: usize,
        max_blocks: usize,
        source: &'static dyn ChunkSource,
    ) -> Result<NonNull<Pool>, PoolError> {
        let mut pool = Pool::new(block_size, align, max_blocks, source)?;
        pool.in_source = true;
        let mem = source.alloc_chunk(size_of::<Pool>(), align_of::<Pool>()).cast::<Pool>();
        let mem = NonNull::new(mem).ok_or(PoolError::NoMemory)?;
        // SAFETY: fresh memory sized and aligned for a `Pool`.
        unsafe { mem.as_ptr().write(pool) };
        Ok(mem)
    }

    /// A fixed pool whose `Pool` object sits at the start of the region,
    /// followed by its chunk: the handle of C's `rawrt_pool_create_in`.
    /// Release it with [`Pool::destroy`] (which then frees nothing).
    ///
    /// # Safety
    /// As for [`Pool::from_region`].
    pub unsafe fn create_in(
        region: *mut u8,
        region_size: usize,
        block_size: usize,
        align: usize,
    ) -> Result<NonNull<Pool>, PoolError> {
        if region.is_null() {
            return Err(PoolError::InvalidArgument);
        }
        let start = region as usize;
        let end = start.checked_add(region_size).ok_or(PoolError::InvalidArgument)?;
        let at =
            start.checked_next_multiple_of(align_of::<Pool>()).ok_or(PoolError::InvalidArgument)?;
        let rest = at.checked_add(size_of::<Pool>()).ok_or(PoolError::InvalidArgument)?;
        if rest >= end {
            return Err(PoolError::InvalidArgument);
        }
        // SAFETY: `rest..end` is the tail of the caller's region.
        let pool =
            unsafe { Pool::from_region(region.with_addr(rest), end - rest, block_size, align)? };
        let slot = region.with_addr(at).cast::<Pool>();
        // SAFETY: `at..rest` is inside the region, aligned for a `Pool`, and
        // disjoint from the chunk at `rest..`.
        unsafe { slot.write(pool) };
        // SAFETY: inside a region, so not null.
        Ok(unsafe { NonNull::new_unchecked(slot) })
    }

    /// Drops a pool made by [`Pool::create`] or [`Pool::create_in`]: its
    /// chunks go back to the source, and so does the object itself if it
    /// came from there.
    ///
    /// # Safety
    /// `pool` must come from one of those constructors and not have been
    /// destroyed; nothing may use it or its blocks afterwards.
    pub unsafe fn destroy(pool: NonNull<Pool>) {
        let p = pool.as_ptr();
        // SAFETY: the caller passes a live pool.
        let (in_source, source) = unsafe { ((*p).in_source, (*p).source) };
        // SAFETY: the pool is live and nothing uses it after this.
        unsafe { core::ptr::drop_in_place(p) };
        if let (true, Some(source)) = (in_source, source) {
            // SAFETY: `Pool::create` obtained this memory from `source` with
            // this size and alignment.
            unsafe { source.free_chunk(p.cast(), size_of::<Pool>(), align_of::<Pool>()) };
        }
    }

    /// A block: O(1) from the free lists; when every block is in use, a
    /// growing pool first adds a chunk.
    ///
    /// Errors: [`PoolError::Exhausted`] (full and may not grow),
    /// [`PoolError::NoMemory`] (the source refused a chunk). A free block
    /// that was written to after it was freed (its link no longer names a
    /// free block) is reported on stderr and aborts the process:
    /// `rawrt: Pool::alloc(): corrupted free list (write after free) at
    /// 0x...`, naming the block.
    #[inline]
    pub fn alloc(&self) -> Result<NonNull<u8>, PoolError> {
        self.alloc_as("Pool::alloc")
    }

    /// [`Pool::alloc`], with `func` naming the caller in a report.
    #[inline]
    pub(crate) fn alloc_as(&self, func: &'static str) -> Result<NonNull<u8>, PoolError> {
        match self.alloc_raw() {
            Ok(p) => Ok(p),
            Err(Fail::Error(e)) => Err(e),
            Err(Fail::Corrupt(at)) => super::error::corrupted(func, at),
        }
    }

    /// A block, or why not (the caller names itself in a report: the hot
    /// path does not carry the name).
    #[inline]
    fn alloc_raw(&self) -> Result<NonNull<u8>, Fail> {
        self.inner.lock().alloc(&self.geometry, self.source)
    }

    /// A block filled with zeros (`calloc`).
    pub fn alloc_zeroed(&self) -> Result<NonNull<u8>, PoolError> {
        self.alloc_zeroed_as("Pool::alloc_zeroed")
    }

    /// [`Pool::alloc_zeroed`], with `func` naming the caller in a report.
    pub(crate) fn alloc_zeroed_as(&self, func: &'static str) -> Result<NonNull<u8>, PoolError> {
        let p = self.alloc_as(func)?;
        // SAFETY: the block is ours and `user` bytes long.
        unsafe { core::ptr::write_bytes(p.as_ptr(), 0, self.geometry.user) };
        Ok(p)
    }

    /// Returns the block at `ptr`. Checks, in this order, that `ptr` lies
    /// in a block of this pool ([`PoolError::NotInPool`]), at its start
    /// ([`PoolError::Misaligned`]), and that the block is in use
    /// ([`PoolError::DoubleFree`]); on error nothing changes.
    ///
    /// # Safety
    /// If `ptr` is a block in use, nothing may use it afterwards.
    #[inline]
    pub unsafe fn free(&self, ptr: *mut u8) -> Result<(), PoolError> {
        // SAFETY: forwarded contract.
        match unsafe { self.free_fast(ptr) } {
            Ok(()) => Ok(()),
            // SAFETY: forwarded contract.
            Err(e) => unsafe { self.free_failed(e, ptr, "Pool::free") },
        }
    }

    /// The fast path's free: `Err(NotInPool)` for every block of a
    /// debugging pool (its chunks are on the shelf, `super::debug`).
    ///
    /// # Safety
    /// As for `free`.
    #[inline]
    unsafe fn free_fast(&self, ptr: *mut u8) -> Result<(), PoolError> {
        self.inner.lock().free(ptr as usize, &self.geometry)?;
        self.freed();
        Ok(())
    }

    /// [`free_fast`](Self::free_fast) failed: its error, or (a debugging
    /// pool, where it always fails) the debugging path's free.
    ///
    /// # Safety
    /// As for `free`.
    #[cold]
    #[inline(never)]
    unsafe fn free_failed(
        &self,
        e: PoolError,
        ptr: *mut u8,
        func: &'static str,
    ) -> Result<(), PoolError> {
        if e != PoolError::NotInPool {
            return Err(e);
        }
        self.inner.lock().free_debug(ptr as usize, &self.geometry, func)?;
        self.freed();
        Ok(())
    }

    /// [`free`](Self::free) for interfaces that cannot return an error
    /// (C's `rawrt_pool_free`): a null `ptr` does nothing; misuse is
    /// reported on stderr as `rawrt: FUNC(): what of 0x...` and aborts.
    ///
    /// # Safety
    /// As for `free`.
    pub unsafe fn free_or_abort(&self, ptr: *mut u8, func: &'static str) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: forwarded contract; misuse is detected with certainty.
        if let Err(e) = unsafe { self.free_fast(ptr) } {
            free_failed_or_abort(func, e, ptr, self)
        }
    }

    /// After a free: count it, and wake one thread in [`Pool::alloc_wait`]
    /// if any. While the process has one thread nobody can be waiting, and
    /// the count is bumped without a read-modify-write.
    #[inline]
    fn freed(&self) {
        if !crate::sync::is_threaded() {
            let n = self.frees.load(Ordering::Relaxed);
            self.frees.store(n.wrapping_add(1), Ordering::Relaxed);
            return;
        }
        // SeqCst pairs with alloc_wait's `waiters` increment: either this
        // load sees the waiter, or the waiter's re-check (and the kernel's
        // own check of the word) sees the new count.
        self.frees.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) != 0 {
            let _ = futex::wake(&self.frees, 1);
        }
    }

    /// A block, waiting while the pool is exhausted (every block in use
    /// and no growth allowed) until another thread frees one, or until
    /// `timeout` has passed (`None`: no limit). A zero timeout tries once.
    ///
    /// Errors: [`PoolError::TimedOut`] (`ETIMEDOUT`) when the timeout
    /// passes first; [`PoolError::NoMemory`] as for [`Pool::alloc`], at
    /// once (only exhaustion waits).
    ///
    /// No wake-up is lost: a waiter reads the free count, retries the
    /// allocation, announces itself in a waiter count and sleeps on the
    /// free count only while it still has the value read before the
    /// retry; every free bumps the count and then, if anyone waits, wakes
    /// one waiter, and a woken waiter always retries before it looks at the
    /// clock. The time is measured on `CLOCK_MONOTONIC`; signals do not cut
    /// the wait short. Only another thread can end an unlimited wait.
    pub fn alloc_wait(&self, timeout: Option<Duration>) -> Result<NonNull<u8>, PoolError> {
        self.alloc_wait_as(timeout, "Pool::alloc_wait")
    }

    /// [`Pool::alloc_wait`], with `func` naming the caller in a report.
    pub(crate) fn alloc_wait_as(
        &self,
        timeout: Option<Duration>,
        func: &'static str,
    ) -> Result<NonNull<u8>, PoolError> {
        let deadline = timeout.map(|d| monotonic_now().saturating_add(d));
        loop {
            let seen = self.frees.load(Ordering::SeqCst);
            match self.alloc_as(func) {
                Err(PoolError::Exhausted) => {}
                r => return r,
            }
            let left = match deadline {
                None => None,
                Some(d) => Some(time_left(d).ok_or(PoolError::TimedOut)?),
            };
            self.waiters.fetch_add(1, Ordering::SeqCst);
            if self.frees.load(Ordering::SeqCst) == seen {
                // EAGAIN (a free came first), EINTR and ETIMEDOUT all go
                // back to the retry; the clock decides about time-outs.
                let _ = futex::wait(&self.frees, seen, left.as_ref());
            }
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Whether `ptr` is a block of this pool that is in use: `Ok(())`, or
    /// the error [`Pool::free`] would return.
    pub fn check(&self, ptr: *const u8) -> Result<(), PoolError> {
        let mut g = self.inner.lock();
        let mut g = g.open();
        let slot = (ptr as usize).wrapping_sub(self.geometry.head);
        let (chunk, idx) = g.locate(slot, &self.geometry)?;
        if chunk.is_used(idx) {
            Ok(())
        } else {
            Err(PoolError::DoubleFree)
        }
    }

    /// Statistics.
    pub fn info(&self) -> PoolInfo {
        self.inner.lock().info(&self.geometry)
    }

    /// Bytes per block (the user's: a poisoned pool's canaries are not
    /// counted).
    // `geometry.block_size` is the slot, which holds a poisoned block's
    // canaries too: the user's size is `user`.
    #[allow(clippy::misnamed_getters)]
    pub fn block_size(&self) -> usize {
        self.geometry.user
    }

    /// Alignment of every block.
    pub fn align(&self) -> usize {
        self.geometry.align
    }

    /// The number of frees so far (wrapping); the futex word that
    /// [`Pool::alloc_wait`] sleeps on.
    pub fn frees(&self) -> &AtomicU32 {
        &self.frees
    }

    /// Calls `f` with every block in use, in address order, by scanning the
    /// chunks' bitmaps.
    ///
    /// The pool is locked only while a bitmap word is read, never while `f`
    /// runs, so `f` may allocate and free (including the block it is
    /// given). Each block in use throughout the walk is visited exactly
    /// once; a block allocated or freed during the walk may or may not be.
    pub fn for_each_used(&self, mut f: impl FnMut(NonNull<u8>)) {
        let (bs, head) = (self.geometry.block_size, self.geometry.head);
        let (mut at, mut word) = (0usize, 0usize);
        loop {
            let Some((chunk_at, w, mut bits, first)) = self.inner.lock().next_used_word(at, word)
            else {
                return;
            };
            while bits != 0 {
                let idx = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // SAFETY: a set bit is a block inside the chunk, not at 0.
                f(unsafe { NonNull::new_unchecked(first.add(idx * bs + head)) });
            }
            (at, word) = (chunk_at, w + 1);
        }
    }

    /// The number of blocks in use (shorthand for `info().in_use`).
    pub fn in_use(&self) -> usize {
        self.inner.lock().in_use
    }
}

/// [`Pool::free_fast`] failed in [`Pool::free_or_abort`]: the report and
/// abort, or nothing more for a debugging pool's block, freed. (The pool
/// comes last, so that the fast path's instructions stay what they were
/// before debugging pools.)
#[cold]
#[inline(never)]
fn free_failed_or_abort(func: &'static str, e: PoolError, ptr: *mut u8, pool: &Pool) {
    // SAFETY: `free_or_abort`'s contract.
    if let Err(e) = unsafe { pool.free_failed(e, ptr, func) } {
        crate::rt::fatal(func, e.message(), ptr as usize)
    }
}

/// `CLOCK_MONOTONIC` now (which cannot fail with a valid clock id).
fn monotonic_now() -> Timespec {
    clock_gettime(CLOCK_MONOTONIC).unwrap_or_default()
}

/// The time from now until `deadline`, or `None` once it has passed.
fn time_left(deadline: Timespec) -> Option<Timespec> {
    let now = monotonic_now();
    let mut sec = deadline.sec - now.sec;
    let mut nsec = deadline.nsec - now.nsec;
    if nsec < 0 {
        nsec += 1_000_000_000;
        sec -= 1;
    }
    (sec > 0 || (sec == 0 && nsec > 0)).then_some(Timespec { sec, nsec })
}

impl Drop for Pool {
    /// Returns every chunk (and the chunk table) to the source; a region
    /// pool gives nothing back.
    fn drop(&mut self) {
        if self.inner.get_mut().dbg.mode != 0 {
            self.dropping();
        }
        let Some(source) = self.source else { return };
        let align = self.geometry.align;
        let inner = self.inner.get_mut();
        for chunk in inner.table.as_slice() {
            // SAFETY: each chunk came from `source` with this size and
            // alignment; the pool is going away, so nothing uses it.
            unsafe { source.free_chunk(chunk.base_ptr(), chunk.alloc_size(), align) };
        }
        inner.table.release(source);
    }
}

impl core::fmt::Debug for Pool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pool").field("info", &self.info()).finish()
    }
}
