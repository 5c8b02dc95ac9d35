//! Model-based randomized tests: random malloc/calloc/realloc/aligned/free
//! against a shadow model of the live blocks (no overlap, alignment,
//! contents kept, zeroing, statistics), with `check()` every few hundred
//! operations, over region heaps and over the process source driven by a
//! simulated kernel with injected faults.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use core::ptr::NonNull;

use super::mock_os::MockOs;
use super::{
    Heap, HeapError, HeapInfo, LinuxOs, ProcessSource, RawHeap, RegionSource, Source, ThreadCache,
};

/// xorshift64*: small, deterministic, good enough for test decisions.
pub(crate) use crate::check::Rng;

/// Runs of randomized tests are this many times shorter under Miri, which
/// interprets every instruction (and checks every access).
pub(crate) const MIRI_SHORTER: usize = if cfg!(miri) { 100 } else { 1 };

/// `n` operations, or a hundredth of them under Miri.
pub(crate) fn ops(n: usize) -> usize {
    (n / MIRI_SHORTER).max(1)
}

/// What the model drives: the core directly, the locked heap, or the
/// locked heap with a cache in front. Pointers keep their provenance (the
/// model runs under Miri's strict provenance).
pub(crate) trait Subject {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8>;
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError>;
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError>;
    fn usable(&mut self, p: *mut u8) -> usize;
    fn info(&mut self) -> HeapInfo;
    /// The figures as the heap sees them now, without first flushing
    /// blocks that another thread holds back for it (an outbox): what a
    /// failed allocation could have used.
    fn info_now(&mut self) -> HeapInfo {
        self.info()
    }
    fn check(&mut self, out: &mut String) -> bool;
}

impl<S: Source> Subject for RawHeap<S> {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        let p =
            if zero { self.alloc_zeroed(size, align) } else { RawHeap::alloc(self, size, align) };
        p.map(NonNull::as_ptr)
    }
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        // SAFETY: the model only frees what it owns (or tests rejection).
        unsafe { RawHeap::free(self, p) }
    }
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError> {
        // SAFETY: as for `free`.
        unsafe { RawHeap::realloc(self, p, size, align) }.map(NonNull::as_ptr)
    }
    fn usable(&mut self, p: *mut u8) -> usize {
        // SAFETY: `p` is live.
        unsafe { self.usable_size(p) }.expect("usable_size of a live block")
    }
    fn info(&mut self) -> HeapInfo {
        RawHeap::info(self)
    }
    fn check(&mut self, out: &mut String) -> bool {
        RawHeap::check(self, true, out)
    }
}

impl<S: Source + Send> Subject for &Heap<S> {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        self.allocate(size, align, zero, "model").map(NonNull::as_ptr)
    }
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        // SAFETY: as above.
        unsafe { self.dealloc(NonNull::new(p).unwrap()) }
    }
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError> {
        // SAFETY: as above.
        unsafe { self.reallocate(NonNull::new(p).unwrap(), size, align, "model") }
            .map(NonNull::as_ptr)
    }
    fn usable(&mut self, p: *mut u8) -> usize {
        // SAFETY: as above.
        unsafe { self.usable_size(p) }.expect("usable_size of a live block")
    }
    fn info(&mut self) -> HeapInfo {
        Heap::info(self)
    }
    fn check(&mut self, out: &mut String) -> bool {
        Heap::check(self, true, out)
    }
}

/// A heap with caches driven through a cache of the model's own (what one
/// thread holds).
pub(crate) struct Cached<'a, S: Source> {
    pub heap: &'a Heap<S>,
    pub cache: Box<ThreadCache>,
    /// Every `remote`-th free goes through the remote list, as from another
    /// thread (0: none); every other one of those through that thread's
    /// outbox (`other`), which `info` and `check` flush first.
    pub remote: u32,
    /// The cache of the "other thread" whose outbox holds remote frees.
    pub other: Box<ThreadCache>,
    /// Frees so far.
    pub frees: u32,
}

