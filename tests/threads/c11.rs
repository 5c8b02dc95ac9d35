//! C11 `<threads.h>` semantics through `rawrt::thread::c11`, the Rust
//! functions behind the C ABI's `thrd_*` and `mtx_*`.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use rawrt::check::{child, Ended};
use rawrt::rt::errno;
use rawrt::sys::time::Timespec;
use rawrt::thread::c11::{self, Mtx, Thrd, MTX_PLAIN, MTX_RECURSIVE, MTX_TIMED};
use rawrt::thread::c11::{THRD_BUSY, THRD_ERROR, THRD_SUCCESS, THRD_TIMEDOUT};
use rawrt::thread::{self, JoinHandle};

use super::util::{now_ns, realtime_in, wait_for};

/// A mutex in a static: C code keeps them in globals too.
struct Shared(Mtx);
static PLAIN: Shared = Shared(Mtx::new(MTX_PLAIN).unwrap());

fn spawn_c(f: unsafe extern "C" fn(*mut c_void) -> i32, arg: usize) -> Thrd {
    let mut t: Thrd = 0;
    // SAFETY: `t` is writable; `f` takes any argument.
    assert_eq!(unsafe { c11::thrd_create(&mut t, f, arg as *mut c_void) }, THRD_SUCCESS);
    t
}

fn join_c(t: Thrd) -> i32 {
    let mut res = -1;
    // SAFETY: a joinable thread from thrd_create.
    assert_eq!(unsafe { c11::thrd_join(t, &mut res) }, THRD_SUCCESS);
    res
}

pub fn mutex_held_across_first_spawn() {
    // When this runs first, no thread exists yet: the lock is taken with
    // plain stores, and must still be held for the thread spawned next.
    let main_errno = errno::location();
    assert_eq!(PLAIN.0.lock(), THRD_SUCCESS);
    static STEP: AtomicU32 = AtomicU32::new(0);
    let h = thread::spawn(|| {
        assert_eq!(PLAIN.0.trylock(), THRD_BUSY);
        STEP.store(1, Ordering::Release);
        assert_eq!(PLAIN.0.lock(), THRD_SUCCESS);
        let step = STEP.load(Ordering::Acquire);
        assert_eq!(PLAIN.0.unlock(), THRD_SUCCESS);
        step
    });
    wait_for(&STEP, 1);
    thread::sleep(Duration::from_millis(20));
    STEP.store(2, Ordering::Release);
    assert_eq!(PLAIN.0.unlock(), THRD_SUCCESS);
    assert_eq!(h.join(), Ok(2), "the thread got the mutex only after main released it");
    assert_eq!(errno::location(), main_errno, "main's errno stays where it was");
}

unsafe extern "C" fn returns_arg(arg: *mut c_void) -> i32 {
    arg as usize as i32 * 2
}

fn nested_exit(n: i32) -> i32 {
    if n == 0 {
        c11::thrd_exit(77);
    }
    nested_exit(n - 1) + 1
}

unsafe extern "C" fn exits(arg: *mut c_void) -> i32 {
    nested_exit(arg as usize as i32)
}

pub fn thrd_create_join_and_exit() {
    let ts: [Thrd; 4] =
        [spawn_c(returns_arg, 21), spawn_c(exits, 5), spawn_c(returns_arg, 0), spawn_c(exits, 0)];
    assert_eq!([join_c(ts[0]), join_c(ts[1]), join_c(ts[2]), join_c(ts[3])], [42, 77, 0, 77]);
    // A null result pointer is allowed.
    let t = spawn_c(returns_arg, 1);
    // SAFETY: a joinable thread.
    assert_eq!(unsafe { c11::thrd_join(t, core::ptr::null_mut()) }, THRD_SUCCESS);
    // Joining oneself or the main thread is refused.
    // SAFETY: refused before the handle is used.
    assert_eq!(unsafe { c11::thrd_join(c11::thrd_current(), core::ptr::null_mut()) }, THRD_ERROR);
    // Detached C threads release themselves.
    let t = spawn_c(returns_arg, 3);
    // SAFETY: a joinable thread, detached once.
    assert_eq!(unsafe { c11::thrd_detach(t) }, THRD_SUCCESS);
    // A C thread's handle is the Rust handle's raw form.
    // SAFETY: a fresh C thread's handle, of an `i32` thread, used once.
    let h = unsafe { JoinHandle::<i32>::from_raw(spawn_c(returns_arg, 4)) };
    assert_eq!(h.join(), Ok(8));
}

