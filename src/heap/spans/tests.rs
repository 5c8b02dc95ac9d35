//! Hosted tests of the small heap's core over a plain region (no
//! mappings) and over the mock kernel (break and mappings): classes and
//! spans, reuse, empty spans, mapped and aligned blocks, realloc, misuse,
//! damage, and random operations against a model.

use super::{class_of, SpanHeap, SpanStats, KEEP_EMPTY, SMALL_MAX, SPAN};
use crate::heap::mock_os::MockOs;
use crate::heap::process::ProcessSource;
use crate::heap::source::{RegionSource, Source};
use crate::heap::tests_model::{leak_region, ops, Rng};
use crate::heap::{Corruption, HeapError};
use core::ptr::NonNull;

/// A heap over a leaked region of `spans` spans (and the slack to align
/// them).
fn region(spans: usize) -> SpanHeap<RegionSource> {
    let len = (spans + 1) * SPAN;
    let mem = leak_region(len);
    // SAFETY: the leaked buffer is ours forever.
    SpanHeap::new(unsafe { RegionSource::new(mem.as_mut_ptr(), len) })
}

/// A heap over the mock kernel's break and mappings.
fn kernel() -> SpanHeap<ProcessSource<MockOs>> {
    SpanHeap::new(ProcessSource::new(MockOs::new(64 << 20)))
}

fn fill(p: *mut u8, n: usize, b: u8) {
    // SAFETY: the tests fill blocks they own, `n` bytes at most.
    unsafe { p.write_bytes(b, n) }
}

fn holds(p: *const u8, n: usize, b: u8) -> bool {
    // SAFETY: as for `fill`.
    unsafe { core::slice::from_raw_parts(p, n) }.iter().all(|&x| x == b)
}

/// A new block of `n` bytes.
fn al<S: Source>(h: &mut SpanHeap<S>, n: usize) -> *mut u8 {
    h.alloc(n).expect("allocation").as_ptr()
}

/// The span a block lies in.
fn span(p: *const u8) -> usize {
    p.addr() & !(SPAN - 1)
}

fn blocks_of_a_class_share_a_span_and_come_back_newest_first() {
    let mut h = region(4);
    let a = al(&mut h, 40);
    let b = al(&mut h, 48);
    let c = al(&mut h, 33);
    // One span, blocks of 48 bytes after its 64-byte header, bumped.
    assert_eq!(a.addr() % SPAN, 64);
    assert_eq!((b.addr() - a.addr(), c.addr() - b.addr()), (48, 48));
    assert_eq!(h.usable(a), Ok(48));
    let d = al(&mut h, 16);
    assert_ne!(span(d), span(a), "another class, another span");
    fill(a, 48, 1);
    fill(c, 48, 3);
    h.free(b).unwrap();
    h.free(a).unwrap();
    assert!(holds(c, 48, 3));
    assert_eq!(al(&mut h, 48), a);
    assert_eq!(al(&mut h, 48), b);
    assert_eq!(al(&mut h, 48), c.wrapping_add(48), "then bumping again");
    let st = h.stats();
    assert_eq!((st.blocks, st.used, st.spans), (5, 4 * 48 + 16, 2));
}

fn a_span_emptied_goes_to_the_pool_for_any_class() {
    let mut h = region(4);
    let per = (SPAN - 64) / 1024;
    let first: Vec<*mut u8> = (0..per).map(|_| al(&mut h, 1024)).collect();
    let next = al(&mut h, 1024);
    let s = span(first[0]);
    assert_ne!(span(next), s, "a full span: the class takes another");
    for &p in &first {
        h.free(p).unwrap();
    }
    assert_eq!(h.stats().empty, 1);
    // Its blocks are no longer blocks of the heap.
    assert_eq!(h.free(first[0]), Err(HeapError::InvalidPointer));
    assert_eq!(h.usable(first[3]), Err(HeapError::InvalidPointer));
    // Another class takes it.
    let q = al(&mut h, 100);
    assert_eq!(span(q), s);
    assert_eq!((h.stats().empty, h.stats().spans), (0, 2));
    assert!(h.check());
}

