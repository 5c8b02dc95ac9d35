//! Tests of the process source's behaviour, driven through a simulated
//! kernel: trimming and purging, large blocks, fresh memory for calloc,
//! brk refusal, foreign break moves, out of memory, huge requests.

use std::sync::Mutex;

use super::block::{block_for, HDR};
use super::mock_os::MockOs;
use super::tests_model::{all_bytes, heap_resident, Model, Rng};
use super::{Heap, HeapError, HeapInfo, ProcessSource, RawHeap, DEFAULT_TRIM_THRESHOLD, TOP_PAD};

type Mocked = RawHeap<ProcessSource<MockOs>>;

fn mock() -> Mocked {
    RawHeap::new(ProcessSource::new(MockOs::new(1 << 30)))
}

fn a(h: &mut Mocked, size: usize) -> usize {
    h.alloc(size, 16).expect("alloc").as_ptr() as usize
}

fn free(h: &mut Mocked, p: usize) {
    // SAFETY: tests free their own live blocks.
    unsafe { h.free(p as *mut u8) }.expect("free");
}

fn calls(i: &HeapInfo) -> [usize; 5] {
    [i.brk_calls, i.mmap_calls, i.munmap_calls, i.mremap_calls, i.madvise_calls]
}

fn ok(h: &mut Mocked) {
    let mut out = String::new();
    assert!(h.check(true, &mut out), "{out}");
}

/// Allocates ~`n` small blocks, then frees them in `order` (0 random,
/// 1 LIFO, 2 FIFO).
fn burst(h: &mut Mocked, rng: &mut Rng, n: usize, order: usize) {
    let mut ps: Vec<usize> = (0..n).map(|_| a(h, 16 + rng.below(600))).collect();
    ok(h);
    match order {
        1 => ps.reverse(),
        2 => {}
        _ => rng.shuffle(&mut ps),
    }
    for p in ps {
        free(h, p);
    }
    ok(h);
}

fn trim_after_burst() {
    for order in 0..3 {
        let mut h = mock();
        let mut rng = Rng::new(order as u64);
        let keep = a(&mut h, 100);
        let start = h.info();
        let brk0 = h.source().os().current_brk();
        burst(&mut h, &mut rng, 20_000, order);
        let end = h.info();
        assert!(end.peak_allocated_bytes > 5 << 20);
        let mut d = String::new();
        h.dump(&mut d).unwrap();
        assert!(
            end.footprint <= start.footprint + TOP_PAD + 4096,
            "order {order}: {} vs {}\n{d}",
            end.footprint,
            start.footprint
        );
        assert!(h.source().os().current_brk() <= brk0 + TOP_PAD + 4096, "the break came down");
        // The top below the trim threshold is kept dirty on purpose (the
        // trim hysteresis): at most that much stays resident.
        let slack = DEFAULT_TRIM_THRESHOLD + (256 << 10);
        assert!(heap_resident(&h) <= slack, "resident {}", heap_resident(&h));
        assert!(h.trim(0));
        assert!(h.info().footprint <= 4096 * 2, "trim(0) keeps at most a page of top");
        free(&mut h, keep);
        ok(&mut h);
    }
}

fn purge_when_the_break_moved() {
    let mut h = mock();
    let mut rng = Rng::new(5);
    let ps: Vec<usize> = (0..10_000).map(|_| a(&mut h, 16 + rng.below(900))).collect();
    h.source().os().foreign_move(4096);
    let before = h.info();
    for p in ps {
        free(&mut h, p);
    }
    let after = h.info();
    assert_eq!(after.footprint, before.footprint, "the break is not ours to lower");
    assert!(after.madvise_calls > before.madvise_calls, "free pages were purged instead");
    assert!(heap_resident(&h) <= 256 << 10, "resident {}", heap_resident(&h));
    // Growing again goes past the foreign memory.
    let big: Vec<usize> = (0..3000).map(|_| a(&mut h, 1000)).collect();
    assert!(big.iter().all(|&p| p < h.source().os().current_brk()));
    h.source().os().verify_foreign();
    for p in big {
        free(&mut h, p);
    }
    ok(&mut h);
}

