//! [`Lock<T>`]: a [`RawLock`] around a value, released by a guard.
//!
//! Unlike [`RawLock`], a `Lock` records nothing at all while the process
//! has one thread: taking and releasing it are free, which keeps the
//! runtime's own locks (heap, pools, `atexit`) out of single-threaded
//! programs entirely. The price is a rule: no `Lock` may be held across
//! the process's first [`crate::thread::spawn`], since the new thread
//! would find it free. The runtime never does that; debug builds count
//! the locks held in single-threaded mode and the first spawn asserts the
//! count is zero.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

use super::RawLock;

/// A mutual-exclusion lock around a `T`: spins briefly, then sleeps in the
/// kernel (see [`RawLock`]); costs nothing while the process has one
/// thread. Must not be held across the first spawn (see the module
/// documentation); use [`RawLock`] or C's `mtx_t` for locks that may be.
pub struct Lock<T> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by `raw`.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: moving the lock moves the `T`.
unsafe impl<T: Send> Send for Lock<T> {}

/// Proof that the lock is held; unlocks on drop.
pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
    /// Taken through the futex word (false: taken while single-threaded,
    /// nothing recorded).
    atomic: bool,
}

impl<T> Lock<T> {
    /// A free lock around `value`.
    pub const fn new(value: T) -> Self {
        Lock { raw: RawLock::new(), data: UnsafeCell::new(value) }
    }

    /// Takes the lock, sleeping while another thread holds it. Taking it
    /// again in the thread that holds it deadlocks.
    #[inline]
    pub fn lock(&self) -> Guard<'_, T> {
        if !super::is_threaded() {
            single::taken();
            return Guard { lock: self, atomic: false };
        }
        self.raw.lock_mt();
        Guard { lock: self, atomic: true }
    }

    /// Takes the lock if it is free.
    #[inline]
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        if !super::is_threaded() {
            single::taken();
            return Some(Guard { lock: self, atomic: false });
        }
        self.raw.try_lock_mt().then_some(Guard { lock: self, atomic: true })
    }

    /// The value, through exclusive access to the lock itself.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// A raw pointer to the value, for code that holds the lock by other means.
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.atomic {
            // SAFETY: the guard exists only while its thread holds the lock.
            unsafe { self.lock.raw.unlock_mt() };
        } else {
            single::released();
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &mut *self.lock.data.get() }
    }
}

/// Debug builds count the `Lock`s held in single-threaded mode, so that
/// the first spawn can assert that none is (release builds keep nothing).
pub(crate) mod single {
    #[cfg(debug_assertions)]
    static HELD: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

    /// A `Lock` was taken without recording it.
    #[inline(always)]
    pub(crate) fn taken() {
        #[cfg(debug_assertions)]
        {
            use core::sync::atomic::Ordering::Relaxed;
            HELD.store(HELD.load(Relaxed) + 1, Relaxed);
        }
    }

    /// Such a `Lock` was released.
    #[inline(always)]
    pub(crate) fn released() {
        #[cfg(debug_assertions)]
        {
            use core::sync::atomic::Ordering::Relaxed;
            HELD.store(HELD.load(Relaxed).wrapping_sub(1), Relaxed);
        }
    }

    /// How many `Lock`s the (single) thread holds unrecorded; always 0 in
    /// release builds.
    pub(crate) fn held() -> usize {
        #[cfg(debug_assertions)]
        {
            HELD.load(core::sync::atomic::Ordering::Relaxed)
        }
        #[cfg(not(debug_assertions))]
        0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Lock;
    use std::sync::Arc;

    fn contended_counter() {
        let lock = Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        *l.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 400_000);
    }

    fn try_lock_fails_while_held() {
        let lock = Lock::new(5);
        let g = lock.lock();
        assert!(lock.try_lock().is_none());
        drop(g);
        assert_eq!(*lock.try_lock().unwrap(), 5);
    }

    fn raw_lock_until_times_out_then_succeeds() {
        use crate::sync::RawLock;
        use crate::sys::time::{clock_gettime, Timespec, CLOCK_REALTIME};
        let in_ms = |ms: i64| {
            let t = clock_gettime(CLOCK_REALTIME).unwrap().as_nanos() + ms as i128 * 1_000_000;
            Timespec { sec: (t / 1_000_000_000) as i64, nsec: (t % 1_000_000_000) as i64 }
        };
        let raw = Arc::new(RawLock::new());
        raw.lock();
        let r = raw.clone();
        let t0 = std::time::Instant::now();
        let timed_out = std::thread::spawn(move || r.lock_until(&in_ms(40))).join().unwrap();
        assert_eq!(timed_out, Err(crate::sys::Errno::ETIMEDOUT));
        assert!(t0.elapsed() >= std::time::Duration::from_millis(39));
        let r = raw.clone();
        let waiter = std::thread::spawn(move || {
            let got = r.lock_until(&in_ms(20_000));
            // SAFETY: held if `got` is Ok.
            unsafe { r.unlock() };
            got
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        // SAFETY: this thread took it above.
        unsafe { raw.unlock() };
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert!(!raw.is_locked());
        let bad = Timespec { sec: 0, nsec: 1_000_000_000 };
        raw.lock();
        let r = raw.clone();
        assert_eq!(
            std::thread::spawn(move || r.lock_until(&bad)).join().unwrap(),
            Err(crate::sys::Errno::EINVAL)
        );
        // SAFETY: taken above.
        unsafe { raw.unlock() };
    }

    fn raw_lock_contended_counter() {
        use crate::sync::RawLock;
        struct Shared(RawLock, std::cell::UnsafeCell<u64>);
        // SAFETY: the lock serialises the cell.
        unsafe impl Sync for Shared {}
        let s = Arc::new(Shared(RawLock::new(), std::cell::UnsafeCell::new(0)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..50_000 {
                        s.0.lock();
                        // SAFETY: under the lock.
                        unsafe { *s.1.get() += 1 };
                        // SAFETY: taken above.
                        unsafe { s.0.unlock() };
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // SAFETY: every thread has been joined.
        assert_eq!(unsafe { *s.1.get() }, 200_000);
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("lock::contended_counter", contended_counter),
        ("lock::try_lock_fails_while_held", try_lock_fails_while_held),
        ("lock::raw_lock_until_times_out_then_succeeds", raw_lock_until_times_out_then_succeeds),
        ("lock::raw_lock_contended_counter", raw_lock_contended_counter),
    ];
}