static SEEN: AtomicU32 = AtomicU32::new(0);

unsafe extern "C" fn reports_current(arg: *mut c_void) -> i32 {
    let main = arg as usize;
    let me = c11::thrd_current();
    assert_eq!(c11::thrd_equal(me, main), 0);
    assert_ne!(c11::thrd_equal(me, c11::thrd_current()), 0);
    SEEN.store(1, Ordering::Release);
    (me == main) as i32
}

pub fn thrd_current_and_equal() {
    let main = c11::thrd_current();
    assert_ne!(c11::thrd_equal(main, c11::thrd_current()), 0);
    let t = spawn_c(reports_current, main);
    assert_eq!(join_c(t), 0);
    assert_eq!(SEEN.load(Ordering::Acquire), 1);
    assert_ne!(t, main);
    c11::thrd_yield();
}

pub fn thrd_sleep_results() {
    let d = Timespec { sec: 0, nsec: 20_000_000 };
    let mut rem = Timespec { sec: 9, nsec: 9 };
    let t0 = now_ns();
    // SAFETY: readable and writable timespecs.
    assert_eq!(unsafe { c11::thrd_sleep(&d, &mut rem) }, 0);
    assert!(now_ns() - t0 >= 20_000_000);
    let bad = Timespec { sec: 0, nsec: 2_000_000_000 };
    // SAFETY: as above.
    let r = unsafe { c11::thrd_sleep(&bad, core::ptr::null_mut()) };
    assert!(r < -1, "an invalid duration is an error other than -1: {r}");
}

pub fn mtx_init_kinds() {
    let mut m = core::mem::MaybeUninit::<Mtx>::uninit();
    for kind in [MTX_PLAIN, MTX_TIMED, MTX_PLAIN | MTX_RECURSIVE, MTX_TIMED | MTX_RECURSIVE] {
        // SAFETY: writable storage for an Mtx.
        assert_eq!(unsafe { c11::mtx_init(m.as_mut_ptr(), kind) }, THRD_SUCCESS);
        // SAFETY: initialised just now.
        let mtx = unsafe { m.assume_init_ref() };
        assert_eq!(mtx.lock(), THRD_SUCCESS);
        assert_eq!(mtx.unlock(), THRD_SUCCESS);
        assert_eq!(mtx.unlock(), THRD_ERROR, "unlocking a free mutex");
        c11::mtx_destroy(mtx);
    }
    for kind in [4, 8, -1] {
        // SAFETY: as above.
        assert_eq!(unsafe { c11::mtx_init(m.as_mut_ptr(), kind) }, THRD_ERROR);
    }
    assert!(core::mem::size_of::<Mtx>() <= 40 && core::mem::align_of::<Mtx>() <= 8);
}

static REC: Shared = Shared(Mtx::new(MTX_RECURSIVE).unwrap());

pub fn recursive_mutex() {
    let m = &REC.0;
    assert_eq!(m.lock(), THRD_SUCCESS);
    assert_eq!(m.lock(), THRD_SUCCESS);
    assert_eq!(m.trylock(), THRD_SUCCESS);
    assert_eq!(m.timedlock(&realtime_in(10)), THRD_SUCCESS);
    // Held four times: another thread finds it busy until all four unlocks.
    for remaining in (1..=4).rev() {
        let busy = thread::spawn(|| REC.0.trylock()).join().unwrap();
        assert_eq!(busy, THRD_BUSY, "{remaining} levels held");
        assert_eq!(m.unlock(), THRD_SUCCESS);
    }
    assert_eq!(m.unlock(), THRD_ERROR, "not held any more");
    let other = thread::spawn(|| {
        let r = (REC.0.trylock(), REC.0.lock(), REC.0.unlock(), REC.0.unlock());
        (r, REC.0.unlock())
    });
    assert_eq!(
        other.join(),
        Ok(((THRD_SUCCESS, THRD_SUCCESS, THRD_SUCCESS, THRD_SUCCESS), THRD_ERROR))
    );
}

