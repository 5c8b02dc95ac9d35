//! Hosted tests of the remote list (`remote.rs`): blocks freed by threads
//! other than a heap's user come back at its next lock with exact
//! figures, misuse of listed blocks is reported, damage to the list is
//! caught, and (under Miri too) several threads push onto one heap's list
//! at once. The heaps are region heaps with caches, as the process heap's
//! arenas are heaps with caches over their own reservations.

use core::ptr::NonNull;

use super::remote::{Remote, OUTBOX_BLOCK_MAX, OUTBOX_MAX};
use super::tests_cache::cached_region;
use super::tests_model::{leak_region, mixed_size, ops, Cached, Model, Rng};
use super::{Heap, HeapError, RegionSource, ThreadCache};

fn alloc(h: &Heap<RegionSource>, c: &mut ThreadCache, n: usize) -> *mut u8 {
    h.alloc_cached(c, n, 16, false, "test").expect("room").as_ptr()
}

/// Frees from "another thread" (the remote path does not depend on which
/// thread calls it): listed, or an error.
fn remote(h: &Heap<RegionSource>, p: *mut u8) -> Result<Remote, HeapError> {
    // SAFETY: callers pass live blocks of `h`, or misuse `h` must reject.
    unsafe { h.free_remote(p.addr()) }
}

/// Every block freed remotely came back exactly once (the user's lock,
/// with cache `c`, takes the list back): the figures are `start`'s, and
/// once `c` is given back the heap is intact and coalesced as at `start`.
fn all_back(h: &Heap<RegionSource>, c: &mut ThreadCache, start: &super::HeapInfo) {
    let end = h.lock_cached(c).info();
    assert_eq!(end.allocated_blocks, start.allocated_blocks, "each block came back once");
    assert_eq!(end.total_allocated_bytes, start.total_allocated_bytes);
    h.flush_cache(c);
    let mut out = String::new();
    assert!(h.check(true, &mut out), "{out}");
    assert_eq!(h.info().free_blocks, start.free_blocks, "coalesced again");
}

/// Frees listed blocks come back at the user's next lock: into its cache
/// (small and medium ones, while the bins have room) or the heap; the
/// figures count them as allocated until then and exactly afterwards.
fn listed_blocks_come_back_at_the_next_lock() {
    let h = cached_region(1 << 20);
    let mut c = Box::new(ThreadCache::new());
    let start = h.lock_cached(&mut c).info();
    let small: Vec<*mut u8> = (0..100).map(|i| alloc(h, &mut c, 24 + i % 5 * 40)).collect();
    let big: Vec<*mut u8> = (0..10).map(|i| alloc(h, &mut c, 3000 + i * 100)).collect();
    let during = h.lock_cached(&mut c).info();
    assert_eq!(during.allocated_blocks, start.allocated_blocks + 110);
    for &p in small.iter().chain(&big) {
        // SAFETY: a live block; its payload is the user's.
        unsafe { p.write_bytes(0x5A, 24) };
        assert_eq!(remote(h, p), Ok(Remote::Listed));
    }
    assert_eq!(h.remote_len(), 110);
    let back = h.lock_cached(&mut c).info();
    assert_eq!(h.remote_len(), 0, "taken back at the lock");
    assert_eq!(back.allocated_blocks, start.allocated_blocks, "every block came back");
    assert_eq!(back.total_allocated_bytes, start.total_allocated_bytes);
    // Small blocks went to the cache, and medium ones up to their bins'
    // capacity (3,000 to 3,900 bytes: 1, 5 and 4 blocks of 3,072, 3,584 and
    // 4,096 bytes of payload; a medium bin holds 4): the next allocations of their
    // sizes are served from it, newest first.
    assert_eq!(c.held().1, 109, "{:?} cached", c.held());
    let again = alloc(h, &mut c, 24 + 99 % 5 * 40);
    assert!(small.contains(&again), "a listed block is reused");
    // SAFETY: a live block of `h`.
    unsafe { h.dealloc_cached(&mut c, NonNull::new(again).unwrap()).unwrap() };
    h.flush_cache(&mut c);
    let end = h.info();
    assert_eq!(
        (end.free_blocks, end.total_free_bytes),
        (start.free_blocks, start.total_free_bytes)
    );
    let mut out = String::new();
    assert!(h.check(true, &mut out), "{out}");
}

