//! Hosted tests of poisoning in the compact core (`poison.rs`), in both
//! formats and both modes, over plain regions: canaries and fills are
//! where `poison.rs` says, the integrity check finds each kind of damage
//! and names the block (and the offset), misuse is refused, the figures
//! count the user's bytes, and random operations keep every byte and
//! every fill. The reports that abort run in forked children (natively
//! only).

use core::ptr::NonNull;

use super::{CompactHeap, Format, Small, Wide};
use crate::heap::poison::layer::{FREE_FILL, NEW_FILL, TAIL};
use crate::heap::tests_model::{leak_region, ops, Model, Rng};
use crate::heap::{HeapError, Poisoning};

/// A poisoned compact heap over a leaked region of `len` bytes.
fn heap<F: Format>(len: usize, mode: Poisoning) -> &'static CompactHeap<F> {
    let mem = leak_region(len);
    // SAFETY: the leaked region is ours forever.
    unsafe { CompactHeap::init_in_place_poisoned(mem.as_mut_ptr(), len, mode) }.expect("a heap")
}

fn alloc<F: Format>(h: &CompactHeap<F>, n: usize) -> *mut u8 {
    h.allocate(n, F::GRAIN, false, "malloc").expect("allocation").as_ptr()
}

fn free<F: Format>(h: &CompactHeap<F>, p: *mut u8) -> Result<(), HeapError> {
    // SAFETY: the tests free their blocks, or misuse the heap detects.
    unsafe { h.dealloc(NonNull::new(p).unwrap()) }
}

fn bytes(p: *const u8, n: usize) -> &'static [u8] {
    // SAFETY: the tests read bytes of their regions.
    unsafe { core::slice::from_raw_parts(p, n) }
}

fn poke(p: *mut u8, off: isize, v: u8) {
    // SAFETY: the tests write around and after their blocks on purpose,
    // inside the region.
    unsafe { p.offset(off).write(v) }
}

/// The integrity check's verdict and report.
fn check<F: Format>(h: &CompactHeap<F>) -> (bool, String) {
    let mut s = String::new();
    let ok = h.check(true, &mut s);
    (ok, s)
}

const MODES: [Poisoning; 2] = [Poisoning::Light, Poisoning::Comprehensive];

/// Every size and alignment round-trips in both formats and modes: the
/// block is aligned, its usable size is the size asked for, the tail
/// canary follows it, new bytes are 0xCE (comprehensive) or zero
/// (`zero`), freed ones 0xFE, and everything merges back.
fn canaries_round_trip() {
    fn run<F: Format>(mode: Poisoning) {
        let full = mode == Poisoning::Comprehensive;
        let h = heap::<F>(32 << 10, mode);
        assert_eq!(h.poisoning(), mode);
        let free0 = h.info().total_free_bytes;
        let mut live = Vec::new();
        for (i, size) in [0, 1, 7, 8, 9, 100, 1000].into_iter().enumerate() {
            for align in [F::GRAIN, 32, 64, 256] {
                let zero = i % 2 == 1;
                let p = h.allocate(size, align, zero, "malloc").expect("alloc").as_ptr();
                assert_eq!(p.addr() % align, 0);
                assert_eq!(h.usable_size(p), Ok(size));
                assert!(h.check_addr(p));
                assert_eq!(bytes(p.wrapping_add(size), F::HDR), &TAIL[..F::HDR]);
                let want = if zero { 0 } else { NEW_FILL };
                if full || zero {
                    assert!(bytes(p, size).iter().all(|&b| b == want), "{size} {align}");
                }
                live.push((p, size));
            }
        }
        let i = h.info();
        assert_eq!(i.total_allocated_bytes, live.iter().map(|l| l.1).sum::<usize>());
        assert_eq!(i.allocated_blocks, live.len());
        assert_eq!(check(h), (true, String::new()));
        for (k, &(p, size)) in live.iter().enumerate().filter(|(k, _)| k % 2 == 0) {
            free(h, p).unwrap();
            if full && size > 16 {
                assert!(
                    bytes(p.wrapping_add(16), size - 16).iter().all(|&b| b == FREE_FILL),
                    "{k}"
                );
            }
        }
        assert_eq!(check(h), (true, String::new()));
        for &(p, _) in live.iter().skip(1).step_by(2) {
            free(h, p).unwrap();
        }
        assert_eq!(check(h), (true, String::new()));
        let i = h.info();
        assert_eq!((i.total_allocated_bytes, i.allocated_blocks, i.free_blocks), (0, 0, 1));
        assert_eq!(i.total_free_bytes, free0);
        // The largest free block is the largest request that succeeds.
        let p = alloc(h, i.largest_free_block);
        assert!(h.allocate(1, F::GRAIN, false, "malloc").is_none());
        free(h, p).unwrap();
    }
    for mode in MODES {
        run::<Small>(mode);
        run::<Wide>(mode);
    }
}

