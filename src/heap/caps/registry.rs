//! The registry of heaps with capabilities: every heap besides the
//! process heap that `heap_caps_*` allocates from, each a region heap
//! ([`RegionRef`], its state at the start of its region: the compact core
//! for a region the program registers, the main core for memory rawrt
//! maps itself) with up to [`PRIOS`] capability masks in priority order.
//!
//! - Entries are appended, never removed or changed, in registration
//!   order: slot `i < LEN` is written once, before `LEN` is raised past it
//!   (release), so the priority walk reads them without a lock.
//! - For owner lookups, `SORTED` keeps the entries' start addresses in
//!   ascending order (with their slot numbers), under a lock that also
//!   serialises registrations; ranges never overlap, so a binary search
//!   finds the one entry that can hold an address: O(log n).
//! - The process heap is not an entry: it comes first in registration
//!   order (see `walk.rs`), and its blocks are recognised by the process
//!   heap itself before the registry is asked.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::{EspErr, MIN_REGION};
use crate::heap::{Heap, RegionRef, RegionSource};
use crate::sync::Lock;

/// A heap of the main core over one region (the kinds of memory rawrt
/// maps itself).
pub type RegionHeap = Heap<RegionSource>;

/// How many capability masks a heap has (ESP-IDF's
/// `SOC_MEMORY_TYPE_NO_PRIOS`).
pub const PRIOS: usize = 3;

/// The most heaps the registry holds besides the process heap; one more
/// registration is `ESP_ERR_NO_MEM`.
pub const MAX_HEAPS: usize = 1024;

/// What kind of memory a registered heap manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A region the program registered.
    Region,
    /// Executable memory: a memfd mapped read+execute (the addresses
    /// handed out) and read+write (where the heap keeps its blocks).
    Exec,
    /// Locked, prefaulted memory.
    Dma,
    /// Large, lazily committed memory.
    Spiram,
}

/// One registered heap.
#[derive(Clone, Copy)]
pub struct Entry {
    /// The first address of the range its blocks are handed out in.
    pub start: usize,
    /// The end of that range.
    pub end: usize,
    /// Its capabilities, in priority order.
    pub caps: [u32; PRIOS],
    /// The heap (at the start of the region, in its writable view).
    pub heap: RegionRef,
    /// The address handed out minus the heap's own address of a block:
    /// 0, except for [`Kind::Exec`] (the executable view's distance from
    /// the writable one, wrapping).
    pub delta: usize,
    /// What memory it is.
    pub kind: Kind,
}

impl Entry {
    /// Every capability of the heap, of any priority.
    #[inline]
    pub fn all_caps(&self) -> u32 {
        self.caps[0] | self.caps[1] | self.caps[2]
    }

    /// Whether `p` lies in the heap's range.
    #[inline]
    pub fn holds(&self, p: usize) -> bool {
        p.wrapping_sub(self.start) < self.end - self.start
    }

    /// The heap's address of the block handed out at `p`.
    #[inline]
    pub fn inner(&self, p: *mut u8) -> *mut u8 {
        p.wrapping_byte_sub(self.delta)
    }

    /// The address handed out for the heap's block at `p`.
    #[inline]
    pub fn outer(&self, p: *mut u8) -> *mut u8 {
        p.wrapping_byte_add(self.delta)
    }
}

/// The entries in registration order: slot `i` is initialised iff
/// `i < LEN`, and never changes afterwards.
struct Slots(UnsafeCell<[MaybeUninit<Entry>; MAX_HEAPS]>);

// SAFETY: a slot is written once, by a registration holding SORTED's lock,
// before LEN (release) makes it visible; readers read only slots below
// LEN (acquire).
unsafe impl Sync for Slots {}

static SLOTS: Slots = Slots(UnsafeCell::new([const { MaybeUninit::uninit() }; MAX_HEAPS]));

/// How many slots are initialised.
static LEN: AtomicUsize = AtomicUsize::new(0);

/// The entries' start addresses in ascending order, with their slots.
struct Sorted {
    /// How many entries.
    n: usize,
    /// `start[k]` is the start of entry `slot[k]`; ascending for `k < n`.
    start: [usize; MAX_HEAPS],
    /// The slot of each start.
    slot: [u16; MAX_HEAPS],
}

static SORTED: Lock<Sorted> =
    Lock::new(Sorted { n: 0, start: [0; MAX_HEAPS], slot: [0; MAX_HEAPS] });

/// How many heaps are registered (the process heap not counted).
#[inline]
pub fn len() -> usize {
    LEN.load(Ordering::Acquire)
}

