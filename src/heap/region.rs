//! [`RegionRef`]: a region heap, whichever core serves it, and the
//! opaque pointer C holds for one ([`RegionRef::handle`]:
//! `multi_heap_handle_t`, NuttX's `struct mm_heap_s *`).
//!
//! A region the program gives (`multi_heap_register`, `mm_initialize`,
//! `heap_caps_add_region`, [`RegionRef::init_in_place`]) gets a compact
//! heap (`compact/`): NuttX's small memory model for a region of at most
//! 64 KiB ([`SmallHeap`]: 4-byte headers, 8-byte alignment), the wide
//! format above ([`WideHeap`]); either costs its region a few hundred
//! bytes. Memory rawrt maps for itself (the `EXEC`, `DMA` and `SPIRAM`
//! heaps of `caps/kinds.rs`) gets the main core ([`Heap`] over a
//! [`RegionSource`]). A handle is the heap's address with the core in its
//! low bits (0: main, 1: small, 2: wide): every heap is 8-aligned.

use core::ffi::c_void;
use core::fmt::{self, Write};
use core::ptr::NonNull;

use super::block::ALIGN;
use super::c_rules::realloc_rules;
use super::compact::{Format, Small, SmallHeap, WideHeap};
use super::entry::Entry;
use super::error::HeapError;
use super::ext_lock::ExtLockFn;
use super::info::HeapInfo;
use super::{Heap, ReallocNames, RegionSource};

/// The largest region that gets a small-model heap.
pub const SMALL_MODEL_MAX: usize = Small::MAX_AREA;

