//! NuttX's `mm/mm.h` heap names over rawrt's region heap, so code written
//! for NuttX's multiple heaps runs unchanged, and `mallinfo` with NuttX's
//! fields for the process heap.

use crate::heap::{self, misuse, Heap, HeapError, HeapInfo, RegionSource, ALIGN};
use core::ptr::{null_mut, NonNull};

/// NuttX's `struct mm_heap_s`: rawrt's region heap.
pub type MmHeap = Heap<RegionSource>;

/// NuttX's `struct mallinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo {
    /// Bytes the heap manages (obtained from its regions or the kernel).
    pub arena: i32,
    /// Free blocks.
    pub ordblks: i32,
    /// Allocated blocks.
    pub aordblks: i32,
    /// The largest free block: the largest request that can succeed.
    pub mxordblk: i32,
    /// Allocated bytes.
    pub uordblks: i32,
    /// Free bytes.
    pub fordblks: i32,
}

fn int(n: usize) -> i32 {
    n.min(i32::MAX as usize) as i32
}

impl From<HeapInfo> for MallInfo {
    fn from(i: HeapInfo) -> Self {
        MallInfo {
            arena: int(i.footprint),
            ordblks: int(i.free_blocks),
            aordblks: int(i.allocated_blocks),
            mxordblk: int(i.largest_free_block),
            uordblks: int(i.total_allocated_bytes),
            fordblks: int(i.total_free_bytes),
        }
    }
}

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
    if !align.is_power_of_two() {
        return null_mut();
    }
    alloc(heap, size, align.max(ALIGN), false, "mm_memalign")
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
    let Some(nn) = NonNull::new(p) else { return mm_malloc(heap, size) };
    if size == 0 {
        // SAFETY: C's contract.
        unsafe { mm_free(heap, p) };
        return null_mut();
    }
    // SAFETY: C's contract: a live block of `heap`.
    match unsafe { heap.reallocate(nn, size, ALIGN, "mm_realloc") } {
        Ok(q) => q.as_ptr(),
        Err(HeapError::OutOfMemory) => null_mut(),
        Err(e) => misuse("mm_realloc", e, p),
    }
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
