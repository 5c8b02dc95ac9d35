//! The poisoning layer over a region heap: canaries and fills are where
//! `layer.rs` says, the checks find each kind of damage and name the
//! block (and the offset), misuse is refused, the quarantine gives
//! blocks back, and randomized runs keep every byte.

use core::ptr::NonNull;

use super::layer::{Layer, Under, FREE_FILL, NEW_FILL, QUARANTINE_BLOCKS, TAIL};
use crate::heap::tests_model::{leak_region, Rng};
use crate::heap::{Heap, HeapError, RegionSource};

fn heap() -> &'static Heap<RegionSource> {
    Box::leak(Box::new(Heap::new_in(leak_region(if cfg!(miri) { 256 << 10 } else { 8 << 20 }))))
}

fn used(h: &Heap<RegionSource>) -> usize {
    h.info().total_allocated_bytes
}

/// The integrity check's verdict and its report.
fn check(l: &Layer, h: &Heap<RegionSource>) -> (bool, String) {
    let mut s = String::new();
    let ok = l.check(h, true, &mut s, "check");
    (ok, s)
}

fn bytes(p: NonNull<u8>, n: usize) -> &'static [u8] {
    // SAFETY: the tests read blocks they hold (or hold in the quarantine).
    unsafe { core::slice::from_raw_parts(p.as_ptr(), n) }
}

fn poke(p: NonNull<u8>, off: isize, v: u8) {
    // SAFETY: the tests write the bytes around their blocks on purpose:
    // all inside the region.
    unsafe { p.as_ptr().offset(off).write(v) }
}

fn free(l: &Layer, h: &Heap<RegionSource>, p: NonNull<u8>) -> Result<(), HeapError> {
    // SAFETY: the tests free their own blocks or test rejection.
    unsafe { l.free(h, p, "free") }
}

/// Every size and alignment round-trips: the block is aligned, the
/// usable size is the size asked for, the tail canary follows it, and
/// everything goes back to the heap.
fn canaries_round_trip() {
    for full in [false, true] {
        let (h, l) = (heap(), Layer::new(full));
        let mut live = Vec::new();
        // Up to a block of the purge decay's size (Miri's region is smaller).
        let big = if cfg!(miri) { 20_000 } else { 70_000 };
        for (i, size) in [0, 1, 15, 16, 17, 100, 4000, big].into_iter().enumerate() {
            for align in [16, 32, 64, 4096] {
                let p = l.alloc(h, size, align, false, "malloc").expect("alloc");
                assert_eq!(p.as_ptr().addr() % align, 0);
                // SAFETY: a live block of the layer.
                assert_eq!(unsafe { l.usable(h, p.as_ptr()) }, Ok(size));
                assert_eq!(bytes(NonNull::new(p.as_ptr().wrapping_add(size)).unwrap(), 8), TAIL);
                if full {
                    assert!(bytes(p, size).iter().all(|&b| b == NEW_FILL));
                }
                // SAFETY: the block's own bytes.
                unsafe { core::ptr::write_bytes(p.as_ptr(), i as u8, size) };
                live.push((p, size, i as u8));
            }
        }
        let z = l.alloc(h, 64, 16, true, "calloc").expect("calloc");
        assert!(bytes(z, 64).iter().all(|&b| b == 0));
        live.push((z, 64, 0));
        assert_eq!(check(&l, h), (true, String::new()));
        for (p, size, v) in live {
            assert!(bytes(p, size).iter().all(|&b| b == v));
            assert_eq!(free(&l, h, p), Ok(()));
            if full {
                assert!(bytes(p, size).iter().all(|&b| b == FREE_FILL));
            }
        }
        assert_eq!(check(&l, h), (true, String::new()));
        if !full {
            assert_eq!(used(h), 0);
        }
    }
}

