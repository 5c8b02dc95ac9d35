//! Hosted tests of the thread caches in front of a heap (`tcache.rs`):
//! the model over a cached heap (exact figures with cached blocks counted
//! as free), several threads sharing one, misuse of cached blocks, and
//! (under Miri too) a cached heap over a region. Each test's threads bring
//! their own caches ([`Heap::with_caches`]).

use core::ptr::NonNull;

use super::mock_os::MockOs;
use super::tests_model::{leak_region, mixed_size, ops, Cached, Model, Rng};
use super::Source as _;
use super::{
    Corruption, Heap, HeapError, LinuxOs, ProcessSource, RegionSource, ThreadCache, CACHE_CAP,
    CACHE_DEFER_MAX, CACHE_GC_PERIOD, CACHE_LIMIT_FROM, CACHE_MAX, CACHE_MEDIUM_CAP,
    CACHE_MEDIUM_MAX, CACHE_MIN_KEEP,
};

fn cached_heap() -> &'static Heap<ProcessSource<MockOs>> {
    Box::leak(Box::new(Heap::with_caches(ProcessSource::new(MockOs::new(1 << 30)))))
}

/// A heap with caches over a region of `len` bytes.
pub(crate) fn cached_region(len: usize) -> &'static Heap<RegionSource> {
    let mem = leak_region(len);
    // SAFETY: the leaked region is the heap's forever.
    let h =
        Box::leak(Box::new(Heap::with_caches(unsafe { RegionSource::new(mem.as_mut_ptr(), len) })));
    h.set_trim_threshold(usize::MAX);
    assert!(h.lock().init());
    h
}

fn nn(p: *mut u8) -> NonNull<u8> {
    NonNull::new(p).unwrap()
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
        let mut m = Model::new(Cached::new(heap), false);
        for _ in 0..8 {
            // Small sizes mostly (the cache's), and bursts that fill and
            // drain the heap; the figures must match the model exactly.
            m.run(&mut rng, 10_000, 200, &mut small);
            if rng.chance(50) {
                m.drain(&mut rng);
            }
        }
        m.drain(&mut rng);
        let i = heap.lock_cached(&mut m.heap.cache).info();
        assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (0, 0));
        assert!(i.peak_allocated_bytes > 0 && i.minimum_free_bytes <= i.total_free_bytes);
        total += m.ops;
        heap.flush_cache(&mut m.heap.cache);
    }
    let i = heap.info();
    assert_eq!(i.total_blocks, i.free_blocks);
    assert!(total >= 300_000, "{total} operations");
}

/// The model over a cached heap over a region (the heap that Miri checks):
/// exact figures, everything coalesced once the cache is given back.
fn model_over_a_cached_region() {
    let heap = cached_region(if cfg!(miri) { 256 << 10 } else { 4 << 20 });
    let start = heap.info();
    let mut rng = Rng::new(31);
    let mut m = Model::new(Cached::new(heap), true);
    for _ in 0..4 {
        m.run(&mut rng, ops(20_000), 250, &mut small);
        m.drain(&mut rng);
    }
    heap.flush_cache(&mut m.heap.cache);
    let end = heap.info();
    assert_eq!((end.free_blocks, end.total_free_bytes), (1, start.total_free_bytes));
}

/// Rounds of allocations and frees of one small size through a cache over
/// a region: the pattern with which Miri found the cache's aliased `&mut`
/// (30 rounds of 400 blocks of 40 bytes; 8 under Miri). A block of
/// [`CACHE_LIMIT_FROM`] bytes held throughout
/// gives the cache a block limit, so each round's frees overflow it and
/// the cache is collected with a flush: the path where the old code made
/// a second `&mut` to the cache while the first was in use.
fn cache_rounds_of_one_size() {
    let heap = cached_region(2 * CACHE_LIMIT_FROM);
    let mut c = Box::new(ThreadCache::new());
    let big = heap.alloc_cached(&mut c, CACHE_LIMIT_FROM, 16, false, "test").expect("big").as_ptr();
    let mut live = Vec::with_capacity(400);
    // Every round overflows the limit; Miri runs fewer of them.
    for round in 0..if cfg!(miri) { 8u8 } else { 30 } {
        for k in 0..400 {
            let p = heap.alloc_cached(&mut c, 40, 16, false, "test").expect("40 B").as_ptr();
            // SAFETY: a live 40-byte block.
            unsafe { p.write_bytes(round ^ k as u8, 40) };
            live.push(p);
        }
        for (k, p) in live.drain(..).enumerate() {
            // SAFETY: live blocks of this heap, checked before freeing.
            unsafe {
                assert!(core::slice::from_raw_parts(p, 40).iter().all(|&b| b == round ^ k as u8));
                heap.dealloc_cached(&mut c, nn(p)).unwrap();
            }
        }
    }
    assert!(heap.check_cached(&mut c, true, &mut String::new()));
    // The limit held: no more than half the heap's used blocks stayed cached.
    assert!(c.held().1 <= CACHE_MIN_KEEP.max(401 / 2), "{} cached", c.held().1);
    // SAFETY: the live big block.
    unsafe { heap.dealloc_cached(&mut c, nn(big)).unwrap() };
    heap.flush_cache(&mut c);
    assert_eq!(heap.info().allocated_blocks, 0);
}

