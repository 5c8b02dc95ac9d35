//! Hosted tests of the block pools: geometry, region and source-backed
//! pools, growth and caps, every bad-free error, model-based randomized
//! runs, `for_each_used`, `TypedPool` drops, the `Allocator` impl, threads.

use std::alloc::Layout;
use std::cell::Cell;
use std::collections::HashSet;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use allocator_api2::alloc::Allocator;

use super::{ChunkSource, Pool, PoolError, PoolInfo, TypedPool};

/// `n` operations, a thirtieth under Miri (which interprets every one).
fn ops(n: usize) -> usize {
    if cfg!(miri) {
        (n / 30).max(4)
    } else {
        n
    }
}

pub(crate) use crate::check::Rng;

/// Aligned memory from std's allocator, freed on drop.
pub(crate) struct Region {
    pub(crate) ptr: *mut u8,
    layout: Layout,
}

impl Region {
    pub(crate) fn new(size: usize, align: usize) -> Region {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        Region { ptr, layout }
    }

    pub(crate) fn addr(&self) -> usize {
        self.ptr.addr()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

/// A chunk source over std's allocator that counts what is outstanding and
/// can be told to refuse requests after a number of them.
pub(super) struct TestSource {
    live: AtomicUsize,
    bytes: AtomicUsize,
    calls: AtomicUsize,
    fail_from: AtomicUsize,
}

impl TestSource {
    /// A leaked source (pools need `&'static`).
    pub(super) fn leak() -> &'static TestSource {
        Box::leak(Box::new(TestSource {
            live: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            fail_from: AtomicUsize::new(usize::MAX),
        }))
    }

    pub(super) fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Refuse every request after `n` more have succeeded.
    fn fail_after(&self, n: usize) {
        self.fail_from.store(self.calls.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }
}

// SAFETY: chunks come from std's allocator with the requested layout and
// are returned to it with the same layout.
unsafe impl ChunkSource for TestSource {
    fn alloc_chunk(&self, size: usize, align: usize) -> *mut u8 {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.fail_from.load(Ordering::SeqCst) {
            return std::ptr::null_mut();
        }
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { std::alloc::alloc(layout) };
        assert!(!p.is_null());
        // Garbage, so that nothing relies on zeroed chunks.
        // SAFETY: fresh allocation of `size` bytes.
        unsafe { std::ptr::write_bytes(p, 0xCD, size) };
        self.live.fetch_add(1, Ordering::SeqCst);
        self.bytes.fetch_add(size, Ordering::SeqCst);
        p
    }

    unsafe fn free_chunk(&self, ptr: *mut u8, size: usize, align: usize) {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: the caller returns a chunk of this source with its layout.
        unsafe { std::alloc::dealloc(ptr, layout) };
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.bytes.fetch_sub(size, Ordering::SeqCst);
    }
}

/// Byte `i` of the content pattern of a block tagged `tag`.
fn pattern(tag: u64, i: usize) -> u8 {
    (tag >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(31)
}

fn fill(p: NonNull<u8>, len: usize, tag: u64) {
    for i in 0..len {
        // SAFETY: the block is ours and `len` bytes long.
        unsafe { p.as_ptr().add(i).write(pattern(tag, i)) };
    }
}

fn verify(p: *const u8, len: usize, tag: u64) {
    // Under Miri (which interprets every comparison) the first and last
    // 64 bytes, where a neighbour's or the pool's own write would land.
    let sample = |i: &usize| !cfg!(miri) || *i < 64 || *i + 64 >= len;
    for i in (0..len).filter(sample) {
        // SAFETY: the block is live and `len` bytes long.
        let b = unsafe { p.add(i).read() };
        assert_eq!(b, pattern(tag, i), "block {p:p} byte {i} corrupted");
    }
}

fn used_set(pool: &Pool) -> Vec<usize> {
    let mut v = Vec::new();
    pool.for_each_used(|p| v.push(p.as_ptr().addr()));
    v
}

fn geometry_rounding() {
    let src = TestSource::leak();
    let cases = [
        // (block_size, align) -> (block_size, align)
        ((1, 0), (16, 16)),
        ((16, 0), (16, 16)),
        ((17, 0), (32, 16)),
        ((24, 8), (24, 8)),
        ((3, 1), (8, 8)),
        ((9, 4), (16, 8)),
        ((100, 64), (128, 64)),
        ((48, 16), (48, 16)),
        ((5000, 4096), (8192, 4096)),
    ];
    for ((bs, al), (ebs, eal)) in cases {
        let p = Pool::new(bs, al, 0, src).unwrap();
        assert_eq!((p.block_size(), p.align()), (ebs, eal), "case ({bs}, {al})");
        let info = p.info();
        assert_eq!(
            info,
            PoolInfo {
                block_size: ebs,
                align: eal,
                capacity: 0,
                in_use: 0,
                free: 0,
                low_water: 0,
                peak_in_use: 0,
                chunks: 0,
                max_blocks: 0
            }
        );
    }
    assert_eq!(Pool::new(0, 16, 0, src).unwrap_err(), PoolError::InvalidArgument);
    assert_eq!(Pool::new(16, 3, 0, src).unwrap_err(), PoolError::InvalidArgument);
    assert_eq!(Pool::new(16, 48, 0, src).unwrap_err(), PoolError::InvalidArgument);
    assert_eq!(Pool::new(usize::MAX - 3, 16, 0, src).unwrap_err(), PoolError::InvalidArgument);
    assert_eq!(src.live(), 0, "no memory is taken before the first allocation");
}

fn region_capacity_and_refill() {
    let region = Region::new(4096, 4096);
    // SAFETY: the region outlives the pool (declared first, dropped last).
    let pool = unsafe { Pool::from_region(region.ptr, 4096, 16, 16) }.unwrap();
    // Header 64 bytes + 4 bitmap words = 96 bytes, then (4096 - 96) / 16.
    assert_eq!(pool.info().capacity, 250);
    assert_eq!(pool.info().chunks, 1);
    assert_eq!(pool.info().max_blocks, 250);
    assert_eq!(pool.info().free, 250);
    let mut blocks = Vec::new();
    for _ in 0..250 {
        blocks.push(pool.alloc().unwrap().as_ptr());
    }
    assert_eq!(pool.alloc().unwrap_err(), PoolError::Exhausted);
    assert_eq!(pool.alloc_zeroed().unwrap_err(), PoolError::Exhausted);
    let set: HashSet<_> = blocks.iter().map(|b| b.addr()).collect();
    assert_eq!(set.len(), 250);
    for &b in &blocks {
        let b = b.addr();
        assert_eq!(b % 16, 0);
        assert!(b >= region.addr() + 96 && b + 16 <= region.addr() + 4096);
    }
    // Fresh blocks are handed out in address order.
    assert_eq!(blocks[0].addr(), region.addr() + 96);
    assert_eq!(blocks[249].addr(), region.addr() + 4096 - 16);
    let info = pool.info();
    assert_eq!((info.in_use, info.free, info.low_water, info.peak_in_use), (250, 0, 0, 250));
    for &b in &blocks {
        // SAFETY: the block is ours and unused.
        unsafe { pool.free(b) }.unwrap();
    }
    assert_eq!(pool.info().in_use, 0);
    assert_eq!(pool.info().free, 250);
    // Refill: the same 250 blocks come back, most recently freed first.
    let mut again = Vec::new();
    while let Ok(p) = pool.alloc() {
        again.push(p.as_ptr());
    }
    assert_eq!(again.len(), 250);
    assert_eq!(again[0], blocks[249]);
    assert_eq!(again.iter().map(|p| p.addr()).collect::<HashSet<_>>(), set);
    drop(pool);

    // A region too small for one block, a null region.
    // SAFETY: the region is valid for the sizes given.
    unsafe {
        assert_eq!(
            Pool::from_region(region.ptr, 80, 16, 16).unwrap_err(),
            PoolError::InvalidArgument
        );
        assert_eq!(
            Pool::from_region(std::ptr::null_mut(), 4096, 16, 16).unwrap_err(),
            PoolError::InvalidArgument
        );
        // 64 + 8 header/bitmap, then one 16-byte block at offset 80.
        let one = Pool::from_region(region.ptr, 96, 16, 16).unwrap();
        assert_eq!(one.info().capacity, 1);
        // An unaligned region start is handled.
        let odd = Pool::from_region(region.ptr.add(3), 4093, 48, 16).unwrap();
        let p = odd.alloc().unwrap().as_ptr() as usize;
        assert_eq!(p % 16, 0);
        assert!(p > region.addr() + 3);
    }
}

fn source_growth_and_destroy() {
    let src = TestSource::leak();
    let pool = Pool::new(16, 16, 0, src).unwrap();
    let mut blocks = Vec::new();
    for _ in 0..10_000 {
        blocks.push(pool.alloc().unwrap());
    }
    // Chunks of 4, 8, ..., 128 KiB, headers included: 250, 504, 1012,
    // 2028, 4060 and 8124 blocks.
    let info = pool.info();
    assert_eq!(info.chunks, 6);
    assert_eq!(info.capacity, 15_978);
    assert_eq!(info.in_use, 10_000);
    assert_eq!(info.peak_in_use, 10_000);
    assert_eq!(info.low_water, 0, "each earlier chunk ran full");
    assert_eq!(src.live(), 7, "six chunks and the chunk table");
    for more in 0..50_000 {
        blocks.push(pool.alloc().unwrap());
        if more == 0 {
            assert_eq!(pool.info().chunks, 6);
        }
    }
    // 15 978 + 16 252 * 3 = 64 734 >= 60 000: three more 256 KiB chunks.
    assert_eq!(pool.info().chunks, 9);
    assert_eq!(pool.info().capacity, 64_734);
    // Nine chunks outgrew the first table of eight slots.
    assert_eq!(src.live(), 10);
    for b in &blocks {
        // SAFETY: our blocks.
        unsafe { pool.free(b.as_ptr()) }.unwrap();
    }
    assert_eq!(pool.info().in_use, 0);
    assert_eq!(pool.info().capacity, 64_734, "chunks are kept until the pool goes");
    drop(pool);
    assert_eq!(src.live(), 0);
    assert_eq!(src.bytes(), 0);
}

fn max_blocks_cap() {
    let src = TestSource::leak();
    let pool = Pool::new(16, 0, 300, src).unwrap();
    let mut blocks = Vec::new();
    for _ in 0..300 {
        blocks.push(pool.alloc().unwrap());
    }
    assert_eq!(pool.alloc().unwrap_err(), PoolError::Exhausted);
    let info = pool.info();
    assert_eq!((info.capacity, info.chunks, info.max_blocks), (300, 2, 300));
    // SAFETY: our block.
    unsafe { pool.free(blocks[7].as_ptr()) }.unwrap();
    assert_eq!(pool.alloc().unwrap(), blocks[7]);
    assert_eq!(pool.alloc().unwrap_err(), PoolError::Exhausted);
    // A cap below the first chunk size.
    let small = Pool::new(64, 0, 3, src).unwrap();
    for _ in 0..3 {
        small.alloc().unwrap();
    }
    assert_eq!(small.alloc().unwrap_err(), PoolError::Exhausted);
    assert_eq!(small.info().capacity, 3);
    assert_eq!(small.info().chunks, 1);
}

fn bad_frees() {
    let src = TestSource::leak();
    let pool = Pool::new(32, 16, 0, src).unwrap();
    let other = Pool::new(32, 16, 0, src).unwrap();
    let a = pool.alloc().unwrap().as_ptr();
    let b = pool.alloc().unwrap().as_ptr();
    let foreign = other.alloc().unwrap().as_ptr();
    let before = pool.info();
    let stack = 0u64;
    let heap = Box::new([0u8; 64]);
    // SAFETY: every call below is refused without touching the memory.
    unsafe {
        assert_eq!(pool.free(std::ptr::null_mut()), Err(PoolError::NotInPool));
        assert_eq!(pool.free(&stack as *const u64 as *mut u8), Err(PoolError::NotInPool));
        assert_eq!(pool.free(heap.as_ptr() as *mut u8), Err(PoolError::NotInPool));
        assert_eq!(pool.free(foreign), Err(PoolError::NotInPool), "another pool's block");
        for off in [1, 8, 16, 31] {
            assert_eq!(pool.free(a.add(off)), Err(PoolError::Misaligned), "offset {off}");
        }
        // The chunk header and the bitmap lie before block 0.
        assert_eq!(pool.free(a.sub(8)), Err(PoolError::NotInPool));
        assert_eq!(pool.free(a.sub(32)), Err(PoolError::NotInPool));
        // Block 2 was never handed out; the chunk has (4096 - 80) / 32.
        assert_eq!(pool.free(b.add(32)), Err(PoolError::DoubleFree));
        let cap = pool.info().capacity;
        assert_eq!(cap, 125);
        // One past the last block.
        assert_eq!(pool.free(a.add(32 * cap)), Err(PoolError::NotInPool));
        assert_eq!(pool.free(a.add(32 * (cap - 1))), Err(PoolError::DoubleFree));
    }
    assert_eq!(pool.info(), before, "refused frees change nothing");
    assert_eq!(pool.check(a), Ok(()));
    assert_eq!(pool.check(foreign), Err(PoolError::NotInPool));
    // SAFETY: `a` is ours; then the second free is refused.
    unsafe {
        pool.free(a).unwrap();
        assert_eq!(pool.free(a), Err(PoolError::DoubleFree));
        assert_eq!(pool.check(a), Err(PoolError::DoubleFree));
        assert_eq!(other.free(b), Err(PoolError::NotInPool), "wrong pool");
        pool.free(b).unwrap();
        assert_eq!(pool.free(b), Err(PoolError::DoubleFree));
        other.free(foreign).unwrap();
    }
    assert_eq!(pool.info().in_use, 0);
    assert_eq!(other.info().in_use, 0);
    for e in [PoolError::NotInPool, PoolError::Misaligned, PoolError::DoubleFree] {
        assert_eq!(e.errno(), crate::sys::Errno::EINVAL);
        assert!(e.is_fatal());
    }
    assert_eq!(PoolError::Exhausted.errno(), crate::sys::Errno::ENOMEM);
    assert_eq!(PoolError::NoMemory.errno(), crate::sys::Errno::ENOMEM);
    assert!(!PoolError::Exhausted.is_fatal());
    assert_eq!(format!("{}", PoolError::DoubleFree), "double free");
}

fn bad_frees_across_chunks() {
    // Pointers between and around the chunks of a multi-chunk pool.
    let src = TestSource::leak();
    let pool = Pool::new(4000, 0, 0, src).unwrap();
    // 4000 is a multiple of 16; chunks of 1, 2, 4, 8 and 16 blocks.
    assert_eq!(pool.block_size(), 4000);
    let blocks: Vec<_> = (0..20).map(|_| pool.alloc().unwrap().as_ptr()).collect();
    let info = pool.info();
    assert_eq!((info.chunks, info.capacity), (5, 31));
    let mut rng = Rng::new(7);
    // SAFETY: only refused frees and frees of our own blocks.
    unsafe {
        for &b in &blocks {
            assert_eq!(pool.free(b.add(1 + rng.below(3999))), Err(PoolError::Misaligned));
            assert_eq!(pool.free(b.sub(1)).unwrap_err(), {
                // Just before a block: the previous block's last byte, or
                // the chunk header.
                let prev = blocks.iter().any(|&o| o as usize + 4000 == b as usize);
                if prev {
                    PoolError::Misaligned
                } else {
                    PoolError::NotInPool
                }
            });
        }
        for &b in blocks.iter().rev() {
            pool.free(b).unwrap();
        }
        for &b in &blocks {
            assert_eq!(pool.free(b), Err(PoolError::DoubleFree));
        }
    }
    assert_eq!(pool.info().in_use, 0);
}

fn no_memory_from_source() {
    let src = TestSource::leak();
    src.fail_after(0);
    let pool = Pool::new(16, 0, 0, src).unwrap();
    assert_eq!(pool.alloc().unwrap_err(), PoolError::NoMemory);
    assert_eq!(pool.info().capacity, 0);
    // The chunk succeeds but the table does not: the chunk is given back.
    src.fail_after(1);
    assert_eq!(pool.alloc().unwrap_err(), PoolError::NoMemory);
    assert_eq!(src.live(), 0);
    assert_eq!(pool.info().chunks, 0);
    src.fail_after(usize::MAX / 2);
    let p = pool.alloc().unwrap();
    assert_eq!(pool.info().chunks, 1);
    // SAFETY: ours.
    unsafe { pool.free(p.as_ptr()) }.unwrap();
    drop(pool);
    assert_eq!(src.live(), 0);
    // The pool object itself from a failing source.
    src.fail_after(0);
    assert_eq!(Pool::create(16, 0, 0, src).unwrap_err(), PoolError::NoMemory);
    src.fail_after(usize::MAX / 2);
}

fn create_and_destroy_handles() {
    let src = TestSource::leak();
    let handle = Pool::create(40, 8, 0, src).unwrap();
    assert_eq!(src.live(), 1, "the pool object");
    // SAFETY: the handle is live until destroyed below.
    let pool = unsafe { handle.as_ref() };
    assert_eq!(pool.block_size(), 40);
    let blocks: Vec<_> = (0..1000).map(|_| pool.alloc().unwrap()).collect();
    assert_eq!(blocks.len(), 1000);
    assert!(src.live() > 2);
    // SAFETY: made by `create`, not used afterwards.
    unsafe { Pool::destroy(handle) };
    assert_eq!(src.live(), 0);
    assert_eq!(src.bytes(), 0);

    let region = Region::new(8192, 64);
    // SAFETY: the region outlives the pool.
    let handle = unsafe { Pool::create_in(region.ptr, 8192, 64, 64) }.unwrap();
    let at = handle.as_ptr() as usize;
    assert!(at >= region.addr() && at < region.addr() + 8192);
    // SAFETY: live until destroyed.
    let pool = unsafe { handle.as_ref() };
    let mut n = 0;
    while let Ok(p) = pool.alloc() {
        let p = p.as_ptr() as usize;
        assert!(p > at && p + 64 <= region.addr() + 8192);
        assert_eq!(p % 64, 0);
        n += 1;
    }
    assert_eq!(n, pool.info().capacity);
    assert!(n >= 120, "capacity {n}");
    // SAFETY: made by `create_in`, not used afterwards.
    unsafe { Pool::destroy(handle) };
    // SAFETY: a region too small for the pool object: refused.
    let small = unsafe { Pool::create_in(region.ptr, 64, 16, 16) };
    assert_eq!(small.unwrap_err(), PoolError::InvalidArgument);
}

fn calloc_zeroes() {
    let region = Region::new(2048, 16);
    // SAFETY: the region outlives the pool.
    let pool = unsafe { Pool::from_region(region.ptr, 2048, 100, 0) }.unwrap();
    assert_eq!(pool.block_size(), 112);
    let p = pool.alloc().unwrap();
    fill(p, 112, 0xFFFF_FFFF_FFFF_FFFF);
    // SAFETY: ours.
    unsafe { pool.free(p.as_ptr()) }.unwrap();
    let z = pool.alloc_zeroed().unwrap();
    assert_eq!(z, p, "LIFO reuse of the dirty block");
    // SAFETY: the block is 112 bytes.
    let bytes = unsafe { std::slice::from_raw_parts(z.as_ptr(), 112) };
    assert!(bytes.iter().all(|&b| b == 0));
}

fn low_water_and_peak() {
    let region = Region::new(4096, 4096);
    // SAFETY: the region outlives the pool.
    let pool = unsafe { Pool::from_region(region.ptr, 4096, 16, 16) }.unwrap();
    assert_eq!(pool.info().low_water, 250, "nothing allocated yet");
    let a: Vec<_> = (0..100).map(|_| pool.alloc().unwrap()).collect();
    for p in &a[..50] {
        // SAFETY: ours.
        unsafe { pool.free(p.as_ptr()) }.unwrap();
    }
    for _ in 0..30 {
        pool.alloc().unwrap();
    }
    let info = pool.info();
    assert_eq!(info.in_use, 80);
    assert_eq!(info.free, 170);
    assert_eq!(info.peak_in_use, 100);
    assert_eq!(info.low_water, 150);
}

/// A write after free changes a free block's link: the allocation that
/// would hand the block out reports it and aborts (in a child).
fn corrupted_free_list() {
    if cfg!(miri) {
        return; // Miri cannot fork
    }
    let src = TestSource::leak();
    let expect = |d: crate::testing::Death, b: NonNull<u8>| {
        assert_eq!(d.signal, Some(6), "{}", d.stderr);
        let want = format!(
            "rawrt: Pool::alloc(): corrupted free list (write after free) at {:#x}\n",
            b.as_ptr().addr()
        );
        assert_eq!(d.stderr, want);
    };
    let pool = Pool::new(32, 0, 0, src).unwrap();
    let a = pool.alloc().unwrap();
    let b = pool.alloc().unwrap();
    // SAFETY: ours; then a write after free damages b's link.
    unsafe {
        pool.free(a.as_ptr()).unwrap();
        pool.free(b.as_ptr()).unwrap();
        b.as_ptr().cast::<usize>().write(1_000_000);
    }
    expect(
        crate::testing::dies(|| {
            let _ = pool.alloc();
        }),
        b,
    );
    // A link to a block in use is caught too.
    let pool = Pool::new(32, 0, 0, src).unwrap();
    let a = pool.alloc().unwrap();
    let b = pool.alloc().unwrap();
    // SAFETY: ours; b's link is pointed at a (index 0) while a is in use.
    unsafe {
        pool.free(b.as_ptr()).unwrap();
        pool.free(a.as_ptr()).unwrap();
        assert_eq!(pool.alloc().unwrap(), a);
        // Now the head is b; make b's link name a (index 0).
        b.as_ptr().cast::<usize>().write(0);
    }
    expect(
        crate::testing::dies(|| {
            let _ = pool.alloc();
        }),
        b,
    );
    // And a link to itself (a cycle).
    // SAFETY: as above.
    unsafe {
        pool.free(a.as_ptr()).unwrap();
        a.as_ptr().cast::<usize>().write(0);
    }
    expect(
        crate::testing::dies(|| {
            let _ = pool.alloc();
        }),
        a,
    );
    // The intact pool still works in this process.
    // SAFETY: restore a's link (end of list).
    unsafe { a.as_ptr().cast::<usize>().write(usize::MAX) };
    assert_eq!(pool.alloc().unwrap(), a);
}

/// Drives `pool` with random allocations and frees against a model; checks
/// contents, statistics and `for_each_used` after every phase. `cap` is the
/// fixed capacity or `max_blocks` (0 = unlimited).
fn drive_model(pool: &Pool, seed: u64, cap: usize, phases: usize, ops: usize) {
    let bs = pool.block_size();
    let align = pool.align();
    let mut rng = Rng::new(seed);
    let mut live: Vec<(*mut u8, u64)> = Vec::new();
    let mut set: HashSet<usize> = HashSet::new();
    let (mut peak, mut low) = (0usize, usize::MAX);
    let mut exhausted = 0;
    for phase in 0..phases {
        let bias = [80, 55, 25, 60][phase % 4];
        for _ in 0..ops {
            let r = rng.below(100);
            if r < bias {
                match pool.alloc() {
                    Ok(p) => {
                        let a = p.as_ptr();
                        assert_eq!(a.addr() % align, 0);
                        assert!(set.insert(a.addr()), "block {a:p} handed out twice");
                        let tag = rng.next();
                        fill(p, bs, tag);
                        live.push((a, tag));
                        peak = peak.max(live.len());
                        low = low.min(pool.info().capacity - live.len());
                    }
                    Err(PoolError::Exhausted) => {
                        assert_ne!(cap, 0);
                        assert_eq!(live.len(), cap);
                        assert_eq!(pool.info().capacity, cap);
                        exhausted += 1;
                    }
                    Err(e) => panic!("alloc failed: {e}"),
                }
            } else if !live.is_empty() {
                let (a, tag) = live.swap_remove(rng.below(live.len()));
                verify(a, bs, tag);
                assert!(set.remove(&a.addr()));
                // SAFETY: a live block of the model.
                unsafe {
                    if bs > 8 && rng.below(10) == 0 {
                        let off = 1 + rng.below(bs - 1);
                        assert_eq!(pool.free(a.wrapping_add(off)), Err(PoolError::Misaligned));
                    }
                    pool.free(a).unwrap();
                    if rng.below(10) == 0 {
                        assert_eq!(pool.free(a), Err(PoolError::DoubleFree));
                    }
                }
            }
        }
        let info = pool.info();
        assert_eq!(info.in_use, live.len(), "phase {phase}");
        assert_eq!(info.free, info.capacity - live.len());
        assert_eq!(info.peak_in_use, peak);
        assert_eq!(info.low_water, low.min(info.free));
        assert_eq!(info.block_size, bs);
        if cap != 0 {
            assert!(info.capacity <= cap);
        }
        for &(a, tag) in &live {
            verify(a, bs, tag);
            assert_eq!(pool.check(a), Ok(()));
        }
        let used = used_set(pool);
        assert!(used.windows(2).all(|w| w[0] < w[1]), "visited in address order");
        assert_eq!(used.len(), live.len());
        assert_eq!(used.iter().copied().collect::<HashSet<_>>(), set);
    }
    if cap != 0 {
        assert!(exhausted > 0 || cfg!(miri), "the model run should reach the cap");
    }
    // Drain, then refill to the capacity.
    for (a, tag) in live.drain(..) {
        verify(a, bs, tag);
        // SAFETY: live blocks.
        unsafe { pool.free(a) }.unwrap();
    }
    assert_eq!(pool.info().in_use, 0);
    assert!(used_set(pool).is_empty());
    if cap != 0 {
        let n = std::iter::from_fn(|| pool.alloc().ok()).count();
        assert_eq!(n, cap);
        assert_eq!(pool.info().free, 0);
        assert_eq!(pool.info().low_water, 0);
    }
}

fn model_region_pools() {
    for (i, &(size, bs, align)) in
        [(8192, 16, 16), (10_000, 48, 16), (65_536, 24, 8), (3000, 200, 64), (20_000, 8, 0)]
            .iter()
            .enumerate()
    {
        let region = Region::new(size, 64);
        // SAFETY: the region outlives the pool.
        let pool = unsafe { Pool::from_region(region.ptr, size, bs, align) }.unwrap();
        let cap = pool.info().capacity;
        // Every block lies inside the region.
        assert!(cap * pool.block_size() < size);
        drive_model(&pool, 100 + i as u64, cap, if cfg!(miri) { 4 } else { 12 }, ops(3 * cap));
    }
}

fn model_source_pools() {
    let src = TestSource::leak();
    for (i, &(bs, align, max)) in
        [(16, 0, 0), (48, 16, 0), (24, 8, 1000), (333, 32, 700), (4096, 4096, 50), (8, 8, 0)]
            .iter()
            .enumerate()
    {
        let pool = Pool::new(bs, align, max, src).unwrap();
        let n = if max == 0 { 3000 } else { 3 * max };
        drive_model(&pool, 200 + i as u64, max, if cfg!(miri) { 4 } else { 12 }, ops(n));
        drop(pool);
        assert_eq!(src.live(), 0);
    }
}

fn for_each_used_sees_live_set() {
    let src = TestSource::leak();
    let pool = Pool::new(64, 0, 0, src).unwrap();
    let blocks: Vec<_> = (0..1000).map(|_| pool.alloc().unwrap().as_ptr()).collect();
    for (i, &b) in blocks.iter().enumerate() {
        if i % 3 == 0 {
            // SAFETY: ours.
            unsafe { pool.free(b) }.unwrap();
        }
    }
    let mut expect: Vec<_> =
        blocks.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, &b)| b.addr()).collect();
    expect.sort();
    assert_eq!(used_set(&pool), expect);
    // The callback may allocate: blocks added during the walk do not
    // disturb the visit of the others.
    let mut seen = Vec::new();
    let mut added = Vec::new();
    pool.for_each_used(|p| {
        seen.push(p.as_ptr().addr());
        if added.len() < 10 {
            added.push(pool.alloc().unwrap().as_ptr().addr());
        }
    });
    for b in &expect {
        assert!(seen.contains(b));
    }
    assert_eq!(pool.info().in_use, 666 + 10);
    // The callback may free the block it is given: this empties the pool.
    let mut freed = 0;
    pool.for_each_used(|p| {
        // SAFETY: each visited block is in use and ours.
        unsafe { pool.free(p.as_ptr()) }.unwrap();
        freed += 1;
    });
    assert_eq!(freed, 676);
    assert_eq!(pool.info().in_use, 0);
    assert!(used_set(&pool).is_empty());
}

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug)]
struct Counted(u64, [u8; 20]);

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn drops() -> usize {
    DROPS.with(|d| d.get())
}

