//! Hosted tests of the granule and page allocators: the word-at-a-time run
//! finder against the bit loop, geometry, alignment, large allocations,
//! every bad-free error, a model-based randomized run, and the mmap-backed
//! page allocator.

use std::collections::HashMap;

use super::bitmap::{self, naive_find_clear_run, naive_largest_clear_run, words_for};
use super::{Gran, GranError, GranInfo, PageInfo, Pages};
use crate::pool::tests::{Region, Rng};

/// A random bitmap of `nbits` bits where each bit is set with probability
/// `density` percent, in runs (so that long free runs occur).
fn random_bitmap(rng: &mut Rng, nbits: usize, density: usize) -> Vec<u64> {
    let mut words = vec![0u64; words_for(nbits) + 1];
    let mut i = 0;
    while i < nbits {
        let max = if rng.below(4) == 0 { 200 } else { 12 };
        let len = 1 + rng.below(max);
        let set = rng.below(100) < density;
        for j in i..(i + len).min(nbits) {
            if set {
                words[j / 64] |= 1 << (j % 64);
            }
        }
        i += len;
    }
    // Garbage in the padding must be ignored.
    if nbits % 64 != 0 {
        words[nbits / 64] |= rng.next() << (nbits % 64);
    }
    words
}

fn finder_matches_naive() {
    let mut rng = Rng::new(42);
    let mut checked = 0;
    for round in 0..if cfg!(miri) { 60 } else { 3000 } {
        let nbits = 1 + rng.below(700);
        let density = [0, 10, 50, 80, 97, 100][round % 6];
        let words = random_bitmap(&mut rng, nbits, density);
        let n = match rng.below(4) {
            0 => 1,
            1 => 1 + rng.below(8),
            2 => 1 + rng.below(100),
            _ => 1 + rng.below(nbits + 2),
        };
        let step = 1 << rng.below(8);
        let fast = bitmap::find_clear_run(&words, nbits, 0, n, step);
        let slow = naive_find_clear_run(&words, nbits, n, step);
        assert_eq!(fast, slow, "nbits {nbits} n {n} step {step} words {words:x?}");
        assert_eq!(
            bitmap::largest_clear_run(&words, nbits),
            naive_largest_clear_run(&words, nbits),
            "nbits {nbits} words {words:x?}"
        );
        if let Some(i) = fast {
            assert_eq!(i % step, 0);
            assert!(bitmap::range_all_clear(&words, i, n));
            checked += 1;
        }
        // With every word below a hint full, starting there finds the same.
        let hint = rng.below(words_for(nbits));
        let mut hinted = words.clone();
        hinted[..hint].iter_mut().for_each(|w| *w = u64::MAX);
        assert_eq!(
            bitmap::find_clear_run(&hinted, nbits, hint, n, step),
            naive_find_clear_run(&hinted, nbits, n, step)
        );
    }
    assert!(checked > if cfg!(miri) { 20 } else { 1000 }, "enough successful searches: {checked}");
    // Hand-made cases.
    let w = [0x0000_FFFF_FFFF_00F0u64, 0x0000_0000_0000_0000, 0xFF];
    assert_eq!(bitmap::find_clear_run(&w, 136, 0, 4, 1), Some(0));
    assert_eq!(bitmap::find_clear_run(&w, 136, 0, 5, 1), Some(8));
    assert_eq!(bitmap::find_clear_run(&w, 136, 0, 9, 1), Some(48));
    assert_eq!(bitmap::find_clear_run(&w, 136, 0, 80, 1), Some(48));
    assert_eq!(bitmap::find_clear_run(&w, 136, 0, 81, 1), None);
    assert_eq!(bitmap::find_clear_run(&w, 136, 0, 8, 32), Some(64));
    assert_eq!(bitmap::find_clear_run(&w, 136, 0, 0, 1), None);
    assert_eq!(bitmap::largest_clear_run(&w, 136), 80);
    assert_eq!(bitmap::largest_clear_run(&w, 128), 80);
    assert_eq!(bitmap::count_clear(&w, 136), 4 + 8 + 64 + 16);
    let mut m = [0u64; 3];
    bitmap::set_range(&mut m, 60, 70);
    assert_eq!(m, [0xF << 60, u64::MAX, 0x3]);
    assert!(bitmap::range_all_set(&m, 60, 70));
    assert!(!bitmap::range_all_set(&m, 59, 2));
    bitmap::clear_range(&mut m, 61, 68);
    assert_eq!(m, [1 << 60, 0, 0x2]);
}

