//! Locks for heaps and pools.
//!
//! [`Lock`] is a futex lock that spins briefly and then sleeps in the
//! kernel; [`RawLock`] is its bare futex word (also behind C's `mtx_t`).
//! While the process has a single thread ([`is_threaded`] is false) they
//! take no atomic read-modify-write at all. The thread module flips the
//! flag before it starts the second thread, possibly while the spawning
//! thread holds locks:
//! - a [`RawLock`] records with plain stores whether it is held, so it
//!   stays held for the new thread (C's `mtx_lock` before `thrd_create`);
//! - a [`Lock`] records nothing while single-threaded (free for programs
//!   without threads, such as the release `hello` budget), so it must not
//!   be held across the first spawn; the runtime's own locks never are,
//!   and debug builds assert it.
//!
//! A program that never spawns has no store to the flag, and LTO then
//! removes every threaded path; an exported C function that spawns would
//! keep them (see `cabi/thread.rs`).

mod lock;
mod raw;

pub(crate) use lock::single::held as single_held;
#[cfg(test)]
pub(crate) use lock::tests as lock_tests;
pub use lock::{Guard, Lock};
pub use raw::{RawLock, SPINS};

use core::sync::atomic::{AtomicBool, Ordering};

static THREADED: AtomicBool = AtomicBool::new(false);

/// Whether a second thread may exist. Always true in hosted unit tests,
/// where the test harness's own threads are invisible to us.
#[inline(always)]
pub fn is_threaded() -> bool {
    cfg!(test) || THREADED.load(Ordering::Relaxed)
}

/// Marks the process as multi-threaded; called before the first `clone`
/// of a thread (by [`crate::thread`]). Irreversible. A lock held at this
/// moment stays held (see the module documentation).
pub fn set_threaded() {
    THREADED.store(true, Ordering::SeqCst);
}