/// An overflow of one byte, an underflow and a write after free (at
/// several offsets) are each found by the check, which names the block
/// (and the offset); the heap stays usable.
fn check_finds_each_damage() {
    for full in [false, true] {
        let (h, l) = (heap(), Layer::new(full));
        let p = l.alloc(h, 100, 16, false, "malloc").expect("alloc");
        poke(p, 100, 0);
        let a = p.as_ptr().addr();
        assert_eq!(
            check(&l, h),
            (false, format!("rawrt: check(): canary corrupted after block {a:#x}\n"))
        );
        poke(p, 100, TAIL[0]);
        assert!(check(&l, h).0);
        // The canary's last byte changed (a fixed value would be its own
        // byte once in 256 secrets and addresses, and pass).
        // SAFETY: the canary before the block, in the region.
        let was = unsafe { p.as_ptr().offset(-1).read() };
        poke(p, -1, was ^ 0x41);
        assert_eq!(
            check(&l, h),
            (false, format!("rawrt: check(): canary corrupted before block {a:#x}\n"))
        );
    }
    for off in [0usize, 8, 100, 4000] {
        let (h, l) = (heap(), Layer::new(true));
        let p = l.alloc(h, 8000, 16, false, "malloc").expect("alloc");
        assert_eq!(free(&l, h, p), Ok(()));
        assert!(check(&l, h).0);
        poke(p, off as isize, 0);
        let a = p.as_ptr().addr();
        assert_eq!(
            check(&l, h),
            (false, format!("rawrt: check(): write after free at offset {off} of block {a:#x}\n"))
        );
    }
}

/// Double frees and pointers that are no block are refused, in both
/// modes, without changing anything; the light layer's double free is
/// the heap below's verdict.
fn misuse_is_refused() {
    for full in [false, true] {
        let (h, l) = (heap(), Layer::new(full));
        let keep = l.alloc(h, 40, 16, false, "malloc").expect("alloc");
        let p = l.alloc(h, 40, 16, false, "malloc").expect("alloc");
        let _guard = l.alloc(h, 40, 16, false, "malloc").expect("alloc");
        assert_eq!(free(&l, h, p), Ok(()));
        assert_eq!(free(&l, h, p), Err(HeapError::DoubleFree));
        let inside = NonNull::new(keep.as_ptr().wrapping_add(16)).unwrap();
        assert_eq!(free(&l, h, inside), Err(HeapError::InvalidPointer));
        let odd = NonNull::new(keep.as_ptr().wrapping_add(1)).unwrap();
        assert_eq!(free(&l, h, odd), Err(HeapError::InvalidPointer));
        assert!(check(&l, h).0);
        // SAFETY: `keep` is live.
        let q = unsafe { l.realloc(h, keep, 4000, 16, "realloc") }.expect("realloc");
        // SAFETY: the old block was freed by the move.
        assert_eq!(unsafe { l.usable(h, q.as_ptr()) }, Ok(4000));
        assert_eq!(free(&l, h, keep), Err(HeapError::DoubleFree));
        assert_eq!(free(&l, h, q), Ok(()));
    }
}

/// The quarantine holds the last blocks freed: the oldest go back to the
/// heap below (their memory reused) once more than
/// [`QUARANTINE_BLOCKS`] are freed.
fn quarantine_gives_blocks_back() {
    let (h, l) = (heap(), Layer::new(true));
    let n = if cfg!(miri) { 40 } else { QUARANTINE_BLOCKS + 10 };
    let blocks: Vec<_> = (0..n).map(|_| l.alloc(h, 32, 16, false, "malloc").unwrap()).collect();
    let full = used(h);
    for &p in &blocks {
        assert_eq!(free(&l, h, p), Ok(()));
    }
    let held = used(h);
    if n > QUARANTINE_BLOCKS {
        assert!(held < full && held * n == full * QUARANTINE_BLOCKS, "{held} of {full}");
    } else {
        assert_eq!(held, full);
    }
    assert!(check(&l, h).0);
}

