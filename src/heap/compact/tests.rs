//! Hosted tests of the compact core over plain regions, in both formats:
//! the figures, the small model's density, alignment, misuse, damage, the
//! external lock, more areas, and random operations against the shadow
//! model (`tests_model.rs`).

use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::{CompactHeap, Format, SmallHeap, WideHeap};
use crate::heap::tests_model::{leak_region, ops, Model, Rng, Subject};
use crate::heap::{Corruption, HeapError, HeapInfo};

/// A compact heap whose state lives at the start of a leaked, 16-aligned
/// region of `len` bytes.
pub(crate) fn heap_in<F: Format>(len: usize) -> &'static CompactHeap<F> {
    let mem = leak_region(len);
    // SAFETY: the leaked region is ours forever.
    unsafe { CompactHeap::init_in_place(mem.as_mut_ptr(), len) }.expect("region holds a heap")
}

/// A small-model heap over `len` bytes.
pub(crate) fn small_heap(len: usize) -> &'static SmallHeap {
    heap_in(len)
}

/// Frees `p` (not null).
fn fr<F: Format>(h: &CompactHeap<F>, p: *mut u8) -> Result<(), HeapError> {
    // SAFETY: the tests free live blocks, or misuse that the heap detects.
    unsafe { h.dealloc(NonNull::new(p).unwrap()) }
}

fn a<F: Format>(h: &CompactHeap<F>, n: usize) -> *mut u8 {
    h.allocate(n, 8, false, "malloc").expect("allocation").as_ptr()
}

/// The model drives a compact heap.
impl<F: Format> Subject for &CompactHeap<F> {
    fn alloc(&mut self, size: usize, align: usize, zero: bool) -> Option<*mut u8> {
        self.allocate(size, align, zero, "model").map(NonNull::as_ptr)
    }
    fn free(&mut self, p: *mut u8) -> Result<(), HeapError> {
        // SAFETY: the model frees only live blocks of this heap.
        unsafe { self.dealloc(NonNull::new(p).unwrap()) }
    }
    fn realloc(&mut self, p: *mut u8, size: usize, align: usize) -> Result<*mut u8, HeapError> {
        // SAFETY: as above.
        unsafe { self.reallocate(NonNull::new(p).unwrap(), size, align, "model") }
            .map(NonNull::as_ptr)
    }
    fn usable(&mut self, p: *mut u8) -> usize {
        self.usable_size(p).expect("usable_size of a live block")
    }
    fn info(&mut self) -> HeapInfo {
        CompactHeap::info(self)
    }
    fn check(&mut self, out: &mut String) -> bool {
        CompactHeap::check(self, true, out)
    }
}

/// What a heap placed in its region costs, exactly: the free bytes of a
/// new heap over a 16-aligned region are the region less the state, the
/// heads table
/// (one link per class, sized to the region) and the headers (the free
/// block's, the sentinel, and padding to align the first payload).
fn state_costs_little() {
    let small = core::mem::size_of::<SmallHeap>();
    let wide = core::mem::size_of::<WideHeap>();
    assert_eq!((small, wide), (192, 304));
    // (region, free bytes, overhead)
    for (len, free, costs) in [(4 << 10, 3828, 268), (16 << 10, 16100, 284), (64 << 10, 65236, 300)]
    {
        let i = small_heap(len).info();
        assert_eq!((i.total_free_bytes, len - i.total_free_bytes), (free, costs), "{len} B");
        assert!(
            len - i.total_free_bytes <= 1024,
            "{len}-byte region: {} B overhead",
            len - i.total_free_bytes
        );
        assert_eq!(i.largest_free_block, i.total_free_bytes);
        assert_eq!((i.free_blocks, i.allocated_blocks), (1, 0));
        assert_eq!(i.minimum_free_bytes, i.total_free_bytes);
    }
    for (len, free, costs) in [(128 << 10, 130_344, 728), (1 << 20, 1_047_752, 824)] {
        let i = heap_in::<super::Wide>(len).info();
        assert_eq!((i.total_free_bytes, len - i.total_free_bytes), (free, costs), "{len} B");
        assert!(
            len - i.total_free_bytes <= 2048,
            "{len}-byte region: {} B overhead",
            len - i.total_free_bytes
        );
        assert_eq!(i.largest_free_block, i.total_free_bytes);
    }
    // Too big, too small.
    let big = leak_region((64 << 10) + 8);
    // SAFETY: the leaked regions are ours.
    assert!(unsafe { SmallHeap::init_in_place(big.as_mut_ptr(), (64 << 10) + 8) }.is_none());
    let tiny = leak_region(small + 64);
    // SAFETY: as above.
    assert!(unsafe { SmallHeap::init_in_place(tiny.as_mut_ptr(), small + 16) }.is_none());
    // SAFETY: as above.
    assert!(unsafe { SmallHeap::init_in_place(tiny.as_mut_ptr(), small + 64) }.is_some());
}

