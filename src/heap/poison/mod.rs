//! Heap poisoning, chosen at start-up without a rebuild: the environment
//! variable `RAWRT_HEAP_POISONING` (`off`, `light`, `comprehensive`), or
//! [`set_poisoning`] (C: `rawrt_heap_set_poisoning`) before the first
//! allocation.
//!
//! - **light**: every block of the process heap lies between a head and
//!   a tail canary (`layer.rs`), checked by `free`, `realloc` and every
//!   integrity check; an overflow of even one byte past the requested
//!   size is reported (`rawrt: free(): canary corrupted after block
//!   0x...`) and aborts.
//! - **comprehensive**: also fills new memory with `0xCE` and freed
//!   memory with `0xFE`, keeps freed blocks in a quarantine (the last
//!   1,024 blocks, 4 MiB at most) and checks, when each leaves it (before
//!   its memory can be reused) and in every integrity check, that nobody
//!   wrote it (`rawrt: free(): write after free at offset 100 of block
//!   0x...`); `malloc(0)` returns a distinct pointer into an inaccessible
//!   page (any access faults: SIGSEGV) that `free` takes back.
//!
//! The mode is fixed by the process heap's first allocation or the first
//! region heap made (from the environment, unless [`set_poisoning`]
//! chose it before); an unknown
//! value of the variable is reported on stderr at that allocation
//! (`rawrt: RAWRT_HEAP_POISONING: unknown mode "x" (off, light,
//! comprehensive)`) and aborts: a misspelt debugging request is not
//! silently ignored. Poisoning takes over the process heap through the
//! arenas' debug hook (`arena.rs`, [`Divert`]): threads keep no cache
//! and no arena, every call takes the locked slow path. With poisoning
//! off (the default) the hook is never installed and the fast paths are
//! what they were.
//!
//! Region heaps of the compact core (`multi_heap_register`,
//! `mm_initialize`, `heap_caps_add_region*`, and the `EXEC`, `DMA` and
//! `SPIRAM` heaps rawrt maps, which get that core while poisoning is on)
//! are poisoned too, each for its life if it was made while the mode was
//! on (making one fixes the mode, as the first allocation does:
//! [`for_new_heap`]). A region heap may be 4 KiB, too small for this
//! layer's quarantine: the compact core poisons its blocks itself,
//! ESP-IDF's way (`compact/poison.rs`: canaries, fills verified when a
//! block is handed out again and by the check), reporting with the same
//! lines ([`layer::Damage`]). Pools poison their blocks themselves
//! (`pool::debug`), with this layer's canary, fills and reports. Heaps of
//! the main core a Rust program makes over its own region
//! (`Heap::from_raw`, `new_in`, `init_in_place`) while the mode is on
//! are poisoned for their life by this layer ([`layer::Under`] is written
//! over any heap), its state at the start of the region (`region.rs`).

pub(crate) mod layer;
mod region;
mod zero;

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
pub(crate) mod tests_region;

use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, Ordering};

use super::arena::{install_divert, Arenas, Divert};
use super::error::HeapError;
use super::heap::Heap;
use super::source::Source;
use crate::sys::Errno;
use layer::{Layer, Under};

/// How the heap poisons its blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Poisoning {
    /// None (the default): the heap as it is without debugging.
    Off = 1,
    /// Head and tail canaries around every block.
    Light = 2,
    /// Canaries, fills of new and freed memory, a quarantine of freed
    /// blocks, and `malloc(0)` pointing at inaccessible memory.
    Comprehensive = 3,
}

/// The environment variable that chooses the mode.
pub const ENV: &str = "RAWRT_HEAP_POISONING";

/// 0 until fixed, then a [`Poisoning`], with [`READY`] once the
/// process heap's layer is installed (if the mode is on).
static MODE: AtomicU8 = AtomicU8::new(0);

/// [`MODE`]'s bit for "the process heap is ready for the mode". (A
/// region heap fixes the mode without it, so that a program whose only
/// heaps are regions does not link the process heap's layer.)
const READY: u8 = 0x80;

