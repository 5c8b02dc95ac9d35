//! Where the C allocation functions meet the tracer, linked into every
//! program that allocates but costing nothing on the fast paths.
//!
//! C's `malloc`, `calloc`, `aligned_alloc`, `memalign`, `valloc`, `free`
//! and `realloc` reach their slow paths by a tail call to an assembly stub
//! (`crate::caller_stub!`, one per function below), which adds the return
//! address it was entered with (the C caller's, since the function jumped
//! there without a frame of its own) and the caller's frame-pointer
//! register, and jumps on to `alloc_at`, `free_at` or `realloc_at` here.
//! Those ask [`ops`] (one load): 0 until tracing is first started, then
//! the tracer's operations, which do the work and record it.
//!
//! Once the tracer is installed the process heap is *diverted*
//! ([`diverted`]): like under Valgrind's Memcheck (`rt/valgrind.rs`), a
//! thread keeps no home heap and no cache (`arena.rs`, `choose_home`), so
//! its fast paths decline and every allocation, free and resize comes
//! through the stubs. It stays diverted for the rest of the process.

// The hosted unit tests' build has no C entry points (no `entries`).
#![cfg_attr(test, allow(dead_code))]

use core::ffi::c_char;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::heap::caps;
use crate::rt::errno;
use crate::sys::Errno;

/// Where an allocation function was called from: the return address of
/// the call, the caller's frame-pointer register (for a walk, see
/// `mod.rs`), and the source location `rawrt_track.h` passes (null, 0
/// without it).
#[derive(Clone, Copy, Debug)]
pub struct Site {
    /// The return address of the call into the allocation function.
    pub caller: usize,
    /// The caller's frame-pointer register at the call.
    pub fp: usize,
    /// `__FILE__` of the call (`rawrt_track.h`), or null.
    pub file: *const c_char,
    /// `__LINE__` of the call, or 0.
    pub line: u32,
}

/// A source location as `rawrt_track.h`'s functions pass it (made only
/// by them; the other entries pass null).
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    /// `__FILE__`.
    pub file: *const c_char,
    /// `__LINE__`.
    pub line: u32,
}

impl Site {
    /// The site of a call from `caller` with frame pointer `fp`, at `loc`
    /// (may be null).
    ///
    /// # Safety
    /// `loc` is null or valid.
    pub unsafe fn new(caller: usize, fp: usize, loc: *const Loc) -> Site {
        // SAFETY: the caller's contract.
        let (file, line) =
            unsafe { loc.as_ref() }.map_or((core::ptr::null(), 0), |l| (l.file, l.line));
        Site { caller, fp, file, line }
    }
}

/// The tracer's operations: each does what the C function does (NULL and
/// `ENOMEM` on failure) and records it. The arguments are the C
/// function's, then the caller, its frame pointer and the location (see
/// [`Site::new`]).
pub(crate) struct TraceOps {
    /// An allocation of `kind` ([`MALLOC`], ...).
    pub alloc: unsafe fn(usize, usize, &'static Kind, usize, usize, *const Loc) -> *mut u8,
    /// C's `free` of a pointer (not null).
    pub free: unsafe fn(*mut u8, usize, usize, *const Loc),
    /// C's `realloc`.
    pub realloc: unsafe fn(*mut u8, usize, usize, usize, *const Loc) -> *mut u8,
}

/// 0, or the address of the tracer's [`TraceOps`] once tracing was
/// started (an address, not a pointer: see `arena.rs`, `TAKE_ARENA`).
static HOOK: AtomicUsize = AtomicUsize::new(0);

/// Installs the tracer (the first start of tracing): from now on the
/// process heap is diverted.
pub(crate) fn install(ops: &'static TraceOps) {
    HOOK.store(ops as *const TraceOps as usize, Ordering::Release);
}

/// The tracer's operations, once installed.
#[inline(always)]
pub(crate) fn ops() -> Option<&'static TraceOps> {
    match HOOK.load(Ordering::Acquire) {
        0 => None,
        // SAFETY: a non-zero `HOOK` is the address of a static `TraceOps`.
        a => Some(unsafe { &*(a as *const TraceOps) }),
    }
}