fn geometry_and_info() {
    let region = Region::new(65_536, 4096);
    // SAFETY: the region outlives the allocator.
    let gran = unsafe { Gran::new(region.ptr, 65_536, 6, 4) }.unwrap();
    // The two bitmaps (16 words each: allocated, allocation starts) take
    // the first 256 bytes.
    let (heap, size) = gran.heap();
    assert_eq!(heap as usize, region.addr() + 256);
    assert_eq!(size, 1020 * 64);
    assert_eq!(gran.info(), GranInfo { log2gran: 6, ngranules: 1020, nfree: 1020, mxfree: 1020 });
    assert_eq!(gran.granule_size(), 64);
    assert_eq!(gran.alignment(), 16);
    // NuttX's example: 47 bytes take one 64-byte granule.
    let p = gran.alloc(47).unwrap().as_ptr() as usize;
    assert_eq!(p, region.addr() + 256);
    assert_eq!(gran.info().nfree, 1019);
    let a = gran.alloc(10 * 64).unwrap().as_ptr() as usize;
    let b = gran.alloc(20 * 64 - 5).unwrap().as_ptr() as usize;
    let c = gran.alloc(30 * 64).unwrap().as_ptr() as usize;
    assert_eq!((a - p, b - p, c - p), (64, 11 * 64, 31 * 64));
    // SAFETY: b is ours.
    unsafe { gran.free(region.ptr.with_addr(b), 20 * 64) }.unwrap();
    assert_eq!(
        gran.info(),
        GranInfo { log2gran: 6, ngranules: 1020, nfree: 1020 - 41, mxfree: 1020 - 61 }
    );
    // The hole is reused first (first fit).
    assert_eq!(gran.alloc(64 * 20).unwrap().as_ptr() as usize, b);

    // The bitmap in storage of the caller: the whole region is granules.
    let mut bits = vec![0xAAu64; Gran::bitmap_words(65_536, 6)];
    assert_eq!(bits.len(), 32);
    // SAFETY: region and bitmap outlive the allocator.
    let g2 = unsafe { Gran::with_bitmap(region.ptr, 65_536, 6, 4, bits.as_mut_ptr(), bits.len()) }
        .unwrap();
    assert_eq!(g2.info(), GranInfo { log2gran: 6, ngranules: 1024, nfree: 1024, mxfree: 1024 });
    assert_eq!(g2.heap().0 as usize, region.addr());
    // SAFETY: bad parameters are refused before anything is touched.
    unsafe {
        for short in [15, 31] {
            assert_eq!(
                Gran::with_bitmap(region.ptr, 65_536, 6, 4, bits.as_mut_ptr(), short).err(),
                Some(GranError::InvalidArgument)
            );
        }
        assert_eq!(
            Gran::new(std::ptr::null_mut(), 4096, 6, 4).err(),
            Some(GranError::InvalidArgument)
        );
        assert_eq!(Gran::new(region.ptr, 60, 6, 4).err(), Some(GranError::InvalidArgument));
        assert_eq!(Gran::new(region.ptr, 4096, 63, 4).err(), Some(GranError::InvalidArgument));
        assert_eq!(Gran::new(region.ptr, 4096, 6, 70).err(), Some(GranError::InvalidArgument));
        // An unaligned start: the heap begins at the next aligned address.
        let g = Gran::new(region.ptr.add(5), 8000, 5, 5).unwrap();
        assert_eq!(g.heap().0 as usize % 32, 0);
        assert!(g.heap().0 as usize >= region.addr() + 5 + 8);
    }
    assert_eq!(gran.alloc(0).err(), Some(GranError::InvalidArgument));
    assert_eq!(gran.alloc(usize::MAX).err(), Some(GranError::NoMemory));
}

