//! [`RawLock`]: the futex word behind [`super::Lock`] and C's `mtx_t`.
//!
//! The word is 0 (free), 1 (held) or 2 (held, and a thread may sleep on
//! it). Taking it is one compare-exchange 0 → 1; under contention a thread
//! spins [`SPINS`] times, then swaps in 2 and sleeps in `futex(2)` while the
//! word stays 2; unlocking swaps in 0 and wakes one sleeper if the word was
//! 2 (U. Drepper, "Futexes Are Tricky", mutex 3).
//!
//! While the process has one thread ([`super::is_threaded`] is false) the
//! word is still kept up to date, but with plain loads and stores instead
//! of read-modify-write instructions: a lock taken before the first thread
//! starts and released after it is then seen as held by the new thread,
//! and its unlock (which by then takes the threaded path) wakes any
//! sleeper.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys::futex;
use crate::sys::time::Timespec;
use crate::sys::Errno;
use linux_raw_sys::general::{FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_WAIT_BITSET};

/// How many times to spin before sleeping in the kernel.
pub const SPINS: u32 = 100;

const FREE: u32 = 0;
const HELD: u32 = 1;
const CONTENDED: u32 = 2;

/// A lock with no data: one futex word. Unlike [`super::Lock`] it has no
/// guard; the holder calls [`RawLock::unlock`].
#[repr(transparent)]
pub struct RawLock {
    state: AtomicU32,
}

impl Default for RawLock {
    fn default() -> Self {
        RawLock::new()
    }
}

impl RawLock {
    /// A free lock.
    pub const fn new() -> RawLock {
        RawLock { state: AtomicU32::new(FREE) }
    }

    /// Takes the lock, spinning briefly and then sleeping while another
    /// thread holds it. Taking a lock the calling thread holds deadlocks
    /// (a single-threaded process does not notice it in release builds).
    #[inline]
    pub fn lock(&self) {
        if !super::is_threaded() {
            debug_assert_eq!(self.state.load(Ordering::Relaxed), FREE, "lock re-entered");
            self.state.store(HELD, Ordering::Relaxed);
            return;
        }
        self.lock_mt();
    }

    /// [`RawLock::lock`] for a process that may have several threads.
    #[inline]
    pub(super) fn lock_mt(&self) {
        if self.state.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_err() {
            // No deadline: the wait cannot time out.
            let _ = self.lock_slow(None);
        }
    }

    /// Takes the lock if it is free; false if it is held (by any thread,
    /// the calling one included).
    #[inline]
    pub fn try_lock(&self) -> bool {
        if !super::is_threaded() {
            if self.state.load(Ordering::Relaxed) != FREE {
                return false;
            }
            self.state.store(HELD, Ordering::Relaxed);
            return true;
        }
        self.try_lock_mt()
    }

    /// [`RawLock::try_lock`] for a process that may have several threads.
    #[inline]
    pub(super) fn try_lock_mt(&self) -> bool {
        self.state.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Takes the lock, waiting at most until the absolute `CLOCK_REALTIME`
    /// time `deadline`. A free lock is taken even if the deadline has
    /// passed. Errors: `ETIMEDOUT` when the deadline passes first,
    /// `EINVAL` for a deadline with nanoseconds outside `0..1e9` (only
    /// noticed when the thread has to wait).
    pub fn lock_until(&self, deadline: &Timespec) -> Result<(), Errno> {
        if self.try_lock() {
            return Ok(());
        }
        self.lock_slow(Some(deadline))
    }

    #[cold]
    fn lock_slow(&self, deadline: Option<&Timespec>) -> Result<(), Errno> {
        for _ in 0..SPINS {
            if self.state.load(Ordering::Relaxed) == FREE
                && self
                    .state
                    .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        // Under Miri (no system calls) a waiter spins; Miri's scheduler
        // runs the holder at each spin.
        #[cfg(miri)]
        while self.state.swap(CONTENDED, Ordering::Acquire) != FREE {
            let _ = deadline;
            core::hint::spin_loop();
        }
        // Mark the lock contended; whoever unlocks will wake one sleeper.
        // Taking it with 2 (rather than 1) may cost one needless wake.
        #[cfg(not(miri))]
        while self.state.swap(CONTENDED, Ordering::Acquire) != FREE {
            match deadline {
                None => {
                    let _ = futex::wait(&self.state, CONTENDED, None);
                }
                Some(d) => {
                    if let Err(e @ (Errno::ETIMEDOUT | Errno::EINVAL)) =
                        wait_until(&self.state, CONTENDED, d)
                    {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Releases the lock.
    ///
    /// # Safety
    /// The calling thread must hold the lock (taken by `lock`, a
    /// successful `try_lock` or `lock_until`, or handed over by a thread
    /// that did).
    #[inline]
    pub unsafe fn unlock(&self) {
        if !super::is_threaded() {
            // One thread: nobody can sleep on the word.
            self.state.store(FREE, Ordering::Relaxed);
            return;
        }
        // SAFETY: the caller holds the lock.
        unsafe { self.unlock_mt() };
    }

    /// [`RawLock::unlock`] for a process that may have several threads.
    ///
    /// # Safety
    /// As for [`RawLock::unlock`].
    #[inline]
    pub(super) unsafe fn unlock_mt(&self) {
        if self.state.swap(FREE, Ordering::Release) == CONTENDED && !cfg!(miri) {
            let _ = futex::wake(&self.state, 1);
        }
    }

    /// Whether some thread holds the lock (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != FREE
    }
}

/// `FUTEX_WAIT_BITSET` with an absolute `CLOCK_REALTIME` deadline: sleeps
/// while `*word == expected`.
#[cfg_attr(miri, allow(dead_code))]
fn wait_until(word: &AtomicU32, expected: u32, deadline: &Timespec) -> Result<usize, Errno> {
    let op = FUTEX_WAIT_BITSET | futex::FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME;
    // SAFETY: `word` is a live aligned u32 and `deadline` a live timespec;
    // FUTEX_WAIT_BITSET ignores `uaddr2`.
    unsafe {
        futex::futex(
            word.as_ptr(),
            op,
            expected,
            deadline,
            core::ptr::null_mut(),
            FUTEX_BITSET_MATCH_ANY,
        )
    }
}