fn the_region_runs_out_with_out_of_memory() {
    let mut h = region(2);
    let mut n = 0;
    loop {
        match h.alloc(4000) {
            Ok(_) => n += 1,
            Err(e) => {
                assert_eq!(e, HeapError::OutOfMemory);
                break;
            }
        }
    }
    // Two spans of 4,096-byte blocks (class of 4,000), fifteen each.
    assert_eq!(class_of(4000).1, 4096);
    assert_eq!(n, 2 * ((SPAN - 64) / 4096));
    // Mapped and aligned blocks need a source that maps.
    assert_eq!(h.alloc(SMALL_MAX + 1), Err(HeapError::OutOfMemory));
    assert_eq!(h.alloc_aligned(8, 64), Err(HeapError::OutOfMemory));
}

fn misuse_is_reported_and_changes_nothing() {
    let mut h = region(4);
    let a = al(&mut h, 64);
    let b = al(&mut h, 64);
    h.free(a).unwrap();
    assert_eq!(h.free(a), Err(HeapError::DoubleFree));
    assert_eq!(h.usable(a), Err(HeapError::DoubleFree));
    assert_eq!(h.free(b.wrapping_add(8)), Err(HeapError::InvalidPointer), "inside a block");
    assert_eq!(h.free(b.wrapping_add(64)), Err(HeapError::InvalidPointer), "past the bump");
    assert_eq!(
        h.free(b.wrapping_sub(b.addr() % SPAN)),
        Err(HeapError::InvalidPointer),
        "the header"
    );
    let mut outside = [0u64; 8];
    assert_eq!(
        h.free(outside.as_mut_ptr().cast::<u8>().wrapping_add(32)),
        Err(HeapError::InvalidPointer)
    );
    assert_eq!(h.stats().blocks, 1);
    assert!(h.check());
    assert_eq!(al(&mut h, 64), a);
    assert_eq!(al(&mut h, 64), b.wrapping_add(64));
}

fn an_overwritten_free_list_is_found_before_it_is_followed() {
    let mut h = region(4);
    let a = al(&mut h, 32);
    let _b = al(&mut h, 32);
    h.free(a).unwrap();
    assert!(h.check());
    // A write after free: the link (and the key) of the freed block.
    fill(a, 16, 0x41);
    assert!(!h.check(), "the check finds it");
    // Taking `a` follows its link, which decodes to no block of the span.
    assert_eq!(h.alloc(32), Err(HeapError::Corrupted(Corruption::Link)));
    assert_eq!(h.damage(), a.addr());
}

fn mapped_blocks_hold_their_size_and_go_back_to_the_kernel() {
    let mut h = kernel();
    let p = al(&mut h, 100_000);
    assert_eq!(p.addr() % 4096, 32);
    let usable = h.usable(p).unwrap();
    assert!((100_000..100_000 + 4096).contains(&usable), "{usable}");
    fill(p, 100_000, 7);
    let st = h.stats();
    assert_eq!((st.blocks, st.used, st.mapped), (1, usable, usable + 32));
    let q = h.realloc(NonNull::new(p).unwrap(), 300_000).unwrap().as_ptr();
    assert!(holds(q, 100_000, 7));
    assert!(h.usable(q).unwrap() >= 300_000);
    assert_eq!(h.free(q.wrapping_add(16)), Err(HeapError::InvalidPointer));
    h.free(q).unwrap();
    assert_eq!(h.stats(), SpanStats::default());
    assert_eq!(h.source_mut().os().mapped(), 0);
}

fn aligned_blocks() {
    let mut h = kernel();
    for align in [32usize, 64, 256, 4096, 1 << 16] {
        let p = h.alloc_aligned(100, align).unwrap().as_ptr();
        assert_eq!(p.addr() % align, 0, "align {align}");
        fill(p, 100, 9);
        assert!(h.usable(p).unwrap() >= 100);
        let q = h.realloc_aligned(NonNull::new(p).unwrap(), 5000, align).unwrap().as_ptr();
        assert!(q.addr() % align == 0 && holds(q, 100, 9), "realloc_aligned {align}");
        h.free(q).unwrap();
    }
    let p = h.alloc_aligned(24, 16).unwrap().as_ptr();
    assert_eq!((p.addr() % 16, h.usable(p)), (0, Ok(32)));
    assert_eq!(h.source_mut().os().mapped(), 0);
}

