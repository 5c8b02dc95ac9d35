//! The process heap's thread arenas: each thread allocates from an arena
//! of its own; blocks freed by other threads go back to their arena
//! (through its remote list) and are reused; an ended thread's arena and
//! the blocks others still hold pass to the next thread; more threads
//! than arenas share them; a cross-thread double free is reported;
//! cross-thread frees wait in the freeing thread's outbox and reach their
//! arena in batches.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rawrt::check::{child, Ended, Rng};
use rawrt::heap::{self, HeapInfo, MAX_ARENAS, OUTBOX_MAX};
use rawrt::thread;

use super::heap::heap_ok;
use super::util::wait_for;

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(p: *mut u8);
}

fn allocated(i: &HeapInfo) -> (usize, usize) {
    (i.total_allocated_bytes, i.allocated_blocks)
}

fn arena_of(p: usize) -> Option<usize> {
    heap::process().arena_of(p as *const u8)
}

pub fn threads_allocate_from_their_own_arenas() {
    static ALIVE: AtomicU32 = AtomicU32::new(0);
    static GO: AtomicU32 = AtomicU32::new(0);
    ALIVE.store(0, Ordering::Relaxed);
    GO.store(0, Ordering::Relaxed);
    let before = heap::process().info();
    // SAFETY: plain C calls.
    let mine = unsafe { malloc(64) } as usize;
    assert_eq!(arena_of(mine), None, "the main thread uses the main heap");
    let hs: [_; 3] = core::array::from_fn(|t| {
        thread::spawn(move || {
            // SAFETY: plain C calls.
            let p = unsafe { malloc(64 + t) } as usize;
            // SAFETY: a live block of 64 bytes.
            unsafe { (p as *mut u8).write_bytes(t as u8, 64) };
            ALIVE.fetch_add(1, Ordering::AcqRel);
            wait_for(&GO, 1); // all three alive at once
            p
        })
    });
    wait_for(&ALIVE, 3);
    GO.store(1, Ordering::Release);
    let ps = hs.map(|h| h.join().unwrap());
    let arenas = ps.map(arena_of);
    assert!(arenas.iter().all(Option::is_some), "{arenas:?}");
    assert!(
        arenas[0] != arenas[1] && arenas[1] != arenas[2] && arenas[0] != arenas[2],
        "{arenas:?}"
    );
    assert!(heap::process().arenas().0 >= 3);
    for (t, p) in ps.into_iter().enumerate() {
        // SAFETY: live blocks the ended threads allocated.
        unsafe {
            assert!(core::slice::from_raw_parts(p as *const u8, 64).iter().all(|&b| b == t as u8));
            free(p as *mut u8);
        }
    }
    // SAFETY: our own block.
    unsafe { free(mine as *mut u8) };
    assert_eq!(allocated(&heap::process().info()), allocated(&before));
    heap_ok();
}

/// A ring of blocks from a producer to a consumer, which frees them all.
const RING: usize = 1024;
static SLOTS: [AtomicUsize; RING] = [const { AtomicUsize::new(0) }; RING];

pub fn producer_consumer_blocks_come_back() {
    const N: usize = if cfg!(target_arch = "x86_64") { 300_000 } else { 60_000 };
    let before = heap::process().info();
    let producer = thread::spawn(|| {
        let mut rng = Rng::new(5);
        for i in 0..N {
            let len = 16 + rng.below(240);
            // SAFETY: plain C calls; the block holds `len` bytes.
            let p = unsafe { malloc(len) };
            assert!(!p.is_null());
            // SAFETY: as above.
            unsafe {
                p.cast::<usize>().write(i);
                p.add(len - 1).write(i as u8);
            }
            let slot = &SLOTS[i % RING];
            while slot.load(Ordering::Acquire) != 0 {
                thread::yield_now();
            }
            slot.store(p as usize | (len << 48), Ordering::Release);
        }
    });
    let consumer = thread::spawn(|| {
        let mut arena = None;
        for i in 0..N {
            let slot = &SLOTS[i % RING];
            let v = loop {
                match slot.swap(0, Ordering::AcqRel) {
                    0 => thread::yield_now(),
                    v => break v,
                }
            };
            let (p, len) = ((v & ((1 << 48) - 1)) as *mut u8, v >> 48);
            // SAFETY: a live block of `len` bytes the producer handed over.
            unsafe {
                assert_eq!(p.cast::<usize>().read(), i);
                assert_eq!(p.add(len - 1).read(), i as u8);
                arena = arena_of(p as usize);
                free(p);
            }
        }
        arena
    });
    producer.join().unwrap();
    let arena = consumer.join().unwrap();
    assert!(arena.is_some(), "the producer allocated from an arena");
    let after = heap::process().info();
    assert_eq!(allocated(&after), allocated(&before), "every block came back");
    // The producer reused what the consumer gave back: its arena holds a
    // few thousand blocks' worth at most, not all N blocks (~40 MB).
    let grown = after.footprint - before.footprint.min(after.footprint);
    assert!(grown < 8 << 20, "the heap grew by {grown} bytes");
    heap_ok();
}

