//! Memory-management system calls.

use super::{ret, ret_unit, Errno, Fd};
use crate::syscall;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub use linux_raw_sys::general::{
    MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL,
    MADV_WILLNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_NORESERVE, MAP_POPULATE,
    MAP_PRIVATE, MAP_SHARED, MAP_STACK, MCL_CURRENT, MCL_FUTURE, MFD_CLOEXEC, MFD_EXEC,
    MREMAP_FIXED, MREMAP_MAYMOVE, MS_ASYNC, MS_INVALIDATE, MS_SYNC, PROT_EXEC, PROT_NONE,
    PROT_READ, PROT_WRITE,
};

/// The break as the kernel last reported it to [`brk`] (0: no call yet).
static LAST_BRK: AtomicUsize = AtomicUsize::new(0);

/// `brk(2)`: asks for the program break `addr` (0 queries it) and returns
/// the break the kernel settled on. The raw call never fails; a break that
/// did not move to `addr` means the request was refused. The result is
/// recorded for [`last_brk`].
///
/// # Safety
/// Lowering the break unmaps memory: nothing may still use it.
#[inline]
pub unsafe fn brk(addr: usize) -> usize {
    // SAFETY: the caller owns the memory the break releases.
    let b: usize = unsafe { syscall!(__NR_brk, addr) };
    LAST_BRK.store(b, Relaxed);
    b
}

/// The program break as the kernel reported it to the latest [`brk`] call
/// in this process (0 if there was none). Every move of the break through
/// rawrt (the heap, C's `brk` and `sbrk`) goes through [`brk`], so in a
/// process where nothing issues the system call behind rawrt's back, this
/// is the break, known without a system call. Like glibc's cached break
/// (its `sbrk` adds to the break it last saw), it cannot see a `brk`
/// system call made by other code, nor order two threads that move the
/// break at the same moment.
#[inline]
pub fn last_brk() -> usize {
    LAST_BRK.load(Relaxed)
}

/// C's `brk`: moves the program break to `addr`; `ENOMEM` when the
/// kernel refused to move it there.
///
/// # Safety
/// As for [`brk`].
pub unsafe fn set_brk(addr: usize) -> Result<(), Errno> {
    // SAFETY: forwarded contract.
    if unsafe { brk(addr) } == addr {
        Ok(())
    } else {
        Err(Errno::ENOMEM)
    }
}

/// C's `sbrk`: moves the program break by `incr` bytes and returns the
/// old break (0 only queries it); `ENOMEM` when the new break would
/// overflow or the kernel refused it.
///
/// # Safety
/// As for [`brk`].
pub unsafe fn sbrk(incr: isize) -> Result<usize, Errno> {
    // SAFETY: querying the break changes nothing.
    let old = unsafe { brk(0) };
    if incr == 0 {
        return Ok(old);
    }
    let want = old.checked_add_signed(incr).ok_or(Errno::ENOMEM)?;
    // SAFETY: forwarded contract.
    unsafe { set_brk(want) }.map(|()| old)
}

/// `mmap(2)`.
///
/// # Safety
/// With `MAP_FIXED` the mapping replaces whatever was at `addr`.
#[inline]
pub unsafe fn mmap(
    addr: *mut u8,
    len: usize,
    prot: u32,
    flags: u32,
    fd: Fd,
    offset: u64,
) -> Result<*mut u8, Errno> {
    // SAFETY: the caller vouches for `MAP_FIXED`; otherwise the kernel
    // chooses a free range.
    ret(unsafe { syscall!(__NR_mmap, addr, len, prot, flags, fd, offset) }).map(|p| p as *mut u8)
}

