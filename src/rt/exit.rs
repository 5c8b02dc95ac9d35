//! Ending the process: `exit` (atexit handlers, then `.fini_array`, then
//! `exit_group`), `_exit`, `atexit` and `abort`.

use crate::sys::{process, signal, Errno};
use core::sync::atomic::{AtomicUsize, Ordering};

/// How many `atexit` handlers can be registered (POSIX asks for 32).
pub const ATEXIT_MAX: usize = 32;

/// The handlers, as function addresses (0: none), and how many slots are
/// taken. Lock-free, so that `exit` carries no lock code into programs
/// that never start a thread: a slot is reserved by moving `LEN`, then
/// filled; `exit` pops by moving `LEN` back and takes the slot.
static SLOTS: [AtomicUsize; ATEXIT_MAX] = [const { AtomicUsize::new(0) }; ATEXIT_MAX];
static LEN: AtomicUsize = AtomicUsize::new(0);

// `run_handlers` as the last `.fini_array` entry (the first that `exit`
// runs), kept by the linker only where `atexit` is: `atexit` refers to it
// by an R_*_NONE relocation (an instruction-free `.reloc`), and nothing
// else does. A program that never calls `atexit` links neither the table
// nor the loop, and `exit` tests nothing for it. The section is named for
// GNU ld's own layout (`.dtors`: unprioritised, after the program's own
// entries, which come before librawrt.a on a C link line) but not one that
// GNU ld places in `.fini_array`; lld keeps `.dtors*` sections for their
// name unless they are SHF_LINK_ORDER ("o"), which it keeps with the
// section they are linked to: an empty anchor that only this entry refers
// to. rawrt's linker.ld puts it last. (GNU ld's own layout keeps `.dtors`
// by name, so there programs carry it whether they call `atexit` or not.)
// A layout that leaves it out of `.fini_array` (lld without a script) makes
// `atexit` fail with `ENOSYS` instead of registering handlers that would
// never run.
#[cfg(not(test))]
core::arch::global_asm!(
    ".pushsection .text.rawrt_atexit_anchor,\"ax\",%progbits",
    "__rawrt_atexit_anchor:",
    ".popsection",
    ".pushsection .dtors,\"awo\",%progbits,__rawrt_atexit_anchor",
    ".p2align 3",
    ".globl __rawrt_atexit_dtor",
    ".hidden __rawrt_atexit_dtor",
    "__rawrt_atexit_dtor: .8byte {run}",
    ".reloc __rawrt_atexit_dtor, BFD_RELOC_NONE, __rawrt_atexit_anchor",
    ".popsection",
    run = sym run_handlers,
);

/// Registers `f` to run at [`exit`], after every handler registered later.
/// Fails with `ENOMEM` once [`ATEXIT_MAX`] handlers are registered, and
/// with `ENOSYS` in a program whose linker left the handlers' destructor
/// out of `.fini_array` (lld without rawrt's linker.ld: `exit` would never
/// run them). (A handler registered by one thread while another is
/// already in `exit` may not run.)
pub fn atexit(f: extern "C" fn()) -> Result<(), Errno> {
    // The destructor that runs the handlers, linked with this function by
    // this reference (see `__rawrt_atexit_dtor` above), and placed where
    // `exit` runs it.
    #[cfg(not(test))]
    {
        extern "C" {
            static __rawrt_atexit_dtor: u8;
        }
        if !super::start::in_fini_array(core::ptr::addr_of!(__rawrt_atexit_dtor)) {
            return Err(Errno::ENOSYS);
        }
    }
    let mut n = LEN.load(Ordering::Acquire);
    loop {
        if n >= ATEXIT_MAX {
            return Err(Errno::ENOMEM);
        }
        match LEN.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(now) => n = now,
        }
    }
    if let Some(slot) = SLOTS.get(n) {
        slot.store(f as usize, Ordering::Release);
    }
    Ok(())
}

/// Ends the process: runs the `atexit` handlers in reverse order of
/// registration (a handler may register more, and may call `exit`), then
/// the `.fini_array` destructors, then `exit_group(status)`. `extern "C"`:
/// rawrt's `_start` (assembly) calls it with `main`'s result.
pub extern "C" fn exit(status: i32) -> ! {
    super::start::run_destructors();
    process::exit_group(status)
}

/// Runs the `atexit` handlers, newest first, until none is left (a
/// handler may register more). Run by `exit` as a `.fini_array` entry.
#[cfg_attr(test, allow(dead_code))]
extern "C" fn run_handlers() {
    // Plain loads and stores: only one thread may run `exit` (POSIX).
    loop {
        let n = LEN.load(Ordering::Acquire);
        if n == 0 {
            break;
        }
        LEN.store(n - 1, Ordering::Release);
        let f = SLOTS.get(n - 1).map_or(0, |s| {
            let f = s.load(Ordering::Acquire);
            s.store(0, Ordering::Relaxed);
            f
        });
        if f != 0 {
            // SAFETY: only `extern "C" fn()` addresses are stored.
            let f: extern "C" fn() = unsafe { core::mem::transmute::<usize, extern "C" fn()>(f) };
            f();
        }
    }
}

/// Ends the process at once with `status`: no handlers, no destructors.
pub fn _exit(status: i32) -> ! {
    process::exit_group(status)
}

/// Ends the process with `SIGABRT` and its default action (a core dump
/// where enabled), even if the program installed a handler or blocked it.
pub fn abort() -> ! {
    let dfl = signal::SigAction { handler: signal::SIG_DFL, ..Default::default() };
    // SAFETY: installing the default action needs no restorer.
    let _ = unsafe { signal::rt_sigaction(signal::SIGABRT, Some(&dfl)) };
    let _ =
        signal::rt_sigprocmask(signal::SIG_UNBLOCK, Some(&signal::SigSet::only(signal::SIGABRT)));
    let _ = process::tgkill(process::getpid(), process::gettid(), signal::SIGABRT);
    // Unreachable unless the kernel refused the signal: still never return.
    process::exit_group(127)
}
