//! Poisoned region heaps of the main core (`region.rs`): a heap made
//! poisoned goes through the layer at every public entry point, with the
//! process heap's semantics and report lines (canaries checked by free,
//! realloc and the check; fills, the quarantine and write after free in
//! comprehensive mode); a heap made with poisoning off is the plain heap.
//! The reports that abort run in forked children (natively only).

use core::ptr::NonNull;

use super::layer::{FREE_FILL, NEW_FILL, TAIL};
use super::Poisoning;
use crate::heap::tests_model::leak_region;
use crate::heap::{Heap, HeapError, RegionSource};

const MODES: [Poisoning; 2] = [Poisoning::Light, Poisoning::Comprehensive];

fn heap(mode: Poisoning) -> &'static Heap<RegionSource> {
    let len = if cfg!(miri) { 256 << 10 } else { 1 << 20 };
    let mem = leak_region(len);
    // SAFETY: the leaked region is ours forever.
    Box::leak(Box::new(unsafe { Heap::from_raw_poisoned(mem.as_mut_ptr(), len, mode) }))
}

fn alloc(h: &Heap<RegionSource>, n: usize) -> NonNull<u8> {
    h.allocate(n, 16, false, "malloc").expect("allocation")
}

fn free(h: &Heap<RegionSource>, p: NonNull<u8>) -> Result<(), HeapError> {
    // SAFETY: the tests free their blocks, or misuse the heap detects.
    unsafe { h.dealloc(p) }
}

fn bytes(p: NonNull<u8>, n: usize) -> &'static [u8] {
    // SAFETY: the tests read bytes of their regions.
    unsafe { core::slice::from_raw_parts(p.as_ptr(), n) }
}

fn poke(p: NonNull<u8>, off: isize, v: u8) {
    // SAFETY: the tests write around and after their blocks on purpose,
    // inside the region.
    unsafe { p.as_ptr().offset(off).write(v) }
}

/// The integrity check's verdict and report.
fn check(h: &Heap<RegionSource>) -> (bool, String) {
    let mut s = String::new();
    let ok = h.check(true, &mut s);
    (ok, s)
}

/// Through the heap's own API: the usable size is the size asked for,
/// the tail canary follows the block, new bytes are 0xCE
/// (comprehensive), `alloc_zeroed` zeroes, a resize keeps the bytes,
/// freed bytes are 0xFE (comprehensive), and the check passes.
fn region_blocks_round_trip() {
    for mode in MODES {
        let full = mode == Poisoning::Comprehensive;
        let h = heap(mode);
        let p = alloc(h, 100);
        // SAFETY: a live block.
        assert_eq!(unsafe { h.usable_size(p.as_ptr()) }, Ok(100));
        assert_eq!(bytes(NonNull::new(p.as_ptr().wrapping_add(100)).unwrap(), 8), TAIL);
        assert_eq!(bytes(p, 100).iter().all(|&b| b == NEW_FILL), full);
        let layout = core::alloc::Layout::from_size_align(64, 64).unwrap();
        let z = h.alloc_zeroed(layout).expect("alloc_zeroed");
        assert_eq!(z.as_ptr().addr() % 64, 0);
        assert!(bytes(z, 64).iter().all(|&b| b == 0));
        // SAFETY: the block's own bytes.
        unsafe { core::ptr::write_bytes(p.as_ptr(), 7, 100) };
        // SAFETY: `p` is live.
        let q = unsafe { h.reallocate(p, 3000, 16, "realloc") }.expect("realloc");
        assert_ne!(q, p, "a poisoned resize always moves");
        assert!(bytes(q, 100).iter().all(|&b| b == 7));
        // SAFETY: a live block.
        assert_eq!(unsafe { h.usable_size(q.as_ptr()) }, Ok(3000));
        if full {
            assert!(bytes(p, 100).iter().all(|&b| b == FREE_FILL), "the old block is freed");
        }
        assert_eq!(check(h), (true, String::new()));
        assert_eq!(free(h, q), Ok(()));
        assert_eq!(free(h, z), Ok(()));
        if full {
            assert!(bytes(q, 3000).iter().all(|&b| b == FREE_FILL));
        }
        assert_eq!(check(h), (true, String::new()));
    }
}

/// A one-byte overflow and an underflow are found by the check, which
/// names the block as the process heap's does.
fn region_check_finds_overflow() {
    for mode in MODES {
        let h = heap(mode);
        let p = alloc(h, 13);
        let a = p.as_ptr().addr();
        poke(p, 13, 0);
        assert_eq!(
            check(h),
            (false, format!("rawrt: check(): canary corrupted after block {a:#x}\n"))
        );
        assert!(!h.check_addr(p.as_ptr()));
        poke(p, 13, TAIL[0]);
        assert_eq!(check(h), (true, String::new()));
        // The canary's last byte changed (a fixed value would be its own
        // byte once in 256 secrets and addresses, and pass).
        // SAFETY: the canary before the block, in the region.
        let was = unsafe { p.as_ptr().offset(-1).read() };
        poke(p, -1, was ^ 0x41);
        assert_eq!(
            check(h),
            (false, format!("rawrt: check(): canary corrupted before block {a:#x}\n"))
        );
    }
}

/// A write after free at offsets 0, 8 and 100 of a freed block is found
/// by the check (comprehensive), with the block and the offset.
fn region_check_finds_write_after_free() {
    for off in [0usize, 8, 100] {
        let h = heap(Poisoning::Comprehensive);
        let p = alloc(h, 200);
        assert_eq!(free(h, p), Ok(()));
        assert_eq!(check(h), (true, String::new()));
        poke(p, off as isize, 0);
        let a = p.as_ptr().addr();
        assert_eq!(
            check(h),
            (false, format!("rawrt: check(): write after free at offset {off} of block {a:#x}\n"))
        );
    }
}

