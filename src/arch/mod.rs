//! Architecture layer: the system-call instruction, the thread pointer and a
//! compiler barrier, one file per architecture with an identical item list;
//! here, the thread start and self-unmapping exit (`asm/<arch>-thread.s`).
//!
//! # Safety
//! Every function here issues a raw instruction. The callers in `sys` give
//! each system call arguments of the right kind; this layer only moves them
//! into the registers the kernel ABI names.

#[cfg_attr(target_arch = "x86_64", path = "x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "riscv64.rs")]
mod imp;

pub use imp::*;

// Thread start and self-unmapping exit (`__rawrt_clone`,
// `__rawrt_unmap_exit`), in every build: each function has its own
// section, so programs without threads drop them.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(include_str!("../../asm/x86_64-thread.s"), options(att_syntax));
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(include_str!("../../asm/aarch64-thread.s"));
#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(include_str!("../../asm/riscv64-thread.s"));

// C variadic entry points (`asm/<arch>-varargs.s`): trampolines that
// collect the integer argument registers and point at the stack arguments,
// then call `__rawrt_varargs` (in `cabi`). Each is exported under its C
// name, or `rawrt_NAME` without the `cabi` feature, as an alias of its
// `__rawrt_` symbol (in the same assembly, so that the alias resolves).
#[cfg(not(test))]
macro_rules! varargs {
    ($file:literal, $ty:literal, $p:literal $(, $opt:ident)?) => {
        core::arch::global_asm!(
            include_str!($file),
            concat!(".globl ", $p, "heap_caps_malloc_prefer"),
            concat!(".type ", $p, "heap_caps_malloc_prefer, ", $ty, "function"),
            concat!(".set ", $p, "heap_caps_malloc_prefer, __rawrt_heap_caps_malloc_prefer"),
            concat!(".globl ", $p, "heap_caps_calloc_prefer"),
            concat!(".type ", $p, "heap_caps_calloc_prefer, ", $ty, "function"),
            concat!(".set ", $p, "heap_caps_calloc_prefer, __rawrt_heap_caps_calloc_prefer"),
            concat!(".globl ", $p, "heap_caps_realloc_prefer"),
            concat!(".type ", $p, "heap_caps_realloc_prefer, ", $ty, "function"),
            concat!(".set ", $p, "heap_caps_realloc_prefer, __rawrt_heap_caps_realloc_prefer"),
            $(options($opt))?
        );
    };
}
#[cfg(all(not(test), feature = "cabi", target_arch = "x86_64"))]
varargs!("../../asm/x86_64-varargs.s", "@", "", att_syntax);
#[cfg(all(not(test), not(feature = "cabi"), target_arch = "x86_64"))]
varargs!("../../asm/x86_64-varargs.s", "@", "rawrt_", att_syntax);
#[cfg(all(not(test), feature = "cabi", target_arch = "aarch64"))]
varargs!("../../asm/aarch64-varargs.s", "%", "");
#[cfg(all(not(test), not(feature = "cabi"), target_arch = "aarch64"))]
varargs!("../../asm/aarch64-varargs.s", "%", "rawrt_");
#[cfg(all(not(test), feature = "cabi", target_arch = "riscv64"))]
varargs!("../../asm/riscv64-varargs.s", "@", "");
#[cfg(all(not(test), not(feature = "cabi"), target_arch = "riscv64"))]
varargs!("../../asm/riscv64-varargs.s", "@", "rawrt_");

/// The integer arguments of a C variadic call as a trampoline of
/// `asm/<arch>-varargs.s` collected them: the argument registers in an
/// array, then the caller's stack arguments.
#[derive(Clone, Copy, Debug)]
pub struct VarArgs {
    regs: *const usize,
    stack: *const usize,
}

impl VarArgs {
    /// The arguments at `regs` ([`INT_ARG_REGS`] words) and `stack`.
    ///
    /// # Safety
    /// As the trampolines pass them: `regs` holds the argument registers,
    /// `stack` points at the caller's stack arguments.
    pub unsafe fn new(regs: *const usize, stack: *const usize) -> VarArgs {
        VarArgs { regs, stack }
    }

    /// Integer argument `i` (from 0, the named ones counted), as a word:
    /// a 32-bit argument is in its low half, its high half unspecified.
    ///
    /// # Safety
    /// The caller passed at least `i + 1` integer arguments.
    #[inline]
    pub unsafe fn get(&self, i: usize) -> usize {
        // SAFETY: the caller's contract: the word is the argument's slot.
        unsafe {
            if i < INT_ARG_REGS {
                self.regs.add(i).read()
            } else {
                self.stack.add(i - INT_ARG_REGS).read()
            }
        }
    }
}

extern "C" {
    fn __rawrt_clone(
        flags: usize,
        stack: *mut u8,
        ptid: *mut u32,
        ctid: *mut u32,
        tls: usize,
        entry: unsafe extern "C" fn(*mut u8) -> !,
        arg: *mut u8,
    ) -> isize;
    fn __rawrt_unmap_exit(base: *mut u8, len: usize) -> !;
}

