//! The heap targets: a heap over a region (`heap`), and the same with a
//! thread cache in front (`cached_heap`, through `Heap::with_caches`),
//! some of whose frees go through the remote list (as other threads'
//! frees do, directly or through their outboxes), and a compact region heap (`compact_heap`: NuttX's small
//! memory model for 4 to 64 KiB, the wide format up to 1 MiB).

use std::collections::BTreeMap;
use std::ptr::NonNull;

use rawrt::heap::{Entry, Heap, HeapError, HeapInfo, RawHeap, RegionRef, RegionSource, ThreadCache};

use crate::input::{count, fill, intact, Input, Region};

/// What the model drives.
trait Subject {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8>;
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError>;
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError>;
    fn usable(&mut self, p: *mut u8) -> Result<usize, HeapError>;
    fn info(&mut self) -> HeapInfo;
    /// The figures as the heap sees them now, without first flushing
    /// blocks that another thread holds back for it (an outbox): what a
    /// failed allocation could have used.
    fn info_now(&mut self) -> HeapInfo {
        self.info()
    }
    fn check(&mut self) -> bool;
    /// Gives cached blocks back (nothing without a cache).
    fn flush(&mut self) {}
}

impl Subject for RawHeap<RegionSource> {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        let p =
            if zero { self.alloc_zeroed(size, align) } else { RawHeap::alloc(self, size, align) };
        p.map(NonNull::as_ptr)
    }
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        // SAFETY: the model frees its own blocks, or pointers the heap must
        // refuse.
        unsafe { RawHeap::free(self, p) }
    }
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError> {
        // SAFETY: a live block of the model's.
        unsafe { RawHeap::realloc(self, p, size, align) }.map(NonNull::as_ptr)
    }
    fn usable(&mut self, p: *mut u8) -> Result<usize, HeapError> {
        // SAFETY: as for `free`.
        unsafe { self.usable_size(p) }
    }
    fn info(&mut self) -> HeapInfo {
        RawHeap::info(self)
    }
    fn check(&mut self) -> bool {
        RawHeap::check(self, false, &mut String::new())
    }
}

/// A heap with caches, driven through one cache; every third free goes
/// through the heap's remote list, as from another thread, every other one
/// of those through that thread's outbox (`other`, flushed before the
/// figures and checks).
struct Cached<'a> {
    heap: &'a Heap<RegionSource>,
    cache: Box<ThreadCache>,
    other: Box<ThreadCache>,
    frees: u32,
}

impl Subject for Cached<'_> {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        self.heap.alloc_cached(&mut self.cache, size, align, zero, "fuzz").map(NonNull::as_ptr)
    }
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        let p = NonNull::new(p).ok_or(HeapError::InvalidPointer)?;
        self.frees = self.frees.wrapping_add(1);
        if self.frees.is_multiple_of(6) {
            // SAFETY: as above; the heap outlives the target's run.
            return unsafe { self.heap.dealloc_remote_via(&mut self.other, p) };
        }
        if self.frees.is_multiple_of(3) {
            // SAFETY: as above.
            return unsafe { self.heap.dealloc_remote(p) };
        }
        // SAFETY: as above.
        unsafe { self.heap.dealloc_cached(&mut self.cache, p) }
    }
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError> {
        let p = NonNull::new(p).unwrap();
        // SAFETY: as above.
        unsafe { self.heap.realloc_cached(&mut self.cache, p, size, align, "fuzz") }
            .map(NonNull::as_ptr)
    }
    fn usable(&mut self, p: *mut u8) -> Result<usize, HeapError> {
        // SAFETY: as above.
        unsafe { self.heap.usable_size(p) }
    }
    fn info(&mut self) -> HeapInfo {
        self.other.flush_outbox();
        self.heap.lock_cached(&mut self.cache).info()
    }
    fn info_now(&mut self) -> HeapInfo {
        self.heap.lock_cached(&mut self.cache).info()
    }
    fn check(&mut self) -> bool {
        self.other.flush_outbox();
        self.heap.check_cached(&mut self.cache, false, &mut String::new())
    }
    fn flush(&mut self) {
        self.other.flush_outbox();
        self.heap.flush_cache(&mut self.cache);
    }
}

struct Live {
    ptr: *mut u8,
    size: usize,
    usable: usize,
    align: usize,
    tag: u32,
}

/// The shadow model: live blocks by address.
struct Model<H> {
    heap: H,
    live: BTreeMap<usize, Live>,
    region: (usize, usize),
    next_tag: u32,
    last_freed: Option<*mut u8>,
    /// The heap's block format: payload alignment, header bytes, smallest
    /// block (the main core's: 16, 8, 32).
    format: (usize, usize, usize),
}

/// The main core's block format.
const MAIN: (usize, usize, usize) = (16, 8, 32);

