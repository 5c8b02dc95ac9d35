//! The detections of heap poisoning in region heaps (the compact heaps of
//! `multi_heap_register`, `mm_initialize` and `heap_caps_add_region`),
//! run in one mode per test binary (`tests/poison_regions_off.rs`,
//! `poison_regions_light.rs`, `poison_regions_comprehensive.rs`: the mode
//! is chosen before anything allocates and holds for the process; a heap
//! made while it is on is poisoned for its life). Each scenario runs in
//! a forked child over fresh heaps of both formats (a small-model heap of
//! 16 KiB, a wide one of 1 MiB), announces the block (`addr 0x...` on
//! stdout) before it misuses it, and the test asserts how the child ended
//! (the signal or a normal exit) and exactly what it printed, in every
//! mode: what the mode detects and what it does not.

use alloc::format;
use alloc::string::String;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU8, Ordering};
use rawrt::check::{child, Ended};
use rawrt::heap::{self, MultiHeapInfo, Poisoning};
use rawrt::sys::{mm, Errno};

#[path = "death.rs"]
mod death;
use death::{aborts, announce, outcome, survives};

const SIGABRT: i32 = 6;

type H = *const c_void;

extern "C" {
    fn multi_heap_register(start: *mut u8, size: usize) -> H;
    fn multi_heap_malloc(h: H, size: usize) -> *mut u8;
    fn multi_heap_free(h: H, p: *mut u8);
    fn multi_heap_realloc(h: H, p: *mut u8, size: usize) -> *mut u8;
    fn multi_heap_get_allocated_size(h: H, p: *mut u8) -> usize;
    fn multi_heap_get_info(h: H, info: *mut MultiHeapInfo);
    fn multi_heap_free_size(h: H) -> usize;
    fn multi_heap_check(h: H, print_errors: bool) -> bool;
    fn mm_initialize(start: *mut u8, size: usize) -> H;
    fn mm_malloc(h: H, size: usize) -> *mut u8;
    fn mm_free(h: H, p: *mut u8);
    fn heap_caps_add_region_with_caps(caps: *const u32, start: isize, end: isize) -> i32;
    fn heap_caps_malloc(size: usize, caps: u32) -> *mut u8;
    fn heap_caps_free(p: *mut u8);
    fn heap_caps_check_integrity_all(print_errors: bool) -> bool;
    fn heap_caps_check_integrity(caps: u32, print_errors: bool) -> bool;
    fn rawrt_heap_check(print_errors: bool) -> bool;
    fn free(p: *mut u8);
    fn malloc_usable_size(p: *mut u8) -> usize;
}

/// A capability no other heap has (ESP-IDF's MALLOC_CAP_PID7).
const CAP: u32 = 1 << 9;

static MODE: AtomicU8 = AtomicU8::new(0);

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
    assert!(heap::set_poisoning(m).is_ok());
    rawrt::check::run(&[
        ("poison_regions::heaps_take_the_mode", heaps_take_the_mode),
        ("poison_regions::one_byte_overflow", one_byte_overflow),
        ("poison_regions::overflow_into_a_neighbour", overflow_into_a_neighbour),
        ("poison_regions::overflow_found_by_realloc", overflow_found_by_realloc),
        ("poison_regions::write_after_free_at_0_8_100_4000", write_after_free),
        ("poison_regions::double_free", double_free),
        ("poison_regions::checks_find_damage", checks_find_damage),
        ("poison_regions::caps_heaps_are_poisoned", caps_heaps_are_poisoned),
        ("poison_regions::spiram_and_exec_heaps_are_poisoned", rawrt_kinds_are_poisoned),
        ("poison_regions::rust_region_heaps_are_poisoned", rust_region_heaps_are_poisoned),
        ("poison_regions::intact_heaps_pass_every_check", intact_heaps_pass),
    ])
}

/// A fresh multi_heap over `len` bytes of a new mapping.
fn region_heap(len: usize) -> H {
    let p = mm::mmap_anonymous(len).expect("mmap");
    // SAFETY: a fresh mapping, given to the heap for the process's life.
    let h = unsafe { multi_heap_register(p, len) };
    assert!(!h.is_null());
    h
}

/// The two formats: a small-model heap (16 KiB) and a wide one (1 MiB).
const SIZES: [usize; 2] = [16 << 10, 1 << 20];

fn malloc_in(h: H, n: usize) -> *mut u8 {
    // SAFETY: plain C call.
    let p = unsafe { multi_heap_malloc(h, n) };
    assert!(!p.is_null(), "multi_heap_malloc({n})");
    core::hint::black_box(p)
}

