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

// The process entry `_start` (a weak symbol) lives in `asm/<arch>.s`.
#[cfg(all(not(test), feature = "entry", target_arch = "x86_64"))]
core::arch::global_asm!(include_str!("../../asm/x86_64.s"), options(att_syntax));
#[cfg(all(not(test), feature = "entry", target_arch = "aarch64"))]
core::arch::global_asm!(include_str!("../../asm/aarch64.s"));
#[cfg(all(not(test), feature = "entry", target_arch = "riscv64"))]
core::arch::global_asm!(include_str!("../../asm/riscv64.s"));

// Thread start and self-unmapping exit (`__rawrt_clone`,
// `__rawrt_unmap_exit`), in every build: each function has its own
// section, so programs without threads drop them.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(include_str!("../../asm/x86_64-thread.s"), options(att_syntax));
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(include_str!("../../asm/aarch64-thread.s"));
#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(include_str!("../../asm/riscv64-thread.s"));

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
