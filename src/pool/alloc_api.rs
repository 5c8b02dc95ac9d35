//! `allocator_api2::alloc::Allocator` for [`Pool`] (and so for `&Pool`).
//!
//! A layout is served iff its size is at most the block size and its
//! alignment at most the pool's; every block is returned whole (the slice
//! is `block_size` long). Growing or shrinking within those limits keeps
//! the block; anything else fails, since no larger block exists.

use core::alloc::Layout;
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::Pool;

impl Pool {
    /// Whether blocks of this pool can hold `layout`.
    pub fn fits(&self, layout: Layout) -> bool {
        layout.size() <= self.block_size() && layout.align() <= self.align()
    }

    fn whole_block(&self, ptr: NonNull<u8>) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(ptr, self.block_size())
    }
}

// SAFETY: blocks are valid for `block_size` bytes, aligned to the pool
// alignment, stay valid until freed, and the pool may be moved (blocks do
// not point into it). Clones of `&Pool` share the same pool.
unsafe impl Allocator for Pool {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if !self.fits(layout) {
            return Err(AllocError);
        }
        self.alloc().map(|p| self.whole_block(p)).map_err(|_| AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator handed out.
        if let Err(e) = unsafe { self.free(ptr.as_ptr()) } {
            panic!("rawrt pool: bad deallocate: {e}");
        }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        _old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if self.fits(new_layout) {
            Ok(self.whole_block(ptr))
        } else {
            Err(AllocError)
        }
    }

    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if !self.fits(new_layout) {
            return Err(AllocError);
        }
        let old = old_layout.size();
        // SAFETY: the block is `block_size >= old` bytes long and ours.
        unsafe { core::ptr::write_bytes(ptr.as_ptr().add(old), 0, self.block_size() - old) };
        Ok(self.whole_block(ptr))
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        _old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if self.fits(new_layout) {
            Ok(self.whole_block(ptr))
        } else {
            Err(AllocError)
        }
    }
}
