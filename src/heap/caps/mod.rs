//! Memory capabilities, as ESP-IDF's `heap_caps_*` API names them: a
//! request carries a mask of the properties the memory must have, and is
//! served by a heap that has all of them.
//!
//! The heaps: the process heap ([`process()`], capabilities
//! [`PROCESS_CAPS`]) and the region heaps of the registry
//! (`registry.rs`), each with up to three capability masks in priority
//! order. An allocation walks the priorities as ESP-IDF does (`walk.rs`):
//! first every heap whose priority-0 mask has one of the requested
//! capabilities and which has all of them among its masks, then priority
//! 1, then 2; within a priority, in registration order, the process heap
//! first. `free`, `realloc` and `malloc_usable_size` take blocks of every
//! registered heap (`foreign.rs`): the process heap is asked first, and
//! only a pointer it does not own is looked up in the registry.
//!
//! A request for 0 capabilities asks for nothing in particular: it is
//! served as [`MALLOC_CAP_DEFAULT`]. One with [`MALLOC_CAP_INVALID`] gets
//! nothing. The functions here are what the C `heap_caps_*` entry points
//! call; Rust code can use them the same way.
//!
//! The other files: `kinds.rs`, the heaps rawrt makes for the
//! capabilities with a meaning on Linux (EXEC, DMA, SPIRAM), created on
//! first use; `inspect.rs`, checks, dumps, walks and the local low-water
//! mark; `prefer.rs`, the `_prefer` functions (their C entry points are
//! assembly, `asm/<arch>-varargs.s`); `typed.rs`, the Rust interface
//! (`rawrt::caps`).

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

mod foreign;
mod inspect;
mod kinds;
mod prefer;
pub mod registry;
pub mod typed;
mod walk;

#[cfg(not(test))]
pub use foreign::free_c;
pub use foreign::{free, free_slow, realloc_c, usable_size, usable_size_or_abort};
pub use inspect::{
    check, check_addr, dump, monitor_start, monitor_stop, walk, walk_c, WalkedBlock,
    WalkerBlockInfo, WalkerFn, WalkerHeapInfo,
};
pub use kinds::{
    exec_sync, exec_writable, extmem_enable, extmem_limit, DMA_CAPS, DMA_REGION, EXEC_CAPS,
    EXEC_REGION, SPIRAM_CAPS, SPIRAM_REGION,
};
pub use prefer::{prefer, Prefer};
pub use registry::{Entry, Kind, RegionHeap, MAX_HEAPS, PRIOS};
pub use walk::{heaps, HeapRef, Heaps};

/// `MALLOC_CAP_EXEC`: memory that can run code.
pub const MALLOC_CAP_EXEC: u32 = 1 << 0;
/// `MALLOC_CAP_32BIT`: memory that allows aligned 32-bit accesses.
pub const MALLOC_CAP_32BIT: u32 = 1 << 1;
/// `MALLOC_CAP_8BIT`: byte-addressable memory.
pub const MALLOC_CAP_8BIT: u32 = 1 << 2;
/// `MALLOC_CAP_DMA`: memory a device can reach by DMA.
pub const MALLOC_CAP_DMA: u32 = 1 << 3;
/// `MALLOC_CAP_PID2`: memory of process id 2 (only registered regions).
pub const MALLOC_CAP_PID2: u32 = 1 << 4;
/// `MALLOC_CAP_PID3` (only registered regions).
pub const MALLOC_CAP_PID3: u32 = 1 << 5;
/// `MALLOC_CAP_PID4` (only registered regions).
pub const MALLOC_CAP_PID4: u32 = 1 << 6;
/// `MALLOC_CAP_PID5` (only registered regions).
pub const MALLOC_CAP_PID5: u32 = 1 << 7;
/// `MALLOC_CAP_PID6` (only registered regions).
pub const MALLOC_CAP_PID6: u32 = 1 << 8;
/// `MALLOC_CAP_PID7` (only registered regions).
pub const MALLOC_CAP_PID7: u32 = 1 << 9;
/// `MALLOC_CAP_SPIRAM`: external (on Linux: large, lazily committed) memory.
pub const MALLOC_CAP_SPIRAM: u32 = 1 << 10;
/// `MALLOC_CAP_INTERNAL`: internal memory.
pub const MALLOC_CAP_INTERNAL: u32 = 1 << 11;
/// `MALLOC_CAP_DEFAULT`: what plain `malloc` returns.
pub const MALLOC_CAP_DEFAULT: u32 = 1 << 12;
/// `MALLOC_CAP_IRAM_8BIT`: instruction RAM allowing byte access (only
/// registered regions).
pub const MALLOC_CAP_IRAM_8BIT: u32 = 1 << 13;
/// `MALLOC_CAP_RETENTION`: memory kept across sleep (only registered
/// regions).
pub const MALLOC_CAP_RETENTION: u32 = 1 << 14;
/// `MALLOC_CAP_RTCRAM`: RTC fast memory (only registered regions).
pub const MALLOC_CAP_RTCRAM: u32 = 1 << 15;
/// `MALLOC_CAP_INVALID`: never served (a list end marker in ESP-IDF).
pub const MALLOC_CAP_INVALID: u32 = 1 << 31;

