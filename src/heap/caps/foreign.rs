//! C's `free`, `realloc` and `malloc_usable_size` for blocks of every
//! heap: the process heap is asked first, exactly as before the registry
//! existed (its fast paths unchanged); only a pointer it rejects is
//! looked up in the registry (`registry.rs`, a binary search), and one no
//! registered heap owns is reported with the process heap's verdict
//! (`rawrt: free(): invalid pointer of 0x...`) and aborts.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::registry;
use crate::heap::c_rules::realloc_rules;
use crate::heap::error::HeapError;
use crate::heap::realloc::Resized;
use crate::heap::Entry as _;
use crate::heap::{misuse, process, ALIGN};

/// Frees `p` as C's `free` does, for a block of any heap: null does
/// nothing, misuse is reported under `func` and aborts.
///
/// # Safety
/// If `p` is a live block of a heap, nothing may use it afterwards.
#[inline(always)]
pub unsafe fn free(p: *mut u8, func: &'static str) {
    if let Some(nn) = NonNull::new(p) {
        // SAFETY: forwarded contract; misuse is caught below.
        if let Err(e) = unsafe { process().dealloc(nn) } {
            // SAFETY: forwarded contract.
            unsafe { free_foreign(nn, e, func) }
        }
    }
}

/// C's `free`: [`free`] with the process heap's fast path inlined and the
/// rest reached by a tail call through the tracing hook's stub
/// (`heap/trace/hook.rs`), which learns the caller there.
///
/// # Safety
/// As for [`free`].
#[cfg(not(test))]
#[inline(always)]
pub unsafe fn free_c(p: *mut u8) {
    let Some(nn) = NonNull::new(p) else { return };
    // SAFETY: forwarded contract.
    match unsafe { process().dealloc_fast(nn) } {
        Some(Ok(())) => {}
        // SAFETY: forwarded contract.
        Some(Err(e)) => unsafe { free_foreign(nn, e, "free") },
        // SAFETY: forwarded contract; `p` is not null.
        None => unsafe { crate::heap::trace::__rawrt_free_slow(p) },
    }
}

/// [`free`] of a block (not null) that the process heap's fast path did
/// not take: to its owner, or the registered heap that owns it.
///
/// # Safety
/// As for [`free`]; `p` is not null.
#[inline(always)]
pub unsafe fn free_slow(p: *mut u8, func: &'static str) {
    // SAFETY: the caller's contract: not null.
    let nn = unsafe { NonNull::new_unchecked(p) };
    // SAFETY: forwarded contract; misuse is caught below.
    if let Err(e) = unsafe { process().dealloc_slow(nn) } {
        // SAFETY: forwarded contract.
        unsafe { free_foreign(nn, e, func) }
    }
}