pub fn trylock_busy_while_held() {
    assert_eq!(PLAIN.0.lock(), THRD_SUCCESS);
    assert_eq!(PLAIN.0.trylock(), THRD_BUSY, "a plain mutex held by the caller is busy");
    let r = thread::spawn(|| (PLAIN.0.trylock(), PLAIN.0.unlock())).join().unwrap();
    assert_eq!(r, (THRD_BUSY, THRD_ERROR), "busy; and a non-holder cannot unlock");
    assert_eq!(PLAIN.0.unlock(), THRD_SUCCESS);
    let r = thread::spawn(|| (PLAIN.0.trylock(), PLAIN.0.unlock())).join().unwrap();
    assert_eq!(r, (THRD_SUCCESS, THRD_SUCCESS));
}

static TIMED: Shared = Shared(Mtx::new(MTX_TIMED).unwrap());

pub fn timedlock_times_out() {
    assert_eq!(TIMED.0.lock(), THRD_SUCCESS);
    let h = thread::spawn(|| {
        let t0 = now_ns();
        let r = TIMED.0.timedlock(&realtime_in(50));
        (r, now_ns() - t0)
    });
    let (r, took) = h.join().unwrap();
    assert_eq!(r, THRD_TIMEDOUT);
    // The deadline is on CLOCK_REALTIME, measured here on CLOCK_MONOTONIC:
    // allow a little for the clocks' different rates.
    assert!(took >= 45_000_000, "timed out after {took} ns");
    // A deadline in the past times out at once; a bad one is an error.
    let r = thread::spawn(|| {
        (TIMED.0.timedlock(&realtime_in(-1000)), TIMED.0.timedlock(&Timespec { sec: 0, nsec: -1 }))
    })
    .join()
    .unwrap();
    assert_eq!(r, (THRD_TIMEDOUT, THRD_ERROR));
    // The holder of a plain timed mutex times out too (as with glibc).
    assert_eq!(TIMED.0.timedlock(&realtime_in(5)), THRD_TIMEDOUT);
    assert_eq!(TIMED.0.unlock(), THRD_SUCCESS);
    // A free mutex is taken even with a deadline in the past.
    assert_eq!(TIMED.0.timedlock(&realtime_in(-1000)), THRD_SUCCESS);
    assert_eq!(TIMED.0.unlock(), THRD_SUCCESS);
}

pub fn timedlock_succeeds_when_released() {
    static STARTED: AtomicU32 = AtomicU32::new(0);
    assert_eq!(TIMED.0.lock(), THRD_SUCCESS);
    let h = thread::spawn(|| {
        STARTED.store(1, Ordering::Release);
        let r = TIMED.0.timedlock(&realtime_in(20_000));
        (r, TIMED.0.unlock())
    });
    wait_for(&STARTED, 1);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(TIMED.0.unlock(), THRD_SUCCESS);
    assert_eq!(h.join(), Ok((THRD_SUCCESS, THRD_SUCCESS)));
}

static COUNT_MTX: Shared = Shared(Mtx::new(MTX_PLAIN | MTX_RECURSIVE).unwrap());
static mut COUNT: u64 = 0;

unsafe extern "C" fn count_up(arg: *mut c_void) -> i32 {
    for _ in 0..arg as usize {
        assert_eq!(COUNT_MTX.0.lock(), THRD_SUCCESS);
        assert_eq!(COUNT_MTX.0.lock(), THRD_SUCCESS);
        // SAFETY: COUNT_MTX serialises every access to COUNT.
        unsafe { COUNT += 1 };
        assert_eq!(COUNT_MTX.0.unlock(), THRD_SUCCESS);
        assert_eq!(COUNT_MTX.0.unlock(), THRD_SUCCESS);
    }
    0
}

pub fn mutex_counter_is_exact() {
    let mut ts = [0 as Thrd; 6];
    for t in ts.iter_mut() {
        *t = spawn_c(count_up, 5000);
    }
    for t in ts {
        assert_eq!(join_c(t), 0);
    }
    // SAFETY: every writer has been joined.
    assert_eq!(unsafe { COUNT }, 30_000);
}

pub fn relocking_a_plain_mutex_aborts() {
    let o = child(|| {
        let m = Mtx::new(MTX_PLAIN).unwrap();
        m.lock();
        m.lock();
        0
    });
    assert_eq!(o.ended, Ended::Signaled(rawrt::sys::signal::SIGABRT as i32));
    assert!(o.stderr().starts_with("rawrt: mtx_lock(): deadlock"), "stderr: {}", o.stderr());
}