/// Whether the process heap is diverted: threads keep no home heap and
/// no cache, so that every call takes the slow paths the tracer sees.
#[inline(always)]
pub fn diverted() -> bool {
    HOOK.load(Ordering::Relaxed) != 0
}

/// Which C function asks for an allocation (`alloc_at`'s `kind`): its
/// name (for reports and the failed-allocation callback) and whether the
/// memory is zeroed.
#[derive(Debug)]
pub struct Kind {
    /// The function's name.
    pub func: &'static str,
    /// Whether it zeroes the memory (`calloc`).
    pub zero: bool,
}

/// `malloc`.
pub static MALLOC: Kind = Kind { func: "malloc", zero: false };
/// `calloc`.
pub static CALLOC: Kind = Kind { func: "calloc", zero: true };
/// `aligned_alloc`.
pub static ALIGNED_ALLOC: Kind = Kind { func: "aligned_alloc", zero: false };
/// `memalign`.
pub static MEMALIGN: Kind = Kind { func: "memalign", zero: false };
/// `valloc`.
pub static VALLOC: Kind = Kind { func: "valloc", zero: false };

fn enomem() -> *mut u8 {
    errno::set(Errno::ENOMEM);
    core::ptr::null_mut()
}

/// An allocation of `kind` untraced: the block, or NULL with `ENOMEM`.
#[inline(always)]
pub(crate) fn alloc_plain(size: usize, align: usize, kind: &'static Kind) -> *mut u8 {
    caps::malloc_slow(size, align, kind.zero, kind.func).map_or_else(enomem, NonNull::as_ptr)
}

/// C's `realloc` untraced ([`caps::realloc_c`]; NULL and `ENOMEM` on
/// failure): its one copy in the program, traced or not.
///
/// # Safety
/// C's contract for `realloc`.
#[inline(never)]
pub(crate) unsafe fn realloc_plain(p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: forwarded contract.
    match unsafe { caps::realloc_c(p, size, "realloc") } {
        Ok(q) => q,
        Err(_) => enomem(),
    }
}

#[cfg(not(test))]
pub use entries::*;

#[cfg(not(test))]
mod entries {
    use super::*;
    use crate::heap::caps;
    use crate::heap::ALIGN;

