//! C11 `<threads.h>` semantics, in Rust: what `thrd_*` and `mtx_*` of
//! the C ABI (`src/cabi/thread.rs`) call. Result codes, mutex kinds and
//! type sizes follow glibc's `<threads.h>`, so one C source builds against
//! either library.
//!
//! - `thrd_t` is an `unsigned long`: the address of the thread's control
//!   block ([`JoinHandle::into_raw`]); the main thread's is a static.
//! - `mtx_t` is [`Mtx`]: 24 bytes, 8-aligned (glibc's is 40 bytes on
//!   x86_64 and riscv64, 48 on aarch64), so storage sized for glibc's
//!   type fits. Recursive mutexes count their depth; a plain mutex that
//!   its holder locks again (`mtx_lock`) would deadlock, so that is
//!   reported as misuse and aborts; `mtx_trylock` then says busy and
//!   `mtx_timedlock` waits for its deadline, as glibc does.
//! - `thrd_exit` in the main thread ends only the main thread; the
//!   program ends with status 0 when the last thread ends (C11 7.26.5.5).

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::{tcb, Builder, JoinError, JoinHandle};
use crate::sync::RawLock;
use crate::sys::time::{Timespec, CLOCK_REALTIME};
use crate::sys::Errno;

/// `thrd_success`.
pub const THRD_SUCCESS: i32 = 0;
/// `thrd_busy`: `mtx_trylock` found the mutex held.
pub const THRD_BUSY: i32 = 1;
/// `thrd_error`.
pub const THRD_ERROR: i32 = 2;
/// `thrd_nomem`: no memory for the new thread.
pub const THRD_NOMEM: i32 = 3;
/// `thrd_timedout`: `mtx_timedlock` reached its deadline.
pub const THRD_TIMEDOUT: i32 = 4;

/// `mtx_plain`.
pub const MTX_PLAIN: i32 = 0;
/// `mtx_recursive` (combined with `mtx_plain` or `mtx_timed`).
pub const MTX_RECURSIVE: i32 = 1;
/// `mtx_timed`.
pub const MTX_TIMED: i32 = 2;

/// `thrd_t`.
pub type Thrd = usize;

/// `thrd_start_t`: `int (*)(void *)`.
pub type ThrdStart = unsafe extern "C" fn(*mut c_void) -> i32;

/// The argument of a C thread, which C promises may cross threads.
struct Arg(*mut c_void);
// SAFETY: thrd_create hands the pointer to the new thread as C does.
unsafe impl Send for Arg {}
impl Arg {
    /// Takes the whole wrapper into a closure (not just its field).
    fn get(self) -> *mut c_void {
        self.0
    }
}

/// `thrd_create`: starts `func(arg)` in a new thread (default stack) and
/// stores its handle in `*thr`. `thrd_nomem` when the stack cannot be
/// mapped, `thrd_error` for other failures (thread limits).
///
/// # Safety
/// `thr` must be writable; `func` must be safe to call with `arg` on
/// another thread.
pub unsafe fn thrd_create(thr: *mut Thrd, func: ThrdStart, arg: *mut c_void) -> i32 {
    let arg = Arg(arg);
    // SAFETY: the caller vouches for `func(arg)`.
    match Builder::new().spawn(move || unsafe { func(arg.get()) }) {
        Ok(h) => {
            // SAFETY: the caller passes a writable `thrd_t`.
            unsafe { thr.write(h.into_raw()) };
            THRD_SUCCESS
        }
        Err(Errno::ENOMEM) => THRD_NOMEM,
        Err(_) => THRD_ERROR,
    }
}

