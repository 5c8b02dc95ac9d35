//! `futex(2)`: the kernel's wait queue keyed by an address.

use super::time::Timespec;
use super::{ret, Errno};
use crate::syscall;
use core::sync::atomic::AtomicU32;

pub use linux_raw_sys::general::{FUTEX_PRIVATE_FLAG, FUTEX_WAIT, FUTEX_WAKE};

/// Sleeps while `*word == expected`, at most `timeout` (relative) if given.
/// Returns `Err(EAGAIN)` if the value differed, `Err(ETIMEDOUT)` on time-out
/// and `Err(EINTR)` on a signal.
#[inline]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<&Timespec>) -> Result<(), Errno> {
    let ts = timeout.map_or(core::ptr::null(), |t| t as *const Timespec);
    // SAFETY: `word` is a live aligned u32; `ts` is null or a timespec.
    ret(unsafe {
        syscall!(__NR_futex, word.as_ptr(), FUTEX_WAIT | FUTEX_PRIVATE_FLAG, expected, ts)
    })
    .map(|_| ())
}

/// Wakes at most `n` waiters on `word`; returns how many woke.
#[inline]
pub fn wake(word: &AtomicU32, n: u32) -> Result<usize, Errno> {
    // SAFETY: `word` is a live aligned u32.
    ret(unsafe { syscall!(__NR_futex, word.as_ptr(), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n) })
}

/// The raw `futex(2)` call, for operations the helpers above do not cover
/// (shared futexes, `FUTEX_WAIT_BITSET`, ...).
///
/// # Safety
/// The arguments must be valid for `op`.
pub unsafe fn futex(
    uaddr: *mut u32,
    op: u32,
    val: u32,
    timeout: *const Timespec,
    uaddr2: *mut u32,
    val3: u32,
) -> Result<usize, Errno> {
    // SAFETY: the caller vouches for the arguments.
    ret(unsafe { syscall!(__NR_futex, uaddr, op, val, timeout, uaddr2, val3) })
}