fn free_in(h: H, p: *mut u8) {
    // SAFETY: plain C call; misuse happens in children on purpose.
    unsafe { multi_heap_free(h, core::hint::black_box(p)) }
}

fn poke(p: *mut u8, off: usize, v: u8) {
    // SAFETY: the scenarios write around and after blocks on purpose,
    // inside their regions.
    unsafe { p.add(off).write_volatile(v) }
}

/// Region heaps made now are poisoned (or not) as the process is; the
/// mode cannot change any more. A poisoned block's usable size is the
/// size asked for, and the figures count the user's bytes; `malloc(0)`
/// is a block of no usable bytes (without poisoning: the smallest
/// block), never NULL.
fn heaps_take_the_mode() {
    assert_eq!(heap::poisoning(), mode());
    assert_eq!(heap::set_poisoning(mode()), Err(Errno::EBUSY));
    for len in SIZES {
        let h = region_heap(len);
        let p = malloc_in(h, 21);
        let z = malloc_in(h, 0);
        // SAFETY: plain C calls on live blocks.
        let (n, nz) =
            unsafe { (multi_heap_get_allocated_size(h, p), multi_heap_get_allocated_size(h, z)) };
        let mut i = MultiHeapInfo::default();
        // SAFETY: as above.
        unsafe { multi_heap_get_info(h, &mut i) };
        if poisoned() {
            assert_eq!((n, nz), (21, 0), "{len}");
            assert_eq!(i.total_allocated_bytes, 21);
        } else {
            let (n21, n0) = if len <= 64 << 10 { (28, 12) } else { (24, 24) };
            assert_eq!((n, nz), (n21, n0), "{len}");
            assert_eq!(i.total_allocated_bytes, n21 + n0);
        }
        assert_eq!(i.allocated_blocks, 2);
        // SAFETY: as above.
        assert_eq!(unsafe { multi_heap_free_size(h) }, i.total_free_bytes);
        if comprehensive() {
            // SAFETY: the block's own 21 bytes.
            assert!(unsafe { core::slice::from_raw_parts(p, 21) }.iter().all(|&b| b == 0xCE));
        }
        free_in(h, z);
        free_in(h, p);
    }
}

/// One byte past the 18 asked for: the tail canary catches it at
/// `multi_heap_free` (and NuttX's `mm_free`); without poisoning it lands
/// in the block's slack and nothing notices.
fn one_byte_overflow() {
    for len in SIZES {
        let f = move || {
            let h = region_heap(len);
            let p = announce(malloc_in(h, 18));
            poke(p, 18, 0);
            free_in(h, p);
        };
        if poisoned() {
            aborts(f, "multi_heap_free(): canary corrupted after block");
        } else {
            survives(f);
        }
        let f = move || {
            let mem = mm::mmap_anonymous(len).expect("mmap");
            // SAFETY: a fresh mapping, given to the heap.
            let h = unsafe { mm_initialize(mem, len) };
            // SAFETY: plain C calls, the overflow under test.
            unsafe {
                let p = announce(mm_malloc(h, 18));
                poke(p, 18, 0);
                mm_free(h, p);
            }
        };
        if poisoned() {
            aborts(f, "mm_free(): canary corrupted after block");
        } else {
            survives(f);
        }
    }
}

/// 24 bytes past a 32-byte block, over its neighbour's start: the canary
/// after it, at its free. Without poisoning the bytes land on the
/// neighbour's header, which the heap finds damaged when it checks the
/// block's neighbour at the free.
fn overflow_into_a_neighbour() {
    for len in SIZES {
        let f = move || {
            let h = region_heap(len);
            let p = announce(malloc_in(h, 32));
            let q = malloc_in(h, 32);
            // SAFETY: the overflow under test.
            unsafe { core::ptr::write_bytes(p, 0x41, 32 + 24) };
            free_in(h, p);
            free_in(h, q);
        };
        if poisoned() {
            aborts(f, "multi_heap_free(): canary corrupted after block");
        } else {
            let (ended, err, addr) = outcome(f);
            assert_eq!(ended, Ended::Signaled(SIGABRT), "{err:?}");
            let what = "multi_heap_free(): corrupted boundary tag next to the block";
            assert_eq!(err, format!("rawrt: {what} at {addr}\n"), "{len}");
        }
    }
}

/// `multi_heap_realloc` checks the canaries of the block it resizes;
/// without poisoning the byte lands in the block's slack.
fn overflow_found_by_realloc() {
    for len in SIZES {
        let f = move || {
            let h = region_heap(len);
            let p = announce(malloc_in(h, 98));
            poke(p, 98, 0);
            // SAFETY: the scenario's block.
            let q = unsafe { multi_heap_realloc(h, p, 1000) };
            free_in(h, q);
        };
        if poisoned() {
            aborts(f, "multi_heap_realloc(): canary corrupted after block");
        } else {
            survives(f);
        }
    }
}