/// Whether the process heap is ready for the fixed mode (it allocated,
/// or [`set_poisoning`] succeeded).
#[inline(always)]
pub(super) fn fixed() -> bool {
    MODE.load(Ordering::Acquire) & READY != 0
}

/// Fixes the mode from the environment if nothing fixed it yet, and
/// installs the layer if it is on (every caller does, so that no thread
/// allocates past a mode another thread fixed before its layer was in).
#[cold]
#[inline(never)]
pub(super) fn fix() {
    fix_mode();
    install(mode());
    MODE.fetch_or(READY, Ordering::AcqRel);
}

/// Fixes the mode from the environment if nothing fixed it yet.
fn fix_mode() {
    if MODE.load(Ordering::Acquire) == 0 {
        let want = from_env() as u8;
        let _ = MODE.compare_exchange(0, want, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The mode the environment asks for; an unknown value is reported and
/// aborts.
fn from_env() -> Poisoning {
    let Some(v) = crate::rt::getenv(ENV) else { return Poisoning::Off };
    match v.to_bytes() {
        b"" | b"off" => Poisoning::Off,
        b"light" => Poisoning::Light,
        b"comprehensive" => Poisoning::Comprehensive,
        other => unknown(other),
    }
}

/// Reports an unknown mode and aborts.
#[cold]
fn unknown(v: &[u8]) -> ! {
    let mut w = crate::rt::io::FdWriter::new(crate::sys::STDERR);
    w.push(b"rawrt: RAWRT_HEAP_POISONING: unknown mode \"");
    w.push(v);
    w.push(b"\" (off, light, comprehensive)\n");
    let _ = w.finish();
    crate::rt::abort()
}

/// The mode (fixing it from the environment if nothing did yet).
pub fn poisoning() -> Poisoning {
    if !fixed() {
        fix();
    }
    mode()
}

/// The mode a new region heap takes for its life (fixing the process's
/// mode if nothing did yet). In the library's unit tests, the mode in
/// force without fixing it (off unless a test chose one), so that the
/// environment never poisons the tests' heaps.
pub(crate) fn for_new_heap() -> Poisoning {
    if !cfg!(test) {
        fix_mode();
    }
    mode()
}

/// The fixed mode.
fn mode() -> Poisoning {
    match MODE.load(Ordering::Acquire) & !READY {
        2 => Poisoning::Light,
        3 => Poisoning::Comprehensive,
        _ => Poisoning::Off,
    }
}

/// Chooses the mode, overriding `RAWRT_HEAP_POISONING`: only before the
/// process heap's first allocation, the first region heap and the first
/// pool (`crate::pool::Pool`), each of which fixes the mode (else
/// `EBUSY`, even for the mode in force).
pub fn set_poisoning(mode: Poisoning) -> Result<(), Errno> {
    MODE.compare_exchange(0, mode as u8, Ordering::AcqRel, Ordering::Acquire)
        .map_err(|_| Errno::EBUSY)?;
    install(mode);
    MODE.fetch_or(READY, Ordering::AcqRel);
    Ok(())
}

/// C's `RAWRT_POISON_OFF`.
pub const POISON_OFF: i32 = 0;
/// C's `RAWRT_POISON_LIGHT`.
pub const POISON_LIGHT: i32 = 1;
/// C's `RAWRT_POISON_COMPREHENSIVE`.
pub const POISON_COMPREHENSIVE: i32 = 2;

/// [`set_poisoning`] with C's mode numbers ([`POISON_OFF`],
/// [`POISON_LIGHT`], [`POISON_COMPREHENSIVE`]); `EINVAL` for any other.
pub fn set_poisoning_c(mode: i32) -> Result<(), Errno> {
    let m = match mode {
        POISON_OFF => Poisoning::Off,
        POISON_LIGHT => Poisoning::Light,
        POISON_COMPREHENSIVE => Poisoning::Comprehensive,
        _ => return Err(Errno::EINVAL),
    };
    set_poisoning(m)
}

/// Installs the process heap's layer for `mode` (none when off).
fn install(mode: Poisoning) {
    if mode != Poisoning::Off {
        LAYER.set_comprehensive(mode == Poisoning::Comprehensive);
        install_divert(&OPS);
    }
}

/// The process heap's layer (all zeros: in `.bss`).
static LAYER: Layer = Layer::new(false);

/// The hook table.
static OPS: Divert = Divert { alloc, free, realloc, usable };

/// Whether zero-size requests get the inaccessible page.
fn full() -> bool {
    LAYER.comprehensive()
}

/// [`Divert::alloc`].
fn alloc(
    a: &Arenas,
    size: usize,
    align: usize,
    zero: bool,
    func: &'static str,
) -> Option<NonNull<u8>> {
    if size == 0 && align <= 16 && full() {
        if let Some(p) = zero::take() {
            return Some(p);
        }
    }
    let p = LAYER.alloc(a.main_heap(), size, align, zero, func);
    if p.is_none() {
        a.main_heap().failed(size, align, func);
    }
    p
}

/// [`Divert::free`].
///
/// # Safety
/// As for [`Arenas::dealloc`].
unsafe fn free(a: &Arenas, p: NonNull<u8>) -> Result<(), HeapError> {
    if zero::owns(p.as_ptr()) {
        return zero::give(p.as_ptr());
    }
    // SAFETY: forwarded contract.
    unsafe { LAYER.free(a.main_heap(), p, "free") }
}

/// [`Divert::realloc`].
///
/// # Safety
/// As for [`Arenas::reallocate`].
unsafe fn realloc(
    a: &Arenas,
    p: NonNull<u8>,
    new_size: usize,
    align: usize,
    func: &'static str,
) -> Result<NonNull<u8>, HeapError> {
    if zero::owns(p.as_ptr()) {
        zero::check(p.as_ptr())?;
        let q = alloc(a, new_size, align, false, func).ok_or(HeapError::OutOfMemory)?;
        zero::give(p.as_ptr())?;
        return Ok(q);
    }
    // SAFETY: forwarded contract.
    unsafe { LAYER.realloc(a.main_heap(), p, new_size, align, func) }
}

/// [`Divert::usable`].
///
/// # Safety
/// As for [`Arenas::usable_size`].
unsafe fn usable(a: &Arenas, p: *const u8) -> Result<usize, HeapError> {
    if zero::owns(p) {
        return zero::check(p).map(|()| 0);
    }
    // SAFETY: forwarded contract.
    unsafe { LAYER.usable(a.main_heap(), p.cast_mut()) }
}

/// The process heap's integrity check's part for poisoning (when it is
/// on): every block's canaries, and the fill of quarantined blocks. Called
/// by [`Arenas::check`] itself, not through the hook table, so that a
/// program that never checks its heap does not link it.
pub(super) fn check(a: &Arenas, print: bool, out: &mut dyn Write) -> bool {
    mode() == Poisoning::Off || LAYER.check(a.main_heap(), print, out, "check")
}

impl<S: Source> Under for Heap<S> {
    fn alloc(&self, size: usize, align: usize, func: &'static str) -> Option<NonNull<u8>> {
        self.allocate_locked(None, size, align, false, func)
    }

    unsafe fn free(&self, q: NonNull<u8>) -> Result<(), HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.dealloc_locked(None, q.as_ptr().addr(), 0) }
    }

    fn usable(&self, q: *const u8) -> Result<usize, HeapError> {
        // SAFETY: the heap validates `q` before it reads any word of it.
        // (The core's own answer: `Heap::usable_size` of a poisoned
        // region heap asks the layer.)
        unsafe { self.usable_size_core(q) }
    }

    fn walk(&self, f: &mut dyn FnMut(*mut u8, usize)) {
        let g = self.lock().quieted();
        let mem = g.mem();
        g.walk_blocks(&mut |_, p, usable, used| {
            if used {
                f(mem.ptr(p), usable);
            }
            true
        });
    }
}