/// Double frees and pointers that are no block are refused in both
/// modes, by free, realloc and usable_size.
fn region_misuse_is_refused() {
    for mode in MODES {
        let h = heap(mode);
        let keep = alloc(h, 40);
        let p = alloc(h, 40);
        assert_eq!(free(h, p), Ok(()));
        assert_eq!(free(h, p), Err(HeapError::DoubleFree));
        // SAFETY: misuse the heap must reject.
        assert_eq!(unsafe { h.reallocate(p, 80, 16, "realloc") }, Err(HeapError::DoubleFree));
        let odd = NonNull::new(keep.as_ptr().wrapping_add(1)).unwrap();
        assert_eq!(free(h, odd), Err(HeapError::InvalidPointer));
        // SAFETY: misuse the heap must reject.
        assert_eq!(unsafe { h.usable_size(odd.as_ptr()) }, Err(HeapError::InvalidPointer));
        assert_eq!(check(h), (true, String::new()));
        assert_eq!(free(h, keep), Ok(()));
    }
}

/// Off: no layer, and the same blocks at the same offsets as a plain
/// heap over an identical region; the layer's state is 8,232 bytes, and
/// a region too small for it gives a poisoned heap in which every
/// allocation fails.
fn region_off_is_the_plain_heap() {
    let len = 64 << 10;
    let (a, b) = (leak_region(len), leak_region(len));
    let (ba, bb) = (a.as_mut_ptr().addr(), b.as_mut_ptr().addr());
    // SAFETY: leaked regions, ours forever.
    let (off, plain) = unsafe {
        (
            Heap::from_raw_poisoned(a.as_mut_ptr(), len, Poisoning::Off),
            Heap::from_raw_plain(b.as_mut_ptr(), len),
        )
    };
    assert!(off.layer().is_none());
    for n in [1, 100, 5000, 24] {
        let (p, q) = (alloc(&off, n), alloc(&plain, n));
        assert_eq!(p.as_ptr().addr() - ba, q.as_ptr().addr() - bb);
        // SAFETY: live blocks.
        unsafe { assert_eq!(off.usable_size(p.as_ptr()), plain.usable_size(q.as_ptr())) };
    }
    assert_eq!(off.info().total_allocated_bytes, plain.info().total_allocated_bytes);
    // The layer's state (README: 8,232 bytes), which a poisoned heap
    // takes from the start of its region.
    assert_eq!(core::mem::size_of::<super::layer::Layer>(), 8232);
    let small = leak_region(4096);
    // SAFETY: a leaked region, ours forever.
    let tiny = unsafe { Heap::from_raw_poisoned(small.as_mut_ptr(), 4096, Poisoning::Light) };
    assert_eq!(tiny.allocate(16, 16, false, "malloc"), None);
}

/// What the death tests below run in a child: the report's line and
/// SIGABRT.
#[cfg(not(miri))]
fn dies_with(f: impl FnOnce(), line: &str) {
    let d = crate::testing::dies(f);
    assert_eq!(d.signal, Some(6), "{}", d.stderr);
    assert_eq!(d.stderr, line);
}

/// `free` (and `realloc`) of a block overflowed by one byte reports it
/// and aborts, in both modes; a double free through `free_or_abort` is
/// the process heap's report; a write after free at offsets 0, 8 and 100
/// is reported when the block leaves the quarantine.
#[cfg(not(miri))]
fn region_free_aborts_on_damage() {
    for mode in MODES {
        let h = heap(mode);
        let p = alloc(h, 24);
        poke(p, 24, 0);
        let a = p.as_ptr().addr();
        dies_with(
            || {
                let _ = free(h, p);
            },
            &format!("rawrt: free(): canary corrupted after block {a:#x}\n"),
        );
        dies_with(
            || {
                // SAFETY: the block is live (damaged on purpose).
                let _ = unsafe { h.reallocate(p, 100, 16, "realloc") };
            },
            &format!("rawrt: realloc(): canary corrupted after block {a:#x}\n"),
        );
        let q = alloc(h, 24);
        assert_eq!(free(h, q), Ok(()));
        let b = q.as_ptr().addr();
        dies_with(
            // SAFETY: a double free the heap must report.
            || unsafe { h.free_or_abort(q.as_ptr(), "free") },
            &format!("rawrt: free(): double free of {b:#x}\n"),
        );
    }
    for off in [0usize, 8, 100] {
        let h = heap(Poisoning::Comprehensive);
        let p = alloc(h, 200);
        assert_eq!(free(h, p), Ok(()));
        poke(p, off as isize, 1);
        let a = p.as_ptr().addr();
        dies_with(
            || {
                for _ in 0..super::layer::QUARANTINE_BLOCKS {
                    let q = alloc(h, 16);
                    let _ = free(h, q);
                }
            },
            &format!("rawrt: free(): write after free at offset {off} of block {a:#x}\n"),
        );
    }
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::poison::region_blocks_round_trip", region_blocks_round_trip),
    ("heap::poison::region_check_finds_overflow", region_check_finds_overflow),
    ("heap::poison::region_check_finds_write_after_free", region_check_finds_write_after_free),
    ("heap::poison::region_misuse_is_refused", region_misuse_is_refused),
    ("heap::poison::region_off_is_the_plain_heap", region_off_is_the_plain_heap),
    #[cfg(not(miri))]
    ("heap::poison::region_free_aborts_on_damage", region_free_aborts_on_damage),
];
