//! The granule target: a granule allocator over a region, with every
//! allocation's bytes, the first-fit placement, the figures and its
//! answers to misuse (double frees, interior addresses, wrong sizes)
//! checked against a model.

use std::collections::BTreeMap;

use rawrt::gran::{Gran, GranError};

use crate::input::{count, fill, intact, Input, Region};

pub fn granules(data: &[u8]) {
    let mut input = Input::new(data);
    let log2gran = 4 + input.byte() % 6;
    let log2align = if input.byte() < 128 { log2gran } else { 2 + input.byte() % 10 };
    let len = 16 << 10 << (input.byte() % 5);
    let region = Region::new(len);
    // SAFETY: the region outlives the allocator, which alone uses it.
    let gran = match unsafe { Gran::new(region.ptr, len, log2gran, log2align) } {
        Ok(g) => g,
        Err(e) => {
            assert_eq!(e, GranError::InvalidArgument);
            return;
        }
    };
    let g = 1usize << log2gran;
    let (heap, heap_len) = gran.heap();
    let total = gran.info().ngranules;
    assert_eq!(heap_len, total * g);
    // Live allocations: start -> (requested size, granules, tag).
    let mut live: BTreeMap<usize, (usize, usize, u32)> = BTreeMap::new();
    let (mut tag, mut ops) = (0u32, 0);
    let used =
        |live: &BTreeMap<usize, (usize, usize, u32)>| -> usize { live.values().map(|v| v.1).sum() };
    while !input.done() && ops < 3000 {
        ops += 1;
        match input.byte() % 8 {
            0..=2 => {
                let size = input.size(heap_len);
                match gran.alloc(size) {
                    Ok(p) => {
                        let a = p.as_ptr().addr();
                        let n = size.div_ceil(g);
                        assert!(a >= heap.addr() && a + n * g <= heap.addr() + heap_len);
                        assert_eq!(a % (1 << log2align).max(1), 0, "alignment");
                        if let Some((&q, v)) = live.range(..a + n * g).next_back() {
                            assert!(q + v.1 * g <= a, "allocation {a:#x} overlaps {q:#x}");
                        }
                        tag += 1;
                        // SAFETY: the allocation's bytes are ours.
                        unsafe { fill(p.as_ptr(), size, tag) };
                        live.insert(a, (size, n, tag));
                    }
                    Err(GranError::InvalidArgument) => assert_eq!(size, 0),
                    Err(e) => {
                        assert_eq!(e, GranError::NoMemory);
                        let i = gran.info();
                        assert!(
                            size.div_ceil(g) > i.mxfree || log2align > log2gran,
                            "alloc({size}) failed with a free run of {} granules",
                            i.mxfree
                        );
                    }
                }
            }
            3 | 4 => {
                if live.is_empty() {
                    continue;
                }
                let a = *live.keys().nth(input.below(live.len())).unwrap();
                let (size, n, t) = live.remove(&a).unwrap();
                let p = heap.with_addr(a);
                // SAFETY: the model's live allocation.
                assert!(unsafe { intact(p, size, t) }, "allocation {a:#x} was overwritten");
                // Any size of the same granule count frees it.
                let as_size = (n - 1) * g + 1 + input.below(g);
                // SAFETY: as above, freed once.
                assert_eq!(unsafe { gran.free(p, as_size) }, Ok(()));
            }
            5 | 6 => {
                // Misuse, refused with nothing changed.
                let before = gran.info();
                let (a, size, want) = match (input.byte() % 4, live.keys().next().copied()) {
                    (0, Some(a)) => {
                        let (_, n, _) = live[&a];
                        let m = if input.byte() & 1 == 0 { n + 1 + input.below(4) } else { n - 1 };
                        if m == 0 {
                            continue;
                        }
                        (a, m * g, GranError::WrongSize)
                    }
                    (1, Some(a)) if live[&a].1 > 1 => {
                        let k = 1 + input.below(live[&a].1 - 1);
                        (a + k * g, g, GranError::NotAStart)
                    }
                    _ => {
                        // A granule no allocation starts at or covers.
                        let k = input.below(total);
                        let a = heap.addr() + k * g;
                        let covered =
                            live.range(..=a).next_back().is_some_and(|(&q, v)| a < q + v.1 * g);
                        if covered {
                            continue;
                        }
                        (a, g, GranError::NotAllocated)
                    }
                };
                // SAFETY: a range the allocator must refuse.
                let r = unsafe { gran.free(heap.with_addr(a), size) };
                if want == GranError::WrongSize && a + size > heap.addr() + heap_len {
                    assert_eq!(r, Err(GranError::OutOfRange));
                } else {
                    assert_eq!(r, Err(want), "free({a:#x}, {size})");
                }
                assert_eq!(gran.info(), before, "a refused free changed the allocator");
            }
            _ => {
                let i = gran.info();
                assert_eq!(i.ngranules, total);
                assert_eq!(i.nfree, total - used(&live), "free granules");
                assert!(i.mxfree <= i.nfree);
            }
        }
    }
    count(ops);
    for (a, (size, n, t)) in std::mem::take(&mut live) {
        let p = heap.with_addr(a);
        // SAFETY: as above.
        assert!(unsafe { intact(p, size, t) }, "allocation {a:#x} was overwritten");
        // SAFETY: as above.
        assert_eq!(unsafe { gran.free(p, n * g) }, Ok(()));
    }
    let i = gran.info();
    assert_eq!((i.nfree, i.mxfree), (total, total));
}