/// A byte written into a freed 5000-byte block (between two live ones)
/// at offsets 0, 8, 100 and 4000; then a block of the same size is asked
/// for, which gets the same memory back. Comprehensive mode verifies the
/// fill as it hands the block out and reports the write (block and
/// offset). Light mode does not look. Without poisoning the free
/// block's list links are its first 4 bytes (small model) or 16 (wide),
/// which the heap checks as it takes the block (a corrupted list); the
/// other bytes are not looked at.
fn write_after_free() {
    for len in SIZES {
        for off in [0, 8, 100, 4000] {
            let f = move || {
                let h = region_heap(len);
                let keep = malloc_in(h, 5000);
                let p = announce(malloc_in(h, 5000));
                let after = malloc_in(h, 16);
                free_in(h, p);
                poke(p, off, 0x55);
                let q = malloc_in(h, 5000);
                assert_eq!(q, p);
                let _ = (keep, after);
            };
            if comprehensive() {
                let line =
                    format!("multi_heap_malloc(): write after free at offset {off} of block");
                aborts(f, &line);
            } else if !poisoned() && (off == 0 || (off == 8 && len > 64 << 10)) {
                let (ended, err, addr) = outcome(f);
                assert_eq!(ended, Ended::Signaled(SIGABRT), "{len} {off} {err:?}");
                let what = "multi_heap_malloc(): corrupted free list";
                assert!(err.starts_with(&format!("rawrt: {what}")), "{len} {off} {err:?} {addr}");
            } else {
                survives(f);
            }
        }
    }
}

/// A double free is reported in every mode (also after the block merged
/// with a free neighbour).
fn double_free() {
    for len in SIZES {
        for merged in [false, true] {
            aborts(
                move || {
                    let h = region_heap(len);
                    let before = malloc_in(h, 40);
                    let p = announce(malloc_in(h, 40));
                    let _after = malloc_in(h, 16);
                    free_in(h, p);
                    if merged {
                        free_in(h, before);
                    }
                    free_in(h, p);
                },
                "multi_heap_free(): double free of",
            );
        }
    }
}

/// `multi_heap_check` (on stdout) finds an overflow (poisoned) and a write
/// after free (comprehensive) in a region heap, naming the block, and
/// returns false; `rawrt_heap_check` does not look at region heaps the
/// process did not register; without the mode nothing is wrong.
fn checks_find_damage() {
    for len in SIZES {
        let o = child(|| {
            let h = region_heap(len);
            let p = announce(malloc_in(h, 18));
            poke(p, 18, 0);
            // SAFETY: plain C calls.
            let ok = unsafe { multi_heap_check(h, true) };
            rawrt::println!("{ok}");
            // SAFETY: as above.
            assert!(unsafe { rawrt_heap_check(true) });
            0
        });
        let out = o.stdout();
        let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
        if poisoned() {
            let report = format!("rawrt: check(): canary corrupted after block {addr}");
            assert_eq!(out, format!("addr {addr}\n{report}\nfalse\n"));
        } else {
            assert_eq!(out, format!("addr {addr}\ntrue\n"));
        }
        assert_eq!((o.ended, o.stderr()), (Ended::Exited(0), ""));
        let o = child(|| {
            let h = region_heap(len);
            let p = announce(malloc_in(h, 300));
            let _after = malloc_in(h, 16);
            free_in(h, p);
            poke(p, 250, 1);
            // SAFETY: plain C call.
            let ok = unsafe { multi_heap_check(h, true) };
            rawrt::println!("{ok}");
            0
        });
        let out = o.stdout();
        let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
        if comprehensive() {
            let report = format!("rawrt: check(): write after free at offset 250 of block {addr}");
            assert_eq!(out, format!("addr {addr}\n{report}\nfalse\n"));
        } else {
            assert_eq!(out, format!("addr {addr}\ntrue\n"));
        }
        assert_eq!(o.ended, Ended::Exited(0));
    }
}