/// A burst of blocks of one size that other threads freed grows their bin
/// as the user takes them back (a thread that allocates what others free
/// gets its blocks back in bursts): after the `CACHE_GROW_AFTER` times its
/// bin may be found full, it doubles each time, so all but those blocks
/// are cached and the next allocations take them without the lock; within
/// the cache's budget (`CACHE_BUDGET`): a burst of more bytes stops growing
/// there, and the rest goes to the heap. The figures stay exact.
fn a_burst_of_listed_blocks_grows_their_bin() {
    use super::tcache::{CACHE_BUDGET, CACHE_CAP, CACHE_GROW_AFTER};
    // The times a bin may be found full before it grows: those blocks go
    // to the heap.
    let refused = CACHE_GROW_AFTER as usize;
    for (size, n, region) in [(48, 200, 1 << 20), (1000, 2500, 4 << 20)] {
        let h = cached_region(region);
        let mut c = Box::new(ThreadCache::new());
        let start = h.lock_cached(&mut c).info();
        let blocks: Vec<*mut u8> = (0..n).map(|_| alloc(h, &mut c, size)).collect();
        for &p in &blocks {
            assert_eq!(remote(h, p), Ok(Remote::Listed));
        }
        let back = h.lock_cached(&mut c).info();
        assert_eq!(back.allocated_blocks, start.allocated_blocks, "every block came back");
        let (bytes, cached) = c.held();
        let usable = super::block::block_of(size) - super::block::HDR;
        assert_eq!(bytes, cached * usable);
        if n * usable <= CACHE_BUDGET {
            assert_eq!(cached, n - refused, "all but the first refusals");
        } else {
            // Capacities double from CACHE_CAP while the bytes held and a
            // doubling's stay within the budget.
            let mut cap = CACHE_CAP as usize;
            while cap * usable * 2 <= CACHE_BUDGET {
                cap *= 2;
            }
            assert!(n - refused > cap);
            assert_eq!(cached, cap, "up to the budget ({bytes} B)");
        }
        // The next allocations of the size come from the cache.
        let again = alloc(h, &mut c, size);
        assert!(blocks.contains(&again));
        assert_eq!(c.held().1, cached - 1);
        // SAFETY: a live block of `h`.
        unsafe { h.dealloc_cached(&mut c, NonNull::new(again).unwrap()).unwrap() };
        all_back(h, &mut c, &start);
    }
}

/// A second free of a listed block is a double free, whichever path it
/// takes; blocks the remote path cannot vouch for go to the locked path,
/// which reports them.
fn misuse_of_listed_blocks() {
    let h = cached_region(256 << 10);
    let mut c = Box::new(ThreadCache::new());
    let (p, q) = (alloc(h, &mut c, 100), alloc(h, &mut c, 100));
    assert_eq!(remote(h, p), Ok(Remote::Listed));
    assert_eq!(remote(h, p), Err(HeapError::DoubleFree), "twice from other threads");
    // SAFETY: misuse the heap must reject.
    unsafe {
        assert_eq!(h.dealloc_cached(&mut c, NonNull::new(p).unwrap()), Err(HeapError::DoubleFree));
    }
    // Not blocks of the top segment's published area, or not used blocks
    // of this heap: the locked path decides.
    let mut outside = [0u64; 8];
    assert_eq!(remote(h, outside.as_mut_ptr().cast()), Ok(Remote::Locked));
    assert_eq!(remote(h, q.wrapping_add(8)), Ok(Remote::Locked), "misaligned");
    assert_eq!(remote(h, q.wrapping_add(16)), Ok(Remote::Locked), "interior");
    // A cached block freed by another thread: the locked path reports it.
    // SAFETY: a live block of `h`.
    unsafe { h.dealloc_cached(&mut c, NonNull::new(q).unwrap()).unwrap() };
    assert_eq!(remote(h, q), Ok(Remote::Locked));
    // SAFETY: misuse the heap must reject.
    assert_eq!(unsafe { h.dealloc(NonNull::new(q).unwrap()) }, Err(HeapError::DoubleFree));
    // A heap without caches has no remote list.
    let plain = Box::leak(Box::new({
        let mem = leak_region(64 << 10);
        // SAFETY: the leaked region is the heap's forever.
        unsafe { Heap::from_raw(mem.as_mut_ptr(), mem.len()) }
    }));
    let r = plain.allocate(64, 16, false, "test").unwrap().as_ptr();
    // SAFETY: a live block of `plain`.
    assert_eq!(unsafe { plain.free_remote(r.addr()) }, Ok(Remote::Locked));
    h.flush_cache(&mut c);
    assert_eq!(h.info().allocated_blocks, 0);
}