fn threads_share_a_cached_heap() {
    let heap: &'static Heap<ProcessSource> =
        Box::leak(Box::new(Heap::with_caches(ProcessSource::mmap_only(LinuxOs))));
    threads_share(heap, 4, 30_000);
}

/// Threads, each with its own cache, sharing a heap over a region (Miri
/// checks these for data races).
fn threads_share_a_cached_region() {
    threads_share(cached_region(if cfg!(miri) { 1 << 20 } else { 16 << 20 }), 2, ops(30_000));
}

fn threads_share<S: super::Source + Send + 'static>(heap: &'static Heap<S>, n: u64, each: usize) {
    let workers: Vec<_> = (0..n)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(900 + t);
                let mut m = Model::new(Cached::new(heap), false);
                m.shared = true;
                m.run(&mut rng, each, 1000, &mut small);
                m.drain(&mut rng);
                let ops = m.ops;
                heap.flush_cache(&mut m.heap.cache); // what a thread does as it ends
                ops
            })
        })
        .collect();
    let ops: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(ops >= each * n as usize);
    let mut out = String::new();
    assert!(heap.check(true, &mut out), "{out}");
    let i = heap.info();
    assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (0, 0), "{i:?}");
}

fn misuse_of_cached_blocks() {
    let heap = cached_heap();
    let mut c = Box::new(ThreadCache::new());
    let a = |c: &mut ThreadCache, n| heap.alloc_cached(c, n, 16, false, "test").unwrap().as_ptr();
    let (p, guard) = (a(&mut c, 100), a(&mut c, 100));
    // SAFETY: blocks of this heap, or misuse the heap must reject (all
    // calls below).
    unsafe {
        heap.dealloc_cached(&mut c, nn(p)).unwrap();
        assert_eq!(
            heap.dealloc_cached(&mut c, nn(p)),
            Err(HeapError::DoubleFree),
            "free of a cached block"
        );
        assert_eq!(heap.dealloc(nn(p)), Err(HeapError::DoubleFree), "without the cache too");
        assert_eq!(heap.reallocate(nn(p), 200, 16, "t"), Err(HeapError::DoubleFree));
        assert_eq!(heap.usable_size(p), Err(HeapError::DoubleFree));
        // The heap core sees the key too (callers that lock it directly).
        assert_eq!(heap.lock().free(p), Err(HeapError::DoubleFree));
        let mut d = String::new();
        heap.dump(&mut d).unwrap();
        assert!(d.contains(&format!("{:#x}        104 cached next", p.addr() - 8)), "{d}");
        let mut out = String::new();
        assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
        // A cached block's link overwritten: check names the cache.
        let link = p.cast::<usize>().read();
        p.cast::<usize>().write(0x1234_5678);
        assert!(!heap.check_cached(&mut c, true, &mut out));
        assert!(out.contains("thread cache bin"), "{out}");
        p.cast::<usize>().write(link);
        // It comes back first, and the next free caches it again.
        assert_eq!(a(&mut c, 100), p);
        heap.dealloc_cached(&mut c, nn(p)).unwrap();
        heap.dealloc_cached(&mut c, nn(guard)).unwrap();
    }
    // A full bin gives half of its blocks to the heap, then takes the one
    // being freed.
    heap.flush_cache(&mut c); // bins back at their first capacity
    let blocks: Vec<*mut u8> = (0..CACHE_CAP as usize + 1).map(|_| a(&mut c, 300)).collect();
    // SAFETY: a live block of this heap.
    let usable = unsafe { heap.usable_size(blocks[0]) }.unwrap();
    let before = heap.lock_cached(&mut c).info();
    for &b in &blocks {
        // SAFETY: live blocks of this heap.
        unsafe { heap.dealloc_cached(&mut c, nn(b)).unwrap() };
    }
    let after = heap.lock_cached(&mut c).info();
    assert_eq!(after.allocated_blocks, before.allocated_blocks - blocks.len());
    assert_eq!(cached_in_dump(heap, usable), CACHE_CAP as usize / 2 + 1, "spilled half");
    let mut out = String::new();
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
    heap.flush_cache(&mut c);
    let i = heap.info();
    assert_eq!(i.allocated_blocks, 0);
    assert!(i.free_blocks <= 2, "coalesced after the flush: {i:?}");
    // A cached block's key overwritten (a write after free) is reported by
    // the lock-free path that would hand it out: see tests/heap/cache.rs;
    // the report names the check.
    assert_eq!(Corruption::CacheKey.message(), "write after free into a cached block");
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
        let mut m = Model::new(Cached::new(heap), false);
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
                heap.flush_cache(&mut m.heap.cache);
                heap.trim(rng.below(256 << 10));
                m.verify();
            }
        }
        m.drain(&mut rng);
        heap.flush_cache(&mut m.heap.cache);
        let mut out = String::new();
        assert!(heap.check(true, &mut out), "{out}");
        total += m.ops;
    }
    assert!(total >= 1_200_000, "{total} operations");
}