/// A heap made with poisoning off is today's heap: the user's bytes are
/// the core's block (usable rounded up), no canary follows them.
fn off_is_the_plain_heap() {
    let h = heap::<Small>(4 << 10, Poisoning::Off);
    assert_eq!(h.poisoning(), Poisoning::Off);
    assert_eq!(h.info().total_free_bytes, 3828);
    let p = alloc(h, 20);
    assert_eq!(h.usable_size(p), Ok(20));
    let q = alloc(h, 21);
    assert_eq!(h.usable_size(q), Ok(28));
    assert_ne!(bytes(p.wrapping_add(20), 4), &TAIL[..4]);
    // Poisoning costs the state nothing: the same free bytes, less one
    // block's overhead, which the figures take off.
    let hp = heap::<Small>(4 << 10, Poisoning::Light);
    assert_eq!(hp.info().total_free_bytes, 3828 - 12);
}

/// The check finds a 1-byte overflow, an underflow into the head and
/// (comprehensive) a write after free at offsets 0, 8 and 100 of a block
/// between two live ones, naming the block and the offset; light mode
/// does not look at freed blocks.
fn check_finds_damage() {
    fn run<F: Format>(mode: Poisoning) {
        let full = mode == Poisoning::Comprehensive;
        let h = heap::<F>(16 << 10, mode);
        let (a, p, b) = (alloc(h, 200), alloc(h, 200), alloc(h, 200));
        poke(p, 200, 0);
        let line =
            |what: &str, p: *mut u8| format!("rawrt: check(): {what} block {p:#x}\n", p = p.addr());
        assert_eq!(check(h), (false, line("canary corrupted after", p)));
        poke(p, 200, TAIL[0]);
        let was = bytes(b.wrapping_sub(1), 1)[0];
        poke(b, -1, was ^ 0x11);
        assert_eq!(check(h), (false, line("canary corrupted before", b)));
        poke(b, -1, was);
        assert_eq!(check(h), (true, String::new()));
        free(h, a).unwrap();
        let h = heap::<F>(16 << 10, mode);
        let (_a, p, _b) = (alloc(h, 200), alloc(h, 200), alloc(h, 200));
        free(h, p).unwrap();
        assert_eq!(check(h), (true, String::new()));
        for off in [0, 8, 100] {
            poke(p, off, 0x55);
            let want = if full {
                (false, line(&format!("write after free at offset {off} of"), p))
            } else {
                (true, String::new())
            };
            assert_eq!(check(h), want, "{off}");
            poke(p, off, FREE_FILL);
        }
        assert_eq!(check(h), (true, String::new()));
    }
    for mode in MODES {
        run::<Small>(mode);
        run::<Wide>(mode);
    }
}

/// Misuse is refused as without poisoning: a double free (also after the
/// block merged with a free neighbour), a pointer that is no block.
fn misuse_is_refused() {
    fn run<F: Format>(mode: Poisoning) {
        let h = heap::<F>(8 << 10, mode);
        let (a, p, _b) = (alloc(h, 40), alloc(h, 40), alloc(h, 40));
        free(h, p).unwrap();
        assert_eq!(free(h, p), Err(HeapError::DoubleFree));
        assert_eq!(h.usable_size(p), Err(HeapError::DoubleFree));
        free(h, a).unwrap();
        assert_eq!(free(h, p), Err(HeapError::DoubleFree));
        assert_eq!(free(h, a), Err(HeapError::DoubleFree));
        let c = alloc(h, 100);
        assert_eq!(free(h, c.wrapping_add(F::GRAIN)), Err(HeapError::InvalidPointer));
        assert_eq!(free(h, c.wrapping_add(1)), Err(HeapError::InvalidPointer));
        assert!(!h.check_addr(c.wrapping_add(F::GRAIN)));
        // A block with an alignment head: no core block starts at its
        // plain head, and its second free is still a double free (light:
        // the freed mark; comprehensive fills the mark over, and the
        // second free is an invalid pointer).
        let d = h.allocate(100, 256, false, "memalign").expect("aligned").as_ptr();
        free(h, d).unwrap();
        let want = if mode == Poisoning::Light {
            HeapError::DoubleFree
        } else {
            HeapError::InvalidPointer
        };
        assert_eq!(free(h, d), Err(want), "{mode:?}");
        assert_eq!(check(h), (true, String::new()));
    }
    for mode in MODES {
        run::<Small>(mode);
        run::<Wide>(mode);
    }
}