fn alignment_of_results() {
    let region = Region::new(1 << 20, 64);
    for (log2gran, log2align) in [(6u8, 4u8), (6, 6), (4, 8), (6, 12), (12, 12), (3, 3)] {
        let mut bits = vec![0u64; Gran::bitmap_words(1 << 20, log2gran)];
        // SAFETY: region and bitmap outlive the allocator.
        let gran = unsafe {
            Gran::with_bitmap(
                region.ptr,
                1 << 20,
                log2gran,
                log2align,
                bits.as_mut_ptr(),
                bits.len(),
            )
        }
        .unwrap();
        let align = 1usize << log2align;
        let mut rng = Rng::new(log2gran as u64 * 100 + log2align as u64);
        let mut live = Vec::new();
        for _ in 0..300 {
            let size = 1 + rng.below(5000);
            match gran.alloc(size) {
                Ok(p) => {
                    assert_eq!(p.as_ptr() as usize % align, 0, "gran {log2gran} align {log2align}");
                    live.push((p, size));
                }
                Err(e) => assert_eq!(e, GranError::NoMemory),
            }
            if rng.below(3) == 0 && !live.is_empty() {
                let (p, size) = live.swap_remove(rng.below(live.len()));
                // SAFETY: ours.
                unsafe { gran.free(p.as_ptr(), size) }.unwrap();
            }
        }
        for (p, size) in live {
            // SAFETY: ours.
            unsafe { gran.free(p.as_ptr(), size) }.unwrap();
        }
        let info = gran.info();
        assert_eq!(info.nfree, info.ngranules);
        assert_eq!(info.mxfree, info.ngranules);
    }
}

fn large_allocations() {
    let region = Region::new(1 << 20, 4096);
    let mut bits = vec![0u64; Gran::bitmap_words(1 << 20, 8)];
    // SAFETY: region and bitmap outlive the allocator.
    let gran =
        unsafe { Gran::with_bitmap(region.ptr, 1 << 20, 8, 8, bits.as_mut_ptr(), bits.len()) }
            .unwrap();
    assert_eq!(gran.info().ngranules, 4096);
    // More than NuttX's 32 granules per allocation.
    let a = gran.alloc(33 << 8).unwrap().as_ptr() as usize;
    let b = gran.alloc(100 << 8).unwrap().as_ptr() as usize;
    let c = gran.alloc(1000 << 8).unwrap().as_ptr() as usize;
    assert_eq!((a, b, c), (region.addr(), region.addr() + (33 << 8), region.addr() + (133 << 8)));
    assert_eq!(gran.info().nfree, 4096 - 1133);
    assert_eq!(gran.info().mxfree, 4096 - 1133);
    // Too big for the remaining tail.
    assert_eq!(gran.alloc((4096 - 1133 + 1) << 8).err(), Some(GranError::NoMemory));
    // SAFETY: all ours.
    unsafe {
        gran.free(region.ptr.with_addr(b), 100 << 8).unwrap();
        gran.free(region.ptr.with_addr(a), 33 << 8).unwrap();
        gran.free(region.ptr.with_addr(c), 1000 << 8).unwrap();
    }
    // The whole heap in one allocation.
    let all = gran.alloc(4096 << 8).unwrap().as_ptr() as usize;
    assert_eq!(all, region.addr());
    assert_eq!(gran.info(), GranInfo { log2gran: 8, ngranules: 4096, nfree: 0, mxfree: 0 });
    assert_eq!(gran.alloc(1).err(), Some(GranError::NoMemory));
    // Write the whole heap.
    // SAFETY: the allocation covers the region.
    unsafe { std::ptr::write_bytes(region.ptr.with_addr(all), 0x5A, 1 << 20) };
    // SAFETY: ours.
    unsafe { gran.free(region.ptr.with_addr(all), 4096 << 8) }.unwrap();
    assert_eq!(gran.info().nfree, 4096);
    assert_eq!(gran.alloc((4096 << 8) + 1).err(), Some(GranError::NoMemory));
    // A run that straddles several words at an odd offset.
    let x = gran.alloc(3 << 8).unwrap();
    let y = gran.alloc(700 << 8).unwrap();
    assert_eq!(y.as_ptr() as usize - region.addr(), 3 << 8);
    // SAFETY: ours.
    unsafe {
        gran.free(x.as_ptr(), 3 << 8).unwrap();
        gran.free(y.as_ptr(), 700 << 8).unwrap();
    }
    assert_eq!(gran.info().mxfree, 4096);
}