/// A heap that cannot grow past 1 MiB (the simulated break ends there,
/// mappings are refused), its memory in a cache's blocks and in the free
/// pieces between them: a request that fits none of them succeeds once
/// the cache went back (finding 6 of the trust issue; natively also in
/// tests/heap/oom.rs under RLIMIT_DATA).
fn enomem_only_after_the_cache_went_back() {
    let os = MockOs::new(1 << 20);
    let heap: &'static Heap<ProcessSource<MockOs>> =
        Box::leak(Box::new(Heap::with_caches(ProcessSource::new(os))));
    heap.lock().source().os().map_budget = 0;
    let mut c = Box::new(ThreadCache::new());
    let mut blocks = Vec::new();
    while let Some(p) = heap.alloc_cached(&mut c, 300, 16, false, "test") {
        blocks.push(p);
    }
    assert!(blocks.len() > 2000, "{} blocks of 300 B in 1 MiB", blocks.len());
    let mut rng = Rng::new(5);
    rng.shuffle(&mut blocks);
    for p in blocks {
        // SAFETY: live blocks of this heap.
        unsafe { heap.dealloc_cached(&mut c, p).unwrap() };
    }
    let held = c.held().0;
    assert!(held > 100 << 10, "the cache holds {held} B");
    for size in [4096, 64 << 10, 100] {
        let p = heap.alloc_cached(&mut c, size, 16, false, "test");
        assert!(p.is_some(), "alloc({size}) with the cache holding {held} B");
        // SAFETY: just allocated.
        unsafe { heap.dealloc_cached(&mut c, p.unwrap()).unwrap() };
    }
    assert!(heap.check_cached(&mut c, true, &mut String::new()));
}