impl<H: Subject> Model<H> {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) {
        let Some(p) = self.heap.alloc(size, align, zero) else {
            let (grain, hdr, min) = self.format;
            if align <= grain {
                // The usable size of the smallest block that holds `size`.
                let need = ((size + hdr + grain - 1) & !(grain - 1)).max(min) - hdr;
                let largest = self.heap.info_now().largest_free_block;
                assert!(largest < need, "alloc({size}) failed with a free block of {largest}");
            }
            return;
        };
        let a = p.addr();
        assert_eq!(a % align.max(self.format.0), 0, "alloc({size}, {align}) gave {p:p}");
        let usable = self.heap.usable(p).expect("usable size of a new block");
        assert!(usable >= size);
        assert!(a >= self.region.0 && a + usable <= self.region.1, "{p:p} outside the region");
        if zero {
            // SAFETY: the block holds `size` bytes.
            assert!((0..size).all(|i| unsafe { p.add(i).read() } == 0), "calloc not zeroed");
        }
        self.add(Live { ptr: p, size, usable, align, tag: 0 });
    }

    fn add(&mut self, mut l: Live) {
        let a = l.ptr.addr();
        if let Some((&q, ql)) = self.live.range(..a).next_back() {
            assert!(q + ql.usable <= a, "block {a:#x} overlaps {q:#x}+{}", ql.usable);
        }
        if let Some((&q, _)) = self.live.range(a..).next() {
            assert!(a + l.usable <= q, "block {a:#x}+{} overlaps {q:#x}", l.usable);
        }
        self.next_tag += 1;
        l.tag = self.next_tag;
        // SAFETY: the block's whole usable size is the model's to write.
        unsafe { fill(l.ptr, l.usable, l.tag) };
        self.live.insert(a, l);
    }

    fn pick(&mut self, input: &mut Input) -> Option<usize> {
        let n = self.live.len();
        (n > 0).then(|| *self.live.keys().nth(input.below(n)).unwrap())
    }

    fn free(&mut self, input: &mut Input) {
        let Some(a) = self.pick(input) else { return };
        let l = self.live.remove(&a).unwrap();
        // SAFETY: the model's live block.
        assert!(unsafe { intact(l.ptr, l.usable, l.tag) }, "block {a:#x} was overwritten");
        assert_eq!(self.heap.free(l.ptr), Ok(()));
        self.last_freed = Some(l.ptr);
    }

    fn realloc(&mut self, input: &mut Input, size: usize) {
        let Some(a) = self.pick(input) else { return };
        let l = &self.live[&a];
        match self.heap.realloc(l.ptr, size, l.align) {
            Ok(np) => {
                let l = self.live.remove(&a).unwrap();
                let kept = l.size.min(size).min(l.usable);
                // SAFETY: the new block holds at least `kept` bytes.
                assert!(unsafe { intact(np, kept, l.tag) }, "realloc lost contents");
                assert_eq!(np.addr() % l.align.max(self.format.0), 0);
                let usable = self.heap.usable(np).expect("usable size after realloc");
                assert!(usable >= size);
                self.add(Live { ptr: np, size, usable, ..l });
            }
            Err(HeapError::OutOfMemory) => {
                // SAFETY: the block is still live and unchanged.
                assert!(unsafe { intact(l.ptr, l.usable, l.tag) }, "failed realloc changed it");
            }
            Err(e) => panic!("realloc of a live block: {e}"),
        }
    }

    /// A pointer that is no live block's start: refused, nothing changes.
    fn bogus_free(&mut self, input: &mut Input) {
        let (lo, hi) = self.region;
        let a = match input.byte() % 4 {
            0 => match self.last_freed {
                Some(p) => p.addr(),
                None => return,
            },
            1 => match self.pick(input) {
                Some(a) => a + 16 * (1 + input.below(4)),
                None => return,
            },
            2 => lo + input.below(hi - lo),
            _ => lo + 16 * input.below((hi - lo) / 16),
        };
        if self.live.contains_key(&a) {
            return;
        }
        let before = self.heap.info();
        let p = self.live.values().next().map_or(std::ptr::null_mut(), |l| l.ptr).with_addr(a);
        let r = self.heap.free(p);
        assert!(r.is_err(), "free({a:#x}), no live block, was accepted");
        assert!(
            !matches!(r, Err(HeapError::Corrupted(_))),
            "free({a:#x}) found corruption the model did not make: {r:?}"
        );
        assert_eq!(self.heap.info(), before, "a refused free changed the heap");
    }

    fn verify(&mut self) {
        assert!(self.heap.check(), "heap check failed");
        let i = self.heap.info();
        let bytes: usize = self.live.values().map(|l| l.usable).sum();
        assert_eq!(i.total_allocated_bytes, bytes, "allocated bytes");
        assert_eq!(i.allocated_blocks, self.live.len(), "allocated blocks");
        assert_eq!(i.total_blocks, i.allocated_blocks + i.free_blocks);
        assert!(i.minimum_free_bytes <= i.total_free_bytes);
        assert!(i.peak_allocated_bytes >= i.total_allocated_bytes);
    }

    fn run(&mut self, input: &mut Input, max: usize) {
        let mut ops = 0;
        while !input.done() && ops < 4000 {
            ops += 1;
            match input.byte() % 16 {
                0..=5 => {
                    let (size, align, zero) = (input.size(max), input.align(), input.byte() < 40);
                    self.alloc(size, align, zero)
                }
                6..=10 => self.free(input),
                11 | 12 => {
                    let size = input.size(max);
                    self.realloc(input, size)
                }
                13 => self.bogus_free(input),
                14 => self.heap.flush(),
                _ => {
                    if let Some(a) = self.pick(input) {
                        let l = &self.live[&a];
                        assert_eq!(self.heap.usable(l.ptr), Ok(l.usable));
                    }
                    self.verify()
                }
            }
        }
        count(ops);
        self.verify();
        let keys: Vec<usize> = self.live.keys().copied().collect();
        for a in keys {
            let l = self.live.remove(&a).unwrap();
            // SAFETY: the model's live block.
            assert!(unsafe { intact(l.ptr, l.usable, l.tag) }, "block {a:#x} was overwritten");
            assert_eq!(self.heap.free(l.ptr), Ok(()));
        }
        self.heap.flush();
        self.verify();
        let i = self.heap.info();
        assert_eq!(i.free_blocks, 1, "everything coalesced: {i:?}");
    }
}

