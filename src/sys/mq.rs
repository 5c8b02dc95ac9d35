//! POSIX message queues (`mq_overview(7)`). Names passed to the kernel have
//! no leading '/' ([`kernel_name`] strips it for the `_named` functions and
//! the C wrappers, as glibc does).

use super::time::Timespec;
use super::{ret, ret_unit, Errno, Fd};
use crate::syscall;
use core::ffi::CStr;

/// `struct mq_attr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MqAttr {
    /// `O_NONBLOCK` or 0.
    pub flags: i64,
    /// Maximum number of messages in the queue.
    pub maxmsg: i64,
    /// Maximum message size in bytes.
    pub msgsize: i64,
    /// Messages now in the queue.
    pub curmsgs: i64,
    /// Reserved.
    pub reserved: [i64; 4],
}

/// The kernel's name (`NAME`) for a queue named `/NAME`, or `EINVAL`.
pub fn kernel_name(name: &CStr) -> Result<&CStr, Errno> {
    match name.to_bytes_with_nul().split_first() {
        Some((b'/', rest)) => CStr::from_bytes_with_nul(rest).map_err(|_| Errno::EINVAL),
        _ => Err(Errno::EINVAL),
    }
}

/// C's `mq_open(3)`: [`mq_open`] for a queue named `/NAME`.
pub fn mq_open_named(
    name: &CStr,
    flags: u32,
    mode: u32,
    attr: Option<&MqAttr>,
) -> Result<Fd, Errno> {
    mq_open(kernel_name(name)?, flags, mode, attr)
}

/// C's `mq_unlink(3)`: [`mq_unlink`] for a queue named `/NAME`.
pub fn mq_unlink_named(name: &CStr) -> Result<(), Errno> {
    mq_unlink(kernel_name(name)?)
}

/// `mq_open(2)` with a kernel name (no leading '/').
pub fn mq_open(name: &CStr, flags: u32, mode: u32, attr: Option<&MqAttr>) -> Result<Fd, Errno> {
    let attrp = attr.map_or(core::ptr::null(), |a| a as *const MqAttr);
    // SAFETY: `name` is NUL-terminated; `attr` is null or live.
    ret(unsafe { syscall!(__NR_mq_open, name.as_ptr(), flags, mode, attrp) }).map(|fd| fd as Fd)
}

/// `mq_unlink(2)` with a kernel name.
pub fn mq_unlink(name: &CStr) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated.
    ret_unit(unsafe { syscall!(__NR_mq_unlink, name.as_ptr()) })
}

/// `mq_timedsend(2)`; `deadline` is absolute (`CLOCK_REALTIME`).
pub fn mq_timedsend(
    mqd: Fd,
    msg: &[u8],
    prio: u32,
    deadline: Option<&Timespec>,
) -> Result<(), Errno> {
    let tp = deadline.map_or(core::ptr::null(), |t| t as *const Timespec);
    // SAFETY: the kernel reads `msg.len()` bytes and an optional timespec.
    ret_unit(unsafe { syscall!(__NR_mq_timedsend, mqd, msg.as_ptr(), msg.len(), prio, tp) })
}

/// `mq_timedreceive(2)`: returns the message length and its priority.
pub fn mq_timedreceive(
    mqd: Fd,
    buf: &mut [u8],
    deadline: Option<&Timespec>,
) -> Result<(usize, u32), Errno> {
    let tp = deadline.map_or(core::ptr::null(), |t| t as *const Timespec);
    let mut prio = 0u32;
    // SAFETY: the kernel writes at most `buf.len()` bytes and one u32.
    let n = ret(unsafe {
        syscall!(__NR_mq_timedreceive, mqd, buf.as_mut_ptr(), buf.len(), &mut prio as *mut u32, tp)
    })?;
    Ok((n, prio))
}

/// `mq_notify(2)`; `sevp` is a `struct sigevent` or null to unregister.
///
/// # Safety
/// `sevp` must be null or point at a valid `struct sigevent`.
pub unsafe fn mq_notify(mqd: Fd, sevp: *const u8) -> Result<(), Errno> {
    // SAFETY: the caller vouches for `sevp`.
    ret_unit(unsafe { syscall!(__NR_mq_notify, mqd, sevp) })
}

/// `mq_getsetattr(2)`: sets `new` (only `flags` counts) if given, returns
/// the old attributes.
pub fn mq_getsetattr(mqd: Fd, new: Option<&MqAttr>) -> Result<MqAttr, Errno> {
    let mut old = MqAttr::default();
    let newp = new.map_or(core::ptr::null(), |a| a as *const MqAttr);
    // SAFETY: the kernel reads `new` and writes `old`.
    ret_unit(unsafe { syscall!(__NR_mq_getsetattr, mqd, newp, &mut old as *mut MqAttr) })?;
    Ok(old)
}