/// A write after free into a listed block (its link or its key) is found
/// when the list is taken back, and reported.
fn damaged_list_is_reported() {
    for (word, what) in [(0, "corrupted remote-free link"), (1, "write after free into a block")] {
        let d = crate::testing::dies(|| {
            let h = cached_region(256 << 10);
            let mut c = Box::new(ThreadCache::new());
            let (p, _q) = (alloc(h, &mut c, 64), alloc(h, &mut c, 64));
            let _ = alloc(h, &mut c, 64);
            assert_eq!(remote(h, p), Ok(Remote::Listed));
            // SAFETY: the test's own write after free.
            unsafe { p.cast::<usize>().add(word).write(0x4141_4141_4141) };
            drop(h.lock_cached(&mut c));
        });
        assert_eq!(d.signal, Some(6), "{}", d.stderr);
        assert!(d.stderr.starts_with("rawrt: free(): "), "{}", d.stderr);
        assert!(d.stderr.contains(what), "{}", d.stderr);
    }
}

/// A listed block whose header was overwritten after its free (marked
/// free, or its tag another heap's) is not cached as the fast
/// path's checks would cache it: the full check finds it when the list is
/// taken back, and reports it. With its header intact the same block is
/// cached at that lock.
fn damaged_header_of_listed_block_is_reported() {
    /// A heap with three blocks of 64 bytes, the first one listed, and its
    /// header word `f(header)`; then the lock that takes the list back.
    fn take_back_with_header(f: fn(usize) -> usize) -> (usize, usize) {
        let h = cached_region(256 << 10);
        let mut c = Box::new(ThreadCache::new());
        let (p, _q, _r) = (alloc(h, &mut c, 64), alloc(h, &mut c, 64), alloc(h, &mut c, 64));
        assert_eq!(remote(h, p), Ok(Remote::Listed));
        let at = p.cast::<usize>().wrapping_sub(1);
        // SAFETY: the header word of a live block of the region; the
        // test's own damage.
        unsafe { at.write(f(at.read())) };
        let held = c.held().1;
        drop(h.lock_cached(&mut c));
        (held, c.held().1)
    }
    let (before, after) = take_back_with_header(|w| w);
    assert_eq!(after, before + 1, "an intact listed block is cached");
    // Marked free (IN_USE cleared), and the tag's high bits flipped.
    let not_in_use: fn(usize) -> usize = |w| w & !super::block::IN_USE;
    let other_tag: fn(usize) -> usize = |w| w ^ (0xffff << 48);
    let damage = [(not_in_use, "double free"), (other_tag, "invalid pointer")];
    for (f, what) in damage {
        let d = crate::testing::dies(|| {
            take_back_with_header(f);
        });
        assert_eq!(d.signal, Some(6), "{}", d.stderr);
        assert!(d.stderr.starts_with("rawrt: free(): "), "{}", d.stderr);
        assert!(d.stderr.contains(what), "{}", d.stderr);
    }
}

/// Frees from "another thread" through that thread's cache `o`: its
/// outbox holds small blocks back and pushes them together.
fn via(h: &Heap<RegionSource>, o: &mut ThreadCache, p: *mut u8) -> Result<(), HeapError> {
    // SAFETY: callers pass live blocks of `h`, or misuse `h` must reject;
    // the heap is leaked (it never moves or goes away).
    unsafe { h.dealloc_remote_via(o, NonNull::new(p).unwrap()) }
}