/// NuttX's small model: 4-byte headers and 8-byte alignment fit 900
/// blocks of 8 bytes in 16 KiB: 16 bytes each, the last one taking what
/// is left over (1,006, with 20 usable bytes in the last).
fn nine_hundred_small_blocks_in_16k() {
    let h = small_heap(16 << 10);
    let free = h.info().total_free_bytes;
    let (n, last) = ((free + 4) / 16, (free + 4) % 16 + 12);
    assert_eq!((n, last), (1006, 20));
    let mut v = Vec::new();
    while let Some(p) = h.allocate(8, 8, false, "malloc") {
        v.push(p.as_ptr());
    }
    assert_eq!(v.len(), n, "8-byte blocks in 16 KiB");
    assert!(n >= 900);
    for (k, &p) in v.iter().enumerate() {
        assert_eq!(p.addr() % 8, 0);
        assert_eq!(h.usable_size(p), Ok(if k + 1 < n { 12 } else { last }));
        // SAFETY: 8 bytes of a live block.
        unsafe { p.cast::<u64>().write(k as u64) };
    }
    for (k, &p) in v.iter().enumerate() {
        // SAFETY: as above.
        assert_eq!(unsafe { p.cast::<u64>().read() }, k as u64);
    }
    let i = h.info();
    assert_eq!((i.allocated_blocks, i.total_allocated_bytes), (n, (n - 1) * 12 + last));
    assert_eq!((i.free_blocks, i.total_free_bytes), (0, 0));
    assert!(h.check(true, &mut String::new()));
    for &p in v.iter().rev().step_by(2).chain(v.iter().rev().skip(1).step_by(2)) {
        fr(h, p).unwrap();
    }
    let i = h.info();
    assert_eq!((i.free_blocks, i.total_free_bytes, i.minimum_free_bytes), (1, free, 0));
    assert!(h.check(true, &mut String::new()));
}

/// Alignments above 8 are honoured (C's aligned_alloc, Rust layouts), and
/// the gap before the block stays usable.
fn alignment_is_honoured() {
    let h = small_heap(64 << 10);
    for align in [16, 32, 64, 256, 4096, 16384] {
        let p = h.allocate(40, align, true, "aligned_alloc").unwrap().as_ptr();
        assert_eq!(p.addr() % align, 0, "align {align}");
        assert!(h.usable_size(p).unwrap() >= 40);
    }
    assert!(h.allocate(8, 3, false, "aligned_alloc").is_none(), "not a power of two");
    assert!(h.allocate(8, 1 << 16, false, "aligned_alloc").is_none());
    let mut v = allocator_api2::vec::Vec::new_in(h);
    for k in 0..100u128 {
        v.push(k);
    }
    assert_eq!(v.as_ptr().addr() % 16, 0);
    assert_eq!(v.iter().sum::<u128>(), 4950);
    let layout = Layout::from_size_align(24, 16).unwrap();
    let b = allocator_api2::boxed::Box::new_in([7u128; 1], h);
    assert_eq!(core::ptr::from_ref(&*b).addr() % layout.align(), 0);
    drop((v, b));
    assert!(h.check(true, &mut String::new()));
}