fn typed_pool_drops() {
    let src = TestSource::leak();
    let base = drops();
    {
        let pool = TypedPool::<Counted>::new(0, src).unwrap();
        assert_eq!(pool.info().block_size, 32);
        assert_eq!(pool.info().align, 8);
        let mut boxes: Vec<_> =
            (0..10).map(|i| pool.alloc(Counted(i, [i as u8; 20])).unwrap()).collect();
        assert_eq!(pool.info().in_use, 10);
        for (i, b) in boxes.iter_mut().enumerate() {
            assert_eq!(b.0, i as u64);
            assert_eq!(b.1, [i as u8; 20]);
            b.0 += 100;
        }
        assert_eq!(boxes[3].0, 103);
        boxes.truncate(6);
        assert_eq!(drops() - base, 4);
        assert_eq!(pool.info().in_use, 6);
        // into_raw keeps the value and the block; from_raw takes them back.
        let raw = super::PoolBox::into_raw(boxes.pop().unwrap());
        assert_eq!(drops() - base, 4);
        assert_eq!(pool.info().in_use, 6);
        assert_eq!(pool.pool().check(raw.as_ptr().cast()), Ok(()));
        // SAFETY: from into_raw on this pool, taken back once.
        let back = unsafe { super::PoolBox::from_raw(&pool, raw) };
        assert_eq!(back.0, 105);
        drop(back);
        assert_eq!(drops() - base, 5);
        // into_inner moves the value out and frees the block.
        let v = super::PoolBox::into_inner(boxes.pop().unwrap());
        assert_eq!(v.0, 104);
        assert_eq!(pool.info().in_use, 4);
        assert_eq!(drops() - base, 5);
        drop(v);
        assert_eq!(drops() - base, 6);
        let mut visited = 0;
        pool.pool().for_each_used(|_| visited += 1);
        assert_eq!(visited, 4);
    }
    assert_eq!(drops() - base, 10, "the remaining boxes dropped before the pool");
    assert_eq!(src.live(), 0);

    // A capped typed pool: the value of a failed alloc is dropped.
    let region = Region::new(1024, 16);
    let base = drops();
    // SAFETY: the region outlives the pool.
    let pool = unsafe { TypedPool::<Counted>::from_region(region.ptr, 1024) }.unwrap();
    let cap = pool.info().capacity;
    assert_eq!(cap, (1024 - 64 - 8) / 32);
    let boxes: Vec<_> = (0..cap).map(|i| pool.alloc(Counted(i as u64, [0; 20])).unwrap()).collect();
    assert_eq!(pool.alloc(Counted(99, [0; 20])).unwrap_err(), PoolError::Exhausted);
    assert_eq!(drops() - base, 1);
    drop(boxes);
    assert_eq!(drops() - base, 1 + cap);
    assert_eq!(pool.info().in_use, 0);
    // Zero-sized values take a pointer-sized block.
    let zst = TypedPool::<()>::new(0, src).unwrap();
    let z = zst.alloc(()).unwrap();
    assert_eq!(zst.info().block_size, 8);
    assert_eq!(*z, ());
}