pub fn an_ended_threads_arena_is_taken_over() {
    const K: usize = 1000;
    static BLOCKS: [AtomicUsize; K] = [const { AtomicUsize::new(0) }; K];
    let before = heap::process().info();
    let first = thread::spawn(|| {
        for (i, b) in BLOCKS.iter().enumerate() {
            // SAFETY: plain C calls.
            let p = unsafe { malloc(48) };
            // SAFETY: a live block of 48 bytes.
            unsafe { p.write_bytes(i as u8, 48) };
            b.store(p as usize, Ordering::Relaxed);
        }
        arena_of(BLOCKS[0].load(Ordering::Relaxed)).unwrap()
    })
    .join()
    .unwrap();
    let (_, idle) = heap::process().arenas();
    assert!(idle >= 1, "the ended thread's arena is idle");
    // Half of its blocks are freed while no thread uses the arena.
    for (i, b) in BLOCKS.iter().enumerate().step_by(2) {
        let p = b.load(Ordering::Relaxed) as *mut u8;
        // SAFETY: live blocks the ended thread allocated.
        unsafe {
            assert!(core::slice::from_raw_parts(p, 48).iter().all(|&x| x == i as u8));
            free(p);
        }
    }
    let second = thread::spawn(|| {
        // SAFETY: plain C calls.
        let p = unsafe { malloc(48) };
        let a = arena_of(p as usize);
        // SAFETY: our own block.
        unsafe { free(p) };
        a
    })
    .join()
    .unwrap();
    assert_eq!(second, Some(first), "the next thread took the idle arena over");
    for (i, b) in BLOCKS.iter().enumerate().skip(1).step_by(2) {
        let p = b.load(Ordering::Relaxed) as *mut u8;
        // SAFETY: live blocks the first thread allocated.
        unsafe {
            assert!(core::slice::from_raw_parts(p, 48).iter().all(|&x| x == i as u8));
            free(p);
        }
    }
    assert_eq!(allocated(&heap::process().info()), allocated(&before));
    heap_ok();
}

pub fn more_threads_than_arenas_share_them() {
    const T: usize = MAX_ARENAS + 6;
    static ALIVE: AtomicU32 = AtomicU32::new(0);
    static GO: AtomicU32 = AtomicU32::new(0);
    static HANDOFF: [AtomicUsize; T] = [const { AtomicUsize::new(0) }; T];
    let before = heap::process().info();
    let hs: [_; T] = core::array::from_fn(|t| {
        thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let mut rng = Rng::new(t as u64 + 1);
                let mut live = [0usize; 32];
                for l in live.iter_mut() {
                    // SAFETY: plain C calls.
                    *l = unsafe { malloc(16 + rng.below(2000)) } as usize;
                }
                ALIVE.fetch_add(1, Ordering::AcqRel);
                wait_for(&GO, 1);
                for round in 0..200 {
                    let i = rng.below(live.len());
                    // Swap a block with the neighbour thread's hand-off slot.
                    let theirs = HANDOFF[(t + 1) % T].swap(live[i], Ordering::AcqRel);
                    // SAFETY: `theirs` is a live block another thread
                    // handed over (ours went to the slot in its place).
                    unsafe {
                        if theirs != 0 {
                            free(theirs as *mut u8);
                        }
                        live[i] = malloc(16 + rng.below(2000) + round) as usize;
                    }
                }
                for &p in &live {
                    // SAFETY: live blocks of ours.
                    unsafe { free(p as *mut u8) };
                }
            })
            .unwrap()
    });
    wait_for(&ALIVE, T as u32);
    GO.store(1, Ordering::Release);
    for h in hs {
        h.join().unwrap();
    }
    for s in &HANDOFF {
        let p = s.swap(0, Ordering::AcqRel);
        // SAFETY: blocks left in the slots are live.
        unsafe { free(p as *mut u8) };
    }
    // With more threads alive at once than there can be arenas, every
    // arena was made, and the threads beyond them shared.
    let (made, _) = heap::process().arenas();
    assert_eq!(made, MAX_ARENAS, "{made} arenas");
    assert_eq!(allocated(&heap::process().info()), allocated(&before));
    heap_ok();
}