/// Resizing in place: shrink, grow into the free block after, and a move
/// that keeps the contents when the next block is in use.
fn realloc_in_place_and_moves() {
    let h = small_heap(8 << 10);
    let p = NonNull::new(a(h, 100)).unwrap();
    // SAFETY: the block's 100 bytes.
    unsafe { p.as_ptr().write_bytes(0x5A, 100) };
    // SAFETY: a live block.
    let q = unsafe { h.reallocate(p, 20, 8, "realloc") }.unwrap();
    assert_eq!((q, h.usable_size(q.as_ptr())), (p, Ok(20)));
    // SAFETY: as above.
    let q = unsafe { h.reallocate(q, 300, 8, "realloc") }.unwrap();
    assert_eq!((q, h.usable_size(q.as_ptr())), (p, Ok(300)));
    let _fence = a(h, 8);
    // SAFETY: as above.
    let r = unsafe { h.reallocate(q, 600, 8, "realloc") }.unwrap();
    assert_ne!(r, q, "the next block is in use: moved");
    // SAFETY: the first 20 bytes were kept.
    assert!(unsafe { core::slice::from_raw_parts(r.as_ptr(), 20) }.iter().all(|&b| b == 0x5A));
    // SAFETY: as above.
    assert_eq!(unsafe { h.reallocate(r, 100 << 10, 8, "realloc") }, Err(HeapError::OutOfMemory));
    assert_eq!(h.usable_size(r.as_ptr()), Ok(604), "a failed realloc leaves the block");
    assert!(h.check(true, &mut String::new()));
}

/// The low-water mark is the fewest free bytes between operations: frees
/// that merge neighbours do not lower it on their way.
fn minimum_free_is_the_low_water_mark() {
    let h = small_heap(8 << 10);
    let (x, y, z) = (a(h, 100), a(h, 100), a(h, 100));
    let low = h.info().total_free_bytes;
    for p in [y, x, z] {
        fr(h, p).unwrap(); // y alone, x merging forward, z both ways
        assert_eq!(h.info().minimum_free_bytes, low);
    }
    h.set_minimum_free(usize::MAX);
    assert_eq!(h.info().minimum_free_bytes, h.info().total_free_bytes, "at most the free bytes");
}

/// Misuse comes back as an error and changes nothing.
fn misuse_is_refused() {
    let h = small_heap(8 << 10);
    let other = small_heap(8 << 10);
    let (p, q) = (a(h, 24), a(h, 24));
    let o = a(other, 24);
    {
        assert_eq!(fr(h, p.wrapping_add(8)), Err(HeapError::InvalidPointer), "interior");
        assert_eq!(fr(h, p.wrapping_add(4)), Err(HeapError::InvalidPointer), "misaligned");
        assert_eq!(fr(h, o), Err(HeapError::InvalidPointer), "another heap's block");
        let x = 0u64;
        assert_eq!(
            fr(h, core::ptr::from_ref(&x).cast_mut().cast()),
            Err(HeapError::InvalidPointer)
        );
        fr(h, p).unwrap();
        assert_eq!(fr(h, p), Err(HeapError::DoubleFree));
        assert_eq!(h.usable_size(p), Err(HeapError::DoubleFree));
        fr(h, q).unwrap();
        assert_eq!(fr(h, q), Err(HeapError::DoubleFree), "merged into p's free block");
    }
    assert!(!h.check_addr(o) && other.check_addr(o));
    assert!(other.holds(o) && !h.holds(o));
    assert_eq!(h.info().allocated_blocks, 0);
    assert!(h.check(true, &mut String::new()));
}

