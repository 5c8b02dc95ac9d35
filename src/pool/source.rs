//! Where a growing pool gets its chunks.

/// A supplier of large, aligned pieces of memory ("chunks") for pools that
/// grow. The process heap implements it in the integration layer; hosted
/// tests implement it with std's allocator.
///
/// # Safety
/// Implementors guarantee that a non-null pointer returned by
/// [`alloc_chunk`](ChunkSource::alloc_chunk) is aligned to `align`, valid
/// for reads and writes of `size` bytes, disjoint from every other live
/// chunk, and stays valid until it is passed to
/// [`free_chunk`](ChunkSource::free_chunk). Both methods may be called from
/// any thread (hence the `Sync` bound).
pub unsafe trait ChunkSource: Sync {
    /// `size` bytes (non-zero) aligned to `align` (a power of two), or null
    /// if the memory cannot be had. The contents are unspecified.
    fn alloc_chunk(&self, size: usize, align: usize) -> *mut u8;

    /// Returns a chunk.
    ///
    /// # Safety
    /// `ptr` must come from [`alloc_chunk`](ChunkSource::alloc_chunk) on
    /// this source with the same `size` and `align`, must not have been
    /// freed already, and nothing may use it afterwards.
    unsafe fn free_chunk(&self, ptr: *mut u8, size: usize, align: usize);
}
