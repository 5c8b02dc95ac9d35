//! C11 `<threads.h>`: `thrd_*` and `mtx_*` over [`crate::thread::c11`],
//! with glibc's result codes and type sizes (see there).
//!
//! Exported with the `c11-threads` feature (default). `exit` takes no
//! lock, so a program without threads carries no lock code even though
//! `thrd_create` (which may flip `sync::set_threaded`) is exported.

#[cfg(feature = "c11-threads")]
mod imp {
    use crate::heap::RegionRef;
    use crate::sys::time::Timespec;
    use crate::thread::c11::{self, Mtx, Thrd, ThrdStart};
    use core::ffi::c_void;

    c_name! {
    /// C11 `thrd_create`.
    unsafe extern "C" fn thrd_create(thr: *mut Thrd, func: ThrdStart, arg: *mut c_void) -> i32 {
        // SAFETY: the C contract of thrd_create.
        unsafe { c11::thrd_create(thr, func, arg) }
    }
    }

    c_name! {
    /// C11 `thrd_join`.
    unsafe extern "C" fn thrd_join(thr: Thrd, res: *mut i32) -> i32 {
        // SAFETY: the C contract of thrd_join.
        unsafe { c11::thrd_join(thr, res) }
    }
    }

    c_name! {
    /// C11 `thrd_detach`.
    unsafe extern "C" fn thrd_detach(thr: Thrd) -> i32 {
        // SAFETY: the C contract of thrd_detach.
        unsafe { c11::thrd_detach(thr) }
    }
    }

    c_name! {
    /// C11 `thrd_exit`.
    extern "C" fn thrd_exit(res: i32) -> ! {
        c11::thrd_exit(res)
    }
    }

    c_name! {
    /// C11 `thrd_current`.
    extern "C" fn thrd_current() -> Thrd {
        c11::thrd_current()
    }
    }

    c_name! {
    /// C11 `thrd_equal`.
    extern "C" fn thrd_equal(a: Thrd, b: Thrd) -> i32 {
        c11::thrd_equal(a, b)
    }
    }

    c_name! {
    /// C11 `thrd_yield`.
    extern "C" fn thrd_yield() {
        c11::thrd_yield()
    }
    }

    c_name! {
    /// C11 `thrd_sleep`.
    unsafe extern "C" fn thrd_sleep(duration: *const Timespec, remaining: *mut Timespec) -> i32 {
        // SAFETY: the C contract of thrd_sleep.
        unsafe { c11::thrd_sleep(duration, remaining) }
    }
    }

    c_name! {
    /// C11 `mtx_init`.
    unsafe extern "C" fn mtx_init(m: *mut Mtx, kind: i32) -> i32 {
        // SAFETY: the C contract of mtx_init.
        unsafe { c11::mtx_init(m, kind) }
    }
    }

    c_name! {
    /// C11 `mtx_lock`.
    unsafe extern "C" fn mtx_lock(m: *mut Mtx) -> i32 {
        // SAFETY: C passes an initialised mutex.
        unsafe { &*m }.lock()
    }
    }

    c_name! {
    /// C11 `mtx_trylock`.
    unsafe extern "C" fn mtx_trylock(m: *mut Mtx) -> i32 {
        // SAFETY: C passes an initialised mutex.
        unsafe { &*m }.trylock()
    }
    }

    c_name! {
    /// C11 `mtx_timedlock`: `deadline` is an absolute `CLOCK_REALTIME` time.
    unsafe extern "C" fn mtx_timedlock(m: *mut Mtx, deadline: *const Timespec) -> i32 {
        // SAFETY: C passes an initialised mutex and a readable timespec.
        unsafe { (*m).timedlock(&*deadline) }
    }
    }

    c_name! {
    /// C11 `mtx_unlock`.
    unsafe extern "C" fn mtx_unlock(m: *mut Mtx) -> i32 {
        // SAFETY: C passes an initialised mutex.
        unsafe { &*m }.unlock()
    }
    }

    c_name! {
    /// C11 `mtx_destroy`.
    unsafe extern "C" fn mtx_destroy(m: *mut Mtx) {
        // SAFETY: C passes an initialised mutex.
        c11::mtx_destroy(unsafe { &*m })
    }
    }

    /// Takes a C11 mutex: a heap's external lock (`multi_heap_set_lock`).
    unsafe extern "C" fn take(m: *mut c_void) -> i32 {
        // SAFETY: the mutex `multi_heap_set_lock` was given.
        unsafe { &*m.cast::<Mtx>() }.lock()
    }

    /// Releases a C11 mutex: a heap's external lock.
    unsafe extern "C" fn give(m: *mut c_void) -> i32 {
        // SAFETY: the mutex `multi_heap_set_lock` was given.
        unsafe { &*m.cast::<Mtx>() }.unlock()
    }

    c_name! {
    /// ESP-IDF's `multi_heap_set_lock`: every operation of the heap takes
    /// `lock` (a C11 mutex, `mtx_recursive` if the caller holds it across
    /// calls) around its own; NULL returns to the heap's own lock alone.
    unsafe extern "C" fn multi_heap_set_lock(h: *const c_void, lock: *mut Mtx) {
        // SAFETY: C's contract: a handle; `lock` is an initialised mutex
        // that lives while it is set, and the heap is not in use meanwhile.
        unsafe { RegionRef::from_handle(h).set_external_lock(lock.cast(), take, give) }
    }
    }
}