/// Damaged headers, footers and links are found by `check` and refused
/// by `free` (as the error that names the check).
fn damage_is_found() {
    let h = small_heap(8 << 10);
    let (p, q, r) = (a(h, 20), a(h, 20), a(h, 20));
    let _keep = a(h, 20);
    let q_hdr = q.wrapping_sub(4).cast::<u32>();
    // SAFETY: deliberately corrupting our own heap's memory, then restoring.
    unsafe {
        let saved = q_hdr.read();
        q_hdr.write(0x4141_4141); // p overflowed by 4 bytes
        let mut out = String::new();
        assert!(!h.check(true, &mut out));
        assert!(out.contains("CORRUPT HEAP: bad header 0x41414141"), "{out}");
        assert_eq!(fr(h, q), Err(HeapError::InvalidPointer), "not this heap's tag");
        assert_eq!(fr(h, p), Err(HeapError::Corrupted(Corruption::Neighbour)));
        q_hdr.write(saved & !2); // keeps the tag, says p is free
        assert_eq!(fr(h, p), Err(HeapError::Corrupted(Corruption::Neighbour)));
        q_hdr.write(saved);
        assert!(h.check(false, &mut String::new()));
        // A free block's link, then its footer.
        fr(h, q).unwrap();
        let link = q.cast::<u16>();
        let saved = link.read();
        link.write(0x7FFF);
        let mut out = String::new();
        assert!(!h.check(true, &mut out));
        assert!(out.contains("is not a block"), "{out}");
        assert_eq!(fr(h, p), Err(HeapError::Corrupted(Corruption::Link)), "merging q");
        link.write(1); // a block (p's) that does not point back
        assert_eq!(fr(h, r), Err(HeapError::Corrupted(Corruption::Unlink)));
        link.write(saved);
        let back = q.wrapping_add(2).cast::<u16>(); // q heads its list: 0
        back.write(1);
        assert_eq!(fr(h, r), Err(HeapError::Corrupted(Corruption::Unlink)), "back link");
        // ... and p's first payload word (where a listed block keeps its
        // next link) naming q, so that the back link checks out: q would
        // leave the list "from the middle" and stay its head.
        let p_next = p.cast::<u16>();
        let saved_p = p_next.read();
        p_next.write((((q.addr() - p.addr()) >> 3) + 1) as u16);
        assert_eq!(fr(h, r), Err(HeapError::Corrupted(Corruption::Unlink)), "forged on the head");
        p_next.write(saved_p);
        back.write(0);
        let footer = q.wrapping_add(16).cast::<u32>(); // q: 24 bytes from q - 4
        let saved = footer.read();
        footer.write(saved ^ 8);
        assert_eq!(fr(h, p), Err(HeapError::Corrupted(Corruption::FreeSize)), "q's footer");
        // r's boundary tag names a block inside q: no free header there.
        assert_eq!(fr(h, r), Err(HeapError::Corrupted(Corruption::FreeHeader)));
        footer.write(saved);
        fr(h, r).unwrap();
        fr(h, p).unwrap();
    }
    assert!(h.check(true, &mut String::new()));
    assert_eq!(h.info().allocated_blocks, 1);
}

/// Blocks allocated and freed in stack order come from the top block and
/// go back to it: the heap keeps one free block, the same address serves
/// again and again, and the top block's header is checked like any other.
fn top_block_serves_stack_order() {
    let h = small_heap(8 << 10);
    let first = h.info();
    assert_eq!(first.free_blocks, 1);
    let p = a(h, 20);
    fr(h, p).unwrap();
    for _ in 0..1000 {
        let q = a(h, 20);
        assert_eq!(q, p, "the top block's start serves again");
        let i = h.info();
        assert_eq!((i.allocated_blocks, i.free_blocks), (1, 1));
        fr(h, q).unwrap();
    }
    let i = h.info();
    assert_eq!(
        (i.free_blocks, i.total_free_bytes, i.largest_free_block),
        (1, first.total_free_bytes, first.largest_free_block)
    );
    assert!(h.check(true, &mut String::new()));
    // A block between two freed ones: the lower goes on a list, the
    // upper joins the top block.
    let (x, y, z) = (a(h, 20), a(h, 20), a(h, 20));
    fr(h, x).unwrap();
    fr(h, z).unwrap();
    assert_eq!(h.info().free_blocks, 2);
    assert!(h.check(true, &mut String::new()));
    // The top block's header overwritten by an overflow of `y`.
    let top_hdr = y.wrapping_add(20).cast::<u32>();
    // SAFETY: deliberately corrupting our own heap's memory, then restoring.
    unsafe {
        let saved = top_hdr.read();
        top_hdr.write(0x4141_4141);
        let mut out = String::new();
        assert!(!h.check(true, &mut out));
        assert!(out.contains("bad header 0x41414141"), "{out}");
        assert_eq!(fr(h, y), Err(HeapError::Corrupted(Corruption::Neighbour)));
        top_hdr.write(saved ^ 8); // a size that disagrees with the footer
        assert_eq!(fr(h, y), Err(HeapError::Corrupted(Corruption::FreeSize)));
        top_hdr.write(saved);
    }
    fr(h, y).unwrap();
    let i = h.info();
    assert_eq!(
        (i.allocated_blocks, i.free_blocks, i.total_free_bytes),
        (0, 1, first.total_free_bytes)
    );
    assert!(h.check(true, &mut String::new()));
}

