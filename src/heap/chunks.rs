//! Heaps as chunk sources for growing pools: a pool asks its heap for
//! chunks and gives them back when it is destroyed.

use core::ptr::null_mut;

use super::heap::Heap;
use super::source::Source;
use super::traits::ProcessHeap;
use crate::pool::ChunkSource;

// SAFETY: blocks from `allocate` have the requested size and alignment,
// are disjoint, and live until freed; the heap's lock serialises threads.
unsafe impl<S: Source + Send> ChunkSource for Heap<S> {
    fn alloc_chunk(&self, size: usize, align: usize) -> *mut u8 {
        self.allocate(size, align, false, "pool chunk").map_or(null_mut(), |p| p.as_ptr())
    }

    unsafe fn free_chunk(&self, ptr: *mut u8, _size: usize, _align: usize) {
        // SAFETY: the pool hands back a chunk it got from this heap.
        unsafe { self.free_or_abort(ptr, "pool chunk free") }
    }
}

// SAFETY: forwards to the process heap.
unsafe impl ChunkSource for ProcessHeap {
    fn alloc_chunk(&self, size: usize, align: usize) -> *mut u8 {
        super::process().alloc_chunk(size, align)
    }

    unsafe fn free_chunk(&self, ptr: *mut u8, size: usize, align: usize) {
        // SAFETY: forwarded contract.
        unsafe { super::process().free_chunk(ptr, size, align) }
    }
}
