//! [`Entry`]: the entry points that C's rules (`c_rules.rs`), the Rust
//! allocator traits (`traits.rs`) and the pools' chunk source
//! (`chunks.rs`) are written over, once for both kinds of heap: a
//! [`Heap`] and the process heap ([`Arenas`], reached through
//! [`ProcessHeap`]).

use core::ptr::NonNull;

use super::arena::Arenas;
use super::error::HeapError;
use super::heap::Heap;
use super::source::Source;
use super::traits::ProcessHeap;

/// What a heap offers its entry points.
pub trait Entry {
    /// `size` bytes aligned to `align`, zeroed if `zero`; `func` names the
    /// caller in reports and for the failed-allocation callback.
    fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>>;

    /// [`allocate`](Entry::allocate) for entry points that have no fast
    /// path of their own (one that `malloc` already tried, or none).
    fn allocate_slow(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>>;

    /// Frees `p` as C's `free` does: null does nothing, misuse is reported
    /// under `func` and aborts.
    ///
    /// # Safety
    /// If `p` is a live block of this heap, nothing may use it afterwards.
    unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str);

    /// Resizes the block at `ptr` (alignment `align`) to `new_size`
    /// bytes; on `Err` it is left as it was.
    ///
    /// # Safety
    /// As for `free_or_abort` when the block moves.
    unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError>;

    /// The usable size of the block at `ptr`.
    ///
    /// # Safety
    /// `ptr` should be a block of this heap; others are rejected.
    unsafe fn usable_size(&self, ptr: *const u8) -> Result<usize, HeapError>;
}

/// Implements [`Entry`] by calling the methods of the same names of
/// `$get` (an expression of `$this`, which is `self`).
macro_rules! entry_by {
    ($this:ident => $get:expr) => {
        #[inline(always)]
        fn allocate(
            &self,
            size: usize,
            align: usize,
            zero: bool,
            func: &'static str,
        ) -> Option<NonNull<u8>> {
            {
                let $this = self;
                $get
            }
            .allocate(size, align, zero, func)
        }
        #[inline(always)]
        fn allocate_slow(
            &self,
            size: usize,
            align: usize,
            zero: bool,
            func: &'static str,
        ) -> Option<NonNull<u8>> {
            {
                let $this = self;
                $get
            }
            .allocate_slow(size, align, zero, func)
        }
        #[inline(always)]
        unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
            // SAFETY: forwarded contract.
            unsafe {
                {
                    let $this = self;
                    $get
                }
                .free_or_abort(p, func)
            }
        }
        #[inline(always)]
        unsafe fn reallocate(
            &self,
            ptr: NonNull<u8>,
            new_size: usize,
            align: usize,
            func: &'static str,
        ) -> Result<NonNull<u8>, HeapError> {
            // SAFETY: forwarded contract.
            unsafe {
                {
                    let $this = self;
                    $get
                }
                .reallocate(ptr, new_size, align, func)
            }
        }
        #[inline(always)]
        unsafe fn usable_size(&self, ptr: *const u8) -> Result<usize, HeapError> {
            // SAFETY: forwarded contract.
            unsafe {
                {
                    let $this = self;
                    $get
                }
                .usable_size(ptr)
            }
        }
    };
}

impl<S: Source> Entry for Heap<S> {
    entry_by!(h => h);
}

impl Entry for Arenas {
    entry_by!(a => a);
}

impl Entry for ProcessHeap {
    entry_by!(_h => super::process());
}