/// Damage met by an allocation is reported in one line and aborts.
fn damage_during_malloc_aborts() {
    if cfg!(miri) {
        return;
    }
    let d = crate::testing::dies(|| {
        let h = small_heap(8 << 10);
        let (p, _q) = (a(h, 20), a(h, 20));
        // SAFETY: a live block, then a write after free into its link.
        unsafe {
            fr(h, p).unwrap();
            p.cast::<u16>().write(0x7FFF);
        }
        let _ = h.allocate(8, 8, false, "mm_malloc");
    });
    assert_eq!(d.signal, Some(6), "{}", d.stderr);
    assert!(
        d.stderr
            .starts_with("rawrt: mm_malloc(): corrupted free list (link outside the heap) at 0x"),
        "{}",
        d.stderr
    );
    assert_eq!(d.stderr.lines().count(), 1);
}

static TAKEN: AtomicUsize = AtomicUsize::new(0);
static GIVEN: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn take(l: *mut c_void) -> i32 {
    TAKEN.fetch_add(l.addr(), Relaxed);
    0
}
unsafe extern "C" fn give(l: *mut c_void) -> i32 {
    GIVEN.fetch_add(l.addr(), Relaxed);
    0
}

/// The caller's lock is taken and released around every operation.
fn external_lock_wraps_every_operation() {
    let h = small_heap(4 << 10);
    let lock = core::ptr::without_provenance_mut::<c_void>(1);
    // SAFETY: the lock functions only count.
    unsafe { h.set_external_lock(lock, take, give) };
    let p = a(h, 8);
    fr(h, p).unwrap();
    let _ = h.info();
    assert_eq!((TAKEN.load(Relaxed), GIVEN.load(Relaxed)), (3, 3));
    // SAFETY: back to the heap's own lock.
    unsafe { h.set_external_lock(core::ptr::null_mut(), take, give) };
    let _ = h.info();
    assert_eq!((TAKEN.load(Relaxed), GIVEN.load(Relaxed)), (3, 3));
}

/// Random operations against the model, in regions of 4, 16 and 64 KiB:
/// no overlap, 8-byte alignment, contents kept, exact figures, and every
/// failure of a request of alignment 8 explained by the largest free block.
fn model_small_regions() {
    for (len, seed) in [(4 << 10, 1), (16 << 10, 2), (64 << 10, 3)] {
        let h = small_heap(len);
        let free = h.info().total_free_bytes;
        let mut rng = Rng::new(seed);
        let mut m = Model::new(h, true);
        (m.min_align, m.oracle_align) = (8, 8);
        let top = len / 8;
        m.run(&mut rng, ops(30_000), 300, &mut |r: &mut Rng| {
            if r.chance(80) {
                r.below(65)
            } else {
                r.below(top)
            }
        });
        m.drain(&mut rng);
        let i = h.info();
        assert_eq!((i.free_blocks, i.total_free_bytes), (1, free), "{len}: all merged back");
        assert!(m.failures > 0 && m.ops > ops(30_000), "{len}: the region filled up at times");
    }
}

/// A wide heap over the first `len` bytes of a leaked buffer of `total`,
/// and the buffer's pointer: regions added to the heap are pieces of the
/// same buffer (under Miri the heap reaches every area through its first
/// region's provenance).
fn wide_in(len: usize, total: usize) -> (&'static super::WideHeap, *mut u8) {
    let buf = leak_region(total).as_mut_ptr();
    // SAFETY: the leaked buffer is ours forever; the heap takes its start.
    (unsafe { CompactHeap::init_in_place(buf, len) }.expect("a wide heap"), buf)
}

/// Random operations against the model in wide heaps of 256 KiB and of
/// three areas (NuttX's `mm_addregion`): 16-byte alignment, exact figures.
fn model_wide_heaps() {
    for (len, more, seed) in [(256 << 10, 0, 4), (96 << 10, 2, 5)] {
        let (h, buf) = wide_in(len, len + (200 << 10));
        let mut at = len + 4096;
        for k in 0..more {
            let n = (40 + 30 * k) << 10;
            // SAFETY: a piece of the buffer no area holds.
            assert!(unsafe { h.add_region(buf.add(at), n) });
            at += n + 4096;
        }
        let free = h.info().total_free_bytes;
        let mut rng = Rng::new(seed);
        let mut m = Model::new(h, true);
        m.run(&mut rng, ops(30_000), 300, &mut |r: &mut Rng| {
            if r.chance(80) {
                r.below(257)
            } else {
                r.below(len / 4)
            }
        });
        m.drain(&mut rng);
        let i = h.info();
        assert_eq!((i.free_blocks, i.total_free_bytes), (1 + more, free), "{len}: all merged back");
    }
}

