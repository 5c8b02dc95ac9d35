//! aarch64: `svc 0` takes the number in x8 and arguments in x0..x5 and
//! returns in x0.

use core::arch::asm;

macro_rules! syscall_fns {
    ($($name:ident($($a:ident => $reg:tt),*);)*) => {$(
        /// Issues the system call `nr` with the given arguments and returns
        /// the raw result (`-4095..=-1` is an error number).
        ///
        /// # Safety
        /// The arguments must be valid for system call `nr`.
        #[inline(always)]
        pub unsafe fn $name(nr: usize $(, $a: usize)*) -> usize {
            let ret: usize;
            // SAFETY: the caller guarantees the arguments suit `nr`.
            unsafe {
                syscall_fns!(@asm nr, ret $(, $a => $reg)*);
            }
            ret
        }
    )*};
    (@asm $nr:ident, $ret:ident) => {
        asm!("svc 0", in("x8") $nr, lateout("x0") $ret, options(nostack, preserves_flags))
    };
    (@asm $nr:ident, $ret:ident, $a0:ident => $r0:tt $(, $a:ident => $reg:tt)*) => {
        asm!("svc 0", in("x8") $nr, inlateout($r0) $a0 => $ret $(, in($reg) $a)*,
            options(nostack, preserves_flags))
    };
}

syscall_fns! {
    syscall0();
    syscall1(a0 => "x0");
    syscall2(a0 => "x0", a1 => "x1");
    syscall3(a0 => "x0", a1 => "x1", a2 => "x2");
    syscall4(a0 => "x0", a1 => "x1", a2 => "x2", a3 => "x3");
    syscall5(a0 => "x0", a1 => "x1", a2 => "x2", a3 => "x3", a4 => "x4");
    syscall6(a0 => "x0", a1 => "x1", a2 => "x2", a3 => "x3", a4 => "x4", a5 => "x5");
}

/// An optimisation barrier that keeps LLVM from turning a copy or fill loop
/// into a call to `memcpy`/`memset` (which would be the loop itself).
#[inline(always)]
pub fn barrier() {
    // SAFETY: an empty instruction sequence.
    unsafe { asm!("", options(nostack, preserves_flags)) };
}

/// Architecture-specific constants of the Linux ABI.
pub mod abi {
    /// `SA_RESTORER` is required for `rt_sigaction` on this architecture.
    pub const NEEDS_RESTORER: bool = false;
}
