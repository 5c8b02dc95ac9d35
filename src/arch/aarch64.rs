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
    // SAFETY: natively four rotations of x12 by 128 bits in all and an or
    // of x10 with itself: no state changes; Valgrind reads the arguments
    // through x4 and writes its answer to x3.
    unsafe {
        asm!(
            "ror x12, x12, #3", "ror x12, x12, #13", "ror x12, x12, #51", "ror x12, x12, #61",
            "orr x10, x10, x10",
            in("x4") args.as_ptr(),
            inlateout("x3") default => r,
            options(nostack),
        )
    };
    r
}

/// The thread pointer (`tpidr_el0`).
///
/// # Safety
/// None beyond what the caller does with the value: reading the register
/// is always allowed.
#[inline(always)]
pub unsafe fn thread_pointer() -> *mut u8 {
    let p: *mut u8;
    // SAFETY: reads a user-readable system register.
    unsafe { asm!("mrs {}, tpidr_el0", out(reg) p, options(nostack, preserves_flags, nomem)) };
    p
}

/// Sets the calling thread's thread pointer (`tpidr_el0`). Returns 0 (the
/// same shape as on x86_64, where this is a system call).
///
/// # Safety
/// `p` must stay valid for as long as the thread runs; code that reads
/// the thread pointer finds whatever it points at.
#[inline]
pub unsafe fn set_thread_pointer(p: *mut u8) -> usize {
    // SAFETY: writes a user-writable system register that only rawrt reads.
    unsafe { asm!("msr tpidr_el0, {}", in(reg) p, options(nostack, preserves_flags)) };
    0
}

/// Architecture-specific constants of the Linux ABI.
pub mod abi {
    /// `SA_RESTORER` is required for `rt_sigaction` on this architecture.
    pub const NEEDS_RESTORER: bool = false;
}

/// Makes instructions written through the writable view `[rw, rw + len)`
/// visible to instruction fetches from their executable alias at `rx`:
/// `dc cvau` over the written lines, `ic ivau` over the alias's lines
/// (line sizes from `ctr_el0`), then the barriers.
///
/// # Safety
/// Both ranges are mapped (the executable one readable).
pub unsafe fn sync_icache(rw: usize, rx: usize, len: usize) {
    if len == 0 {
        return;
    }
    let ctr: usize;
    // SAFETY: reading ctr_el0 is allowed at EL0 on Linux.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    let dline = 4usize << ((ctr >> 16) & 15);
    let iline = 4usize << (ctr & 15);
    let mut a = rw & !(dline - 1);
    while a < rw + len {
        // SAFETY: the caller's contract: the line is mapped.
        unsafe { asm!("dc cvau, {}", in(reg) a, options(nostack)) };
        a += dline;
    }
    // SAFETY: a barrier.
    unsafe { asm!("dsb ish", options(nostack)) };
    let mut a = rx & !(iline - 1);
    while a < rx + len {
        // SAFETY: the caller's contract: the line is mapped.
        unsafe { asm!("ic ivau, {}", in(reg) a, options(nostack)) };
        a += iline;
    }
    // SAFETY: barriers.
    unsafe { asm!("dsb ish", "isb", options(nostack)) };
}

/// How many integer arguments a C call passes in registers (x0 to x7); the
/// rest go on the stack, variadic ones alike.
pub const INT_ARG_REGS: usize = 8;
