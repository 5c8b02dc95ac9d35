//! `heap_caps_malloc_prefer`, `_calloc_prefer` and `_realloc_prefer`:
//! C variadic functions (assembly trampolines collect the arguments),
//! called here through C's variadic convention with few and with many
//! capability sets (past the argument registers, onto the stack).

use super::registry::isolated;
use super::util::*;
use core::ffi::c_char;
use core::sync::atomic::{AtomicUsize, Ordering};

extern "C" {
    fn heap_caps_malloc_prefer(size: usize, num: usize, ...) -> *mut u8;
    fn heap_caps_calloc_prefer(n: usize, size: usize, num: usize, ...) -> *mut u8;
    fn heap_caps_realloc_prefer(p: *mut u8, size: usize, num: usize, ...) -> *mut u8;
}

static CALLS: AtomicUsize = AtomicUsize::new(0);
static LAST: AtomicUsize = AtomicUsize::new(0);

extern "C" fn hook(size: usize, caps: u32, name: *const c_char) {
    // SAFETY: a NUL-terminated name.
    let name = unsafe { core::ffi::CStr::from_ptr(name) }.to_bytes();
    assert!(name.starts_with(b"heap_caps_") && name.ends_with(b"_prefer"));
    CALLS.fetch_add(1, Ordering::Relaxed);
    LAST.store(size << 32 | caps as usize, Ordering::Relaxed);
}

pub fn prefer_falls_back_in_order() {
    isolated(|| {
        let a = add([MALLOC_CAP_PID2, 0, 0], 64 << 10);
        let b = add([MALLOC_CAP_PID3, 0, 0], 64 << 10);
        let (r, x) = (MALLOC_CAP_RTCRAM, MALLOC_CAP_RETENTION); // no heap has them
                                                                // SAFETY: variadic calls with `num` u32 sets, as C makes them.
        unsafe {
            heap_caps_register_failed_alloc_callback(Some(hook));
            let p = heap_caps_malloc_prefer(100, 2, MALLOC_CAP_PID2, MALLOC_CAP_PID3);
            assert!(inside(p, a));
            let p = heap_caps_malloc_prefer(100, 3, r, MALLOC_CAP_PID3, MALLOC_CAP_PID2);
            assert!(inside(p, b));
            // Past the registers: the eleventh set (stack on every arch).
            let p = heap_caps_malloc_prefer(100, 11, r, x, r, x, r, x, r, x, r, x, MALLOC_CAP_PID2);
            assert!(inside(p, a));
            let p = heap_caps_calloc_prefer(10, 10, 9, r, x, r, x, r, x, r, x, MALLOC_CAP_PID3);
            assert!(inside(p, b) && (0..100).all(|i| *p.add(i) == 0));
            assert_eq!(CALLS.load(Ordering::Relaxed), 0, "no callback on the way");
            // All fail: NULL, ENOMEM, the callback once with the last set.
            set_errno(0);
            assert!(heap_caps_malloc_prefer(100, 3, r, x, MALLOC_CAP_PID7).is_null());
            assert_eq!(errno(), 12);
            assert_eq!(CALLS.load(Ordering::Relaxed), 1);
            assert_eq!(LAST.load(Ordering::Relaxed), 100 << 32 | MALLOC_CAP_PID7 as usize);
            assert!(heap_caps_calloc_prefer(3, 7, 1, r).is_null());
            assert_eq!(LAST.load(Ordering::Relaxed), 21 << 32 | r as usize);
            assert!(heap_caps_calloc_prefer(usize::MAX, 2, 1, MALLOC_CAP_PID2).is_null());
            assert!(heap_caps_malloc_prefer(16, 0).is_null(), "no set to try");
            // realloc: moved to the first set with room, contents kept.
            let q = heap_caps_malloc(300, MALLOC_CAP_PID2);
            for i in 0..300 {
                *q.add(i) = i as u8;
            }
            let q2 = heap_caps_realloc_prefer(q, 600, 2, r, MALLOC_CAP_PID3);
            assert!(inside(q2, b) && (0..300).all(|i| *q2.add(i) == i as u8));
            let q3 = heap_caps_realloc_prefer(q2, 100, 9, r, x, r, x, r, x, r, x, MALLOC_CAP_PID2);
            assert!(inside(q3, a) && (0..100).all(|i| *q3.add(i) == i as u8));
            let calls = CALLS.load(Ordering::Relaxed);
            assert!(heap_caps_realloc_prefer(q3, 100, 2, r, x).is_null());
            assert_eq!(CALLS.load(Ordering::Relaxed), calls + 1);
            assert!(inside(q3, a) && *q3.add(99) == 99, "a failed move keeps the block");
            let n = heap_caps_realloc_prefer(core::ptr::null_mut(), 50, 2, x, MALLOC_CAP_PID3);
            assert!(inside(n, b));
            assert!(heap_caps_realloc_prefer(n, 0, 1, MALLOC_CAP_PID3).is_null(), "size 0 frees");
            free(q3);
        }
    });
}