fn bad_frees() {
    let region = Region::new(64 * 256, 64);
    let mut bits = vec![0u64; 8];
    // SAFETY: region and bitmap outlive the allocator.
    let gran =
        unsafe { Gran::with_bitmap(region.ptr, 64 * 256, 6, 6, bits.as_mut_ptr(), bits.len()) }
            .unwrap();
    let base = region.ptr;
    let a = gran.alloc(4 * 64).unwrap().as_ptr();
    assert_eq!(a, base);
    let before = gran.info();
    // SAFETY: every call is refused without touching memory.
    unsafe {
        assert_eq!(gran.free(a.add(4 * 64), 64), Err(GranError::NotAllocated), "never allocated");
        assert_eq!(gran.free(a, 5 * 64), Err(GranError::WrongSize), "runs past the allocation");
        assert_eq!(gran.free(a, 3 * 64), Err(GranError::WrongSize), "a part of it");
        assert_eq!(gran.free(a.add(64), 2 * 64), Err(GranError::NotAStart), "from inside it");
        assert_eq!(gran.free(a.add(1), 64), Err(GranError::Misaligned));
        assert_eq!(gran.free(a.add(63), 64), Err(GranError::Misaligned));
        assert_eq!(gran.free(base.wrapping_sub(64), 64), Err(GranError::OutOfRange));
        assert_eq!(gran.free(base.add(256 * 64), 64), Err(GranError::OutOfRange));
        assert_eq!(gran.free(base.add(255 * 64), 128), Err(GranError::OutOfRange), "spans the end");
        assert_eq!(gran.free(a, usize::MAX), Err(GranError::OutOfRange));
        assert_eq!(gran.free(a, 0), Err(GranError::InvalidArgument));
        assert_eq!(gran.free(std::ptr::null_mut(), 64), Err(GranError::OutOfRange));
    }
    assert_eq!(gran.info(), before, "refused frees change nothing");
    // Allocations side by side: a free that covers the neighbour's
    // granules is refused (it was taken once, and the neighbour's granules
    // handed out again); one that covers less than its own too.
    let b = gran.alloc(2 * 64).unwrap().as_ptr();
    let c = gran.alloc(3 * 64).unwrap().as_ptr();
    assert_eq!((b, c), (a.wrapping_add(4 * 64), a.wrapping_add(6 * 64)));
    let before = gran.info();
    // SAFETY: refused frees change nothing; then live allocations are
    // freed once each, with any size of the same granule count.
    unsafe {
        assert_eq!(gran.free(a, 6 * 64), Err(GranError::WrongSize));
        assert_eq!(gran.free(b, 5 * 64), Err(GranError::WrongSize));
        assert_eq!(gran.free(b, 64), Err(GranError::WrongSize));
        assert_eq!(gran.free(c.add(2 * 64), 64), Err(GranError::NotAStart));
        assert_eq!(gran.info(), before);
        gran.free(b, 2 * 64 - 7).unwrap();
        assert_eq!(gran.free(b, 2 * 64), Err(GranError::NotAllocated), "double free");
        assert_eq!(gran.free(a, 6 * 64), Err(GranError::WrongSize), "b's granules are free now");
        gran.free(a, 4 * 64).unwrap();
        gran.free(c, 3 * 64).unwrap();
        assert_eq!(gran.free(a, 64), Err(GranError::NotAllocated), "double free");
    }
    assert_eq!(gran.info().nfree, 256);
    // The last granule and a whole-heap allocation.
    let all = gran.alloc(256 * 64).unwrap().as_ptr();
    // SAFETY: as above.
    unsafe {
        assert_eq!(gran.free(all, 255 * 64), Err(GranError::WrongSize));
        gran.free(all, 256 * 64).unwrap();
    }
    for e in [
        GranError::OutOfRange,
        GranError::Misaligned,
        GranError::NotAllocated,
        GranError::NotAStart,
        GranError::WrongSize,
    ] {
        assert!(e.is_bad_free());
        assert_eq!(e.errno(), crate::sys::Errno::EINVAL);
    }
    assert_eq!(GranError::NoMemory.errno(), crate::sys::Errno::ENOMEM);
    assert_eq!(format!("{}", GranError::NotAllocated), "unallocated range");
}

