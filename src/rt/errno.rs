//! The C `errno`, one per thread.
//!
//! Each thread's `errno` lives in the head of its thread control block
//! (`rt/tls.rs`). While no thread was spawned, [`location`] returns
//! the main thread's (a static) without reading the thread pointer; after
//! the first spawn it reads the thread pointer. The main thread's address
//! is the same before and after.

use crate::sys::Errno;

/// The address of the calling thread's `errno`.
#[inline]
pub fn location() -> *mut i32 {
    super::tls::errno_location()
}

/// Sets `errno`.
#[inline]
pub fn set(e: Errno) {
    // SAFETY: `location` is the calling thread's errno.
    unsafe { *location() = e.raw() };
}

/// Reads `errno`.
#[inline]
pub fn get() -> i32 {
    // SAFETY: as above.
    unsafe { *location() }
}
