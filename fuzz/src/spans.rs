//! The small heap's target (`span_heap`): the size-class spans of
//! `rawrt::heap::spans` over a region of 2 to 32 spans, driven by a
//! shadow model. Every live block keeps its bytes and overlaps no other;
//! the figures (blocks and bytes in use) are exact; the heap's check
//! passes; misuse (a double free, a pointer inside or between blocks, an
//! address in a span header or a span never used) is refused without a
//! change; a request the region cannot hold is `OutOfMemory`, as is an
//! alignment above 16 (this source cannot map).

use std::collections::BTreeMap;
use std::ptr::NonNull;

use rawrt::heap::spans::{SpanHeap, SMALL_MAX, SPAN};
use rawrt::heap::{HeapError, RegionSource};

use crate::input::{count, fill, intact, Input, Region};

struct Live {
    ptr: *mut u8,
    size: usize,
    usable: usize,
    tag: u32,
}

struct Model {
    heap: SpanHeap<RegionSource>,
    live: BTreeMap<usize, Live>,
    region: (usize, usize),
    next_tag: u32,
    last_freed: Option<usize>,
    /// The region's pointer, for addresses that are no block.
    base: *mut u8,
}

impl Model {
    fn add(&mut self, ptr: *mut u8, size: usize) {
        let p = ptr.addr();
        let usable = self.heap.usable(ptr).expect("usable size of a new block");
        assert!(usable >= size && p.is_multiple_of(16), "block {p:#x} of {usable} for {size}");
        assert!(p >= self.region.0 && p + usable <= self.region.1, "{p:#x} outside the region");
        if let Some((&q, l)) = self.live.range(..p).next_back() {
            assert!(q + l.usable <= p, "block {p:#x} overlaps {q:#x}");
        }
        if let Some((&q, _)) = self.live.range(p..).next() {
            assert!(p + usable <= q, "block {p:#x}+{usable} overlaps {q:#x}");
        }
        self.next_tag += 1;
        // SAFETY: the block's usable bytes are the model's.
        unsafe { fill(ptr, usable, self.next_tag) };
        self.live.insert(p, Live { ptr, size, usable, tag: self.next_tag });
    }

    fn alloc(&mut self, size: usize, align: usize, zero: bool) {
        let r = match (align > 16, zero) {
            (true, _) => self.heap.alloc_aligned(size, align),
            (false, true) => self.heap.alloc_zeroed(size),
            (false, false) => self.heap.alloc(size),
        };
        match r {
            Ok(p) => {
                let p = p.as_ptr();
                if zero {
                    // SAFETY: the block holds `size` bytes.
                    let z = unsafe { std::slice::from_raw_parts(p, size) };
                    assert!(z.iter().all(|&b| b == 0), "zeroed block {p:p} is not");
                }
                self.add(p, size)
            }
            Err(HeapError::OutOfMemory) => {
                // Only a request no span holds, or no span left for its class.
                let stats = self.heap.stats();
                assert!(
                    align > 16
                        || size > SMALL_MAX
                        || stats.spans * SPAN + 2 * SPAN > self.region.1 - self.region.0,
                    "alloc({size}) failed with {stats:?}"
                );
            }
            Err(e) => panic!("alloc({size}, {align}): {e}"),
        }
    }

    fn pick(&mut self, input: &mut Input) -> Option<usize> {
        let n = self.live.len();
        (n > 0).then(|| *self.live.keys().nth(input.below(n)).unwrap())
    }

    fn free(&mut self, input: &mut Input) {
        let Some(p) = self.pick(input) else { return };
        let l = self.live.remove(&p).unwrap();
        // SAFETY: the model's live block.
        assert!(unsafe { intact(l.ptr, l.usable, l.tag) }, "block {p:#x} was overwritten");
        assert_eq!(self.heap.free(l.ptr), Ok(()));
        self.last_freed = Some(p);
    }

