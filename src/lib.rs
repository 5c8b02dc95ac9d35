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
pub mod mem;
pub mod pool;
pub mod rt;
pub mod sync;
pub mod sys;
pub mod thread;

/// Rust's global allocator is the process heap, shared with C's `malloc`.
#[cfg(all(not(test), feature = "global-allocator"))]
#[global_allocator]
static GLOBAL: heap::ProcessHeap = heap::ProcessHeap;

#[cfg(test)]
mod hosted;
#[cfg(test)]
mod testing;
#[cfg(test)]
use testing::main;