fn realloc_keeps_the_contents_and_moves_only_when_it_must() {
    let mut h = kernel();
    let re = |h: &mut SpanHeap<_>, p: *mut u8, n| {
        h.realloc(NonNull::new(p).unwrap(), n).map(NonNull::as_ptr)
    };
    let p = al(&mut h, 100);
    fill(p, 100, 5);
    assert_eq!(re(&mut h, p, 112), Ok(p), "the same class");
    assert_eq!(re(&mut h, p, 60), Ok(p), "more than half of it");
    let q = re(&mut h, p, 40).unwrap();
    assert_ne!(q, p);
    assert!(holds(q, 40, 5));
    let r = re(&mut h, q, 5000).unwrap();
    assert!(holds(r, 40, 5));
    let s = re(&mut h, r, 50_000).unwrap();
    assert!(holds(s, 40, 5));
    assert_eq!(h.free(r), Err(HeapError::DoubleFree));
    assert_eq!(re(&mut h, s, usize::MAX - 4096), Err(HeapError::OutOfMemory));
    assert!(holds(s, 40, 5), "a failed realloc leaves the block");
    h.free(s).unwrap();
    assert_eq!(h.stats().blocks, 0);
}

fn zeroed_blocks_are_zero_when_reused() {
    let mut h = region(2);
    let p = al(&mut h, 200);
    fill(p, 200, 0xEE);
    h.free(p).unwrap();
    let q = h.alloc_zeroed(200).unwrap().as_ptr();
    assert_eq!(q, p);
    assert!(holds(q, 200, 0));
}

fn empty_spans_beyond_the_pool_are_purged() {
    let mut h = kernel();
    let per = (SPAN - 64) / 2048;
    let n = per * (KEEP_EMPTY + 3);
    let v: Vec<*mut u8> = (0..n).map(|_| al(&mut h, 2048)).collect();
    let madvise = h.source().counters().madvise;
    for &p in &v {
        h.free(p).unwrap();
    }
    // The current span stays with its class; the others go to the pool.
    assert_eq!(h.stats().empty, KEEP_EMPTY + 2);
    assert_eq!(h.source().counters().madvise - madvise, 2);
    assert!(h.trim(), "the kept ones' pages go back");
    assert_eq!(h.source().counters().madvise - madvise, 2 + KEEP_EMPTY);
    assert!(!h.trim());
    assert!(h.check());
}

/// The reciprocal that `free` checks block boundaries with divides every
/// offset within a span exactly, for every class.
fn reciprocals_divide_exactly() {
    let step = if cfg!(miri) { 61 } else { 1 };
    for c in 1..super::CLASSES {
        let size = super::size_of_class(c);
        let r = (super::recip(size) >> super::RECIP_SHIFT) as u64;
        for off in (0..SPAN).step_by(step) {
            let q = (off as u64 * r) >> 32;
            assert_eq!(q as usize, off / size, "class {c}, offset {off}");
        }
    }
}

/// A span reused by another class holds the old class's keys where the
/// new blocks start: a block handed out by bumping is not a freed one.
fn a_reused_span_forgets_the_old_keys() {
    let mut h = region(2);
    let per = (SPAN - 64) / 32;
    let v: Vec<*mut u8> = (0..per).map(|_| al(&mut h, 32)).collect();
    let _next = al(&mut h, 32);
    for &p in &v {
        h.free(p).unwrap();
    }
    // 96 = 3 * 32: every third old block starts where a new one does.
    let w: Vec<*mut u8> = (0..per / 3).map(|_| al(&mut h, 96)).collect();
    assert_eq!(w[0], v[0]);
    for &p in &w {
        assert_eq!(h.usable(p), Ok(96));
        h.free(p).unwrap();
    }
}

