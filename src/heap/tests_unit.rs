//! Unit tests over region heaps: exact largest free block, misuse and
//! corruption detection, in-place realloc, alignment, the callback, the
//! allocator traits, dump and in-place initialisation.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use std::sync::Mutex;

use allocator_api2::alloc::Allocator;

use super::tests_model::{all_bytes, leak_region, mixed_size, ops, region_heap, Model, Rng};
use super::{Corruption, Heap, HeapError, RawHeap, RegionSource};

fn a<S: super::Source>(h: &mut RawHeap<S>, size: usize) -> *mut u8 {
    h.alloc(size, 16).expect("alloc").as_ptr()
}

fn free<S: super::Source>(h: &mut RawHeap<S>, p: *mut u8) -> Result<(), HeapError> {
    // SAFETY: tests free their own blocks or test rejection.
    unsafe { h.free(p) }
}

/// A pointer to nothing: an address for the heap to reject.
fn nowhere(a: usize) -> *mut u8 {
    core::ptr::without_provenance_mut(a)
}

fn largest_free_block_is_exact() {
    let cases: &[(usize, u64)] = if cfg!(miri) {
        &[(64 << 10, 1)]
    } else {
        &[(64 << 10, 1), (1 << 20, 2), (4 << 20, 3), (3 << 20, 4)]
    };
    for &(len, seed) in cases {
        let mut rng = Rng::new(seed);
        let mut m = Model::new(region_heap(len), true);
        for _ in 0..if cfg!(miri) { 3 } else { 30 } {
            m.run(&mut rng, ops(300).max(100), 300, &mut |r: &mut Rng| {
                if r.chance(95) {
                    r.below(3000)
                } else {
                    r.below(40_000)
                }
            });
            let l = m.heap.info().largest_free_block;
            for extra in [16, 1] {
                assert!(m.heap.alloc(l + extra, 16).is_none(), "largest {l} + {extra} fitted");
            }
            if l > 0 {
                let p = m.heap.alloc(l, 16).expect("an allocation of exactly largest_free_block");
                // SAFETY: just allocated.
                assert_eq!(unsafe { m.heap.usable_size(p.as_ptr()) }, Ok(l));
                free(&mut m.heap, p.as_ptr()).unwrap();
            }
        }
    }
}

fn double_free_and_invalid_pointers() {
    let mut h = region_heap(1 << 20);
    let (x, y, z) = (a(&mut h, 200), a(&mut h, 200), a(&mut h, 200));
    let w = a(&mut h, 200);
    free(&mut h, y).unwrap();
    assert_eq!(free(&mut h, y), Err(HeapError::DoubleFree), "free, free");
    free(&mut h, x).unwrap(); // merges with the free block after it
    assert_eq!(free(&mut h, x), Err(HeapError::DoubleFree), "merged with next");
    assert_eq!(free(&mut h, y), Err(HeapError::DoubleFree), "inside a merged block");
    free(&mut h, z).unwrap(); // merges with the free block before it
    assert_eq!(free(&mut h, z), Err(HeapError::DoubleFree), "merged with prev");
    free(&mut h, w).unwrap(); // merges into the top
    assert_eq!(free(&mut h, w), Err(HeapError::DoubleFree), "merged into top");
    // SAFETY: usable_size only validates.
    assert_eq!(unsafe { h.usable_size(w) }, Err(HeapError::DoubleFree));
    // SAFETY: realloc of a freed pointer must be rejected, not performed.
    assert_eq!(unsafe { h.realloc(z, 10, 16) }, Err(HeapError::DoubleFree));

    let p = a(&mut h, 1000);
    for off in [1, 8, 4] {
        let bad = p.wrapping_add(off);
        assert_eq!(free(&mut h, bad), Err(HeapError::InvalidPointer), "misaligned {bad:p}");
    }
    let mut local = [0u128; 2];
    assert_eq!(free(&mut h, local.as_mut_ptr().cast()), Err(HeapError::InvalidPointer));
    assert_eq!(free(&mut h, nowhere(0x10)), Err(HeapError::InvalidPointer));
    assert_eq!(free(&mut h, nowhere(usize::MAX & !15)), Err(HeapError::InvalidPointer));
    // An interior pointer of a live block: rejected, heap untouched.
    let q = a(&mut h, 64);
    // SAFETY: q's payload is ours.
    unsafe { core::ptr::write_bytes(q, 0, 64) };
    assert!(free(&mut h, p.wrapping_add(64)).is_err());
    assert!(free(&mut h, q.wrapping_add(16)).is_err());
    assert!(h.check(false, &mut String::new()));
    free(&mut h, p).unwrap();
    free(&mut h, q).unwrap();
    assert!(h.check(false, &mut String::new()));

    assert_eq!(HeapError::DoubleFree.to_string(), "double free");
    assert_eq!(HeapError::InvalidPointer.to_string(), "invalid pointer");
}

