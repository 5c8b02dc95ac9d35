//! The `#[repr(C)]` structs rawrt passes to the kernel, checked against the
//! kernel's own layouts as `linux-raw-sys` generates them from the UAPI
//! headers of each architecture (rawrt's `sys::consts`).
//!
//! qemu-user cannot catch a wrong layout here when qemu shares the mistake:
//! qemu before 10.0 gave RISC-V a `sa_restorer` word in `struct sigaction`
//! that the kernel does not have (fixed by "linux-user: Move
//! TARGET_SA_RESTORER out of generic/signal.h", Feb 2025), so a read-back
//! test under qemu-riscv64 7.2 passes with the wrong layout. This test
//! compares layouts instead of behaviour.

use core::mem::{offset_of, size_of};
use rawrt::sys::consts as c;
use rawrt::sys::mq::MqAttr;
use rawrt::sys::signal::{SigAction, SigSet};
use rawrt::sys::time::Timespec;

pub fn sigaction_matches_kernel_struct() {
    assert_eq!(size_of::<SigSet>(), size_of::<c::sigset_t>(), "sigset size");
    assert_eq!(offset_of!(SigAction, handler), offset_of!(c::sigaction, sa_handler));
    assert_eq!(offset_of!(SigAction, flags), offset_of!(c::sigaction, sa_flags));
    // On riscv64 the kernel's struct is { handler, flags, mask }: no
    // sa_restorer (arch/riscv defines no SA_RESTORER).
    assert_eq!(
        offset_of!(SigAction, mask),
        offset_of!(c::sigaction, sa_mask),
        "sa_mask offset: rawrt's SigAction has a restorer word this architecture's kernel struct lacks"
    );
    assert_eq!(size_of::<SigAction>(), size_of::<c::sigaction>());
}

pub fn timespec_and_mq_attr_match_kernel_structs() {
    assert_eq!(size_of::<Timespec>(), size_of::<c::__kernel_timespec>());
    assert_eq!(offset_of!(Timespec, sec), offset_of!(c::__kernel_timespec, tv_sec));
    assert_eq!(offset_of!(Timespec, nsec), offset_of!(c::__kernel_timespec, tv_nsec));
    // struct mq_attr (include/uapi/linux/mqueue.h; not in linux-raw-sys):
    // four longs and `long __reserved[4]`.
    assert_eq!(size_of::<MqAttr>(), size_of::<[core::ffi::c_long; 8]>());
    assert_eq!(
        [
            offset_of!(MqAttr, flags),
            offset_of!(MqAttr, maxmsg),
            offset_of!(MqAttr, msgsize),
            offset_of!(MqAttr, curmsgs)
        ],
        [0, 8, 16, 24]
    );
}