fn large_blocks_map_and_remap() {
    let mut h = mock();
    let small = a(&mut h, 10);
    let c0 = h.info();
    // Past the threshold and past what the top holds (a large request
    // that fits in free memory is served from it).
    let p = a(&mut h, 200_000usize.max(c0.largest_free_block + 16));
    let c1 = h.info();
    assert_eq!(c1.mmap_calls, c0.mmap_calls + 2, "the block and the large-block table");
    assert!(c1.footprint >= c0.footprint + 200_000);
    assert_eq!(c1.allocated_blocks, 2);
    // SAFETY: p is a live 200000-byte block.
    unsafe { core::ptr::write_bytes(p as *mut u8, 0x5C, 200_000) };
    let re = |h: &mut Mocked, p: usize, n: usize| {
        // SAFETY: p is live.
        unsafe { h.realloc(p as *mut u8, n, 16) }.unwrap().as_ptr() as usize
    };
    let p = re(&mut h, p, 3 << 20);
    assert_eq!(h.info().mremap_calls, c1.mremap_calls + 1);
    assert!(all_bytes(p as *const u8, 200_000, 0x5C));
    let p = re(&mut h, p, 300_000);
    assert_eq!(h.info().mremap_calls, c1.mremap_calls + 2);
    let p = re(&mut h, p, 1000);
    assert_eq!(h.info().munmap_calls, c1.munmap_calls + 1, "moved into the heap");
    assert!(all_bytes(p as *const u8, 1000, 0x5C));
    free(&mut h, p);
    let q = a(&mut h, 500_000);
    free(&mut h, q);
    // SAFETY: testing rejection of a repeated free.
    assert_eq!(unsafe { h.free(q as *mut u8) }, Err(HeapError::DoubleFree));
    let al = h.alloc(300_000, 1 << 20).unwrap().as_ptr() as usize;
    assert_eq!(al % (1 << 20), 0);
    free(&mut h, al);
    // A higher threshold keeps such requests in the heap.
    h.set_mmap_threshold(8 << 20);
    let m0 = h.info().mmap_calls;
    let r = a(&mut h, 1 << 20);
    assert_eq!(h.info().mmap_calls, m0);
    free(&mut h, r);
    free(&mut h, small);
    let i = h.info();
    assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (0, 0));
    assert_eq!(h.source().os().mapped(), 4096, "only the large-block table is still mapped");
    ok(&mut h);
}

fn calloc_skips_fresh_memory() {
    let mut h = mock();
    let (p, d) = h.alloc_any(50_000, 16).unwrap();
    assert_eq!(d, p, "fresh from the kernel: nothing to clear");
    // SAFETY: live block.
    unsafe { core::ptr::write_bytes(p as *mut u8, 0xEE, 50_000) };
    free(&mut h, p);
    let (q, d) = h.alloc_any(50_000, 16).unwrap();
    assert_eq!(q, p);
    assert!(d >= q + 50_000, "reused memory must be cleared");
    free(&mut h, q);
    let z = h.alloc_zeroed(60_000, 16).unwrap().as_ptr() as usize;
    assert!(all_bytes(z as *const u8, 60_000, 0));
    let (l, d) = h.alloc_any(400_000, 16).unwrap();
    assert_eq!(d, l, "a new mapping is fresh");
    free(&mut h, l);
    free(&mut h, z);
    ok(&mut h);
}

fn brk_refused_falls_back_to_mmap() {
    let mut h = mock();
    h.source().os().brk_fail = true;
    let ps: Vec<usize> = (0..4000).map(|_| a(&mut h, 500)).collect();
    assert!(!h.source().uses_brk());
    let i = h.info();
    assert_eq!(
        i.brk_calls, 3,
        "one query, a refused raise by a step and by what the heap needs, then never again"
    );
    assert!(i.mmap_calls >= 1);
    for p in ps {
        free(&mut h, p);
    }
    let j = h.info();
    assert_eq!(j.brk_calls, 3);
    assert!(j.munmap_calls > i.munmap_calls, "the mmap'd top was trimmed");
    assert!(j.footprint <= TOP_PAD + 8192);
    ok(&mut h);
}

fn foreign_break_move_starts_a_new_segment() {
    let mut h = mock();
    let first: Vec<usize> = (0..100).map(|_| a(&mut h, 1000)).collect();
    h.source().os().foreign_move(5000);
    let more: Vec<usize> = (0..1500).map(|_| a(&mut h, 1000)).collect();
    let spans = h.spans();
    assert_eq!(spans.len(), 2);
    assert!(spans[1].base > spans[0].end() && spans[1].base % 4096 == 0);
    h.source().os().verify_foreign();
    for p in first.into_iter().chain(more) {
        free(&mut h, p);
    }
    ok(&mut h);
    h.source().os().verify_foreign();
}