/// More areas: each taken whole, refused when overlapping, too small, or
/// one too many; a small heap holds one.
fn areas_are_added_and_refused() {
    let (h, buf) = wide_in(64 << 10, 128 << 10);
    let first = h.info().total_free_bytes;
    // SAFETY: inside the buffer.
    let r = unsafe { buf.add(64 << 10) };
    // SAFETY: pieces of the buffer that no area holds (the refused ones
    // stay unused).
    unsafe {
        assert!(h.add_region(r, 32 << 10));
        assert!(!h.add_region(r.add(100), 1000), "overlaps");
        assert!(!h.add_region(buf.add(100 << 10), 32), "too small");
        assert!(!h.add_region(buf.add(1000), 1000), "inside the first area");
    }
    let i = h.info();
    assert_eq!(i.total_free_bytes, first + (32 << 10) - 24, "a block and a sentinel");
    assert_eq!(i.free_blocks, 2);
    let p = h.allocate(30 << 10, 16, false, "mm_malloc").unwrap().as_ptr();
    assert!(p.addr() >= r.addr() && h.holds(p) && h.check_addr(p));
    for k in 0..7 {
        // SAFETY: as above.
        let r = unsafe { buf.add((100 << 10) + k * 2048) };
        // SAFETY: as above.
        let added = unsafe { h.add_region(r, 1024) };
        assert_eq!(added, k < 6, "eight areas at most ({k})");
    }
    let s = small_heap(8 << 10);
    let r = leak_region(1024);
    // SAFETY: as above.
    assert!(!unsafe { s.add_region(r.as_mut_ptr(), r.len()) }, "the small model has one area");
    fr(h, p).unwrap();
    assert!(h.check(true, &mut String::new()));
}

/// The wide format's checks: an overwritten header, a double free, a
/// broken link.
fn wide_misuse_and_damage() {
    let h = heap_in::<super::Wide>(128 << 10);
    let (p, q) = (a(h, 40), a(h, 40));
    let _keep = a(h, 40);
    assert_eq!(p.addr() % 16, 0);
    assert_eq!(h.usable_size(p), Ok(40));
    let q_hdr = q.wrapping_sub(8).cast::<usize>();
    // SAFETY: deliberately corrupting our own heap's memory, then restoring.
    unsafe {
        let saved = q_hdr.read();
        q_hdr.write(0x4141_4141_4141_4141);
        let mut out = String::new();
        assert!(!h.check(true, &mut out));
        assert!(out.contains("CORRUPT HEAP: bad header 0x4141414141414141"), "{out}");
        assert_eq!(fr(h, p), Err(HeapError::Corrupted(Corruption::Neighbour)));
        q_hdr.write(saved);
        fr(h, q).unwrap();
        assert_eq!(fr(h, q), Err(HeapError::DoubleFree));
        let link = q.cast::<usize>();
        let saved = link.read();
        link.write(0x1008); // the shape of a block address, outside the heap
        let mut out = String::new();
        assert!(!h.check(true, &mut out));
        assert!(out.contains("is not a block"), "{out}");
        assert_eq!(fr(h, p), Err(HeapError::Corrupted(Corruption::Link)));
        link.write(saved);
    }
    fr(h, p).unwrap();
    assert!(h.check(true, &mut String::new()));
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::compact::top_block_serves_stack_order", top_block_serves_stack_order),
    ("heap::compact::state_costs_little", state_costs_little),
    ("heap::compact::nine_hundred_small_blocks_in_16k", nine_hundred_small_blocks_in_16k),
    ("heap::compact::alignment_is_honoured", alignment_is_honoured),
    ("heap::compact::realloc_in_place_and_moves", realloc_in_place_and_moves),
    ("heap::compact::minimum_free_is_the_low_water_mark", minimum_free_is_the_low_water_mark),
    ("heap::compact::misuse_is_refused", misuse_is_refused),
    ("heap::compact::damage_is_found", damage_is_found),
    ("heap::compact::damage_during_malloc_aborts", damage_during_malloc_aborts),
    ("heap::compact::external_lock_wraps_every_operation", external_lock_wraps_every_operation),
    ("heap::compact::model_small_regions", model_small_regions),
    ("heap::compact::model_wide_heaps", model_wide_heaps),
    ("heap::compact::areas_are_added_and_refused", areas_are_added_and_refused),
    ("heap::compact::wide_misuse_and_damage", wide_misuse_and_damage),
];