impl<'a, S: Source + Send> Cached<'a, S> {
    pub fn new(heap: &'a Heap<S>) -> Self {
        Cached {
            heap,
            cache: Box::new(ThreadCache::new()),
            remote: 0,
            other: Box::new(ThreadCache::new()),
            frees: 0,
        }
    }
}

impl<S: Source + Send> Subject for Cached<'_, S> {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        self.heap.alloc_cached(&mut self.cache, size, align, zero, "model").map(NonNull::as_ptr)
    }
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        self.frees = self.frees.wrapping_add(1);
        let p = NonNull::new(p).unwrap();
        if self.remote != 0 && self.frees % self.remote == 0 {
            if self.frees % (2 * self.remote) == 0 {
                // SAFETY: as above; the heap outlives the model.
                return unsafe { self.heap.dealloc_remote_via(&mut self.other, p) };
            }
            // SAFETY: as above.
            return unsafe { self.heap.dealloc_remote(p) };
        }
        // SAFETY: as above.
        unsafe { self.heap.dealloc_cached(&mut self.cache, p) }
    }
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError> {
        let p = NonNull::new(p).unwrap();
        // SAFETY: as above.
        unsafe { self.heap.realloc_cached(&mut self.cache, p, size, align, "model") }
            .map(NonNull::as_ptr)
    }
    fn usable(&mut self, p: *mut u8) -> usize {
        // SAFETY: as above.
        unsafe { self.heap.usable_size(p) }.expect("usable_size of a live block")
    }
    fn info(&mut self) -> HeapInfo {
        self.other.flush_outbox();
        self.heap.lock_cached(&mut self.cache).info()
    }
    fn info_now(&mut self) -> HeapInfo {
        self.heap.lock_cached(&mut self.cache).info()
    }
    fn check(&mut self, out: &mut String) -> bool {
        self.other.flush_outbox();
        self.heap.check_cached(&mut self.cache, true, out)
    }
}

struct Live {
    ptr: *mut u8,
    size: usize,
    usable: usize,
    align: usize,
    id: u64,
    fill: u8,
}

/// Whether `[p, p+len)` holds only `byte`.
pub(crate) fn all_bytes(p: *const u8, len: usize, byte: u8) -> bool {
    // SAFETY: the caller owns `[p, p+len)`.
    let s = unsafe { core::slice::from_raw_parts(p, len) };
    // Slice comparison is one `memcmp` (fast under Miri too).
    let buf = [byte; 4096];
    s.chunks(buf.len()).all(|c| c == &buf[..c.len()])
}

fn fill(l: &Live) {
    // SAFETY: `[ptr, ptr+size)` is the block's payload.
    unsafe {
        core::ptr::write_bytes(l.ptr, l.fill, l.size);
        if l.size >= 8 {
            l.ptr.cast::<u64>().write_unaligned(l.id);
        }
    }
}

fn intact(p: *const u8, l: &Live, len: usize) -> bool {
    let len = len.min(l.size);
    if l.size < 8 {
        return all_bytes(p, len, l.fill);
    }
    let id = l.id.to_ne_bytes();
    let head = len.min(8);
    // SAFETY: as for `fill`.
    unsafe {
        core::slice::from_raw_parts(p, head) == &id[..head]
            && all_bytes(p.wrapping_add(8), len.saturating_sub(8), l.fill)
    }
}

/// The shadow model around a subject heap.
pub(crate) struct Model<H: Subject> {
    pub heap: H,
    live: BTreeMap<usize, Live>,
    keys: Vec<usize>,
    next_id: u64,
    /// Whether a failed allocation must be explained by the largest free
    /// block (region heaps: nothing can grow).
    pub oracle: bool,
    pub ops: usize,
    pub failures: usize,
    /// Other models use the same heap: its totals are not ours to compare.
    pub shared: bool,
    /// The alignment every block has (16; the small model's 8).
    pub min_align: usize,
    /// The largest alignment whose failures the oracle explains.
    pub oracle_align: usize,
}