/// The capabilities of the process heap (its priority-0 mask), and of a
/// region registered by `heap_caps_add_region`.
pub const PROCESS_CAPS: u32 =
    MALLOC_CAP_DEFAULT | MALLOC_CAP_8BIT | MALLOC_CAP_32BIT | MALLOC_CAP_INTERNAL;

/// The process heap's capability masks in priority order.
pub const PROCESS_PRIO: [u32; PRIOS] = [PROCESS_CAPS, 0, 0];

/// The smallest region a heap can be registered over: a small-model
/// heap's state plus room for some blocks.
pub const MIN_REGION: usize = core::mem::size_of::<crate::heap::compact::SmallHeap>() + 256;

/// ESP-IDF's error codes (`esp_err_t`) for registrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum EspErr {
    /// `ESP_ERR_NO_MEM`: the registry is full.
    NoMem = 0x101,
    /// `ESP_ERR_INVALID_ARG`: a null, inverted, too small or overlapping
    /// region, or no capabilities.
    InvalidArg = 0x102,
    /// `ESP_ERR_NOT_FOUND`.
    NotFound = 0x105,
}

/// `ESP_OK`.
pub const ESP_OK: i32 = 0;
/// `ESP_FAIL`.
pub const ESP_FAIL: i32 = -1;
/// `ESP_ERR_NO_MEM`.
pub const ESP_ERR_NO_MEM: i32 = EspErr::NoMem as i32;
/// `ESP_ERR_INVALID_ARG`.
pub const ESP_ERR_INVALID_ARG: i32 = EspErr::InvalidArg as i32;
/// `ESP_ERR_NOT_FOUND`.
pub const ESP_ERR_NOT_FOUND: i32 = EspErr::NotFound as i32;

impl EspErr {
    /// `Ok` as `ESP_OK`, an error as its code.
    pub fn code(r: Result<(), EspErr>) -> i32 {
        r.map_or_else(|e| e as i32, |()| ESP_OK)
    }
}

/// Whether `caps` asks only for what the process heap has.
#[inline]
pub fn served(caps: u32) -> bool {
    caps & !PROCESS_CAPS == 0
}

/// The capabilities a request for `caps` is served as (0 as
/// [`MALLOC_CAP_DEFAULT`]).
#[inline]
pub fn wanted(caps: u32) -> u32 {
    if caps == 0 {
        MALLOC_CAP_DEFAULT
    } else {
        caps
    }
}

/// Registers `[start, end)` as a heap with `caps` in priority order
/// (`heap_caps_add_region_with_caps`). Errors: `InvalidArg` for a null,
/// inverted, too small (under [`MIN_REGION`]) or overlapping region, or
/// all-zero caps; `NoMem` when [`MAX_HEAPS`] heaps are registered.
///
/// # Safety
/// `[start, end)` is readable and writable memory that nothing else uses,
/// from now on and for the rest of the process.
pub unsafe fn add_region_with_caps(
    caps: [u32; PRIOS],
    start: usize,
    end: usize,
) -> Result<(), EspErr> {
    if caps == [0; PRIOS] {
        return Err(EspErr::InvalidArg);
    }
    // SAFETY: the caller's contract.
    unsafe { registry::register(caps, start, end, 0, Kind::Region) }.map(|_| ())
}

/// [`add_region_with_caps`] for C (`heap_caps_add_region_with_caps`):
/// `caps` points to [`PRIOS`] masks (null: `InvalidArg`); the result is an
/// `esp_err_t` ([`ESP_OK`] or an [`EspErr`] code).
///
/// # Safety
/// `caps` is null or points to [`PRIOS`] readable masks; the region as for
/// [`add_region_with_caps`].
pub unsafe fn add_region_with_caps_c(caps: *const u32, start: isize, end: isize) -> i32 {
    if caps.is_null() {
        return EspErr::InvalidArg as i32;
    }
    // SAFETY: the caller's contract.
    let caps = unsafe { caps.cast::<[u32; PRIOS]>().read_unaligned() };
    // SAFETY: the caller's contract.
    EspErr::code(unsafe { add_region_with_caps(caps, start as usize, end as usize) })
}

/// Registers `[start, end)` as plain RAM (`heap_caps_add_region`): the
/// process heap's capabilities, [`PROCESS_CAPS`], at priority 0.
///
/// # Safety
/// As for [`add_region_with_caps`].
pub unsafe fn add_region(start: usize, end: usize) -> Result<(), EspErr> {
    // SAFETY: the caller's contract.
    unsafe { add_region_with_caps(PROCESS_PRIO, start, end) }
}

