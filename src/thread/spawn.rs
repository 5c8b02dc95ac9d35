//! Starting, joining and detaching threads without a heap.
//!
//! Each thread gets one anonymous mapping, lowest address first:
//!
//! ```text
//! base                                                        base + len
//! | guard page (PROT_NONE) | stack, growing down ... | Block<F, T> |
//!                                                   ^ stack top = Block
//! ```
//!
//! `Block<F, T>` holds the [`Tcb`] (first, so the thread pointer is the
//! block's address), the closure until the thread takes it, and the
//! closure's result until a join takes it. The guard page turns a stack
//! overflow into SIGSEGV (the compiler probes every page of a large
//! frame). Join sleeps on the kernel-cleared tid and then unmaps the
//! whole region; a detached thread unmaps it itself as its last act.

use core::marker::PhantomData;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicUsize, Ordering};

use super::tcb::{Tcb, DETACHED, FINISHED};
use crate::rt::tls;
use crate::sys::mm::{MAP_ANONYMOUS, MAP_PRIVATE, MAP_STACK, PROT_NONE, PROT_READ, PROT_WRITE};
use crate::sys::process::{
    CLONE_CHILD_CLEARTID, CLONE_FILES, CLONE_FS, CLONE_PARENT_SETTID, CLONE_SETTLS, CLONE_SIGHAND,
    CLONE_SYSVSEM, CLONE_THREAD, CLONE_VM,
};
use crate::sys::{futex, mm, process, signal, Errno};

/// The stack size of a thread spawned without [`Builder::stack_size`].
pub const DEFAULT_STACK_SIZE: usize = 2 << 20;
/// The smallest stack [`Builder::stack_size`] gives (smaller requests
/// are raised to it): room for a few frames and a signal frame.
pub const MIN_STACK_SIZE: usize = 16 << 10;

const CLONE_FLAGS: u32 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID;

/// Threads that have not finished, the main thread included: the last one
/// to finish after the main thread called [`super::exit`] ends the process.
static LIVE: AtomicUsize = AtomicUsize::new(1);

/// The top of a thread's mapping. `repr(C)` keeps the `Tcb` at offset 0
/// and puts the result before the closure, so that the result's offset
/// depends on `T` alone ([`out_ptr`]) and join need not know `F`.
#[repr(C)]
struct Block<F, T> {
    tcb: Tcb,
    out: MaybeUninit<T>,
    f: MaybeUninit<F>,
}

/// The result slot of the block at `tcb` (see [`Block`]).
fn out_ptr<T>(tcb: *mut Tcb) -> *mut T {
    let offset = size_of::<Tcb>().next_multiple_of(align_of::<T>());
    tcb.cast::<u8>().wrapping_add(offset).cast()
}

/// Why [`JoinHandle::join`] has no result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// The thread ended through [`super::exit`] with this code instead of
    /// returning from its closure.
    Exited(i32),
}

/// Options for a new thread.
#[derive(Clone, Copy, Debug)]
pub struct Builder {
    stack_size: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Default options: a [`DEFAULT_STACK_SIZE`] stack.
    pub const fn new() -> Builder {
        Builder { stack_size: DEFAULT_STACK_SIZE }
    }

    /// The usable stack size in bytes, rounded up to whole pages and
    /// raised to at least [`MIN_STACK_SIZE`]. The guard page and the
    /// thread's control block come on top of it.
    pub const fn stack_size(self, bytes: usize) -> Builder {
        Builder { stack_size: bytes }
    }

