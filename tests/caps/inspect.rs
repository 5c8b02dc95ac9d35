//! The rest of the heap_caps API over several heaps: aligned calloc and
//! free, integrity checks by capability and by address, dumps, walks
//! over every block, and the local low-water mark of free bytes.

use super::registry::isolated;
use super::util::*;
use core::ffi::c_void;
use rawrt::heap::MultiHeapInfo;

extern "C" {
    fn heap_caps_aligned_calloc(align: usize, n: usize, size: usize, caps: u32) -> *mut u8;
    fn heap_caps_aligned_free(p: *mut u8);
    fn heap_caps_check_integrity(caps: u32, print_errors: bool) -> bool;
    fn heap_caps_check_integrity_all(print_errors: bool) -> bool;
    fn heap_caps_check_integrity_addr(addr: usize, print_errors: bool) -> bool;
    fn heap_caps_walk(caps: u32, f: WalkerFn, user: *mut c_void);
    fn heap_caps_walk_all(f: WalkerFn, user: *mut c_void);
    fn heap_caps_monitor_local_minimum_free_size_start() -> i32;
    fn heap_caps_monitor_local_minimum_free_size_stop() -> i32;
    fn heap_caps_get_minimum_free_size(caps: u32) -> usize;
}

pub fn aligned_calloc_and_free_in_a_region() {
    isolated(|| {
        let h = add([MALLOC_CAP_PID2, 0, 0], 64 << 10);
        // SAFETY: plain calls on live blocks.
        unsafe {
            for align in [16, 64, 256, 4096] {
                let p = heap_caps_aligned_calloc(align, 10, 33, MALLOC_CAP_PID2);
                assert!(inside(p, h) && p as usize % align == 0, "{align}");
                assert!((0..330).all(|i| *p.add(i) == 0));
                heap_caps_aligned_free(p);
            }
            assert!(
                heap_caps_aligned_calloc(48, 1, 1, MALLOC_CAP_PID2).is_null(),
                "not a power of two"
            );
            assert!(heap_caps_aligned_calloc(16, usize::MAX, 2, MALLOC_CAP_PID2).is_null());
            assert!(heap_caps_calloc(usize::MAX / 2, 3, MALLOC_CAP_PID2).is_null());
            let mut i = MultiHeapInfo::default();
            heap_caps_get_info(&mut i, MALLOC_CAP_PID2);
            assert_eq!(i.allocated_blocks, 0);
        }
    });
}

pub fn integrity_by_caps_and_by_address() {
    isolated(|| {
        let a = add([MALLOC_CAP_PID2, 0, 0], 64 << 10);
        let _b = add([MALLOC_CAP_PID3, 0, 0], 64 << 10);
        // SAFETY: plain calls; the damage is this test's own, in a child.
        unsafe {
            let p = heap_caps_malloc(100, MALLOC_CAP_PID2);
            let q = heap_caps_malloc(100, MALLOC_CAP_PID3);
            assert!(inside(p, a));
            assert!(heap_caps_check_integrity(MALLOC_CAP_PID2, true));
            assert!(heap_caps_check_integrity_all(true));
            assert!(heap_caps_check_integrity_addr(p as usize + 50, true));
            assert!(heap_caps_check_integrity_addr(q as usize, true));
            assert!(!heap_caps_check_integrity_addr(8, false), "no heap holds it");
            // Damage p's header: its heap (and "all") report it, the other
            // heap is fine.
            let hdr = (p as *mut usize).sub(1);
            let saved = *hdr;
            *hdr = 0x7777_7771;
            assert!(!heap_caps_check_integrity(MALLOC_CAP_PID2, false));
            assert!(!heap_caps_check_integrity_all(false));
            assert!(!heap_caps_check_integrity_addr(p as usize, false));
            assert!(heap_caps_check_integrity(MALLOC_CAP_PID3, false));
            assert!(heap_caps_check_integrity_addr(q as usize, false));
            *hdr = saved;
            assert!(heap_caps_check_integrity_all(false));
        }
    });
}