static OOM: Mutex<Vec<(usize, &'static str)>> = Mutex::new(Vec::new());

fn out_of_memory_then_recovers() {
    let heap = Heap::with_source(ProcessSource::new(MockOs::new(1 << 30)));
    {
        let mut g = heap.lock();
        let os = g.source().os();
        os.brk_fail = true;
        os.map_budget = 4 << 20;
    }
    heap.set_failed_alloc_callback(Some(|size, _, func| OOM.lock().unwrap().push((size, func))));
    let mut ps = Vec::new();
    while let Some(p) = heap.allocate(1 << 20, 16, false, "malloc") {
        ps.push(p);
        assert!(ps.len() < 10);
    }
    assert!(ps.len() >= 2);
    assert_eq!(*OOM.lock().unwrap(), [(1 << 20, "malloc")]);
    assert!(heap.allocate(100 << 10, 16, false, "malloc").is_some(), "small requests still fit");
    // SAFETY: live block.
    unsafe { heap.dealloc(ps.pop().unwrap()) }.unwrap();
    assert!(heap.allocate(1 << 20, 16, false, "malloc").is_some(), "works again after a free");
    assert!(heap.check(true, &mut String::new()));
}

fn huge_requests_fail_fast() {
    let mut h = mock();
    let p = a(&mut h, 10);
    let c0 = calls(&h.info());
    for size in [usize::MAX, usize::MAX - 4096, isize::MAX as usize, 1 << 62] {
        assert!(h.alloc(size, 16).is_none());
        assert!(h.alloc_zeroed(size, 16).is_none());
        assert!(h.alloc(size, 4096).is_none());
        // SAFETY: p is live; the failed realloc leaves it intact.
        assert_eq!(unsafe { h.realloc(p as *mut u8, size, 16) }, Err(HeapError::OutOfMemory));
    }
    assert!(h.alloc(16, 1 << 62).is_none());
    assert_eq!(calls(&h.info()), c0, "no system call for an impossible size");
    h.source().os().map_budget = 64 << 20;
    for size in [1 << 60, 1 << 40, 1 << 30] {
        let before: usize = calls(&h.info()).iter().sum();
        assert!(h.alloc(size, 16).is_none());
        let after: usize = calls(&h.info()).iter().sum();
        assert!(after - before <= 4, "{size}: {} calls", after - before);
    }
    free(&mut h, p);
    ok(&mut h);
}

/// A realloc of the block at the top that the source cannot serve asks it
/// for memory once: when growing the top in place is refused, moving the
/// block does not ask again (it used to: twice the system calls).
fn refused_realloc_at_the_top_asks_once() {
    let mut h = mock();
    h.set_mmap_threshold(usize::MAX); // everything from the heap
    let p = a(&mut h, 1000);
    let q = a(&mut h, 100_000); // the block next to the top
    h.source().os().map_budget = 0;
    h.source().os().brk_fail = true;
    let before: usize = calls(&h.info()).iter().sum();
    // SAFETY: q is live; the failed realloc leaves it intact.
    let r = unsafe { h.realloc(q as *mut u8, 64 << 20, 16) };
    assert_eq!(r, Err(HeapError::OutOfMemory));
    let made = calls(&h.info()).iter().sum::<usize>() - before;
    // One growth attempt: a break query and the refused move or mapping.
    assert!(made <= 3, "{made} system calls");
    assert!(made >= 1, "the source was asked");
    free(&mut h, q);
    free(&mut h, p);
    ok(&mut h);
}

/// A block growing in small steps into a free neighbour smaller than the
/// room it would get takes all of the neighbour, so that its next steps are
/// in place without a list operation; a block that doubles takes only the
/// block it asked for and leaves the rest listed.
fn realloc_steps_take_a_small_neighbour_whole() {
    let mut h = mock();
    let usable = |h: &Mocked, p: usize| {
        // SAFETY: `p` is a live block of `h`.
        unsafe { h.usable_size(p as *const u8) }.expect("usable size")
    };
    let resize = |h: &mut Mocked, p: usize, size: usize| {
        // SAFETY: `p` is a live block of `h`.
        unsafe { h.realloc(p as *mut u8, size, 16) }.expect("realloc").as_ptr() as usize
    };
    // Small steps: 1000 bytes next to a free 200-byte block.
    let p = a(&mut h, 1000);
    let gap = a(&mut h, 200);
    let _guard = a(&mut h, 64);
    let whole = usable(&h, p) + HDR + usable(&h, gap);
    free(&mut h, gap);
    let listed = h.info().free_blocks;
    assert_eq!(resize(&mut h, p, 1016), p);
    assert_eq!(usable(&h, p), whole, "the whole neighbour joined the block");
    assert_eq!(h.info().free_blocks, listed - 1);
    assert_eq!(resize(&mut h, p, 1100), p);
    assert_eq!(usable(&h, p), whole, "the next step needed no change");
    ok(&mut h);
    // Doubling: 1000 bytes next to a free 1100-byte block, grown to 2000.
    let q = a(&mut h, 1000);
    let gap = a(&mut h, 1100);
    let _guard = a(&mut h, 64);
    free(&mut h, gap);
    let listed = h.info().free_blocks;
    assert_eq!(resize(&mut h, q, 2000), q);
    assert_eq!(usable(&h, q), block_for(2000).unwrap() - HDR, "exactly the block asked for");
    assert_eq!(h.info().free_blocks, listed, "the rest of the neighbour stays listed");
    ok(&mut h);
}

fn old_segments_are_released() {
    let mut h = RawHeap::new(ProcessSource::mmap_only(MockOs::new(1 << 20)));
    h.source().os().no_grow_in_place = true;
    let mut ps = Vec::new();
    while h.spans().len() < 3 {
        ps.push(a(&mut h, 1000));
    }
    let i = h.info();
    let mut rng = Rng::new(3);
    rng.shuffle(&mut ps);
    for p in ps {
        free(&mut h, p);
    }
    assert_eq!(h.spans().len(), 1, "fully free old segments go back");
    let j = h.info();
    assert!(j.munmap_calls >= i.munmap_calls + 2);
    assert!(j.footprint <= TOP_PAD + 8192);
    ok(&mut h);
}

fn largest_free_block_without_source_calls() {
    let mut h = mock();
    h.set_mmap_threshold(4096); // the top's size is above it
    let mut rng = Rng::new(11);
    let mut m = Model::new(h, false);
    for _ in 0..20 {
        m.run(&mut rng, 400, 400, &mut |r: &mut Rng| r.below(3000));
        let i = m.heap.info();
        let c = calls(&i);
        let p = m.heap.alloc(i.largest_free_block, 16).expect("largest_free_block fits");
        assert_eq!(calls(&m.heap.info()), c, "no system call for largest_free_block");
        // SAFETY: just allocated.
        unsafe { m.heap.free(p.as_ptr()) }.unwrap();
    }
}

fn the_process_heap() {
    let heap = super::process();
    let before = heap.info();
    let l = core::alloc::Layout::from_size_align(1000, 8).unwrap();
    let p = heap.allocate(l.size(), l.align(), false, "alloc").unwrap();
    // SAFETY: live block.
    unsafe { core::ptr::write_bytes(p.as_ptr(), 1, 1000) };
    assert_eq!(heap.info().allocated_blocks, before.allocated_blocks + 1);
    // SAFETY: live block.
    unsafe { heap.dealloc(p) }.unwrap();
    let after = heap.info();
    assert_eq!(after.allocated_blocks, before.allocated_blocks);
    assert_eq!(after.brk_calls, 0, "hosted tests never move the real break");
    assert!(after.mmap_calls >= 1);
    assert!(heap.check(true, &mut String::new()));
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::process::trim_after_burst", trim_after_burst),
    ("heap::process::purge_when_the_break_moved", purge_when_the_break_moved),
    ("heap::process::large_blocks_map_and_remap", large_blocks_map_and_remap),
    ("heap::process::calloc_skips_fresh_memory", calloc_skips_fresh_memory),
    ("heap::process::brk_refused_falls_back_to_mmap", brk_refused_falls_back_to_mmap),
    (
        "heap::process::foreign_break_move_starts_a_new_segment",
        foreign_break_move_starts_a_new_segment,
    ),
    ("heap::process::out_of_memory_then_recovers", out_of_memory_then_recovers),
    ("heap::process::huge_requests_fail_fast", huge_requests_fail_fast),
    ("heap::process::refused_realloc_at_the_top_asks_once", refused_realloc_at_the_top_asks_once),
    (
        "heap::process::realloc_steps_take_a_small_neighbour_whole",
        realloc_steps_take_a_small_neighbour_whole,
    ),
    ("heap::process::old_segments_are_released", old_segments_are_released),
    (
        "heap::process::largest_free_block_without_source_calls",
        largest_free_block_without_source_calls,
    ),
    ("heap::process::the_process_heap", the_process_heap),
];
