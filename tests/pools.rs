//! Static-ELF tests of the pool, granule, page and NuttX heap C ABI,
//! called as a C program would call them: NuttX-style table tests for the
//! `mm_*` heap names, pools from the heap and from a region, granules,
//! pages, and the bad-input death tests (signal and message checked).
#![no_std]
#![no_main]

extern crate alloc;

use core::ffi::c_void;
use rawrt::check::{child, Ended};
use rawrt::gran::{GranInfo, PageInfo};
use rawrt::pool::PoolInfo;
use rawrt::rt::errno;

rawrt::main!(tests);

/// NuttX's `struct mallinfo`.
#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct MallInfo {
    arena: i32,
    ordblks: i32,
    aordblks: i32,
    mxordblk: i32,
    uordblks: i32,
    fordblks: i32,
}

enum Pool {}
enum Gran {}
enum MmHeap {}

extern "C" {
    fn rawrt_pool_create(block_size: usize, align: usize, max_blocks: usize) -> *mut Pool;
    fn rawrt_pool_create_in(
        region: *mut u8,
        size: usize,
        block_size: usize,
        align: usize,
    ) -> *mut Pool;
    fn rawrt_pool_alloc(pool: *mut Pool) -> *mut u8;
    fn rawrt_pool_calloc(pool: *mut Pool) -> *mut u8;
    fn rawrt_pool_free(pool: *mut Pool, p: *mut u8);
    fn rawrt_pool_alloc_wait(
        pool: *mut Pool,
        timeout: *const rawrt::sys::time::Timespec,
    ) -> *mut u8;
    fn rawrt_pool_info(pool: *mut Pool, out: *mut PoolInfo);
    fn rawrt_pool_for_each_used(
        pool: *mut Pool,
        f: extern "C" fn(*mut u8, *mut c_void),
        ctx: *mut c_void,
    );
    fn rawrt_pool_destroy(pool: *mut Pool);
    fn gran_initialize(start: *mut u8, size: usize, log2gran: u8, log2align: u8) -> *mut Gran;
    fn gran_alloc(h: *mut Gran, size: usize) -> *mut u8;
    fn gran_free(h: *mut Gran, p: *mut u8, size: usize);
    fn gran_info(h: *mut Gran, out: *mut GranInfo);
    fn rawrt_pages_init(npages: usize) -> i32;
    fn mm_pgalloc(npages: usize) -> usize;
    fn mm_pgfree(addr: usize, npages: usize);
    fn rawrt_pages_info(out: *mut PageInfo);
    fn mm_initialize(start: *mut u8, size: usize) -> *mut MmHeap;
    fn mm_addregion(h: *mut MmHeap, start: *mut u8, size: usize);
    fn mm_malloc(h: *mut MmHeap, size: usize) -> *mut u8;
    fn mm_zalloc(h: *mut MmHeap, size: usize) -> *mut u8;
    fn mm_calloc(h: *mut MmHeap, n: usize, size: usize) -> *mut u8;
    fn mm_memalign(h: *mut MmHeap, align: usize, size: usize) -> *mut u8;
    fn mm_realloc(h: *mut MmHeap, p: *mut u8, size: usize) -> *mut u8;
    fn mm_free(h: *mut MmHeap, p: *mut u8);
    fn mm_mallinfo(h: *mut MmHeap, out: *mut MallInfo) -> i32;
    fn mallinfo() -> MallInfo;
    fn malloc(size: usize) -> *mut u8;
    fn free(p: *mut u8);
}

fn tests() -> i32 {
    rawrt::check::run(&[
        ("mm_tables_like_nuttx_mm_main", mm_tables_like_nuttx_mm_main),
        ("mm_addregion_and_zeroing", mm_addregion_and_zeroing),
        ("mallinfo_process_heap", mallinfo_process_heap),
        ("pool_from_heap_exhaustion_and_info", pool_from_heap_exhaustion_and_info),
        ("pool_in_region_and_for_each_used", pool_in_region_and_for_each_used),
        ("pool_bad_frees_abort", pool_bad_frees_abort),
        ("pool_free_list_corruption_aborts", pool_free_list_corruption_aborts),
        ("pool_alloc_wait_times_out_and_wakes", pool_alloc_wait_times_out_and_wakes),
        ("granules_beyond_32_and_info", granules_beyond_32_and_info),
        ("granule_bad_free_aborts", granule_bad_free_aborts),
        ("granule_frees_must_match_the_allocation", granule_frees_must_match_the_allocation),
        ("pages_alloc_free_info", pages_alloc_free_info),
    ])
}

