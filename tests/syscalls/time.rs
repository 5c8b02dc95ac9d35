//! `rawrt::sys::time` (clock_gettime, clock_nanosleep, getrandom),
//! `rawrt::sys::futex`, and how `Errno` prints.

use crate::util::*;
use core::sync::atomic::AtomicU32;
use rawrt::sys::futex::{self, FUTEX_WAIT, FUTEX_WAKE};
use rawrt::sys::process::WaitStatus;
use rawrt::sys::time::{
    self, Timespec, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, GRND_NONBLOCK,
    TIMER_ABSTIME,
};
use rawrt::sys::{io, mm, Errno};

/// 2020-01-01T00:00:00Z.
const YEAR_2020: i64 = 1_577_836_800;
const BAD_CLOCK: u32 = 9999;

pub fn clock_gettime_values() {
    let a = time::clock_gettime(CLOCK_MONOTONIC).unwrap();
    let b = time::clock_gettime(CLOCK_MONOTONIC).unwrap();
    assert!(b >= a, "monotonic went back: {:?} then {:?}", a, b);
    for t in [a, b] {
        assert!(t.sec >= 0 && (0..1_000_000_000).contains(&t.nsec), "{:?}", t);
    }
    let wall = time::clock_gettime(CLOCK_REALTIME).unwrap();
    assert!(wall.sec > YEAR_2020, "realtime {:?} is before 2020", wall);
    assert!((0..1_000_000_000).contains(&wall.nsec));
    // CPU time grows while we spin.
    let c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    let mut x = 0u64;
    while now(CLOCK_PROCESS_CPUTIME_ID) - c0 < 1_000_000 {
        x = core::hint::black_box(x + 1);
    }
    assert!(x > 0);
    assert_eq!(time::clock_gettime(BAD_CLOCK), Err(Errno::EINVAL));
}

pub fn clock_nanosleep_sleeps_long_enough() {
    let t0 = now(CLOCK_MONOTONIC);
    assert_eq!(time::clock_nanosleep(CLOCK_MONOTONIC, 0, &ms(20)), Ok(()));
    let slept = now(CLOCK_MONOTONIC) - t0;
    assert!(slept >= 20_000_000, "slept {} ns", slept);
    // An absolute deadline.
    let deadline = add_ms(time::clock_gettime(CLOCK_MONOTONIC).unwrap(), 10);
    assert_eq!(time::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline), Ok(()));
    assert!(now(CLOCK_MONOTONIC) >= deadline.as_nanos());
    // A deadline in the past returns at once.
    assert_eq!(
        time::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &Timespec { sec: 0, nsec: 0 }),
        Ok(())
    );
    let bad = Timespec { sec: 0, nsec: 1_000_000_000 };
    assert_eq!(
        time::clock_nanosleep(CLOCK_MONOTONIC, 0, &bad),
        Err(Errno::EINVAL),
        "nsec out of range"
    );
    assert_eq!(
        time::clock_nanosleep(CLOCK_MONOTONIC, 0, &Timespec { sec: -1, nsec: 0 }),
        Err(Errno::EINVAL)
    );
    assert_eq!(time::clock_nanosleep(BAD_CLOCK, 0, &ms(1)), Err(Errno::EINVAL));
}

pub fn getrandom_fills_and_differs() {
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    assert_eq!(time::getrandom(&mut a, 0), Ok(64));
    assert_eq!(time::getrandom(&mut b, GRND_NONBLOCK), Ok(64));
    assert_ne!(a, b, "two draws of 512 bits are equal");
    // 64 random bytes are all zero, or all equal, with probability 2^-504.
    assert!(a.iter().any(|&x| x != a[0]));
    assert_eq!(time::getrandom(&mut [], 0), Ok(0));
    assert_eq!(time::getrandom(&mut a, 0xffff), Err(Errno::EINVAL), "unknown flags");
}

pub fn futex_wait_wake_private() {
    let word = AtomicU32::new(5);
    assert_eq!(futex::wait(&word, 6, None), Err(Errno::EAGAIN), "the value differs");
    let t0 = now(CLOCK_MONOTONIC);
    assert_eq!(futex::wait(&word, 5, Some(&ms(10))), Err(Errno::ETIMEDOUT));
    assert!(now(CLOCK_MONOTONIC) - t0 >= 10_000_000, "waited the whole time-out");
    assert_eq!(futex::wake(&word, 1), Ok(0), "no waiters");
    let bad = Timespec { sec: 0, nsec: -1 };
    assert_eq!(futex::wait(&word, 5, Some(&bad)), Err(Errno::EINVAL), "bad time-out");
    // SAFETY: the kernel faults on the null word; no memory of ours is used.
    let r = unsafe {
        futex::futex(
            core::ptr::null_mut(),
            FUTEX_WAIT,
            0,
            core::ptr::null(),
            core::ptr::null_mut(),
            0,
        )
    };
    assert_eq!(r, Err(Errno::EFAULT));
    // SAFETY: an unknown operation touches nothing.
    let r =
        unsafe { futex::futex(word.as_ptr(), 99, 0, core::ptr::null(), core::ptr::null_mut(), 0) };
    assert_eq!(r, Err(Errno::ENOSYS), "unknown futex op");
}

pub fn futex_wakes_a_waiter_in_another_process() {
    // A shared (not private) futex in a MAP_SHARED page: the child sleeps
    // on it, the parent wakes it, and FUTEX_WAKE reports one woken waiter.
    // SAFETY: no MAP_FIXED.
    let p = unsafe {
        mm::mmap(
            core::ptr::null_mut(),
            PAGE,
            mm::PROT_READ | mm::PROT_WRITE,
            mm::MAP_SHARED | mm::MAP_ANONYMOUS,
            -1,
            0,
        )
    }
    .unwrap();
    let word = p as *mut u32;
    let kid = spawn(|| {
        // SAFETY: a live aligned word of the shared page, still 0; a
        // time-out keeps a lost wake-up from hanging the test.
        let r = unsafe { futex::futex(word, FUTEX_WAIT, 0, &ms(10_000), core::ptr::null_mut(), 0) };
        match r {
            Ok(0) => 0,
            Err(Errno::ETIMEDOUT) => 2,
            _ => 1,
        }
    });
    let mut woke = Ok(0);
    for _ in 0..5000 {
        // SAFETY: as above; the word stays 0, so a child that is not asleep
        // yet will still go to sleep.
        woke = unsafe {
            futex::futex(word, FUTEX_WAKE, 1, core::ptr::null(), core::ptr::null_mut(), 0)
        };
        if woke != Ok(0) {
            break;
        }
        time::clock_nanosleep(CLOCK_MONOTONIC, 0, &ms(1)).unwrap();
    }
    assert_eq!(woke, Ok(1), "FUTEX_WAKE woke the child");
    assert_eq!(reap(kid), WaitStatus::Exited(0), "the child's FUTEX_WAIT returned 0");
    unmap(p, 1);
}

pub fn errno_display_and_debug() {
    let e = io::close(-1).unwrap_err();
    assert_eq!(e, Errno::EBADF);
    assert_eq!(e.raw(), 9);
    assert_eq!(display(e).as_str(), "EBADF (Bad file descriptor)");
    assert_eq!(display(Errno::ENOMEM).as_str(), "ENOMEM (Cannot allocate memory)");
    assert_eq!(display(Errno::EMSGSIZE).as_str(), "EMSGSIZE (Message too long)");
    assert_eq!(display(Errno::from_raw(4000)).as_str(), "errno 4000");
    assert_eq!(text(format_args!("{:?}", Errno::ETIMEDOUT)).as_str(), "ETIMEDOUT");
    assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
}
