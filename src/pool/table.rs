//! The chunk table: every chunk of a pool, sorted by address, for finding
//! the chunk of a pointer by binary search.
//!
//! Invariants: `as_slice()` lists each chunk of the pool exactly once, in
//! strictly increasing address order (chunks are disjoint). A region pool
//! has one chunk, kept in `single` with no storage; a growing pool keeps
//! the table in `cap` slots obtained from its chunk source, doubled when
//! full (so insertion is O(chunks) moves, which is rare: chunks grow
//! geometrically up to a cap).

use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use super::chunk::Chunk;
use super::{ChunkSource, PoolError};

/// Slots in the first table allocation.
const FIRST_CAP: usize = 8;

/// The sorted list of a pool's chunks.
pub(super) struct ChunkTable {
    /// Storage from the chunk source (`cap` slots, `len` used), or dangling
    /// with `cap == 0`.
    ptr: NonNull<Chunk>,
    len: usize,
    cap: usize,
    /// The chunk of a region pool.
    single: Option<Chunk>,
}

impl ChunkTable {
    /// An empty table.
    pub(super) const fn new() -> ChunkTable {
        ChunkTable { ptr: NonNull::dangling(), len: 0, cap: 0, single: None }
    }

    /// The table of a region pool: just `chunk`.
    pub(super) const fn single(chunk: Chunk) -> ChunkTable {
        ChunkTable { ptr: NonNull::dangling(), len: 0, cap: 0, single: Some(chunk) }
    }

    /// The chunks in address order.
    #[inline]
    pub(super) fn as_slice(&self) -> &[Chunk] {
        match &self.single {
            Some(c) => core::slice::from_ref(c),
            // SAFETY: `ptr` holds `len` initialised slots (dangling and 0
            // when nothing was allocated).
            None => unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) },
        }
    }

    /// Adds `chunk` in address order, growing the storage from `source` if
    /// needed. On error nothing changed.
    pub(super) fn insert(
        &mut self,
        chunk: Chunk,
        source: &dyn ChunkSource,
    ) -> Result<(), PoolError> {
        debug_assert!(self.single.is_none());
        if self.len == self.cap {
            let cap = if self.cap == 0 { FIRST_CAP } else { self.cap * 2 };
            let bytes = cap.checked_mul(size_of::<Chunk>()).ok_or(PoolError::NoMemory)?;
            let new = source.alloc_chunk(bytes, align_of::<Chunk>()).cast::<Chunk>();
            let new = NonNull::new(new).ok_or(PoolError::NoMemory)?;
            // SAFETY: the new storage holds `cap > len` slots, disjoint from
            // the old, which holds `len` initialised ones.
            unsafe { core::ptr::copy_nonoverlapping(self.ptr.as_ptr(), new.as_ptr(), self.len) };
            let len = self.len;
            self.release(source);
            self.ptr = new;
            self.cap = cap;
            self.len = len;
        }
        let at = self.as_slice().partition_point(|c| c.addr() < chunk.addr());
        // SAFETY: `len < cap`: shifting slots at..len up by one stays inside
        // the storage, then slot `at` is written.
        unsafe {
            let p = self.ptr.as_ptr();
            core::ptr::copy(p.add(at), p.add(at + 1), self.len - at);
            p.add(at).write(chunk);
        }
        self.len += 1;
        Ok(())
    }

    /// The chunk whose memory starts at or below `addr` and is nearest to
    /// it: the only chunk that can contain `addr`. O(log chunks).
    #[inline]
    pub(super) fn predecessor(&self, addr: usize) -> Option<Chunk> {
        let s = self.as_slice();
        let i = s.partition_point(|c| c.addr() <= addr);
        i.checked_sub(1).map(|i| s[i])
    }

    /// The first chunk whose memory starts at or above `addr`.
    pub(super) fn at_or_after(&self, addr: usize) -> Option<Chunk> {
        let s = self.as_slice();
        s.get(s.partition_point(|c| c.addr() < addr)).copied()
    }

    /// Returns the storage (not the chunks) to `source` and empties the
    /// table.
    pub(super) fn release(&mut self, source: &dyn ChunkSource) {
        if self.cap != 0 {
            // SAFETY: the storage came from `source` with this size and
            // alignment, and is not used after this.
            unsafe {
                source.free_chunk(
                    self.ptr.as_ptr().cast::<u8>(),
                    self.cap * size_of::<Chunk>(),
                    align_of::<Chunk>(),
                )
            };
        }
        self.ptr = NonNull::dangling();
        self.cap = 0;
        self.len = 0;
    }
}