impl<H: Subject> Model<H> {
    pub fn new(heap: H, oracle: bool) -> Self {
        Model {
            heap,
            live: BTreeMap::new(),
            keys: Vec::new(),
            next_id: 1,
            oracle,
            ops: 0,
            failures: 0,
            shared: false,
            min_align: 16,
            oracle_align: 16,
        }
    }

    fn insert(&mut self, l: Live) {
        let p = l.ptr.addr();
        assert!(p % l.align.max(self.min_align) == 0, "{p:#x} is not aligned to {}", l.align);
        assert!(l.usable >= l.size, "usable {} < requested {}", l.usable, l.size);
        if let Some((&q, ql)) = self.live.range(..p).next_back() {
            assert!(q + ql.usable <= p, "block {p:#x} overlaps {q:#x}+{}", ql.usable);
        }
        if let Some((&q, _)) = self.live.range(p..).next() {
            assert!(p + l.usable <= q, "block {p:#x}+{} overlaps {q:#x}", l.usable);
        }
        fill(&l);
        self.live.insert(p, l);
        self.keys.push(p);
    }

    pub fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        self.ops += 1;
        let Some(p) = self.heap.alloc(size, align, zero) else {
            self.failures += 1;
            if self.oracle && align <= self.oracle_align {
                // (A request for 0 bytes needs a block too: any free one.)
                let largest = self.heap.info_now().largest_free_block;
                assert!(
                    largest < size.max(1),
                    "alloc({size}) failed with a free block of {largest}"
                );
            }
            return None;
        };
        if zero {
            assert!(all_bytes(p, size, 0), "calloc({size}) at {p:p} is not zeroed");
        }
        let usable = self.heap.usable(p);
        let id = self.next_id;
        self.next_id += 1;
        self.insert(Live { ptr: p, size, usable, align, id, fill: (id % 251) as u8 + 1 });
        Some(p)
    }

    pub fn free_at(&mut self, i: usize) {
        self.ops += 1;
        let p = self.keys.swap_remove(i);
        let l = self.live.remove(&p).unwrap();
        assert!(intact(l.ptr, &l, l.size), "block {p:#x} ({} B) was overwritten", l.size);
        assert_eq!(self.heap.free(l.ptr), Ok(()));
    }

    pub fn realloc_at(&mut self, i: usize, size: usize) {
        self.ops += 1;
        let p = self.keys[i];
        let l = &self.live[&p];
        assert!(intact(l.ptr, l, l.size), "block {p:#x} was overwritten before realloc");
        match self.heap.realloc(l.ptr, size, l.align) {
            Ok(np) => {
                let mut l = self.live.remove(&p).unwrap();
                self.keys.swap_remove(i);
                assert!(intact(np, &l, size), "realloc {p:#x} -> {np:p} lost contents");
                l.ptr = np;
                l.size = size;
                l.usable = self.heap.usable(np);
                self.insert(l);
            }
            Err(HeapError::OutOfMemory) => {
                self.failures += 1;
                assert!(intact(l.ptr, l, l.size), "failed realloc changed the block");
            }
            Err(e) => panic!("realloc of a live block: {e}"),
        }
    }

    /// One random operation with sizes from `size_of`.
    pub fn step(&mut self, rng: &mut Rng, size_of: &mut dyn FnMut(&mut Rng) -> usize) {
        let n = self.keys.len();
        let r = rng.below(100);
        if n > 0 && (r < 38 || n > 3000) {
            let i = rng.below(n);
            self.free_at(i);
        } else if n > 0 && r < 50 {
            let i = rng.below(n);
            let size = size_of(rng);
            self.realloc_at(i, size);
        } else {
            let size = size_of(rng);
            let align = match rng.below(100) {
                0..=79 => 1 << rng.below(5),
                80..=97 => 32 << rng.below(8),
                _ => 8192 << rng.below(8), // up to 1 MiB
            };
            self.alloc(size, align, rng.chance(20));
        }
    }

    /// Runs `check()` and compares the statistics with the model.
    pub fn verify(&mut self) {
        let mut out = String::new();
        assert!(self.heap.check(&mut out), "heap check failed after {} ops:\n{out}", self.ops);
        if self.shared {
            return;
        }
        let i = self.heap.info();
        let bytes: usize = self.live.values().map(|l| l.usable).sum();
        assert_eq!(i.total_allocated_bytes, bytes, "allocated bytes");
        assert_eq!(i.allocated_blocks, self.live.len(), "allocated blocks");
        assert_eq!(i.total_blocks, i.allocated_blocks + i.free_blocks);
        assert!(i.minimum_free_bytes <= i.total_free_bytes);
        assert!(i.peak_allocated_bytes >= i.total_allocated_bytes);
    }

    /// Frees every block in random order.
    pub fn drain(&mut self, rng: &mut Rng) {
        while !self.keys.is_empty() {
            let i = rng.below(self.keys.len());
            self.free_at(i);
        }
        self.verify();
    }

    /// `ops` random operations with a check every `every`.
    pub fn run(
        &mut self,
        rng: &mut Rng,
        ops: usize,
        every: usize,
        size_of: &mut dyn FnMut(&mut Rng) -> usize,
    ) {
        for k in 1..=ops {
            self.step(rng, size_of);
            if k % every == 0 {
                self.verify();
            }
        }
        self.verify();
    }
}