/// A small deterministic generator for orders and patterns.
use rawrt::check::Rng;

fn fill(p: *mut u8, n: usize, seed: u8) {
    for i in 0..n {
        // SAFETY: the block holds `n` bytes.
        unsafe { *p.add(i) = seed.wrapping_add(i as u8) };
    }
}

fn holds(p: *const u8, n: usize, seed: u8) -> bool {
    // SAFETY: the block holds `n` bytes.
    (0..n).all(|i| unsafe { *p.add(i) } == seed.wrapping_add(i as u8))
}

fn info(h: *mut MmHeap) -> MallInfo {
    let mut m = MallInfo::default();
    // SAFETY: a live heap and a writable struct.
    assert_eq!(unsafe { mm_mallinfo(h, &mut m) }, 0);
    m
}

/// NuttX apps/testing/mm sizes and realloc sizes (32 of each).
const ALLOC: [usize; 32] = [
    1024, 12, 962, 5692, 10254, 111, 9932, 601, 222, 2746, 3, 124321, 68, 776, 6750, 852, 4732, 28,
    901, 480, 5011, 1536, 2011, 81647, 646, 1646, 69179, 194, 2590, 7, 969, 70,
];
const REALLOC: [usize; 32] = [
    18, 3088, 963, 123, 511, 11666, 3723, 42, 9374, 1990, 1412, 6, 592, 4088, 11, 5040, 8663,
    91255, 28, 4346, 9172, 168, 229, 4734, 59139, 221, 7830, 30421, 1666, 4, 812, 416,
];
#[rustfmt::skip]
const ALIGN: [usize; 32] = [
    1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14,
    1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8, 1 << 9, 1 << 10,
    1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 8, 1 << 12,
];

/// A 1 MiB region in .bss for the NuttX tests (a region heap may use any
/// memory; static arrays are what NuttX programs use).
static mut REGION: [u64; 1 << 17] = [0; 1 << 17];
static mut REGION2: [u64; 1 << 16] = [0; 1 << 16];