/// The heaps of `heap_caps_add_region`: `heap_caps_malloc` gives poisoned
/// blocks, `heap_caps_check_integrity*` finds their damage, and
/// `heap_caps_free` and plain `free` report an overflow (both as
/// `free()`, as `heap_caps_free` names every misuse).
fn caps_heaps_are_poisoned() {
    let add = |len: usize| {
        let p = mm::mmap_anonymous(len).expect("mmap") as isize;
        let caps = [CAP, 0, 0];
        // SAFETY: a fresh mapping, given to the heap.
        assert_eq!(
            unsafe { heap_caps_add_region_with_caps(caps.as_ptr(), p, p + len as isize) },
            0
        );
    };
    for len in SIZES {
        let o = child(|| {
            add(len);
            // SAFETY: plain C calls.
            let p = announce(unsafe { heap_caps_malloc(30, CAP) });
            // SAFETY: as above.
            rawrt::println!("{}", unsafe { malloc_usable_size(p) });
            poke(p, 30, 0);
            // SAFETY: as above.
            let ok = unsafe {
                (heap_caps_check_integrity(CAP, true), heap_caps_check_integrity_all(false))
            };
            rawrt::println!("{ok:?}");
            poke(p, 30, 0xB5);
            // SAFETY: as above.
            unsafe { heap_caps_free(p) };
            0
        });
        let out = o.stdout();
        let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
        if poisoned() {
            let report = format!("rawrt: check(): canary corrupted after block {addr}");
            assert_eq!(out, format!("addr {addr}\n30\n{report}\n(false, false)\n"));
        } else {
            let n = if len <= 64 << 10 { 36 } else { 40 };
            assert_eq!(out, format!("addr {addr}\n{n}\n(true, true)\n"));
        }
        assert_eq!((o.ended, o.stderr()), (Ended::Exited(0), ""));
        for plain in [false, true] {
            let f = move || {
                add(len);
                // SAFETY: plain C calls, the overflow under test.
                unsafe {
                    let p = announce(heap_caps_malloc(30, CAP));
                    poke(p, 30, 0);
                    if plain {
                        free(p)
                    } else {
                        heap_caps_free(p)
                    }
                }
            };
            if poisoned() {
                aborts(f, "free(): canary corrupted after block");
            } else {
                survives(f);
            }
        }
    }
}

/// The heaps rawrt maps itself (`MALLOC_CAP_SPIRAM`, `MALLOC_CAP_EXEC`):
/// poisoned as the process is (usable sizes are the sizes asked for, an
/// overflow is reported by the check and by `heap_caps_free`).
fn rawrt_kinds_are_poisoned() {
    use rawrt::heap::caps::{MALLOC_CAP_EXEC, MALLOC_CAP_SPIRAM};
    // SAFETY: plain C calls.
    let n = unsafe { malloc_usable_size(heap_caps_malloc(30, MALLOC_CAP_EXEC)) };
    assert_eq!(n, if poisoned() { 30 } else { 40 });
    let o = child(|| {
        // SAFETY: plain C calls.
        let p = announce(unsafe { heap_caps_malloc(30, MALLOC_CAP_SPIRAM) });
        // SAFETY: as above.
        rawrt::println!("{}", unsafe { malloc_usable_size(p) });
        poke(p, 30, 0);
        // SAFETY: as above.
        rawrt::println!("{}", unsafe { heap_caps_check_integrity(MALLOC_CAP_SPIRAM, true) });
        poke(p, 30, 0xB5);
        0
    });
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
    if poisoned() {
        let report = format!("rawrt: check(): canary corrupted after block {addr}");
        assert_eq!(out, format!("addr {addr}\n30\n{report}\nfalse\n"));
    } else {
        assert_eq!(out, format!("addr {addr}\n40\ntrue\n"));
    }
    let f = || {
        // SAFETY: plain C calls, the overflow under test.
        unsafe {
            let p = announce(heap_caps_malloc(30, MALLOC_CAP_SPIRAM));
            poke(p, 30, 0);
            heap_caps_free(p);
        }
    };
    if poisoned() {
        aborts(f, "free(): canary corrupted after block");
    } else {
        survives(f);
    }
}