/// A heap that may not grow any more: a medium request whose bin's size
/// finds no room takes what it asked for (the hole left between used
/// blocks); once the system refused memory the medium bins hold nothing
/// and requests are no longer rounded up (rounding, and blocks kept from
/// the heap, fragment a heap that is short of memory).
fn medium_requests_once_memory_was_refused() {
    let heap: &'static Heap<ProcessSource<MockOs>> =
        Box::leak(Box::new(Heap::with_caches(ProcessSource::new(MockOs::new(16 << 20)))));
    heap.set_mmap_threshold(usize::MAX);
    let mut c = Box::new(ThreadCache::new());
    let alloc = |c: &mut ThreadCache, n| heap.alloc_cached(c, n, 16, false, "test");
    // SAFETY: every free below is of a live block of this heap.
    let free = |c: &mut ThreadCache, p: NonNull<u8>| unsafe { heap.dealloc_cached(c, p).unwrap() };
    // Rounded up and cached while memory is plenty.
    let p = alloc(&mut c, 3000).unwrap();
    // SAFETY: a live block.
    assert_eq!(unsafe { heap.usable_size(p.as_ptr()) }, Ok(3080));
    free(&mut c, p);
    assert_eq!(c.held(), (3080, 1));
    heap.flush_cache(&mut c);
    // Ten blocks of 320 bytes in a row, a used one after them, and the
    // rest of the heap's memory in one block; then no more memory.
    let row: Vec<NonNull<u8>> = (0..10).map(|_| alloc(&mut c, 300).unwrap()).collect();
    let _guard = alloc(&mut c, 300).unwrap();
    let rest = heap.info().largest_free_block;
    let _rest = alloc(&mut c, rest).unwrap();
    assert_eq!(heap.info().largest_free_block, 0);
    {
        let mut g = heap.lock();
        let os = g.source().os();
        (os.brk_fail, os.map_budget) = (true, 0);
    }
    assert!(!heap.lock().source().refused());
    for &b in &row {
        free(&mut c, b);
    }
    heap.flush_cache(&mut c);
    // One free block of 3,200 bytes (3,192 usable).
    assert_eq!(heap.info().largest_free_block, 3192);
    // 3,100 bytes: its bin's 3,584 do not fit, what it asked for does.
    let p = alloc(&mut c, 3100).expect("3,100 bytes in a hole of 3,200");
    assert_eq!(p, row[0]);
    // SAFETY: a live block.
    assert_eq!(unsafe { heap.usable_size(p.as_ptr()) }, Ok(3112));
    assert!(heap.lock().source().refused());
    free(&mut c, p);
    heap.flush_cache(&mut c);
    // Now nothing is rounded up, nor cached.
    let p = alloc(&mut c, 3000).unwrap();
    // SAFETY: a live block.
    assert_eq!(unsafe { heap.usable_size(p.as_ptr()) }, Ok(3000));
    free(&mut c, p);
    assert_eq!(c.held(), (0, 0));
    let mut out = String::new();
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
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
    let mut c = Box::new(ThreadCache::new());
    let a = |c: &mut ThreadCache, n| heap.alloc_cached(c, n, 16, false, "test").unwrap().as_ptr();
    // Batches of one size, freed and allocated again: the bin grows past
    // its first capacity to keep them.
    for _ in 0..4 {
        let blocks: Vec<*mut u8> = (0..2000).map(|_| a(&mut c, 64)).collect();
        for &b in &blocks {
            // SAFETY: live blocks of this heap.
            unsafe { heap.dealloc_cached(&mut c, nn(b)).unwrap() };
        }
    }
    let kept = cached_in_dump(heap, 72);
    assert!(kept > 8 * CACHE_CAP as usize && kept <= 2000, "{kept} cached");
    let mut out = String::new();
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
    // Then other sizes only: collections give the idle blocks back.
    for _ in 0..4 * CACHE_GC_PERIOD {
        let p = a(&mut c, 200);
        // SAFETY: as above.
        unsafe { heap.dealloc_cached(&mut c, nn(p)).unwrap() };
    }
    let left = cached_in_dump(heap, 72);
    assert!(left <= kept / 8, "{left} of {kept} still cached");
    heap.flush_cache(&mut c);
    assert_eq!(heap.info().allocated_blocks, 0);
}

/// A thread that frees and allocates again batches of 10,000 blocks of
/// 64 bytes (720 KiB of payload) keeps the whole batch in its cache once
/// the bin has grown: such rounds then take no lock (`bench/malloc_bench.c`'s
/// batch64; with a 1 MiB budget the bin stopped at 8,192 blocks and the
/// rest of every round went through the heap).
fn a_batch_of_ten_thousand_stays_cached() {
    let heap = cached_heap();
    let mut c = Box::new(ThreadCache::new());
    let a = |c: &mut ThreadCache| heap.alloc_cached(c, 64, 16, false, "test").unwrap().as_ptr();
    for _ in 0..8 {
        let blocks: Vec<*mut u8> = (0..10_000).map(|_| a(&mut c)).collect();
        for &b in &blocks {
            // SAFETY: live blocks of this heap.
            unsafe { heap.dealloc_cached(&mut c, nn(b)).unwrap() };
        }
    }
    assert_eq!(cached_in_dump(heap, 72), 10_000);
    let mut out = String::new();
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
    heap.flush_cache(&mut c);
    assert_eq!(heap.info().allocated_blocks, 0);
}

