//! Region heaps that cost little (`heap::compact`): NuttX's small memory
//! model for regions of at most 64 KiB (4-byte headers, 8-byte
//! alignment), the wide format above, through ESP-IDF's `multi_heap_*`,
//! NuttX's `mm_*` and the Rust API: what a heap's own state takes of its
//! region (exact), a 4 KiB region, 900 blocks of 8 bytes in 16 KiB, larger
//! alignments, and a damaged small-model header or link reported in one
//! line before SIGABRT.

use super::misuse::{announce, dies_at};
use rawrt::heap::{HeapInfo, MallInfo, MultiHeapInfo, RegionRef};

extern "C" {
    fn multi_heap_register(start: *mut u8, size: usize) -> *mut u8;
    fn multi_heap_malloc(h: *mut u8, size: usize) -> *mut u8;
    fn multi_heap_aligned_alloc(h: *mut u8, size: usize, align: usize) -> *mut u8;
    fn multi_heap_free(h: *mut u8, p: *mut u8);
    fn multi_heap_realloc(h: *mut u8, p: *mut u8, size: usize) -> *mut u8;
    fn multi_heap_get_allocated_size(h: *mut u8, p: *mut u8) -> usize;
    fn multi_heap_free_size(h: *mut u8) -> usize;
    fn multi_heap_get_info(h: *mut u8, info: *mut MultiHeapInfo);
    fn multi_heap_check(h: *mut u8, print_errors: bool) -> bool;
    fn mm_initialize(start: *mut u8, size: usize) -> *mut u8;
    fn mm_malloc(h: *mut u8, size: usize) -> *mut u8;
    fn mm_memalign(h: *mut u8, align: usize, size: usize) -> *mut u8;
    fn mm_free(h: *mut u8, p: *mut u8);
    fn mm_mallinfo(h: *mut u8, info: *mut MallInfo) -> i32;
}

const MIB: usize = 1 << 20;

/// A page-aligned region, its own mapping (children get copies).
struct Region(*mut u8);

impl Region {
    fn new(len: usize) -> Region {
        Region(rawrt::sys::mm::mmap_anonymous(len).expect("mmap"))
    }
}

/// Region sizes, the free bytes of a new heap over each (page-aligned),
/// and what its own state takes: NuttX's small model up to 64 KiB, the
/// wide format above.
const FIGURES: [(usize, usize, usize); 4] =
    [(4 << 10, 3828, 268), (16 << 10, 16100, 284), (64 << 10, 65236, 300), (MIB, 1_047_752, 824)];

fn info(h: *mut u8) -> MultiHeapInfo {
    let mut i = MultiHeapInfo::default();
    // SAFETY: a live heap; `i` is writable.
    unsafe { multi_heap_get_info(h, &mut i) };
    i
}

/// What a heap's own state takes of 4 KiB, 16 KiB, 64 KiB and 1 MiB
/// regions, exactly, through `multi_heap_register`, `mm_initialize` and
/// the Rust API: at most 1 KiB of 64 KiB and 2 KiB of 1 MiB.
pub fn state_takes_little_of_a_region() {
    for (len, free, costs) in FIGURES {
        assert_eq!(len - free, costs);
        assert!(costs <= if len <= 64 << 10 { 1024 } else { 2048 });
        // SAFETY: fresh regions, given to the heaps.
        unsafe {
            let h = multi_heap_register(Region::new(len).0, len);
            assert!(!h.is_null(), "{len}");
            assert_eq!(multi_heap_free_size(h), free, "multi_heap_free_size, {len} B");
            let i = info(h);
            assert_eq!(
                (i.total_free_bytes, i.largest_free_block, i.minimum_free_bytes),
                (free, free, free)
            );
            assert_eq!((i.allocated_blocks, i.free_blocks, i.total_blocks), (0, 1, 1));
            let m = mm_initialize(Region::new(len).0, len);
            let mut mi = MallInfo::default();
            assert_eq!(mm_mallinfo(m, &mut mi), 0);
            assert_eq!((mi.fordblks as usize, mi.mxordblk as usize, mi.uordblks), (free, free, 0));
            let r = RegionRef::init_in_place(Region::new(len).0, len).expect("a heap");
            let HeapInfo { total_free_bytes, .. } = r.info();
            assert_eq!(total_free_bytes, free, "RegionRef, {len} B");
            assert_eq!(matches!(r, RegionRef::Small(_)), len <= 64 << 10);
        }
    }
}

