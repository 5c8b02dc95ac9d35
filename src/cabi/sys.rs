//! System interfaces with their standard C names: -1 (or `MAP_FAILED`) and
//! `errno` on error. `mremap` and `mq_open` are variadic in C; on the three
//! supported ABIs (SysV x86_64, AAPCS64 on Linux, RISC-V LP64) variadic
//! integer and pointer arguments travel exactly like named ones, so they
//! are defined here with their full argument lists.

use super::or_errno as c;
use crate::rt::errno;
use crate::sys::{self, io, mm, mq, process, shm, Fd};
use core::ffi::{c_char, CStr};

/// A byte slice from a C buffer; a null pointer with a zero length is empty.
///
/// # Safety
/// `p` must be valid for `n` bytes when non-null.
unsafe fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if n == 0 {
        &[]
    } else {
        // SAFETY: the caller vouches for the buffer.
        unsafe { core::slice::from_raw_parts(p, n) }
    }
}

c_name! {
unsafe extern "C" fn read(fd: Fd, buf: *mut u8, n: usize) -> isize {
    // SAFETY: the kernel checks the buffer (EFAULT); passed through raw.
    c(unsafe { io::read_raw(fd, buf, n) }.map(|v| v as isize), -1)
}
}

c_name! {
unsafe extern "C" fn write(fd: Fd, buf: *const u8, n: usize) -> isize {
    // SAFETY: the kernel checks the buffer (EFAULT); passed through raw.
    c(unsafe { io::write_raw(fd, buf, n) }.map(|v| v as isize), -1)
}
}

c_name! {
extern "C" fn close(fd: Fd) -> i32 {
    c(io::close(fd).map(|_| 0), -1)
}
}

c_name! {
extern "C" fn ftruncate(fd: Fd, len: i64) -> i32 {
    c(io::ftruncate(fd, len).map(|_| 0), -1)
}
}

c_name! {
extern "C" fn fork() -> i32 {
    c(process::fork(), -1)
}
}

c_name! {
/// C `brk`: 0, or -1 with `ENOMEM` when the kernel refused to move the break.
unsafe extern "C" fn brk(addr: *mut u8) -> i32 {
    // SAFETY: the caller owns the memory that moving the break affects.
    c(unsafe { mm::set_brk(addr as usize) }.map(|()| 0), -1)
}
}

c_name! {
/// C `sbrk`: moves the break by `incr` and returns the old break, or
/// `(void *)-1` with `ENOMEM`.
unsafe extern "C" fn sbrk(incr: isize) -> *mut u8 {
    // SAFETY: moving the break is the caller's request.
    c(unsafe { mm::sbrk(incr) }, usize::MAX) as *mut u8
}
}

c_name! {
unsafe extern "C" fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: Fd, off: i64) -> *mut u8 {
    // SAFETY: the C contract of mmap is the caller's.
    c(unsafe { mm::mmap(addr, len, prot as u32, flags as u32, fd, off as u64) }, usize::MAX as *mut u8)
}
}

c_name! {
unsafe extern "C" fn munmap(addr: *mut u8, len: usize) -> i32 {
    // SAFETY: the C contract of munmap is the caller's.
    c(unsafe { mm::munmap(addr, len) }.map(|_| 0), -1)
}
}

c_name! {
unsafe extern "C" fn mremap(old: *mut u8, old_len: usize, new_len: usize, flags: i32, new_addr: *mut u8) -> *mut u8 {
    // SAFETY: the C contract of mremap is the caller's; `new_addr` is read
    // by the kernel only with MREMAP_FIXED.
    c(unsafe { mm::mremap(old, old_len, new_len, flags as u32, new_addr) }, usize::MAX as *mut u8)
}
}

c_name! {
unsafe extern "C" fn mprotect(addr: *mut u8, len: usize, prot: i32) -> i32 {
    // SAFETY: the C contract of mprotect is the caller's.
    c(unsafe { mm::mprotect(addr, len, prot as u32) }.map(|_| 0), -1)
}
}

c_name! {
extern "C" fn msync(addr: *mut u8, len: usize, flags: i32) -> i32 {
    c(mm::msync(addr, len, flags as u32).map(|_| 0), -1)
}
}

c_name! {
extern "C" fn mlock(addr: *const u8, len: usize) -> i32 {
    c(mm::mlock(addr, len).map(|_| 0), -1)
}
}

c_name! {
extern "C" fn munlock(addr: *const u8, len: usize) -> i32 {
    c(mm::munlock(addr, len).map(|_| 0), -1)
}
}

c_name! {
extern "C" fn mlockall(flags: i32) -> i32 {
    c(mm::mlockall(flags as u32).map(|_| 0), -1)
}
}

c_name! {
extern "C" fn munlockall() -> i32 {
    c(mm::munlockall().map(|_| 0), -1)
}
}

c_name! {
unsafe extern "C" fn madvise(addr: *mut u8, len: usize, advice: i32) -> i32 {
    // SAFETY: the C contract of madvise is the caller's.
    c(unsafe { mm::madvise(addr, len, advice as u32) }.map(|_| 0), -1)
}
}