fn mm_tables_like_nuttx_mm_main() {
    let region = &raw mut REGION;
    // SAFETY: the static is this test's alone.
    let h = unsafe { mm_initialize(region.cast(), 1 << 20) };
    assert!(!h.is_null());
    let empty = info(h);
    assert!(empty.fordblks > (1 << 20) - 8192, "{empty:?}");
    let mut rng = Rng::new(0x5eed);
    let mut ptrs = [core::ptr::null_mut::<u8>(); 32];
    let mut sizes = [0usize; 32];
    for round in 0..3 {
        let mut order: [usize; 32] = core::array::from_fn(|i| i);
        // Allocate in random order: a failure is accepted only when the
        // largest free block says it must fail.
        rng.shuffle(&mut order);
        for &i in &order {
            let before = info(h);
            // SAFETY: live heap.
            let p = unsafe { mm_malloc(h, ALLOC[i]) };
            if p.is_null() {
                assert!(
                    (before.mxordblk as usize) < ALLOC[i],
                    "malloc({}) failed with mxordblk {}",
                    ALLOC[i],
                    before.mxordblk
                );
            } else {
                assert_eq!(p as usize % 16, 0);
                fill(p, ALLOC[i], i as u8);
            }
            ptrs[i] = p;
            sizes[i] = ALLOC[i];
        }
        // Reallocate: contents up to the smaller size survive.
        rng.shuffle(&mut order);
        for &i in &order {
            if ptrs[i].is_null() {
                continue;
            }
            let before = info(h);
            // SAFETY: live block of `h`.
            let q = unsafe { mm_realloc(h, ptrs[i], REALLOC[i]) };
            if q.is_null() {
                assert!(
                    (before.mxordblk as usize) < REALLOC[i],
                    "realloc to {} failed with mxordblk {}",
                    REALLOC[i],
                    before.mxordblk
                );
                assert!(holds(ptrs[i], sizes[i], i as u8), "failed realloc keeps the block");
            } else {
                assert!(
                    holds(q, sizes[i].min(REALLOC[i]), i as u8),
                    "realloc kept contents (round {round})"
                );
                fill(q, REALLOC[i], i as u8);
                ptrs[i] = q;
                sizes[i] = REALLOC[i];
            }
        }
        // Free in random order.
        rng.shuffle(&mut order);
        for &i in &order {
            assert!(ptrs[i].is_null() || holds(ptrs[i], sizes[i], i as u8));
            // SAFETY: live block of `h` (or NULL).
            unsafe { mm_free(h, ptrs[i]) };
            ptrs[i] = core::ptr::null_mut();
        }
        let m = info(h);
        assert_eq!(m.uordblks, 0, "everything freed");
        assert_eq!(m.aordblks, 0);
        assert_eq!(m.fordblks, empty.fordblks, "free space is back");
        assert_eq!(m.mxordblk, empty.mxordblk, "and coalesced");
        // memalign up to 256 KiB.
        rng.shuffle(&mut order);
        for &i in &order {
            let before = info(h);
            // SAFETY: live heap.
            let p = unsafe { mm_memalign(h, ALIGN[i], ALLOC[i]) };
            if p.is_null() {
                assert!(
                    (before.mxordblk as usize) < ALLOC[i] + ALIGN[i],
                    "memalign({}, {}) failed with mxordblk {}",
                    ALIGN[i],
                    ALLOC[i],
                    before.mxordblk
                );
            } else {
                assert_eq!(p as usize % ALIGN[i], 0, "aligned to {}", ALIGN[i]);
                fill(p, ALLOC[i], i as u8);
            }
            ptrs[i] = p;
            sizes[i] = ALLOC[i];
        }
        for &i in &order {
            assert!(ptrs[i].is_null() || holds(ptrs[i], sizes[i], i as u8));
            // SAFETY: live block or NULL.
            unsafe { mm_free(h, ptrs[i]) };
            ptrs[i] = core::ptr::null_mut();
        }
        assert_eq!(info(h).uordblks, 0);
        assert_eq!(info(h).mxordblk, empty.mxordblk);
    }
    // The largest free block is exactly allocatable, and no more.
    let m = info(h);
    // SAFETY: live heap.
    unsafe {
        assert!(mm_malloc(h, m.mxordblk as usize + 16).is_null());
        let p = mm_malloc(h, m.mxordblk as usize);
        assert!(!p.is_null());
        mm_free(h, p);
    }
}

fn mm_addregion_and_zeroing() {
    let (a, b) = (&raw mut REGION, &raw mut REGION2);
    // SAFETY: the statics are this test's alone (the previous test's heap
    // is no longer used).
    unsafe {
        let h = mm_initialize(a.cast(), 96 << 10);
        assert!(!h.is_null());
        assert!(mm_malloc(h, 200 << 10).is_null(), "too big for 96 KiB");
        mm_addregion(h, b.cast(), 512 << 10);
        let m = info(h);
        assert!(m.fordblks as usize > (600 << 10), "{m:?}");
        // A heap of 64 KiB is NuttX's small model: one region, no more.
        let small = mm_initialize(a.cast::<u8>().add(128 << 10), 64 << 10);
        let before = info(small);
        mm_addregion(small, a.cast::<u8>().add(256 << 10), 256 << 10);
        assert_eq!(info(small), before, "ignored");
        assert!(before.fordblks as usize > (63 << 10), "{before:?}");
        let p = mm_malloc(h, 200 << 10);
        assert!(!p.is_null());
        fill(p, 4096, 7);
        mm_free(h, p);
        let z = mm_zalloc(h, 4096);
        assert!((0..4096).all(|i| *z.add(i) == 0), "mm_zalloc zeroes reused memory");
        let c = mm_calloc(h, 100, 40);
        assert!((0..4000).all(|i| *c.add(i) == 0));
        assert!(mm_calloc(h, usize::MAX / 2, 3).is_null(), "overflow");
        assert!(mm_memalign(h, 48, 10).is_null(), "not a power of two");
        mm_free(h, z);
        mm_free(h, c);
        assert_eq!(info(h).uordblks, 0);
        assert!(mm_initialize(a.cast(), 64).is_null(), "a region too small for the heap's state");
    }
}

