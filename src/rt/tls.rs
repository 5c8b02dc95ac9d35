//! The part of every thread's control block that the lower layers use:
//! [`ThreadHead`], the thread pointer, the per-thread `errno`, one opaque
//! per-thread [`Slot`] and one exit hook.
//!
//! Every thread's thread pointer (x86_64: the FS base; aarch64:
//! `tpidr_el0`; riscv64: `tp`) holds the address of its control block,
//! which starts with a `ThreadHead` whose first word is that same address
//! (so that x86_64 reads it as `mov %fs:0`). The thread module's blocks
//! (`thread/tcb.rs`) embed the head as their first field and add what only
//! threads need (tid, state, the closure's result); a spawned thread's
//! block sits at the top of its own mapping, and the kernel sets its
//! thread pointer at `clone` time (`CLONE_SETTLS`).
//!
//! The main thread's head is a static in `.bss` ([`main`]); its thread
//! pointer is set at the first spawn ([`install_main`]), not at start-up,
//! so that a program without threads never pays for it. Until then the
//! main thread is the only thread, and [`current`] answers the main head
//! without reading the thread pointer (which is still 0, or on a hosted
//! build belongs to glibc): [`ready`] says which case holds.
//!
//! The slot belongs to the heap, which keeps the thread's cache in it and
//! registers [`set_exit_hook`] to give the cache back; the thread module
//! runs the hook ([`run_exit_hook`]) as a thread ends, without knowing
//! what it does. So this layer, the heap and the thread module each know
//! only what is below them.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use crate::sys::Errno;

/// Words in a [`Slot`]: room for the heap's thread cache (1,440 bytes
/// today; the heap asserts at compile time that its cache fits).
pub const SLOT_WORDS: usize = 180;

/// One opaque per-thread area of [`SLOT_WORDS`] words, all zeros in a new
/// thread. Its owner (the heap) casts it to its own type, which must be
/// valid when all zeros and fit in size and alignment.
#[repr(C)]
pub struct Slot(UnsafeCell<[usize; SLOT_WORDS]>);

impl Slot {
    /// A slot of zeros.
    pub const fn new() -> Slot {
        Slot(UnsafeCell::new([0; SLOT_WORDS]))
    }
}

impl Default for Slot {
    fn default() -> Self {
        Self::new()
    }
}

/// The head of every thread's control block. `repr(C)`: word 0 is read
/// by the x86_64 thread-pointer instruction sequence.
#[repr(C)]
pub struct ThreadHead {
    /// This block's own address (null in the main thread's head until the
    /// first spawn).
    self_ptr: *mut ThreadHead,
    /// The thread's `errno`.
    errno: UnsafeCell<i32>,
    /// The heap's per-thread area.
    slot: Slot,
}

impl ThreadHead {
    /// The head of a block placed at `at` (its own address), with `errno`
    /// 0 and a slot of zeros.
    pub const fn new(at: *mut ThreadHead) -> ThreadHead {
        ThreadHead { self_ptr: at, errno: UnsafeCell::new(0), slot: Slot::new() }
    }
}

const _: () = {
    assert!(core::mem::offset_of!(ThreadHead, self_ptr) == 0);
};

/// The main thread's head (see the module documentation).
struct MainHead(UnsafeCell<ThreadHead>);

// SAFETY: only the main thread touches its errno and slot; the self
// pointer is written once, before the second thread exists.
unsafe impl Sync for MainHead {}

static MAIN: MainHead = MainHead(UnsafeCell::new(ThreadHead::new(core::ptr::null_mut())));

/// Whether the main thread's thread pointer is set (after the first
/// spawn); every thread's thread pointer is valid from then on.
static READY: AtomicBool = AtomicBool::new(false);

/// Whether the thread pointers are set (a thread was spawned).
#[inline(always)]
pub fn ready() -> bool {
    READY.load(Ordering::Relaxed)
}

/// The main thread's head.
#[inline(always)]
pub fn main() -> *mut ThreadHead {
    MAIN.0.get()
}

/// The calling thread's head: [`main`] while no thread was spawned
/// (no thread-pointer read), else the thread pointer.
#[inline(always)]
pub fn current() -> *mut ThreadHead {
    if !READY.load(Ordering::Relaxed) {
        return main();
    }
    // SAFETY: READY is set only after the main thread's thread pointer
    // points at MAIN, and every spawned thread gets its block from clone;
    // a thread created later sees READY through the clone that made it.
    unsafe { crate::arch::thread_pointer().cast() }
}

/// The calling thread's `errno`: the main thread's lives in [`main`]'s
/// head before and after the first spawn, so its address never changes.
#[inline(always)]
pub fn errno_location() -> *mut i32 {
    // SAFETY: `current` is a live block; `errno` is a field of it.
    unsafe { (*current()).errno.get() }
}

/// The calling thread's slot (its owner casts it to its own type).
#[inline(always)]
pub fn slot() -> *mut [usize; SLOT_WORDS] {
    // SAFETY: `current` is a live block; the slot is a field of it.
    unsafe { (*current()).slot.0.get() }
}

/// Points the main thread's thread pointer at its head (once; the thread
/// module calls this while the process still has one thread, before its
/// first `clone`).
pub fn install_main() -> Result<(), Errno> {
    if READY.load(Ordering::Relaxed) {
        return Ok(());
    }
    let m = main();
    // SAFETY: there is one thread, so nothing else reads MAIN's fields
    // through a reference while we write them.
    unsafe { (*m).self_ptr = m };
    // SAFETY: MAIN is a static, valid for the whole program, and starts
    // with its own address.
    Errno::result(unsafe { crate::arch::set_thread_pointer(m.cast()) })?;
    READY.store(true, Ordering::Release);
    Ok(())
}

/// The exit hook: a `fn()` stored as a pointer, or null.
static EXIT_HOOK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Registers `hook` to run on every thread (the main thread included)
/// that ends through the thread module, before its block is released.
/// There is one hook: the heap's, which gives the thread's cache back.
/// Registering the same hook again is cheap (one load).
#[inline]
pub fn set_exit_hook(hook: fn()) {
    let p = hook as *mut ();
    if EXIT_HOOK.load(Ordering::Relaxed) != p {
        EXIT_HOOK.store(p, Ordering::Relaxed);
    }
}

/// Runs the exit hook, if one was registered. A thread whose slot holds
/// anything registered the hook itself before (in its own program order),
/// so a relaxed load suffices.
#[inline]
pub fn run_exit_hook() {
    let p = EXIT_HOOK.load(Ordering::Relaxed);
    if !p.is_null() {
        // SAFETY: only `set_exit_hook` stores into EXIT_HOOK, and it
        // stores a `fn()`.
        let hook = unsafe { core::mem::transmute::<*mut (), fn()>(p) };
        hook();
    }
}
