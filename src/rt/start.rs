//! Process start-up: saves argc/argv/envp/auxv from the initial stack, runs
//! `.preinit_array` and `.init_array`, calls the C-ABI `main` and exits with
//! its return value. No system call is made here.
//!
//! Initial stack layout (all arches): `sp[0]` = argc, then argc argv
//! pointers, NULL, the envp pointers, NULL, then (type, value) auxv pairs
//! ending with `AT_NULL`.

use core::sync::atomic::{AtomicPtr, Ordering};

/// The initial stack pointer, saved at start-up; argc, argv, envp and
/// auxv are found from it when asked for, so start-up stores one word.
static SP: AtomicPtr<usize> = AtomicPtr::new(core::ptr::null_mut());

// `save_sp` as the constructor that fills `SP`, kept by the linker only
// where something reads it: `initial` refers to the constructor by an
// R_*_NONE relocation (an instruction-free `.reloc`, one per inlined copy),
// and nothing else does. Pay for the saved stack pointer only when
// something reads it. The constructor's section is named for GNU ld's own
// layout (`.ctors.65535`: the first of `.init_array`, priority 0; that
// layout keeps `.ctors.*` by name, so there every program carries it);
// lld keeps `.ctors*` sections for their name unless they are
// SHF_LINK_ORDER ("o"), which it keeps with the section they are linked
// to: an empty anchor that only the constructor refers to. rawrt's
// linker.ld runs it before `.preinit_array`; lld without a script leaves
// it out (`args`, `env` and `getauxval` then find nothing, though `main`
// still gets argc and argv: README). (Where
// rawrt runs inside a glibc program, the C library's start-up passes argv
// to constructors as well.)
#[cfg(not(test))]
core::arch::global_asm!(
    ".pushsection .text.rawrt_sp_anchor,\"ax\",%progbits",
    "__rawrt_sp_anchor:",
    ".popsection",
    ".pushsection .ctors.65535,\"awo\",%progbits,__rawrt_sp_anchor",
    ".p2align 3",
    ".globl __rawrt_sp_ctor",
    ".hidden __rawrt_sp_ctor",
    "__rawrt_sp_ctor: .8byte {save}",
    ".reloc __rawrt_sp_ctor, BFD_RELOC_NONE, __rawrt_sp_anchor",
    ".popsection",
    save = sym save_sp,
);

/// The saved argc, argv and envp, or `None` before [`rawrt_init`].
#[inline]
pub(crate) fn initial() -> Option<(usize, *const *const u8, *const *const u8)> {
    // The constructor that fills `SP`, linked with this reader (above).
    #[cfg(not(test))]
    // SAFETY: a relocation that writes nothing; no instruction.
    unsafe {
        core::arch::asm!(
            ".reloc ., BFD_RELOC_NONE, __rawrt_sp_ctor",
            options(nomem, nostack, preserves_flags)
        );
    }
    let sp = SP.load(Ordering::Relaxed);
    if sp.is_null() {
        return None;
    }
    // SAFETY: `sp` is the kernel's initial stack (see the module docs).
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        Some((argc, argv, argv.add(argc + 1)))
    }
}

/// The constructor that saves the initial stack pointer (`argv - 1`),
/// run first of all by the constructor loop.
#[cfg(not(test))]
extern "C" fn save_sp(_argc: i32, argv: *mut *const u8, _envp: *mut *const u8) {
    // SAFETY: argv is one word above argc on the initial stack.
    SP.store(unsafe { argv.sub(1) } as *mut usize, Ordering::Relaxed);
}

