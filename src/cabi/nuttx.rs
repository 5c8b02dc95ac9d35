//! NuttX's `mm/mm.h` heap names over rawrt's region heap, so code written
//! for NuttX's multiple heaps runs unchanged, and `mallinfo` with NuttX's
//! fields for the process heap.

use crate::heap::{self, Entry, MallInfo, ReallocNames, RegionRef};
use core::ffi::c_void;
use core::ptr::null_mut;

c_name! {
/// `mm_initialize`: a heap over `[start, start + size)`, its own state at
/// the start of the region: NuttX's small memory model for a region of at
/// most 64 KiB (4-byte headers, 8-byte alignment; see `heap::RegionRef`).
/// NULL if the region is too small.
unsafe extern "C" fn mm_initialize(start: *mut u8, size: usize) -> *const c_void {
    // SAFETY: C's contract: the region is the heap's from now on.
    unsafe { RegionRef::init_in_place(start, size) }.map_or(core::ptr::null(), RegionRef::handle)
}
}

c_name! {
/// `mm_addregion`: gives the heap another region (silently ignored by
/// NuttX when it cannot; here too small or overlapping a region, more
/// than eight regions, or any region added to a small-model heap, which
/// is one region of at most 64 KiB, are ignored as well, and
/// `mm_mallinfo` shows what was taken).
unsafe extern "C" fn mm_addregion(heap: *const c_void, start: *mut u8, size: usize) {
    // SAFETY: C's contract: a handle, and the region is the heap's from now on.
    let _ = unsafe { RegionRef::from_handle(heap).add_region(start, size) };
}
}

/// An allocation from `heap` (C's contract: a handle `mm_initialize`
/// returned); `align` 0 is the heap's natural alignment.
fn alloc(
    heap: *const c_void,
    size: usize,
    align: usize,
    zero: bool,
    func: &'static str,
) -> *mut u8 {
    // SAFETY: C's contract.
    let h = unsafe { RegionRef::from_handle(heap) };
    let align = if align == 0 { h.natural_align() } else { align };
    h.allocate(size, align, zero, func).map_or(null_mut(), |p| p.as_ptr())
}

c_name! {
/// `mm_malloc`: 8-byte aligned in the small model, else 16.
unsafe extern "C" fn mm_malloc(heap: *const c_void, size: usize) -> *mut u8 {
    alloc(heap, size, 0, false, "mm_malloc")
}
}

c_name! {
/// `mm_zalloc`: zeroed memory.
unsafe extern "C" fn mm_zalloc(heap: *const c_void, size: usize) -> *mut u8 {
    alloc(heap, size, 0, true, "mm_zalloc")
}
}

c_name! {
/// `mm_calloc`: zeroed memory for `n * size` bytes; NULL on overflow.
unsafe extern "C" fn mm_calloc(heap: *const c_void, n: usize, size: usize) -> *mut u8 {
    n.checked_mul(size).map_or(null_mut(), |t| alloc(heap, t, 0, true, "mm_calloc"))
}
}

c_name! {
/// `mm_memalign`: `align` must be a power of two (else NULL).
unsafe extern "C" fn mm_memalign(heap: *const c_void, align: usize, size: usize) -> *mut u8 {
    let Some(align) = heap::align_c11(align) else { return null_mut() };
    alloc(heap, size, align, false, "mm_memalign")
}
}

c_name! {
/// `mm_free`: NULL does nothing; misuse is reported and aborts.
unsafe extern "C" fn mm_free(heap: *const c_void, p: *mut u8) {
    // SAFETY: C's contract: a handle, and `p` null or a live block of it.
    unsafe { RegionRef::from_handle(heap).free_or_abort(p, "mm_free") }
}
}

c_name! {
/// `mm_realloc`: realloc's rules (NULL is malloc, size 0 frees and returns
/// NULL, failure leaves the block intact).
unsafe extern "C" fn mm_realloc(heap: *const c_void, p: *mut u8, size: usize) -> *mut u8 {
    const NAMES: ReallocNames = ReallocNames { malloc: "mm_malloc", free: "mm_free", realloc: "mm_realloc" };
    // SAFETY: as above.
    unsafe { RegionRef::from_handle(heap).realloc_c(p, size, NAMES) }.unwrap_or(null_mut())
}
}

c_name! {
/// `mm_mallinfo`: the heap's figures in NuttX's shape; returns 0.
unsafe extern "C" fn mm_mallinfo(heap: *const c_void, info: *mut MallInfo) -> i32 {
    // SAFETY: C's contract: a handle, and `info` is writable.
    unsafe { *info = RegionRef::from_handle(heap).info().into() };
    0
}
}

c_name! {
/// `mallinfo`: the process heap's figures in NuttX's shape.
extern "C" fn mallinfo() -> MallInfo {
    heap::process().info().into()
}
}