/// What `free`, `realloc` and `malloc_usable_size` do with a block the
/// process heap rejected: look for its heap in the registry. Installed by
/// the first registration ([`install`]), so that a program that registers
/// no heap links none of the registry or of the region heaps' code; kept
/// as an address (`AtomicUsize`: through a pointer LLVM would call the
/// target directly and link it again).
struct ForeignOps {
    free: unsafe fn(NonNull<u8>, HeapError, &'static str),
    realloc: ReallocFn,
    usable: unsafe fn(*const u8, HeapError) -> Result<usize, HeapError>,
}

/// [`realloc_foreign`]'s type.
type ReallocFn =
    unsafe fn(NonNull<u8>, usize, HeapError, &'static str) -> Result<NonNull<u8>, HeapError>;

static OPS: ForeignOps =
    ForeignOps { free: free_in_owner, realloc: realloc_in_owner, usable: usable_in_owner };

/// 0, or the address of [`OPS`] once a heap is registered.
static FOREIGN: AtomicUsize = AtomicUsize::new(0);

/// Lets the C functions find registered heaps (called by every
/// registration; the first one counts).
pub(super) fn install() {
    FOREIGN.store(&OPS as *const ForeignOps as usize, Ordering::Release);
}

/// The operations on registered heaps, if any heap was registered.
#[inline(always)]
fn ops() -> Option<&'static ForeignOps> {
    match FOREIGN.load(Ordering::Acquire) {
        0 => None,
        // SAFETY: a non-zero `FOREIGN` is the address of the static `OPS`.
        a => Some(unsafe { &*(a as *const ForeignOps) }),
    }
}

/// Frees `nn`, which the process heap rejected with `e`, in the registered
/// heap that owns it; with none, reports `e`.
///
/// # Safety
/// As for [`free`].
#[cold]
#[inline(never)]
unsafe fn free_foreign(nn: NonNull<u8>, e: HeapError, func: &'static str) {
    match ops() {
        // SAFETY: forwarded contract.
        Some(o) => unsafe { (o.free)(nn, e, func) },
        None => misuse(func, e, nn.as_ptr()),
    }
}

/// [`free_foreign`] with heaps registered.
///
/// # Safety
/// As for [`free`].
unsafe fn free_in_owner(nn: NonNull<u8>, e: HeapError, func: &'static str) {
    let p = nn.as_ptr();
    let Some(o) = registry::owner(p.addr()) else { misuse(func, e, p) };
    let Some(inner) = NonNull::new(o.inner(p)) else { misuse(func, e, p) };
    // SAFETY: forwarded contract: `p` lies in `o`'s range.
    if let Err(e) = unsafe { o.heap.dealloc(inner) } {
        misuse(func, e, p)
    }
}

/// Resizes `nn`, which the process heap rejected with `e`, in the
/// registered heap that owns it (where it stays); with none, `Err(e)`.
/// The outcome in registers (see [`Resized`]).
///
/// # Safety
/// As for [`realloc_c`].
#[cold]
#[inline(never)]
unsafe fn realloc_foreign(
    nn: NonNull<u8>,
    size: usize,
    e: HeapError,
    func: &'static str,
) -> Resized {
    Resized::from_result(match ops() {
        // SAFETY: forwarded contract.
        Some(o) => unsafe { (o.realloc)(nn, size, e, func) },
        None => Err(e),
    })
}

/// [`realloc_foreign`] with heaps registered.
///
/// # Safety
/// As for [`realloc_c`].
unsafe fn realloc_in_owner(
    nn: NonNull<u8>,
    size: usize,
    e: HeapError,
    func: &'static str,
) -> Result<NonNull<u8>, HeapError> {
    let p = nn.as_ptr();
    let o = registry::owner(p.addr()).ok_or(e)?;
    let inner = NonNull::new(o.inner(p)).ok_or(e)?;
    // SAFETY: forwarded contract: `p` lies in `o`'s range.
    let q = unsafe { o.heap.reallocate(inner, size, ALIGN, func) }?;
    NonNull::new(o.outer(q.as_ptr())).ok_or(HeapError::InvalidPointer)
}

/// C's `realloc` (see [`CRules::realloc_c`](crate::heap::CRules::realloc_c))
/// for a block of any heap: a block of a registered heap is resized in
/// that heap; a null `p` allocates from the process heap.
///
/// # Safety
/// `p` is null or a live block of a heap; if it moves or is freed,
/// nothing may use it afterwards.
#[inline(always)]
pub unsafe fn realloc_c(p: *mut u8, size: usize, func: &'static str) -> Result<*mut u8, HeapError> {
    realloc_rules(
        p,
        size,
        func,
        || process().allocate_slow(size, ALIGN, false, func),
        // SAFETY: the caller's contract.
        |nn| unsafe { free(nn.as_ptr(), func) },
        // SAFETY: the caller's contract.
        |nn| match unsafe { process().reallocate_inlined(nn, size, ALIGN, func) } {
            Err(e) if e != HeapError::OutOfMemory => {
                // SAFETY: the caller's contract.
                unsafe { realloc_foreign(nn, size, e, func) }.result()
            }
            r => r,
        },
    )
}

/// The usable size of the block at `p` (not null) of any heap; `Err` for
/// a pointer no heap owns.
///
/// # Safety
/// `p` should be a live block of a heap; others are rejected.
pub unsafe fn usable_size(p: *const u8) -> Result<usize, HeapError> {
    // SAFETY: forwarded contract.
    match unsafe { process().usable_size(p) } {
        Ok(n) => Ok(n),
        Err(e) => match ops() {
            // SAFETY: forwarded contract.
            Some(o) => unsafe { (o.usable)(p, e) },
            None => Err(e),
        },
    }
}

/// The usable size of `p`, which the process heap rejected with `e`, in
/// the registered heap that owns it.
///
/// # Safety
/// As for [`usable_size`].
unsafe fn usable_in_owner(p: *const u8, e: HeapError) -> Result<usize, HeapError> {
    let o = registry::owner(p.addr()).ok_or(e)?;
    // SAFETY: forwarded contract: `p` lies in `o`'s range.
    unsafe { o.heap.usable_size(o.inner(p.cast_mut())) }
}

/// C's `malloc_usable_size`: 0 for null, the usable size of a block of any
/// heap; a pointer no heap owns is reported as misuse by `func` and
/// aborts.
///
/// # Safety
/// As for [`usable_size`].
pub unsafe fn usable_size_or_abort(p: *mut u8, func: &'static str) -> usize {
    if p.is_null() {
        return 0;
    }
    // SAFETY: forwarded contract.
    match unsafe { usable_size(p) } {
        Ok(n) => n,
        Err(e) => misuse(func, e, p),
    }
}