/// Saves the initial stack pointer `sp` (argc, argv, the environment and
/// the auxiliary vector are found from it), then runs the constructors
/// (`.preinit_array`, `.init_array`). rawrt's own `_start` does this; a
/// program with its own `_start` may call it once, first thing, with the
/// stack pointer the kernel gave it, to get `args`, `env`, `getauxval` and
/// constructors.
///
/// # Safety
/// `sp` must be the process's initial stack pointer, and this must be
/// called at most once, before any other thread exists.
#[cfg_attr(all(not(test), feature = "cabi"), export_name = "rawrt_init")]
#[cfg_attr(not(all(not(test), feature = "cabi")), export_name = "rawrt_init_rs")]
pub unsafe extern "C" fn rawrt_init(sp: *const usize) {
    // Stored here as well as by `save_sp`: a program linked with a script
    // that does not place `.ctors.65535` still gets its arguments.
    SP.store(sp as *mut usize, Ordering::Relaxed);
    #[cfg(not(test))]
    // SAFETY: the caller passes the initial stack pointer.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *mut *const u8;
        run_constructors(argc as i32, argv, argv.add(argc + 1));
    }
}

#[cfg(not(test))]
extern "C" {
    static __preinit_array_start: [Ctor; 0];
    static __preinit_array_end: [Ctor; 0];
    static __init_array_start: [Ctor; 0];
    static __init_array_end: [Ctor; 0];
    static __fini_array_start: [extern "C" fn(); 0];
    static __fini_array_end: [extern "C" fn(); 0];
}

/// A constructor, called with glibc's extra arguments (argc, argv, envp).
#[cfg(not(test))]
type Ctor = extern "C" fn(i32, *mut *const u8, *mut *const u8);

/// Runs `.preinit_array` then `.init_array`, in order: one loop, which
/// moves on to `.init_array` where `.preinit_array` ends (rawrt's
/// linker.ld puts them end to end; other layouts work too).
#[cfg(not(test))]
#[inline(always)]
unsafe fn run_constructors(argc: i32, argv: *mut *const u8, envp: *mut *const u8) {
    // SAFETY: the linker defines each start/end pair around an array of
    // function pointers (possibly empty).
    unsafe {
        let mut f = __preinit_array_start.as_ptr();
        loop {
            if f == __preinit_array_end.as_ptr() {
                f = __init_array_start.as_ptr();
            }
            if f >= __init_array_end.as_ptr() {
                break;
            }
            (*f)(argc, argv, envp);
            f = f.add(1);
        }
    }
}

/// Runs `.fini_array` in reverse order (called by `exit`); `atexit`'s
/// handlers run from its last entry (see `rt::exit`). Every entry is
/// called, as the constructors are (and as glibc and musl do).
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn run_destructors() {
    // SAFETY: as for the constructors: the linker's array bounds.
    unsafe {
        let start = __fini_array_start.as_ptr();
        let mut f = __fini_array_end.as_ptr();
        while f > start {
            f = f.sub(1);
            (*f)();
        }
    }
}

#[cfg(test)]
pub(crate) fn run_destructors() {}

/// Whether `entry` lies in the `.fini_array` that [`run_destructors`]
/// runs: whether the linker placed it there (rawrt's linker.ld and GNU
/// ld's own layout do; lld without a script does not).
#[cfg(not(test))]
pub(crate) fn in_fini_array(entry: *const u8) -> bool {
    // SAFETY: only the addresses of the linker's array bounds are taken.
    let (start, end) =
        unsafe { (__fini_array_start.as_ptr().addr(), __fini_array_end.as_ptr().addr()) };
    (start..end).contains(&entry.addr())
}

// The process entry: `_start` (a weak symbol) and `__rawrt_start`, which
// runs the constructors, `main` and `exit`, in `asm/<arch>.s` (assembly:
// written in Rust, it saved registers and recomputed argc/argv/envp around
// each call, about 40-60 bytes more in every program).
#[cfg(all(not(test), feature = "entry", target_arch = "x86_64"))]
core::arch::global_asm!(
    include_str!("../../asm/x86_64.s"),
    exit = sym super::exit::exit,
    options(att_syntax)
);
#[cfg(all(not(test), feature = "entry", target_arch = "aarch64"))]
core::arch::global_asm!(include_str!("../../asm/aarch64.s"), exit = sym super::exit::exit);
#[cfg(all(not(test), feature = "entry", target_arch = "riscv64"))]
core::arch::global_asm!(include_str!("../../asm/riscv64.s"), exit = sym super::exit::exit);