/// Bytes of `[base, base+len)` (page-aligned) resident in memory.
pub(crate) fn resident(base: usize, len: usize) -> usize {
    let mut v = vec![0u8; len.div_ceil(4096)];
    // SAFETY: mincore only writes the vector, one byte per page.
    let r = unsafe { crate::syscall!(__NR_mincore, base, len, v.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore({base:#x}, {len})");
    v.iter().filter(|&&b| b & 1 != 0).count() * 4096
}

/// Resident bytes of all of a heap's segments.
pub(crate) fn heap_resident<S: Source>(h: &RawHeap<S>) -> usize {
    h.spans().iter().map(|s| resident(s.base, s.len)).sum()
}

/// Mostly small sizes, some medium, a few large (past the mmap threshold).
pub(crate) fn mixed_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=599 => rng.below(129),
        600..=879 => rng.below(1025),
        880..=979 => rng.below(16 * 1024),
        980..=996 => rng.below(200 * 1024),
        _ => rng.below(600 * 1024),
    }
}

fn small_size(rng: &mut Rng) -> usize {
    if rng.chance(90) {
        rng.below(257)
    } else {
        rng.below(4097)
    }
}

/// A leaked buffer of `len` bytes, 16-aligned, filled with 0xA5.
pub(crate) fn leak_region(len: usize) -> &'static mut [u8] {
    let words: &'static mut [u128] =
        Vec::leak(vec![0xA5A5_A5A5_A5A5_A5A5_A5A5_A5A5_A5A5_A5A5; len.div_ceil(16)]);
    // SAFETY: the same memory as bytes (the first `len` of them).
    unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), len) }
}

pub(crate) fn region_heap(len: usize) -> RawHeap<RegionSource> {
    let mem = leak_region(len);
    // SAFETY: the leaked buffer is ours forever.
    let mut h = RawHeap::new(unsafe { RegionSource::new(mem.as_mut_ptr(), len) });
    h.set_trim_threshold(usize::MAX);
    assert!(h.init());
    h
}

