//! The detections of heap poisoning, run in one mode per test binary
//! (`tests/poison_off.rs`, `poison_light.rs`, `poison_comprehensive.rs`:
//! the mode is chosen before the process heap's first allocation and
//! holds for the process). Each scenario runs in a forked child, which
//! announces the block (`addr 0x...` on stdout) before it misuses it; the
//! test asserts how the child ended (the signal or a normal exit) and
//! exactly what it printed, in every mode: what the mode detects and what
//! it does not.

use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, Ordering};
use rawrt::check::{child, Ended};
use rawrt::heap::{self, Poisoning};
use rawrt::sys::Errno;

#[path = "death.rs"]
mod death;
use death::{aborts, announce, outcome, survives};

const SIGABRT: i32 = 6;
const SIGSEGV: i32 = 11;

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(p: *mut u8);
    fn realloc(p: *mut u8, size: usize) -> *mut u8;
    fn malloc_usable_size(p: *mut u8) -> usize;
    fn heap_caps_check_integrity_all(print_errors: bool) -> bool;
    fn rawrt_heap_check(print_errors: bool) -> bool;
    fn rawrt_heap_set_poisoning(mode: i32) -> i32;
    fn __errno_location() -> *mut i32;
}

/// The mode of this binary, and whether choosing it succeeded (0 not
/// tried, 1 succeeded, 2 failed).
static MODE: AtomicU8 = AtomicU8::new(0);
static SET: AtomicU8 = AtomicU8::new(0);

fn mode() -> Poisoning {
    match MODE.load(Ordering::Relaxed) {
        2 => Poisoning::Light,
        3 => Poisoning::Comprehensive,
        _ => Poisoning::Off,
    }
}

fn poisoned() -> bool {
    mode() != Poisoning::Off
}

fn comprehensive() -> bool {
    mode() == Poisoning::Comprehensive
}

/// Chooses `m` before anything allocates, then runs the scenarios.
pub fn run(m: Poisoning) -> i32 {
    MODE.store(m as u8, Ordering::Relaxed);
    let ok = heap::set_poisoning(m).is_ok();
    SET.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
    rawrt::check::run(&[
        ("poison::mode_is_chosen_before_the_first_allocation", chosen_before_first_allocation),
        ("poison::one_byte_overflow", one_byte_overflow),
        ("poison::overflow_into_a_neighbour", overflow_into_a_neighbour),
        ("poison::overflow_found_by_realloc", overflow_found_by_realloc),
        ("poison::overflow_of_a_rust_box", overflow_of_a_rust_box),
        ("poison::write_after_free_at_0_8_100_4000", write_after_free),
        ("poison::double_free", double_free),
        ("poison::malloc0_read_and_write", malloc0_access),
        ("poison::malloc0_blocks_are_distinct_and_freed", malloc0_blocks),
        ("poison::checks_find_overflow_and_write_after_free", checks_find_damage),
        ("poison::intact_heap_passes_every_check", intact_heap_passes),
        ("poison::threads_share_the_poisoned_heap", threads_share_the_heap),
    ])
}

fn poke(p: *mut u8, off: usize, v: u8) {
    // SAFETY: the scenarios write around and after blocks on purpose.
    unsafe { p.add(off).write_volatile(v) }
}

fn peek(p: *mut u8) -> u8 {
    // SAFETY: as for `poke`.
    unsafe { p.read_volatile() }
}

fn alloc(n: usize) -> *mut u8 {
    // SAFETY: plain C call.
    core::hint::black_box(unsafe { malloc(n) })
}

fn release(p: *mut u8) {
    // SAFETY: plain C call; misuse happens in children on purpose.
    unsafe { free(core::hint::black_box(p)) }
}

/// The mode was chosen before the process heap's first allocation (the
/// test runner allocates after that); choosing again fails with EBUSY,
/// also from C, where another mode number is EINVAL.
fn chosen_before_first_allocation() {
    assert_eq!(SET.load(Ordering::Relaxed), 1);
    assert_eq!(heap::poisoning(), mode());
    assert_eq!(heap::set_poisoning(mode()), Err(Errno::EBUSY));
    assert_eq!(heap::set_poisoning(Poisoning::Off), Err(Errno::EBUSY));
    // SAFETY: plain C calls.
    unsafe {
        assert_eq!((rawrt_heap_set_poisoning(1), *__errno_location()), (-1, Errno::EBUSY.raw()));
        assert_eq!((rawrt_heap_set_poisoning(3), *__errno_location()), (-1, Errno::EINVAL.raw()));
    }
}

/// One byte past the 20 asked for (a string's terminator): the canary
/// catches it at `free`; without poisoning it lands in the block's
/// slack (24 usable bytes) and nothing notices.
fn one_byte_overflow() {
    let f = || {
        let p = announce(alloc(20));
        poke(p, 20, 0);
        release(p);
    };
    if poisoned() {
        aborts(f, "free(): canary corrupted after block");
    } else {
        // SAFETY: a live block.
        assert_eq!(unsafe { malloc_usable_size(alloc(20)) }, 24);
        survives(f);
    }
}

