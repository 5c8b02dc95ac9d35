//! The process heap under threads: several threads hammering `malloc`,
//! `calloc`, `realloc` and `free` with every byte of every block checked,
//! blocks freed by other threads than the ones that allocated them, and
//! the heap's check and figures consistent after the join; a thread's
//! cache of freed blocks goes back to the heap when the thread ends.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rawrt::heap::{self, HeapInfo};
use rawrt::sync::Lock;
use rawrt::thread;

use super::util::wait_for;

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(p: *mut u8);
    fn calloc(n: usize, size: usize) -> *mut u8;
    fn realloc(p: *mut u8, size: usize) -> *mut u8;
    fn malloc_usable_size(p: *mut u8) -> usize;
}

/// xorshift64*.
use rawrt::check::Rng;

/// The byte at offset `i` of a block tagged `tag`.
fn byte(tag: usize, i: usize) -> u8 {
    (tag.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8
}

/// A block's pattern: its tag in the first word, the rest derived.
fn fill(p: *mut u8, len: usize, tag: usize) {
    // SAFETY: `p` holds `len` bytes.
    unsafe {
        for i in 0..len {
            *p.add(i) = byte(tag, i);
        }
    }
}

#[track_caller]
fn verify(p: *const u8, len: usize, tag: usize) {
    for i in 0..len {
        // SAFETY: `p` holds `len` bytes.
        let b = unsafe { *p.add(i) };
        assert_eq!(b, byte(tag, i), "block {p:p} (tag {tag}) byte {i} of {len}");
    }
}

#[derive(Clone, Copy)]
struct Block {
    p: usize,
    len: usize,
    tag: usize,
}

const THREADS: usize = 4;
const OPS: usize = if cfg!(target_arch = "x86_64") { 60_000 } else { 15_000 };
const LIVE: usize = 200;
const SLOTS: usize = 64;

/// Blocks handed from one thread to another (which frees them).
static EXCHANGE: Lock<[Option<Block>; SLOTS]> = Lock::new([None; SLOTS]);

fn size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=79 => rng.below(600),
        80..=92 => rng.below(8000),
        93..=97 => rng.below(41_000), // the caches' medium bins go to 40 KiB
        _ => rng.below(300_000),      // some large blocks, in their own mappings
    }
}

fn worker(id: usize) -> (usize, usize) {
    let mut rng = Rng::new(0x9E37_79B9 + id as u64 * 7919);
    let mut live = [Block { p: 0, len: 0, tag: 0 }; LIVE];
    let mut n = 0;
    let (mut tag, mut crossed) = (id << 40, 0);
    for _ in 0..OPS {
        match rng.below(10) {
            0..=3 if n < LIVE => {
                let len = size(&mut rng);
                tag += 1;
                // SAFETY: plain C calls.
                let p = unsafe {
                    if rng.below(4) == 0 {
                        let p = calloc(1, len);
                        assert!(!p.is_null());
                        for i in 0..len {
                            assert_eq!(*p.add(i), 0, "calloc byte {i} of {len}");
                        }
                        p
                    } else {
                        malloc(len)
                    }
                };
                assert!(!p.is_null() && p as usize % 16 == 0);
                fill(p, len, tag);
                live[n] = Block { p: p as usize, len, tag };
                n += 1;
            }
            4..=5 if n > 0 => {
                let i = rng.below(n);
                let b = live[i];
                verify(b.p as *const u8, b.len, b.tag);
                let len = size(&mut rng).max(1); // realloc(p, 0) frees p
                                                 // SAFETY: a live block of ours.
                let q = unsafe { realloc(b.p as *mut u8, len) };
                assert!(!q.is_null());
                verify(q, b.len.min(len), b.tag);
                tag += 1;
                fill(q, len, tag);
                live[i] = Block { p: q as usize, len, tag };
            }
            6 if n > 0 => {
                // Hand a block to whichever thread takes it.
                let i = rng.below(n);
                let b = live[i];
                let slot = rng.below(SLOTS);
                let old = EXCHANGE.lock()[slot].replace(b);
                live[i] = live[n - 1];
                n -= 1;
                if let Some(o) = old {
                    verify(o.p as *const u8, o.len, o.tag);
                    // SAFETY: a live block another thread allocated.
                    unsafe { free(o.p as *mut u8) };
                    crossed += 1;
                }
            }
            _ if n > 0 => {
                let i = rng.below(n);
                let b = live[i];
                verify(b.p as *const u8, b.len, b.tag);
                // SAFETY: a live block of ours.
                unsafe { free(b.p as *mut u8) };
                live[i] = live[n - 1];
                n -= 1;
            }
            _ => {}
        }
    }
    let left = n;
    for b in &live[..n] {
        verify(b.p as *const u8, b.len, b.tag);
        // SAFETY: a live block of ours.
        unsafe { free(b.p as *mut u8) };
    }
    (left, crossed)
}

