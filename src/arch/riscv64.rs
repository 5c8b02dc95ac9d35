//! riscv64: `ecall` takes the number in a7 and arguments in a0..a5 and
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
        asm!("ecall", in("a7") $nr, lateout("a0") $ret, options(nostack, preserves_flags))
    };
    (@asm $nr:ident, $ret:ident, $a0:ident => $r0:tt $(, $a:ident => $reg:tt)*) => {
        asm!("ecall", in("a7") $nr, inlateout($r0) $a0 => $ret $(, in($reg) $a)*,
            options(nostack, preserves_flags))
    };
}

syscall_fns! {
    syscall0();
    syscall1(a0 => "a0");
    syscall2(a0 => "a0", a1 => "a1");
    syscall3(a0 => "a0", a1 => "a1", a2 => "a2");
    syscall4(a0 => "a0", a1 => "a1", a2 => "a2", a3 => "a3");
    syscall5(a0 => "a0", a1 => "a1", a2 => "a2", a3 => "a3", a4 => "a4");
    syscall6(a0 => "a0", a1 => "a1", a2 => "a2", a3 => "a3", a4 => "a4", a5 => "a5");
}

/// An optimisation barrier that keeps LLVM from turning a copy or fill loop
/// into a call to `memcpy`/`memset` (which would be the loop itself).
#[inline(always)]
pub fn barrier() {
    // Under Miri (which runs no inline assembly) a compiler fence does:
    // the loops it guards are interpreted, never turned into calls.
    #[cfg(miri)]
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    #[cfg(not(miri))]
    // SAFETY: an empty instruction sequence.
    unsafe {
        asm!("", options(nostack, preserves_flags))
    };
}

/// A Valgrind client request: Valgrind's documented "special instruction"
/// sequence with `args` (the request code and five arguments) and `default`,
/// the result when the program does not run under Valgrind (natively the
/// sequence changes no register and no memory).
#[inline(always)]
pub fn client_request(default: usize, args: &[usize; 6]) -> usize {
    let r: usize;
    // Under Miri (no inline assembly) no Valgrind is there either.
    #[cfg(miri)]
    {
        let _ = args;
        r = default;
    }
    #[cfg(not(miri))]
    // SAFETY: natively four shifts into the zero register and an or of a0
    // with itself: no state changes; Valgrind reads the arguments through
    // a4 and writes its answer to a3. Uncompressed, as Valgrind matches it.
    unsafe {
        asm!(
            ".option push", ".option norvc",
            "srli zero, zero, 3", "srli zero, zero, 13", "srli zero, zero, 51", "srli zero, zero, 61",
            "or a0, a0, a0",
            ".option pop",
            in("a4") args.as_ptr(),
            inlateout("a3") default => r,
            options(nostack),
        )
    };
    r
}

/// The thread pointer (register `tp`).
///
/// # Safety
/// None beyond what the caller does with the value: reading the register
/// is always allowed.
#[inline(always)]
pub unsafe fn thread_pointer() -> *mut u8 {
    let p: *mut u8;
    // SAFETY: copies a register.
    unsafe { asm!("mv {}, tp", out(reg) p, options(nostack, preserves_flags, nomem)) };
    p
}

/// Sets the calling thread's thread pointer (register `tp`, which the
/// psABI reserves for it and compiled code never allocates). Returns 0
/// (the same shape as on x86_64, where this is a system call).
///
/// # Safety
/// `p` must stay valid for as long as the thread runs; code that reads
/// the thread pointer finds whatever it points at.
#[inline]
pub unsafe fn set_thread_pointer(p: *mut u8) -> usize {
    // SAFETY: sets a register nothing but rawrt reads.
    unsafe { asm!("mv tp, {}", in(reg) p, options(nostack, preserves_flags)) };
    0
}

/// Architecture-specific constants of the Linux ABI.
pub mod abi {
    /// `SA_RESTORER` is required for `rt_sigaction` on this architecture.
    pub const NEEDS_RESTORER: bool = false;
}

/// Makes instructions written through the writable view `[rw, rw + len)`
/// visible to instruction fetches from their executable alias at `rx`:
/// nothing this layer can do: riscv64 needs the kernel
/// (`riscv_flush_icache`, called by `sys::mm::sync_icache`).
///
/// # Safety
/// Both ranges are mapped (the executable one readable).
pub unsafe fn sync_icache(rw: usize, rx: usize, len: usize) {
    let _ = (rw, rx, len);
}

/// How many integer arguments a C call passes in registers (a0 to a7); the
/// rest go on the stack, variadic ones alike.
pub const INT_ARG_REGS: usize = 8;