/// An outbox holds up to `OUTBOX_MAX - 1` small blocks back and pushes
/// the whole chain with the next one; big blocks go at once; a block that
/// waits in it is a double free for every path; a flush pushes what
/// waits; the figures are exact once the user took everything back.
fn outbox_batches_remote_frees() {
    let h = cached_region(1 << 20);
    let mut c = Box::new(ThreadCache::new());
    let mut o = Box::new(ThreadCache::new());
    let start = h.lock_cached(&mut c).info();
    let small: Vec<*mut u8> =
        (0..2 * OUTBOX_MAX + 5).map(|i| alloc(h, &mut c, 16 + i * 8)).collect();
    let big = alloc(h, &mut c, OUTBOX_BLOCK_MAX);
    for (i, &p) in small.iter().enumerate() {
        // SAFETY: a live block; its payload is the user's.
        unsafe { p.write_bytes(0x5A, 16) };
        via(h, &mut o, p).unwrap();
        let n = i + 1;
        assert_eq!(o.outbox_len(), n % OUTBOX_MAX, "after {n} frees");
        assert_eq!(h.remote_len(), n / OUTBOX_MAX * OUTBOX_MAX, "after {n} frees");
    }
    // A block bigger than OUTBOX_BLOCK_MAX (header included) goes at once.
    via(h, &mut o, big).unwrap();
    assert_eq!((o.outbox_len(), h.remote_len()), (5, 2 * OUTBOX_MAX + 1));
    // A waiting block freed again: by the same thread, by another one, by
    // the heap's user (whose locked path takes the list back first).
    let waiting = small[2 * OUTBOX_MAX + 4];
    assert_eq!(via(h, &mut o, waiting), Err(HeapError::DoubleFree));
    assert_eq!(remote(h, waiting), Err(HeapError::DoubleFree));
    // SAFETY: misuse the heap must reject.
    let e = unsafe { h.dealloc_cached(&mut c, NonNull::new(waiting).unwrap()) };
    assert_eq!(e, Err(HeapError::DoubleFree));
    // The user's lock took the listed blocks back, not the waiting ones.
    assert_eq!((o.outbox_len(), h.remote_len()), (5, 0));
    let mid = h.lock_cached(&mut c).info();
    assert_eq!(mid.allocated_blocks, start.allocated_blocks + 5, "5 still wait");
    o.flush_outbox();
    assert_eq!((o.outbox_len(), h.remote_len()), (0, 5));
    o.flush_outbox();
    assert_eq!(h.remote_len(), 5, "a second flush pushes nothing");
    all_back(h, &mut c, &start);
}

/// An outbox holds blocks of one heap: a free of another heap's block
/// pushes what waits first; blocks the remote path cannot vouch for go to
/// the owner's locked path at once, as with `dealloc_remote`.
fn outbox_follows_the_heap() {
    let (a, b) = (cached_region(256 << 10), cached_region(256 << 10));
    let (mut ca, mut cb) = (Box::new(ThreadCache::new()), Box::new(ThreadCache::new()));
    let mut o = Box::new(ThreadCache::new());
    let pa: Vec<*mut u8> = (0..6).map(|_| alloc(a, &mut ca, 40)).collect();
    let pb: Vec<*mut u8> = (0..6).map(|_| alloc(b, &mut cb, 40)).collect();
    for i in 0..3 {
        via(a, &mut o, pa[i]).unwrap();
        via(a, &mut o, pa[i + 3]).unwrap();
        assert_eq!(b.remote_len(), 2 * i, "b's blocks pushed when a's came");
        via(b, &mut o, pb[i]).unwrap();
        via(b, &mut o, pb[i + 3]).unwrap();
        assert_eq!(a.remote_len(), 2 * i + 2, "a's blocks pushed when b's came");
    }
    assert_eq!(o.outbox_len(), 2);
    o.flush_outbox();
    assert_eq!((a.remote_len(), b.remote_len()), (6, 6));
    // Not a block the remote path can vouch for (interior pointer): the
    // owner's locked path reports it, and nothing waits.
    let q = alloc(a, &mut ca, 100);
    assert_eq!(via(a, &mut o, q.wrapping_add(16)), Err(HeapError::InvalidPointer));
    assert_eq!(o.outbox_len(), 0);
    // SAFETY: a live block of `a`.
    unsafe { a.dealloc_cached(&mut ca, NonNull::new(q).unwrap()).unwrap() };
    for (h, c) in [(a, &mut ca), (b, &mut cb)] {
        assert_eq!(h.lock_cached(c).info().allocated_blocks, 0);
        h.flush_cache(c);
        let mut out = String::new();
        assert!(h.check(true, &mut out), "{out}");
    }
}

/// A block pointer handed to another thread (with its provenance, for
/// Miri's strict-provenance checks).
struct Sent(*mut u8);
// SAFETY: the receiving thread is the only one that uses the block.
unsafe impl Send for Sent {}

