//! Hosted tests of the per-thread caches in front of a heap (`tcache.rs`):
//! the model over a cached heap (exact figures with cached blocks counted
//! as free), several threads sharing one, and misuse of cached blocks.
//! Hosted caches are thread-locals: each test gives its cache back at the
//! end, so that the next test's heap starts with an empty one.

use core::ptr::NonNull;

use super::mock_os::MockOs;
use super::tests_model::{mixed_size, Model, Rng};
use super::{Heap, HeapError, LinuxOs, ProcessSource, CACHE_CAP, CACHE_GC_PERIOD, CACHE_MAX};

fn cached_heap() -> &'static Heap<ProcessSource<MockOs>> {
    Box::leak(Box::new(Heap::with_thread_cache(ProcessSource::new(MockOs::new(1 << 30)))))
}

fn nn(p: usize) -> NonNull<u8> {
    NonNull::new(p as *mut u8).unwrap()
}

fn small(rng: &mut Rng) -> usize {
    if rng.chance(90) {
        rng.below(CACHE_MAX)
    } else {
        mixed_size(rng)
    }
}

fn model_over_a_cached_heap() {
    let heap = cached_heap();
    let mut total = 0;
    for seed in 0..4u64 {
        let mut rng = Rng::new(500 + seed);
        let mut m = Model::new(heap, false);
        for _ in 0..8 {
            // Small sizes mostly (the cache's), and bursts that fill and
            // drain the heap; the figures must match the model exactly.
            m.run(&mut rng, 10_000, 200, &mut small);
            if rng.chance(50) {
                m.drain(&mut rng);
            }
        }
        m.drain(&mut rng);
        let i = heap.info();
        assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (0, 0));
        assert!(i.peak_allocated_bytes > 0 && i.minimum_free_bytes <= i.total_free_bytes);
        total += m.ops;
    }
    heap.flush_thread_cache();
    let i = heap.info();
    assert_eq!(i.total_blocks, i.free_blocks);
    assert!(total >= 300_000, "{total} operations");
}

fn threads_share_a_cached_heap() {
    let heap: &'static Heap<ProcessSource> =
        Box::leak(Box::new(Heap::with_thread_cache(ProcessSource::mmap_only(LinuxOs))));
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(900 + t);
                let mut m = Model::new(heap, false);
                m.shared = true;
                m.run(&mut rng, 30_000, 1000, &mut small);
                m.drain(&mut rng);
                let ops = m.ops;
                heap.flush_thread_cache(); // what a rawrt thread does as it ends
                ops
            })
        })
        .collect();
    let ops: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(ops >= 120_000);
    let mut out = String::new();
    assert!(heap.check(true, &mut out), "{out}");
    let i = heap.info();
    assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (0, 0), "{i:?}");
}

fn misuse_of_cached_blocks() {
    let heap = cached_heap();
    let a = |n| heap.allocate(n, 16, false, "test").unwrap().as_ptr() as usize;
    let (p, guard) = (a(100), a(100));
    // SAFETY (all calls below): blocks of this heap, or misuse the heap
    // must reject.
    unsafe {
        heap.dealloc(nn(p)).unwrap();
        assert_eq!(heap.dealloc(nn(p)), Err(HeapError::DoubleFree), "free of a cached block");
        assert_eq!(heap.reallocate(nn(p), 200, 16, "t"), Err(HeapError::DoubleFree));
        assert_eq!(heap.usable_size(p as *const u8), Err(HeapError::DoubleFree));
        // The heap core sees the key too (callers that lock it directly).
        assert_eq!(heap.lock().free(p as *mut u8), Err(HeapError::DoubleFree));
        let mut d = String::new();
        heap.dump(&mut d).unwrap();
        assert!(d.contains(&format!("{:#x}        104 cached next", p - 8)), "{d}");
        let mut out = String::new();
        assert!(heap.check(true, &mut out), "{out}");
        // A cached block's link overwritten: check names the cache.
        let link = (p as *mut usize).read();
        (p as *mut usize).write(0x1234_5678);
        assert!(!heap.check(true, &mut out));
        assert!(out.contains("thread cache bin"), "{out}");
        (p as *mut usize).write(link);
        // It comes back first, and the next free caches it again.
        assert_eq!(a(100), p);
        heap.dealloc(nn(p)).unwrap();
        heap.dealloc(nn(guard)).unwrap();
    }
    // A full bin gives half of its blocks to the heap, then takes the one
    // being freed.
    heap.flush_thread_cache(); // bins back at their first capacity
    let blocks: Vec<usize> = (0..CACHE_CAP as usize + 1).map(|_| a(300)).collect();
    // SAFETY: a live block of this heap.
    let usable = unsafe { heap.usable_size(blocks[0] as *const u8) }.unwrap();
    let before = heap.info();
    for &b in &blocks {
        // SAFETY: live blocks of this heap.
        unsafe { heap.dealloc(nn(b)).unwrap() };
    }
    let after = heap.info();
    assert_eq!(after.allocated_blocks, before.allocated_blocks - blocks.len());
    assert_eq!(cached_in_dump(heap, usable), CACHE_CAP as usize / 2 + 1, "spilled half");
    let mut out = String::new();
    assert!(heap.check(true, &mut out), "{out}");
    heap.flush_thread_cache();
    let i = heap.info();
    assert_eq!(i.allocated_blocks, 0);
    assert!(i.free_blocks <= 2, "coalesced after the flush: {i:?}");
}