/// What the walker saw: blocks, used blocks, used bytes, free bytes, and
/// how many blocks it takes before saying stop (0: never).
#[derive(Default)]
struct Seen {
    blocks: usize,
    used: usize,
    used_bytes: usize,
    free_bytes: usize,
    stop_after: usize,
    outside: usize,
}

extern "C" fn walker(heap: WalkerHeapInfo, b: WalkerBlockInfo, user: *mut c_void) -> bool {
    // SAFETY: `user` is the test's `Seen`.
    let s = unsafe { &mut *user.cast::<Seen>() };
    s.blocks += 1;
    if !(heap.start..heap.end).contains(&(b.ptr as isize)) {
        s.outside += 1;
    }
    if b.used {
        s.used += 1;
        s.used_bytes += b.size;
    } else {
        s.free_bytes += b.size;
    }
    s.stop_after == 0 || s.blocks < s.stop_after
}

pub fn walk_visits_every_block() {
    isolated(|| {
        let a = add([MALLOC_CAP_PID4, 0, 0], 64 << 10);
        let _b = add([MALLOC_CAP_PID4, MALLOC_CAP_PID5, 0], 32 << 10);
        // SAFETY: plain calls.
        unsafe {
            let mut keep = [core::ptr::null_mut(); 20];
            for (i, k) in keep.iter_mut().enumerate() {
                *k = heap_caps_malloc(50 + i * 300, MALLOC_CAP_PID4);
            }
            for k in keep.iter().step_by(3) {
                free(*k);
            }
            let mut s = Seen::default();
            heap_caps_walk(MALLOC_CAP_PID4, walker, (&raw mut s).cast());
            let mut i = MultiHeapInfo::default();
            heap_caps_get_info(&mut i, MALLOC_CAP_PID4);
            assert_eq!(s.outside, 0);
            assert_eq!((s.used, s.used_bytes), (i.allocated_blocks, i.total_allocated_bytes));
            assert_eq!(s.free_bytes, i.total_free_bytes);
            assert_eq!(s.blocks, i.total_blocks);
            // Stopping after 3 blocks: the walk goes on with the next heap.
            let mut t = Seen { stop_after: 3, ..Seen::default() };
            heap_caps_walk(MALLOC_CAP_PID4, walker, (&raw mut t).cast());
            assert_eq!(t.blocks, 3 + 1, "3 of the first heap, 1 of the second");
            // walk_all sees the process heap as well. (`black_box`: LLVM
            // knows `malloc` and would drop an allocation nothing reads.)
            let m = core::hint::black_box(malloc(5000));
            let mut u = Seen::default();
            heap_caps_walk_all(walker, (&raw mut u).cast());
            assert!(u.blocks > s.blocks && u.used > s.used);
            free(m);
            let _ = a;
        }
    });
}

pub fn local_minimum_free_size_monitor() {
    isolated(|| {
        add([MALLOC_CAP_PID6, 0, 0], 64 << 10);
        // SAFETY: plain calls.
        unsafe {
            let free0 = heap_caps_get_free_size(MALLOC_CAP_PID6);
            let big = heap_caps_malloc(40_000, MALLOC_CAP_PID6);
            free(big);
            let low = heap_caps_get_minimum_free_size(MALLOC_CAP_PID6);
            assert!(low < free0 - 39_000, "the all-time low saw the big block");
            assert_eq!(heap_caps_monitor_local_minimum_free_size_stop(), ESP_FAIL);
            assert_eq!(heap_caps_monitor_local_minimum_free_size_start(), ESP_OK);
            assert_eq!(heap_caps_monitor_local_minimum_free_size_start(), ESP_FAIL);
            assert_eq!(heap_caps_get_minimum_free_size(MALLOC_CAP_PID6), free0, "from now on");
            let small = heap_caps_malloc(1000, MALLOC_CAP_PID6);
            let local = heap_caps_get_minimum_free_size(MALLOC_CAP_PID6);
            assert!(local < free0 && local > low, "{low} < {local} < {free0}");
            free(small);
            assert_eq!(heap_caps_monitor_local_minimum_free_size_stop(), ESP_OK);
            assert_eq!(heap_caps_get_minimum_free_size(MALLOC_CAP_PID6), low, "all-time again");
        }
    });
}