/// Several threads free one heap's blocks at once (half of them through
/// outboxes) while its user keeps allocating: every block comes back exactly once, contents intact until
/// freed, figures exact after the join.
fn threads_push_at_once() {
    let h = cached_region(if cfg!(miri) { 512 << 10 } else { 16 << 20 });
    let mut c = Box::new(ThreadCache::new());
    let start = h.lock_cached(&mut c).info();
    let (threads, each) = if cfg!(miri) { (3, 40) } else { (4, 4000) };
    let mut rng = Rng::new(77);
    let batches: Vec<Vec<Sent>> = (0..threads)
        .map(|t| {
            (0..each)
                .map(|i| {
                    let max = if rng.chance(90) { 500 } else { 6000 };
                    let n = 16 + rng.below(max);
                    let p = alloc(h, &mut c, n);
                    // SAFETY: a live block of `n` bytes.
                    unsafe { p.write_bytes((t * 31 + i) as u8, 16) };
                    Sent(p)
                })
                .collect()
        })
        .collect();
    let pushers: Vec<_> = batches
        .into_iter()
        .enumerate()
        .map(|(t, batch)| {
            std::thread::spawn(move || {
                // Odd threads free through an outbox of their own.
                let mut o = Box::new(ThreadCache::new());
                for (i, Sent(p)) in batch.into_iter().enumerate() {
                    // SAFETY: a live block this thread was given.
                    let b = unsafe { core::slice::from_raw_parts(p, 16) };
                    assert!(b.iter().all(|&x| x == (t * 31 + i) as u8), "intact until freed");
                    if t % 2 == 1 {
                        via(h, &mut o, p).unwrap();
                    } else {
                        assert_eq!(remote(h, p), Ok(Remote::Listed));
                    }
                }
                o.flush_outbox();
            })
        })
        .collect();
    // The user allocates and frees meanwhile (its locks take back what
    // has been listed so far). Not under Miri: a pushing thread reads a
    // header atomically that the user may write under its lock (a word
    // that only changes its PREV_IN_USE bit while the block is live, see
    // `remote.rs`), which Miri's model calls a race.
    for _ in 0..if cfg!(miri) { 0 } else { 20_000 } {
        let p = alloc(h, &mut c, 16 + rng.below(300));
        // SAFETY: a live block of `h`.
        unsafe { h.dealloc_cached(&mut c, NonNull::new(p).unwrap()).unwrap() };
    }
    for t in pushers {
        t.join().unwrap();
    }
    all_back(h, &mut c, &start);
    assert_eq!(h.remote_len(), 0);
}

/// The model over a cached region with every third free through the
/// remote list (as from another thread; every other one of those through
/// that thread's outbox): contents intact and figures
/// exact at every check (each lock takes the list back), everything
/// coalesced at the end.
fn model_with_remote_frees() {
    let heap = cached_region(if cfg!(miri) { 256 << 10 } else { 4 << 20 });
    let start = heap.info();
    let mut rng = Rng::new(41);
    let mut subject = Cached::new(heap);
    subject.remote = 3;
    let mut m = Model::new(subject, true);
    let mut sizes = |r: &mut Rng| if r.chance(80) { r.below(1024) } else { mixed_size(r) };
    for _ in 0..4 {
        m.run(&mut rng, ops(20_000), 250, &mut sizes);
        m.drain(&mut rng);
    }
    // Frees are about a quarter of the operations (4 runs, then drains):
    // ~20,000 natively, ~400 under Miri's shortened runs.
    assert!(m.heap.frees as usize > ops(20_000) / 2, "{} frees", m.heap.frees);
    m.heap.other.flush_outbox();
    heap.flush_cache(&mut m.heap.cache);
    let end = heap.info();
    assert_eq!((end.free_blocks, end.total_free_bytes), (1, start.total_free_bytes));
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    (
        "heap::remote::listed_blocks_come_back_at_the_next_lock",
        listed_blocks_come_back_at_the_next_lock,
    ),
    ("heap::remote::misuse_of_listed_blocks", misuse_of_listed_blocks),
    (
        "heap::remote::a_burst_of_listed_blocks_grows_their_bin",
        a_burst_of_listed_blocks_grows_their_bin,
    ),
    ("heap::remote::damaged_list_is_reported", damaged_list_is_reported),
    (
        "heap::remote::damaged_header_of_listed_block_is_reported",
        damaged_header_of_listed_block_is_reported,
    ),
    ("heap::remote::threads_push_at_once", threads_push_at_once),
    ("heap::remote::outbox_batches_remote_frees", outbox_batches_remote_frees),
    ("heap::remote::outbox_follows_the_heap", outbox_follows_the_heap),
    ("heap::remote::model_with_remote_frees", model_with_remote_frees),
];
