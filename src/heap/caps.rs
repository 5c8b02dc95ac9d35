//! Memory capabilities, as ESP-IDF's `heap_caps_*` API names them: a
//! request carries a mask of the properties the memory must have, and is
//! served by a heap that has all of them.
//!
//! Today one heap has capabilities: the process heap ([`process()`]),
//! with [`MALLOC_CAP_8BIT`] and [`MALLOC_CAP_DEFAULT`] ([`PROCESS_CAPS`]).
//! A request for any other capability gets nothing (and the figures for
//! it are zeros) until heaps with it exist. The functions here are what
//! the C `heap_caps_*` entry points call; Rust code can use them the same
//! way.

use core::ffi::c_char;
use core::fmt::{self, Write};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::block::ALIGN;
use super::c_rules::realloc_rules;
use super::error::HeapError;
use super::info::HeapInfo;
use super::raw::FailedAllocFn;
use super::{process, HeapGuard, ProcessSource};

/// `MALLOC_CAP_8BIT`: byte-addressable memory.
pub const MALLOC_CAP_8BIT: u32 = 1 << 2;
/// `MALLOC_CAP_DEFAULT`: what plain `malloc` returns.
pub const MALLOC_CAP_DEFAULT: u32 = 1 << 12;
/// The capabilities of the process heap.
pub const PROCESS_CAPS: u32 = MALLOC_CAP_8BIT | MALLOC_CAP_DEFAULT;

/// Whether `caps` asks only for what the process heap has.
#[inline]
pub fn served(caps: u32) -> bool {
    caps & !PROCESS_CAPS == 0
}

/// `size` bytes aligned to `align` (zeroed if `zero`) with capabilities
/// `caps`: from the process heap when it has them, else `None`. A failure
/// runs the failed-allocation callback here rather than in
/// [`Heap::allocate`](super::Heap::allocate), so that a hook registered
/// with [`set_failed_alloc_hook`] gets the capabilities asked for, as
/// ESP-IDF passes them (`esp_alloc_failed_hook_t`: "capabilities requested
/// of failed allocation"), also when no heap has them. `func` names the
/// caller for reports and the callback.
pub fn alloc(
    size: usize,
    align: usize,
    zero: bool,
    caps: u32,
    func: &'static str,
) -> Option<NonNull<u8>> {
    let mut g = process().lock();
    let p = if !served(caps) {
        None
    } else if zero {
        g.alloc_zeroed(size, align)
    } else {
        g.alloc(size, align)
    };
    let cb = callback(g);
    if p.is_none() {
        failed(cb, size, align, caps, func);
    }
    p
}

/// C's `realloc` rules (see `c_rules.rs`) for memory with capabilities
/// `caps`: a null `p` is [`alloc`]; a size of 0 frees `p` (reported as
/// `free` on misuse, as C's `free` would); a resize is done by the process
/// heap when it has `caps` (else `p` stays where it is: out of memory).
/// On out of memory the failed-allocation hook gets `caps`, as for
/// [`alloc`]. Misuse is reported as `func` and aborts.
///
/// # Safety
/// `p` is null or a block of the process heap; if it moves or is freed,
/// nothing may use it afterwards.
pub unsafe fn realloc(
    p: *mut u8,
    size: usize,
    caps: u32,
    func: &'static str,
) -> Result<*mut u8, HeapError> {
    realloc_rules(
        p,
        size,
        func,
        || alloc(size, ALIGN, false, caps, func),
        // SAFETY: the caller's contract.
        |nn| unsafe { process().free_or_abort(nn.as_ptr(), "free") },
        |nn| {
            let mut g = process().lock();
            let r = if served(caps) {
                // SAFETY: the caller's contract.
                unsafe { g.realloc(nn.as_ptr(), size, ALIGN) }
            } else {
                Err(HeapError::OutOfMemory) // no heap has `caps`: the block stays
            };
            let cb = callback(g);
            if r == Err(HeapError::OutOfMemory) {
                failed(cb, size, ALIGN, caps, func);
            }
            r
        },
    )
}

/// The process heap's figures for `caps`, or zeros for capabilities it
/// does not have.
pub fn info(caps: u32) -> HeapInfo {
    if served(caps) {
        process().info()
    } else {
        HeapInfo::default()
    }
}

/// The bytes of the heaps with `caps`: free plus allocated.
pub fn total_size(caps: u32) -> usize {
    let i = info(caps);
    i.total_free_bytes + i.total_allocated_bytes
}

/// Writes the figures for `caps` under ESP-IDF's title (`Heap summary for
/// capabilities 0x00001004:`).
pub fn print_info(caps: u32, out: &mut dyn Write) -> fmt::Result {
    let i = info(caps);
    write!(out, "Heap summary for capabilities 0x{:08X}:\n{}", caps, i)
}

