//! Processes: exit, identity, signals to processes, limits, clone and wait.

use super::{ret, ret_unit, Errno};
use crate::syscall;

pub use linux_raw_sys::general::{
    rlimit64 as Rlimit, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_FILES, CLONE_FS,
    CLONE_PARENT_SETTID, CLONE_SETTLS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_VM,
    RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIMIT_NOFILE, RLIMIT_STACK, RLIM_INFINITY, SIGCHLD,
    WNOHANG,
};

/// `exit(2)`: ends the calling thread only.
#[inline]
pub fn exit(status: i32) -> ! {
    // SAFETY: the thread ends here; nothing runs after it.
    unsafe { syscall!(__NR_exit, status) };
    // The kernel never returns from exit.
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `exit_group(2)`: ends the process with `status & 0xff`.
#[inline]
pub fn exit_group(status: i32) -> ! {
    // SAFETY: the process ends here.
    unsafe { syscall!(__NR_exit_group, status) };
    // The kernel never returns from exit_group.
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `getpid(2)`.
#[inline]
pub fn getpid() -> i32 {
    // SAFETY: no arguments; getpid cannot fail.
    unsafe { syscall!(__NR_getpid) as i32 }
}

/// `getuid(2)`: the real user id.
#[inline]
pub fn getuid() -> u32 {
    // SAFETY: no arguments; getuid cannot fail.
    unsafe { syscall!(__NR_getuid) as u32 }
}

/// `setuid(2)`: sets the user ids (all of them when privileged; a process
/// whose ids all become non-zero loses its capabilities).
#[inline]
pub fn setuid(uid: u32) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    ret_unit(unsafe { syscall!(__NR_setuid, uid) })
}

/// `gettid(2)`.
#[inline]
pub fn gettid() -> i32 {
    // SAFETY: no arguments; gettid cannot fail.
    unsafe { syscall!(__NR_gettid) as i32 }
}

/// `kill(2)`.
#[inline]
pub fn kill(pid: i32, sig: u32) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    ret_unit(unsafe { syscall!(__NR_kill, pid, sig) })
}

/// `tgkill(2)`: a signal to one thread.
#[inline]
pub fn tgkill(tgid: i32, tid: i32, sig: u32) -> Result<(), Errno> {
    // SAFETY: no memory is passed.
    ret_unit(unsafe { syscall!(__NR_tgkill, tgid, tid, sig) })
}

/// `prlimit64(2)` on process `pid` (0: this one): sets `new` if given and
/// returns the old limit.
pub fn prlimit64(pid: i32, resource: u32, new: Option<&Rlimit>) -> Result<Rlimit, Errno> {
    let mut old = Rlimit { rlim_cur: 0, rlim_max: 0 };
    let newp = new.map_or(core::ptr::null(), |r| r as *const Rlimit);
    // SAFETY: the kernel reads `new` and writes `old`, both live.
    ret_unit(unsafe { syscall!(__NR_prlimit64, pid, resource, newp, &mut old as *mut Rlimit) })?;
    Ok(old)
}

/// `wait4(2)` without resource usage: returns `(pid, status)`, or
/// `(0, 0)` under `WNOHANG` when no child has changed state.
pub fn wait4(pid: i32, options: u32) -> Result<(i32, i32), Errno> {
    let mut status = 0i32;
    loop {
        // SAFETY: the kernel writes one int; no rusage is asked for.
        let r = unsafe {
            syscall!(__NR_wait4, pid, &mut status as *mut i32, options, core::ptr::null_mut::<u8>())
        };
        match ret(r) {
            Ok(p) => return Ok((p as i32, status)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Decoded wait status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
    /// Anything else (stopped, continued), raw.
    Other(i32),
}

impl WaitStatus {
    /// Decodes a raw `wait4` status.
    pub fn from_raw(s: i32) -> WaitStatus {
        if s & 0x7f == 0 {
            WaitStatus::Exited((s >> 8) & 0xff)
        } else if ((s & 0x7f) + 1) as i8 >= 2 {
            WaitStatus::Signaled(s & 0x7f)
        } else {
            WaitStatus::Other(s)
        }
    }
}

/// The raw `clone(2)` call with a new stack of 0 (fork-like): the child
/// returns 0 on the same stack.
///
/// # Safety
/// With `CLONE_VM` the child shares our memory and stack; only flags that
/// give the child its own copy of the address space are safe here.
pub unsafe fn clone(
    flags: usize,
    parent_tid: *mut i32,
    child_tid: *mut i32,
    tls: usize,
) -> Result<i32, Errno> {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: x86_64 order is (flags, stack, parent_tid, child_tid, tls).
    let r = unsafe { syscall!(__NR_clone, flags, 0usize, parent_tid, child_tid, tls) };
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: the generic order is (flags, stack, parent_tid, tls, child_tid).
    let r = unsafe { syscall!(__NR_clone, flags, 0usize, parent_tid, tls, child_tid) };
    ret(r).map(|t| t as i32)
}

/// `fork()`: a child process with a copy of our memory. Returns 0 in the
/// child and the child's pid in the parent.
pub fn fork() -> Result<i32, Errno> {
    // SAFETY: without CLONE_VM the child has its own address space, so
    // returning on the same stack is what fork does.
    unsafe { clone(SIGCHLD as usize, core::ptr::null_mut(), core::ptr::null_mut(), 0) }
}