/// Entry `i` in registration order, if `i < len()`.
#[inline]
pub fn entry(i: usize) -> Option<&'static Entry> {
    if i >= len() {
        return None;
    }
    // SAFETY: slot `i < LEN` was initialised before LEN was raised past it
    // and is never written again.
    unsafe { (*SLOTS.0.get()).get(i).map(|e| e.assume_init_ref()) }
}

/// Entry `i` (`i < len()`, else a panic), in registration order.
pub fn get(i: usize) -> &'static Entry {
    entry(i).expect("registry::get: no such heap")
}

/// The entries in registration order.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    (0..len()).map_while(entry)
}

/// The entry whose range holds `p`, if any: a binary search over the
/// start addresses (no panic path: `free` calls it).
pub fn owner(p: usize) -> Option<&'static Entry> {
    let s = SORTED.lock();
    let n = s.n.min(MAX_HEAPS);
    let k = s.start[..n].partition_point(|&a| a <= p);
    let e = entry(*s.slot.get(k.checked_sub(1)?)? as usize)?;
    e.holds(p).then_some(e)
}

/// Registers a heap over `[start, end)` with `caps` (in priority order),
/// its state kept at the start of the region, handing out addresses
/// `delta` bytes above the region's (0 except for [`Kind::Exec`]); the
/// range registered for owner lookups is the one handed out. Errors:
/// `InvalidArg` for an inverted or too small region (under
/// [`MIN_REGION`]) or one that overlaps a registered one; `NoMem` when the
/// registry is full.
///
/// # Safety
/// `[start, end)` is readable and writable memory that nothing else uses
/// from now on, for the rest of the process (and, with a `delta`, so is
/// its view `delta` bytes above, for reading).
pub unsafe fn register(
    caps: [u32; PRIOS],
    start: usize,
    end: usize,
    delta: usize,
    kind: Kind,
) -> Result<&'static Entry, EspErr> {
    if start == 0 || end <= start || end - start < MIN_REGION {
        return Err(EspErr::InvalidArg);
    }
    let (ostart, oend) = (start.wrapping_add(delta), end.wrapping_add(delta));
    if oend <= ostart {
        return Err(EspErr::InvalidArg);
    }
    super::foreign::install();
    let mut s = SORTED.lock();
    let n = s.n;
    if n >= MAX_HEAPS {
        return Err(EspErr::NoMem);
    }
    // (Indices below are written so that the compiler sees them in
    // bounds: `malloc` reaches this through external memory.)
    let k = s.start[..n].partition_point(|&a| a < ostart);
    // The entry before must end at or before the new start, the one after
    // start at or after the new end.
    let before_ok = match k.checked_sub(1) {
        None => true,
        Some(j) => s.slot.get(j).and_then(|&i| entry(i as usize)).is_some_and(|e| e.end <= ostart),
    };
    let after_ok = k >= n || s.start.get(k).is_some_and(|&a| a >= oend);
    if !before_ok || !after_ok {
        return Err(EspErr::InvalidArg);
    }
    let p = core::ptr::with_exposed_provenance_mut::<u8>(start);
    // SAFETY: the caller's contract: the region is the heap's.
    // (Memory rawrt maps itself gets the main core, unless heaps are
    // poisoned or the program runs under Memcheck: then the compact core,
    // which poisons region heaps and announces their blocks to Memcheck.)
    let heap = unsafe {
        match kind {
            Kind::Region => RegionRef::init_in_place(p, end - start),
            _ if crate::heap::poison::for_new_heap() != crate::heap::Poisoning::Off
                || crate::rt::valgrind::running() =>
            {
                RegionRef::init_in_place(p, end - start)
            }
            _ => RegionHeap::init_in_place(p, end - start).map(RegionRef::Main),
        }
    }
    .ok_or(EspErr::InvalidArg)?;
    let e = Entry { start: ostart, end: oend, caps, heap, delta, kind };
    // SAFETY: slot `n` is not yet visible to readers (LEN is `n`: every
    // registration holds the lock, and LEN equals the number of entries),
    // and no other writer exists while the lock is held.
    unsafe { (*SLOTS.0.get())[n].write(e) };
    let mut j = n;
    while j > k {
        s.start[j] = s.start[j - 1];
        s.slot[j] = s.slot[j - 1];
        j -= 1;
    }
    s.start[j] = ostart;
    s.slot[j] = n as u16;
    s.n = n + 1;
    LEN.store(n + 1, Ordering::Release);
    entry(n).ok_or(EspErr::NoMem)
}