fn allocator_api() {
    let src = TestSource::leak();
    let pool = Pool::new(64, 32, 0, src).unwrap();
    let a = &pool;
    let l = |s, al| Layout::from_size_align(s, al).unwrap();
    let p = a.allocate(l(10, 4)).unwrap();
    assert_eq!(p.len(), 64);
    assert_eq!(p.cast::<u8>().as_ptr() as usize % 32, 0);
    assert!(a.allocate(l(65, 1)).is_err());
    assert!(a.allocate(l(8, 64)).is_err());
    let q = a.allocate(l(64, 32)).unwrap();
    assert_eq!(pool.info().in_use, 2);
    let p0 = p.cast::<u8>();
    // SAFETY: blocks of this allocator with the layouts they were given.
    unsafe {
        p0.as_ptr().write_bytes(0xAB, 10);
        let g = a.grow_zeroed(p0, l(10, 4), l(40, 8)).unwrap();
        assert_eq!(g.cast::<u8>(), p0);
        let bytes = std::slice::from_raw_parts(p0.as_ptr(), 64);
        assert!(bytes[..10].iter().all(|&b| b == 0xAB));
        assert!(bytes[10..].iter().all(|&b| b == 0));
        assert!(a.grow(p0, l(40, 8), l(100, 8)).is_err());
        assert_eq!(a.grow(p0, l(40, 8), l(64, 8)).unwrap().cast::<u8>(), p0);
        assert_eq!(a.shrink(p0, l(64, 8), l(1, 1)).unwrap().cast::<u8>(), p0);
        assert!(a.shrink(p0, l(64, 8), l(1, 64)).is_err());
        a.deallocate(p0, l(1, 1));
        a.deallocate(q.cast(), l(64, 32));
    }
    assert_eq!(pool.info().in_use, 0);
    let z = a.allocate_zeroed(l(64, 16)).unwrap();
    // SAFETY: the block is 64 bytes.
    assert!(unsafe { z.as_ref() }.iter().all(|&b| b == 0));
    // SAFETY: ours.
    unsafe { a.deallocate(z.cast(), l(64, 16)) };
    // Exhaustion surfaces as AllocError.
    let capped = Pool::new(64, 0, 2, src).unwrap();
    let c = &capped;
    let x = c.allocate(l(1, 1)).unwrap();
    let y = c.allocate(l(1, 1)).unwrap();
    assert!(c.allocate(l(1, 1)).is_err());
    // SAFETY: ours.
    unsafe {
        c.deallocate(x.cast(), l(1, 1));
        c.deallocate(y.cast(), l(1, 1));
    }
}

