//! Fixed-size block pools ("list manager").
//!
//! A [`Pool`] hands out blocks of one size. Its memory is either a region
//! the caller hands over ([`Pool::from_region`], fixed capacity) or chunks
//! from a [`ChunkSource`] taken as it grows ([`Pool::new`], optionally
//! capped at `max_blocks`). Allocation and free are O(1) through intrusive
//! per-chunk free lists and make no system calls once the memory is there.
//!
//! A pool knows its blocks with certainty: every chunk has a bitmap with
//! one bit per block, set iff the block is in use, and the pool keeps its
//! chunks in a table sorted by address. Freeing a pointer outside every
//! block, inside a block but not at its start, or of a block not in use
//! fails with [`PoolError::NotInPool`], [`PoolError::Misaligned`] or
//! [`PoolError::DoubleFree`] and changes nothing. The chunk of a pointer is
//! found in O(1) when it is the chunk of the previous free, else by binary
//! search, O(log chunks); chunks double in size up to 256 KiB, so a pool
//! has few of them.
//!
//! [`Pool::alloc_wait`] blocks while the pool is exhausted, sleeping on a
//! futex word that every free bumps, until another thread frees a block or
//! a timeout passes ([`PoolError::TimedOut`], `ETIMEDOUT`).
//!
//! A pool created while heap poisoning is on (`RAWRT_HEAP_POISONING`,
//! [`crate::heap::set_poisoning`]) or under Valgrind's Memcheck is a
//! debugging pool for its life: canaries around every block, checked on
//! free; fills of new and freed blocks, checked before reuse
//! (comprehensive); announcements to Memcheck. [`Pool::check_integrity`]
//! checks a pool whole in every mode. Pools that are not debugging run
//! the fast paths they ran before (see `debug`).
//!
//! [`TypedPool<T>`] stores values and hands out [`PoolBox`]es that drop
//! the value and free the block; `&Pool` implements
//! `allocator_api2::alloc::Allocator` for layouts that fit a block.
//!
//! ```
//! #![no_std]
//! #![no_main]
//! use core::mem::MaybeUninit;
//! use rawrt::pool::{Pool, PoolError};
//!
//! rawrt::main!(run);
//!
//! fn run() -> i32 {
//!     static mut BUF: [MaybeUninit<u8>; 4096] = [MaybeUninit::uninit(); 4096];
//!     // SAFETY: the buffer is the pool's alone.
//!     let pool = Pool::from_static(unsafe { &mut *(&raw mut BUF) }, 64, 0).unwrap();
//!     let a = pool.alloc().unwrap();
//!     assert_eq!(pool.in_use(), 1);
//!     // SAFETY: `a` is a live block of this pool.
//!     unsafe { pool.free(a.as_ptr()) }.unwrap();
//!     // A second free is refused and changes nothing.
//!     // SAFETY: refused by the pool's bitmap.
//!     assert_eq!(unsafe { pool.free(a.as_ptr()) }, Err(PoolError::DoubleFree));
//!     0
//! }
//! ```
//!
//! Files: `chunk` (chunk layout, bitmap, free list), `table`
//! (sorted chunk table), `block_pool` ([`Pool`]), `debug` (debugging
//! pools: poisoning and Memcheck), `typed`
//! ([`TypedPool`], [`PoolBox`]), `alloc_api` (the `Allocator` impl),
//! `source` ([`ChunkSource`]), `error` ([`PoolError`]).

mod alloc_api;
mod block_pool;
mod chunk;
mod debug;
mod error;
mod source;
mod table;
mod typed;

pub use block_pool::{Pool, PoolInfo, DEFAULT_ALIGN};
pub use error::PoolError;
pub use source::ChunkSource;
pub use typed::{PoolBox, TypedPool};

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
pub(crate) mod tests_debug;