/// 24 bytes past a 32-byte block, over its neighbour's start: the canary
/// after it, at its `free`. Without poisoning the bytes land in the
/// block's slack (40 usable) and the neighbour's header, which the heap
/// finds damaged when the neighbour is freed.
fn overflow_into_a_neighbour() {
    let f = || {
        let p = announce(alloc(32));
        let q = alloc(32);
        // SAFETY: the overflow under test.
        unsafe { core::ptr::write_bytes(p, 0x41, 32 + 24) };
        release(p);
        release(q);
    };
    if poisoned() {
        aborts(f, "free(): canary corrupted after block");
    } else {
        let (ended, err, addr) = outcome(f);
        let q = usize::from_str_radix(&addr[2..], 16).unwrap() + 48;
        assert_eq!(ended, Ended::Signaled(SIGABRT), "{err:?}");
        assert_eq!(err, format!("rawrt: free(): invalid pointer of {q:#x}\n"));
    }
}

/// `realloc` checks the canaries of the block it moves.
fn overflow_found_by_realloc() {
    let f = || {
        let p = announce(alloc(100));
        poke(p, 100, 0);
        // SAFETY: the scenario's block.
        let q = unsafe { realloc(p, 1000) };
        release(q);
    };
    if poisoned() {
        aborts(f, "realloc(): canary corrupted after block");
    } else {
        survives(f);
    }
}

/// Rust's global allocator is the same heap: a `Vec`'s buffer overrun by
/// one byte is reported when it is dropped.
fn overflow_of_a_rust_box() {
    let f = || {
        let mut v: Vec<u8> = Vec::with_capacity(20);
        announce(v.as_ptr());
        poke(v.as_mut_ptr(), 20, 0);
        drop(core::hint::black_box(v));
    };
    if poisoned() {
        aborts(f, "free(): canary corrupted after block");
    } else {
        survives(f);
    }
}

/// A byte written into an 8000-byte block after its `free`, at offsets 0,
/// 8, 100 and 4000; then enough frees to push it out of the quarantine.
/// Comprehensive mode reports it (block and offset) as it leaves the
/// quarantine. Light mode does not look. Without poisoning, offsets 0
/// and 8 are the free block's list links, which the heap checks when it
/// next takes from that list (an allocation of 16 bytes takes from the
/// top here, so none does); 100 and 4000 are not looked at.
fn write_after_free() {
    for off in [0, 8, 100, 4000] {
        let f = move || {
            let keep = alloc(8000);
            let p = announce(alloc(8000));
            let after = alloc(16);
            release(p);
            poke(p, off, 0x55);
            for _ in 0..1100 {
                release(alloc(16));
            }
            let _ = (keep, after);
        };
        if comprehensive() {
            aborts(f, &format!("free(): write after free at offset {off} of block"));
        } else {
            survives(f);
        }
    }
}

/// A double free is reported in every mode (the heap's own check, or the
/// quarantine's mark).
fn double_free() {
    aborts(
        || {
            let keep = alloc(40);
            let p = announce(alloc(40));
            let after = alloc(16);
            release(p);
            release(p);
            let _ = (keep, after);
        },
        "free(): double free of",
    );
}

/// `malloc(0)` in comprehensive mode points at inaccessible memory: a
/// read and a write each fault. Otherwise it is a block of 16 usable
/// bytes (light mode: 0 bytes, the tail canary after them).
fn malloc0_access() {
    for write in [false, true] {
        let f = move || {
            let p = alloc(0);
            if write {
                poke(p, 0, 1);
            } else {
                core::hint::black_box(peek(p));
            }
            rawrt::println!("accessed");
        };
        let (ended, err, _) = outcome(f);
        if comprehensive() {
            assert_eq!(ended, Ended::Signaled(SIGSEGV), "{err:?}");
        } else if write && poisoned() {
            // The byte lands on the canary: nothing notices until a free.
            assert_eq!(ended, Ended::Exited(0));
        } else {
            assert_eq!((ended, err.as_str()), (Ended::Exited(0), ""));
        }
    }
}

/// Zero-size blocks are distinct, freed like any block (a second free is
/// a double free), and have no usable bytes when poisoned.
fn malloc0_blocks() {
    let (p, q) = (alloc(0), alloc(0));
    assert!(!p.is_null() && !q.is_null() && p != q);
    // SAFETY: live blocks.
    let n = unsafe { malloc_usable_size(p) };
    assert_eq!(n, if poisoned() { 0 } else { 24 });
    // SAFETY: the scenario's block.
    let r = unsafe { realloc(q, 10) };
    assert!(!r.is_null());
    release(r);
    release(p);
    aborts(
        || {
            let p = announce(alloc(0));
            release(p);
            release(p);
        },
        "free(): double free of",
    );
}

