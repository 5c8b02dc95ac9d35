//! Helpers of the capability tests: the C entry points as a C program
//! links them, regions in their own mappings, and errno.

use core::ffi::c_char;
use rawrt::heap::MultiHeapInfo;
use rawrt::sys::mm;

pub use rawrt::heap::caps::*;

/// ESP-IDF's failed-allocation hook.
pub type CHook = extern "C" fn(usize, u32, *const c_char);

extern "C" {
    pub fn malloc(size: usize) -> *mut u8;
    pub fn free(p: *mut u8);
    pub fn realloc(p: *mut u8, size: usize) -> *mut u8;
    pub fn malloc_usable_size(p: *mut u8) -> usize;
    pub fn __errno_location() -> *mut i32;
    pub fn heap_caps_malloc(size: usize, caps: u32) -> *mut u8;
    pub fn heap_caps_calloc(n: usize, size: usize, caps: u32) -> *mut u8;
    pub fn heap_caps_realloc(p: *mut u8, size: usize, caps: u32) -> *mut u8;
    pub fn heap_caps_free(p: *mut u8);
    pub fn heap_caps_get_info(info: *mut MultiHeapInfo, caps: u32);
    pub fn heap_caps_get_free_size(caps: u32) -> usize;
    pub fn heap_caps_get_total_size(caps: u32) -> usize;
    pub fn heap_caps_get_largest_free_block(caps: u32) -> usize;
    pub fn heap_caps_get_allocated_size(p: *mut u8) -> usize;
    pub fn heap_caps_add_region(start: isize, end: isize) -> i32;
    pub fn heap_caps_add_region_with_caps(caps: *const u32, start: isize, end: isize) -> i32;
    pub fn heap_caps_register_failed_alloc_callback(hook: Option<CHook>) -> i32;
}

/// C's `errno`.
pub fn errno() -> i32 {
    // SAFETY: the location is this thread's errno.
    unsafe { *__errno_location() }
}

/// Sets C's `errno`.
pub fn set_errno(v: i32) {
    // SAFETY: as above.
    unsafe { *__errno_location() = v }
}

/// A fresh region of `len` bytes in its own mapping, as `(start, end)`.
pub fn region(len: usize) -> (isize, isize) {
    let p = mm::mmap_anonymous(len).expect("mmap") as isize;
    (p, p + len as isize)
}

/// Registers a fresh region of `len` bytes with `caps`; its range.
pub fn add(caps: [u32; 3], len: usize) -> (usize, usize) {
    let (s, e) = region(len);
    // SAFETY: a fresh mapping, given to the heap.
    let r = unsafe { heap_caps_add_region_with_caps(caps.as_ptr(), s, e) };
    assert_eq!(r, ESP_OK, "registering {len} bytes with {caps:x?}");
    (s as usize, e as usize)
}

/// Whether `p` lies in `[r.0, r.1)`.
pub fn inside(p: *mut u8, r: (usize, usize)) -> bool {
    (r.0..r.1).contains(&(p as usize))
}
