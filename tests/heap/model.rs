//! Model-based randomized run on the process heap, through the C ABI as a
//! C program calls it (malloc, calloc, realloc, posix_memalign,
//! aligned_alloc, memalign, free) plus the Rust `Heap::allocate`: a shadow
//! model of every live block (address, requested and usable size,
//! alignment, fill pattern) checks alignment, zeroing, contents across
//! reallocation and neighbours' activity, `check()` every few hundred
//! operations, and the heap's allocated bytes and blocks against the
//! model after every phase.

use super::util::*;
use rawrt::heap::{self, DEFAULT_MMAP_THRESHOLD};

#[derive(Clone, Copy)]
struct Live {
    p: usize,
    size: usize,
    usable: usize,
    align: usize,
    tag: u64,
}

/// Most requests small, some medium, a few past the mmap threshold.
fn size_of(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=549 => rng.below(129),
        550..=849 => rng.below(1025),
        850..=969 => rng.below(16 << 10),
        970..=994 => rng.below(256 << 10),
        _ => rng.below(1 << 20),
    }
}

/// A power-of-two alignment from 8 to 1 MiB, mostly small.
fn align_of(rng: &mut Rng) -> usize {
    if rng.chance(4) {
        1 << (16 + rng.below(5)) // 64 KiB .. 1 MiB
    } else {
        1 << (3 + rng.below(10)) // 8 .. 4 KiB
    }
}

const MAX_LIVE: usize = 4000;

struct Model {
    live: Table<Live>,
    next_tag: u64,
    /// Sum of the usable sizes of the live blocks.
    usable: usize,
    base_bytes: usize,
    base_blocks: usize,
    ops: usize,
}

impl Model {
    fn new() -> Self {
        let live = Table::new(MAX_LIVE);
        let i = info();
        Model {
            live,
            next_tag: 1,
            usable: 0,
            base_bytes: i.total_allocated_bytes,
            base_blocks: i.allocated_blocks,
            ops: 0,
        }
    }

    /// Books a new block: checks its alignment, zeroing and usable size,
    /// then fills it.
    fn add(&mut self, p: *mut u8, size: usize, align: usize, zeroed: bool, what: &str) {
        assert!(!p.is_null(), "{what}({size}, align {align}) failed with memory to spare");
        assert_eq!(p as usize % align.max(16), 0, "{what}({size}) = {p:p} not aligned to {align}");
        if zeroed {
            assert!(all_zero(p, size), "{what}({size}) = {p:p} not zeroed");
        }
        // SAFETY: a live block.
        let usable = unsafe { malloc_usable_size(p) };
        assert!(usable >= size, "{what}({size}): usable {usable}");
        // realloc leaves a growing block room to grow again (up to a
        // quarter more), and a block that shrank a little keeps its room;
        // a medium request (past 1 KiB, up to 40 KiB) is rounded up to its
        // thread-cache bin's size, at most a quarter more.
        let medium = size > heap::CACHE_MAX - 8 && size <= heap::CACHE_MEDIUM_MAX - 8;
        let slack = if what == "realloc" {
            size / 2
        } else if medium {
            size / 4
        } else {
            0
        };
        assert!(
            usable <= size + slack + 64 || size >= DEFAULT_MMAP_THRESHOLD / 2 || align > 16,
            "{what}({size}): usable {usable} wastes"
        );
        let tag = self.next_tag;
        self.next_tag += 1;
        fill_sparse(p, usable, tag);
        self.live.push(Live { p: p as usize, size, usable, align: align.max(16), tag });
        self.usable += usable;
    }

    fn alloc(&mut self, rng: &mut Rng) {
        let size = size_of(rng);
        match rng.below(10) {
            0..=4 => {
                // SAFETY: plain C call.
                let p = unsafe { malloc(size) };
                self.add(p, size, 16, false, "malloc");
            }
            5..=6 => {
                // calloc with the size split into n * m when it divides.
                let (n, m) = if size % 8 == 0 && size > 0 { (size / 8, 8) } else { (1, size) };
                // SAFETY: plain C call.
                let p = unsafe { calloc(n, m) };
                self.add(p, size, 16, true, "calloc");
            }
            7 => {
                let align = align_of(rng);
                let mut p = 0x5a5a as *mut u8;
                // SAFETY: `p` is writable.
                let r = unsafe { posix_memalign(&mut p, align, size) };
                assert_eq!(r, 0, "posix_memalign({align}, {size})");
                self.add(p, size, align, false, "posix_memalign");
            }
            8 => {
                let align = align_of(rng);
                // SAFETY: plain C calls.
                let (p, what) = if rng.chance(50) {
                    (unsafe { aligned_alloc(align, size) }, "aligned_alloc")
                } else {
                    (unsafe { memalign(align, size) }, "memalign")
                };
                self.add(p, size, align, false, what);
            }
            _ => {
                // The Rust interface, zeroed, freed later by C free.
                let align = align_of(rng);
                let p = heap::process()
                    .allocate(size, align, true, "model")
                    .map_or(core::ptr::null_mut(), |p| p.as_ptr());
                self.add(p, size, align, true, "Heap::allocate");
            }
        }
    }

    /// Checks block `i`'s contents.
    fn verify(&self, i: usize) {
        let l = self.live.get(i);
        assert_eq!(l.p % l.align, 0);
        assert_pattern(l.p as *const u8, l.usable, l.tag);
        // SAFETY: a live block.
        assert_eq!(
            unsafe { malloc_usable_size(l.p as *mut u8) },
            l.usable,
            "usable size of {:#x} changed",
            l.p
        );
    }