    /// Starts a thread running `f`.
    ///
    /// Errors: `ENOMEM` (or another `mmap` error) when the region cannot
    /// be mapped or its size overflows, `EINVAL` when the closure or its
    /// result needs an alignment above the page size, `EAGAIN` (from
    /// `clone`) at the process or user thread limit.
    pub fn spawn<F, T>(self, f: F) -> Result<JoinHandle<T>, Errno>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let page = crate::rt::page_size();
        if align_of::<Block<F, T>>() > page {
            return Err(Errno::EINVAL);
        }
        let stack = round_up(self.stack_size.max(MIN_STACK_SIZE), page).ok_or(Errno::ENOMEM)?;
        let top = round_up(size_of::<Block<F, T>>(), page).ok_or(Errno::ENOMEM)?;
        let len = page
            .checked_add(stack)
            .and_then(|l| l.checked_add(top))
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or(Errno::ENOMEM)?;
        first_spawn()?;
        // SAFETY: no MAP_FIXED: the kernel picks an unused range.
        let base = unsafe {
            mm::mmap(
                core::ptr::null_mut(),
                len,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                -1,
                0,
            )?
        };
        // SAFETY: the first page of our fresh mapping becomes the guard.
        if let Err(e) = unsafe { mm::mprotect(base, page, PROT_NONE) } {
            // SAFETY: the mapping is ours and unused.
            let _ = unsafe { mm::munmap(base, len) };
            return Err(e);
        }
        // SAFETY: `page + stack` is inside the mapping, page-aligned (so
        // aligned for the block) and leaves `top >= size_of::<Block>()`
        // bytes above it.
        let block = unsafe { base.add(page + stack) }.cast::<Block<F, T>>();
        let tcb = block.cast::<Tcb>();
        // SAFETY: `block` is fresh, aligned, writable memory of ours.
        unsafe {
            addr_of_mut!((*block).tcb).write(Tcb::new(tcb, base, len, run::<F, T>, drop_out::<T>));
            addr_of_mut!((*block).f).write(MaybeUninit::new(f));
        }
        LIVE.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `tcb` is both the new stack's top (the stack grows down
        // from it, the block above it untouched) and the thread pointer;
        // the tid word lives in the mapping, which stays until the thread
        // is reaped; `entry` never returns.
        let r = unsafe {
            let tid = addr_of_mut!((*tcb).tid).cast::<u32>();
            crate::arch::clone_thread(
                CLONE_FLAGS as usize,
                tcb.cast(),
                tid,
                tid,
                tcb as usize,
                entry,
                tcb.cast(),
            )
        };
        if r < 0 {
            LIVE.fetch_sub(1, Ordering::Relaxed);
            // SAFETY: no thread started: the closure is still ours to drop
            // and the mapping ours to release.
            unsafe {
                drop(addr_of!((*block).f).read().assume_init());
                let _ = mm::munmap(base, len);
            }
            return Err(Errno::from_raw(-r as i32));
        }
        Ok(JoinHandle { tcb, _result: PhantomData })
    }
}

/// Starts a thread running `f` with default options, and panics if that
/// fails (see [`Builder::spawn`] for a `Result`).
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("thread::spawn: {}", e),
    }
}

/// Before the first `clone`: the main thread's thread pointer, then the
/// locks' switch to atomics.
fn first_spawn() -> Result<(), Errno> {
    if tls::ready() {
        return Ok(());
    }
    debug_assert_eq!(
        crate::sync::single_held(),
        0,
        "a sync::Lock is held across the first thread::spawn"
    );
    tls::install_main()?;
    crate::sync::set_threaded();
    crate::heap::enable_arenas();
    Ok(())
}

fn round_up(n: usize, page: usize) -> Option<usize> {
    n.checked_next_multiple_of(page)
}

/// Where a new thread starts (through the clone trampoline), on its own
/// stack with its thread pointer set.
///
/// # Safety
/// `arg` must be the new thread's own block, set up by `Builder::spawn`.
unsafe extern "C" fn entry(arg: *mut u8) -> ! {
    let tcb = arg.cast::<Tcb>();
    // SAFETY: spawn stored `run` for this block's closure type.
    unsafe { ((*tcb).run)(tcb) };
    // SAFETY: the calling thread is the one `tcb` describes.
    unsafe { finish(tcb) }
}

