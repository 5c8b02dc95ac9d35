//! Ending the process: `exit` (atexit handlers, then `.fini_array`, then
//! `exit_group`), `_exit`, `atexit` and `abort`.

use crate::sync::Lock;
use crate::sys::{process, signal, Errno};

/// How many `atexit` handlers can be registered (POSIX asks for 32).
pub const ATEXIT_MAX: usize = 32;

struct Handlers {
    fns: [Option<extern "C" fn()>; ATEXIT_MAX],
    len: usize,
}

static HANDLERS: Lock<Handlers> = Lock::new(Handlers { fns: [None; ATEXIT_MAX], len: 0 });

/// Registers `f` to run at [`exit`], after every handler registered later.
/// Fails with `ENOMEM` once [`ATEXIT_MAX`] handlers are registered.
pub fn atexit(f: extern "C" fn()) -> Result<(), Errno> {
    let mut h = HANDLERS.lock();
    let i = h.len;
    let slot = h.fns.get_mut(i).ok_or(Errno::ENOMEM)?;
    *slot = Some(f);
    h.len += 1;
    Ok(())
}

/// Ends the process: runs the `atexit` handlers in reverse order of
/// registration (a handler may register more, and may call `exit`), then
/// the `.fini_array` destructors, then `exit_group(status)`.
pub fn exit(status: i32) -> ! {
    loop {
        // Pop one handler at a time without holding the lock while it runs.
        let f = {
            let mut h = HANDLERS.lock();
            if h.len == 0 {
                break;
            }
            h.len -= 1;
            h.fns.get(h.len).copied().flatten()
        };
        if let Some(f) = f {
            f();
        }
    }
    super::start::run_destructors();
    process::exit_group(status)
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
    let _ = signal::rt_sigprocmask(signal::SIG_UNBLOCK, Some(&signal::SigSet::only(signal::SIGABRT)));
    let _ = process::tgkill(process::getpid(), process::gettid(), signal::SIGABRT);
    // Unreachable unless the kernel refused the signal: still never return.
    process::exit_group(127)
}