/// Anonymous private read-write memory, `len` bytes, zero-filled.
#[inline]
pub fn mmap_anonymous(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: without MAP_FIXED the kernel picks an unused range.
    unsafe {
        mmap(core::ptr::null_mut(), len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    }
}

/// `munmap(2)`.
///
/// # Safety
/// Nothing may use the range afterwards.
#[inline]
pub unsafe fn munmap(addr: *mut u8, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller gives up the range.
    ret_unit(unsafe { syscall!(__NR_munmap, addr, len) })
}

/// `mremap(2)`; `new_addr` is used only with `MREMAP_FIXED`.
///
/// # Safety
/// The old range may move: no pointer into it stays valid.
#[inline]
pub unsafe fn mremap(
    old: *mut u8,
    old_len: usize,
    new_len: usize,
    flags: u32,
    new_addr: *mut u8,
) -> Result<*mut u8, Errno> {
    // SAFETY: the caller accepts that the mapping moves.
    ret(unsafe { syscall!(__NR_mremap, old, old_len, new_len, flags, new_addr) })
        .map(|p| p as *mut u8)
}

/// `mprotect(2)`.
///
/// # Safety
/// Removing access faults any later use that Rust code may make.
#[inline]
pub unsafe fn mprotect(addr: *mut u8, len: usize, prot: u32) -> Result<(), Errno> {
    // SAFETY: the caller vouches for the protection change.
    ret_unit(unsafe { syscall!(__NR_mprotect, addr, len, prot) })
}

/// `madvise(2)`.
///
/// # Safety
/// `MADV_DONTNEED` and `MADV_FREE` discard contents.
#[inline]
pub unsafe fn madvise(addr: *mut u8, len: usize, advice: u32) -> Result<(), Errno> {
    // SAFETY: the caller vouches that discarded contents are not needed.
    ret_unit(unsafe { syscall!(__NR_madvise, addr, len, advice) })
}

/// `POSIX_MADV_DONTNEED`: the value C's `posix_madvise` takes for
/// `MADV_DONTNEED`, but only advice (see [`posix_madvise`]).
pub const POSIX_MADV_DONTNEED: u32 = 4;

/// `posix_madvise(3)`: [`madvise`], except that [`POSIX_MADV_DONTNEED`]
/// is only advice here, as in glibc: it is not passed on as the
/// destructive `MADV_DONTNEED` (and does nothing).
///
/// # Safety
/// As for [`madvise`].
pub unsafe fn posix_madvise(addr: *mut u8, len: usize, advice: u32) -> Result<(), Errno> {
    if advice == POSIX_MADV_DONTNEED {
        return Ok(());
    }
    // SAFETY: the remaining POSIX advice values (0..=3) do not discard
    // data; forwarded contract.
    unsafe { madvise(addr, len, advice) }
}

/// `msync(2)`.
#[inline]
pub fn msync(addr: *mut u8, len: usize, flags: u32) -> Result<(), Errno> {
    // SAFETY: msync only flushes; the kernel checks the range.
    ret_unit(unsafe { syscall!(__NR_msync, addr, len, flags) })
}

/// `mlock(2)`.
#[inline]
pub fn mlock(addr: *const u8, len: usize) -> Result<(), Errno> {
    // SAFETY: locking changes no contents; the kernel checks the range.
    ret_unit(unsafe { syscall!(__NR_mlock, addr, len) })
}

/// `munlock(2)`.
#[inline]
pub fn munlock(addr: *const u8, len: usize) -> Result<(), Errno> {
    // SAFETY: as for mlock.
    ret_unit(unsafe { syscall!(__NR_munlock, addr, len) })
}

/// `mlockall(2)`.
#[inline]
pub fn mlockall(flags: u32) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    ret_unit(unsafe { syscall!(__NR_mlockall, flags) })
}

/// `munlockall(2)`.
#[inline]
pub fn munlockall() -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    ret_unit(unsafe { syscall!(__NR_munlockall) })
}

/// `memfd_create(2)`: an anonymous file, `flags` such as `MFD_CLOEXEC`.
pub fn memfd_create(name: &core::ffi::CStr, flags: u32) -> Result<Fd, Errno> {
    // SAFETY: `name` is NUL-terminated.
    ret(unsafe { syscall!(__NR_memfd_create, name.as_ptr(), flags) }).map(|fd| fd as Fd)
}

/// Makes instructions written through `[rw, rw + len)` visible to
/// instruction fetches from their alias at `rx` (another mapping of the
/// same pages): the cache maintenance of aarch64 (`arch`), the kernel's
/// `riscv_flush_icache` on riscv64 (all harts), nothing on x86_64.
///
/// # Safety
/// Both ranges are mapped (the executable one readable).
pub unsafe fn sync_icache(rw: usize, rx: usize, len: usize) {
    // SAFETY: the caller's contract.
    unsafe { crate::arch::sync_icache(rw, rx, len) };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: the call only flushes caches; the range is the caller's.
    // Its result is ignored: with no flush the kernel has nothing to do.
    let _ = unsafe { syscall!(__NR_riscv_flush_icache, rx, rx + len, 0usize) };
}