/// Runs the closure of the block at `tcb` and stores its result.
///
/// # Safety
/// `tcb` must head a `Block<F, T>` whose closure was not taken yet.
unsafe fn run<F: FnOnce() -> T, T>(tcb: *mut Tcb) {
    let block = tcb.cast::<Block<F, T>>();
    // SAFETY: spawn wrote the closure; only this thread reads it, once.
    let f = unsafe { addr_of!((*block).f).read().assume_init() };
    let out = f();
    // SAFETY: only the field's address is taken.
    debug_assert_eq!(unsafe { addr_of_mut!((*block).out) }.cast::<T>(), out_ptr::<T>(tcb));
    // SAFETY: the result slot is ours until the thread finishes.
    unsafe { out_ptr::<T>(tcb).write(out) };
}

/// Drops the stored result of the block at `tcb`.
///
/// # Safety
/// The block's result must be written and not yet taken.
unsafe fn drop_out<T>(tcb: *mut Tcb) {
    // SAFETY: per the contract.
    unsafe { out_ptr::<T>(tcb).drop_in_place() };
}

/// Ends the calling spawned thread after its closure returned or it
/// called [`super::exit`]: the process if it was the last thread, else
/// just this thread, unmapping its region if it was detached.
///
/// # Safety
/// `tcb` must be the calling thread's block.
pub(super) unsafe fn finish(tcb: *mut Tcb) -> ! {
    // Whatever the slot holds (the heap's cache) is given back before the
    // block is reaped.
    tls::run_exit_hook();
    if LIVE.fetch_sub(1, Ordering::AcqRel) == 1 {
        // The main thread ended through `exit` and every other thread is
        // done: C11 says the program then ends as if by exit(EXIT_SUCCESS).
        crate::rt::exit(0);
    }
    // SAFETY: the block lives until whoever reaps it sees FINISHED.
    if unsafe { (*tcb).state.swap(FINISHED, Ordering::AcqRel) } == DETACHED {
        // SAFETY: nobody holds a handle: the region is ours to release.
        unsafe { release_self(tcb) }
    }
    process::exit(0)
}

/// Ends the main thread through [`super::exit`]: the process lives on
/// while other threads run, and ends with status 0 after the last one.
pub(super) fn finish_main() -> ! {
    tls::run_exit_hook();
    if LIVE.fetch_sub(1, Ordering::AcqRel) == 1 {
        crate::rt::exit(0);
    }
    process::exit(0)
}

/// A detached thread's end: drop the result nobody will take, then unmap
/// the region (stack included) and exit without touching memory.
///
/// # Safety
/// `tcb` must be the calling thread's block, detached and finished.
unsafe fn release_self(tcb: *mut Tcb) -> ! {
    // SAFETY: the calling thread owns its block.
    let (base, len) = unsafe {
        if *(*tcb).exited.get() == 0 {
            ((*tcb).drop_result)(tcb);
            // The result's blocks were freed after the exit hook gave the
            // cache back: what waits in the slot (the heap's outbox of
            // blocks for other threads' heaps) goes before the slot is
            // unmapped. The hook runs twice safely.
            tls::run_exit_hook();
        }
        ((*tcb).map_base, (*tcb).map_len)
    };
    // No signal handler may run on the stack once it is unmapped.
    let _ = signal::rt_sigprocmask(signal::SIG_BLOCK, Some(&signal::SigSet::FULL));
    // The kernel must not clear the tid word after the region is gone
    // (another mapping may be there by then).
    // SAFETY: a null address turns the clearing off.
    unsafe { crate::syscall!(__NR_set_tid_address, core::ptr::null_mut::<u32>()) };
    // SAFETY: signals are blocked, the tid is no longer cleared, and
    // nothing else uses the region.
    unsafe { crate::arch::unmap_and_exit(base, len) }
}