/// `clone(2)` for a thread: the child starts on `stack` (its top; aligned
/// down to 16 bytes) and runs `entry(arg)` with nothing of the caller's
/// frame. `ptid`, `ctid` and `tls` are passed to the kernel in this
/// architecture's argument order. Returns the child's tid, or `-errno`.
///
/// # Safety
/// `stack` must be the top of memory that stays mapped and unused by
/// anything else until the thread has exited; `flags` must make a thread
/// (`CLONE_VM` and friends) whose `entry` never returns; `ptid`, `ctid`
/// and `tls` must be valid for the flags that name them.
#[inline]
pub unsafe fn clone_thread(
    flags: usize,
    stack: *mut u8,
    ptid: *mut u32,
    ctid: *mut u32,
    tls: usize,
    entry: unsafe extern "C" fn(*mut u8) -> !,
    arg: *mut u8,
) -> isize {
    // SAFETY: the caller guarantees the stack and the flags; the
    // trampoline moves the arguments into this architecture's order.
    unsafe { __rawrt_clone(flags, stack, ptid, ctid, tls, entry, arg) }
}

/// Unmaps `base..base + len` and ends the calling thread (`exit(0)`)
/// without touching memory in between: a detached thread releases its
/// own stack this way.
///
/// # Safety
/// Signals must be blocked (a handler would run on the unmapped stack),
/// the kernel must no longer clear a tid inside the range at exit
/// (`set_tid_address(NULL)`), and nothing else may use the range.
#[inline]
pub unsafe fn unmap_and_exit(base: *mut u8, len: usize) -> ! {
    // SAFETY: the caller guarantees that nothing runs on the range.
    unsafe { __rawrt_unmap_exit(base, len) }
}

/// Defines `$stub`, an assembly function that jumps to the `extern "C"`
/// function `$target` with the arguments it got plus two: its return
/// address (argument `$n`, from 0) and the frame-pointer register as it
/// found it (argument `$n + 1`). Reached by a tail call (a `jmp`, `b` or
/// `tail` from a function that pushed nothing), its return address is that
/// function's caller's: how the C allocation functions learn who called
/// them at no cost on their fast paths. `$n` is 1, 2, 3 or 4. An optional
/// `$alias` is exported as another (global) name of the stub. Each
/// architecture gives the two instructions ([`caller_stub_asm`]).
#[cfg(target_arch = "x86_64")]
#[macro_export]
#[doc(hidden)]
macro_rules! caller_stub {
    ($stub:literal, $target:path, 1 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mov rsi, qword ptr [rsp]", "mov rdx, rbp\n jmp {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 2 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mov rdx, qword ptr [rsp]", "mov rcx, rbp\n jmp {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 3 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mov rcx, qword ptr [rsp]", "mov r8, rbp\n jmp {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 4 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mov r8, qword ptr [rsp]", "mov r9, rbp\n jmp {t}" $(, $a)?);
    };
}

/// See the x86_64 [`caller_stub`].
#[cfg(target_arch = "aarch64")]
#[macro_export]
#[doc(hidden)]
macro_rules! caller_stub {
    ($stub:literal, $target:path, 1 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "%", "mov x1, x30", "mov x2, x29\n b {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 2 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "%", "mov x2, x30", "mov x3, x29\n b {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 3 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "%", "mov x3, x30", "mov x4, x29\n b {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 4 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "%", "mov x4, x30", "mov x5, x29\n b {t}" $(, $a)?);
    };
}

/// See the x86_64 [`caller_stub`].
#[cfg(target_arch = "riscv64")]
#[macro_export]
#[doc(hidden)]
macro_rules! caller_stub {
    ($stub:literal, $target:path, 1 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mv a1, ra", "mv a2, s0\n tail {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 2 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mv a2, ra", "mv a3, s0\n tail {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 3 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mv a3, ra", "mv a4, s0\n tail {t}" $(, $a)?);
    };
    ($stub:literal, $target:path, 4 $(, $a:literal)?) => {
        $crate::caller_stub_asm!($stub, $target, "@", "mv a4, ra", "mv a5, s0\n tail {t}" $(, $a)?);
    };
}

/// The body of every [`caller_stub`]: the function `$stub` in a section
/// of its own, `$ret` (the return address into argument `$n`), then
/// `$fp_jump` (the frame pointer into argument `$n + 1`, and the jump to
/// `$target`); `$at` is the assembler's type prefix (`@`, or `%` on
/// aarch64).
#[macro_export]
#[doc(hidden)]
macro_rules! caller_stub_asm {
    ($stub:literal, $target:path, $at:literal, $ret:literal, $fp_jump:literal $(, $alias:literal)?) => {
        #[cfg(not(test))]
        core::arch::global_asm!(
            concat!(".pushsection .text.", $stub, ",\"ax\",", $at, "progbits"),
            concat!(".globl ", $stub),
            concat!(".hidden ", $stub),
            concat!(".type ", $stub, ",", $at, "function"),
            ".p2align 2",
            concat!($stub, ":"),
            $ret,
            $fp_jump,
            concat!(".size ", $stub, ", . - ", $stub),
            $(concat!(".globl ", $alias), concat!(".set ", $alias, ", ", $stub),)?
            ".popsection",
            t = sym $target,
        );
    };
}

/// Where a frame record (saved by code built with frame pointers) lies
/// from the frame-pointer register: the caller's frame pointer at
/// `fp + FRAME_NEXT`, the return address at `fp + FRAME_RET`. x86_64 and
/// aarch64 point at the record; riscv64 points just above it.
#[cfg(not(target_arch = "riscv64"))]
pub const FRAME_NEXT: isize = 0;
/// See [`FRAME_NEXT`].
#[cfg(not(target_arch = "riscv64"))]
pub const FRAME_RET: isize = 8;
/// See [`FRAME_NEXT`].
#[cfg(target_arch = "riscv64")]
pub const FRAME_NEXT: isize = -16;
/// See [`FRAME_NEXT`].
#[cfg(target_arch = "riscv64")]
pub const FRAME_RET: isize = -8;