fn corruption_is_reported() {
    let mut h = region_heap(1 << 16);
    let (p, q, r) = (a(&mut h, 40), a(&mut h, 40), a(&mut h, 40));
    let _keep = a(&mut h, 40);
    // An overflow of p by 8 bytes hits q's header.
    let q_hdr = q.wrapping_sub(8).cast::<usize>();
    // SAFETY: deliberately corrupting our own heap's memory.
    let saved = unsafe { q_hdr.read() };
    // SAFETY: as above.
    unsafe { q_hdr.write(0x4141_4141_4141_4141) };
    let mut out = String::new();
    assert!(!h.check(true, &mut out));
    assert!(out.contains("CORRUPT HEAP"), "{out}");
    assert_eq!(free(&mut h, q), Err(HeapError::InvalidPointer), "not this heap's tag");
    assert_eq!(
        free(&mut h, p),
        Err(HeapError::Corrupted(Corruption::Neighbour)),
        "p's next header no longer says p is in use"
    );
    // SAFETY: restore.
    unsafe { q_hdr.write(saved) };
    assert!(h.check(false, &mut String::new()));
    // The same with a header that keeps the tag but says p is free.
    // SAFETY: as above.
    unsafe { q_hdr.write(saved & !2) };
    assert_eq!(free(&mut h, p), Err(HeapError::Corrupted(Corruption::Neighbour)));
    // SAFETY: restore.
    unsafe { q_hdr.write(saved) };
    // A broken free-list link.
    free(&mut h, q).unwrap();
    let link = q.cast::<usize>();
    // SAFETY: q's first payload word is now its next-free link.
    unsafe { link.write(p.addr() + 8) };
    let mut out = String::new();
    assert!(!h.check(true, &mut out));
    assert!(out.contains("not a block") || out.contains("header"), "{out}");
    // SAFETY: restore the (empty) link.
    unsafe { link.write(0) };
    assert!(h.check(true, &mut String::new()));
    free(&mut h, r).unwrap();
    free(&mut h, p).unwrap();
    assert!(h.check(true, &mut String::new()));
}

