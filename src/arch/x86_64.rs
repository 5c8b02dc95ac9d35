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
    // SAFETY: natively four rotations of rdi by 128 bits in all and an
    // exchange of rbx with itself: no state changes; Valgrind reads the
    // arguments through rax and writes its answer to rdx.
    unsafe {
        asm!(
            "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inlateout("rdx") default => r,
            options(nostack),
        )
    };
    r
}

/// The thread pointer: the FS base's first word, which rawrt's thread
/// control block sets to its own address (so `mov %fs:0` reads it).
///
/// # Safety
/// The FS base must point at readable memory whose first word is the
/// pointer to return (glibc's and rawrt's thread blocks both do this).
#[inline(always)]
pub unsafe fn thread_pointer() -> *mut u8 {
    let p: *mut u8;
    // SAFETY: the caller guarantees that %fs:0 is readable.
    unsafe {
        asm!("mov {}, qword ptr fs:[0]", out(reg) p, options(nostack, preserves_flags, readonly))
    };
    p
}

/// Sets the calling thread's thread pointer (`arch_prctl(ARCH_SET_FS)`);
/// the memory at `p` must start with `p` itself. Returns the raw system
/// call result (0, or `-errno`).
///
/// # Safety
/// `p` must stay valid for as long as the thread runs; code that reads
/// the thread pointer finds whatever it points at.
#[inline]
pub unsafe fn set_thread_pointer(p: *mut u8) -> usize {
    use linux_raw_sys::general::{__NR_arch_prctl, ARCH_SET_FS};
    // SAFETY: arch_prctl(ARCH_SET_FS) only changes this thread's FS base.
    unsafe { syscall2(__NR_arch_prctl as usize, ARCH_SET_FS as usize, p as usize) }
}

/// Architecture-specific constants of the Linux ABI.
pub mod abi {
    /// `SA_RESTORER` is required for `rt_sigaction` on this architecture.
    pub const NEEDS_RESTORER: bool = true;
}

/// Makes instructions written through the writable view `[rw, rw + len)`
/// visible to instruction fetches from their executable alias at `rx`:
/// nothing to do: x86_64 keeps instruction fetches coherent with
/// stores, by physical address.
///
/// # Safety
/// Both ranges are mapped (the executable one readable).
pub unsafe fn sync_icache(rw: usize, rx: usize, len: usize) {
    let _ = (rw, rx, len);
}

/// How many integer arguments a C call passes in registers (rdi, rsi, rdx, rcx, r8, r9); the
/// rest go on the stack, variadic ones alike.
pub const INT_ARG_REGS: usize = 6;