/// `realloc` keeps the bytes, shrinks in place (the tail moved) and
/// moves to grow.
fn realloc_keeps_bytes() {
    for mode in MODES {
        let h = heap::<Small>(8 << 10, mode);
        let p = alloc(h, 100);
        // SAFETY: the block's own bytes.
        unsafe { p.write_bytes(7, 100) };
        // SAFETY: a live block.
        let q = unsafe { h.reallocate(NonNull::new(p).unwrap(), 40, 8, "realloc") }.unwrap();
        assert_eq!((q.as_ptr(), h.usable_size(p)), (p, Ok(40)));
        assert_eq!(bytes(p.wrapping_add(40), 4), &TAIL[..4]);
        // SAFETY: as above.
        let r = unsafe { h.reallocate(q, 3000, 8, "realloc") }.unwrap().as_ptr();
        assert!(r != p && bytes(r, 40).iter().all(|&b| b == 7));
        assert_eq!(h.usable_size(r), Ok(3000));
        assert_eq!(check(h), (true, String::new()));
    }
}

/// Random operations against the model in both formats and modes: every
/// byte kept, the figures add up (the allocated bytes are the user's
/// sizes), a failure explained by the largest free block, every check
/// passes (fills intact across merges and splits).
fn model_over_poisoned_heaps() {
    fn run<F: Format>(mode: Poisoning, len: usize, seed: u64) {
        let h = heap::<F>(len, mode);
        let free = h.info().total_free_bytes;
        let mut rng = Rng::new(seed);
        let mut m = Model::new(h, true);
        (m.min_align, m.oracle_align) = (F::GRAIN, F::GRAIN);
        m.run(&mut rng, ops(20_000), 200, &mut |r: &mut Rng| {
            if r.chance(80) {
                r.below(100)
            } else {
                r.below(len / 8)
            }
        });
        m.drain(&mut rng);
        let i = h.info();
        assert_eq!((i.free_blocks, i.total_free_bytes), (1, free), "all merged back");
        assert!(m.failures > 0, "the region filled up at times");
    }
    for (k, mode) in MODES.into_iter().enumerate() {
        run::<Small>(mode, 8 << 10, 11 + k as u64);
        run::<Wide>(mode, if cfg!(miri) { 32 << 10 } else { 96 << 10 }, 21 + k as u64);
    }
}

/// The reports that abort (natively: a forked child): a 1-byte overflow
/// at free, an overflow at realloc, a write after free when the block is
/// handed out again (comprehensive), each one line naming the function,
/// the block and the offset.
fn damage_aborts() {
    if cfg!(miri) {
        return;
    }
    let dies = |f: fn(&'static CompactHeap<Small>) -> usize, mode, want: &str| {
        let h = heap::<Small>(8 << 10, mode);
        let d = crate::testing::dies(move || {
            f(h);
        });
        // The block is the heap's first: the child's address is ours.
        let p = h.allocate(40, 8, false, "malloc").unwrap().as_ptr();
        assert_eq!(d.signal, Some(6), "{}", d.stderr);
        assert_eq!(d.stderr, format!("rawrt: {want} block {:#x}\n", p.addr()));
    };
    for mode in MODES {
        dies(
            |h| {
                let p = alloc(h, 40);
                poke(p, 40, 0);
                free(h, p).map(|_| 0).unwrap()
            },
            mode,
            "free(): canary corrupted after",
        );
        dies(
            |h| {
                let p = alloc(h, 40);
                poke(p, 41, 0);
                // SAFETY: a live block.
                unsafe { h.reallocate(NonNull::new(p).unwrap(), 400, 8, "realloc") }.is_ok()
                    as usize
            },
            mode,
            "realloc(): canary corrupted after",
        );
    }
    dies(
        |h| {
            let p = alloc(h, 40);
            let _q = alloc(h, 40);
            free(h, p).unwrap();
            poke(p, 8, 1);
            h.allocate(40, 8, false, "mm_malloc").map_or(0, |p| p.as_ptr().addr())
        },
        Poisoning::Comprehensive,
        "mm_malloc(): write after free at offset 8 of",
    );
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::compact::poison::canaries_round_trip", canaries_round_trip),
    ("heap::compact::poison::off_is_the_plain_heap", off_is_the_plain_heap),
    ("heap::compact::poison::check_finds_damage", check_finds_damage),
    ("heap::compact::poison::misuse_is_refused", misuse_is_refused),
    ("heap::compact::poison::realloc_keeps_bytes", realloc_keeps_bytes),
    ("heap::compact::poison::model_over_poisoned_heaps", model_over_poisoned_heaps),
    ("heap::compact::poison::damage_aborts", damage_aborts),
];