/// An allocation of an exact small class takes its list's head through a
/// fast path (`take_exact`) only when every check passes; a damaged head
/// goes to the checked path, which reports it: never handed out twice. Each
/// case damages the head of the 48-byte list (`p`, then `q`) one way and
/// allocates from it in a child, which must die with the report.
fn damaged_exact_class_heads_are_reported() {
    #[allow(clippy::type_complexity)]
    let cases: [(&str, fn(usize, usize, usize)); 6] = [
        // p's header: another heap's tag.
        ("corrupted free block header", |p, _, _| poke(p - 8, peek(p - 8) ^ (1 << 62))),
        // p's footer (its last word).
        ("corrupted free block size", |p, _, _| poke(p + 32, 0)),
        // The block after p no longer says that p is free.
        ("corrupted free block size", |p, _, _| poke(p + 40, peek(p + 40) | 2)),
        // p's next link into static data.
        ("link outside the heap", |p, _, _| poke(p, (&raw const STATIC_WORD).addr())),
        // q's back link no longer points at p.
        ("links do not point back", |_, q, _| poke(q + 8, 0)),
        // A back link forged on the head p, to a block whose next word
        // the attacker set to p: p leaves its list as if from the middle
        // and is handed out (once: it was free), its list still starting
        // at it; the next allocation finds that stale head in use.
        ("corrupted free block header", |p, _, g| {
            poke(g + 16, p - 8);
            poke(p + 8, g + 8);
        }),
    ];
    for (what, damage) in cases {
        let d = crate::testing::dies(|| {
            let mut h = region_heap(1 << 16);
            let [p, g, q, _g2] = [0; 4].map(|_| a(&mut h, 40));
            free(&mut h, q).unwrap();
            free(&mut h, p).unwrap(); // the head, q next
            damage(p.addr(), q.addr(), g.addr());
            let x = a(&mut h, 40);
            let y = a(&mut h, 40);
            panic!("damage not seen: got {x:p} then {y:p} (p {p:p}, q {q:p})");
        });
        assert_eq!(d.signal, Some(6), "{what}: {}", d.stderr);
        assert!(d.stderr.starts_with("rawrt: malloc(): "), "{what}: {}", d.stderr);
        assert!(d.stderr.contains(what), "{what}: {}", d.stderr);
    }
    // The forged back link again, then a free of another block of that
    // size: inserting it in front of the stale head (handed out, in use)
    // would write into that block's payload; the insert refuses.
    let d = crate::testing::dies(|| {
        let mut h = region_heap(1 << 16);
        let [p, g, q, _g2, r, _g3] = [0; 6].map(|_| a(&mut h, 40));
        free(&mut h, q).unwrap();
        free(&mut h, p).unwrap();
        poke(g.addr() + 16, p.addr() - 8);
        poke(p.addr() + 8, g.addr() + 8);
        let x = a(&mut h, 40);
        assert_eq!(x, p, "the forged head goes out once");
        let payload = peek(p.addr() + 8);
        free(&mut h, r).unwrap();
        panic!("free went on: p's payload word {payload:#x} -> {:#x}", peek(p.addr() + 8));
    });
    assert_eq!(d.signal, Some(6), "{}", d.stderr);
    assert!(d.stderr.contains("corrupted free block header"), "{}", d.stderr);
    // Undamaged, an allocation serves the list head first (the fast path
    // or the checked one alike), with exact figures.
    let mut h = region_heap(1 << 16);
    let [p, _g, q, _g2] = [0; 4].map(|_| a(&mut h, 40));
    free(&mut h, q).unwrap();
    free(&mut h, p).unwrap();
    let before = h.info();
    assert_eq!((a(&mut h, 40), a(&mut h, 33)), (p, q), "LIFO from the exact class");
    let after = h.info();
    assert_eq!(after.allocated_blocks, before.allocated_blocks + 2);
    assert_eq!(after.free_blocks + 2, before.free_blocks);
    assert!(h.check(true, &mut String::new()));
}

/// A word of static data, where a forged link points.
static STATIC_WORD: usize = 0;

/// Reads heap word `a` (the test's own inspection of its heap).
fn peek(a: usize) -> usize {
    // SAFETY: the tests read words of their own heap region.
    unsafe { core::ptr::with_exposed_provenance::<usize>(a).read() }
}

/// Writes heap word `a`: the damage under test.
fn poke(a: usize, v: usize) {
    // SAFETY: the tests write words of their own heap region.
    unsafe { core::ptr::with_exposed_provenance_mut::<usize>(a).write(v) }
}

