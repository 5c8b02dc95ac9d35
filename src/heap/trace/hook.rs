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

use crate::heap::error::HeapError;

/// Where an allocation function was called from: the return address of
/// the call, the caller's frame-pointer register (for a walk, see
/// `record.rs`), and the source location `rawrt_track.h` passes (null,
/// 0 without it).
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

/// The tracer's operations: each does what the C function does and
/// records it.
pub(crate) struct TraceOps {
    /// An allocation: `(size, align, zero, func, site)`.
    pub alloc: fn(usize, usize, bool, &'static str, &Site) -> Option<NonNull<u8>>,
    /// C's `free` of a pointer (null allowed).
    pub free: unsafe fn(*mut u8, &Site),
    /// C's `realloc`.
    pub realloc: unsafe fn(*mut u8, usize, &Site) -> Result<*mut u8, HeapError>,
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

/// `alloc_at`'s `kind`: which C function asks.
pub const MALLOC: u32 = 0;
/// See [`MALLOC`].
pub const CALLOC: u32 = 1;
/// See [`MALLOC`].
pub const ALIGNED_ALLOC: u32 = 2;
/// See [`MALLOC`].
pub const MEMALIGN: u32 = 3;
/// See [`MALLOC`].
pub const VALLOC: u32 = 4;

/// The functions' names, by kind (reports and the failed-allocation
/// callback name them).
const NAMES: [&str; 8] = ["malloc", "calloc", "aligned_alloc", "memalign", "valloc", "", "", ""];

#[cfg(not(test))]
pub use entries::*;

#[cfg(not(test))]
mod entries {
    use super::*;
    use crate::heap::caps;
    use crate::heap::ALIGN;
    use crate::rt::errno;
    use crate::sys::Errno;

    extern "C" {
        /// The slow path of C's allocation functions (reached by a tail
        /// call): `kind` is [`MALLOC`], [`CALLOC`] (zeroed), ... NULL with
        /// `ENOMEM` when out of memory.
        pub fn __rawrt_alloc_slow(size: usize, align: usize, kind: u32) -> *mut u8;
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

    /// C's `realloc`: as before tracing existed ([`caps::realloc_c`]) until
    /// the heap is diverted (one load and branch), then through the stub,
    /// which learns the caller (a tail call).
    ///
    /// # Safety
    /// C's contract for `realloc`.
    #[inline(always)]
    pub unsafe fn realloc_c(p: *mut u8, size: usize) -> *mut u8 {
        if diverted() {
            // SAFETY: forwarded contract.
            return unsafe { __rawrt_realloc(p, size) };
        }
        // SAFETY: forwarded contract.
        match unsafe { caps::realloc_c(p, size, "realloc") } {
            Ok(q) => q,
            Err(_) => enomem(),
        }
    }

    crate::caller_stub!("__rawrt_alloc_slow", alloc_at, 3);
    crate::caller_stub!("__rawrt_free_slow", free_at, 1);
    crate::caller_stub!("__rawrt_realloc", realloc_at, 2);
    crate::caller_stub!("__rawrt_malloc_at", malloc_loc, 3, "rawrt_malloc_at");
    crate::caller_stub!("__rawrt_calloc_at", calloc_loc, 4, "rawrt_calloc_at");
    crate::caller_stub!("__rawrt_realloc_at", realloc_loc, 4, "rawrt_realloc_at");
    crate::caller_stub!("__rawrt_free_at", free_loc, 3, "rawrt_free_at");

    fn enomem() -> *mut u8 {
        errno::set(Errno::ENOMEM);
        core::ptr::null_mut()
    }

    /// The call site's parts, made a [`Site`] only for the tracer.
    type At = (usize, usize, *const c_char, u32);

    fn site((caller, fp, file, line): At) -> Site {
        Site { caller, fp, file, line }
    }

    #[inline(always)]
    fn alloc(size: usize, align: usize, kind: u32, at: At) -> *mut u8 {
        let (zero, func) = (kind == CALLOC, NAMES[kind as usize % NAMES.len()]);
        let p = match ops() {
            Some(o) => (o.alloc)(size, align, zero, func, &site(at)),
            None => caps::malloc_slow(size, align, zero, func),
        };
        p.map_or_else(enomem, NonNull::as_ptr)
    }

    /// # Safety
    /// C's contract for `free`.
    #[inline(always)]
    unsafe fn free(p: *mut u8, at: At) {
        match ops() {
            // SAFETY: forwarded contract.
            Some(o) => unsafe { (o.free)(p, &site(at)) },
            // SAFETY: forwarded contract.
            None => unsafe { caps::free_slow(p, "free") },
        }
    }

    /// # Safety
    /// C's contract for `realloc`.
    #[inline(always)]
    unsafe fn realloc(p: *mut u8, size: usize, at: At) -> *mut u8 {
        let r = match ops() {
            // SAFETY: forwarded contract.
            Some(o) => unsafe { (o.realloc)(p, size, &site(at)) },
            // SAFETY: forwarded contract.
            None => unsafe { caps::realloc_c(p, size, "realloc") },
        };
        r.unwrap_or_else(|_| enomem())
    }

    const NOWHERE: *const c_char = core::ptr::null();

    extern "C" fn alloc_at(
        size: usize,
        align: usize,
        kind: u32,
        caller: usize,
        fp: usize,
    ) -> *mut u8 {
        alloc(size, align, kind, (caller, fp, NOWHERE, 0))
    }

    /// # Safety
    /// C's contract for `free` (`p` not null).
    unsafe extern "C" fn free_at(p: *mut u8, caller: usize, fp: usize) {
        // SAFETY: forwarded contract.
        unsafe { free(p, (caller, fp, NOWHERE, 0)) }
    }

    /// # Safety
    /// C's contract for `realloc`.
    unsafe extern "C" fn realloc_at(p: *mut u8, size: usize, caller: usize, fp: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { realloc(p, size, (caller, fp, NOWHERE, 0)) }
    }

    extern "C" fn malloc_loc(
        size: usize,
        file: *const c_char,
        line: u32,
        caller: usize,
        fp: usize,
    ) -> *mut u8 {
        alloc(size, ALIGN, MALLOC, (caller, fp, file, line))
    }

    extern "C" fn calloc_loc(
        n: usize,
        size: usize,
        file: *const c_char,
        line: u32,
        caller: usize,
        fp: usize,
    ) -> *mut u8 {
        match n.checked_mul(size) {
            Some(total) => alloc(total, ALIGN, CALLOC, (caller, fp, file, line)),
            None => enomem(),
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
        // SAFETY: forwarded contract.
        unsafe { realloc(p, size, (caller, fp, file, line)) }
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
        if !p.is_null() {
            // SAFETY: forwarded contract.
            unsafe { free(p, (caller, fp, file, line)) }
        }
    }
}
