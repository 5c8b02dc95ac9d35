//! `multi_heap_set_lock`: a region heap takes the caller's recursive C11
//! mutex around its own lock, so that the caller holding it keeps every
//! other thread out of the heap, and can still use the heap itself.

use super::registry::isolated;
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Room for a C11 `mtx_t` (24 bytes, 8-aligned).
#[repr(C, align(8))]
struct MtxT([u8; 40]);

extern "C" {
    fn multi_heap_register(start: *mut u8, size: usize) -> *mut c_void;
    fn multi_heap_malloc(h: *mut c_void, size: usize) -> *mut u8;
    fn multi_heap_free(h: *mut c_void, p: *mut u8);
    fn multi_heap_set_lock(h: *mut c_void, lock: *mut MtxT);
    fn mtx_init(m: *mut MtxT, kind: i32) -> i32;
    fn mtx_lock(m: *mut MtxT) -> i32;
    fn mtx_unlock(m: *mut MtxT) -> i32;
    fn thrd_create(t: *mut usize, f: extern "C" fn(*mut c_void) -> i32, arg: *mut c_void) -> i32;
    fn thrd_join(t: usize, res: *mut i32) -> i32;
}

const MTX_RECURSIVE: i32 = 1;

static HEAP: AtomicUsize = AtomicUsize::new(0);
static DONE: AtomicUsize = AtomicUsize::new(0);

extern "C" fn other_thread(_: *mut c_void) -> i32 {
    let h = HEAP.load(Ordering::Acquire) as *mut c_void;
    // SAFETY: the heap is registered; this waits for the caller's lock.
    unsafe {
        let p = multi_heap_malloc(h, 64);
        assert!(!p.is_null());
        multi_heap_free(h, p);
    }
    DONE.store(1, Ordering::Release);
    0
}

fn sleep_ms(ms: u64) {
    rawrt::thread::sleep(core::time::Duration::from_millis(ms));
}

pub fn caller_lock_keeps_other_threads_out() {
    isolated(|| {
        let r = rawrt::sys::mm::mmap_anonymous(64 << 10).unwrap();
        let mut m = MtxT([0; 40]);
        // SAFETY: a fresh region and mutex; the mutex outlives the heap's
        // use in this child.
        unsafe {
            let h = multi_heap_register(r, 64 << 10);
            assert_eq!(mtx_init(&mut m, MTX_RECURSIVE), 0);
            multi_heap_set_lock(h, &mut m);
            HEAP.store(h as usize, Ordering::Release);
            // Held across calls: the heap still works for its holder.
            assert_eq!(mtx_lock(&mut m), 0);
            let p = multi_heap_malloc(h, 100);
            assert!(!p.is_null());
            multi_heap_free(h, p);
            let mut t = 0;
            assert_eq!(thrd_create(&mut t, other_thread, core::ptr::null_mut()), 0);
            sleep_ms(100);
            assert_eq!(DONE.load(Ordering::Acquire), 0, "the other thread got in");
            assert_eq!(mtx_unlock(&mut m), 0);
            assert_eq!(thrd_join(t, core::ptr::null_mut()), 0);
            assert_eq!(DONE.load(Ordering::Acquire), 1);
            // Back to the heap's own lock.
            multi_heap_set_lock(h, core::ptr::null_mut());
            let p = multi_heap_malloc(h, 100);
            assert!(!p.is_null());
            multi_heap_free(h, p);
        }
    });
}