    fn free(&mut self, rng: &mut Rng) {
        let i = rng.below(self.live.len());
        self.verify(i);
        let l = self.live.swap_remove(i);
        self.usable -= l.usable;
        // SAFETY: a live block, forgotten by the model.
        unsafe { free(l.p as *mut u8) };
    }

    fn realloc(&mut self, rng: &mut Rng) {
        let i = rng.below(self.live.len());
        self.verify(i);
        let l = self.live.get(i);
        let size = match rng.below(4) {
            0 => l.size + rng.below(64),         // a little more
            1 => l.size - rng.below(l.size + 1), // less
            2 => (l.size * 2).clamp(1, 2 << 20), // doubled
            _ => size_of(rng),
        };
        if size == 0 && rng.chance(50) {
            // realloc(p, 0) frees and returns NULL.
            self.live.swap_remove(i);
            self.usable -= l.usable;
            set_errno(0);
            // SAFETY: a live block.
            assert!(unsafe { realloc(l.p as *mut u8, 0) }.is_null());
            assert_eq!(errno(), 0, "realloc(p, 0) is no failure");
            return;
        }
        let size = size.max(1);
        // SAFETY: a live block; the model forgets the old address.
        let q = unsafe { realloc(l.p as *mut u8, size) };
        assert!(!q.is_null(), "realloc({:#x}, {size}) failed", l.p);
        assert_eq!(q as usize % 16, 0);
        let kept = l.usable.min(size);
        if let Some(k) = first_bad_sparse_below(q, l.usable, kept, l.tag) {
            panic!(
                "realloc {:#x} ({} B) -> {q:p} ({size} B) lost byte {k} of {kept}",
                l.p, l.usable
            );
        }
        self.live.swap_remove(i);
        self.usable -= l.usable;
        self.add(q, size, 16, false, "realloc");
    }

    fn step(&mut self, rng: &mut Rng, alloc_pct: usize) {
        self.ops += 1;
        let n = self.live.len();
        let r = rng.below(100);
        if n == 0 || (r < alloc_pct && n < MAX_LIVE) {
            self.alloc(rng);
        } else if r < alloc_pct + (100 - alloc_pct) / 3 {
            self.realloc(rng);
        } else {
            self.free(rng);
        }
    }

    /// Every block's contents, and the heap's figures against the model.
    fn audit(&self) {
        for i in 0..self.live.len() {
            self.verify(i);
        }
        heap_ok();
        let i = info();
        assert_eq!(
            i.total_allocated_bytes,
            self.base_bytes + self.usable,
            "allocated bytes vs the model"
        );
        assert_eq!(
            i.allocated_blocks,
            self.base_blocks + self.live.len(),
            "allocated blocks vs the model"
        );
        assert_eq!(i.total_blocks, i.allocated_blocks + i.free_blocks);
        assert!(i.peak_allocated_bytes >= i.total_allocated_bytes);
        assert!(i.minimum_free_bytes <= i.total_free_bytes);
        assert!(i.largest_free_block <= i.total_free_bytes);
        // SAFETY: plain C call.
        let m = unsafe { mallinfo2() };
        assert_eq!(
            (m.uordblks, m.fordblks, m.arena, m.usmblks),
            (i.total_allocated_bytes, i.total_free_bytes, i.footprint, i.peak_allocated_bytes)
        );
        assert_eq!((m.ordblks, m.keepcost), (i.free_blocks, i.largest_free_block));
    }

    /// Frees every live block in random order.
    fn drain(&mut self, rng: &mut Rng) {
        while !self.live.is_empty() {
            self.free(rng);
        }
    }
}

/// Operations per seed: at least a million natively in all; under qemu,
/// which runs this code about ten times slower, 300,000 (some 20 s).
const OPS_PER_SEED: usize = if QEMU { 60_000 } else { 220_000 };
const SEEDS: u64 = 5;
const PHASE: usize = 5_000;
const CHECK_EVERY: usize = 400;

pub fn randomized_process_heap() {
    let mut total = 0;
    let thresholds = [DEFAULT_MMAP_THRESHOLD, 64 << 10, 512 << 10, 1 << 20];
    for seed in 0..SEEDS {
        let mut rng = Rng::new(0xC0FFEE + seed);
        let mut m = Model::new();
        let mut phase = 0;
        while m.ops < OPS_PER_SEED {
            // Phases that fill, churn and drain; the mmap threshold and a
            // trim vary between them.
            let alloc_pct = [70, 50, 30, 55][phase % 4];
            heap::process().set_mmap_threshold(thresholds[rng.below(thresholds.len())]);
            for k in 1..=PHASE {
                m.step(&mut rng, alloc_pct);
                if k % CHECK_EVERY == 0 {
                    heap_ok();
                }
            }
            m.audit();
            if rng.chance(30) {
                // SAFETY: plain C call.
                unsafe { malloc_trim(rng.below(256 << 10)) };
                m.audit();
            }
            phase += 1;
        }
        m.drain(&mut rng);
        m.audit();
        total += m.ops;
    }
    heap::process().set_mmap_threshold(DEFAULT_MMAP_THRESHOLD);
    assert!(total >= SEEDS as usize * OPS_PER_SEED);
    rawrt::print!("({} operations) ", total);
}
