//! Locks for heaps and pools.
//!
//! [`Lock`] is a futex lock that spins briefly and then sleeps in the
//! kernel. While the process has a single thread ([`is_threaded`] is false)
//! it takes no atomic read-modify-write at all: the thread module flips the
//! flag before it starts the second thread, never while a lock is held.

mod lock;

pub use lock::{Guard, Lock};
#[cfg(test)]
pub(crate) use lock::tests as lock_tests;

use core::sync::atomic::{AtomicBool, Ordering};

static THREADED: AtomicBool = AtomicBool::new(false);

/// Whether a second thread may exist. Always true in hosted unit tests,
/// where the test harness's own threads are invisible to us.
#[inline(always)]
pub fn is_threaded() -> bool {
    cfg!(test) || THREADED.load(Ordering::Relaxed)
}

/// Marks the process as multi-threaded; called before the first `clone`
/// of a thread. Irreversible.
pub fn set_threaded() {
    THREADED.store(true, Ordering::SeqCst);
}