/// The model over a cached heap whose mmap threshold changes between
/// phases, with trims: sizes up to 1 MiB and alignments up to 1 MiB, and
/// bursts that make the cache give blocks back in the middle of a free
/// (seed 18 once found a free that used its block's neighbours as seen
/// before the cache gave blocks back).
fn cached_heap_with_changing_thresholds() {
    let thresholds = [128usize << 10, 64 << 10, 512 << 10, 1 << 20];
    let mut total = 0;
    for seed in 0..20 {
        let heap = cached_heap();
        let mut rng = Rng::new(0xC0FFEE + seed);
        let mut m = Model::new(heap, false);
        for _phase in 0..12 {
            heap.set_mmap_threshold(thresholds[rng.below(4)]);
            m.run(&mut rng, 5000, 400, &mut |r: &mut Rng| match r.below(1000) {
                0..=549 => r.below(129),
                550..=849 => r.below(1025),
                850..=969 => r.below(16 << 10),
                970..=994 => r.below(256 << 10),
                _ => r.below(1 << 20),
            });
            if rng.chance(30) {
                heap.trim(rng.below(256 << 10));
                m.verify();
            }
        }
        m.drain(&mut rng);
        heap.flush_thread_cache();
        let mut out = String::new();
        assert!(heap.check(true, &mut out), "{out}");
        total += m.ops;
    }
    assert!(total >= 1_200_000, "{total} operations");
}

/// Cached blocks in `heap`'s dump of `usable` bytes.
fn cached_in_dump(heap: &Heap<ProcessSource<MockOs>>, usable: usize) -> usize {
    let mut d = String::new();
    heap.dump(&mut d).unwrap();
    let tag = format!("{usable:>10} cached next");
    d.lines().filter(|l| l.contains(&tag)).count()
}

fn a_bin_grows_for_batches_and_shrinks_when_idle() {
    let heap = cached_heap();
    let a = |n| heap.allocate(n, 16, false, "test").unwrap().as_ptr() as usize;
    // Batches of one size, freed and allocated again: the bin grows past
    // its first capacity to keep them.
    for _ in 0..4 {
        let blocks: Vec<usize> = (0..2000).map(|_| a(64)).collect();
        for &b in &blocks {
            // SAFETY: live blocks of this heap.
            unsafe { heap.dealloc(nn(b)).unwrap() };
        }
    }
    let kept = cached_in_dump(heap, 72);
    assert!(kept > 8 * CACHE_CAP as usize && kept <= 2000, "{kept} cached");
    let mut out = String::new();
    assert!(heap.check(true, &mut out), "{out}");
    // Then other sizes only: collections give the idle blocks back.
    for _ in 0..4 * CACHE_GC_PERIOD {
        let p = a(200);
        // SAFETY: as above.
        unsafe { heap.dealloc(nn(p)).unwrap() };
    }
    let left = cached_in_dump(heap, 72);
    assert!(left <= kept / 8, "{left} of {kept} still cached");
    heap.flush_thread_cache();
    assert_eq!(heap.info().allocated_blocks, 0);
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    (
        "heap::cache::a_bin_grows_for_batches_and_shrinks_when_idle",
        a_bin_grows_for_batches_and_shrinks_when_idle,
    ),
    ("heap::cache::model_over_a_cached_heap", model_over_a_cached_heap),
    ("heap::cache::threads_share_a_cached_heap", threads_share_a_cached_heap),
    ("heap::cache::misuse_of_cached_blocks", misuse_of_cached_blocks),
    ("heap::cache::cached_heap_with_changing_thresholds", cached_heap_with_changing_thresholds),
];