/// `thrd_join`: waits for `thr`, stores its result (what its function
/// returned, or what it passed to `thrd_exit`) in `*res` unless `res` is
/// null, and releases it. `thrd_error` for the calling thread itself or
/// the main thread.
///
/// # Safety
/// `thr` must be a joinable thread from [`thrd_create`], not joined or
/// detached before; `res` null or writable.
pub unsafe fn thrd_join(thr: Thrd, res: *mut i32) -> i32 {
    if thr == thrd_current() || thr == tcb::main() as usize {
        return THRD_ERROR;
    }
    // SAFETY: the caller passes a live handle of an `i32` thread.
    let code = match unsafe { JoinHandle::<i32>::from_raw(thr) }.join() {
        Ok(v) | Err(JoinError::Exited(v)) => v,
    };
    if !res.is_null() {
        // SAFETY: the caller passes a writable int or null.
        unsafe { res.write(code) };
    }
    THRD_SUCCESS
}

/// `thrd_detach`: the thread releases itself when it ends.
///
/// # Safety
/// As for [`thrd_join`].
pub unsafe fn thrd_detach(thr: Thrd) -> i32 {
    if thr == tcb::main() as usize {
        return THRD_ERROR;
    }
    // SAFETY: the caller passes a live handle of an `i32` thread.
    unsafe { JoinHandle::<i32>::from_raw(thr) }.detach();
    THRD_SUCCESS
}

/// `thrd_exit`: see [`super::exit`].
pub fn thrd_exit(res: i32) -> ! {
    super::exit(res)
}

/// `thrd_current`: the calling thread's handle (no system call).
pub fn thrd_current() -> Thrd {
    tcb::current() as usize
}

/// `thrd_equal`: non-zero iff `a` and `b` are the same thread.
pub fn thrd_equal(a: Thrd, b: Thrd) -> i32 {
    (a == b) as i32
}

/// `thrd_yield`.
pub fn thrd_yield() {
    super::yield_now()
}

/// `thrd_sleep`: sleeps for `*duration` on `CLOCK_REALTIME` (as glibc
/// does). 0 when the time has passed; -1 when a signal interrupted the
/// sleep (the time left is then stored in `*remaining` unless it is
/// null); -2 on other errors (an invalid duration).
///
/// # Safety
/// `duration` must be readable; `remaining` null or writable.
pub unsafe fn thrd_sleep(duration: *const Timespec, remaining: *mut Timespec) -> i32 {
    // SAFETY: the kernel reads `duration` and writes `remaining` (or not,
    // when null), as the caller allows.
    let r =
        unsafe { crate::syscall!(__NR_clock_nanosleep, CLOCK_REALTIME, 0u32, duration, remaining) };
    match Errno::result(r) {
        Ok(_) => 0,
        Err(Errno::EINTR) => -1,
        Err(_) => -2,
    }
}

/// C11 `mtx_t`. Create it with [`Mtx::new`] (Rust) or [`mtx_init`] (C,
/// over uninitialised storage).
#[repr(C)]
pub struct Mtx {
    lock: RawLock,
    /// `mtx_plain`, `mtx_timed`, each possibly `| mtx_recursive`.
    kind: i32,
    /// The holder's `thrd_t`, 0 when free. Written only by the holder, so
    /// a thread that reads its own handle here holds the mutex.
    owner: AtomicUsize,
    /// How many times the holder has locked it (0 when free).
    depth: UnsafeCell<u32>,
}

// SAFETY: `depth` is touched only by the holder; the rest is atomic.
unsafe impl Sync for Mtx {}
// SAFETY: a mutex holds no thread-bound data.
unsafe impl Send for Mtx {}

const _: () = {
    assert!(core::mem::size_of::<Mtx>() <= 40, "mtx_t larger than glibc's");
    assert!(core::mem::align_of::<Mtx>() <= 8);
};

impl Mtx {
    /// A free mutex of `kind`, or `None` for a kind C11 does not define
    /// (`mtx_plain`, `mtx_timed`, either `| mtx_recursive`).
    pub const fn new(kind: i32) -> Option<Mtx> {
        if kind & !(MTX_RECURSIVE | MTX_TIMED) != 0 {
            return None;
        }
        Some(Mtx {
            lock: RawLock::new(),
            kind,
            owner: AtomicUsize::new(0),
            depth: UnsafeCell::new(0),
        })
    }

