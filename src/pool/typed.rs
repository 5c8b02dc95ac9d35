//! [`TypedPool<T>`]: a pool of `T` slots, and [`PoolBox`], the owner of one
//! value in such a slot.
//!
//! Invariant: a `PoolBox` holds a block of its pool that is in use and
//! contains an initialised `T`; dropping it drops the `T` and frees the
//! block. The box borrows the pool, so the pool outlives it.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::{ChunkSource, Pool, PoolError, PoolInfo};

/// A pool whose blocks hold values of type `T`.
pub struct TypedPool<T> {
    pool: Pool,
    _values: PhantomData<T>,
}

impl<T> TypedPool<T> {
    /// A growing pool of `T` slots (see [`Pool::new`]).
    pub fn new(max_blocks: usize, source: &'static dyn ChunkSource) -> Result<Self, PoolError> {
        Ok(TypedPool {
            pool: Pool::new(size_of::<T>().max(1), align_of::<T>(), max_blocks, source)?,
            _values: PhantomData,
        })
    }

    /// A fixed pool of `T` slots in a caller's region (see
    /// [`Pool::from_region`]).
    ///
    /// # Safety
    /// As for [`Pool::from_region`].
    pub unsafe fn from_region(region: *mut u8, region_size: usize) -> Result<Self, PoolError> {
        // SAFETY: forwarded from the caller.
        let pool = unsafe {
            Pool::from_region(region, region_size, size_of::<T>().max(1), align_of::<T>())?
        };
        Ok(TypedPool { pool, _values: PhantomData })
    }

    /// A fixed pool of `T` slots in a static buffer.
    pub fn from_static(region: &'static mut [MaybeUninit<u8>]) -> Result<Self, PoolError> {
        let pool = Pool::from_static(region, size_of::<T>().max(1), align_of::<T>())?;
        Ok(TypedPool { pool, _values: PhantomData })
    }

    /// Moves `value` into a block. On error the value is dropped.
    pub fn alloc(&self, value: T) -> Result<PoolBox<'_, T>, PoolError> {
        let block = self.pool.alloc()?.cast::<T>();
        // SAFETY: the block is ours, large and aligned enough for a `T`.
        unsafe { block.as_ptr().write(value) };
        Ok(PoolBox { ptr: block, pool: &self.pool, _value: PhantomData })
    }

    /// The untyped pool (statistics, `for_each_used`).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Statistics.
    pub fn info(&self) -> PoolInfo {
        self.pool.info()
    }
}

impl<T> fmt::Debug for TypedPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedPool").field("info", &self.info()).finish()
    }
}

/// A value in a block of a [`TypedPool`]; dropping it drops the value and
/// returns the block.
pub struct PoolBox<'a, T> {
    ptr: NonNull<T>,
    pool: &'a Pool,
    _value: PhantomData<T>,
}

// SAFETY: a `PoolBox` owns its `T` like a `Box` does; the pool is `Sync`.
unsafe impl<T: Send> Send for PoolBox<'_, T> {}
// SAFETY: shared access to a `PoolBox` only gives `&T`.
unsafe impl<T: Sync> Sync for PoolBox<'_, T> {}

impl<'a, T> PoolBox<'a, T> {
    /// Gives up ownership without dropping the value or freeing the block;
    /// [`PoolBox::from_raw`] takes it back.
    pub fn into_raw(b: Self) -> NonNull<T> {
        ManuallyDrop::new(b).ptr
    }

    /// Takes back a value given up by [`PoolBox::into_raw`].
    ///
    /// # Safety
    /// `ptr` must come from `into_raw` on a box of `pool`, and be taken back
    /// only once.
    pub unsafe fn from_raw(pool: &'a TypedPool<T>, ptr: NonNull<T>) -> Self {
        PoolBox { ptr, pool: &pool.pool, _value: PhantomData }
    }

    /// Moves the value out and frees the block.
    pub fn into_inner(b: Self) -> T {
        let b = ManuallyDrop::new(b);
        // SAFETY: the block holds an initialised `T`, read once; the block
        // is then freed without dropping the value again.
        unsafe {
            let value = b.ptr.as_ptr().read();
            free_block(b.pool, b.ptr.cast());
            value
        }
    }
}

/// Frees a block held by a box; a failure is a bug in the pool.
///
/// # Safety
/// `ptr` must be the block of a box being given up.
unsafe fn free_block(pool: &Pool, ptr: NonNull<u8>) {
    // SAFETY: the box owned this block, which is in use.
    if let Err(e) = unsafe { pool.free(ptr.as_ptr()) } {
        panic!("rawrt pool: freeing a PoolBox failed: {e}");
    }
}

impl<T> Drop for PoolBox<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the box owns an initialised `T` in a block in use (module
        // invariant); it is dropped once, then the block is freed.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            free_block(self.pool, self.ptr.cast());
        }
    }
}

impl<T> Deref for PoolBox<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the box owns an initialised `T`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for PoolBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the box owns an initialised `T`, borrowed uniquely here.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: fmt::Debug> fmt::Debug for PoolBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for PoolBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