c_name! {
/// C `posix_madvise`: returns the error number instead of setting `errno`.
/// `POSIX_MADV_DONTNEED` (4) is only advice here, as in glibc: it is not
/// passed on as the destructive `MADV_DONTNEED`.
unsafe extern "C" fn posix_madvise(addr: *mut u8, len: usize, advice: i32) -> i32 {
    // SAFETY: the C contract of posix_madvise is the caller's.
    match unsafe { mm::posix_madvise(addr, len, advice as u32) } {
        Ok(()) => 0,
        Err(e) => e.raw(),
    }
}
}

c_name! {
/// C `shm_open`: opens `/dev/shm/NAME` with `O_NOFOLLOW | O_CLOEXEC` added.
unsafe extern "C" fn shm_open(name: *const c_char, oflag: i32, mode: u32) -> Fd {
    // SAFETY: `name` is a C string.
    let name = unsafe { CStr::from_ptr(name) };
    c(shm::shm_open(name, oflag as u32, mode), -1)
}
}

c_name! {
/// C `shm_unlink`.
unsafe extern "C" fn shm_unlink(name: *const c_char) -> i32 {
    // SAFETY: `name` is a C string.
    let name = unsafe { CStr::from_ptr(name) };
    c(shm::shm_unlink(name).map(|_| 0), -1)
}
}

c_name! {
/// C `mq_open(name, oflag, ...)`; `mode` and `attr` are read only with
/// `O_CREAT`, as in C.
unsafe extern "C" fn mq_open(name: *const c_char, oflag: i32, mode: u32, attr: *const mq::MqAttr) -> Fd {
    // SAFETY: `name` is a C string; `attr` is null or an mq_attr when
    // O_CREAT is given.
    let (name, creat) = unsafe { (CStr::from_ptr(name), oflag as u32 & linux_raw_sys::general::O_CREAT != 0) };
    // SAFETY: as above.
    let attr = if creat { unsafe { attr.as_ref() } } else { None };
    let mode = if creat { mode } else { 0 };
    c(mq::mq_open_named(name, oflag as u32, mode, attr), -1)
}
}

c_name! {
extern "C" fn mq_close(mqd: Fd) -> i32 {
    c(io::close(mqd).map(|_| 0), -1)
}
}

c_name! {
unsafe extern "C" fn mq_unlink(name: *const c_char) -> i32 {
    // SAFETY: `name` is a C string.
    let name = unsafe { CStr::from_ptr(name) };
    c(mq::mq_unlink_named(name).map(|_| 0), -1)
}
}

c_name! {
unsafe extern "C" fn mq_timedsend(mqd: Fd, msg: *const u8, len: usize, prio: u32, t: *const sys::time::Timespec) -> i32 {
    // SAFETY: the caller gives `len` readable bytes and a null or valid deadline.
    let (msg, t) = unsafe { (bytes(msg, len), t.as_ref()) };
    c(mq::mq_timedsend(mqd, msg, prio, t).map(|_| 0), -1)
}
}

c_name! {
unsafe extern "C" fn mq_send(mqd: Fd, msg: *const u8, len: usize, prio: u32) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { mq_timedsend(mqd, msg, len, prio, core::ptr::null()) }
}
}

c_name! {
unsafe extern "C" fn mq_timedreceive(
    mqd: Fd,
    buf: *mut u8,
    len: usize,
    prio: *mut u32,
    t: *const sys::time::Timespec,
) -> isize {
    // SAFETY: the caller gives `len` writable bytes, a null or valid
    // priority slot and a null or valid deadline.
    unsafe {
        let buf = if len == 0 { &mut [][..] } else { core::slice::from_raw_parts_mut(buf, len) };
        match mq::mq_timedreceive(mqd, buf, t.as_ref()) {
            Ok((n, p)) => {
                if !prio.is_null() {
                    *prio = p;
                }
                n as isize
            }
            Err(e) => {
                errno::set(e);
                -1
            }
        }
    }
}
}

c_name! {
unsafe extern "C" fn mq_receive(mqd: Fd, buf: *mut u8, len: usize, prio: *mut u32) -> isize {
    // SAFETY: forwarded contract.
    unsafe { mq_timedreceive(mqd, buf, len, prio, core::ptr::null()) }
}
}

c_name! {
unsafe extern "C" fn mq_getattr(mqd: Fd, attr: *mut mq::MqAttr) -> i32 {
    match mq::mq_getsetattr(mqd, None) {
        Ok(a) => {
            // SAFETY: the caller gives a writable mq_attr.
            unsafe { *attr = a };
            0
        }
        Err(e) => {
            errno::set(e);
            -1
        }
    }
}
}

c_name! {
unsafe extern "C" fn mq_setattr(mqd: Fd, new: *const mq::MqAttr, old: *mut mq::MqAttr) -> i32 {
    // SAFETY: the caller gives a readable new attribute set.
    match mq::mq_getsetattr(mqd, unsafe { new.as_ref() }) {
        Ok(a) => {
            if !old.is_null() {
                // SAFETY: non-null `old` is writable.
                unsafe { *old = a };
            }
            0
        }
        Err(e) => {
            errno::set(e);
            -1
        }
    }
}
}

c_name! {
unsafe extern "C" fn mq_notify(mqd: Fd, sevp: *const u8) -> i32 {
    // SAFETY: `sevp` is null or a struct sigevent.
    c(unsafe { mq::mq_notify(mqd, sevp) }.map(|_| 0), -1)
}
}