fn realloc_in_place_and_failure() {
    let mut h = region_heap(1 << 16);
    let x = a(&mut h, 200);
    let y = a(&mut h, 200);
    let z = a(&mut h, 200);
    free(&mut h, y).unwrap();
    // SAFETY: x is ours.
    unsafe { core::ptr::write_bytes(x, 7, 200) };
    let re = |h: &mut RawHeap<RegionSource>, p: *mut u8, n: usize| {
        // SAFETY: p is live.
        unsafe { h.realloc(p, n, 16) }.map(|p| p.as_ptr())
    };
    assert_eq!(re(&mut h, x, 400), Ok(x), "grow into the free next block");
    assert_eq!(re(&mut h, x, 40), Ok(x), "shrink");
    assert!(all_bytes(x, 40, 7));
    assert_eq!(re(&mut h, z, 5000), Ok(z), "grow into the top");
    let before = h.info();
    assert_eq!(re(&mut h, z, 1 << 20), Err(HeapError::OutOfMemory));
    assert_eq!(h.info().total_allocated_bytes, before.total_allocated_bytes);
    let moved = re(&mut h, x, 30_000).unwrap();
    assert_ne!(moved, x, "z is in the way: the block must move");
    assert!(all_bytes(moved, 40, 7), "contents kept");
    assert!(h.check(true, &mut String::new()));
}

fn aligned_allocations() {
    let mut h = region_heap(if cfg!(miri) { 2 << 20 } else { 24 << 20 });
    let mut live = Vec::new();
    for shift in 4..=if cfg!(miri) { 16 } else { 20 } {
        let align = 1usize << shift;
        for size in [1, 100, align, 3 * align + 5] {
            let p =
                h.alloc(size, align).unwrap_or_else(|| panic!("alloc({size}, {align})")).as_ptr();
            assert_eq!(p.addr() % align, 0);
            // SAFETY: live block.
            assert!(unsafe { h.usable_size(p) }.unwrap() >= size);
            live.push(p);
        }
        assert!(h.check(true, &mut String::new()));
    }
    let waste = h.info();
    for p in live {
        free(&mut h, p).unwrap();
    }
    let i = h.info();
    assert_eq!(i.allocated_blocks, 0);
    assert_eq!(i.free_blocks, 1, "all fronts and tails coalesced (had {})", waste.free_blocks);
    assert!(h.alloc(16, 48).is_none(), "alignment must be a power of two");
}

