//! 100,000 random operations across five heaps (the process heap and
//! four registered regions with overlapping capabilities) against a
//! model: every block lies in a heap that has the capabilities it was
//! asked with, keeps its contents through moves, and each heap's count
//! of allocated blocks is the model's.

use super::registry::isolated;
use super::util::*;
use rawrt::check::Rng;

const OPS: usize = 100_000;
const MAX_LIVE: usize = 400;

/// The capability sets the run asks for, and the heaps they fit.
const ASKS: [u32; 6] = [
    MALLOC_CAP_DEFAULT,
    MALLOC_CAP_PID2,
    MALLOC_CAP_PID3,
    MALLOC_CAP_PID2 | MALLOC_CAP_PID3,
    MALLOC_CAP_PID4,
    MALLOC_CAP_8BIT,
];

#[derive(Clone, Copy)]
struct Block {
    p: *mut u8,
    size: usize,
    caps: u32,
    seed: u8,
}

/// Which heap holds `p`: 0 for the process heap, `i + 1` for entry `i`.
fn heap_of(p: *mut u8) -> usize {
    match registry::owner(p as usize) {
        Some(e) => {
            1 + (0..registry::len()).position(|i| core::ptr::eq(registry::get(i), e)).unwrap()
        }
        None => 0,
    }
}

fn all_caps(h: usize) -> u32 {
    if h == 0 {
        PROCESS_CAPS
    } else {
        registry::get(h - 1).all_caps()
    }
}

fn fill(b: &Block) {
    for i in 0..b.size {
        // SAFETY: the block holds `size` bytes.
        unsafe { *b.p.add(i) = b.seed.wrapping_add(i as u8) }
    }
}

fn intact(b: &Block, n: usize) -> bool {
    // SAFETY: the block holds at least `n` bytes.
    (0..n).all(|i| unsafe { *b.p.add(i) } == b.seed.wrapping_add(i as u8))
}

#[track_caller]
fn placed(b: &Block) {
    let h = heap_of(b.p);
    assert!(all_caps(h) & b.caps == b.caps, "{:?} in heap {h} lacks {:#x}", b.p, b.caps);
}

pub fn random_operations_across_five_heaps() {
    isolated(|| {
        add([MALLOC_CAP_PID2, 0, 0], 48 << 10);
        add([MALLOC_CAP_PID3, MALLOC_CAP_PID2, 0], 48 << 10);
        add([MALLOC_CAP_PID4, 0, MALLOC_CAP_8BIT], 32 << 10);
        add([MALLOC_CAP_PID2 | MALLOC_CAP_PID3, 0, 0], 64 << 10);
        let base: [usize; 5] = core::array::from_fn(|h| {
            if h == 0 {
                heaps(MALLOC_CAP_DEFAULT).next().unwrap().info().allocated_blocks
            } else {
                0
            }
        });
        let mut live = [Block { p: core::ptr::null_mut(), size: 0, caps: 0, seed: 0 }; MAX_LIVE];
        let mut n = 0;
        let mut rng = Rng::new(13);
        let (mut fails, mut moves) = (0, 0);
        for op in 0..OPS {
            let r = rng.below(100);
            if n < MAX_LIVE && (r < 45 || n == 0) {
                let caps = ASKS[rng.below(ASKS.len())];
                let top = if rng.chance(5) { 6000 } else { 300 };
                let size = 1 + rng.below(top);
                // SAFETY: plain calls.
                let p = unsafe {
                    if rng.chance(50) {
                        heap_caps_malloc(size, caps)
                    } else {
                        heap_caps_calloc(1, size, caps)
                    }
                };
                if p.is_null() {
                    fails += 1;
                    continue;
                }
                let b = Block { p, size, caps, seed: rng.next() as u8 };
                placed(&b);
                fill(&b);
                live[n] = b;
                n += 1;
            } else if r < 80 {
                let i = rng.below(n);
                let b = live[i];
                assert!(intact(&b, b.size), "op {op}: block {:?} damaged", b.p);
                // SAFETY: a live block, freed once.
                unsafe {
                    if rng.chance(50) {
                        free(b.p)
                    } else {
                        heap_caps_free(b.p)
                    }
                }
                n -= 1;
                live[i] = live[n];
            } else {
                let i = rng.below(n);
                let b = live[i];
                let top = if rng.chance(10) { 5000 } else { 400 };
                let size = 1 + rng.below(top);
                let plain = rng.chance(40);
                let caps = if plain { b.caps } else { ASKS[rng.below(ASKS.len())] };
                let h = heap_of(b.p);
                // SAFETY: a live block.
                let q = unsafe {
                    if plain {
                        realloc(b.p, size)
                    } else {
                        heap_caps_realloc(b.p, size, caps)
                    }
                };
                if q.is_null() {
                    fails += 1;
                    assert!(intact(&b, b.size), "op {op}: failed realloc damaged {:?}", b.p);
                    continue;
                }
                let nb = Block { p: q, size, caps, seed: b.seed };
                assert!(intact(&nb, size.min(b.size)), "op {op}: realloc lost contents");
                if plain {
                    assert_eq!(heap_of(q), h, "plain realloc keeps a block in its heap");
                }
                if heap_of(q) != h {
                    moves += 1;
                }
                placed(&nb);
                fill(&nb);
                live[i] = nb;
            }
            if op % 5000 == 0 {
                let mut counts = [0usize; 5];
                for b in &live[..n] {
                    counts[heap_of(b.p)] += 1;
                }
                for (h, heap) in heaps(MALLOC_CAP_INVALID).enumerate() {
                    let got = heap.info().allocated_blocks - base[h];
                    assert_eq!(got, counts[h], "op {op}: heap {h} has {got} blocks");
                }
                assert!(heaps(MALLOC_CAP_INVALID).all(|h| h.check(false, &mut Discard)));
            }
        }
        for b in &live[..n] {
            assert!(intact(b, b.size));
            // SAFETY: each live block once.
            unsafe { free(b.p) };
        }
        for h in 1..5 {
            assert_eq!(registry::get(h - 1).heap.info().allocated_blocks, 0);
        }
        assert!(fails > 0 && moves > 0, "the run met full heaps ({fails}) and moves ({moves})");
    });
}

/// A writer that drops everything.
struct Discard;
impl core::fmt::Write for Discard {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}
