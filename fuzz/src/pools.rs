//! The pool target: a fixed pool over a region or a growing pool over
//! chunks from std's allocator, with every block's bytes, the pool's
//! figures and its answers to misuse checked against a model.

use std::collections::BTreeMap;
use std::ptr::NonNull;

use rawrt::pool::{ChunkSource, Pool, PoolError};

use crate::input::{count, fill, intact, Input, Region};

/// Chunks from std's allocator (garbage-filled: nothing may rely on them
/// being zeroed).
struct StdChunks;

// SAFETY: chunks come from std's allocator with the layout asked for and
// go back to it with the same layout.
unsafe impl ChunkSource for StdChunks {
    fn alloc_chunk(&self, size: usize, align: usize) -> *mut u8 {
        let layout = std::alloc::Layout::from_size_align(size, align).unwrap();
        // SAFETY: a non-zero size.
        let p = unsafe { std::alloc::alloc(layout) };
        if !p.is_null() {
            // SAFETY: fresh memory of `size` bytes.
            unsafe { p.write_bytes(0xCD, size) };
        }
        p
    }
    unsafe fn free_chunk(&self, ptr: *mut u8, size: usize, align: usize) {
        let layout = std::alloc::Layout::from_size_align(size, align).unwrap();
        // SAFETY: the pool gives back a chunk of ours with its layout.
        unsafe { std::alloc::dealloc(ptr, layout) };
    }
}

static CHUNKS: StdChunks = StdChunks;

pub fn pool(data: &[u8]) {
    let mut input = Input::new(data);
    let block = 1 + input.below(300);
    let align = if input.byte() < 200 { 0 } else { 8 << (input.byte() % 6) };
    let growing = input.byte() & 1 == 0;
    let region = Region::new(16 << 10 << (input.byte() % 4));
    let max_blocks = if input.byte() < 128 { 0 } else { 1 + input.below(2000) };
    let pool = if growing {
        Pool::new(block, align, max_blocks, &CHUNKS).unwrap()
    } else {
        // SAFETY: the region outlives the pool, which alone uses it.
        match unsafe { Pool::from_region(region.ptr, region.len, block, align) } {
            Ok(p) => p,
            Err(e) => {
                assert_eq!(e, PoolError::InvalidArgument);
                return;
            }
        }
    };
    let bs = pool.block_size();
    assert!(bs >= block && bs % pool.align() == 0);
    let mut live: BTreeMap<usize, (NonNull<u8>, u32)> = BTreeMap::new();
    let (mut tag, mut last_freed) = (0u32, None::<NonNull<u8>>);
    let mut ops = 0;
    while !input.done() && ops < 4000 {
        ops += 1;
        match input.byte() % 8 {
            0..=2 => match pool.alloc() {
                Ok(p) => {
                    let a = p.as_ptr().addr();
                    assert_eq!(a % pool.align(), 0);
                    if let Some((&q, _)) = live.range(..a + bs).next_back() {
                        assert!(q + bs <= a, "block {a:#x} overlaps {q:#x}");
                    }
                    tag += 1;
                    // SAFETY: a new block of `bs` bytes.
                    unsafe { fill(p.as_ptr(), bs, tag) };
                    live.insert(a, (p, tag));
                }
                Err(e) => {
                    let i = pool.info();
                    assert_eq!(e, PoolError::Exhausted, "{i:?}");
                    assert_eq!(i.free, 0, "exhausted with free blocks: {i:?}");
                }
            },
            3 | 4 => {
                if live.is_empty() {
                    continue;
                }
                let a = *live.keys().nth(input.below(live.len())).unwrap();
                let (p, t) = live.remove(&a).unwrap();
                // SAFETY: the model's live block.
                assert!(unsafe { intact(p.as_ptr(), bs, t) }, "block {a:#x} was overwritten");
                // SAFETY: as above, freed once.
                assert_eq!(unsafe { pool.free(p.as_ptr()) }, Ok(()));
                last_freed = Some(p);
            }
            5 => {
                // Misuse: a double free, an interior pointer, a stray one.
                let Some(any) = live.values().next().map(|v| v.0).or(last_freed) else { continue };
                let a = match input.byte() % 3 {
                    0 => match last_freed {
                        Some(p) if !live.contains_key(&p.as_ptr().addr()) => p.as_ptr().addr(),
                        _ => continue,
                    },
                    1 => any.as_ptr().addr() + 1 + input.below(bs.max(2) - 1),
                    _ => region.ptr.addr() + input.below(region.len),
                };
                if live.contains_key(&a) {
                    continue;
                }
                let before = pool.info();
                let p = any.as_ptr().with_addr(a);
                // SAFETY: a pointer the pool must refuse.
                let r = unsafe { pool.free(p) };
                assert!(r.is_err(), "free({a:#x}) of no live block was accepted");
                assert_eq!(pool.check(p), r, "check and free agree");
                assert_eq!(pool.info(), before, "a refused free changed the pool");
            }
            6 => {
                let mut seen = Vec::new();
                pool.for_each_used(|p| seen.push(p.as_ptr().addr()));
                assert_eq!(seen, live.keys().copied().collect::<Vec<_>>(), "for_each_used");
            }
            _ => {
                let i = pool.info();
                assert_eq!(i.in_use, live.len());
                assert_eq!(i.free, i.capacity - i.in_use);
                assert!(i.peak_in_use >= i.in_use && i.low_water <= i.free);
                if max_blocks != 0 && growing {
                    assert!(i.capacity <= max_blocks);
                }
            }
        }
    }
    count(ops);
    for (a, (p, t)) in std::mem::take(&mut live) {
        // SAFETY: as above.
        assert!(unsafe { intact(p.as_ptr(), bs, t) }, "block {a:#x} was overwritten");
        // SAFETY: as above.
        assert_eq!(unsafe { pool.free(p.as_ptr()) }, Ok(()));
    }
    assert_eq!(pool.info().in_use, 0);
}
