//! rawrt: a runtime for Linux programs that use no libc.
//!
//! Layers, lowest first, each module importing only from its own layer and
//! those below (`scripts/layers.sh` checks it): [`arch`] (the `_start`
//! entry, the system-call instruction, the thread pointer) → [`sys`]
//! (typed system calls returning `Result<_, Errno>`) and [`mem`]
//! (`memcpy` & co.) → [`rt`] (start, arguments, environment, exit, I/O,
//! panic, `errno` and the head of every thread's control block) and
//! `check` (the static-ELF tests' harness) → [`sync`] (locks) → [`heap`],
//! [`pool`] and [`gran`] (allocators) → [`thread`] → the C ABI (thin
//! `extern "C"` wrappers).
//!
//! Features (all on by default): `entry` (the `_start` entry and the panic
//! handler), `cabi` (C names such as `malloc` and `memcpy`; without it only
//! `rawrt_`-prefixed names are exported), `global-allocator` (the process
//! heap as Rust's global allocator), `c11-threads` (C11 `<threads.h>`'s
//! `thrd_*` and `mtx_*` for C programs).
//!
//! # Example
//!
//! A whole program: rawrt supplies `_start`, the panic handler and the
//! global allocator, so `#![no_std]` code still has `Vec` and `String`.
//! Build it as `templates/app/` shows (a static ELF with no libc).
//!
//! ```
//! #![no_std]
//! #![no_main]
//! extern crate alloc;
//!
//! use alloc::vec::Vec;
//! use rawrt::heap::Heap;
//!
//! rawrt::main!(run);
//!
//! /// 16 KiB of .bss for a heap of its own.
//! #[repr(C, align(4096))]
//! struct Region([u8; 16 << 10]);
//! static mut REGION: Region = Region([0; 16 << 10]);
//!
//! fn run() -> i32 {
//!     // Rust's collections use the process heap (brk and mmap).
//!     let squares: Vec<u64> = (1..=100).map(|i| i * i).collect();
//!     assert_eq!(squares.iter().sum::<u64>(), 338_350);
//!
//!     // A heap over a region of your own never makes a system call.
//!     // SAFETY: the static is this heap's alone, for the whole run.
//!     let region = unsafe { Heap::from_raw((&raw mut REGION).cast(), 16 << 10) };
//!     let mut v = allocator_api2::vec::Vec::new_in(&region);
//!     v.extend_from_slice(b"no libc at all");
//!     assert_eq!(region.info().allocated_blocks, 1);
//!     rawrt::println!("{} bytes free in the region", region.info().total_free_bytes);
//!     0
//! }
//! ```
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod arch;
#[cfg(not(test))]
mod cabi;
#[cfg(not(test))]
pub mod check;
/// What the hosted unit tests use of [`check`]: its random generator.
#[cfg(test)]
mod check {
    mod rng;
    pub use rng::Rng;
}
pub mod gran;
pub mod heap;
/// Memory with capabilities for Rust code: [`caps::Caps`], [`caps::alloc`],
/// [`caps::CapsAlloc`] (see [`heap::caps`] for the rules).
pub use heap::caps::typed as caps;
pub mod mem;
pub mod pool;
pub mod rt;
pub mod sync;
pub mod sys;
pub mod thread;

/// Rust's global allocator is the process heap, shared with C's `malloc`.
#[cfg(all(not(test), feature = "global-allocator", not(feature = "small-heap")))]
#[global_allocator]
static GLOBAL: heap::ProcessHeap = heap::ProcessHeap;

/// With `small-heap`, Rust's global allocator is the small heap, shared
/// with C's `malloc`.
#[cfg(all(not(test), feature = "global-allocator", feature = "small-heap"))]
#[global_allocator]
static GLOBAL: heap::spans::SmallProcessHeap = heap::spans::SmallProcessHeap;

#[cfg(test)]
mod testing;
#[cfg(test)]
use testing::main;