/// A burst of 10,000 blocks of 16 to 256 bytes (about 1.4 MiB of blocks),
/// freed in the order they were allocated and allocated again, round
/// after round (xmalloc-test on one thread): in a heap below
/// [`CACHE_LIMIT_FROM`] the cache keeps the burst, so that the rounds take
/// no lock; it used to give its whole cache back once it held half of the
/// heap's blocks, and every allocation of the next round went through the
/// heap.
fn a_burst_in_a_small_heap_stays_cached() {
    let heap = cached_heap();
    let mut c = Box::new(ThreadCache::new());
    let mut rng = Rng::new(11);
    let sizes: Vec<usize> = (0..10_000).map(|_| 16 + rng.below(241)).collect();
    for _ in 0..8 {
        let blocks: Vec<*mut u8> = sizes
            .iter()
            .map(|&n| heap.alloc_cached(&mut c, n, 16, false, "test").unwrap().as_ptr())
            .collect();
        for &b in &blocks {
            // SAFETY: live blocks of this heap.
            unsafe { heap.dealloc_cached(&mut c, nn(b)).unwrap() };
        }
    }
    // Past the 1 MiB from which the old rule applied, below today's.
    let i = heap.info();
    let span = i.total_allocated_bytes + i.total_free_bytes;
    assert!(span > 1 << 20 && span < CACHE_LIMIT_FROM, "{span} bytes");
    let held = c.held().1;
    assert!(held >= 9_000, "{held} of 10,000 blocks cached");
    let mut out = String::new();
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
    heap.flush_cache(&mut c);
    assert_eq!(heap.info().allocated_blocks, 0);
}

/// A live set that shrinks with one allocation for every three frees
/// (mstress's shrinking phase) in a heap big enough for the block limit:
/// the thread draws on its cache as it fills it, so the cache may go on
/// past half of the heap's used blocks (it used to be given back whole
/// there, and the next growing phase went through the heap's lock for
/// every block); a burst of frees that draws nothing goes back at once.
fn a_cache_drawn_on_as_it_fills_is_kept() {
    let heap = cached_region(4 * CACHE_LIMIT_FROM);
    let mut c = Box::new(ThreadCache::new());
    let big = heap.alloc_cached(&mut c, CACHE_LIMIT_FROM, 16, false, "test").expect("big").as_ptr();
    let mut rng = Rng::new(23);
    let mut live: Vec<(*mut u8, u8)> = Vec::new();
    let alloc = |c: &mut ThreadCache, rng: &mut Rng, live: &mut Vec<(*mut u8, u8)>| {
        let n = 16 + rng.below(241);
        let p = heap.alloc_cached(c, n, 16, false, "test").expect("small").as_ptr();
        let tag = live.len() as u8;
        // SAFETY: a live block of at least 16 bytes.
        unsafe { p.write_bytes(tag, 16) };
        live.push((p, tag));
    };
    let free = |c: &mut ThreadCache, (p, tag): (*mut u8, u8)| {
        // SAFETY: a live block of this heap, checked before it is freed.
        unsafe {
            assert!(core::slice::from_raw_parts(p, 16).iter().all(|&b| b == tag));
            heap.dealloc_cached(c, nn(p)).unwrap();
        }
    };
    let n = if cfg!(miri) { 600 } else { 4000 };
    for _ in 0..n {
        alloc(&mut c, &mut rng, &mut live);
    }
    let mut most = 0;
    for step in 0..3 * n / 2 {
        if step % 4 == 0 {
            alloc(&mut c, &mut rng, &mut live);
        } else {
            let i = rng.below(live.len());
            free(&mut c, live.swap_remove(i));
        }
        most = most.max(c.held().1);
    }
    // Used blocks: the live ones, `big` and the cached ones.
    let (bytes, held) = c.held();
    assert!(2 * held > live.len() + 1 + held, "{held} cached, {} live: given back", live.len());
    assert!(held >= most * 3 / 4, "{held} cached, {most} at most");
    assert!(bytes < 2 * CACHE_DEFER_MAX, "{bytes} B cached");
    let mut out = String::new();
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
    // The rest goes at once: the cache is given back at the limit and
    // holds no more than half of what is left in use.
    while let Some(b) = live.pop() {
        free(&mut c, b);
    }
    assert!(c.held().1 < held, "{} cached after the burst, {held} before", c.held().1);
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
    // SAFETY: the live big block.
    unsafe { heap.dealloc_cached(&mut c, nn(big)).unwrap() };
    heap.flush_cache(&mut c);
    assert_eq!(heap.info().allocated_blocks, 0);
}

