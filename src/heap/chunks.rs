//! Heaps as chunk sources for growing pools: a pool asks its heap for
//! chunks and gives them back when it is destroyed.

use core::ptr::null_mut;

use super::entry::Entry;
use super::heap::Heap;
use super::source::Source;
use super::traits::ProcessHeap;
use crate::pool::ChunkSource;

/// Implements `ChunkSource` over the type's [`Entry`] points.
macro_rules! chunks_by_entry {
    () => {
        fn alloc_chunk(&self, size: usize, align: usize) -> *mut u8 {
            Entry::allocate(self, size, align, false, "pool chunk")
                .map_or(null_mut(), |p| p.as_ptr())
        }

        unsafe fn free_chunk(&self, ptr: *mut u8, _size: usize, _align: usize) {
            // SAFETY: the pool hands back a chunk it got from this heap.
            unsafe { Entry::free_or_abort(self, ptr, "pool chunk free") }
        }
    };
}

// SAFETY: blocks from `allocate` have the requested size and alignment,
// are disjoint, and live until freed; the heap's lock serialises threads.
unsafe impl<S: Source + Send> ChunkSource for Heap<S> {
    chunks_by_entry!();
}

// SAFETY: as for `Heap`: the process heap's blocks.
unsafe impl ChunkSource for ProcessHeap {
    chunks_by_entry!();
}

// SAFETY: as for `Heap`: the small heap's blocks.
unsafe impl ChunkSource for super::spans::SmallProcessHeap {
    chunks_by_entry!();
}