    // `&Kind` goes from Rust through the stub back to Rust untouched:
    // C never sees it.
    #[allow(improper_ctypes)]
    extern "C" {
        /// The slow path of C's allocation functions (reached by a tail
        /// call): `kind` is [`MALLOC`], [`CALLOC`] (zeroed), ... NULL with
        /// `ENOMEM` when out of memory.
        pub fn __rawrt_alloc_slow(size: usize, align: usize, kind: &'static Kind) -> *mut u8;
        /// The slow path of C's `free` (not null; reached by a tail call).
        pub fn __rawrt_free_slow(p: *mut u8);
        /// C's `realloc` (reached by a tail call).
        pub fn __rawrt_realloc(p: *mut u8, size: usize) -> *mut u8;
        /// `rawrt_malloc_at`: `malloc` carrying its source location.
        pub fn __rawrt_malloc_at(size: usize, file: *const c_char, line: u32) -> *mut u8;
        /// `rawrt_calloc_at`.
        pub fn __rawrt_calloc_at(n: usize, size: usize, file: *const c_char, line: u32) -> *mut u8;
        /// `rawrt_realloc_at`.
        pub fn __rawrt_realloc_at(
            p: *mut u8,
            size: usize,
            file: *const c_char,
            line: u32,
        ) -> *mut u8;
        /// `rawrt_free_at`.
        pub fn __rawrt_free_at(p: *mut u8, file: *const c_char, line: u32);
    }

    crate::caller_stub!("__rawrt_alloc_slow", alloc_at, 3);
    crate::caller_stub!("__rawrt_free_slow", free_at, 1);
    crate::caller_stub!("__rawrt_realloc", realloc_at, 2);
    crate::caller_stub!("__rawrt_malloc_at", malloc_loc, 3, "rawrt_malloc_at");
    crate::caller_stub!("__rawrt_calloc_at", calloc_loc, 4, "rawrt_calloc_at");
    crate::caller_stub!("__rawrt_realloc_at", realloc_loc, 4, "rawrt_realloc_at");
    crate::caller_stub!("__rawrt_free_at", free_loc, 3, "rawrt_free_at");

    const NOWHERE: *const Loc = core::ptr::null();

    #[allow(improper_ctypes_definitions)]
    extern "C" fn alloc_at(
        size: usize,
        align: usize,
        kind: &'static Kind,
        caller: usize,
        fp: usize,
    ) -> *mut u8 {
        match ops() {
            // SAFETY: no location.
            Some(o) => unsafe { (o.alloc)(size, align, kind, caller, fp, NOWHERE) },
            None => alloc_plain(size, align, kind),
        }
    }

    /// # Safety
    /// C's contract for `free` (`p` not null).
    unsafe extern "C" fn free_at(p: *mut u8, caller: usize, fp: usize) {
        match ops() {
            // SAFETY: forwarded contract.
            Some(o) => unsafe { (o.free)(p, caller, fp, NOWHERE) },
            // SAFETY: forwarded contract.
            None => unsafe { caps::free_slow(p, "free") },
        }
    }

    /// # Safety
    /// C's contract for `realloc`.
    unsafe extern "C" fn realloc_at(p: *mut u8, size: usize, caller: usize, fp: usize) -> *mut u8 {
        match ops() {
            // SAFETY: forwarded contract.
            Some(o) => unsafe { (o.realloc)(p, size, caller, fp, NOWHERE) },
            // SAFETY: forwarded contract.
            None => unsafe { realloc_plain(p, size) },
        }
    }

    extern "C" fn malloc_loc(
        size: usize,
        file: *const c_char,
        line: u32,
        caller: usize,
        fp: usize,
    ) -> *mut u8 {
        match ops() {
            // SAFETY: a location of this frame.
            Some(o) => unsafe { (o.alloc)(size, ALIGN, &MALLOC, caller, fp, &Loc { file, line }) },
            None => alloc_plain(size, ALIGN, &MALLOC),
        }
    }

    extern "C" fn calloc_loc(
        n: usize,
        size: usize,
        file: *const c_char,
        line: u32,
        caller: usize,
        fp: usize,
    ) -> *mut u8 {
        let Some(total) = n.checked_mul(size) else { return enomem() };
        match ops() {
            // SAFETY: a location of this frame.
            Some(o) => unsafe { (o.alloc)(total, ALIGN, &CALLOC, caller, fp, &Loc { file, line }) },
            None => alloc_plain(total, ALIGN, &CALLOC),
        }
    }

    /// # Safety
    /// C's contract for `realloc`.
    unsafe extern "C" fn realloc_loc(
        p: *mut u8,
        size: usize,
        file: *const c_char,
        line: u32,
        caller: usize,
        fp: usize,
    ) -> *mut u8 {
        match ops() {
            // SAFETY: forwarded contract; a location of this frame.
            Some(o) => unsafe { (o.realloc)(p, size, caller, fp, &Loc { file, line }) },
            // SAFETY: forwarded contract.
            None => unsafe { realloc_plain(p, size) },
        }
    }

    /// # Safety
    /// C's contract for `free`.
    unsafe extern "C" fn free_loc(
        p: *mut u8,
        file: *const c_char,
        line: u32,
        caller: usize,
        fp: usize,
    ) {
        if p.is_null() {
            return;
        }
        match ops() {
            // SAFETY: forwarded contract; a location of this frame.
            Some(o) => unsafe { (o.free)(p, caller, fp, &Loc { file, line }) },
            // SAFETY: forwarded contract.
            None => unsafe { caps::free_slow(p, "free") },
        }
    }
}