/// A heap of the main core a Rust program makes over its own region
/// (`Heap::from_raw`) takes the mode: poisoned, a block's usable size is
/// the size asked for, a one-byte overflow is reported by `free` and by
/// the check, and (comprehensive) a write after free at offset 8 by the
/// check; off, the overflow lands in the block's slack unnoticed.
fn rust_region_heaps_are_poisoned() {
    fn make() -> &'static heap::Heap<heap::RegionSource> {
        let len = 256 << 10;
        let p = mm::mmap_anonymous(len).expect("mmap");
        // SAFETY: a fresh mapping, given to the heap for the process's
        // life; the heap is leaked with it.
        let h = unsafe { heap::Heap::from_raw(p, len) };
        alloc::boxed::Box::leak(alloc::boxed::Box::new(h))
    }
    let h = make();
    let p = h.allocate(30, 16, false, "malloc").expect("alloc").as_ptr();
    // SAFETY: a live block.
    let n = unsafe { h.usable_size(p) }.expect("usable");
    assert_eq!(n, if poisoned() { 30 } else { 40 });
    let o = child(|| {
        let h = make();
        let p = announce(h.allocate(30, 16, false, "malloc").expect("alloc").as_ptr());
        poke(p, 30, 0);
        let mut s = String::new();
        rawrt::println!("{}", h.check(true, &mut s));
        rawrt::print!("{s}");
        0
    });
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
    if poisoned() {
        let report = format!("rawrt: check(): canary corrupted after block {addr}");
        assert_eq!(out, format!("addr {addr}\nfalse\n{report}\n"));
    } else {
        assert_eq!(out, format!("addr {addr}\ntrue\n"));
    }
    let f = || {
        let h = make();
        let p = announce(h.allocate(30, 16, false, "malloc").expect("alloc").as_ptr());
        poke(p, 30, 0);
        // SAFETY: the block is live (overflowed on purpose).
        unsafe { h.free_or_abort(p, "free") };
    };
    if poisoned() {
        aborts(f, "free(): canary corrupted after block");
    } else {
        survives(f);
    }
    let o = child(|| {
        let h = make();
        let p = announce(h.allocate(200, 16, false, "malloc").expect("alloc").as_ptr());
        // SAFETY: a live block.
        unsafe { h.free_or_abort(p, "free") };
        poke(p, 8, 1);
        let mut s = String::new();
        rawrt::println!("{}", h.check(true, &mut s));
        rawrt::print!("{s}");
        0
    });
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
    if comprehensive() {
        let report = format!("rawrt: check(): write after free at offset 8 of block {addr}");
        assert_eq!(out, format!("addr {addr}\nfalse\n{report}\n"));
    } else {
        assert_eq!(out, format!("addr {addr}\ntrue\n"));
    }
}

/// Many blocks of many sizes in both formats, some freed, some resized:
/// every check passes, every byte is kept and the figures add up (the
/// allocated bytes are the usable sizes), in every mode.
fn intact_heaps_pass() {
    use alloc::vec::Vec;
    for len in SIZES {
        let h = region_heap(len);
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        let same = |p: *mut u8, n: usize, v: u8| {
            // SAFETY: a live block's bytes.
            unsafe { core::slice::from_raw_parts(p, n) }.iter().all(|&b| b == v)
        };
        let max = len / 64;
        for i in 0..400usize {
            let n = (i * 37) % max;
            // SAFETY: plain C call.
            let p = unsafe { multi_heap_malloc(h, n) };
            if p.is_null() {
                continue;
            }
            // SAFETY: the block's own bytes.
            unsafe { core::ptr::write_bytes(p, i as u8, n) };
            live.push((p, n, i as u8));
            if i % 3 == 0 {
                let (p, n, v) = live.swap_remove(i / 2 % live.len());
                // SAFETY: a live block.
                let q = unsafe { multi_heap_realloc(h, p, n + 40) };
                let (q, n) = if q.is_null() { (p, n) } else { (q, n + 40) };
                assert!(same(q, n.min(n.wrapping_sub(40)), v) || same(q, n, v));
                // SAFETY: the block's own bytes.
                unsafe { core::ptr::write_bytes(q, v, n) };
                live.push((q, n, v));
            }
            if i % 4 == 0 {
                let (p, n, v) = live.swap_remove(0);
                assert!(same(p, n, v));
                free_in(h, p);
            }
        }
        // SAFETY: plain C calls.
        assert!(unsafe { multi_heap_check(h, true) });
        let mut i = MultiHeapInfo::default();
        // SAFETY: as above.
        unsafe { multi_heap_get_info(h, &mut i) };
        // SAFETY: live blocks.
        let sizes: usize =
            live.iter().map(|&(p, _, _)| unsafe { multi_heap_get_allocated_size(h, p) }).sum();
        assert_eq!((i.total_allocated_bytes, i.allocated_blocks), (sizes, live.len()));
        if poisoned() {
            assert_eq!(sizes, live.iter().map(|l| l.1).sum::<usize>());
        }
        for (p, n, v) in live {
            assert!(same(p, n, v));
            free_in(h, p);
        }
        // SAFETY: plain C call.
        assert!(unsafe { multi_heap_check(h, true) });
        // SAFETY: as above.
        unsafe { multi_heap_get_info(h, &mut i) };
        assert_eq!((i.allocated_blocks, i.free_blocks, i.total_allocated_bytes), (0, 1, 0));
    }
}
