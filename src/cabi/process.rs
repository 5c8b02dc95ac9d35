//! Processes, time and limits with their C names, for C and assembly
//! programs (and rawrt's C tests): `getpid`, `getuid`, `setuid`, `kill`,
//! `waitpid`, `pipe`, `clock_gettime`, `nanosleep`, `getrlimit`,
//! `setrlimit`. -1 and `errno` on error.

use super::or_errno as c;
use crate::rt::errno;
use crate::sys::time::Timespec;
use crate::sys::{self, io, process, Fd};

c_name! {
/// C `getpid`.
extern "C" fn getpid() -> i32 {
    process::getpid()
}
}

c_name! {
/// C `getuid`: the real user id.
extern "C" fn getuid() -> u32 {
    process::getuid()
}
}

c_name! {
/// C `setuid`: sets the user ids (all of them when privileged; a process
/// whose ids all become non-zero loses its capabilities).
extern "C" fn setuid(uid: u32) -> i32 {
    c(process::setuid(uid).map(|_| 0), -1)
}
}

c_name! {
/// C `kill`.
extern "C" fn kill(pid: i32, sig: i32) -> i32 {
    c(process::kill(pid, sig as u32).map(|_| 0), -1)
}
}

c_name! {
/// C `waitpid`: the child's pid (0 under `WNOHANG` when none changed
/// state), its status in `*status` when `status` is not null. Retried on
/// `EINTR`.
unsafe extern "C" fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32 {
    match process::wait4(pid, options as u32) {
        Ok((p, s)) => {
            if !status.is_null() && p != 0 {
                // SAFETY: C's contract: a non-null `status` is writable.
                unsafe { *status = s };
            }
            p
        }
        Err(e) => {
            errno::set(e);
            -1
        }
    }
}
}

c_name! {
/// C `pipe`: `fds[0]` is the read end, `fds[1]` the write end.
unsafe extern "C" fn pipe(fds: *mut Fd) -> i32 {
    match io::pipe2(0) {
        Ok(p) => {
            // SAFETY: C's contract: `fds` holds two ints.
            unsafe { fds.cast::<[Fd; 2]>().write(p) };
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
/// C `clock_gettime`.
unsafe extern "C" fn clock_gettime(clock: i32, t: *mut Timespec) -> i32 {
    match crate::rt::clock_gettime(clock as u32) {
        Ok(now) => {
            // SAFETY: C's contract: `t` is writable.
            unsafe { *t = now };
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
/// C `nanosleep`: on `EINTR` the time left is stored in a non-null `rem`.
unsafe extern "C" fn nanosleep(t: *const Timespec, rem: *mut Timespec) -> i32 {
    // SAFETY: the kernel reads `*t` and writes `*rem` if non-null; both
    // are the caller's (EFAULT otherwise).
    c(unsafe { sys::time::nanosleep(t, rem) }.map(|_| 0), -1)
}
}

c_name! {
/// C `getrlimit` (through `prlimit64` on this process).
unsafe extern "C" fn getrlimit(resource: i32, rlim: *mut process::Rlimit) -> i32 {
    match process::prlimit64(0, resource as u32, None) {
        Ok(r) => {
            // SAFETY: C's contract: `rlim` is writable.
            unsafe { *rlim = r };
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
/// C `setrlimit` (through `prlimit64` on this process).
unsafe extern "C" fn setrlimit(resource: i32, rlim: *const process::Rlimit) -> i32 {
    // SAFETY: C's contract: `rlim` is readable.
    let new = unsafe { &*rlim };
    c(process::prlimit64(0, resource as u32, Some(new)).map(|_| 0), -1)
}
}