/// A 4 KiB region registers and serves: blocks until it is full, exactly
/// as many as its free bytes allow, and all of it back when freed.
pub fn four_kib_region_serves() {
    // SAFETY: a fresh region; its heap's blocks.
    unsafe {
        let h = multi_heap_register(Region::new(4096).0, 4096);
        assert!(!h.is_null());
        let mut n = 0;
        let mut ps = [core::ptr::null_mut(); 64];
        while let Some(p) = Some(multi_heap_malloc(h, 100)).filter(|p| !p.is_null()) {
            core::ptr::write_bytes(p, n as u8, 100);
            ps[n] = p;
            n += 1;
        }
        // Blocks of 104 bytes (100 + a 4-byte header) in 3,832 bytes.
        assert_eq!(n, 36);
        for (k, &p) in ps[..n].iter().enumerate() {
            assert!((0..100).all(|i| *p.add(i) == k as u8));
            assert_eq!(p as usize % 8, 0);
            multi_heap_free(h, p);
        }
        assert_eq!(multi_heap_free_size(h), 3828);
        assert!(multi_heap_check(h, true));
        let p = multi_heap_realloc(h, core::ptr::null_mut(), 3828);
        assert!(!p.is_null(), "the whole region in one block");
        assert!(multi_heap_realloc(h, p, 3829).is_null());
        assert_eq!(multi_heap_get_allocated_size(h, p), 3828);
    }
}

/// NuttX's small model: 900 blocks of 8 bytes fit in 16 KiB, from
/// `multi_heap_malloc` and `mm_malloc` (1,006 do: 16 bytes each), 8-byte
/// aligned; larger alignments are honoured.
pub fn nine_hundred_8_byte_blocks_in_16_kib() {
    for api in 0..2 {
        // SAFETY: fresh regions; their heaps' blocks.
        unsafe {
            let r = Region::new(16 << 10).0;
            let h = if api == 0 {
                multi_heap_register(r, 16 << 10)
            } else {
                mm_initialize(r, 16 << 10)
            };
            let mut n = 0;
            loop {
                let p = if api == 0 { multi_heap_malloc(h, 8) } else { mm_malloc(h, 8) };
                if p.is_null() {
                    break;
                }
                assert_eq!(p as usize % 8, 0);
                (p as *mut u64).write(n);
                n += 1;
            }
            assert_eq!(n, 1006, "api {api}");
            let i = info(h);
            assert_eq!((i.allocated_blocks, i.total_free_bytes), (1006, 0));
            assert!(multi_heap_check(h, true));
        }
    }
    // SAFETY: as above.
    unsafe {
        let h = mm_initialize(Region::new(16 << 10).0, 16 << 10);
        for align in [16, 64, 4096] {
            let p = mm_memalign(h, align, 24);
            assert_eq!(p as usize % align, 0);
            mm_free(h, p);
        }
        let h = multi_heap_register(Region::new(16 << 10).0, 16 << 10);
        let p = multi_heap_aligned_alloc(h, 24, 256);
        assert_eq!(p as usize % 256, 0);
        multi_heap_free(h, p);
        assert_eq!(multi_heap_free_size(h), 16100, "the gap before it merged back");
    }
    // Rust: a small-model heap as an allocator; `u128` wants 16.
    // SAFETY: a fresh region.
    let r = unsafe { RegionRef::init_in_place(Region::new(16 << 10).0, 16 << 10) };
    let Some(RegionRef::Small(h)) = r else { panic!("not a small-model heap") };
    let mut v = alloc::vec::Vec::with_capacity(900); // in the process heap
    for k in 0..900u64 {
        v.push(allocator_api2::boxed::Box::new_in(k, h));
    }
    assert!(v.iter().enumerate().all(|(k, b)| **b == k as u64));
    let w = allocator_api2::boxed::Box::new_in(7u128, h);
    assert_eq!(&*w as *const u128 as usize % 16, 0);
}

/// A damaged small-model header or free-list link: one line naming the
/// function, the check and the block, then SIGABRT.
pub fn small_model_damage_aborts() {
    // An overflow of 4 bytes from `p` overwrites `q`'s header: freeing `p`
    // finds the boundary tag after it wrong.
    dies_at("multi_heap_free", "corrupted boundary tag next to the block", || unsafe {
        let h = multi_heap_register(Region::new(16 << 10).0, 16 << 10);
        let (p, q) = (multi_heap_malloc(h, 20), multi_heap_malloc(h, 20));
        assert_eq!(q as usize - p as usize, 24, "4-byte headers");
        core::ptr::write_bytes(p, 0x41, 24);
        multi_heap_free(h, announce(p));
    });
    // A write after free into a free block's 16-bit next link.
    dies_at("mm_malloc", "corrupted free list (link outside the heap)", || unsafe {
        let h = mm_initialize(Region::new(16 << 10).0, 16 << 10);
        let (p, _q) = (mm_malloc(h, 20), mm_malloc(h, 20));
        mm_free(h, p);
        (p as *mut u16).write_volatile(0x7FFF);
        announce(p);
        mm_malloc(h, 8);
    });
}
