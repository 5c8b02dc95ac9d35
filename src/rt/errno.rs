//! The C `errno` value. One per process until threads exist; the thread
//! module moves it into each thread's control block.

use crate::sys::Errno;
use core::cell::UnsafeCell;

struct ErrnoCell(UnsafeCell<i32>);

// SAFETY: the cell is only touched by the thread that owns it (there is one
// thread until the thread module gives each thread its own).
unsafe impl Sync for ErrnoCell {}

static ERRNO: ErrnoCell = ErrnoCell(UnsafeCell::new(0));

/// The address of the calling thread's `errno`.
#[inline]
pub fn location() -> *mut i32 {
    ERRNO.0.get()
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