fn mallinfo_process_heap() {
    // SAFETY: C calls on the process heap.
    unsafe {
        let before = mallinfo();
        let p = core::hint::black_box(malloc(10_000)); // used only through the figures
        assert!(!p.is_null());
        let during = mallinfo();
        assert!(during.uordblks >= before.uordblks + 10_000, "{before:?} {during:?}");
        assert_eq!(during.aordblks, before.aordblks + 1);
        free(p);
        assert_eq!(mallinfo().uordblks, before.uordblks);
    }
}

fn pool_info(p: *mut Pool) -> PoolInfo {
    let mut i = core::mem::MaybeUninit::<PoolInfo>::uninit();
    // SAFETY: a live pool and a writable struct.
    unsafe {
        rawrt_pool_info(p, i.as_mut_ptr());
        i.assume_init()
    }
}

fn pool_from_heap_exhaustion_and_info() {
    // SAFETY: C calls on pools this test owns.
    unsafe {
        assert!(rawrt_pool_create(0, 16, 0).is_null());
        assert_eq!(errno::get(), rawrt::sys::Errno::EINVAL.raw());
        assert!(rawrt_pool_create(64, 24, 0).is_null(), "alignment not a power of two");
        let pool = rawrt_pool_create(40, 0, 100);
        assert!(!pool.is_null());
        let mut blocks = [core::ptr::null_mut::<u8>(); 100];
        for (i, b) in blocks.iter_mut().enumerate() {
            *b = if i % 2 == 0 { rawrt_pool_alloc(pool) } else { rawrt_pool_calloc(pool) };
            assert!(!b.is_null(), "block {i}");
            assert_eq!(*b as usize % 16, 0);
            if i % 2 == 1 {
                assert!((0..48).all(|k| *b.add(k) == 0), "calloc zeroes");
            }
            fill(*b, 48, i as u8);
        }
        assert!(rawrt_pool_alloc(pool).is_null(), "max_blocks reached");
        assert_eq!(errno::get(), rawrt::sys::Errno::ENOMEM.raw());
        let i = pool_info(pool);
        assert_eq!(
            (i.block_size, i.align, i.in_use, i.peak_in_use, i.max_blocks),
            (48, 16, 100, 100, 100)
        );
        assert_eq!(i.capacity, 100);
        assert_eq!(i.low_water, 0);
        for (k, b) in blocks.iter().enumerate() {
            assert!(holds(*b, 48, k as u8), "block {k} intact");
            rawrt_pool_free(pool, *b);
        }
        rawrt_pool_free(pool, core::ptr::null_mut());
        let i = pool_info(pool);
        assert_eq!((i.in_use, i.free, i.peak_in_use), (0, 100, 100));
        // Refill: the same memory serves again without growing.
        let chunks = i.chunks;
        for b in blocks.iter_mut() {
            *b = rawrt_pool_alloc(pool);
            assert!(!b.is_null());
        }
        assert_eq!(pool_info(pool).chunks, chunks);
        rawrt_pool_destroy(pool);
    }
}

extern "C" fn collect(p: *mut u8, ctx: *mut c_void) {
    // SAFETY: ctx is the (count, sum) pair below.
    let acc = unsafe { &mut *(ctx as *mut (usize, usize)) };
    acc.0 += 1;
    acc.1 += p as usize;
}

fn pool_in_region_and_for_each_used() {
    static mut BUF: [u64; 512] = [0; 512];
    let buf = &raw mut BUF;
    // SAFETY: the static is this test's alone.
    unsafe {
        let pool = rawrt_pool_create_in(buf.cast(), 4096, 24, 8);
        assert!(!pool.is_null());
        let cap = pool_info(pool).capacity;
        assert!((100..4096 / 24).contains(&cap), "capacity {cap}");
        let mut live = [core::ptr::null_mut::<u8>(); 256];
        for b in live.iter_mut().take(cap) {
            *b = rawrt_pool_alloc(pool);
            assert!(!b.is_null());
            assert!(
                (*b as usize) >= buf as usize && (*b as usize) + 24 <= buf as usize + 4096,
                "inside the region"
            );
        }
        assert!(rawrt_pool_alloc(pool).is_null(), "fixed capacity");
        // Free every third block; for_each_used sees exactly the rest.
        let (mut want_n, mut want_sum) = (0, 0);
        for (k, b) in live.iter().take(cap).enumerate() {
            if k % 3 == 0 {
                rawrt_pool_free(pool, *b);
            } else {
                want_n += 1;
                want_sum += *b as usize;
            }
        }
        let mut acc = (0usize, 0usize);
        rawrt_pool_for_each_used(pool, collect, (&mut acc as *mut (usize, usize)).cast());
        assert_eq!(acc, (want_n, want_sum));
        assert_eq!(pool_info(pool).in_use, want_n);
        rawrt_pool_destroy(pool);
        assert!(
            rawrt_pool_create_in(buf.cast(), 64, 128, 16).is_null(),
            "region too small for one block"
        );
    }
}