static FAILED: Mutex<Vec<(usize, usize, &'static str)>> = Mutex::new(Vec::new());

fn record(size: usize, align: usize, func: &'static str) {
    FAILED.lock().unwrap().push((size, align, func));
}

fn failed_alloc_callback_fires() {
    let heap = Heap::new_in(leak_region(1 << 16));
    heap.set_failed_alloc_callback(Some(record));
    assert!(heap.alloc(Layout::from_size_align(1 << 20, 8).unwrap()).is_none());
    assert!(heap.allocate(1 << 17, 64, true, "calloc").is_none());
    let p = heap.allocate(100, 16, false, "malloc").unwrap();
    // SAFETY: p is live.
    assert_eq!(unsafe { heap.reallocate(p, 1 << 20, 16, "realloc") }, Err(HeapError::OutOfMemory));
    assert_eq!(
        *FAILED.lock().unwrap(),
        [(1 << 20, 8, "alloc"), (1 << 17, 64, "calloc"), (1 << 20, 16, "realloc")]
    );
    // SAFETY: p is live.
    unsafe { heap.dealloc(p) }.unwrap();
    heap.set_failed_alloc_callback(None);
    assert!(heap.allocate(1 << 20, 16, false, "malloc").is_none());
    assert_eq!(FAILED.lock().unwrap().len(), 3);
    assert!(heap.allocate(60_000, 16, false, "malloc").is_some(), "works again");
}

fn allocator_traits() {
    let heap = Heap::new_in(leak_region(1 << 20));
    let h = &heap;
    let l = Layout::from_size_align(100, 8).unwrap();
    let p = Allocator::allocate(&h, l).unwrap().cast::<u8>();
    // SAFETY: the block is ours.
    unsafe { core::ptr::write_bytes(p.as_ptr(), 3, 100) };
    let big = Layout::from_size_align(5000, 8).unwrap();
    // SAFETY: p is a live block of layout l.
    let p = unsafe { h.grow(p, l, big) }.unwrap();
    assert_eq!(p.len(), 5000);
    assert!(all_bytes(p.cast::<u8>().as_ptr(), 100, 3));
    let al = Layout::from_size_align(5000, 4096).unwrap();
    // SAFETY: as above; a stricter alignment moves the block if needed.
    let q = unsafe { h.grow(p.cast(), big, al) }.unwrap().cast::<u8>();
    assert_eq!(q.as_ptr().addr() % 4096, 0);
    assert!(all_bytes(q.as_ptr(), 100, 3));
    // SAFETY: as above.
    let q = unsafe { h.shrink(q, al, Layout::from_size_align(10, 4096).unwrap()) }
        .unwrap()
        .cast::<u8>();
    // SAFETY: as above.
    unsafe { h.deallocate(q, l) };
    let z = h.allocate_zeroed(Layout::from_size_align(3000, 16).unwrap()).unwrap();
    assert!(all_bytes(z.cast::<u8>().as_ptr(), 3000, 0));
    // SAFETY: as above.
    unsafe { h.deallocate(z.cast(), l) };
    // GlobalAlloc.
    // SAFETY: ordinary GlobalAlloc use.
    unsafe {
        let g = GlobalAlloc::alloc_zeroed(&heap, l);
        assert!(all_bytes(g, 100, 0));
        g.write_bytes(9, 100);
        let g = GlobalAlloc::realloc(&heap, g, l, 10_000);
        assert!(all_bytes(g, 100, 9));
        GlobalAlloc::dealloc(&heap, g, l);
        assert!(GlobalAlloc::alloc(&heap, Layout::from_size_align(2 << 20, 8).unwrap()).is_null());
    }
    assert_eq!(heap.info().allocated_blocks, 0);
    assert!(heap.check(true, &mut String::new()));
}

fn dump_check_addr_and_info() {
    let heap = Heap::new_in(leak_region(1 << 16));
    let fresh = heap.info();
    assert_eq!(fresh.free_blocks, 1);
    assert_eq!(fresh.minimum_free_bytes, fresh.total_free_bytes);
    assert!(fresh.total_free_bytes > 65_000 && fresh.total_free_bytes < 65_536);
    assert_eq!(fresh.footprint, 1 << 16);
    let l = Layout::from_size_align(1000, 16).unwrap();
    let ps: Vec<NonNull<u8>> = (0..5).map(|_| heap.alloc(l).unwrap()).collect();
    let low = heap.info();
    assert_eq!(low.allocated_blocks, 5);
    assert_eq!(low.total_allocated_bytes, 5 * 1000);
    assert_eq!(low.total_free_bytes, fresh.total_free_bytes - 5 * 1008);
    // SAFETY: live blocks.
    unsafe {
        heap.dealloc(ps[1]).unwrap();
        heap.dealloc(ps[3]).unwrap();
    }
    let i = heap.info();
    assert_eq!(i.minimum_free_bytes, low.total_free_bytes);
    assert_eq!(i.peak_allocated_bytes, 5 * 1000);
    assert_eq!(i.free_blocks, 3);
    assert_eq!(i.total_blocks, 6);
    let mut d = String::new();
    heap.dump(&mut d).unwrap();
    assert_eq!(d.lines().filter(|l| l.contains(" used next ")).count(), 3, "{d}");
    assert_eq!(d.lines().filter(|l| l.contains(" free next ")).count(), 2, "{d}");
    assert_eq!(d.lines().filter(|l| l.contains(" top next ")).count(), 1, "{d}");
    assert!(
        d.lines().last().unwrap().starts_with("heap: 3 used blocks (3000 B), 3 free blocks"),
        "{d}"
    );
    assert!(heap.check_addr(ps[0].as_ptr()));
    assert!(!heap.check_addr(&d as *const String as *const u8));
}

fn init_in_place() {
    let mem = leak_region(1 << 16);
    let (lo, hi) = (mem.as_ptr().addr(), mem.as_ptr().addr() + mem.len());
    // SAFETY: the leaked region is ours.
    let heap = unsafe { Heap::init_in_place(mem.as_mut_ptr(), mem.len()) }.unwrap();
    let p = heap.alloc(Layout::from_size_align(100, 16).unwrap()).unwrap().as_ptr().addr();
    assert!(p > lo + core::mem::size_of::<Heap<RegionSource>>() && p < hi);
    assert!(heap.info().total_free_bytes < (1 << 16) - core::mem::size_of::<Heap<RegionSource>>());
    let tiny = leak_region(64);
    // SAFETY: as above.
    assert!(unsafe { Heap::init_in_place(tiny.as_mut_ptr(), 64) }.is_none());
    // A region too small for any block: a heap where everything fails.
    let h = Heap::new_in(leak_region(24));
    assert!(h.alloc(Layout::from_size_align(1, 1).unwrap()).is_none());
}

fn mixed_sizes_in_a_big_region() {
    // The mixed distribution (with requests beyond the mmap threshold,
    // which a region serves itself) through the locked heap.
    let heap = Heap::new_in(leak_region(if cfg!(miri) { 4 << 20 } else { 32 << 20 }));
    let mut rng = Rng::new(9);
    let mut m = Model::new(&heap, true);
    m.run(&mut rng, ops(40_000), 500, &mut mixed_size);
    m.drain(&mut rng);
    assert_eq!(heap.info().free_blocks, 1);
}

fn threads_share_a_heap() {
    let heap: &'static Heap<RegionSource> =
        Box::leak(Box::new(Heap::new_in(leak_region(if cfg!(miri) { 1 << 20 } else { 64 << 20 }))));
    let workers: Vec<_> = (0..if cfg!(miri) { 2 } else { 4u64 })
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(t + 40);
                let mut m = Model::new(heap, false);
                m.shared = true;
                // Sizes small enough that four workers never exhaust it.
                m.run(&mut rng, ops(20_000), 2_000, &mut |r: &mut Rng| r.below(2000));
                assert_eq!(m.failures, 0);
                m.drain(&mut rng);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let i = heap.info();
    assert_eq!((i.allocated_blocks, i.free_blocks), (0, 1));
    assert!(heap.check(true, &mut String::new()));
}

fn process_heap_handle() {
    let l = Layout::from_size_align(300, 8).unwrap();
    let before = super::process().info().allocated_blocks;
    // SAFETY: ordinary GlobalAlloc use.
    unsafe {
        let p = GlobalAlloc::alloc(&super::ProcessHeap, l);
        assert!(!p.is_null());
        assert_eq!(super::process().info().allocated_blocks, before + 1);
        let p = GlobalAlloc::realloc(&super::ProcessHeap, p, l, 5000);
        GlobalAlloc::dealloc(&super::ProcessHeap, p, l);
    }
    assert_eq!(super::process().info().allocated_blocks, before);
}

/// The picture of a region heap (`Heap::svg`): one `<rect>` per block,
/// whose kinds and `data-size`s add up to the heap's figures, and a
/// well-formed document (every element closed; checked by Python's XML
/// parser in `hosted::heap_picture_matches_statistics`).
fn picture_adds_up() {
    let heap = Heap::new_in(leak_region(1 << 16));
    let mut rng = Rng::new(5);
    let ps: Vec<NonNull<u8>> = (0..60)
        .map(|_| heap.alloc(Layout::from_size_align(16 + rng.below(400), 16).unwrap()).unwrap())
        .collect();
    for p in ps.iter().step_by(3) {
        // SAFETY: live blocks of this heap.
        unsafe { heap.dealloc(*p).unwrap() };
    }
    let mut svg = String::new();
    heap.svg(&mut svg).unwrap();
    let blocks = |class: &str| {
        let tag = format!("<rect class=\"{class}\" ");
        svg.lines().filter(|l| l.starts_with(&tag)).fold((0, 0), |(n, b), l| {
            let size = l.split("data-size=\"").nth(1).unwrap().split('"').next().unwrap();
            (n + 1, b + size.parse::<usize>().unwrap())
        })
    };
    let i = heap.info();
    let (used, free, top) = (blocks("used"), blocks("free"), blocks("top"));
    assert_eq!((used.0, used.1), (i.allocated_blocks, i.total_allocated_bytes), "{svg}");
    assert_eq!((free.0 + top.0, free.1 + top.1), (i.free_blocks, i.total_free_bytes), "{svg}");
    assert_eq!(used.0, 40);
    assert!(svg.starts_with("<?xml") && svg.ends_with("</svg>\n"));
    assert_eq!(
        svg.matches("<rect").count(),
        svg.matches("</rect>").count() + 1 + 5,
        "the bar and the legend close themselves"
    );
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::unit::added_region_is_used_and_checked", added_region_is_used_and_checked),
    ("heap::unit::largest_free_block_is_exact", largest_free_block_is_exact),
    ("heap::unit::double_free_and_invalid_pointers", double_free_and_invalid_pointers),
    ("heap::unit::corruption_is_reported", corruption_is_reported),
    ("heap::unit::damaged_exact_class_heads_are_reported", damaged_exact_class_heads_are_reported),
    ("heap::unit::realloc_in_place_and_failure", realloc_in_place_and_failure),
    ("heap::unit::aligned_allocations", aligned_allocations),
    ("heap::unit::failed_alloc_callback_fires", failed_alloc_callback_fires),
    ("heap::unit::allocator_traits", allocator_traits),
    ("heap::unit::dump_check_addr_and_info", dump_check_addr_and_info),
    ("heap::unit::picture_adds_up", picture_adds_up),
    ("heap::unit::init_in_place", init_in_place),
    ("heap::unit::mixed_sizes_in_a_big_region", mixed_sizes_in_a_big_region),
    ("heap::unit::threads_share_a_heap", threads_share_a_heap),
    ("heap::unit::process_heap_handle", process_heap_handle),
];

fn added_region_is_used_and_checked() {
    // Two separate regions (NuttX's mm_initialize + mm_addregion), apart
    // in one buffer, both given by pointers derived from the buffer's (under
    // Miri the heap forms every pointer from the first region's, whose
    // provenance must cover the second; see `RegionSource::add`).
    let buf: &'static mut [u64] = Box::leak(vec![0u64; 48 << 10].into_boxed_slice());
    let base = buf.as_mut_ptr();
    let second = base.wrapping_add(16 << 10);
    // SAFETY: both parts are leaked, so exclusively the heap's forever.
    let h = unsafe { Heap::from_raw(base.cast(), 64 << 10) };
    let before = h.info().total_free_bytes;
    assert!(
        h.alloc(Layout::from_size_align(100 << 10, 16).unwrap()).is_none(),
        "too big for the first region"
    );
    // SAFETY: as above.
    assert!(unsafe { h.add_region(second.cast(), 256 << 10) });
    let after = h.info();
    assert!(
        after.total_free_bytes > before + (250 << 10),
        "{} -> {}",
        before,
        after.total_free_bytes
    );
    let big =
        h.alloc(Layout::from_size_align(100 << 10, 16).unwrap()).expect("fits the added region");
    let lo = second.addr();
    assert!((lo..lo + (256 << 10)).contains(&big.as_ptr().addr()));
    let small = h.alloc(Layout::from_size_align(1000, 16).unwrap()).expect("small");
    assert!(h.check(true, &mut String::new()));
    // SAFETY: live blocks of `h`.
    unsafe {
        h.dealloc(big).unwrap();
        h.dealloc(small).unwrap();
    }
    assert_eq!(h.info().total_allocated_bytes, 0);
    assert!(h.check(true, &mut String::new()));
    // A region too small for a block is refused.
    let tiny: &'static mut [u64] = Box::leak(vec![0u64; 2].into_boxed_slice());
    // SAFETY: leaked buffer.
    assert!(!unsafe { h.add_region(tiny.as_mut_ptr().cast(), 16) });
}