/// Whether every byte of `data` is `tag` (slice comparisons: one `memcmp`
/// each, fast under Miri too).
fn holds(data: &[u8], tag: u8) -> bool {
    let buf = [tag; 256];
    data.chunks(256).all(|c| c == &buf[..c.len()])
}

/// Random allocations and frees against a shadow bitmap: every result must
/// be exactly the first fit the bit loop finds on the shadow, contents are
/// verified, statistics checked after every phase.
fn model_random() {
    for (seed, log2gran, log2align, size) in
        [(1u64, 6u8, 6u8, 1usize << 18), (2, 4, 4, 50_000), (3, 6, 9, 1 << 18), (4, 5, 2, 100_000)]
    {
        let region = Region::new(size, 4096);
        // SAFETY: the region outlives the allocator.
        let gran = unsafe { Gran::new(region.ptr, size, log2gran, log2align) }.unwrap();
        let (heap_ptr, _) = gran.heap();
        let heap = heap_ptr.addr();
        let at = |a: usize| heap_ptr.with_addr(a);
        let n = gran.info().ngranules;
        let gsize = 1usize << log2gran;
        let step = if log2align > log2gran { 1usize << (log2align - log2gran) } else { 1 };
        let mut shadow = vec![0u64; words_for(n)];
        let mut live: HashMap<usize, (usize, u8)> = HashMap::new();
        let mut order: Vec<usize> = Vec::new();
        let mut rng = Rng::new(seed);
        let mut failures = 0;
        // Under Miri (where the bit-by-bit reference is slow) two phases.
        for phase in 0..if cfg!(miri) { 2 } else { 16 } {
            let bias = [70, 50, 30, 65][phase % 4];
            for _ in 0..if cfg!(miri) { 40 } else { 400 } {
                if rng.below(100) < bias {
                    let granules = match rng.below(10) {
                        0 => 33 + rng.below(300),
                        1 => 1 + rng.below(n / 4),
                        _ => 1 + rng.below(8),
                    };
                    let bytes = granules * gsize - rng.below(gsize);
                    let expect = naive_find_clear_run(&shadow, n, granules, step);
                    match gran.alloc(bytes) {
                        Ok(p) => {
                            let i = (p.as_ptr() as usize - heap) / gsize;
                            assert_eq!(Some(i), expect, "first fit of {granules}");
                            bitmap::set_range(&mut shadow, i, granules);
                            let tag = rng.next() as u8;
                            // SAFETY: the allocation is ours and that long.
                            unsafe { std::ptr::write_bytes(p.as_ptr(), tag, bytes) };
                            live.insert(p.as_ptr() as usize, (bytes, tag));
                            order.push(p.as_ptr() as usize);
                        }
                        Err(e) => {
                            assert_eq!(e, GranError::NoMemory);
                            assert_eq!(expect, None, "{granules} granules should fit");
                            failures += 1;
                        }
                    }
                } else if !order.is_empty() {
                    let p = order.swap_remove(rng.below(order.len()));
                    let (bytes, tag) = live.remove(&p).unwrap();
                    // SAFETY: a live allocation of `bytes` bytes.
                    let data = unsafe { std::slice::from_raw_parts(at(p), bytes) };
                    assert!(holds(data, tag), "contents of {p:#x}");
                    // SAFETY: ours.
                    unsafe { gran.free(at(p), bytes) }.unwrap();
                    let granules = bytes.div_ceil(gsize);
                    bitmap::clear_range(&mut shadow, (p - heap) / gsize, granules);
                    if rng.below(8) == 0 {
                        // SAFETY: refused: already free.
                        let again = unsafe { gran.free(at(p), bytes) };
                        assert_eq!(again, Err(GranError::NotAllocated));
                    }
                }
            }
            let info = gran.info();
            assert_eq!(info.ngranules, n);
            assert_eq!(info.nfree, bitmap::count_clear(&shadow, n), "phase {phase}");
            assert_eq!(info.mxfree, naive_largest_clear_run(&shadow, n));
            for (&p, &(bytes, tag)) in &live {
                // SAFETY: a live allocation.
                let data = unsafe { std::slice::from_raw_parts(at(p), bytes) };
                assert!(holds(data, tag));
            }
        }
        assert!(failures > 0 || cfg!(miri), "the run should hit exhaustion");
        for p in order {
            let (bytes, _) = live.remove(&p).unwrap();
            // SAFETY: ours.
            unsafe { gran.free(at(p), bytes) }.unwrap();
        }
        assert_eq!(gran.info(), GranInfo { log2gran, ngranules: n, nfree: n, mxfree: n });
    }
}

