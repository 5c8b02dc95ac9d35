//! NuttX's `mm/mm.h` heap names over rawrt's region heap, so code written
//! for NuttX's multiple heaps runs unchanged, and `mallinfo` with NuttX's
//! fields for the process heap.

use crate::heap::CRules;
use crate::heap::{self, Heap, MallInfo, ReallocNames, RegionSource, ALIGN};
use core::ptr::null_mut;

/// NuttX's `struct mm_heap_s`: rawrt's region heap.
pub type MmHeap = Heap<RegionSource>;

c_name! {
/// `mm_initialize`: a heap over `[start, start + size)`, its own state at
/// the start of the region. NULL if the region is too small.
unsafe extern "C" fn mm_initialize(start: *mut u8, size: usize) -> *const MmHeap {
    // SAFETY: C's contract: the region is the heap's from now on.
    unsafe { MmHeap::init_in_place(start, size) }.map_or(core::ptr::null(), |h| h as *const MmHeap)
}
}

c_name! {
/// `mm_addregion`: gives the heap another region (silently ignored by
/// NuttX when it cannot; here too small a region or too many regions are
/// ignored as well, and `mm_mallinfo` shows what was taken).
unsafe extern "C" fn mm_addregion(heap: &MmHeap, start: *mut u8, size: usize) {
    // SAFETY: C's contract: the region is the heap's from now on.
    let _ = unsafe { heap.add_region(start, size) };
}
}

fn alloc(heap: &MmHeap, size: usize, align: usize, zero: bool, func: &'static str) -> *mut u8 {
    heap.allocate(size, align, zero, func).map_or(null_mut(), |p| p.as_ptr())
}

c_name! {
/// `mm_malloc`.
extern "C" fn mm_malloc(heap: &MmHeap, size: usize) -> *mut u8 {
    alloc(heap, size, ALIGN, false, "mm_malloc")
}
}

c_name! {
/// `mm_zalloc`: zeroed memory.
extern "C" fn mm_zalloc(heap: &MmHeap, size: usize) -> *mut u8 {
    alloc(heap, size, ALIGN, true, "mm_zalloc")
}
}

c_name! {
/// `mm_calloc`: zeroed memory for `n * size` bytes; NULL on overflow.
extern "C" fn mm_calloc(heap: &MmHeap, n: usize, size: usize) -> *mut u8 {
    n.checked_mul(size).map_or(null_mut(), |t| alloc(heap, t, ALIGN, true, "mm_calloc"))
}
}

c_name! {
/// `mm_memalign`: `align` must be a power of two (else NULL).
extern "C" fn mm_memalign(heap: &MmHeap, align: usize, size: usize) -> *mut u8 {
    let Some(align) = heap::align_c11(align) else { return null_mut() };
    alloc(heap, size, align, false, "mm_memalign")
}
}

c_name! {
/// `mm_free`: NULL does nothing; misuse is reported and aborts.
unsafe extern "C" fn mm_free(heap: &MmHeap, p: *mut u8) {
    // SAFETY: C's contract: a live block of `heap`.
    unsafe { heap.free_or_abort(p, "mm_free") }
}
}

c_name! {
/// `mm_realloc`: realloc's rules (NULL is malloc, size 0 frees and returns
/// NULL, failure leaves the block intact).
unsafe extern "C" fn mm_realloc(heap: &MmHeap, p: *mut u8, size: usize) -> *mut u8 {
    const NAMES: ReallocNames = ReallocNames { malloc: "mm_malloc", free: "mm_free", realloc: "mm_realloc" };
    // SAFETY: C's contract: `p` is null or a live block of `heap`.
    unsafe { heap.realloc_c(p, size, NAMES) }.unwrap_or(null_mut())
}
}

c_name! {
/// `mm_mallinfo`: the heap's figures in NuttX's shape; returns 0.
unsafe extern "C" fn mm_mallinfo(heap: &MmHeap, info: *mut MallInfo) -> i32 {
    // SAFETY: C's contract: `info` is writable.
    unsafe { *info = heap.info().into() };
    0
}
}

c_name! {
/// `mallinfo`: the process heap's figures in NuttX's shape.
extern "C" fn mallinfo() -> MallInfo {
    heap::process().info().into()
}
}