/// `size` bytes aligned to `align` (zeroed if `zero`) with capabilities
/// `caps`, from the first heap in priority order that has them and room
/// (see the module's rules), else `None` with `errno` ENOMEM. A failure
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
    let p = if caps & MALLOC_CAP_INVALID != 0 {
        None
    } else {
        walk::alloc(size, align, zero, wanted(caps), func)
    };
    if p.is_none() {
        failed_with_caps(size, align, caps, func);
    }
    p
}

/// After a request of `size` bytes with `caps` that no heap could serve:
/// `errno` ENOMEM, and the failed-allocation callback.
fn failed_with_caps(size: usize, align: usize, caps: u32, func: &'static str) {
    crate::rt::errno::set(crate::sys::Errno::ENOMEM);
    let cb = callback(process().lock());
    failed(cb, size, align, caps, func);
}

/// `n * size` zeroed bytes aligned to `align` with `caps`
/// (`heap_caps_calloc`, `heap_caps_aligned_calloc`): as [`alloc`]; an
/// overflowing product gives `None` at once (no callback, as in
/// ESP-IDF).
pub fn calloc(
    n: usize,
    size: usize,
    align: usize,
    caps: u32,
    func: &'static str,
) -> Option<NonNull<u8>> {
    match n.checked_mul(size) {
        Some(total) => alloc(total, align, true, caps, func),
        None => None,
    }
}

/// The slow path of C's `malloc` family (what the thread cache did not
/// serve): a request of at least [`extmem_limit`] bytes tries external
/// memory ([`MALLOC_CAP_SPIRAM`]) first; then the process heap.
#[inline(always)]
pub fn malloc_slow(
    size: usize,
    align: usize,
    zero: bool,
    func: &'static str,
) -> Option<NonNull<u8>> {
    if size >= extmem_limit() {
        return kinds::extmem_first(size, align, zero, func);
    }
    process().allocate_slow(size, align, zero, func)
}

/// C's `realloc` rules (see `c_rules.rs`) for memory with capabilities
/// `caps`: a null `p` is [`alloc`]; a size of 0 frees `p` (reported as
/// `free` on misuse, as C's `free` would); otherwise a block whose heap
/// has all of `caps` is resized in its heap, and one whose heap lacks
/// some (or that cannot grow there) moves to memory with `caps`, its
/// contents kept. On out of memory `p` stays as it was and the
/// failed-allocation hook gets `caps`, as for [`alloc`]. Misuse (a
/// pointer no heap owns) is reported as `func` and aborts.
///
/// # Safety
/// `p` is null or a live block of a heap (the process heap or a
/// registered one); if it moves or is freed, nothing may use it
/// afterwards.
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
        |nn| unsafe { free(nn.as_ptr(), "free") },
        // SAFETY: the caller's contract.
        |nn| unsafe { walk::realloc(nn, size, caps, func, true) },
    )
}

/// The figures of the heaps that have all of `caps` (of any priority),
/// summed (the largest free block: the largest of them); zeros when none
/// has them.
pub fn info(caps: u32) -> HeapInfo {
    let mut sum = HeapInfo::default();
    for h in heaps(caps) {
        sum.merge(&h.info());
    }
    sum
}

/// The bytes of the heaps with `caps`: free plus allocated.
pub fn total_size(caps: u32) -> usize {
    let i = info(caps);
    i.total_free_bytes + i.total_allocated_bytes
}

/// Writes the figures for `caps` as ESP-IDF's `heap_caps_print_heap_info`
/// does: a title, two lines per heap that has `caps` (its address and
/// figures), and the totals.
pub fn print_info(caps: u32, out: &mut dyn Write) -> fmt::Result {
    writeln!(out, "Heap summary for capabilities 0x{:08X}:", caps)?;
    let mut sum = HeapInfo::default();
    for h in heaps(caps) {
        let i = h.info();
        out.write_str("  ")?;
        h.describe(out)?;
        writeln!(
            out,
            " free {} allocated {} min_free {}",
            i.total_free_bytes, i.total_allocated_bytes, i.minimum_free_bytes
        )?;
        writeln!(
            out,
            "    largest_free_block {} alloc_blocks {} free_blocks {} total_blocks {}",
            i.largest_free_block, i.allocated_blocks, i.free_blocks, i.total_blocks
        )?;
        sum.merge(&i);
    }
    writeln!(
        out,
        "  Totals:\n    free {} allocated {} min_free {} largest_free_block {}",
        sum.total_free_bytes,
        sum.total_allocated_bytes,
        sum.minimum_free_bytes,
        sum.largest_free_block
    )
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
        assert!(served(MALLOC_CAP_32BIT | MALLOC_CAP_INTERNAL));
        assert!(!served(MALLOC_CAP_EXEC));
        assert!(!served(MALLOC_CAP_8BIT | MALLOC_CAP_DMA));
        assert_eq!(PROCESS_CAPS, 0x1806);
    }

    /// A capability no heap has gets no memory, zero figures, and leaves
    /// a block it is asked to move where it is.
    pub fn unserved_caps_get_nothing() {
        const EXEC: u32 = MALLOC_CAP_PID7; // no heap has it
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
