//! Process start-up: saves argc/argv/envp/auxv from the initial stack, runs
//! `.preinit_array` and `.init_array`, calls the C-ABI `main` and exits with
//! its return value. No system call is made here.
//!
//! Initial stack layout (all arches): `sp[0]` = argc, then argc argv
//! pointers, NULL, the envp pointers, NULL, then (type, value) auxv pairs
//! ending with `AT_NULL`.

use core::sync::atomic::{AtomicPtr, Ordering};

/// The initial stack pointer, saved by [`rawrt_init`]; argc, argv, envp
/// and auxv are found from it when asked for, so start-up stores one word.
static SP: AtomicPtr<usize> = AtomicPtr::new(core::ptr::null_mut());

/// The saved argc, argv and envp, or `None` before [`rawrt_init`].
pub(crate) fn initial() -> Option<(usize, *const *const u8, *const *const u8)> {
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
    static __fini_array_start: [Option<extern "C" fn()>; 0];
    static __fini_array_end: [Option<extern "C" fn()>; 0];
}

/// A constructor, called with glibc's extra arguments (argc, argv, envp).
#[cfg(not(test))]
type Ctor = extern "C" fn(i32, *mut *const u8, *mut *const u8);

/// Runs `.preinit_array` then `.init_array`, in order.
#[cfg(not(test))]
unsafe fn run_constructors(argc: i32, argv: *mut *const u8, envp: *mut *const u8) {
    // SAFETY: the linker defines each start/end pair around an array of
    // function pointers (possibly empty).
    unsafe {
        for (mut f, end) in [
            (__preinit_array_start.as_ptr(), __preinit_array_end.as_ptr()),
            (__init_array_start.as_ptr(), __init_array_end.as_ptr()),
        ] {
            while f < end {
                (*f)(argc, argv, envp);
                f = f.add(1);
            }
        }
    }
}

/// Runs `.fini_array` in reverse order (called by `exit`).
#[cfg(not(test))]
pub(crate) fn run_destructors() {
    // SAFETY: as for the constructors: the linker's array bounds.
    unsafe {
        let start = __fini_array_start.as_ptr();
        let mut f = __fini_array_end.as_ptr();
        while f > start {
            f = f.sub(1);
            if let Some(dtor) = *f {
                dtor();
            }
        }
    }
}

#[cfg(test)]
pub(crate) fn run_destructors() {}

#[cfg(all(not(test), feature = "entry"))]
extern "C" {
    fn main(argc: i32, argv: *mut *const u8, envp: *mut *const u8) -> i32;
}

/// Called by `_start` with the initial stack pointer; never returns.
#[cfg(all(not(test), feature = "entry"))]
#[no_mangle]
unsafe extern "C" fn __rawrt_start(sp: *const usize) -> ! {
    // SAFETY: `_start` passes the kernel's initial stack pointer, once;
    // `main` is the program's C-ABI entry with the usual arguments.
    unsafe {
        rawrt_init(sp);
        let argc = *sp;
        let argv = sp.add(1) as *mut *const u8;
        super::exit(main(argc as i32, argv, argv.add(argc + 1)))
    }
}
