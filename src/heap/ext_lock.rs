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

    /// Takes the lock, if one is set (for heaps other than [`Heap`]: the
    /// small core's, `small/`).
    #[inline(always)]
    pub(super) fn take(&self) {
        if self.lock.load(Acquire) != 0 {
            self.call(&self.take);
        }
    }

    /// Releases the lock that [`take`](Self::take) took.
    #[inline(always)]
    pub(super) fn give(&self) {
        if self.lock.load(Acquire) != 0 {
            self.call(&self.give);
        }
    }

    /// Calls `f` (one of the two functions) on the lock, if one is set.
    #[inline(never)]
    fn call(&self, f: &AtomicUsize) {
        let lock = self.lock.load(Acquire);
        if lock != 0 {
            // SAFETY: the function stored with `lock` (see `set`) takes or
            // gives it.
            unsafe {
                core::mem::transmute::<usize, ExtLockFn>(f.load(Acquire))(lock as *mut c_void)
            };
        }
    }

    /// Sets the lock (see [`Heap::set_external_lock`]).
    ///
    /// # Safety
    /// As for [`Heap::set_external_lock`].
    pub(super) unsafe fn set(&self, lock: *mut c_void, take: ExtLockFn, give: ExtLockFn) {
        self.lock.store(0, Release);
        self.take.store(take as usize, Release);
        self.give.store(give as usize, Release);
        self.lock.store(lock as usize, Release);
    }
}

/// Holds a heap's external lock (if it has one) until dropped.
pub struct ExtHeld<'a, S: Source>(&'a Heap<S>);

impl<S: Source> Drop for ExtHeld<'_, S> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.ext_give();
    }
}

impl<S: Source> Heap<S> {
    /// Takes the external lock, if the heap has one, until the result is
    /// dropped.
    #[inline(always)]
    pub(super) fn ext_hold(&self) -> ExtHeld<'_, S> {
        self.ext_take();
        ExtHeld(self)
    }

    /// Takes the external lock, if the heap has one (nothing at all for a
    /// source without [`EXTERNAL_LOCK`](Source::EXTERNAL_LOCK)).
    #[inline(always)]
    pub(super) fn ext_take(&self) {
        // The test inline, the call out of line: a heap without an
        // external lock (nearly all) pays a load and a branch.
        if S::EXTERNAL_LOCK && self.ext.lock.load(Acquire) != 0 {
            self.ext_call(|e| &e.take);
        }
    }

    /// Releases the external lock that [`ext_take`](Self::ext_take) took.
    /// (The lock cannot change meanwhile: see `set_external_lock`.)
    #[inline(always)]
    pub(super) fn ext_give(&self) {
        if S::EXTERNAL_LOCK && self.ext.lock.load(Acquire) != 0 {
            self.ext_call(|e| &e.give);
        }
    }

    /// Calls `which` function of the external lock on it, if one is set.
    #[inline(never)]
    fn ext_call(&self, which: fn(&ExtLock) -> &AtomicUsize) {
        let e = &self.ext;
        let lock = e.lock.load(Acquire);
        if lock != 0 {
            // SAFETY: the function stored with `lock` (see
            // `set_external_lock`) takes or gives it.
            unsafe {
                let f = core::mem::transmute::<usize, ExtLockFn>(which(e).load(Acquire));
                f(lock as *mut c_void);
            }
        }
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