fn region_heaps() {
    let sizes: &[usize] = if cfg!(miri) {
        &[4 << 10, 64 << 10, 1 << 20]
    } else {
        &[4 << 10, 64 << 10, 1 << 20, 16 << 20]
    };
    let mut total = 0;
    for (k, &len) in sizes.iter().enumerate() {
        for seed in 0..if cfg!(miri) { 1 } else { 3u64 } {
            let mut rng = Rng::new(seed * 31 + k as u64);
            let mut m = Model::new(region_heap(len), true);
            let start = m.heap.info();
            let sizer: &mut dyn FnMut(&mut Rng) -> usize =
                if len < (1 << 20) { &mut small_size } else { &mut mixed_size };
            m.run(&mut rng, ops(60_000), 250, sizer);
            m.drain(&mut rng);
            let end = m.heap.info();
            // Everything coalesced back into one free area.
            assert_eq!(
                end.largest_free_block, start.largest_free_block,
                "region {len} did not coalesce"
            );
            assert_eq!(end.total_free_bytes, start.total_free_bytes);
            assert_eq!(end.free_blocks, 1);
            total += m.ops;
        }
    }
    assert!(total >= ops(700_000) / 4, "{total} operations");
}

fn process_heap_on_mock() {
    let mut total = 0;
    for seed in 0..if cfg!(miri) { 2 } else { 6u64 } {
        let mut rng = Rng::new(1000 + seed);
        let src = ProcessSource::new(MockOs::new(1 << 30));
        let mut m = Model::new(RawHeap::new(src), false);
        for phase in 0..10 {
            // Faults between phases: a foreign break move, brk refused,
            // mmap refused for a while.
            let os = m.heap.source().os();
            if rng.chance(50) {
                os.foreign_move(1 + rng.below(300_000));
            }
            if seed % 3 == 1 && phase == 5 {
                os.brk_fail = true;
            }
            os.mmap_fail = if rng.chance(20) { 1 + rng.below(3) } else { 0 };
            m.run(&mut rng, ops(10_000), 300, &mut mixed_size);
            m.heap.source().os().verify_foreign();
        }
        m.heap.source().os().mmap_fail = 0;
        m.drain(&mut rng);
        let i = m.heap.info();
        assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (0, 0));
        assert!(
            i.peak_allocated_bytes > ops(1 << 20) && i.minimum_free_bytes <= i.total_free_bytes
        );
        let mut d = String::new();
        m.heap.dump(&mut d).unwrap();
        if !cfg!(miri) {
            // Once the purge delay has passed (two checks: one ends the
            // period the last frees were stamped with, the next finds it
            // old), only a free top up to the trim threshold may stay
            // (dirty) as long as the heap is not used.
            for _ in 0..2 {
                m.heap.source().os().clock += super::PURGE_DELAY_MS as u64;
                m.heap.purge_expired();
            }
            let rss = heap_resident(&m.heap);
            assert!(rss <= super::TOP_PAD + (512 << 10), "resident {rss} after drain\n{d}");
        }
        m.heap.source().os().verify_foreign();
        total += m.ops;
    }
    assert!(total >= ops(600_000) / 3, "{total} operations");
}

fn locked_process_heap_real_mmap() {
    // The locked wrapper over the real kernel (mmap only: the test
    // harness's libc owns the break).
    let heap: &'static Heap<ProcessSource> =
        Box::leak(Box::new(Heap::with_source(ProcessSource::mmap_only(LinuxOs))));
    let mut rng = Rng::new(77);
    let mut m = Model::new(heap, false);
    m.run(&mut rng, 80_000, 400, &mut mixed_size);
    m.drain(&mut rng);
    assert_eq!(m.failures, 0, "allocations failed with memory to spare");
    let i = m.heap.info();
    assert_eq!(i.brk_calls, 0);
    assert!(i.mmap_calls > 0 && i.munmap_calls > 0);
    let mut s = String::new();
    writeln!(s, "{i}").unwrap();
    assert!(s.contains("calls: brk 0"));
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::model::region_heaps", region_heaps),
    ("heap::model::process_heap_on_mock", process_heap_on_mock),
    ("heap::model::locked_process_heap_real_mmap", locked_process_heap_real_mmap),
];
