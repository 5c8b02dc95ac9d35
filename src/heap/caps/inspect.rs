//! Looking at the heaps by capability: integrity checks, dumps, walks
//! over every block, and the local low-water mark of free bytes
//! (`heap_caps_monitor_local_minimum_free_size_*`).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::registry::{self, MAX_HEAPS};
use super::walk::{heaps, HeapRef};
use super::MALLOC_CAP_INVALID;
use crate::heap::process;

/// Whether every heap that has all of `caps` is intact (every heap with
/// [`MALLOC_CAP_INVALID`]); each is checked, errors written to `out` if
/// `print_errors`.
pub fn check(caps: u32, print_errors: bool, out: &mut dyn Write) -> bool {
    let mut ok = true;
    for h in heaps(caps) {
        ok &= h.check(print_errors, out);
    }
    ok
}

/// Whether the heap holding `addr` is intact; false if no heap holds it.
pub fn check_addr(addr: usize, print_errors: bool, out: &mut dyn Write) -> bool {
    if process().check_addr(addr as *const u8) {
        return true;
    }
    match registry::owner(addr) {
        Some(e) => HeapRef::Region(e).check(print_errors, out),
        None => false,
    }
}

/// Every block of the heaps that have all of `caps` (every heap with
/// [`MALLOC_CAP_INVALID`]): for each, a line saying where it is, then its
/// dump (one line per block: address, data size, used or free, next
/// block; next free block for free ones) and a summary.
pub fn dump(caps: u32, out: &mut dyn Write) -> fmt::Result {
    for h in heaps(caps) {
        h.describe(out)?;
        writeln!(out, " caps {:08X} {:08X} {:08X}", h.caps()[0], h.caps()[1], h.caps()[2])?;
        h.dump(out)?;
    }
    Ok(())
}

/// One block for [`walk`]: the `(start, end)` of the memory it lies in
/// (a region, segment or mapping), the address a user holds (for an
/// executable heap, in the executable view), its usable size, and
/// whether it is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkedBlock {
    /// The memory the block lies in, as `(start, end)`.
    pub span: (usize, usize),
    /// The block's address.
    pub ptr: usize,
    /// Its usable size.
    pub size: usize,
    /// In use (false: free, or kept by a thread cache).
    pub used: bool,
}

/// Calls `f` for every block of the heaps that have all of `caps` (every
/// heap with [`MALLOC_CAP_INVALID`]), heap by heap, under each heap's
/// lock: `f` must not allocate or free in the heap it is shown. `f`
/// returning false ends the walk of that heap (the next heap is walked).
pub fn walk(caps: u32, f: &mut dyn FnMut(WalkedBlock) -> bool) {
    for h in heaps(caps) {
        match h {
            HeapRef::Process => process()
                .lock()
                .walk_blocks(&mut |span, ptr, size, used| f(WalkedBlock { span, ptr, size, used })),
            HeapRef::Region(e) => {
                let d = e.delta;
                e.heap.walk_blocks(&mut |(a, b), ptr, size, used| {
                    let span = (a.wrapping_add(d), b.wrapping_add(d));
                    f(WalkedBlock { span, ptr: ptr.wrapping_add(d), size, used })
                })
            }
        }
    }
}

/// ESP-IDF's `walker_heap_into_t` (sic): the memory a walked block lies
/// in.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WalkerHeapInfo {
    /// Its first address.
    pub start: isize,
    /// Its end.
    pub end: isize,
}

/// ESP-IDF's `walker_block_info_t`: a walked block.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WalkerBlockInfo {
    /// The block's address.
    pub ptr: *mut u8,
    /// Its usable size.
    pub size: usize,
    /// In use.
    pub used: bool,
}

/// ESP-IDF's `heap_caps_walker_cb_t`: true to go on with the heap.
pub type WalkerFn = extern "C" fn(WalkerHeapInfo, WalkerBlockInfo, *mut core::ffi::c_void) -> bool;

/// [`walk`] with ESP-IDF's C callback and its `user_data`.
pub fn walk_c(caps: u32, f: WalkerFn, user: *mut core::ffi::c_void) {
    walk(caps, &mut |b| {
        let heap = WalkerHeapInfo { start: b.span.0 as isize, end: b.span.1 as isize };
        let ptr = core::ptr::without_provenance_mut(b.ptr);
        f(heap, WalkerBlockInfo { ptr, size: b.size, used: b.used }, user)
    })
}

/// Each heap's low-water mark before monitoring started: index 0 the
/// process heap, `i + 1` entry `i`.
static SAVED: [AtomicUsize; MAX_HEAPS + 1] = [const { AtomicUsize::new(0) }; MAX_HEAPS + 1];

/// How many heaps monitoring started with (0: not monitoring).
static MONITORED: AtomicUsize = AtomicUsize::new(0);

/// Serialises start and stop.
static BUSY: AtomicBool = AtomicBool::new(false);

/// `heap_caps_monitor_local_minimum_free_size_start`: from now on, each
/// heap's low-water mark of free bytes starts from its free bytes now
/// (the all-time mark is kept aside). False if monitoring runs already.
pub fn monitor_start() -> bool {
    if BUSY.swap(true, Ordering::Acquire) {
        return false;
    }
    let ok = MONITORED.load(Ordering::Relaxed) == 0;
    if ok {
        let mut n = 0;
        for (i, h) in heaps(MALLOC_CAP_INVALID).enumerate() {
            let (saved, free) = (h.info().minimum_free_bytes, h.info().total_free_bytes);
            if let Some(s) = SAVED.get(i) {
                s.store(saved, Ordering::Relaxed);
            }
            set_minimum(h, free);
            n = i + 1;
        }
        MONITORED.store(n, Ordering::Relaxed);
    }
    BUSY.store(false, Ordering::Release);
    ok
}

/// `heap_caps_monitor_local_minimum_free_size_stop`: each heap's
/// low-water mark becomes the all-time one again (the lower of the mark
/// kept aside and the local one). False if monitoring was not started.
pub fn monitor_stop() -> bool {
    if BUSY.swap(true, Ordering::Acquire) {
        return false;
    }
    let n = MONITORED.swap(0, Ordering::Relaxed);
    for (i, h) in heaps(MALLOC_CAP_INVALID).enumerate().take(n) {
        if let Some(s) = SAVED.get(i) {
            set_minimum(h, s.load(Ordering::Relaxed).min(h.info().minimum_free_bytes));
        }
    }
    BUSY.store(false, Ordering::Release);
    n > 0
}

/// Sets the low-water mark of heap `h` (the process heap: its main heap).
fn set_minimum(h: HeapRef, v: usize) {
    match h {
        HeapRef::Process => process().lock().set_minimum_free(v),
        HeapRef::Region(e) => e.heap.set_minimum_free(v),
    }
}
