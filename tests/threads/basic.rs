//! Spawn and join, stack sizes, locks under contention, per-thread errno,
//! ids, sleep and yield.

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use rawrt::rt::errno;
use rawrt::sync::{Lock, RawLock};
use rawrt::sys::Errno;
use rawrt::thread::{self, Builder, JoinHandle};

use super::util::{now_ns, wait_for};

pub fn spawn_join_returns_values() {
    let a = thread::spawn(|| 6 * 7);
    let b = thread::spawn(|| (1u8, [2u64; 40], -3i16));
    let c = thread::spawn(|| ());
    assert_eq!(a.join(), Ok(42));
    let (x, arr, z) = b.join().unwrap();
    assert_eq!((x, z), (1, -3));
    assert!(arr.iter().all(|&v| v == 2));
    assert_eq!(c.join(), Ok(()));
    // Captured values move into the thread, results move out.
    let input = [7u32; 16];
    let h = thread::spawn(move || input.iter().sum::<u32>());
    assert_eq!(h.join(), Ok(112));
    // Many at once, joined in reverse order.
    let mut hs: [Option<JoinHandle<u64>>; 16] = Default::default();
    for (i, h) in hs.iter_mut().enumerate() {
        *h = Some(thread::spawn(move || (i as u64) * (i as u64)));
    }
    for (i, h) in hs.iter_mut().enumerate().rev() {
        assert_eq!(h.take().unwrap().join(), Ok((i * i) as u64));
    }
}

fn depth(n: u32) -> u32 {
    let pad = [n as u8; 512];
    if n == 0 {
        return core::hint::black_box(pad)[0] as u32;
    }
    depth(n - 1) + core::hint::black_box(pad)[1] as u32 - n + 1
}

pub fn small_stack_and_big_closure() {
    // The smallest stack still runs a few frames.
    let h = Builder::new().stack_size(1).spawn(|| depth(4)).unwrap();
    assert_eq!(h.join(), Ok(4));
    // A closure and a result bigger than a page live at the top of the
    // thread's own mapping.
    let big = [5u8; 10_000];
    let h = Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let mut out = [0u8; 9000];
            out.copy_from_slice(&big[..9000]);
            out[8999] = depth(50) as u8;
            out
        })
        .unwrap();
    let out = h.join().unwrap();
    assert!(out[..8999].iter().all(|&b| b == 5));
    assert_eq!(out[8999], 50);
}

static COUNTER: Lock<u64> = Lock::new(0);

pub fn lock_counter_is_exact() {
    const THREADS: usize = 8;
    const EACH: u64 = 20_000;
    let start = *COUNTER.lock();
    let mut hs: [Option<JoinHandle<()>>; THREADS] = Default::default();
    for h in hs.iter_mut() {
        *h = Some(thread::spawn(|| {
            for _ in 0..EACH {
                let mut g = COUNTER.lock();
                // A read, a yield point and a write: lost updates would show.
                let v = *g;
                core::hint::spin_loop();
                *g = v + 1;
            }
        }));
    }
    for h in hs.iter_mut() {
        h.take().unwrap().join().unwrap();
    }
    assert_eq!(*COUNTER.lock() - start, THREADS as u64 * EACH);
}

static RAW: RawLock = RawLock::new();
static mut RAW_COUNT: u64 = 0;

pub fn raw_lock_counter_is_exact() {
    let mut hs: [Option<JoinHandle<()>>; 4] = Default::default();
    for h in hs.iter_mut() {
        *h = Some(thread::spawn(|| {
            for i in 0..10_000 {
                if i % 2 == 0 {
                    RAW.lock();
                } else {
                    while !RAW.try_lock() {
                        thread::yield_now();
                    }
                }
                // SAFETY: RAW serialises every access to RAW_COUNT.
                unsafe { RAW_COUNT += 1 };
                // SAFETY: this thread holds RAW.
                unsafe { RAW.unlock() };
            }
        }));
    }
    for h in hs.iter_mut() {
        h.take().unwrap().join().unwrap();
    }
    assert!(!RAW.is_locked());
    // SAFETY: every writer has been joined.
    assert_eq!(unsafe { RAW_COUNT }, 40_000);
}

pub fn errno_is_per_thread() {
    static ARRIVED: AtomicU32 = AtomicU32::new(0);
    static CHECKED: AtomicU32 = AtomicU32::new(0);
    const N: u32 = 6;
    errno::set(Errno::EPERM);
    let main_loc = errno::location() as usize;
    let mut hs: [Option<JoinHandle<usize>>; N as usize] = Default::default();
    for (i, h) in hs.iter_mut().enumerate() {
        *h = Some(thread::spawn(move || {
            assert_eq!(errno::get(), 0, "a new thread starts with errno 0");
            let mine = Errno::from_raw(10 + i as i32);
            errno::set(mine);
            // Everyone sets before anyone reads back.
            ARRIVED.fetch_add(1, Ordering::AcqRel);
            wait_for(&ARRIVED, N);
            assert_eq!(errno::get(), mine.raw());
            CHECKED.fetch_add(1, Ordering::AcqRel);
            errno::location() as usize
        }));
    }
    let mut locs = [0usize; N as usize];
    for (h, loc) in hs.iter_mut().zip(locs.iter_mut()) {
        *loc = h.take().unwrap().join().unwrap();
    }
    assert_eq!(CHECKED.load(Ordering::Acquire), N);
    assert_eq!(errno::get(), Errno::EPERM.raw(), "main's errno is untouched");
    assert_eq!(errno::location() as usize, main_loc);
    for (i, a) in locs.iter().enumerate() {
        assert_ne!(*a, main_loc);
        assert!(locs[i + 1..].iter().all(|b| b != a), "every thread has its own errno");
    }
    errno::set(Errno::from_raw(0));
}

pub fn ids_differ_and_match_handles() {
    let me = thread::current();
    assert_eq!(me.as_raw(), rawrt::sys::process::getpid(), "the main thread's tid is the pid");
    static GO: AtomicU32 = AtomicU32::new(0);
    GO.store(0, Ordering::Relaxed);
    let h = thread::spawn(|| {
        wait_for(&GO, 1);
        thread::current()
    });
    let seen_by_handle = h.id();
    assert_ne!(seen_by_handle, me);
    GO.store(1, Ordering::Release);
    let seen_by_thread = {
        let h = h;
        // The id stays readable until the thread has exited.
        let id = h.id();
        let r = h.join().unwrap();
        assert!(id == r || id.as_raw() == 0);
        r
    };
    assert_eq!(seen_by_thread, seen_by_handle);
}

pub fn sleep_and_yield() {
    let t0 = now_ns();
    thread::sleep(Duration::from_millis(30));
    assert!(now_ns() - t0 >= 30_000_000, "slept {} ns", now_ns() - t0);
    thread::sleep(Duration::ZERO);
    thread::yield_now();
    let h = thread::spawn(|| {
        let t0 = now_ns();
        thread::sleep(Duration::from_millis(10));
        now_ns() - t0
    });
    assert!(h.join().unwrap() >= 10_000_000);
}
