//! The thread control block ([`Tcb`]) and the thread pointer.
//!
//! Every thread's thread pointer (x86_64: the FS base; aarch64:
//! `tpidr_el0`; riscv64: `tp`) holds the address of its `Tcb`, whose first
//! word is that same address (so that x86_64 reads it as `mov %fs:0`).
//! A spawned thread's `Tcb` sits at the top of its own mapping, above its
//! stack, and the kernel sets its thread pointer at `clone` time
//! (`CLONE_SETTLS`). The main thread's `Tcb` is a static, [`MAIN`]; its
//! thread pointer is set at the first spawn ([`install_main`]), not at
//! start-up, so that a program without threads never pays for it.
//!
//! Until then the main thread is the only thread, and [`current`] answers
//! `MAIN` without reading the thread pointer (which is still 0, or on a
//! hosted build belongs to glibc): [`READY`] says which case holds.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::heap::ThreadCache;
use crate::sys::{process, Errno};

/// `Tcb::state`: the thread runs, and a handle may still join it.
pub(super) const RUNNING: u32 = 0;
/// `Tcb::state`: the thread is done with its closure and about to exit;
/// whoever joins or detaches it reaps it.
pub(super) const FINISHED: u32 = 1;
/// `Tcb::state`: the handle was dropped or detached while the thread ran;
/// the thread unmaps its own region when it finishes.
pub(super) const DETACHED: u32 = 2;

/// A thread control block. `repr(C)`: word 0 is read by the x86_64
/// thread-pointer instruction sequence; the rest is private to rawrt.
#[repr(C)]
pub struct Tcb {
    /// This block's own address.
    self_ptr: *mut Tcb,
    /// The thread's id. For a spawned thread the kernel stores it before
    /// `clone` returns (`CLONE_PARENT_SETTID`) and stores 0 and wakes
    /// futex waiters on this word once the thread has exited
    /// (`CLONE_CHILD_CLEARTID`): join sleeps on it.
    pub(super) tid: AtomicU32,
    /// The thread's `errno`.
    errno: UnsafeCell<i32>,
    /// [`RUNNING`], [`FINISHED`] or [`DETACHED`]; only ever changed by a
    /// swap, so thread and handle agree on who reaps the region.
    pub(super) state: AtomicU32,
    /// Non-zero when the thread ended through [`super::exit`] rather than
    /// by returning: its closure's result was never written.
    pub(super) exited: UnsafeCell<u32>,
    /// The code passed to [`super::exit`].
    pub(super) exit_code: UnsafeCell<i32>,
    /// The thread's mapping (guard page, stack, this block); null for the
    /// main thread.
    pub(super) map_base: *mut u8,
    /// The mapping's length in bytes.
    pub(super) map_len: usize,
    /// Reads the closure from the block, calls it and stores its result
    /// (`None` for the main thread, so that [`MAIN`] is all zeros and
    /// lives in `.bss`).
    pub(super) run: Option<unsafe fn(*mut Tcb)>,
    /// Drops the stored result (a detached thread's result nobody takes).
    pub(super) drop_result: Option<unsafe fn(*mut Tcb)>,
    /// The thread's cache of small freed blocks of the process heap.
    pub(super) heap_cache: UnsafeCell<ThreadCache>,
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
            self_ptr: at,
            tid: AtomicU32::new(0),
            errno: UnsafeCell::new(0),
            state: AtomicU32::new(RUNNING),
            exited: UnsafeCell::new(0),
            exit_code: UnsafeCell::new(0),
            map_base: base,
            map_len: len,
            run: Some(run),
            drop_result: Some(drop_result),
            heap_cache: UnsafeCell::new(ThreadCache::new()),
        }
    }
}

/// The main thread's block (see the module documentation).
struct MainTcb(UnsafeCell<Tcb>);

// SAFETY: only the main thread touches its errno and exit fields; the
// self pointer and tid are written once, before the second thread exists.
unsafe impl Sync for MainTcb {}

static MAIN: MainTcb = MainTcb(UnsafeCell::new(Tcb {
    self_ptr: core::ptr::null_mut(),
    tid: AtomicU32::new(0),
    errno: UnsafeCell::new(0),
    state: AtomicU32::new(RUNNING),
    exited: UnsafeCell::new(0),
    exit_code: UnsafeCell::new(0),
    map_base: core::ptr::null_mut(),
    map_len: 0,
    run: None,
    drop_result: None,
    heap_cache: UnsafeCell::new(ThreadCache::new()),
}));

/// Whether the main thread's thread pointer is set (after the first
/// spawn); every thread's thread pointer is valid from then on.
static READY: AtomicBool = AtomicBool::new(false);

/// Whether the thread pointers are set (a thread was spawned).
#[inline(always)]
pub fn ready() -> bool {
    READY.load(Ordering::Relaxed)
}

/// The main thread's block.
#[inline(always)]
pub fn main() -> *mut Tcb {
    MAIN.0.get()
}

/// The calling thread's block: [`main`] while no thread was spawned
/// (no thread-pointer read), else the thread pointer.
#[inline(always)]
pub fn current() -> *mut Tcb {
    if !READY.load(Ordering::Relaxed) {
        return main();
    }
    // SAFETY: READY is set only after the main thread's thread pointer
    // points at MAIN, and every spawned thread gets its block from clone;
    // a thread created later sees READY through the clone that made it.
    unsafe { crate::arch::thread_pointer().cast() }
}

/// The calling thread's `errno`: the main thread's lives in [`MAIN`]
/// before and after the first spawn, so its address never changes.
#[inline(always)]
pub fn errno_location() -> *mut i32 {
    // SAFETY: `current` is a live block; `errno` is a field of it.
    unsafe { (*current()).errno.get() }
}

/// The calling thread's heap cache.
#[inline(always)]
pub fn heap_cache() -> *mut ThreadCache {
    // SAFETY: `current` is a live block; the cache is a field of it.
    unsafe { (*current()).heap_cache.get() }
}

/// Points the main thread's thread pointer at [`MAIN`] (once; called by
/// spawn while the process still has one thread).
pub(super) fn install_main() -> Result<(), Errno> {
    if READY.load(Ordering::Relaxed) {
        return Ok(());
    }
    let m = main();
    // SAFETY: there is one thread, so nothing else reads MAIN's fields
    // through a reference while we write them.
    unsafe {
        (*m).self_ptr = m;
        (*m).tid.store(process::gettid() as u32, Ordering::Relaxed);
    }
    // SAFETY: MAIN is a static, valid for the whole program, and starts
    // with its own address.
    Errno::result(unsafe { crate::arch::set_thread_pointer(m.cast()) })?;
    READY.store(true, Ordering::Release);
    Ok(())
}

const _: () = {
    assert!(core::mem::offset_of!(Tcb, self_ptr) == 0);
};
