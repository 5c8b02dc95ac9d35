//! The thread control block ([`Tcb`]).
//!
//! A spawned thread's `Tcb` sits at the top of its own mapping, above its
//! stack, and the kernel sets its thread pointer to it at `clone` time
//! (`CLONE_SETTLS`). Its first field is the [`ThreadHead`] that every
//! thread's block starts with ([`crate::rt::tls`]: the self pointer that
//! the thread pointer reads, `errno`, the heap's per-thread slot), so a
//! `Tcb` pointer and its head's are the same address. The main thread's
//! block is only that head, a static of `rt::tls`, whose thread pointer is
//! set at the first spawn ([`crate::rt::tls::install_main`]); the fields
//! below the head exist for spawned threads only, and nothing reads them
//! for the main thread ([`is_main`] tells the two apart).

use core::cell::UnsafeCell;
use core::sync::atomic::AtomicU32;

use crate::rt::tls::{self, ThreadHead};

/// `Tcb::state`: the thread runs, and a handle may still join it.
pub(super) const RUNNING: u32 = 0;
/// `Tcb::state`: the thread is done with its closure and about to exit;
/// whoever joins or detaches it reaps it.
pub(super) const FINISHED: u32 = 1;
/// `Tcb::state`: the handle was dropped or detached while the thread ran;
/// the thread unmaps its own region when it finishes.
pub(super) const DETACHED: u32 = 2;

/// A spawned thread's control block. `repr(C)`: the head comes first (see
/// the module documentation); the rest is private to the thread module.
#[repr(C)]
pub struct Tcb {
    /// What the lower layers use: self pointer, `errno`, the heap's slot.
    head: ThreadHead,
    /// The thread's id. The kernel stores it before `clone` returns
    /// (`CLONE_PARENT_SETTID`) and stores 0 and wakes futex waiters on
    /// this word once the thread has exited (`CLONE_CHILD_CLEARTID`):
    /// join sleeps on it.
    pub(super) tid: AtomicU32,
    /// [`RUNNING`], [`FINISHED`] or [`DETACHED`]; only ever changed by a
    /// swap, so thread and handle agree on who reaps the region.
    pub(super) state: AtomicU32,
    /// Non-zero when the thread ended through [`super::exit`] rather than
    /// by returning: its closure's result was never written.
    pub(super) exited: UnsafeCell<u32>,
    /// The code passed to [`super::exit`].
    pub(super) exit_code: UnsafeCell<i32>,
    /// The thread's mapping (guard page, stack, this block).
    pub(super) map_base: *mut u8,
    /// The mapping's length in bytes.
    pub(super) map_len: usize,
    /// Reads the closure from the block, calls it and stores its result.
    pub(super) run: unsafe fn(*mut Tcb),
    /// Drops the stored result (a detached thread's result nobody takes).
    pub(super) drop_result: unsafe fn(*mut Tcb),
}

impl Tcb {
    /// A block for a thread whose mapping is `base..base + len`, with
    /// `run` and `drop_result` for its closure type; the self pointer is
    /// `at`, where the caller places it.
    pub(super) fn new(
        at: *mut Tcb,
        base: *mut u8,
        len: usize,
        run: unsafe fn(*mut Tcb),
        drop_result: unsafe fn(*mut Tcb),
    ) -> Tcb {
        Tcb {
            head: ThreadHead::new(at.cast()),
            tid: AtomicU32::new(0),
            state: AtomicU32::new(RUNNING),
            exited: UnsafeCell::new(0),
            exit_code: UnsafeCell::new(0),
            map_base: base,
            map_len: len,
            run,
            drop_result,
        }
    }
}

const _: () = {
    assert!(core::mem::offset_of!(Tcb, head) == 0);
};

/// The calling thread's block as an address: the main thread's head, or
/// a spawned thread's `Tcb` (see [`is_main`]).
#[inline(always)]
pub fn current() -> *mut ThreadHead {
    tls::current()
}

/// The main thread's block (a head only, no `Tcb`).
#[inline(always)]
pub fn main() -> *mut ThreadHead {
    tls::main()
}

/// Whether block `t` (from [`current`]) is the main thread's; if not, it
/// heads a spawned thread's `Tcb`.
#[inline(always)]
pub fn is_main(t: *mut ThreadHead) -> bool {
    t == main()
}
