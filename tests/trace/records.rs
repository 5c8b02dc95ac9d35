//! The records of scripted sequences, exactly: which blocks, sizes and
//! callers, in which order, freed by whom; the modes, a full buffer,
//! stop and resume, the errors; the frame-pointer walk's bounds.

use super::util::*;
use core::ptr::null_mut;
use rawrt::arch::{FRAME_NEXT, FRAME_RET};
use rawrt::heap::trace::{walk_from, HeapTraceRecord, HeapTraceSummary, STACK_DEPTH};

pub fn errors_before_and_after_a_buffer() {
    let mut r = HeapTraceRecord::EMPTY;
    // SAFETY: plain calls; pointers valid or null as each case says.
    unsafe {
        assert_eq!(heap_trace_start(ALL), ESP_ERR_INVALID_STATE);
        assert_eq!(heap_trace_stop(), ESP_ERR_INVALID_STATE);
        assert_eq!(heap_trace_resume(), ESP_ERR_INVALID_STATE);
        assert_eq!(heap_trace_get(0, &mut r), ESP_ERR_INVALID_STATE);
        assert_eq!(heap_trace_get_count(), 0);
        let mut buf = [HeapTraceRecord::EMPTY; 2];
        assert_eq!(heap_trace_init_standalone(null_mut(), 4), ESP_ERR_INVALID_ARG);
        assert_eq!(heap_trace_init_standalone(buf.as_mut_ptr(), 0), ESP_ERR_INVALID_ARG);
        assert_eq!(heap_trace_init_standalone(buf.as_mut_ptr(), 2), ESP_OK);
        assert_eq!(heap_trace_start(2), ESP_ERR_INVALID_ARG);
        assert_eq!(heap_trace_start(LEAKS), ESP_OK);
        // A new buffer while tracing, a null record, an index past the end.
        assert_eq!(heap_trace_init_standalone(buf.as_mut_ptr(), 2), ESP_ERR_INVALID_STATE);
        assert_eq!(heap_trace_get(0, null_mut()), ESP_ERR_INVALID_ARG);
        assert_eq!(heap_trace_get(0, &mut r), ESP_ERR_INVALID_ARG);
        assert_eq!(heap_trace_summary(null_mut()), ESP_ERR_INVALID_ARG);
        assert_eq!(heap_trace_stop(), ESP_OK);
    }
}

/// malloc, calloc, malloc, free, realloc (moving), free, then after the
/// stop a free that is not recorded.
pub fn scripted_sequence_in_all_mode() {
    let mut buf = [HeapTraceRecord::EMPTY; 8];
    let before = rawrt::sys::time::clock_gettime(rawrt::sys::time::CLOCK_MONOTONIC).unwrap();
    start(&mut buf, ALL);
    let a = trace_site_malloc(24);
    let b = trace_site_calloc(3, 10);
    let c = trace_site_malloc(100);
    trace_site_free(a);
    // Grown past what the block holds (and with `a`'s room too small), so
    // that it moves.
    let d = trace_site_realloc(c, 5000);
    trace_site_free(b);
    stop();
    trace_site_free(d);
    assert!(!a.is_null() && !b.is_null() && !c.is_null() && !d.is_null() && d != c);
    assert_eq!(count(), 4);
    let r: [HeapTraceRecord; 4] = core::array::from_fn(get);
    let want = [(a, 24), (b, 30), (c, 100), (d, 5000)];
    for (i, (r, (p, size))) in r.iter().zip(want).enumerate() {
        assert_eq!((r.addr(), r.size), (p.addr(), size), "record {i}");
        assert_eq!(r.tid, rawrt::sys::process::gettid() as u32, "record {i}");
        assert!(r.file.is_null() && r.line == 0, "record {i}");
    }
    in_function(r[0].alloced_by[0], "trace_site_malloc");
    in_function(r[0].freed_by[0], "trace_site_free");
    in_function(r[1].alloced_by[0], "trace_site_calloc");
    in_function(r[1].freed_by[0], "trace_site_free");
    in_function(r[2].alloced_by[0], "trace_site_malloc");
    in_function(r[2].freed_by[0], "trace_site_realloc");
    in_function(r[3].alloced_by[0], "trace_site_realloc");
    // The same call site gives the same address.
    assert_eq!(r[0].alloced_by[0], r[2].alloced_by[0]);
    // The realloc is the free of one record and the allocation of the
    // next, with the same callers; the free after the stop is not seen.
    assert_eq!(r[2].freed_by, r[3].alloced_by);
    assert!(!r[3].freed());
    // Time stamps: microseconds of CLOCK_MONOTONIC, in order.
    let us = (before.sec as u64 * 1_000_000 + before.nsec as u64 / 1000) as u32;
    assert!(r[0].ccount.wrapping_sub(us) < 10_000_000, "{} vs {us}", r[0].ccount);
    for w in r.windows(2) {
        assert!(w[1].ccount.wrapping_sub(w[0].ccount) < 10_000_000);
    }
    assert_eq!(
        summary(),
        HeapTraceSummary {
            mode: ALL,
            total_allocations: 4,
            total_frees: 3,
            count: 4,
            capacity: 8,
            high_water_mark: 4,
            has_overflowed: false,
        }
    );
    // The records past the count are the buffer's own business.
    let mut x = HeapTraceRecord::EMPTY;
    // SAFETY: `x` is writable.
    assert_eq!(unsafe { heap_trace_get(4, &mut x) }, ESP_ERR_INVALID_ARG);
}