/// Random allocations, frees and resizes through both layers keep every
/// byte, and the check passes throughout.
fn random_runs_keep_every_byte() {
    for (full, seed) in [(false, 1), (true, 2)] {
        let (h, l) = (heap(), Layer::new(full));
        let mut rng = Rng::new(seed);
        let mut live: Vec<(NonNull<u8>, usize, u8)> = Vec::new();
        for step in 0..if cfg!(miri) { 200 } else { 5000 } {
            let r = rng.below(10);
            if r < 5 || live.is_empty() {
                let size = rng.below(2000);
                let align = 1 << (4 + rng.below(4));
                let p = l.alloc(h, size, align, false, "malloc").expect("alloc");
                let v = step as u8;
                // SAFETY: the block's own bytes.
                unsafe { core::ptr::write_bytes(p.as_ptr(), v, size) };
                live.push((p, size, v));
            } else {
                let i = rng.below(live.len());
                let (p, size, v) = live.swap_remove(i);
                assert!(bytes(p, size).iter().all(|&b| b == v));
                if r < 8 {
                    assert_eq!(free(&l, h, p), Ok(()));
                } else {
                    let new = rng.below(3000);
                    // SAFETY: `p` is live.
                    let q = unsafe { l.realloc(h, p, new, 16, "realloc") }.expect("realloc");
                    assert!(bytes(q, size.min(new)).iter().all(|&b| b == v));
                    // SAFETY: the block's own bytes.
                    unsafe { core::ptr::write_bytes(q.as_ptr(), v, new) };
                    live.push((q, new, v));
                }
            }
            if step % 500 == 0 {
                assert!(check(&l, h).0);
            }
        }
    }
}

/// What the death tests below run in a child: the report's line and
/// SIGABRT.
#[cfg(not(miri))]
fn dies_with(f: impl FnOnce(), line: &str) {
    let d = crate::testing::dies(f);
    assert_eq!(d.signal, Some(6), "{}", d.stderr);
    assert_eq!(d.stderr, line);
}

/// `free` reports a damaged canary and aborts; a write after free is
/// reported (block and offset) when the block leaves the quarantine.
#[cfg(not(miri))]
fn free_aborts_on_damage() {
    for full in [false, true] {
        let (h, l) = (heap(), Layer::new(full));
        let p = l.alloc(h, 24, 16, false, "malloc").expect("alloc");
        poke(p, 24, 0);
        let a = p.as_ptr().addr();
        dies_with(
            || {
                let _ = free(&l, h, p);
            },
            &format!("rawrt: free(): canary corrupted after block {a:#x}\n"),
        );
    }
    let (h, l) = (heap(), Layer::new(true));
    let p = l.alloc(h, 8000, 16, false, "malloc").expect("alloc");
    assert_eq!(free(&l, h, p), Ok(()));
    poke(p, 4000, 1);
    let a = p.as_ptr().addr();
    dies_with(
        || {
            for _ in 0..QUARANTINE_BLOCKS {
                let q = l.alloc(h, 16, 16, false, "malloc").expect("alloc");
                let _ = free(&l, h, q);
            }
        },
        &format!("rawrt: free(): write after free at offset 4000 of block {a:#x}\n"),
    );
}

/// A region heap is an [`Under`] (the trait object the layer takes).
fn _under(h: &Heap<RegionSource>) -> &dyn Under {
    h
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::poison::canaries_round_trip", canaries_round_trip),
    ("heap::poison::check_finds_each_damage", check_finds_each_damage),
    ("heap::poison::misuse_is_refused", misuse_is_refused),
    ("heap::poison::quarantine_gives_blocks_back", quarantine_gives_blocks_back),
    ("heap::poison::random_runs_keep_every_byte", random_runs_keep_every_byte),
    #[cfg(not(miri))]
    ("heap::poison::free_aborts_on_damage", free_aborts_on_damage),
];
