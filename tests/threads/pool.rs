//! Blocking pools: `Pool::alloc_wait` between threads.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;

use rawrt::pool::{Pool, PoolError};
use rawrt::sync::Lock;
use rawrt::sys::Errno;
use rawrt::thread::{self, JoinHandle};

use super::util::now_ns;

const BLOCK: usize = 64;

/// A fixed pool inside a static region (the pool object at its start).
fn small_pool(region: &'static mut [u8]) -> &'static Pool {
    // SAFETY: the region is 'static and used by nothing else.
    let p = unsafe { Pool::create_in(region.as_mut_ptr(), region.len(), BLOCK, 0) }.unwrap();
    // SAFETY: the pool lives in the 'static region for ever.
    unsafe { p.as_ref() }
}

/// A bounded queue of block addresses.
struct Queue {
    slots: [usize; 64],
    head: usize,
    len: usize,
}

static QUEUE: Lock<Queue> = Lock::new(Queue { slots: [0; 64], head: 0, len: 0 });

fn push(p: usize) {
    loop {
        {
            let mut q = QUEUE.lock();
            if q.len < q.slots.len() {
                let at = (q.head + q.len) % q.slots.len();
                q.slots[at] = p;
                q.len += 1;
                return;
            }
        }
        thread::yield_now();
    }
}

fn pop() -> Option<usize> {
    let mut q = QUEUE.lock();
    if q.len == 0 {
        return None;
    }
    let p = q.slots[q.head];
    q.head = (q.head + 1) % q.slots.len();
    q.len -= 1;
    Some(p)
}

pub fn producers_and_consumer_share_a_small_pool() {
    static mut REGION: [u8; 4096] = [0; 4096];
    static POOL: AtomicUsize = AtomicUsize::new(0);
    // SAFETY: only this test uses REGION, once.
    let pool = small_pool(unsafe { &mut *core::ptr::addr_of_mut!(REGION) });
    let cap = pool.info().capacity;
    assert!(cap < 64, "the pool is smaller than the queue: producers must wait");
    POOL.store(pool as *const Pool as usize, Ordering::Release);
    const EACH: usize = 500;
    let producer = |tag: usize| {
        move || {
            // SAFETY: the pool lives for ever.
            let pool = unsafe { &*(POOL.load(Ordering::Acquire) as *const Pool) };
            for i in 0..EACH {
                let p = pool.alloc_wait(None).unwrap();
                // SAFETY: the block is ours: BLOCK bytes.
                unsafe { p.as_ptr().cast::<usize>().write(tag * 1_000_000 + i) };
                push(p.as_ptr() as usize);
            }
        }
    };
    let a: JoinHandle<()> = thread::spawn(producer(1));
    let b: JoinHandle<()> = thread::spawn(producer(2));
    let consumer = thread::spawn(|| {
        // SAFETY: the pool lives for ever.
        let pool = unsafe { &*(POOL.load(Ordering::Acquire) as *const Pool) };
        let (mut next_a, mut next_b) = (0, 0);
        for n in 0..2 * EACH {
            let p = loop {
                match pop() {
                    Some(p) => break p,
                    None => thread::yield_now(),
                }
            };
            // SAFETY: a block a producer wrote and handed over.
            let v = unsafe { (p as *const usize).read() };
            // Each producer's blocks arrive in its order.
            match v / 1_000_000 {
                1 => (assert_eq!(v % 1_000_000, next_a), next_a += 1),
                2 => (assert_eq!(v % 1_000_000, next_b), next_b += 1),
                _ => panic!("bad tag {v}"),
            };
            if n % 64 == 0 {
                // Let the producers run into an empty pool.
                thread::sleep(Duration::from_millis(1));
            }
            // SAFETY: the block is ours now; nobody uses it after.
            unsafe { pool.free(p as *mut u8) }.unwrap();
        }
        (next_a, next_b)
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(consumer.join().unwrap(), (EACH, EACH));
    let info = pool.info();
    assert_eq!(info.in_use, 0);
    assert_eq!(info.low_water, 0, "the pool ran empty, so producers waited");
}

pub fn alloc_wait_times_out() {
    static mut REGION: [u8; 1024] = [0; 1024];
    // SAFETY: only this test uses REGION, once.
    let pool = small_pool(unsafe { &mut *core::ptr::addr_of_mut!(REGION) });
    let mut held = [None::<NonNull<u8>>; 16];
    for slot in held.iter_mut() {
        *slot = pool.alloc().ok();
    }
    assert_eq!(pool.alloc().unwrap_err(), PoolError::Exhausted);
    for ms in [0u64, 1, 40] {
        let t0 = now_ns();
        let e = pool.alloc_wait(Some(Duration::from_millis(ms))).unwrap_err();
        let took = now_ns() - t0;
        assert_eq!(e, PoolError::TimedOut);
        assert_eq!(e.errno(), Errno::ETIMEDOUT);
        assert!(took >= ms as i128 * 1_000_000, "timed out after {took} ns, asked {ms} ms");
    }
    // With a thread around (so a free could come), the time-out holds too.
    let h = thread::spawn(|| thread::sleep(Duration::from_millis(60)));
    let t0 = now_ns();
    assert_eq!(pool.alloc_wait(Some(Duration::from_millis(30))), Err(PoolError::TimedOut));
    assert!(now_ns() - t0 >= 30_000_000);
    h.join().unwrap();
    for p in held.iter().flatten() {
        // SAFETY: our blocks.
        unsafe { pool.free(p.as_ptr()) }.unwrap();
    }
}

pub fn alloc_wait_wakes_on_free() {
    static mut REGION: [u8; 1024] = [0; 1024];
    static HELD: AtomicUsize = AtomicUsize::new(0);
    static WAITING: AtomicU32 = AtomicU32::new(0);
    // SAFETY: only this test uses REGION, once.
    let pool = small_pool(unsafe { &mut *core::ptr::addr_of_mut!(REGION) });
    while let Ok(p) = pool.alloc() {
        HELD.store(p.as_ptr() as usize, Ordering::Relaxed);
    }
    let pool_addr = pool as *const Pool as usize;
    let freer = thread::spawn(move || {
        super::util::wait_for(&WAITING, 1);
        thread::sleep(Duration::from_millis(30));
        // SAFETY: the pool lives for ever; the block is one main allocated
        // and gave to this thread.
        unsafe { (*(pool_addr as *const Pool)).free(HELD.load(Ordering::Relaxed) as *mut u8) }
            .unwrap();
    });
    WAITING.store(1, Ordering::Release);
    let t0 = now_ns();
    let p = pool.alloc_wait(Some(Duration::from_secs(20))).unwrap();
    let took = now_ns() - t0;
    assert_eq!(p.as_ptr() as usize, HELD.load(Ordering::Relaxed), "the freed block");
    assert!(took < 10_000_000_000, "woken by the free, not the time-out ({took} ns)");
    freer.join().unwrap();
    // And without a time-out.
    let freer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        // SAFETY: as above.
        unsafe { (*(pool_addr as *const Pool)).free(HELD.load(Ordering::Relaxed) as *mut u8) }
            .unwrap();
    });
    assert_eq!(pool.alloc_wait(None).unwrap().as_ptr() as usize, HELD.load(Ordering::Relaxed));
    freer.join().unwrap();
}