    fn realloc(&mut self, input: &mut Input, size: usize) {
        let Some(p) = self.pick(input) else { return };
        let ptr = self.live[&p].ptr;
        match self.heap.realloc(NonNull::new(ptr).unwrap(), size) {
            Ok(q) => {
                let q = q.as_ptr();
                let l = self.live.remove(&p).unwrap();
                // SAFETY: the new block holds at least the bytes kept.
                assert!(unsafe { intact(q, l.size.min(size).min(l.usable), l.tag) });
                if q != ptr {
                    self.last_freed = Some(p);
                }
                self.add(q, size);
            }
            Err(HeapError::OutOfMemory) => {
                let l = &self.live[&p];
                // SAFETY: the block is still live.
                assert!(unsafe { intact(l.ptr, l.usable, l.tag) }, "failed realloc changed it");
            }
            Err(e) => panic!("realloc of a live block: {e}"),
        }
    }

    fn bogus_free(&mut self, input: &mut Input) {
        let (lo, hi) = self.region;
        let a = match input.byte() % 4 {
            0 => match self.last_freed {
                Some(p) => p,
                None => return,
            },
            1 => match self.pick(input) {
                Some(p) => p + 16 * (1 + input.below(4)),
                None => return,
            },
            2 => lo + input.below(hi - lo),
            _ => lo + 16 * input.below((hi - lo) / 16),
        };
        if self.live.contains_key(&a) {
            return;
        }
        let before = self.heap.stats();
        let r = self.heap.free(self.base.with_addr(a));
        assert!(
            matches!(r, Err(HeapError::InvalidPointer | HeapError::DoubleFree)),
            "free({a:#x}), no live block: {r:?}"
        );
        assert_eq!(self.heap.stats(), before, "a refused free changed the heap");
    }

    fn verify(&mut self) {
        assert!(self.heap.check(), "heap check failed");
        let st = self.heap.stats();
        let bytes: usize = self.live.values().map(|l| l.usable).sum();
        assert_eq!((st.blocks, st.used), (self.live.len(), bytes), "figures");
    }
}

/// The small heap over a region of 2 to 32 spans.
pub fn span_heap(data: &[u8]) {
    let mut input = Input::new(data);
    let len = SPAN << (1 + input.byte() % 5);
    let region = Region::new(len);
    // SAFETY: the region outlives the heap, which alone uses it.
    let heap = SpanHeap::new(unsafe { RegionSource::new(region.ptr, len) });
    let base = region.ptr.addr();
    let mut m = Model {
        heap,
        live: BTreeMap::new(),
        region: (base, base + len),
        next_tag: 0,
        last_freed: None,
        base: region.ptr,
    };
    let mut ops = 0;
    while !input.done() && ops < 4000 {
        ops += 1;
        match input.byte() % 16 {
            0..=5 => {
                let (size, align, zero) =
                    (input.size(2 * SMALL_MAX), input.align(), input.byte() < 40);
                m.alloc(size, align, zero)
            }
            6..=10 => m.free(&mut input),
            11 | 12 => {
                let size = input.size(2 * SMALL_MAX);
                m.realloc(&mut input, size)
            }
            13 => m.bogus_free(&mut input),
            14 => {
                m.heap.trim();
            }
            _ => {
                if let Some(p) = m.pick(&mut input) {
                    let l = &m.live[&p];
                    assert_eq!(m.heap.usable(l.ptr), Ok(l.usable));
                }
                m.verify()
            }
        }
    }
    count(ops);
    m.verify();
    let keys: Vec<usize> = m.live.keys().copied().collect();
    for p in keys {
        let l = m.live.remove(&p).unwrap();
        // SAFETY: the model's live block.
        assert!(unsafe { intact(l.ptr, l.usable, l.tag) }, "block {p:#x} was overwritten");
        assert_eq!(m.heap.free(l.ptr), Ok(()));
    }
    m.verify();
    assert_eq!(m.heap.stats().blocks, 0);
}