/// Sleeps until the thread of `tcb` has exited (the kernel cleared its
/// tid), so that its region may be unmapped.
fn wait_exited(tcb: *mut Tcb) {
    // SAFETY: the block stays mapped until this function's caller unmaps it.
    let tid = unsafe { &(*tcb).tid };
    loop {
        let t = tid.load(Ordering::Acquire);
        if t == 0 {
            return;
        }
        // The kernel wakes this word as a shared futex (not private).
        // SAFETY: a live aligned u32; FUTEX_WAIT reads it and sleeps.
        let _ = unsafe {
            futex::futex(
                tid.as_ptr(),
                futex::FUTEX_WAIT,
                t,
                core::ptr::null(),
                core::ptr::null_mut(),
                0,
            )
        };
    }
}

/// An owned permission to join a thread. Dropping it detaches the thread
/// (see [`JoinHandle::detach`]).
pub struct JoinHandle<T> {
    tcb: *mut Tcb,
    _result: PhantomData<T>,
}

// SAFETY: the handle only carries the block's address; the result it
// hands over is `Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the tid and state atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish, releases its stack and returns the
    /// closure's result, or [`JoinError::Exited`] if the thread ended
    /// through [`super::exit`]. A thread that panics ends the whole
    /// process (status 101) instead.
    pub fn join(self) -> Result<T, JoinError> {
        let tcb = self.into_raw_tcb();
        wait_exited(tcb);
        // SAFETY: the thread has exited: the block is ours; the result is
        // written unless it called `exit`. We read everything we need
        // before unmapping.
        unsafe { reap::<T>(tcb) }
    }

    /// Lets the thread run on by itself: when it finishes, it releases its
    /// own stack and drops its result. If it has finished already, this
    /// does that now.
    pub fn detach(self) {
        let tcb = self.into_raw_tcb();
        // SAFETY: the block lives until FINISHED is seen by its reaper.
        if unsafe { (*tcb).state.swap(DETACHED, Ordering::AcqRel) } == FINISHED {
            wait_exited(tcb);
            // SAFETY: the thread has exited and nobody else reaps it.
            drop(unsafe { reap::<T>(tcb) });
        }
    }

    /// Whether the thread has finished running its closure (it may still
    /// be exiting; [`JoinHandle::join`] then returns at once).
    pub fn is_finished(&self) -> bool {
        // SAFETY: the block lives as long as the handle.
        unsafe { (*self.tcb).state.load(Ordering::Acquire) == FINISHED }
    }

    /// The thread's id (its tid), or 0 once it has exited.
    pub fn id(&self) -> super::ThreadId {
        // SAFETY: the block lives as long as the handle.
        super::ThreadId(unsafe { (*self.tcb).tid.load(Ordering::Relaxed) } as i32)
    }

    /// The handle as an address (the thread's control block), for C's
    /// `thrd_t`. The thread is neither joined nor detached.
    pub fn into_raw(self) -> usize {
        self.into_raw_tcb() as usize
    }

    /// A handle back from [`JoinHandle::into_raw`].
    ///
    /// # Safety
    /// `raw` must come from `into_raw` of a `JoinHandle<T>` of the same
    /// `T`, and be turned back into a handle at most once.
    pub unsafe fn from_raw(raw: usize) -> JoinHandle<T> {
        JoinHandle { tcb: raw as *mut Tcb, _result: PhantomData }
    }

    fn into_raw_tcb(self) -> *mut Tcb {
        let tcb = self.tcb;
        core::mem::forget(self);
        tcb
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: a handle made by spawn or from_raw, consumed here.
        unsafe { JoinHandle::<T>::from_raw(self.tcb as usize) }.detach();
    }
}

/// Takes the result of an exited thread and unmaps its region.
///
/// # Safety
/// The thread of `tcb` must have exited (tid 0), with `T` its result
/// type, and nobody else may reap it.
unsafe fn reap<T>(tcb: *mut Tcb) -> Result<T, JoinError> {
    // SAFETY: per the contract, the block is ours and the result written
    // unless the thread called `exit`.
    unsafe {
        let r = if *(*tcb).exited.get() != 0 {
            Err(JoinError::Exited(*(*tcb).exit_code.get()))
        } else {
            Ok(out_ptr::<T>(tcb).read())
        };
        let _ = mm::munmap((*tcb).map_base, (*tcb).map_len);
        r
    }
}