fn threads_share_a_pool() {
    let src = TestSource::leak();
    let pool = Pool::new(40, 8, 0, src).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let pool = &pool;
            s.spawn(move || {
                let mut rng = Rng::new(t);
                let mut mine: Vec<(NonNull<u8>, u64)> = Vec::new();
                for _ in 0..crate::heap::tests_model::ops(20_000) {
                    if mine.len() < 200 && rng.below(2) == 0 {
                        let p = pool.alloc().unwrap();
                        let tag = rng.next() ^ t;
                        fill(p, 40, tag);
                        mine.push((p, tag));
                    } else if let Some((p, tag)) = mine.pop() {
                        verify(p.as_ptr(), 40, tag);
                        // SAFETY: this thread's block.
                        unsafe { pool.free(p.as_ptr()) }.unwrap();
                    }
                }
                for (p, tag) in mine {
                    verify(p.as_ptr(), 40, tag);
                    // SAFETY: this thread's block.
                    unsafe { pool.free(p.as_ptr()) }.unwrap();
                }
            });
        }
    });
    let info = pool.info();
    assert_eq!(info.in_use, 0);
    assert!(info.peak_in_use <= 800);
    assert!(pool.frees().load(Ordering::Relaxed) > 0);
}

/// Many threads take and return the only blocks of a tiny pool through
/// `alloc_wait`: a lost wake-up would leave every thread asleep while a
/// block is free (the generous time-out then fails the test).
fn alloc_wait_no_lost_wakeups() {
    use std::time::Duration;
    let buf: &'static mut [std::mem::MaybeUninit<u8>] =
        Box::leak(vec![std::mem::MaybeUninit::uninit(); 256].into_boxed_slice());
    let pool = Pool::from_static(buf, 64, 0).unwrap();
    let cap = pool.info().capacity;
    assert!((1..=3).contains(&cap), "capacity {cap}");
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..3000u64 {
                    let p =
                        pool.alloc_wait(Some(Duration::from_secs(30))).expect("no lost wake-up");
                    fill(p, 64, t ^ i);
                    if i % 7 == 0 {
                        std::thread::yield_now();
                    }
                    verify(p.as_ptr(), 64, t ^ i);
                    // SAFETY: this thread's block.
                    unsafe { pool.free(p.as_ptr()) }.unwrap();
                }
            });
        }
    });
    assert_eq!(pool.info().in_use, 0);
    assert_eq!(pool.alloc_wait(Some(Duration::ZERO)).map(|_| ()), Ok(()));
}