/// The medium bins' sizes: four per doubling of the payload from 1,280 to
/// 40,960 bytes, plus 16 for the header; every block size above 1 KiB
/// rounds up to the least of them that holds it, at most a quarter more,
/// and only those sizes themselves have a bin.
fn medium_sizes_round_up_by_at_most_a_quarter() {
    use super::tcache::{bin_bytes, medium_bin, medium_bin_for, BINS, SMALL_BINS};
    let sizes: Vec<usize> = (SMALL_BINS..BINS).map(bin_bytes).collect();
    assert_eq!(sizes.len(), 21);
    assert_eq!(&sizes[..5], &[1296, 1552, 1808, 2064, 2576]);
    assert_eq!(sizes[sizes.len() - 3..], [28688, 32784, CACHE_MEDIUM_MAX]);
    for (k, &s) in sizes.iter().enumerate() {
        assert_eq!(medium_bin(s), Some(SMALL_BINS + k), "{s}");
        assert_eq!(medium_bin(s + 16), None, "{}", s + 16);
        assert_eq!(medium_bin(s - 16), None, "{}", s - 16);
    }
    assert_eq!(medium_bin(CACHE_MAX), None);
    assert_eq!(medium_bin(CACHE_MAX + 16), None);
    assert_eq!(medium_bin(CACHE_MEDIUM_MAX + 8192), None);
    for b in (CACHE_MAX + 16..=CACHE_MEDIUM_MAX).step_by(16) {
        let i = medium_bin_for(b);
        let s = bin_bytes(i);
        assert!(s >= b && 4 * (s - 16) <= 5 * b, "{b} -> {s}");
        assert!(i == SMALL_BINS || bin_bytes(i - 1) < b, "{b} -> {s}");
    }
    // A power of two, or a quarter between two, takes just its size.
    for n in [2048, 4096, 5120, 8192, 16384, 32768, 40960] {
        assert_eq!(bin_bytes(medium_bin_for(n + 16)), n + 16, "{n}");
    }
}

/// Medium blocks (over 1 KiB, up to 40 KiB) are cached: a request is
/// rounded up to its bin's size, the block freed goes to that bin and
/// serves the next request of the bin; a bin holds CACHE_MEDIUM_CAP
/// blocks before the heap takes more; blocks of other sizes go to the
/// heap; a second free of a cached medium block is a double free; and the
/// figures count cached blocks as free.
fn medium_blocks_are_cached_by_size_class() {
    let heap = cached_region(4 << 20);
    let mut c = Box::new(ThreadCache::new());
    let mut out = String::new();
    let alloc = |c: &mut ThreadCache, n: usize| heap.alloc_cached(c, n, 16, false, "test").unwrap();
    // SAFETY: every free below is of a live block of this heap.
    let free = |c: &mut ThreadCache, p: NonNull<u8>| unsafe { heap.dealloc_cached(c, p) };
    for (n, usable) in
        [(1017, 1288), (1288, 1288), (3000, 3080), (20_000, 20_488), (40_968, 40_968)]
    {
        let p = alloc(&mut c, n);
        // SAFETY: a live block.
        assert_eq!(unsafe { heap.usable_size(p.as_ptr()) }, Ok(usable), "{n}");
        // SAFETY: its usable bytes are the caller's.
        unsafe { p.as_ptr().write_bytes(0x5a, usable) };
        let before = c.held();
        free(&mut c, p).unwrap();
        assert_eq!(c.held(), (before.0 + usable, before.1 + 1), "{n} freed");
        assert_eq!(heap.lock_cached(&mut c).info().allocated_blocks, 0, "{n}");
        assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
        // The same bin's next request takes it, whatever its size there.
        let q = alloc(&mut c, usable - 40);
        assert_eq!(q, p, "{n}: the cached block again");
        assert_eq!(c.held(), before);
        free(&mut c, q).unwrap();
        assert_eq!(free(&mut c, q), Err(HeapError::DoubleFree), "{n}");
    }
    heap.flush_cache(&mut c);
    // Past 40 KiB, and a block of a medium size aligned past 16 (not of a
    // bin's size), go to the heap.
    let held = c.held();
    let big = alloc(&mut c, CACHE_MEDIUM_MAX);
    // SAFETY: a live block (not rounded up: a block of 40,992 bytes, past
    // the last bin's 40,976).
    assert_eq!(unsafe { heap.usable_size(big.as_ptr()) }, Ok(CACHE_MEDIUM_MAX + 8));
    free(&mut c, big).unwrap();
    let aligned = heap.alloc_cached(&mut c, 5000, 256, false, "test").unwrap();
    free(&mut c, aligned).unwrap();
    assert_eq!(c.held(), held);
    assert_eq!(heap.info().allocated_blocks, 0);
    // A bin holds CACHE_MEDIUM_CAP blocks, and more only when it is found
    // full again and again.
    let blocks: Vec<NonNull<u8>> = (0..2 * CACHE_MEDIUM_CAP).map(|_| alloc(&mut c, 2000)).collect();
    for &p in &blocks {
        free(&mut c, p).unwrap();
    }
    let (bytes, n) = c.held();
    assert!(n >= CACHE_MEDIUM_CAP as usize && n < blocks.len(), "{n} cached");
    assert_eq!(bytes, n * 2056);
    let i = heap.lock_cached(&mut c).info();
    assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (0, 0));
    assert!(heap.check_cached(&mut c, true, &mut out), "{out}");
    heap.flush_cache(&mut c);
    let i = heap.info();
    assert_eq!((i.allocated_blocks, i.total_blocks), (0, i.free_blocks));
}

