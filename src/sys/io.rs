//! File and I/O system calls.

use super::{ret, ret_unit, Errno, Fd};
use crate::syscall;

/// `iovec` for [`writev`].
pub use linux_raw_sys::general::iovec as IoVec;

/// `AT_FDCWD`: resolve relative paths from the current directory.
pub const AT_FDCWD: Fd = linux_raw_sys::general::AT_FDCWD;

/// `read(2)`: reads up to `buf.len()` bytes.
#[inline]
pub fn read(fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    ret(unsafe { syscall!(__NR_read, fd, buf.as_mut_ptr(), buf.len()) })
}

/// `write(2)`: one system call, which may write fewer bytes than asked.
#[inline]
pub fn write(fd: Fd, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    ret(unsafe { syscall!(__NR_write, fd, buf.as_ptr(), buf.len()) })
}

/// `read(2)` into a buffer the kernel checks (`EFAULT` for a bad one), as
/// C's `read` passes it.
///
/// # Safety
/// `buf` is valid for `n` bytes of writes, or not accessible at all.
#[inline]
pub unsafe fn read_raw(fd: Fd, buf: *mut u8, n: usize) -> Result<usize, Errno> {
    // SAFETY: the caller vouches for the buffer; the kernel checks it.
    ret(unsafe { syscall!(__NR_read, fd, buf, n) })
}

/// `write(2)` from a buffer the kernel checks (`EFAULT` for a bad one), as
/// C's `write` passes it.
///
/// # Safety
/// `buf` is valid for `n` bytes of reads, or not accessible at all.
#[inline]
pub unsafe fn write_raw(fd: Fd, buf: *const u8, n: usize) -> Result<usize, Errno> {
    // SAFETY: the caller vouches for the buffer; the kernel checks it.
    ret(unsafe { syscall!(__NR_write, fd, buf, n) })
}

/// Writes all of `buf`: loops over short writes and retries on `EINTR`.
/// A write that returns 0 gives `EIO` rather than looping for ever; one
/// that reports at least what was left (more can only be a tracer's
/// injected result) ends the loop.
#[inline(never)]
pub fn write_all(fd: Fd, buf: &[u8]) -> Result<(), Errno> {
    let (mut at, mut left) = (buf.as_ptr(), buf.len());
    if left == 0 {
        return Ok(());
    }
    loop {
        // SAFETY: `[at, at + left)` is the part of `buf` not written yet.
        match unsafe { write_raw(fd, at, left) } {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) if n >= left => return Ok(()),
            Ok(n) => {
                // SAFETY: `n < left`: still within `buf`.
                at = unsafe { at.add(n) };
                left -= n;
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// `writev(2)`.
///
/// # Safety
/// Every `iovec` must describe readable memory.
#[inline]
pub unsafe fn writev(fd: Fd, iov: &[IoVec]) -> Result<usize, Errno> {
    // SAFETY: the caller vouches for the buffers the vectors point at.
    ret(unsafe { syscall!(__NR_writev, fd, iov.as_ptr(), iov.len()) })
}

/// `openat(2)` with a NUL-terminated path.
pub fn openat(dirfd: Fd, path: &core::ffi::CStr, flags: u32, mode: u32) -> Result<Fd, Errno> {
    // SAFETY: `path` is NUL-terminated.
    ret(unsafe { syscall!(__NR_openat, dirfd, path.as_ptr(), flags, mode) }).map(|fd| fd as Fd)
}

/// `close(2)`. The descriptor is gone even when an error is returned.
#[inline]
pub fn close(fd: Fd) -> Result<(), Errno> {
    // SAFETY: closing a descriptor touches no memory of ours.
    ret_unit(unsafe { syscall!(__NR_close, fd) })
}

/// `lseek(2)`: returns the new offset.
#[inline]
pub fn lseek(fd: Fd, offset: i64, whence: u32) -> Result<u64, Errno> {
    // SAFETY: no memory is passed.
    ret(unsafe { syscall!(__NR_lseek, fd, offset, whence) }).map(|o| o as u64)
}

/// `ftruncate(2)`.
#[inline]
pub fn ftruncate(fd: Fd, len: i64) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    ret_unit(unsafe { syscall!(__NR_ftruncate, fd, len) })
}

/// `unlinkat(2)`; `flags` may be `AT_REMOVEDIR`.
pub fn unlinkat(dirfd: Fd, path: &core::ffi::CStr, flags: u32) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated.
    ret_unit(unsafe { syscall!(__NR_unlinkat, dirfd, path.as_ptr(), flags) })
}

/// `pipe2(2)`: returns `[read end, write end]`.
pub fn pipe2(flags: u32) -> Result<[Fd; 2], Errno> {
    let mut fds = [0 as Fd; 2];
    // SAFETY: the kernel writes two ints into `fds`.
    ret_unit(unsafe { syscall!(__NR_pipe2, fds.as_mut_ptr(), flags) })?;
    Ok(fds)
}

/// `dup3(2)`.
pub fn dup3(old: Fd, new: Fd, flags: u32) -> Result<Fd, Errno> {
    // SAFETY: no memory is passed.
    ret(unsafe { syscall!(__NR_dup3, old, new, flags) }).map(|fd| fd as Fd)
}
