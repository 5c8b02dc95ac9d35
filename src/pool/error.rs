//! Errors of block pools.

use core::fmt;

use crate::sys::Errno;

/// Why a pool operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// Every block is in use and the pool may not grow: a region-backed
    /// pool is full, or a heap-backed pool reached its `max_blocks`.
    /// Maps to `ENOMEM`.
    Exhausted,
    /// The chunk source refused memory for a new chunk (or for the chunk
    /// table, or for the pool object itself). Maps to `ENOMEM`.
    NoMemory,
    /// A bad parameter: zero or overflowing block size, an alignment that
    /// is not a power of two, a null or too small region. Maps to `EINVAL`.
    InvalidArgument,
    /// Free: the pointer lies in none of this pool's blocks (another
    /// pool's block, a heap pointer, a chunk header, null). Maps to
    /// `EINVAL`; the C layer reports it and aborts.
    NotInPool,
    /// Free: the pointer lies inside a block of this pool but not at its
    /// start. Maps to `EINVAL`; the C layer reports it and aborts.
    Misaligned,
    /// Free: the block is not in use (freed twice, or never handed out).
    /// Maps to `EINVAL`; the C layer reports it and aborts.
    DoubleFree,
    /// [`super::Pool::alloc_wait`]: no block was freed before the timeout.
    /// Maps to `ETIMEDOUT`.
    TimedOut,
}

impl PoolError {
    /// The `errno` value a C caller sees.
    pub fn errno(self) -> Errno {
        match self {
            PoolError::Exhausted | PoolError::NoMemory => Errno::ENOMEM,
            PoolError::TimedOut => Errno::ETIMEDOUT,
            PoolError::InvalidArgument
            | PoolError::NotInPool
            | PoolError::Misaligned
            | PoolError::DoubleFree => Errno::EINVAL,
        }
    }

    /// A short description; the fatal kinds read as the noun of the
    /// one-line report before an abort (`rawrt: rawrt_pool_free(): double
    /// free of 0x...`).
    pub fn message(self) -> &'static str {
        match self {
            PoolError::Exhausted => "pool exhausted",
            PoolError::NoMemory => "out of memory for a pool chunk",
            PoolError::InvalidArgument => "invalid argument",
            PoolError::NotInPool => "pointer not from this pool",
            PoolError::Misaligned => "pointer inside a block",
            PoolError::DoubleFree => "double free",
            PoolError::TimedOut => "timed out waiting for a free block",
        }
    }

    /// Whether this error reports bad input or damage (the kinds the C
    /// layer turns into an abort rather than an error return).
    pub fn is_fatal(self) -> bool {
        matches!(self, PoolError::NotInPool | PoolError::Misaligned | PoolError::DoubleFree)
    }
}

/// A free block's link was found overwritten (a write after free) as the
/// block was about to be handed out: reports it (`rawrt: {func}():
/// corrupted free list (write after free) at 0x...`) and aborts.
#[cold]
#[inline(never)]
pub(crate) fn corrupted(func: &'static str, block: usize) -> ! {
    #[cfg(miri)]
    panic!("rawrt: {func}(): corrupted free list (write after free) at {block:#x}");
    #[cfg(not(miri))]
    crate::rt::fatal_at(func, "corrupted free list (write after free)", block)
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}