/// HEAP_TRACE_LEAKS: a freed block's record goes, the rest keep their
/// order; realloc(NULL, n) is an allocation, realloc(p, 0) a free.
pub fn leaks_mode_keeps_only_live_blocks() {
    let mut buf = [HeapTraceRecord::EMPTY; 8];
    start(&mut buf, LEAKS);
    let a = trace_site_malloc(10);
    let b = trace_site_malloc(20);
    let c = trace_site_realloc(null_mut(), 30);
    let d = trace_site_malloc(40);
    trace_site_free(b);
    assert!(trace_site_realloc(d, 0).is_null());
    stop();
    assert_eq!(count(), 2);
    let (r0, r1) = (get(0), get(1));
    assert_eq!((r0.addr(), r0.size, r1.addr(), r1.size), (a.addr(), 10, c.addr(), 30));
    in_function(r0.alloced_by[0], "trace_site_malloc");
    in_function(r1.alloced_by[0], "trace_site_realloc");
    assert!(!r0.freed() && !r1.freed());
    let s = summary();
    assert_eq!((s.mode, s.total_allocations, s.total_frees), (LEAKS, 4, 2));
    assert_eq!((s.count, s.high_water_mark, s.has_overflowed), (2, 4, false));
    trace_site_free(a);
    trace_site_free(c);
}

/// A full buffer: later allocations go unrecorded (counted, and the
/// trace marked overflowed); frees still mark their records.
pub fn full_buffer_stops_recording() {
    let mut buf = [HeapTraceRecord::EMPTY; 2];
    start(&mut buf, ALL);
    let p: [*mut u8; 3] = core::array::from_fn(|i| trace_site_malloc(16 * (i + 1)));
    for &q in &p {
        trace_site_free(q);
    }
    stop();
    assert_eq!(count(), 2);
    assert_eq!((get(0).addr(), get(1).addr()), (p[0].addr(), p[1].addr()));
    assert!(get(0).freed() && get(1).freed());
    let s = summary();
    assert_eq!((s.total_allocations, s.total_frees, s.count, s.capacity), (3, 3, 2, 2));
    assert_eq!((s.high_water_mark, s.has_overflowed), (2, true));
}

/// Stopped, nothing is recorded; resumed, the records and counters go on
/// from where they were; started again, they start over.
pub fn stop_and_resume() {
    let mut buf = [HeapTraceRecord::EMPTY; 4];
    start(&mut buf, ALL);
    let a = trace_site_malloc(1);
    stop();
    let b = trace_site_malloc(2);
    // SAFETY: plain call.
    assert_eq!(unsafe { heap_trace_resume() }, ESP_OK);
    let c = trace_site_malloc(3);
    stop();
    assert_eq!(count(), 2);
    assert_eq!(
        (get(0).addr(), get(1).addr(), summary().total_allocations),
        (a.addr(), c.addr(), 2)
    );
    // SAFETY: plain call.
    assert_eq!(unsafe { heap_trace_start(ALL) }, ESP_OK);
    stop();
    assert_eq!((count(), summary().total_allocations), (0, 0));
    for p in [a, b, c] {
        trace_site_free(p);
    }
}

/// The walk follows a chain of frame records laid out on the stack as the
/// architecture lays them (`FRAME_NEXT`, `FRAME_RET`), at most
/// `STACK_DEPTH - 1` of them, and stops, without touching it, at a frame
/// that is misaligned, not above the previous one, outside the stack, or
/// has no return address.
#[inline(never)]
pub fn walk_follows_frames_and_stops_at_bad_ones() {
    let mut stack = [0usize; 16];
    let base = stack.as_mut_ptr().addr();
    // The frame pointer of the record at words `w..w+2`.
    let fp = |w: usize| (base + w * 8).wrapping_sub(FRAME_NEXT.min(FRAME_RET) as usize);
    let set = |stack: &mut [usize; 16], w: usize, next: usize, ret: usize| {
        let f = fp(w);
        stack[(f.wrapping_add_signed(FRAME_NEXT) - base) / 8] = next;
        stack[(f.wrapping_add_signed(FRAME_RET) - base) / 8] = ret;
    };
    // A chain of four records, upwards: only three are taken.
    set(&mut stack, 0, fp(2), 0x1111);
    set(&mut stack, 2, fp(4), 0x2222);
    set(&mut stack, 4, fp(6), 0x3333);
    set(&mut stack, 6, fp(8), 0x4444);
    let stack = core::hint::black_box(&mut stack);
    assert_eq!(walk_from(fp(0)), [0x1111, 0x2222, 0x3333]);
    assert_eq!(STACK_DEPTH - 1, 3);
    // A link downwards, to itself, misaligned, to a static, to null, to
    // the top of the address space.
    set(stack, 4, fp(0), 0x3333);
    assert_eq!(walk_from(fp(2)), [0x2222, 0x3333, 0], "a link downwards");
    set(stack, 4, fp(4), 0x3333);
    assert_eq!(walk_from(fp(2)), [0x2222, 0x3333, 0], "a link to itself");
    static SOMEWHERE: [usize; 2] = [0, 0x5555];
    for (bad, what) in [
        (fp(0) + 4, "misaligned"),
        (SOMEWHERE.as_ptr().addr(), "static data"),
        (0, "null"),
        (usize::MAX - 7, "the top of the address space"),
    ] {
        set(stack, 4, bad, 0x3333);
        assert_eq!(walk_from(fp(2)), [0x2222, 0x3333, 0], "a link to {what}");
        assert_eq!(walk_from(bad), [0; 3], "a start at {what}");
    }
    // No return address: the walk ends there.
    set(stack, 2, fp(4), 0);
    assert_eq!(walk_from(fp(0)), [0x1111, 0, 0]);
    // A frame below the walk's own (a callee's, long gone).
    let here = core::hint::black_box([0usize; 4]);
    let low = here.as_ptr().addr() - 4096;
    assert_eq!(walk_from(low & !15), [0; 3]);
}
