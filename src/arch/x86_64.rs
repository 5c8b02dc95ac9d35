//! x86_64: `syscall` takes the number in rax and arguments in rdi, rsi, rdx,
//! r10, r8, r9; it clobbers rcx and r11 and returns in rax.

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
            // SAFETY: the caller guarantees the arguments suit `nr`; the asm
            // names every register the instruction reads or clobbers.
            unsafe {
                asm!("syscall",
                    inlateout("rax") nr => ret,
                    $(in($reg) $a,)*
                    lateout("rcx") _, lateout("r11") _,
                    options(nostack, preserves_flags));
            }
            ret
        }
    )*};
}

syscall_fns! {
    syscall0();
    syscall1(a0 => "rdi");
    syscall2(a0 => "rdi", a1 => "rsi");
    syscall3(a0 => "rdi", a1 => "rsi", a2 => "rdx");
    syscall4(a0 => "rdi", a1 => "rsi", a2 => "rdx", a3 => "r10");
    syscall5(a0 => "rdi", a1 => "rsi", a2 => "rdx", a3 => "r10", a4 => "r8");
    syscall6(a0 => "rdi", a1 => "rsi", a2 => "rdx", a3 => "r10", a4 => "r8", a5 => "r9");
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
    pub const NEEDS_RESTORER: bool = true;
}
