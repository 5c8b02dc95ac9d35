//! ESP-IDF's heap APIs: `multi_heap_*` over regions the caller registers,
//! and `heap_caps_*` over the process heap, which has the capabilities
//! `MALLOC_CAP_DEFAULT` and `MALLOC_CAP_8BIT`. A request for any other
//! capability gets NULL (or 0) until those heaps exist.

use super::malloc::free as c_free;
use crate::heap::{self, misuse, Heap, HeapError, HeapInfo, RegionSource, ALIGN};
use crate::rt::io::FdWriter;
use crate::sys::STDOUT;
use core::ffi::c_char;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::heap::caps::{MALLOC_CAP_8BIT, MALLOC_CAP_DEFAULT};
const CAPS: u32 = MALLOC_CAP_8BIT | MALLOC_CAP_DEFAULT;

/// ESP-IDF's `multi_heap_info_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MultiHeapInfo {
    /// Free bytes.
    pub total_free_bytes: usize,
    /// Allocated bytes.
    pub total_allocated_bytes: usize,
    /// The largest allocation that can succeed now.
    pub largest_free_block: usize,
    /// Low-water mark of free bytes.
    pub minimum_free_bytes: usize,
    /// Allocated blocks.
    pub allocated_blocks: usize,
    /// Free blocks.
    pub free_blocks: usize,
    /// All blocks.
    pub total_blocks: usize,
}

impl From<HeapInfo> for MultiHeapInfo {
    fn from(i: HeapInfo) -> Self {
        MultiHeapInfo {
            total_free_bytes: i.total_free_bytes,
            total_allocated_bytes: i.total_allocated_bytes,
            largest_free_block: i.largest_free_block,
            minimum_free_bytes: i.minimum_free_bytes,
            allocated_blocks: i.allocated_blocks,
            free_blocks: i.free_blocks,
            total_blocks: i.total_blocks,
        }
    }
}

type Region = Heap<RegionSource>;

/// Whether `caps` asks only for what the process heap has.
#[inline]
fn served(caps: u32) -> bool {
    caps & !CAPS == 0
}

/// Frees through `h`, aborting on misuse.
unsafe fn region_free(h: &Region, p: *mut u8, func: &'static str) {
    // SAFETY: C's contract: a live block of `h`.
    unsafe { h.free_or_abort(p, func) }
}

/// Resizes through `h`: realloc's rules (NULL is malloc, 0 frees).
unsafe fn region_realloc(
    h: &Heap<impl heap::Source>,
    p: *mut u8,
    size: usize,
    func: &'static str,
) -> *mut u8 {
    let Some(nn) = NonNull::new(p) else {
        return h.allocate(size, ALIGN, false, func).map_or(null_mut(), |q| q.as_ptr());
    };
    if size == 0 {
        // SAFETY: C's contract: a live block of `h`.
        unsafe { h.free_or_abort(nn.as_ptr(), func) };
        return null_mut();
    }
    // SAFETY: as above.
    match unsafe { h.reallocate(nn, size, ALIGN, func) } {
        Ok(q) => q.as_ptr(),
        Err(HeapError::OutOfMemory) => null_mut(),
        Err(e) => misuse(func, e, p),
    }
}

/// Prints `check` errors or a dump on stdout without allocating.
fn to_stdout(f: impl FnOnce(&mut FdWriter)) {
    let mut w = FdWriter::new(STDOUT);
    f(&mut w);
    let _ = w.finish();
}

c_name! {
/// `multi_heap_register`: a heap over `[start, start + size)`, its state
/// kept at the start of the region. NULL if the region is too small.
unsafe extern "C" fn multi_heap_register(start: *mut u8, size: usize) -> *const Region {
    // SAFETY: C's contract: the region is the heap's from now on.
    unsafe { Region::init_in_place(start, size) }.map_or(core::ptr::null(), |h| h as *const Region)
}
}