fn pool_bad_frees_abort() {
    // SAFETY (each child): deliberate misuse, caught by the pool.
    type Case = (&'static str, fn() -> i32);
    let cases: [Case; 4] = [
        ("double free", || unsafe {
            let pool = rawrt_pool_create(32, 0, 0);
            let b = rawrt_pool_alloc(pool);
            rawrt_pool_free(pool, b);
            rawrt_pool_free(pool, b);
            0
        }),
        ("pointer inside a block", || unsafe {
            let pool = rawrt_pool_create(64, 0, 0);
            let b = rawrt_pool_alloc(pool);
            rawrt_pool_free(pool, b.add(16));
            0
        }),
        ("pointer not from this pool", || unsafe {
            let (p1, p2) = (rawrt_pool_create(32, 0, 0), rawrt_pool_create(32, 0, 0));
            let b = rawrt_pool_alloc(p1);
            rawrt_pool_free(p2, b);
            0
        }),
        ("pointer not from this pool", || unsafe {
            let pool = rawrt_pool_create(32, 0, 0);
            let _ = rawrt_pool_alloc(pool);
            let mut local = 0u64;
            rawrt_pool_free(pool, (&mut local as *mut u64).cast());
            0
        }),
    ];
    for (what, f) in cases {
        let o = child(f);
        assert_eq!(o.ended, Ended::Signaled(6), "{what}");
        let want = "rawrt: rawrt_pool_free(): ";
        assert!(
            o.stderr().starts_with(want)
                && o.stderr().contains(what)
                && o.stderr().contains(" of 0x"),
            "{what}: {}",
            o.stderr()
        );
        assert_eq!(o.stderr().lines().count(), 1);
    }
}

fn granules_beyond_32_and_info() {
    static mut BUF: [u64; 16384] = [0; 16384];
    let buf = &raw mut BUF;
    // SAFETY: the static is this test's alone.
    unsafe {
        assert!(gran_initialize(buf.cast(), 128 << 10, 40, 6).is_null(), "absurd granule size");
        let g = gran_initialize(buf.cast(), 128 << 10, 6, 8);
        assert!(!g.is_null());
        let mut i = GranInfo { log2gran: 0, ngranules: 0, nfree: 0, mxfree: 0 };
        gran_info(g, &mut i);
        assert_eq!(i.log2gran, 6);
        assert!(i.ngranules > 1900 && i.ngranules <= 2048, "{}", i.ngranules);
        assert_eq!(i.nfree, i.ngranules);
        let total = i.ngranules;
        // 100 granules in one allocation (NuttX stops at 32).
        let big = gran_alloc(g, 100 * 64);
        assert!(!big.is_null());
        assert_eq!(big as usize % 256, 0, "aligned to 1 << log2align");
        let small = gran_alloc(g, 1);
        assert!(!small.is_null() && small as usize % 256 == 0);
        gran_info(g, &mut i);
        assert_eq!(i.nfree, total - 100 - 1);
        assert!(gran_alloc(g, (total + 1) * 64).is_null(), "more than the heap");
        gran_free(g, big, 100 * 64);
        gran_free(g, small, 1);
        gran_info(g, &mut i);
        assert_eq!((i.nfree, i.mxfree), (total, total));
        let all = gran_alloc(g, total * 64);
        assert!(!all.is_null(), "the whole heap in one run");
        gran_free(g, all, total * 64);
    }
}

fn granule_bad_free_aborts() {
    let o = child(|| {
        static mut BUF: [u64; 4096] = [0; 4096];
        // SAFETY: deliberate double free in the child's own region.
        unsafe {
            let g = gran_initialize((&raw mut BUF).cast(), 32 << 10, 7, 7);
            let p = gran_alloc(g, 1000);
            gran_free(g, p, 1000);
            gran_free(g, p, 1000);
        }
        0
    });
    assert_eq!(o.ended, Ended::Signaled(6));
    assert!(
        o.stderr().starts_with("rawrt: gran_free(): unallocated range of 0x"),
        "{}",
        o.stderr()
    );
}

fn pages_alloc_free_info() {
    let mut i = PageInfo { page_size: 0, total: 0, free: 0, mxfree: 0 };
    // SAFETY: C calls on the process's page allocator.
    unsafe {
        assert_eq!(mm_pgalloc(1), 0, "nothing before rawrt_pages_init");
        assert_eq!(rawrt_pages_init(64), 0);
        assert_eq!(rawrt_pages_init(64), -1, "only once");
        assert_eq!(errno::get(), rawrt::sys::Errno::EBUSY.raw());
        rawrt_pages_info(&mut i);
        assert_eq!((i.page_size, i.total, i.free, i.mxfree), (4096, 64, 64, 64));
        let a = mm_pgalloc(10);
        let b = mm_pgalloc(54);
        assert!(a != 0 && b != 0 && a % 4096 == 0 && b % 4096 == 0);
        fill(a as *mut u8, 10 * 4096, 1);
        assert_eq!(mm_pgalloc(1), 0, "all pages taken");
        rawrt_pages_info(&mut i);
        assert_eq!(i.free, 0);
        mm_pgfree(a, 10);
        rawrt_pages_info(&mut i);
        assert_eq!((i.free, i.mxfree), (10, 10));
        mm_pgfree(b, 54);
    }
    let o = child(|| {
        // SAFETY: deliberate double free.
        unsafe {
            let a = mm_pgalloc(2);
            mm_pgfree(a, 2);
            mm_pgfree(a, 2);
        }
        0
    });
    assert_eq!(o.ended, Ended::Signaled(6));
    assert!(
        o.stderr().starts_with("rawrt: mm_pgfree(): unallocated range of 0x"),
        "{}",
        o.stderr()
    );
}

fn pool_alloc_wait_times_out_and_wakes() {
    use rawrt::sys::time::{clock_gettime, Timespec, CLOCK_MONOTONIC};
    // SAFETY: C calls on a pool this test owns; the thread frees a block
    // of it while the main thread waits.
    unsafe {
        let pool = rawrt_pool_create(64, 0, 1);
        let only = rawrt_pool_alloc(pool);
        assert!(!only.is_null());
        let t0 = clock_gettime(CLOCK_MONOTONIC).unwrap();
        let wait = Timespec { sec: 0, nsec: 30_000_000 };
        assert!(rawrt_pool_alloc_wait(pool, &wait).is_null());
        assert_eq!(errno::get(), rawrt::sys::Errno::ETIMEDOUT.raw());
        let waited = clock_gettime(CLOCK_MONOTONIC).unwrap().as_nanos() - t0.as_nanos();
        assert!(waited >= 30_000_000, "waited {waited} ns");
        let bad = Timespec { sec: -1, nsec: 0 };
        assert!(rawrt_pool_alloc_wait(pool, &bad).is_null());
        assert_eq!(errno::get(), rawrt::sys::Errno::EINVAL.raw());
        let (p, b) = (pool as usize, only as usize);
        let t = rawrt::thread::spawn(move || {
            rawrt::thread::sleep(core::time::Duration::from_millis(20));
            rawrt_pool_free(p as *mut Pool, b as *mut u8);
        });
        let again = rawrt_pool_alloc_wait(pool, core::ptr::null());
        assert_eq!(again, only, "the block the other thread freed");
        t.join().unwrap();
        rawrt_pool_free(pool, again);
        rawrt_pool_destroy(pool);
    }
}

/// Runs `f` in a child that announces an address on stdout (`addr 0x...`)
/// and must then die by SIGABRT with exactly `rawrt: {func}(): {what}
/// {word} {addr}` on stderr.
#[track_caller]
fn dies(func: &str, what: &str, word: &str, f: fn() -> i32) {
    let o = child(f);
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap_or("?");
    assert_eq!(o.ended, Ended::Signaled(6), "{func}: {what}: {out:?} {:?}", o.stderr());
    assert_eq!(o.stderr(), alloc::format!("rawrt: {func}(): {what} {word} {addr}\n"));
    assert_eq!(out, alloc::format!("addr {addr}\n"), "nothing after the fatal call");
}

fn announce(p: *const u8) -> *mut u8 {
    rawrt::println!("addr {:#x}", p as usize);
    p as *mut u8
}

/// Finding 5 of the trust issue: a write after free into a pool block
/// made `rawrt_pool_alloc` return NULL with EFAULT, again and again. The
/// link is checked when the block is handed out: the report names it.
fn pool_free_list_corruption_aborts() {
    dies("rawrt_pool_alloc", "corrupted free list (write after free)", "at", || {
        static mut REGION: [u64; 512] = [0; 512];
        // SAFETY: the child's own region; the write after free is the test.
        unsafe {
            let pool = rawrt_pool_create_in((&raw mut REGION).cast(), 4096, 64, 16);
            let a = rawrt_pool_alloc(pool);
            let _b = rawrt_pool_alloc(pool);
            rawrt_pool_free(pool, a);
            announce(a);
            // Through an address the compiler cannot see through: a write
            // into a freed block is out of bounds to it.
            (core::hint::black_box(a) as *mut u64).write_volatile(0x4141_4141_4141_4141);
            let x = rawrt_pool_alloc(pool);
            let y = rawrt_pool_alloc(pool);
            rawrt::println!("got {:p} and {:p}, errno {}", x, y, errno::get());
        }
        0
    });
    // The same through `rawrt_pool_calloc` on a heap-backed pool, with a
    // link aimed at a block in use.
    dies("rawrt_pool_calloc", "corrupted free list (write after free)", "at", || {
        // SAFETY: as above.
        unsafe {
            let pool = rawrt_pool_create(32, 0, 0);
            let a = rawrt_pool_alloc(pool);
            let _b = rawrt_pool_alloc(pool); // block index 1, in use
            rawrt_pool_free(pool, a);
            announce(a);
            (core::hint::black_box(a) as *mut usize).write_volatile(1);
            let x = rawrt_pool_calloc(pool);
            let y = rawrt_pool_calloc(pool);
            rawrt::println!("got {:p} and {:p}", x, y);
        }
        0
    });
}

/// Finding 7: `gran_free` with more than the allocation freed a live
/// neighbour (handed out again), with less or from inside it freed part
/// of it, silently. Each allocation's start and length are known now.
fn granule_frees_must_match_the_allocation() {
    static mut BUF: [u64; 4096] = [0; 4096];
    fn setup() -> (*mut Gran, *mut u8, *mut u8) {
        // SAFETY: the child's own region.
        unsafe {
            let g = gran_initialize((&raw mut BUF).cast(), 32 << 10, 7, 7);
            let a = gran_alloc(g, 3 * 128);
            let b = gran_alloc(g, 2 * 128);
            assert_eq!(b as usize, a as usize + 3 * 128);
            (g, a, b)
        }
    }
    let what = "size does not match the allocation";
    dies("gran_free", what, "of", || {
        let (g, a, b) = setup();
        // SAFETY: the misuse under test.
        unsafe {
            gran_free(g, announce(a), 5 * 128);
            let c = gran_alloc(g, 2 * 128);
            rawrt::println!("b {:p} handed out again as {:p}", b, c);
        }
        0
    });
    dies("gran_free", what, "of", || {
        let (g, a, _) = setup();
        // SAFETY: as above.
        unsafe { gran_free(g, announce(a), 128) };
        0
    });
    dies("gran_free", "address not at the start of an allocation", "of", || {
        let (g, a, _) = setup();
        // SAFETY: as above.
        unsafe { gran_free(g, announce(a.add(128)), 2 * 128) };
        0
    });
    // The page allocator over granules checks the same.
    dies("mm_pgfree", what, "of", || {
        // SAFETY: as above.
        unsafe {
            rawrt_pages_init(64);
            let a = mm_pgalloc(3);
            let _b = mm_pgalloc(1);
            mm_pgfree(announce(a as *const u8) as usize, 1);
        }
        0
    });
    // Whole allocations still free as before, in any order.
    let (g, a, b) = setup();
    // SAFETY: live allocations, freed once each.
    unsafe {
        gran_free(g, b, 2 * 128);
        gran_free(g, a, 3 * 128);
        let mut i = GranInfo::default();
        gran_info(g, &mut i);
        assert_eq!(i.nfree, i.ngranules);
    }
}