    fn recursive(&self) -> bool {
        self.kind & MTX_RECURSIVE != 0
    }

    /// The calling thread's handle if it holds the mutex.
    fn held_by_me(&self) -> Option<Thrd> {
        let me = thrd_current();
        (self.owner.load(Ordering::Relaxed) == me).then_some(me)
    }

    /// One more level for the holder of a recursive mutex.
    fn again(&self) -> i32 {
        // SAFETY: only the holder touches `depth`.
        let depth = unsafe { &mut *self.depth.get() };
        match depth.checked_add(1) {
            Some(d) => {
                *depth = d;
                THRD_SUCCESS
            }
            None => THRD_ERROR,
        }
    }

    fn taken(&self) -> i32 {
        self.owner.store(thrd_current(), Ordering::Relaxed);
        // SAFETY: we hold the lock now.
        unsafe { *self.depth.get() = 1 };
        THRD_SUCCESS
    }

    /// `mtx_lock`: waits until the mutex is free. The holder of a
    /// recursive mutex locks it once more; the holder of a plain one is
    /// reported on stderr and the process aborts (it would deadlock).
    pub fn lock(&self) -> i32 {
        if self.held_by_me().is_some() {
            if self.recursive() {
                return self.again();
            }
            crate::rt::fatal(
                "mtx_lock",
                "deadlock: the calling thread already holds mutex",
                self as *const Mtx as usize,
            );
        }
        self.lock.lock();
        self.taken()
    }

    /// `mtx_trylock`: takes the mutex if free (or recursive and held by
    /// the caller), else `thrd_busy`.
    pub fn trylock(&self) -> i32 {
        if self.held_by_me().is_some() && self.recursive() {
            return self.again();
        }
        if self.lock.try_lock() {
            self.taken()
        } else {
            THRD_BUSY
        }
    }

    /// `mtx_timedlock`: as [`Mtx::lock`], but gives up with
    /// `thrd_timedout` at the absolute `CLOCK_REALTIME` time `deadline`
    /// (a plain mutex held by the caller times out). `thrd_error` for a
    /// deadline whose nanoseconds are outside `0..1e9`.
    pub fn timedlock(&self, deadline: &Timespec) -> i32 {
        if self.held_by_me().is_some() && self.recursive() {
            return self.again();
        }
        match self.lock.lock_until(deadline) {
            Ok(()) => self.taken(),
            Err(Errno::ETIMEDOUT) => THRD_TIMEDOUT,
            Err(_) => THRD_ERROR,
        }
    }

    /// `mtx_unlock`: releases one level; `thrd_error` if the caller does
    /// not hold the mutex.
    pub fn unlock(&self) -> i32 {
        if self.held_by_me().is_none() {
            return THRD_ERROR;
        }
        // SAFETY: only the holder touches `depth`.
        let depth = unsafe { &mut *self.depth.get() };
        if *depth > 1 {
            *depth -= 1;
            return THRD_SUCCESS;
        }
        *depth = 0;
        self.owner.store(0, Ordering::Relaxed);
        // SAFETY: the caller held the lock.
        unsafe { self.lock.unlock() };
        THRD_SUCCESS
    }
}

/// `mtx_init`: a free mutex of `kind` in `*m`; `thrd_error` for an
/// unknown kind (nothing is written then).
///
/// # Safety
/// `m` must be writable storage for an `Mtx` (at least 24 bytes,
/// 8-aligned) that no thread uses as a mutex at the moment.
pub unsafe fn mtx_init(m: *mut Mtx, kind: i32) -> i32 {
    match Mtx::new(kind) {
        Some(mtx) => {
            // SAFETY: per the contract.
            unsafe { m.write(mtx) };
            THRD_SUCCESS
        }
        None => THRD_ERROR,
    }
}

/// `mtx_destroy`: nothing to release (the mutex owns no resources).
pub fn mtx_destroy(_m: &Mtx) {}