fn handle_in_place() {
    let region = Region::new(16_384, 64);
    // SAFETY: the region outlives the handle.
    let handle = unsafe { Gran::new_in_place(region.ptr, 16_384, 7, 7) }.unwrap();
    let at = handle.as_ptr() as usize;
    assert_eq!(at, region.addr());
    // SAFETY: live as long as the region.
    let gran = unsafe { handle.as_ref() };
    let info = gran.info();
    assert_eq!(info.log2gran, 7);
    // The handle and one bitmap word come first; then 127 or fewer granules.
    assert!(info.ngranules >= 125 && info.ngranules < 128, "{info:?}");
    let p = gran.alloc(300).unwrap().as_ptr() as usize;
    assert!(p >= at + std::mem::size_of::<Gran>());
    assert_eq!(p % 128, 0);
    assert_eq!(gran.info().nfree, info.ngranules - 3);
    // SAFETY: too small for the handle: refused.
    let small = unsafe { Gran::new_in_place(region.ptr, 16, 7, 7) };
    assert_eq!(small.err(), Some(GranError::InvalidArgument));
}

fn pages_basic() {
    let pages = Pages::init(64).unwrap();
    assert_eq!(pages.info(), PageInfo { page_size: 4096, total: 64, free: 64, mxfree: 64 });
    let a = pages.alloc(1).unwrap().as_ptr();
    let b = pages.alloc(40).unwrap().as_ptr();
    assert_eq!(a as usize % 4096, 0);
    assert_eq!(b as usize, a as usize + 4096);
    // Touch every page: the memory is real and zero-filled.
    for i in 0..40 {
        // SAFETY: page i of the allocation b.
        unsafe {
            assert_eq!(*b.add(i * 4096), 0);
            b.add(i * 4096 + 17).write(i as u8);
        }
    }
    assert_eq!(pages.alloc(24).err(), Some(GranError::NoMemory));
    let c = pages.alloc(23).unwrap().as_ptr();
    assert_eq!(pages.info(), PageInfo { page_size: 4096, total: 64, free: 0, mxfree: 0 });
    // SAFETY: refused frees, then our own.
    unsafe {
        assert_eq!(pages.free(b.add(8), 1), Err(GranError::Misaligned));
        assert_eq!(pages.free(a.sub(4096), 1), Err(GranError::OutOfRange));
        assert_eq!(pages.free(c, 24), Err(GranError::OutOfRange));
        assert_eq!(pages.free(b, 0), Err(GranError::InvalidArgument));
        assert_eq!(*b.add(39 * 4096 + 17), 39);
        pages.free(b, 40).unwrap();
        assert_eq!(pages.free(b, 40), Err(GranError::NotAllocated));
        assert_eq!(pages.info(), PageInfo { page_size: 4096, total: 64, free: 40, mxfree: 40 });
        pages.free(a, 1).unwrap();
        pages.free(c, 23).unwrap();
    }
    assert_eq!(pages.info(), PageInfo { page_size: 4096, total: 64, free: 64, mxfree: 64 });
    assert_eq!(pages.map(8), Err(GranError::Busy));
    // 64 pages of more than 32 granules at once.
    let all = pages.alloc(64).unwrap();
    assert_eq!(all.as_ptr(), a);
    // SAFETY: ours.
    unsafe { pages.free(all.as_ptr(), 64) }.unwrap();
    assert_eq!(pages.gran().granule_size(), 4096);
}