/// Random allocations, frees and reallocs of every size range, each
/// block filled with its own byte and checked before it goes; the
/// figures checked against the model's.
fn random_operations_against_a_model() {
    for seed in 1..=3u64 {
        let mut h = kernel();
        let mut rng = Rng::new(seed);
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        let mut used = 0usize;
        for i in 0..ops(20_000) {
            let byte = (i % 251) as u8;
            let r = rng.below(100);
            if r < 50 || live.is_empty() {
                let n = match rng.below(20) {
                    0 => SMALL_MAX + rng.below(100_000),
                    1..=4 => rng.below(SMALL_MAX + 1),
                    _ => rng.below(300),
                };
                let p = if rng.chance(5) {
                    h.alloc_aligned(n, 1 << (5 + rng.below(8))).unwrap().as_ptr()
                } else {
                    al(&mut h, n)
                };
                let a = p.addr();
                assert!(
                    live.iter().all(|&(q, m, _)| a + n <= q.addr() || q.addr() + m <= a),
                    "overlap"
                );
                fill(p, n, byte);
                used += h.usable(p).unwrap();
                live.push((p, n, byte));
            } else if r < 85 {
                let (p, n, b) = live.swap_remove(rng.below(live.len()));
                assert!(holds(p, n, b), "seed {seed} op {i}: block {p:p} changed");
                used -= h.usable(p).unwrap();
                h.free(p).unwrap();
            } else {
                let k = rng.below(live.len());
                let (p, n, b) = live[k];
                let m = if rng.chance(10) { rng.below(3 * SMALL_MAX) } else { rng.below(400) };
                used -= h.usable(p).unwrap();
                let q = h.realloc(NonNull::new(p).unwrap(), m).unwrap().as_ptr();
                assert!(holds(q, n.min(m), b), "seed {seed} op {i}: realloc lost bytes");
                fill(q, m, byte);
                used += h.usable(q).unwrap();
                live[k] = (q, m, byte);
            }
            let st = h.stats();
            assert_eq!((st.blocks, st.used), (live.len(), used), "seed {seed} op {i}");
            if i % 500 == 0 {
                assert!(h.check(), "seed {seed} op {i}");
            }
        }
        for (p, n, b) in live.drain(..) {
            assert!(holds(p, n, b));
            h.free(p).unwrap();
        }
        assert_eq!((h.stats().blocks, h.stats().used, h.stats().mapped), (0, 0, 0));
        assert!(h.check());
        assert_eq!(h.source_mut().os().mapped(), 0);
    }
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    (
        "heap::spans::classes_cover_every_size_and_waste_at_most_a_quarter",
        super::class::classes_cover_every_size_and_waste_at_most_a_quarter,
    ),
    (
        "heap::spans::blocks_of_a_class_share_a_span_and_come_back_newest_first",
        blocks_of_a_class_share_a_span_and_come_back_newest_first,
    ),
    (
        "heap::spans::a_span_emptied_goes_to_the_pool_for_any_class",
        a_span_emptied_goes_to_the_pool_for_any_class,
    ),
    ("heap::spans::the_region_runs_out_with_out_of_memory", the_region_runs_out_with_out_of_memory),
    ("heap::spans::misuse_is_reported_and_changes_nothing", misuse_is_reported_and_changes_nothing),
    (
        "heap::spans::an_overwritten_free_list_is_found_before_it_is_followed",
        an_overwritten_free_list_is_found_before_it_is_followed,
    ),
    (
        "heap::spans::mapped_blocks_hold_their_size_and_go_back_to_the_kernel",
        mapped_blocks_hold_their_size_and_go_back_to_the_kernel,
    ),
    ("heap::spans::aligned_blocks", aligned_blocks),
    (
        "heap::spans::realloc_keeps_the_contents_and_moves_only_when_it_must",
        realloc_keeps_the_contents_and_moves_only_when_it_must,
    ),
    ("heap::spans::reciprocals_divide_exactly", reciprocals_divide_exactly),
    ("heap::spans::a_reused_span_forgets_the_old_keys", a_reused_span_forgets_the_old_keys),
    ("heap::spans::zeroed_blocks_are_zero_when_reused", zeroed_blocks_are_zero_when_reused),
    ("heap::spans::empty_spans_beyond_the_pool_are_purged", empty_spans_beyond_the_pool_are_purged),
    ("heap::spans::random_operations_against_a_model", random_operations_against_a_model),
];