/// The integrity checks (`heap_caps_check_integrity_all` on stdout,
/// `rawrt_heap_check` on stderr) find an overflow (poisoned) and a write
/// after free (comprehensive), naming the block, and return false;
/// without the mode they see nothing wrong.
fn checks_find_damage() {
    let o = child(|| {
        let p = announce(alloc(20));
        poke(p, 20, 0);
        // SAFETY: plain C call.
        let ok = unsafe { rawrt_heap_check(true) };
        rawrt::println!("{ok}");
        poke(p, 20, 0xB5); // the tail canary's first byte, as it was
        0
    });
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
    if poisoned() {
        assert_eq!(o.stderr(), format!("rawrt: check(): canary corrupted after block {addr}\n"));
        assert_eq!(out, format!("addr {addr}\nfalse\n"));
    } else {
        assert_eq!((o.stderr(), out), ("", format!("addr {addr}\ntrue\n").as_str()));
    }
    let o = child(|| {
        let p = announce(alloc(100));
        let _after = alloc(16);
        release(p);
        poke(p, 50, 1);
        // SAFETY: plain C call.
        let ok = unsafe { heap_caps_check_integrity_all(true) };
        rawrt::println!("{ok}");
        0
    });
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
    if comprehensive() {
        let report = format!("rawrt: check(): write after free at offset 50 of block {addr}");
        assert_eq!(out, format!("addr {addr}\n{report}\nfalse\n"));
    } else {
        assert_eq!(out, format!("addr {addr}\ntrue\n"));
    }
    assert_eq!(o.ended, Ended::Exited(0));
}

/// Many blocks of many sizes, some freed, some resized: every check
/// passes and every byte is kept, in every mode.
fn intact_heap_passes() {
    let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
    let same = |p: *mut u8, n: usize, v: u8| (0..n).all(|k| peek(p.wrapping_add(k)) == v);
    for i in 0..600usize {
        let n = (i * 37) % 5000;
        let p = alloc(n);
        // SAFETY: the block's own bytes.
        unsafe { core::ptr::write_bytes(p, i as u8, n) };
        live.push((p, n, i as u8));
        if i % 3 == 0 {
            let (p, n, v) = live.swap_remove(i / 2 % live.len());
            // SAFETY: a live block.
            let q = unsafe { realloc(p, n + 100) };
            assert!(same(q, n, v));
            // SAFETY: the block's own bytes.
            unsafe { core::ptr::write_bytes(q, v, n + 100) };
            live.push((q, n + 100, v));
        }
        if i % 5 == 0 {
            let (p, n, v) = live.swap_remove(0);
            assert!(same(p, n, v));
            release(p);
        }
    }
    let b = alloc(0);
    // SAFETY: plain C calls.
    assert!(unsafe { heap_caps_check_integrity_all(true) && rawrt_heap_check(true) });
    release(b);
    for (p, n, v) in live {
        assert!(same(p, n, v));
        release(p);
    }
    // SAFETY: plain C call.
    assert!(unsafe { rawrt_heap_check(true) });
}

/// Four threads allocate, fill, check and free blocks at once (each
/// frees half of its blocks, the main thread the other halves):
/// every byte is kept and the heap passes its check, in every mode;
/// with poisoning no thread gets an arena (the layer's blocks all come
/// from the main heap).
fn threads_share_the_heap() {
    use alloc::sync::Arc;
    use core::sync::atomic::AtomicUsize;
    const N: usize = 4;
    const BLOCKS: usize = 400;
    let slots: Arc<[AtomicUsize; N * BLOCKS]> =
        Arc::new(core::array::from_fn(|_| AtomicUsize::new(0)));
    let (arenas_before, _) = heap::process().arenas();
    let handles: Vec<_> = (0..N)
        .map(|t| {
            let slots = slots.clone();
            rawrt::thread::spawn(move || {
                for i in 0..BLOCKS {
                    let n = 1 + (i * 13 + t * 7) % 700;
                    let p = alloc(n);
                    // SAFETY: the block's own bytes.
                    unsafe { core::ptr::write_bytes(p, t as u8, n) };
                    slots[t * BLOCKS + i].store(p as usize | (n << 48), Ordering::Release);
                }
                // SAFETY: plain C call.
                assert!(unsafe { rawrt_heap_check(true) });
                for i in (0..BLOCKS).step_by(2) {
                    let v = slots[t * BLOCKS + i].swap(0, Ordering::AcqRel);
                    let (p, n) = ((v & ((1 << 48) - 1)) as *mut u8, v >> 48);
                    assert!((0..n).all(|k| peek(p.wrapping_add(k)) == t as u8));
                    release(p);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for (j, s) in slots.iter().enumerate() {
        let v = s.swap(0, Ordering::AcqRel);
        if v != 0 {
            let (p, n) = ((v & ((1 << 48) - 1)) as *mut u8, v >> 48);
            assert!((0..n).all(|k| peek(p.wrapping_add(k)) == (j / BLOCKS) as u8));
            release(p);
        }
    }
    // SAFETY: plain C call.
    assert!(unsafe { rawrt_heap_check(true) });
    let (arenas, _) = heap::process().arenas();
    if poisoned() {
        assert_eq!((arenas_before, arenas), (0, 0));
    } else {
        assert!(arenas > 0);
    }
}