fn pages_two_step_and_errors() {
    let pages = Pages::empty();
    assert_eq!(pages.alloc(1).err(), Some(GranError::NoMemory));
    assert_eq!(pages.info(), PageInfo { page_size: 4096, total: 0, free: 0, mxfree: 0 });
    assert_eq!(pages.map(0), Err(GranError::InvalidArgument));
    assert_eq!(pages.map(usize::MAX), Err(GranError::InvalidArgument));
    pages.map(1000).unwrap();
    assert_eq!(pages.info().total, 1000);
    let p = pages.alloc(1000).unwrap();
    assert_eq!(p.as_ptr() as usize % 4096, 0);
    assert_eq!(pages.alloc(1).err(), Some(GranError::NoMemory));
    assert_eq!(Pages::init(0).err(), Some(GranError::InvalidArgument));
    assert_eq!(GranError::Busy.errno(), crate::sys::Errno::EBUSY);
    let mapping_fails = Pages::init((isize::MAX as usize >> 12) / 4);
    assert!(matches!(mapping_fails, Err(GranError::Map(e)) if e == crate::sys::Errno::ENOMEM));
}

/// `allocation_len` against the bit-by-bit rule on random bitmaps of
/// allocations: from a start, up to the first free granule or the next
/// start.
fn allocation_len_matches_naive() {
    let mut rng = Rng::new(7);
    for round in 0..if cfg!(miri) { 50 } else { 2000 } {
        let nbits = 1 + rng.below(300);
        let words = random_bitmap(&mut rng, nbits, [50, 90, 100][round % 3]);
        let starts = random_bitmap(&mut rng, nbits, [5, 30, 70][round % 3]);
        let bit = |w: &[u64], i: usize| w[i / 64] >> (i % 64) & 1 != 0;
        for first in 0..nbits {
            let mut end = first + 1;
            while end < nbits && bit(&words, end) && !bit(&starts, end) {
                end += 1;
            }
            assert_eq!(
                bitmap::allocation_len(&words, &starts, nbits, first),
                end - first,
                "nbits {nbits} first {first} words {words:x?} starts {starts:x?}"
            );
        }
    }
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("gran::allocation_len_matches_naive", allocation_len_matches_naive),
    ("gran::finder_matches_naive", finder_matches_naive),
    ("gran::geometry_and_info", geometry_and_info),
    ("gran::alignment_of_results", alignment_of_results),
    ("gran::large_allocations", large_allocations),
    ("gran::bad_frees", bad_frees),
    ("gran::model_random", model_random),
    ("gran::handle_in_place", handle_in_place),
    ("gran::pages_basic", pages_basic),
    ("gran::pages_two_step_and_errors", pages_two_step_and_errors),
];