pub fn cross_thread_double_free_is_reported() {
    let out = child(|| {
        let p = thread::spawn(|| {
            // SAFETY: plain C call.
            unsafe { malloc(100) as usize }
        })
        .join()
        .unwrap();
        // SAFETY: the second free is the misuse under test.
        unsafe {
            free(p as *mut u8);
            free(p as *mut u8);
        }
        0
    });
    assert_eq!(out.ended, Ended::Signaled(6), "{}", out.stderr());
    let line = out.stderr().trim_end();
    assert!(line.starts_with("rawrt: free(): double free of 0x"), "{line}");
}

/// The allocated blocks as a thread that is neither the owner nor the
/// freeing thread sees them (a new thread, which holds no cache).
fn seen_by_another_thread() -> usize {
    thread::spawn(|| heap::process().info().allocated_blocks).join().unwrap()
}

/// Blocks that a thread frees for another thread's arena wait in its
/// outbox (fewer than `OUTBOX_MAX`: no push yet) and count as allocated for
/// everyone else until they are pushed: by the freeing thread's own
/// `info` (and `check`, `trim`), by its end, by a full outbox.
pub fn remote_frees_wait_in_the_outbox() {
    const N: usize = 60;
    const _: () = assert!(10 < OUTBOX_MAX && OUTBOX_MAX + 3 <= N - 15);
    // (This thread's `info` also pushes what earlier tests left waiting.)
    let before = heap::process().info();
    let ps: [usize; N] = thread::spawn(|| {
        // SAFETY: plain C calls.
        core::array::from_fn(|i| unsafe { malloc(64 + i % 4 * 16) } as usize)
    })
    .join()
    .unwrap();
    assert!(ps.iter().all(|&p| p != 0 && arena_of(p).is_some()), "blocks of an arena");
    let start = seen_by_another_thread();
    // SAFETY: live blocks the ended thread allocated, freed once.
    unsafe { ps[..10].iter().for_each(|&p| free(p as *mut u8)) };
    assert_eq!(seen_by_another_thread(), start, "10 wait in this thread's outbox");
    let mine = heap::process().info().allocated_blocks;
    assert_eq!(seen_by_another_thread(), start - 10, "this thread's info pushed them");
    // Another thread frees 5 and ends: its end pushes them.
    let five: [usize; 5] = ps[10..15].try_into().unwrap();
    thread::spawn(move || {
        // SAFETY: live blocks handed to this thread, freed once.
        unsafe { five.iter().for_each(|&p| free(p as *mut u8)) };
    })
    .join()
    .unwrap();
    assert_eq!(seen_by_another_thread(), start - 15, "the freeing thread's end pushed them");
    assert_eq!(heap::process().info().allocated_blocks, mine - 5);
    // A full outbox pushes itself: after OUTBOX_MAX frees, everything freed
    // so far has reached the arena but what came after.
    let rest = &ps[15..];
    // SAFETY: live blocks, freed once.
    unsafe { rest[..OUTBOX_MAX + 3].iter().for_each(|&p| free(p as *mut u8)) };
    assert_eq!(seen_by_another_thread(), start - 15 - OUTBOX_MAX, "one batch pushed, 3 wait");
    // SAFETY: as above.
    unsafe { rest[OUTBOX_MAX + 3..].iter().for_each(|&p| free(p as *mut u8)) };
    assert_eq!(allocated(&heap::process().info()), allocated(&before), "every block came back");
    heap_ok();
}

/// A thread without a heap of its own yet that frees another arena's
/// blocks holds them in its outbox; when it then takes an arena for its
/// first allocation, they go first (so an outbox never holds blocks of
/// its own thread's heap, which that thread's locked paths would not see):
/// if it took their arena over, its allocations reuse them; if another,
/// every other thread sees them back.
pub fn taking_an_arena_pushes_the_outbox() {
    // SAFETY (both threads): plain C calls on live blocks, each freed once.
    let ps: [usize; 10] =
        thread::spawn(|| core::array::from_fn(|_| unsafe { malloc(48) } as usize)).join().unwrap();
    let start = seen_by_another_thread();
    let (qs, seen) = thread::spawn(move || {
        unsafe { ps.iter().for_each(|&p| free(p as *mut u8)) };
        let qs: [usize; 10] = core::array::from_fn(|_| unsafe { malloc(48) } as usize);
        (qs, seen_by_another_thread())
    })
    .join()
    .unwrap();
    if arena_of(qs[0]) == arena_of(ps[0]) {
        // The first allocation takes the locked path (which takes the list
        // back into the cache, and serves itself from the heap); the
        // others come from the cache. Without the push none would.
        let reused = qs.iter().filter(|q| ps.contains(q)).count();
        assert!(reused >= 9, "the arena's new user got {reused} of the 10 blocks it freed back");
    } else {
        assert_eq!(seen, start, "10 freed (and back in their arena), 10 allocated elsewhere");
    }
    // SAFETY: live blocks.
    unsafe { qs.iter().for_each(|&q| free(q as *mut u8)) };
    heap_ok();
}