fn static_region() {
    use std::mem::MaybeUninit;
    let buf: &'static mut [MaybeUninit<u8>] =
        Box::leak(vec![MaybeUninit::uninit(); 4096].into_boxed_slice());
    let pool = Pool::from_static(buf, 128, 0).unwrap();
    let cap = pool.info().capacity;
    assert!((30..=31).contains(&cap), "capacity {cap}");
    let all: Vec<_> = std::iter::from_fn(|| pool.alloc().ok()).collect();
    assert_eq!(all.len(), cap);
    let mut by_addr: Vec<usize> = all.iter().map(|p| p.as_ptr().addr()).collect();
    by_addr.sort();
    assert!(by_addr.windows(2).all(|w| w[1] - w[0] == 128), "blocks are contiguous");
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("pool::geometry_rounding", geometry_rounding),
    ("pool::region_capacity_and_refill", region_capacity_and_refill),
    ("pool::source_growth_and_destroy", source_growth_and_destroy),
    ("pool::max_blocks_cap", max_blocks_cap),
    ("pool::bad_frees", bad_frees),
    ("pool::bad_frees_across_chunks", bad_frees_across_chunks),
    ("pool::no_memory_from_source", no_memory_from_source),
    ("pool::create_and_destroy_handles", create_and_destroy_handles),
    ("pool::calloc_zeroes", calloc_zeroes),
    ("pool::low_water_and_peak", low_water_and_peak),
    ("pool::corrupted_free_list", corrupted_free_list),
    ("pool::model_region_pools", model_region_pools),
    ("pool::model_source_pools", model_source_pools),
    ("pool::for_each_used_sees_live_set", for_each_used_sees_live_set),
    ("pool::typed_pool_drops", typed_pool_drops),
    ("pool::allocator_api", allocator_api),
    ("pool::threads_share_a_pool", threads_share_a_pool),
    ("pool::static_region", static_region),
    ("pool::alloc_wait_no_lost_wakeups", alloc_wait_no_lost_wakeups),
];