/// The heap check passes, printing nothing.
#[track_caller]
pub fn heap_ok() {
    struct Out(usize);
    impl core::fmt::Write for Out {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            rawrt::eprint!("{s}");
            self.0 += s.len();
            Ok(())
        }
    }
    let mut out = Out(0);
    assert!(heap::process().check(true, &mut out), "the heap check failed");
    assert_eq!(out.0, 0);
}

fn allocated(i: &HeapInfo) -> (usize, usize) {
    (i.total_allocated_bytes, i.allocated_blocks)
}

pub fn threads_hammer_the_heap() {
    let before = heap::process().info();
    let handles: [_; THREADS] = core::array::from_fn(|id| thread::spawn(move || worker(id)));
    let mut crossed = 0;
    for h in handles {
        crossed += h.join().unwrap().1;
    }
    assert!(crossed > 100, "only {crossed} blocks crossed threads");
    for slot in EXCHANGE.lock().iter_mut() {
        if let Some(b) = slot.take() {
            verify(b.p as *const u8, b.len, b.tag);
            // SAFETY: a live block a joined thread allocated.
            unsafe { free(b.p as *mut u8) };
        }
    }
    heap_ok();
    let after = heap::process().info();
    assert_eq!(allocated(&after), allocated(&before), "every block came back");
    assert!(after.peak_allocated_bytes >= before.total_allocated_bytes);
}

pub fn a_threads_cache_goes_back_when_it_ends() {
    static READY: AtomicU32 = AtomicU32::new(0);
    static GO: AtomicU32 = AtomicU32::new(0);
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let before = heap::process().info();
    let h = thread::spawn(|| {
        // SAFETY: plain C calls on the thread's own blocks.
        unsafe {
            let mut ps = [core::ptr::null_mut(); 20];
            for p in ps.iter_mut() {
                *p = malloc(64);
            }
            let usable: usize = ps.iter().map(|&p| malloc_usable_size(p)).sum();
            for &p in ps.iter().rev() {
                free(p);
            }
            // Freed into this thread's cache: to another thread they are
            // still allocated.
            READY.store(1, Ordering::Release);
            wait_for(&GO, 1);
            usable
        }
    });
    wait_for(&READY, 1);
    let during = heap::process().info();
    SEEN.store(during.total_allocated_bytes - before.total_allocated_bytes, Ordering::Relaxed);
    GO.store(1, Ordering::Release);
    let parked = h.join().unwrap();
    assert_eq!(SEEN.load(Ordering::Relaxed), parked, "cached in the other thread");
    let after = heap::process().info();
    assert_eq!(allocated(&after), allocated(&before), "given back as the thread ended");
    heap_ok();
    // With threads the heap's lock is a real one: check_addr takes it once.
    // SAFETY: plain C calls on a block of this test.
    unsafe {
        let p = malloc(100);
        assert!(heap::process().check_addr(p));
        assert!(!heap::process().check_addr(SEEN.as_ptr().cast()));
        free(p);
    }
}
