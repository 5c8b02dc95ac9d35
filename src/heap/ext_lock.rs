//! A heap's external lock (ESP-IDF's `multi_heap_set_lock`): a lock the
//! caller owns (C11's `mtx_t`, made recursive by the caller) that every
//! operation of the heap takes around its own, so that the caller can
//! hold it across several calls and every other user of the heap waits
//! for it. Only region heaps have one ([`Source::EXTERNAL_LOCK`]); for
//! the process heap the check compiles away.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering::Acquire, Ordering::Release};

use super::heap::Heap;
use super::source::Source;

/// Takes or releases the lock at its argument (`mtx_lock`, `mtx_unlock`):
/// 0 on success.
pub type ExtLockFn = unsafe extern "C" fn(*mut c_void) -> i32;

/// The external lock of a heap: its address (0: none) and the functions
/// that take and release it.
#[derive(Default)]
pub struct ExtLock {
    lock: AtomicUsize,
    take: AtomicUsize,
    give: AtomicUsize,
}

impl ExtLock {
    /// No external lock.
    pub const fn new() -> Self {
        ExtLock { lock: AtomicUsize::new(0), take: AtomicUsize::new(0), give: AtomicUsize::new(0) }
    }
}

/// Holds a heap's external lock (if it has one) until dropped.
pub struct ExtGuard {
    lock: usize,
    give: usize,
}

impl Drop for ExtGuard {
    #[inline]
    fn drop(&mut self) {
        if self.lock != 0 {
            // SAFETY: `give` is the `ExtLockFn` stored with `lock` (see
            // `set_external_lock`), and this guard took the lock.
            unsafe {
                let give = core::mem::transmute::<usize, ExtLockFn>(self.give);
                give(self.lock as *mut c_void);
            }
        }
    }
}

impl<S: Source> Heap<S> {
    /// Takes the external lock, if the heap has one.
    #[inline(always)]
    pub(super) fn ext_lock(&self) -> ExtGuard {
        if !S::EXTERNAL_LOCK {
            return ExtGuard { lock: 0, give: 0 };
        }
        self.ext_lock_slow()
    }

    #[inline(never)]
    fn ext_lock_slow(&self) -> ExtGuard {
        let e = &self.ext;
        let lock = e.lock.load(Acquire);
        if lock == 0 {
            return ExtGuard { lock: 0, give: 0 };
        }
        // SAFETY: `take` is the `ExtLockFn` stored with `lock`.
        unsafe {
            let take = core::mem::transmute::<usize, ExtLockFn>(e.take.load(Acquire));
            take(lock as *mut c_void);
        }
        ExtGuard { lock, give: e.give.load(Acquire) }
    }

    /// From now on every operation of the heap takes `lock` (with `take`,
    /// releasing it with `give`) around its own lock; a null `lock`
    /// returns to the heap's own lock alone. Heaps whose source has no
    /// [`EXTERNAL_LOCK`](Source::EXTERNAL_LOCK) ignore it.
    ///
    /// # Safety
    /// `lock` stays valid while set; `take` and `give` take and release
    /// it (recursively, if the caller holds it across calls to the heap);
    /// no other thread uses the heap while the lock is changed.
    pub unsafe fn set_external_lock(&self, lock: *mut c_void, take: ExtLockFn, give: ExtLockFn) {
        let e = &self.ext;
        e.lock.store(0, Release);
        e.take.store(take as usize, Release);
        e.give.store(give as usize, Release);
        e.lock.store(lock as usize, Release);
    }
}