/// What a cached block's link may be (`Bounds::link_ok`, which `malloc`
/// computes without a branch): none (0), or a block address (≡ 8 mod 16)
/// from the lowest first header up to the last block before the highest
/// sentinel; nothing else, not even an address a few bytes off.
fn cache_links_are_none_or_blocks_in_bounds() {
    use super::tcache::Bounds;
    let (lo, hi) = (0x10_0008usize, 0x10_0008 + 16 * 100);
    let b = Bounds::new((lo, hi));
    assert!(b.link_ok(0));
    for x in [lo, lo + 16, hi - 16] {
        assert!(b.link_ok(x) && b.holds(x), "{x:#x}");
    }
    for x in [hi, lo - 16, lo + 8, lo + 1, hi - 8, 8, usize::MAX, usize::MAX - 7, lo ^ (1 << 63)] {
        assert!(!b.link_ok(x) && !b.holds(x), "{x:#x}");
    }
    // A single block's bounds still take none and that block.
    let one = Bounds::new((lo, lo + 16));
    assert!(one.link_ok(0) && one.link_ok(lo) && !one.link_ok(lo + 16));
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    (
        "heap::cache::cache_links_are_none_or_blocks_in_bounds",
        cache_links_are_none_or_blocks_in_bounds,
    ),
    (
        "heap::cache::medium_sizes_round_up_by_at_most_a_quarter",
        medium_sizes_round_up_by_at_most_a_quarter,
    ),
    ("heap::cache::medium_blocks_are_cached_by_size_class", medium_blocks_are_cached_by_size_class),
    (
        "heap::cache::medium_requests_once_memory_was_refused",
        medium_requests_once_memory_was_refused,
    ),
    ("heap::cache::a_cache_drawn_on_as_it_fills_is_kept", a_cache_drawn_on_as_it_fills_is_kept),
    (
        "heap::cache::a_bin_grows_for_batches_and_shrinks_when_idle",
        a_bin_grows_for_batches_and_shrinks_when_idle,
    ),
    ("heap::cache::a_batch_of_ten_thousand_stays_cached", a_batch_of_ten_thousand_stays_cached),
    ("heap::cache::a_burst_in_a_small_heap_stays_cached", a_burst_in_a_small_heap_stays_cached),
    ("heap::cache::model_over_a_cached_heap", model_over_a_cached_heap),
    ("heap::cache::model_over_a_cached_region", model_over_a_cached_region),
    ("heap::cache::cache_rounds_of_one_size", cache_rounds_of_one_size),
    ("heap::cache::threads_share_a_cached_heap", threads_share_a_cached_heap),
    ("heap::cache::threads_share_a_cached_region", threads_share_a_cached_region),
    ("heap::cache::misuse_of_cached_blocks", misuse_of_cached_blocks),
    ("heap::cache::enomem_only_after_the_cache_went_back", enomem_only_after_the_cache_went_back),
    ("heap::cache::cached_heap_with_changing_thresholds", cached_heap_with_changing_thresholds),
];