/// A region heap.
#[derive(Clone, Copy)]
pub enum RegionRef {
    /// NuttX's small memory model (a region of at most 64 KiB).
    Small(&'static SmallHeap),
    /// The compact core's wide format (a larger region).
    Wide(&'static WideHeap),
    /// The main core (memory rawrt maps for itself).
    Main(&'static Heap<RegionSource>),
}

/// Calls `$e` with `$h` bound to the heap, whichever core it is.
macro_rules! each {
    ($r:expr, $h:ident => $e:expr) => {
        match $r {
            RegionRef::Small($h) => $e,
            RegionRef::Wide($h) => $e,
            RegionRef::Main($h) => $e,
        }
    };
}

impl RegionRef {
    /// A heap whose state lives at the start of `[ptr, ptr+len)`: a
    /// small-model heap for at most [`SMALL_MODEL_MAX`] bytes, a wide one
    /// above. `None` if the region cannot hold the state and a block.
    ///
    /// # Safety
    /// The region must be valid for reads and writes and used by nothing
    /// else for as long as the heap is used (the rest of the process).
    pub unsafe fn init_in_place(ptr: *mut u8, len: usize) -> Option<RegionRef> {
        // SAFETY: forwarded contract.
        unsafe {
            if len <= SMALL_MODEL_MAX {
                SmallHeap::init_in_place(ptr, len).map(RegionRef::Small)
            } else {
                WideHeap::init_in_place(ptr, len).map(RegionRef::Wide)
            }
        }
    }

    /// The alignment of a plain allocation (`multi_heap_malloc`,
    /// `mm_malloc`, their `realloc`s): 8 in the small model, else 16.
    pub fn natural_align(self) -> usize {
        match self {
            RegionRef::Small(_) => Small::GRAIN,
            _ => ALIGN,
        }
    }

    /// Adds `[ptr, ptr+len)` to the heap (NuttX's `mm_addregion`): false
    /// if it cannot (a small-model heap holds one region, as NuttX's small
    /// model is one heap of at most 64 KiB; a wide heap holds eight).
    ///
    /// # Safety
    /// As for [`init_in_place`](Self::init_in_place).
    pub unsafe fn add_region(self, ptr: *mut u8, len: usize) -> bool {
        // SAFETY: forwarded contract.
        each!(self, h => unsafe { h.add_region(ptr, len) })
    }

    /// Frees the block at `p` (not null); misuse comes back as the error.
    ///
    /// # Safety
    /// `p` should be a live block of this heap (others are detected).
    pub unsafe fn dealloc(self, p: NonNull<u8>) -> Result<(), HeapError> {
        // SAFETY: forwarded contract.
        each!(self, h => unsafe { h.dealloc(p) })
    }

    /// C's `realloc` rules ([`CRules::realloc_c`](super::CRules)) with
    /// the heap's [`natural_align`](Self::natural_align).
    ///
    /// # Safety
    /// `p` is null or a block of this heap; if the block moves or is
    /// freed, nothing may use it afterwards.
    pub unsafe fn realloc_c(
        self,
        p: *mut u8,
        size: usize,
        names: ReallocNames,
    ) -> Result<*mut u8, HeapError> {
        let align = self.natural_align();
        realloc_rules(
            p,
            size,
            names.realloc,
            || self.allocate_slow(size, align, false, names.malloc),
            // SAFETY: the caller's contract.
            |nn| unsafe { self.free_or_abort(nn.as_ptr(), names.free) },
            // SAFETY: the caller's contract.
            |nn| unsafe { self.reallocate(nn, size, align, names.realloc) },
        )
    }

    /// The heap's figures.
    pub fn info(self) -> HeapInfo {
        each!(self, h => h.info())
    }

    /// Sets the low-water mark of the free bytes.
    pub fn set_minimum_free(self, v: usize) {
        match self {
            RegionRef::Small(h) => h.set_minimum_free(v),
            RegionRef::Wide(h) => h.set_minimum_free(v),
            RegionRef::Main(h) => h.lock().set_minimum_free(v),
        }
    }

    /// Checks every invariant, printing violations to `out` if asked.
    pub fn check(self, print_errors: bool, out: &mut dyn Write) -> bool {
        each!(self, h => h.check(print_errors, out))
    }

    /// Whether `p` is a block in use of this heap.
    pub fn check_addr(self, p: *const u8) -> bool {
        each!(self, h => h.check_addr(p))
    }

    /// One line per block and a summary.
    pub fn dump(self, out: &mut dyn Write) -> fmt::Result {
        each!(self, h => h.dump(out))
    }

    /// Calls `f(span, payload, usable bytes, in use)` for every block
    /// until it returns false (under the heap's lock: `f` must not use the
    /// heap).
    pub fn walk_blocks(self, f: &mut dyn FnMut((usize, usize), usize, usize, bool) -> bool) {
        match self {
            RegionRef::Small(h) => {
                let _ = h.walk_blocks(f);
            }
            RegionRef::Wide(h) => {
                let _ = h.walk_blocks(f);
            }
            RegionRef::Main(h) => h.lock().walk_blocks(f),
        }
    }

    /// Writes an SVG picture of the heap to `out`.
    pub fn svg(self, out: &mut dyn Write) -> fmt::Result {
        each!(self, h => h.svg(out))
    }

    /// From now on every operation takes `lock` around the heap's own
    /// (ESP-IDF's `multi_heap_set_lock`).
    ///
    /// # Safety
    /// As for [`Heap::set_external_lock`].
    pub unsafe fn set_external_lock(self, lock: *mut c_void, take: ExtLockFn, give: ExtLockFn) {
        // SAFETY: forwarded contract.
        each!(self, h => unsafe { h.set_external_lock(lock, take, give) })
    }

    /// The handle C holds for the heap (never null).
    pub fn handle(self) -> *const c_void {
        let (p, core) = match self {
            RegionRef::Main(h) => (core::ptr::from_ref(h).cast::<u8>(), 0),
            RegionRef::Small(h) => (core::ptr::from_ref(h).cast::<u8>(), 1),
            RegionRef::Wide(h) => (core::ptr::from_ref(h).cast::<u8>(), 2),
        };
        // (Every heap is at least 8-aligned: the low bits are free.)
        p.map_addr(|a| a | core).cast()
    }

    /// The heap of a handle.
    ///
    /// # Safety
    /// `h` came from [`handle`](Self::handle) (C's contract: a handle
    /// `multi_heap_register` or `mm_initialize` returned).
    pub unsafe fn from_handle(h: *const c_void) -> RegionRef {
        let p = h.cast::<u8>();
        let a = p.addr();
        let at = p.with_addr(a & !7);
        // SAFETY: the caller's contract: a live heap of the core the low
        // bits name, at the address without them.
        unsafe {
            match a & 7 {
                1 => RegionRef::Small(&*at.cast::<SmallHeap>()),
                2 => RegionRef::Wide(&*at.cast::<WideHeap>()),
                _ => RegionRef::Main(&*at.cast::<Heap<RegionSource>>()),
            }
        }
    }
}

impl Entry for RegionRef {
    fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        each!(*self, h => h.allocate(size, align, zero, func))
    }
    fn allocate_slow(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        each!(*self, h => h.allocate_slow(size, align, zero, func))
    }
    unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
        // SAFETY: forwarded contract.
        each!(*self, h => unsafe { h.free_or_abort(p, func) })
    }
    unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        // SAFETY: forwarded contract.
        each!(*self, h => unsafe { h.reallocate(ptr, new_size, align, func) })
    }
    unsafe fn usable_size(&self, ptr: *const u8) -> Result<usize, HeapError> {
        // SAFETY: forwarded contract.
        each!(*self, h => unsafe { Entry::usable_size(h, ptr) })
    }
}

// Compile-time: the formats' alignment is what `natural_align` says.
const _: () = assert!(<super::compact::Wide as Format>::GRAIN == ALIGN);
