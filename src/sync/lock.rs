//! A futex lock: 0 = free, 1 = held, 2 = held with sleepers.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys::futex;

/// How many times to spin before sleeping in the kernel.
const SPINS: u32 = 100;

/// A mutual-exclusion lock around a `T`.
pub struct Lock<T> {
    state: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by `state` (or, single-threaded,
// by there being one thread).
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: moving the lock moves the `T`.
unsafe impl<T: Send> Send for Lock<T> {}

/// Proof that the lock is held; unlocks on drop.
pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
    atomic: bool,
}

impl<T> Lock<T> {
    /// A free lock around `value`.
    pub const fn new(value: T) -> Self {
        Lock { state: AtomicU32::new(0), data: UnsafeCell::new(value) }
    }

    /// Takes the lock, sleeping while another thread holds it.
    #[inline]
    pub fn lock(&self) -> Guard<'_, T> {
        if !super::is_threaded() {
            return Guard { lock: self, atomic: false };
        }
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        Guard { lock: self, atomic: true }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        if !super::is_threaded() {
            return Some(Guard { lock: self, atomic: false });
        }
        self.state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Guard { lock: self, atomic: true })
    }

    #[cold]
    fn lock_slow(&self) {
        for _ in 0..SPINS {
            if self.state.load(Ordering::Relaxed) == 0
                && self
                    .state
                    .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            core::hint::spin_loop();
        }
        // Mark the lock contended; whoever unlocks will wake one sleeper.
        while self.state.swap(2, Ordering::Acquire) != 0 {
            let _ = futex::wait(&self.state, 2, None);
        }
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
        if self.atomic && self.lock.state.swap(0, Ordering::Release) == 2 {
            let _ = futex::wake(&self.lock.state, 1);
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

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("lock::contended_counter", contended_counter),
        ("lock::try_lock_fails_while_held", try_lock_fails_while_held),
    ];
}
