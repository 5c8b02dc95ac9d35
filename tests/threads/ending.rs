//! How threads end: stack overflow, `thread::exit`, panics, the main
//! thread's exit, detached threads, and the mappings they leave.

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use rawrt::check::{child, Ended};
use rawrt::thread::{self, Builder, JoinError};

use super::util::{mappings, now_ns, wait_for};

#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let frame = core::hint::black_box([n; 128]);
    recurse(n + 1).wrapping_add(frame[7])
}

pub fn stack_overflow_is_sigsegv() {
    let o = child(|| {
        let h = Builder::new().stack_size(64 << 10).spawn(|| recurse(0)).unwrap();
        let _ = h.join();
        0
    });
    assert_eq!(
        o.ended,
        Ended::Signaled(rawrt::sys::signal::SIGSEGV as i32),
        "stderr: {}",
        o.stderr()
    );
    assert_eq!(o.stderr(), "");
}

fn deep_exit(code: i32, depth: u32) -> i32 {
    if depth == 0 {
        thread::exit(code);
    }
    deep_exit(code, depth - 1) + 1
}

pub fn exit_code_reaches_join() {
    let h = thread::spawn(|| deep_exit(42, 10));
    assert_eq!(h.join(), Err(JoinError::Exited(42)));
    let h = thread::spawn(|| -> [u8; 64] { thread::exit(-7) });
    assert_eq!(h.join(), Err(JoinError::Exited(-7)));
    // A thread that exits after others finished normally.
    let a = thread::spawn(|| 1);
    let b = thread::spawn(|| -> i32 { thread::exit(2) });
    assert_eq!((a.join(), b.join()), (Ok(1), Err(JoinError::Exited(2))));
}

pub fn panic_in_thread_ends_process_with_101() {
    let o = child(|| {
        let h = thread::spawn(|| -> i32 { panic!("boom in a thread") });
        let _ = h.join();
        rawrt::println!("not reached");
        0
    });
    assert_eq!(o.ended, Ended::Exited(101));
    assert!(o.stderr().contains("boom in a thread"), "stderr: {}", o.stderr());
    assert_eq!(o.stdout(), "");
}

pub fn main_thread_exit_waits_for_others() {
    let o = child(|| {
        let h = thread::spawn(|| {
            thread::sleep(Duration::from_millis(50));
            rawrt::println!("worker done");
            5
        });
        h.detach();
        // Ends the main thread only; the process ends with status 0 once
        // the worker is done.
        thread::exit(9)
    });
    assert_eq!(o.ended, Ended::Exited(0), "stderr: {}", o.stderr());
    assert_eq!(o.stdout(), "worker done\n");
    // Alone, the main thread's exit ends the process at once with 0.
    let o = child(|| thread::exit(3));
    assert_eq!(o.ended, Ended::Exited(0));
}

static DROPS: AtomicU32 = AtomicU32::new(0);

struct Counted(#[allow(dead_code)] [u8; 32]);
impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::AcqRel);
    }
}

pub fn detached_threads_drop_results_once() {
    DROPS.store(0, Ordering::Relaxed);
    // Dropped while running: the thread drops its own result.
    let h = thread::spawn(|| {
        thread::sleep(Duration::from_millis(30));
        Counted([1; 32])
    });
    drop(h);
    wait_for(&DROPS, 1);
    // Dropped after finishing: the handle reaps it.
    let h = thread::spawn(|| Counted([2; 32]));
    let t0 = now_ns();
    while !h.is_finished() {
        assert!(now_ns() - t0 < 10_000_000_000);
        thread::yield_now();
    }
    h.detach();
    assert_eq!(DROPS.load(Ordering::Acquire), 2);
    // Joined: the caller owns (and drops) the result.
    let r = thread::spawn(|| Counted([3; 32])).join().unwrap();
    assert_eq!(DROPS.load(Ordering::Acquire), 2);
    drop(r);
    assert_eq!(DROPS.load(Ordering::Acquire), 3);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(DROPS.load(Ordering::Acquire), 3, "each result dropped exactly once");
}

/// Set when a detached thread's result (`Dropped` last) has been dropped.
static RESULT_DROPPED: AtomicU32 = AtomicU32::new(0);
struct Dropped;
impl Drop for Dropped {
    fn drop(&mut self) {
        RESULT_DROPPED.store(1, Ordering::Release);
    }
}

/// A detached thread that drops its own result frees the result's blocks
/// after its exit hook gave its cache back (so as a thread without a
/// heap, through its outbox): they reach their arena all the same.
pub fn detached_threads_result_blocks_come_back() {
    RESULT_DROPPED.store(0, Ordering::Relaxed);
    let before = rawrt::heap::process().info().allocated_blocks;
    let h = thread::spawn(|| {
        thread::sleep(Duration::from_millis(30));
        // Fields drop in order: the blocks are freed when `Dropped` runs.
        let blocks: alloc::vec::Vec<_> =
            (0..20u64).map(|i| alloc::boxed::Box::new([i; 5])).collect();
        (blocks, Dropped)
    });
    drop(h);
    wait_for(&RESULT_DROPPED, 1);
    let t0 = now_ns();
    loop {
        let now = rawrt::heap::process().info().allocated_blocks;
        if now == before {
            break;
        }
        assert!(
            now_ns() - t0 < 5_000_000_000,
            "{} blocks (of the 21 of the result) did not come back",
            now as isize - before as isize
        );
        thread::sleep(Duration::from_millis(1));
    }
    // Gone before the next test counts mappings.
    thread::sleep(Duration::from_millis(20));
}

pub fn no_mappings_left_after_1000_cycles() {
    // Warm up: the first spawn of a process may set things up.
    thread::spawn(|| ()).join().unwrap();
    let before = mappings();
    for i in 0..1000u32 {
        let h = if i % 2 == 0 {
            thread::spawn(move || i)
        } else {
            Builder::new().stack_size(32 << 10).spawn(move || i).unwrap()
        };
        assert_eq!(h.join(), Ok(i));
    }
    let after = mappings();
    assert_eq!(after, before, "mappings before and after 1000 spawn/join cycles");
}

pub fn detached_threads_unmap_themselves() {
    static DONE: AtomicU32 = AtomicU32::new(0);
    thread::spawn(|| ()).join().unwrap();
    let before = mappings();
    DONE.store(0, Ordering::Relaxed);
    for _ in 0..100 {
        thread::spawn(|| {
            DONE.fetch_add(1, Ordering::AcqRel);
        })
        .detach();
    }
    wait_for(&DONE, 100);
    // The last ones may still be unmapping themselves.
    let t0 = now_ns();
    while mappings() != before {
        assert!(now_ns() - t0 < 10_000_000_000, "mappings {} != {}", mappings(), before);
        thread::sleep(Duration::from_millis(1));
    }
}
