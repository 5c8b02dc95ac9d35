//! Threads without a heap: [`spawn`] and [`JoinHandle::join`], a
//! [`Builder`] for the stack size, [`current`], [`yield_now`], [`sleep`]
//! and [`exit`]; [`c11`] has the semantics of C11's `<threads.h>`
//! (`thrd_*`, `mtx_*`) that the C ABI exports.
//!
//! A thread is one `mmap` region: a guard page, the stack, and at the top
//! the thread control block with the closure and the result slot (see
//! `spawn.rs`), so spawning allocates nothing else. Threads are started
//! with `clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
//! CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
//! CLONE_CHILD_CLEARTID)` through a small assembly trampoline per
//! architecture (`asm/<arch>-thread.s`). Join sleeps on the tid word that
//! the kernel clears when the thread exits, then unmaps the region.
//!
//! Each thread's thread pointer (FS base, `tpidr_el0`, `tp`) points at its
//! control block, which holds its tid and starts with the head that the
//! lower layers use (`rt/tls.rs`: its own `errno`, the heap's per-thread
//! slot); a thread's end runs the one exit hook registered there (the
//! heap's, which gives the thread's cache back), so this module does not
//! import the heap (see `tcb.rs`).
//! The main thread gets its thread pointer at the first spawn, and the
//! locks of [`crate::sync`] switch to atomics then too
//! ([`crate::sync::set_threaded`]): a program that never spawns pays
//! nothing.
//!
//! Ending: a thread ends when its closure returns or when it calls
//! [`exit`]. A panic in any thread ends the whole process with status 101
//! (the runtime's panic handler), as documented for `rawrt::rt`. When the
//! main thread calls [`exit`] the process lives on until the last thread
//! ends, then exits with status 0 (running `atexit` handlers), as C11's
//! `thrd_exit` asks; returning from `main` ends every thread at once.
//!
//! Not supported: thread-local storage (`_Thread_local` / `__thread` in
//! linked C code, which would need a TLS block next to the control
//! block), scoped threads, thread names.

pub mod c11;
mod spawn;
mod tcb;

use core::time::Duration;

pub use spawn::{spawn, Builder, JoinError, JoinHandle, DEFAULT_STACK_SIZE, MIN_STACK_SIZE};

use crate::sys::time::{clock_gettime, clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME};
use crate::sys::{process, Errno};

/// A thread's kernel id (tid). The main thread's equals the process id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub(crate) i32);

impl ThreadId {
    /// The tid as the kernel reports it.
    pub fn as_raw(self) -> i32 {
        self.0
    }
}

/// The calling thread's id (`gettid`: one system call, always right, also
/// in a child made by `fork`).
pub fn current() -> ThreadId {
    ThreadId(process::gettid())
}

/// Gives up the processor (`sched_yield`).
pub fn yield_now() {
    // SAFETY: sched_yield takes no arguments and cannot fail.
    unsafe { crate::syscall!(__NR_sched_yield) };
}

/// Sleeps for at least `d` (on `CLOCK_MONOTONIC`, resuming after
/// signals). Durations beyond the clock's range sleep "for ever".
pub fn sleep(d: Duration) {
    let Ok(now) = clock_gettime(CLOCK_MONOTONIC) else {
        return;
    };
    let deadline = now.saturating_add(d);
    while let Err(Errno::EINTR) = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline) {}
}

/// Ends the calling thread; its joiner gets [`JoinError::Exited`] with
/// `code`. Nothing on the thread's stack is dropped (like C's
/// `thrd_exit`). Called from the main thread, this ends only the main
/// thread: the process ends with status 0 once every spawned thread has
/// ended (at once if there is none).
pub fn exit(code: i32) -> ! {
    let t = tcb::current();
    if tcb::is_main(t) {
        spawn::finish_main()
    }
    let t = t.cast::<tcb::Tcb>();
    // SAFETY: `t` is the calling thread's own block.
    unsafe {
        *(*t).exited.get() = 1;
        *(*t).exit_code.get() = code;
        spawn::finish(t)
    }
}