/// ESP-IDF's failed-allocation hook (`esp_alloc_failed_hook_t`):
/// `(size, caps, function name)`, the name NUL-terminated.
pub type FailedAllocHook = extern "C" fn(usize, u32, *const c_char);

/// The registered [`FailedAllocHook`], as an address (0: none).
static HOOK: AtomicUsize = AtomicUsize::new(0);

/// Registers (or with `None` clears) `hook`, which then runs after every
/// failed allocation of the process heap: with the capabilities asked
/// for by [`alloc`] and [`realloc`], with [`MALLOC_CAP_DEFAULT`] for
/// every other entry point (as ESP-IDF's `malloc` reports its failures).
/// It replaces the process heap's failed-allocation callback.
pub fn set_failed_alloc_hook(hook: Option<FailedAllocHook>) {
    HOOK.store(hook.map_or(0, |h| h as usize), Ordering::Release);
    process().set_failed_alloc_callback(hook.map(|_| call_hook as FailedAllocFn));
}

/// The process heap's failed-allocation callback, read before `g` unlocks.
fn callback(g: HeapGuard<'_, ProcessSource>) -> Option<FailedAllocFn> {
    g.failed_alloc_callback()
}

/// Runs the process heap's failed-allocation callback `cb` for a request
/// with `caps`: the hook with `caps`, any other callback as the heap would.
fn failed(cb: Option<FailedAllocFn>, size: usize, align: usize, caps: u32, func: &'static str) {
    match cb {
        Some(f) if f as usize == call_hook as FailedAllocFn as usize => {
            hook_with_caps(size, caps, func)
        }
        Some(f) => f(size, align, func),
        None => {}
    }
}

/// The process heap's failed-allocation callback while a hook is
/// registered: a failure of `malloc` and friends, which ask for
/// [`MALLOC_CAP_DEFAULT`].
fn call_hook(size: usize, _align: usize, func: &'static str) {
    hook_with_caps(size, MALLOC_CAP_DEFAULT, func);
}

/// Calls the registered hook with a NUL-terminated function name (cut at
/// 47 bytes).
fn hook_with_caps(size: usize, caps: u32, func: &'static str) {
    let f = HOOK.load(Ordering::Acquire);
    if f == 0 {
        return;
    }
    // SAFETY: only `FailedAllocHook` values are stored in HOOK.
    let f: FailedAllocHook = unsafe { core::mem::transmute::<usize, FailedAllocHook>(f) };
    let mut name = [0u8; 48];
    let n = func.len().min(name.len() - 1);
    name[..n].copy_from_slice(&func.as_bytes()[..n]);
    f(size, caps, name.as_ptr().cast());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The process heap serves the default and byte-addressable
    /// capabilities, alone or together, and nothing else.
    pub fn served_caps() {
        assert!(served(0));
        assert!(served(MALLOC_CAP_8BIT));
        assert!(served(MALLOC_CAP_DEFAULT));
        assert!(served(MALLOC_CAP_8BIT | MALLOC_CAP_DEFAULT));
        assert!(!served(1 << 0)); // MALLOC_CAP_EXEC
        assert!(!served(MALLOC_CAP_8BIT | 1 << 3)); // and MALLOC_CAP_DMA
        assert_eq!(PROCESS_CAPS, 0x1004);
    }

    /// A capability no heap has gets no memory, zero figures, and leaves
    /// a block it is asked to move where it is.
    pub fn unserved_caps_get_nothing() {
        const EXEC: u32 = 1 << 0;
        assert_eq!(alloc(64, ALIGN, false, EXEC, "test"), None);
        assert_eq!(info(EXEC), HeapInfo::default());
        assert_eq!(total_size(EXEC), 0);
        let p = alloc(64, ALIGN, true, MALLOC_CAP_8BIT, "test").unwrap();
        // SAFETY: `p` is a block of the process heap, 64 bytes long.
        unsafe {
            p.as_ptr().write_bytes(7, 64);
            assert_eq!(realloc(p.as_ptr(), 4096, EXEC, "test"), Err(HeapError::OutOfMemory));
            assert_eq!(*p.as_ptr().add(63), 7);
            let q = realloc(p.as_ptr(), 4096, MALLOC_CAP_DEFAULT, "test").unwrap();
            assert_eq!(*q.add(63), 7);
            assert!(total_size(MALLOC_CAP_DEFAULT) >= 4096);
            assert_eq!(realloc(q, 0, EXEC, "test"), Ok(core::ptr::null_mut()));
        }
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("heap::caps::served_caps", served_caps),
        ("heap::caps::unserved_caps_get_nothing", unserved_caps_get_nothing),
    ];
}
