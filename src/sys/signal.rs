//! Signal dispositions and masks.

use super::{ret_unit, Errno};
use crate::syscall;

pub use linux_raw_sys::general::{
    SA_NODEFER, SA_RESETHAND, SA_RESTART, SA_SIGINFO, SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGFPE,
    SIGHUP, SIGILL, SIGINT, SIGKILL, SIGPIPE, SIGQUIT, SIGSEGV, SIGTERM, SIGUSR1, SIGUSR2,
    SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK,
};

/// The kernel's signal set: one bit per signal, bit `n - 1` for signal `n`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(pub u64);

impl SigSet {
    /// Every signal.
    pub const FULL: SigSet = SigSet(!0);
    /// The set holding only `sig`.
    pub const fn only(sig: u32) -> SigSet {
        SigSet(1 << (sig - 1))
    }
    /// Whether `sig` is in the set.
    pub const fn has(self, sig: u32) -> bool {
        self.0 & (1 << (sig - 1)) != 0
    }
}

/// `SIG_DFL`: the default action.
pub const SIG_DFL: usize = 0;
/// `SIG_IGN`: ignore the signal.
pub const SIG_IGN: usize = 1;

/// The kernel's `struct sigaction` (not glibc's: the mask is last and is
/// the kernel's 8-byte set).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SigAction {
    /// `SIG_DFL`, `SIG_IGN` or the handler's address.
    pub handler: usize,
    /// `SA_*` flags.
    pub flags: u64,
    /// The return trampoline (`SA_RESTORER`), needed on x86_64. riscv64's
    /// kernel struct has no such field.
    #[cfg(not(target_arch = "riscv64"))]
    pub restorer: usize,
    /// Signals blocked while the handler runs.
    pub mask: SigSet,
}

/// `rt_sigaction(2)`: sets `new` if given, returns the old action.
///
/// # Safety
/// A handler runs asynchronously; on x86_64 a handler must come with
/// `SA_RESTORER` and a restorer that issues `rt_sigreturn`.
pub unsafe fn rt_sigaction(sig: u32, new: Option<&SigAction>) -> Result<SigAction, Errno> {
    // qemu-user before 10.0 reads and writes a riscv64 sigaction as if it
    // had a restorer field: a spare word after each struct absorbs that.
    #[repr(C)]
    #[derive(Default)]
    struct Padded {
        act: SigAction,
        spare: u64,
    }
    let mut old = Padded::default();
    let new = new.map(|a| Padded { act: *a, spare: 0 });
    let newp = new.as_ref().map_or(core::ptr::null(), |a| a as *const Padded);
    // SAFETY: the kernel reads `new` and writes `old`; the set size is 8.
    ret_unit(unsafe { syscall!(__NR_rt_sigaction, sig, newp, &mut old as *mut Padded, 8usize) })?;
    Ok(old.act)
}

/// `rt_sigprocmask(2)`: applies `how` with `set` if given, returns the old mask.
pub fn rt_sigprocmask(how: u32, set: Option<&SigSet>) -> Result<SigSet, Errno> {
    let mut old = SigSet(0);
    let setp = set.map_or(core::ptr::null(), |s| s as *const SigSet);
    // SAFETY: the kernel reads `set` and writes `old`; the set size is 8.
    ret_unit(unsafe { syscall!(__NR_rt_sigprocmask, how, setp, &mut old as *mut SigSet, 8usize) })?;
    Ok(old)
}
