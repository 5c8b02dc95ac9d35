//! Poisoning of the main core's region heaps (`Heap::from_raw`,
//! `Heap::new_in`, `Heap::init_in_place`): a heap made while poisoning is
//! on keeps the poisoning layer's state ([`Layer`]: the mode and the
//! quarantine) at the start of its region, and every public entry point
//! that allocates, frees, resizes, tells a usable size or checks goes
//! through it, with the process heap's semantics and report lines. The
//! test is made only by heaps whose source has
//! [`EXTERNAL_LOCK`](Source::EXTERNAL_LOCK) (the region's), so that the
//! process heap's code is unchanged; for a region heap it costs a load
//! and a branch (and a test). The layer's lock is taken before the
//! heap's (and its external lock, `ext_lock.rs`): a program that holds a
//! poisoned heap's external lock across its calls to the heap from
//! several threads can deadlock (one thread in the layer waiting for the
//! external lock, its holder waiting for the layer).

use core::ptr::NonNull;
use core::sync::atomic::Ordering::Relaxed;

use super::layer::Layer;
use super::Poisoning;
use crate::heap::block::up;
use crate::heap::error::HeapError;
use crate::heap::heap::Heap;
use crate::heap::source::{RegionSource, Source};

impl<S: Source> Heap<S> {
    /// The heap's poisoning layer, if it was made poisoned (never for a
    /// source without `EXTERNAL_LOCK`: compiled away).
    #[inline(always)]
    pub(in crate::heap) fn layer(&self) -> Option<&Layer> {
        if !S::EXTERNAL_LOCK {
            return None;
        }
        let l = self.poison.load(Relaxed);
        // SAFETY: null, or the layer `from_raw_poisoned` wrote at the
        // start of the heap's region, which outlives the heap and which
        // the heap never hands out.
        unsafe { l.as_ref() }
    }

    /// Whether the heap was made poisoned: for a region heap a test of a
    /// word in memory and a branch (the layer is loaded again off the
    /// fast path, so that no register holds it); for the process heap's
    /// source, false at compile time.
    #[inline(always)]
    pub(in crate::heap) fn poisoned(&self) -> bool {
        S::EXTERNAL_LOCK && !self.poison.load(Relaxed).is_null()
    }

    /// An allocation through the layer (the failed-allocation callback
    /// called if it fails).
    #[cold]
    #[inline(never)]
    pub(in crate::heap) fn poisoned_alloc(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let p = match self.layer() {
            Some(l) => l.alloc(self, size, align, zero, func),
            None => self.allocate_locked(None, size, align, zero, func),
        };
        if p.is_none() {
            self.failed(size, align, func);
        }
        p
    }

    /// A free through the layer (damage reported as `free` and aborts).
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[cold]
    #[inline(never)]
    pub(in crate::heap) unsafe fn poisoned_free(&self, p: NonNull<u8>) -> Result<(), HeapError> {
        match self.layer() {
            // SAFETY: forwarded contract.
            Some(l) => unsafe { l.free(self, p, "free") },
            // SAFETY: forwarded contract.
            None => unsafe { self.dealloc_locked(None, p.as_ptr().addr(), 0) },
        }
    }

    /// A resize through the layer (always a new block; the callback
    /// called if it fails for want of memory).
    ///
    /// # Safety
    /// As for [`Heap::reallocate`].
    #[cold]
    #[inline(never)]
    pub(in crate::heap) unsafe fn poisoned_realloc(
        &self,
        p: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let r = match self.layer() {
            // SAFETY: forwarded contract.
            Some(l) => unsafe { l.realloc(self, p, new_size, align, func) },
            // SAFETY: forwarded contract.
            None => unsafe { self.realloc_with_outlined(None, p, new_size, align, func) },
        };
        if r == Err(HeapError::OutOfMemory) {
            self.failed(new_size, align, func);
        }
        r
    }
}

impl Heap<RegionSource> {
    /// A heap over `[ptr, ptr+len)` poisoned in `mode` for its life: the
    /// layer's state at the start of the region (aligned), the heap over
    /// the rest; a region too small for the state gives a heap with no
    /// memory (every allocation fails). Off: [`Heap::from_raw_plain`].
    ///
    /// # Safety
    /// As for [`Heap::from_raw`].
    pub(crate) unsafe fn from_raw_poisoned(ptr: *mut u8, len: usize, mode: Poisoning) -> Self {
        if mode == Poisoning::Off {
            // SAFETY: forwarded contract.
            return unsafe { Self::from_raw_plain(ptr, len) };
        }
        let start = up(ptr.addr(), core::mem::align_of::<Layer>());
        let end = ptr.addr().saturating_add(len);
        let rest = start.checked_add(core::mem::size_of::<Layer>()).filter(|&r| r <= end);
        let Some(rest) = rest else {
            // SAFETY: an empty region.
            return unsafe { Self::from_raw_plain(ptr, 0) };
        };
        let at = ptr.with_addr(start).cast::<Layer>();
        // SAFETY: `[start, rest)` lies in the caller's region, aligned for
        // a `Layer`, and the heap below gets only what follows it.
        let heap = unsafe {
            at.write(Layer::new(mode == Poisoning::Comprehensive));
            Self::from_raw_plain(ptr.with_addr(rest), end - rest)
        };
        heap.poison.store(at, Relaxed);
        heap
    }
}