c_name! {
/// `multi_heap_malloc`.
unsafe extern "C" fn multi_heap_malloc(h: &Region, size: usize) -> *mut u8 {
    h.allocate(size, ALIGN, false, "multi_heap_malloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `multi_heap_aligned_alloc`: `align` must be a power of two (else NULL).
unsafe extern "C" fn multi_heap_aligned_alloc(h: &Region, size: usize, align: usize) -> *mut u8 {
    if !align.is_power_of_two() {
        return null_mut();
    }
    h.allocate(size, align.max(ALIGN), false, "multi_heap_aligned_alloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `multi_heap_free` (NULL does nothing).
unsafe extern "C" fn multi_heap_free(h: &Region, p: *mut u8) {
    // SAFETY: C's contract.
    unsafe { region_free(h, p, "multi_heap_free") }
}
}

c_name! {
/// `multi_heap_aligned_free`: the same as `multi_heap_free` here.
unsafe extern "C" fn multi_heap_aligned_free(h: &Region, p: *mut u8) {
    // SAFETY: C's contract.
    unsafe { region_free(h, p, "multi_heap_aligned_free") }
}
}

c_name! {
/// `multi_heap_realloc`: realloc's rules.
unsafe extern "C" fn multi_heap_realloc(h: &Region, p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: C's contract.
    unsafe { region_realloc(h, p, size, "multi_heap_realloc") }
}
}

c_name! {
/// `multi_heap_get_allocated_size`: the usable size of a block.
unsafe extern "C" fn multi_heap_get_allocated_size(h: &Region, p: *mut u8) -> usize {
    // SAFETY: C's contract: a live block of `h`.
    match unsafe { h.usable_size(p) } {
        Ok(n) => n,
        Err(e) => misuse("multi_heap_get_allocated_size", e, p),
    }
}
}

c_name! {
/// `multi_heap_free_size`.
extern "C" fn multi_heap_free_size(h: &Region) -> usize {
    h.info().total_free_bytes
}
}

c_name! {
/// `multi_heap_minimum_free_size`: the low-water mark of free bytes.
extern "C" fn multi_heap_minimum_free_size(h: &Region) -> usize {
    h.info().minimum_free_bytes
}
}

c_name! {
/// `multi_heap_get_info`.
unsafe extern "C" fn multi_heap_get_info(h: &Region, info: *mut MultiHeapInfo) {
    // SAFETY: C's contract: `info` is writable.
    unsafe { *info = h.info().into() }
}
}

c_name! {
/// `multi_heap_check`: true if every invariant holds; errors are printed
/// on stdout if asked.
extern "C" fn multi_heap_check(h: &Region, print_errors: bool) -> bool {
    let mut ok = true;
    to_stdout(|w| ok = h.check(print_errors, w));
    ok
}
}

c_name! {
/// `multi_heap_dump`: one line per block and a summary, on stdout.
extern "C" fn multi_heap_dump(h: &Region) {
    to_stdout(|w| {
        let _ = h.dump(w);
    })
}
}

/// Allocates for a `heap_caps_*` call: from the process heap when it has
/// `caps`, else nothing. A failure runs the failed-allocation callback
/// here rather than in [`Heap::allocate`], so that the C hook gets the
/// capabilities asked for, as ESP-IDF passes them (`esp_alloc_failed_hook_t`:
/// "capabilities requested of failed allocation"), also when no heap has
/// them.
fn caps_alloc(size: usize, align: usize, zero: bool, caps: u32, func: &'static str) -> *mut u8 {
    let mut g = heap::process().lock();
    let p = if !served(caps) {
        None
    } else if zero {
        g.alloc_zeroed(size, align)
    } else {
        g.alloc(size, align)
    };
    let cb = g.failed_alloc_callback();
    drop(g);
    match p {
        Some(p) => p.as_ptr(),
        None => {
            caps_failed(cb, size, align, caps, func);
            null_mut()
        }
    }
}

/// Runs the process heap's failed-allocation callback `cb` for a
/// `heap_caps_*` call: the C hook with the requested `caps`, any other
/// callback as the heap would.
fn caps_failed(
    cb: Option<heap::FailedAllocFn>,
    size: usize,
    align: usize,
    caps: u32,
    func: &'static str,
) {
    match cb {
        Some(f) if f as usize == call_hook as heap::FailedAllocFn as usize => {
            hook_with_caps(size, caps, func)
        }
        Some(f) => f(size, align, func),
        None => {}
    }
}

c_name! {
/// `heap_caps_malloc`.
extern "C" fn heap_caps_malloc(size: usize, caps: u32) -> *mut u8 {
    caps_alloc(size, ALIGN, false, caps, "heap_caps_malloc")
}
}

c_name! {
/// `heap_caps_calloc`.
extern "C" fn heap_caps_calloc(n: usize, size: usize, caps: u32) -> *mut u8 {
    match n.checked_mul(size) {
        Some(total) => caps_alloc(total, ALIGN, true, caps, "heap_caps_calloc"),
        None => null_mut(),
    }
}
}

c_name! {
/// `heap_caps_realloc`: realloc's rules, for the served capabilities; the
/// failed-allocation hook gets `caps`, as for `heap_caps_malloc`.
unsafe extern "C" fn heap_caps_realloc(p: *mut u8, size: usize, caps: u32) -> *mut u8 {
    const FUNC: &str = "heap_caps_realloc";
    let Some(nn) = NonNull::new(p) else {
        return caps_alloc(size, ALIGN, false, caps, FUNC);
    };
    if size == 0 {
        // SAFETY: C's contract: a live block of the process heap.
        unsafe { c_free(p) };
        return null_mut();
    }
    let mut g = heap::process().lock();
    let r = if served(caps) {
        // SAFETY: C's contract: a live block of the process heap.
        unsafe { g.realloc(nn.as_ptr(), size, ALIGN) }
    } else {
        Err(HeapError::OutOfMemory) // no heap has `caps`: the block stays
    };
    let cb = g.failed_alloc_callback();
    drop(g);
    match r {
        Ok(q) => q.as_ptr(),
        Err(HeapError::OutOfMemory) => {
            caps_failed(cb, size, ALIGN, caps, FUNC);
            null_mut()
        }
        Err(e) => misuse(FUNC, e, p),
    }
}
}

c_name! {
/// `heap_caps_free`.
unsafe extern "C" fn heap_caps_free(p: *mut u8) {
    // SAFETY: C's contract.
    unsafe { c_free(p) }
}
}

c_name! {
/// `heap_caps_aligned_alloc`: `align` must be a power of two (else NULL).
extern "C" fn heap_caps_aligned_alloc(align: usize, size: usize, caps: u32) -> *mut u8 {
    if !align.is_power_of_two() {
        return null_mut();
    }
    caps_alloc(size, align.max(ALIGN), false, caps, "heap_caps_aligned_alloc")
}
}

/// The process heap's figures for `caps`, or zeros for capabilities it
/// does not have.
fn caps_info(caps: u32) -> HeapInfo {
    if served(caps) {
        heap::process().info()
    } else {
        HeapInfo::default()
    }
}

c_name! {
/// `heap_caps_get_info`.
unsafe extern "C" fn heap_caps_get_info(info: *mut MultiHeapInfo, caps: u32) {
    // SAFETY: C's contract: `info` is writable.
    unsafe { *info = caps_info(caps).into() }
}
}

c_name! {
/// `heap_caps_get_free_size`.
extern "C" fn heap_caps_get_free_size(caps: u32) -> usize {
    caps_info(caps).total_free_bytes
}
}

c_name! {
/// `heap_caps_get_minimum_free_size`.
extern "C" fn heap_caps_get_minimum_free_size(caps: u32) -> usize {
    caps_info(caps).minimum_free_bytes
}
}

c_name! {
/// `heap_caps_get_largest_free_block`.
extern "C" fn heap_caps_get_largest_free_block(caps: u32) -> usize {
    caps_info(caps).largest_free_block
}
}

c_name! {
/// `heap_caps_get_total_size`: free plus allocated bytes.
extern "C" fn heap_caps_get_total_size(caps: u32) -> usize {
    let i = caps_info(caps);
    i.total_free_bytes + i.total_allocated_bytes
}
}

c_name! {
/// `heap_caps_get_allocated_size`: the usable size of a block.
unsafe extern "C" fn heap_caps_get_allocated_size(p: *mut u8) -> usize {
    // SAFETY: C's contract.
    unsafe { super::malloc::malloc_usable_size(p) }
}
}

c_name! {
/// `heap_caps_check_integrity_all`.
extern "C" fn heap_caps_check_integrity_all(print_errors: bool) -> bool {
    let mut ok = true;
    to_stdout(|w| ok = heap::process().check(print_errors, w));
    ok
}
}

c_name! {
/// `heap_caps_check_integrity_addr`: checks the heap that holds `addr`;
/// false if no heap holds it or that heap is damaged.
extern "C" fn heap_caps_check_integrity_addr(addr: usize, _print_errors: bool) -> bool {
    heap::process().check_addr(addr as *const u8)
}
}

c_name! {
/// `heap_caps_dump_all`: every block of the process heap, on stdout.
extern "C" fn heap_caps_dump_all() {
    to_stdout(|w| {
        let _ = heap::process().dump(w);
    })
}
}

c_name! {
/// `heap_caps_print_heap_info`: the figures for `caps`, on stdout.
extern "C" fn heap_caps_print_heap_info(caps: u32) {
    let i = caps_info(caps);
    to_stdout(|w| {
        let _ = core::fmt::Write::write_fmt(w, format_args!("Heap summary for capabilities 0x{:08X}:\n{}", caps, i));
    })
}
}

/// The C failed-allocation hook: `(size, caps, function name)`.
type CHook = extern "C" fn(usize, u32, *const c_char);

static HOOK: AtomicUsize = AtomicUsize::new(0);

/// The process heap's failed-allocation callback while a C hook is
/// registered: a failure of malloc and friends, which ask for
/// `MALLOC_CAP_DEFAULT` (as ESP-IDF's malloc reports its failures).
fn call_hook(size: usize, _align: usize, func: &'static str) {
    hook_with_caps(size, MALLOC_CAP_DEFAULT, func);
}

/// Calls the registered C hook with a NUL-terminated function name.
fn hook_with_caps(size: usize, caps: u32, func: &'static str) {
    let f = HOOK.load(Ordering::Acquire);
    if f == 0 {
        return;
    }
    // SAFETY: only `CHook` values are stored in HOOK.
    let f: CHook = unsafe { core::mem::transmute::<usize, CHook>(f) };
    let mut name = [0u8; 48];
    let n = func.len().min(name.len() - 1);
    name[..n].copy_from_slice(&func.as_bytes()[..n]);
    f(size, caps, name.as_ptr().cast());
}

c_name! {
/// `heap_caps_register_failed_alloc_callback`: `hook(size, caps, name)`
/// runs after every failed allocation of the process heap (NULL clears
/// it). Returns 0 (`ESP_OK`).
extern "C" fn heap_caps_register_failed_alloc_callback(hook: Option<CHook>) -> i32 {
    HOOK.store(hook.map_or(0, |h| h as usize), Ordering::Release);
    heap::process().set_failed_alloc_callback(hook.map(|_| call_hook as heap::FailedAllocFn));
    0
}
}