/// The region size for an input: 16 KiB to 1 MiB.
fn region_len(input: &mut Input) -> usize {
    16 << 10 << (input.byte() % 7)
}

/// A heap over a region (`RawHeap<RegionSource>`).
pub fn heap(data: &[u8]) {
    let mut input = Input::new(data);
    let len = region_len(&mut input);
    let region = Region::new(len);
    // SAFETY: the region outlives the heap, which alone uses it.
    let mut h = RawHeap::new(unsafe { RegionSource::new(region.ptr, len) });
    h.set_trim_threshold(usize::MAX);
    assert!(h.init());
    let base = region.ptr.addr();
    let mut m = Model {
        heap: h,
        live: BTreeMap::new(),
        region: (base, base + len),
        next_tag: 0,
        last_freed: None,
        format: MAIN,
    };
    m.run(&mut input, len);
}

/// A heap over a region with a thread cache in front.
pub fn cached_heap(data: &[u8]) {
    let mut input = Input::new(data);
    let len = region_len(&mut input);
    let region = Region::new(len);
    // SAFETY: as above.
    let h = Heap::with_caches(unsafe { RegionSource::new(region.ptr, len) });
    h.set_trim_threshold(usize::MAX);
    assert!(h.lock().init());
    let base = region.ptr.addr();
    let heap = Cached {
        heap: &h,
        cache: Box::new(ThreadCache::new()),
        other: Box::new(ThreadCache::new()),
        frees: 0,
    };
    let mut m = Model {
        heap,
        live: BTreeMap::new(),
        region: (base, base + len),
        next_tag: 0,
        last_freed: None,
        format: MAIN,
    };
    m.run(&mut input, len);
}

/// A compact region heap, driven with its natural alignment (C's
/// `multi_heap_malloc` and `mm_malloc`: 8 in the small model, else 16).
impl Subject for RegionRef {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        let align = align.max(self.natural_align());
        self.allocate(size, align, zero, "fuzz").map(NonNull::as_ptr)
    }
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        let p = NonNull::new(p).ok_or(HeapError::InvalidPointer)?;
        // SAFETY: as for the main core.
        unsafe { self.dealloc(p) }
    }
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError> {
        let align = align.max(self.natural_align());
        // SAFETY: a live block of the model's.
        unsafe { self.reallocate(NonNull::new(p).unwrap(), size, align, "fuzz") }.map(NonNull::as_ptr)
    }
    fn usable(&mut self, p: *mut u8) -> Result<usize, HeapError> {
        // SAFETY: as for `free`.
        unsafe { self.usable_size(p) }
    }
    fn info(&mut self) -> HeapInfo {
        RegionRef::info(*self)
    }
    fn check(&mut self) -> bool {
        RegionRef::check(*self, false, &mut String::new())
    }
}

/// A compact region heap (`RegionRef::init_in_place`, as C's
/// `multi_heap_register` makes one) over 4 KiB to 1 MiB: NuttX's small
/// model up to 64 KiB, the wide format above.
pub fn compact_heap(data: &[u8]) {
    let mut input = Input::new(data);
    let len = 4 << 10 << (input.byte() % 9);
    let region = Region::new(len);
    // SAFETY: the region outlives the heap (leaked with it: the heap's
    // state lives in the region, and nothing uses it after the run).
    let h = unsafe { RegionRef::init_in_place(region.ptr, len) }.expect("a region heap");
    let format = match h {
        RegionRef::Small(_) => (8, 4, 16),
        _ => MAIN,
    };
    let base = region.ptr.addr();
    let mut m =
        Model { heap: h, live: BTreeMap::new(), region: (base, base + len), next_tag: 0, last_freed: None, format };
    m.run(&mut input, len);
}
