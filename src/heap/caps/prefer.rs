//! ESP-IDF's `heap_caps_*_prefer`: an allocation tried with each of a
//! list of capability sets in turn (C passes them as variadic arguments,
//! collected by the trampolines of `asm/<arch>-varargs.s`). Only the
//! last failure is reported: the failed-allocation callback gets the
//! last capabilities tried, and the function's name.

use core::ptr::{null_mut, NonNull};

use super::walk;
use super::{failed_with_caps, free, wanted, MALLOC_CAP_INVALID};
use crate::arch::VarArgs;
use crate::heap::block::ALIGN;
use crate::heap::error::HeapError;

/// Which `_prefer` function a trampoline was entered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefer {
    /// `heap_caps_malloc_prefer(size, num, ...)`.
    Malloc,
    /// `heap_caps_calloc_prefer(n, size, num, ...)`.
    Calloc,
    /// `heap_caps_realloc_prefer(ptr, size, num, ...)`.
    Realloc,
}

impl Prefer {
    /// The trampolines' number for each (`which`), if valid.
    pub fn from_which(which: usize) -> Option<Prefer> {
        [Prefer::Malloc, Prefer::Calloc, Prefer::Realloc].get(which).copied()
    }
}

/// An allocation without callback or errno: `None` for `caps` with
/// [`MALLOC_CAP_INVALID`] or when no heap with them has room.
fn quiet(size: usize, zero: bool, caps: u32, func: &'static str) -> Option<NonNull<u8>> {
    if caps & MALLOC_CAP_INVALID != 0 {
        return None;
    }
    walk::alloc(size, ALIGN, zero, wanted(caps), func)
}

/// The `_prefer` call `which` with the arguments `a` collected: each
/// capability set in turn until one succeeds; on failure, NULL, `errno`
/// ENOMEM and the callback with the last set tried (`MALLOC_CAP_DEFAULT`
/// if `num` is 0).
///
/// # Safety
/// `a` holds the call's arguments: the named ones of `which`, then `num`
/// capability sets; for `Realloc`, the pointer is null or a live block
/// of a heap (if it moves or is freed, nothing may use it afterwards).
pub unsafe fn prefer(which: Prefer, a: &VarArgs) -> *mut u8 {
    // SAFETY: the caller's contract: the named arguments of `which`, then
    // `num` sets.
    let (p, size, total, first, func) = unsafe {
        match which {
            Prefer::Malloc => (0, a.get(0), Some(a.get(0)), 2, "heap_caps_malloc_prefer"),
            Prefer::Calloc => {
                (0, a.get(1), a.get(0).checked_mul(a.get(1)), 3, "heap_caps_calloc_prefer")
            }
            Prefer::Realloc => (a.get(0), a.get(1), Some(a.get(1)), 3, "heap_caps_realloc_prefer"),
        }
    };
    // SAFETY: as above.
    let num = unsafe { a.get(first - 1) };
    let Some(total) = total else { return null_mut() };
    let p = p as *mut u8;
    if which == Prefer::Realloc && size == 0 && !p.is_null() {
        // SAFETY: the caller's contract.
        unsafe { free(p, "free") };
        return null_mut();
    }
    let mut caps = super::MALLOC_CAP_DEFAULT;
    for i in 0..num {
        // SAFETY: as above; a set is a 32-bit argument.
        caps = unsafe { a.get(first + i) } as u32;
        let r = match which {
            Prefer::Realloc if !p.is_null() => {
                let nn = NonNull::new(p).unwrap_or(NonNull::dangling());
                // SAFETY: the caller's contract.
                match unsafe { walk::realloc(nn, size, caps, func, false) } {
                    Ok(q) => Some(q),
                    Err(HeapError::OutOfMemory) => None,
                    Err(e) => crate::heap::misuse(func, e, p),
                }
            }
            _ => quiet(total, which == Prefer::Calloc, caps, func),
        };
        if let Some(q) = r {
            return q.as_ptr();
        }
    }
    failed_with_caps(total, ALIGN, caps, func);
    null_mut()
}
