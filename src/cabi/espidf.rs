//! ESP-IDF's heap APIs: `multi_heap_*` over regions the caller gives, and
//! `heap_caps_*` over the process heap and the registered heaps
//! (`heap::caps`).

use crate::heap::caps::{self, FailedAllocHook};
use crate::heap::CRules;
use crate::heap::{self, Entry, MultiHeapInfo, ReallocNames, RegionRef, ALIGN};
use crate::rt::io::FdWriter;
use crate::sys::STDOUT;
use core::ffi::c_void;
use core::ptr::null_mut;

c_name! {
/// `multi_heap_register`: a heap over `[start, start + size)`, its state
/// kept at the start of the region (NuttX's small memory model up to
/// 64 KiB, see `heap::RegionRef`). NULL if the region is too small.
unsafe extern "C" fn multi_heap_register(start: *mut u8, size: usize) -> *const c_void {
    // SAFETY: C's contract: the region is the heap's from now on.
    unsafe { RegionRef::init_in_place(start, size) }.map_or(core::ptr::null(), RegionRef::handle)
}
}

c_name! {
/// `multi_heap_malloc`: 8-byte aligned in the small model, else 16.
unsafe extern "C" fn multi_heap_malloc(h: *const c_void, size: usize) -> *mut u8 {
    // SAFETY: C's contract: a handle `multi_heap_register` returned.
    let h = unsafe { RegionRef::from_handle(h) };
    h.allocate(size, h.natural_align(), false, "multi_heap_malloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `multi_heap_aligned_alloc`: `align` must be a power of two (else NULL).
unsafe extern "C" fn multi_heap_aligned_alloc(h: *const c_void, size: usize, align: usize) -> *mut u8 {
    let Some(align) = heap::align_c11(align) else { return null_mut() };
    // SAFETY: as above.
    unsafe { RegionRef::from_handle(h) }.allocate(size, align, false, "multi_heap_aligned_alloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `multi_heap_free` (NULL does nothing).
unsafe extern "C" fn multi_heap_free(h: *const c_void, p: *mut u8) {
    // SAFETY: C's contract: a handle, and `p` null or a live block of it.
    unsafe { RegionRef::from_handle(h).free_or_abort(p, "multi_heap_free") }
}
}

c_name! {
/// `multi_heap_aligned_free`: the same as `multi_heap_free` here.
unsafe extern "C" fn multi_heap_aligned_free(h: *const c_void, p: *mut u8) {
    // SAFETY: as above.
    unsafe { RegionRef::from_handle(h).free_or_abort(p, "multi_heap_aligned_free") }
}
}

c_name! {
/// `multi_heap_realloc`: realloc's rules.
unsafe extern "C" fn multi_heap_realloc(h: *const c_void, p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: as above.
    unsafe { RegionRef::from_handle(h).realloc_c(p, size, ReallocNames::one("multi_heap_realloc")) }.unwrap_or(null_mut())
}
}

c_name! {
/// `multi_heap_get_allocated_size`: the usable size of a block.
unsafe extern "C" fn multi_heap_get_allocated_size(h: *const c_void, p: *mut u8) -> usize {
    // SAFETY: C's contract: a handle and a live block of it.
    unsafe { RegionRef::from_handle(h).usable_size_or_abort(p, "multi_heap_get_allocated_size") }
}
}

c_name! {
/// `multi_heap_free_size`.
unsafe extern "C" fn multi_heap_free_size(h: *const c_void) -> usize {
    // SAFETY: C's contract: a handle `multi_heap_register` returned.
    unsafe { RegionRef::from_handle(h) }.info().total_free_bytes
}
}

c_name! {
/// `multi_heap_minimum_free_size`: the low-water mark of free bytes.
unsafe extern "C" fn multi_heap_minimum_free_size(h: *const c_void) -> usize {
    // SAFETY: as above.
    unsafe { RegionRef::from_handle(h) }.info().minimum_free_bytes
}
}

c_name! {
/// `multi_heap_get_info`.
unsafe extern "C" fn multi_heap_get_info(h: *const c_void, info: *mut MultiHeapInfo) {
    // SAFETY: C's contract: a handle, and `info` is writable.
    unsafe { *info = RegionRef::from_handle(h).info().into() }
}
}

c_name! {
/// `multi_heap_check`: true if every invariant holds; errors are printed
/// on stdout if asked.
unsafe extern "C" fn multi_heap_check(h: *const c_void, print_errors: bool) -> bool {
    // SAFETY: C's contract: a handle `multi_heap_register` returned.
    let h = unsafe { RegionRef::from_handle(h) };
    FdWriter::with(STDOUT, |w| h.check(print_errors, w))
}
}

c_name! {
/// `multi_heap_dump`: one line per block and a summary, on stdout.
unsafe extern "C" fn multi_heap_dump(h: *const c_void) {
    // SAFETY: as above.
    let h = unsafe { RegionRef::from_handle(h) };
    let _ = FdWriter::with(STDOUT, |w| h.dump(w));
}
}

c_name! {
/// `heap_caps_malloc`.
extern "C" fn heap_caps_malloc(size: usize, caps: u32) -> *mut u8 {
    caps::alloc(size, ALIGN, false, caps, "heap_caps_malloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `heap_caps_calloc`: NULL also when `n * size` overflows.
extern "C" fn heap_caps_calloc(n: usize, size: usize, caps: u32) -> *mut u8 {
    caps::calloc(n, size, ALIGN, caps, "heap_caps_calloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `heap_caps_realloc`: realloc's rules; a block moves to memory with
/// `caps` when its heap lacks them; the failed-allocation hook gets
/// `caps`, as for `heap_caps_malloc`.
unsafe extern "C" fn heap_caps_realloc(p: *mut u8, size: usize, caps: u32) -> *mut u8 {
    // SAFETY: C's contract: `p` is null or a live block of a heap.
    unsafe { caps::realloc(p, size, caps, "heap_caps_realloc") }.unwrap_or(null_mut())
}
}

c_name! {
/// `heap_caps_free`: `free` for a block of any heap.
unsafe extern "C" fn heap_caps_free(p: *mut u8) {
    // SAFETY: C's contract: `p` is null or a live block of a heap.
    unsafe { caps::free(p, "free") }
}
}

c_name! {
/// `heap_caps_add_region`: `[start, end)` becomes a heap of plain RAM
/// (`MALLOC_CAP_DEFAULT | 8BIT | 32BIT | INTERNAL`). `ESP_OK`, or
/// `ESP_ERR_INVALID_ARG` (null, inverted, too small, overlapping) or
/// `ESP_ERR_NO_MEM` (the registry is full).
unsafe extern "C" fn heap_caps_add_region(start: isize, end: isize) -> i32 {
    // SAFETY: C's contract: the region is the heap's from now on.
    caps::EspErr::code(unsafe { caps::add_region(start as usize, end as usize) })
}
}

c_name! {
/// `heap_caps_add_region_with_caps`: as `heap_caps_add_region`, with the
/// three capability masks `caps` (in priority order).
unsafe extern "C" fn heap_caps_add_region_with_caps(caps: *const u32, start: isize, end: isize) -> i32 {
    // SAFETY: C's contract.
    unsafe { caps::add_region_with_caps_c(caps, start, end) }
}
}

c_name! {
/// `heap_caps_aligned_alloc`: `align` must be a power of two (else NULL).
extern "C" fn heap_caps_aligned_alloc(align: usize, size: usize, caps: u32) -> *mut u8 {
    let Some(align) = heap::align_c11(align) else { return null_mut() };
    caps::alloc(size, align, false, caps, "heap_caps_aligned_alloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `heap_caps_get_info`.
unsafe extern "C" fn heap_caps_get_info(info: *mut MultiHeapInfo, caps: u32) {
    // SAFETY: C's contract: `info` is writable.
    unsafe { *info = caps::info(caps).into() }
}
}

c_name! {
/// `heap_caps_get_free_size`.
extern "C" fn heap_caps_get_free_size(caps: u32) -> usize {
    caps::info(caps).total_free_bytes
}
}

c_name! {
/// `heap_caps_get_minimum_free_size`.
extern "C" fn heap_caps_get_minimum_free_size(caps: u32) -> usize {
    caps::info(caps).minimum_free_bytes
}
}

c_name! {
/// `heap_caps_get_largest_free_block`.
extern "C" fn heap_caps_get_largest_free_block(caps: u32) -> usize {
    caps::info(caps).largest_free_block
}
}

c_name! {
/// `heap_caps_get_total_size`: free plus allocated bytes.
extern "C" fn heap_caps_get_total_size(caps: u32) -> usize {
    caps::total_size(caps)
}
}

c_name! {
/// `heap_caps_get_allocated_size`: the usable size of a block.
unsafe extern "C" fn heap_caps_get_allocated_size(p: *mut u8) -> usize {
    // SAFETY: C's contract.
    unsafe { crate::heap::caps::usable_size_or_abort(p, "heap_caps_get_allocated_size") }
}
}

c_name! {
/// `heap_caps_check_integrity`: whether every heap with all of `caps` is
/// intact; errors on stdout if asked.
extern "C" fn heap_caps_check_integrity(caps: u32, print_errors: bool) -> bool {
    FdWriter::with(STDOUT, |w| caps::check(caps, print_errors, w))
}
}

c_name! {
/// `heap_caps_check_integrity_all`: every heap.
extern "C" fn heap_caps_check_integrity_all(print_errors: bool) -> bool {
    FdWriter::with(STDOUT, |w| caps::check(caps::MALLOC_CAP_INVALID, print_errors, w))
}
}

c_name! {
/// `heap_caps_check_integrity_addr`: checks the heap that holds `addr`;
/// false if no heap holds it or that heap is damaged.
extern "C" fn heap_caps_check_integrity_addr(addr: usize, print_errors: bool) -> bool {
    FdWriter::with(STDOUT, |w| caps::check_addr(addr, print_errors, w))
}
}

c_name! {
/// `heap_caps_dump`: every block of the heaps with all of `caps`, on
/// stdout.
extern "C" fn heap_caps_dump(caps: u32) {
    let _ = FdWriter::with(STDOUT, |w| caps::dump(caps, w));
}
}

c_name! {
/// `heap_caps_dump_all`: every block of every heap, on stdout.
extern "C" fn heap_caps_dump_all() {
    let _ = FdWriter::with(STDOUT, |w| caps::dump(caps::MALLOC_CAP_INVALID, w));
}
}

c_name! {
/// `heap_caps_walk`: `f(heap, block, user)` for every block of the heaps
/// with all of `caps`, under each heap's lock (`f` must not allocate or
/// free there); false from `f` ends that heap's walk.
extern "C" fn heap_caps_walk(caps: u32, f: caps::WalkerFn, user: *mut c_void) {
    caps::walk_c(caps, f, user)
}
}

c_name! {
/// `heap_caps_walk_all`: `heap_caps_walk` over every heap.
extern "C" fn heap_caps_walk_all(f: caps::WalkerFn, user: *mut c_void) {
    caps::walk_c(caps::MALLOC_CAP_INVALID, f, user)
}
}

c_name! {
/// `heap_caps_monitor_local_minimum_free_size_start`: the low-water
/// marks count from now. `ESP_OK`, or `ESP_FAIL` if already started.
extern "C" fn heap_caps_monitor_local_minimum_free_size_start() -> i32 {
    if caps::monitor_start() { caps::ESP_OK } else { caps::ESP_FAIL }
}
}

c_name! {
/// `heap_caps_monitor_local_minimum_free_size_stop`: the all-time
/// low-water marks again. `ESP_OK`, or `ESP_FAIL` if not started.
extern "C" fn heap_caps_monitor_local_minimum_free_size_stop() -> i32 {
    if caps::monitor_stop() { caps::ESP_OK } else { caps::ESP_FAIL }
}
}

c_name! {
/// `heap_caps_aligned_calloc`: zeroed, `align` a power of two (else
/// NULL); NULL also when `n * size` overflows.
extern "C" fn heap_caps_aligned_calloc(align: usize, n: usize, size: usize, caps: u32) -> *mut u8 {
    let Some(align) = heap::align_c11(align) else { return null_mut() };
    caps::calloc(n, size, align, caps, "heap_caps_aligned_calloc").map_or(null_mut(), |p| p.as_ptr())
}
}

c_name! {
/// `heap_caps_aligned_free`: `heap_caps_free`.
unsafe extern "C" fn heap_caps_aligned_free(p: *mut u8) {
    // SAFETY: C's contract: `p` is null or a live block of a heap.
    unsafe { caps::free(p, "heap_caps_aligned_free") }
}
}

c_name! {
/// `heap_caps_print_heap_info`: the figures for `caps`, on stdout.
extern "C" fn heap_caps_print_heap_info(caps: u32) {
    let _ = FdWriter::with(STDOUT, |w| caps::print_info(caps, w));
}
}

c_name! {
/// `heap_caps_register_failed_alloc_callback`: `hook(size, caps, name)`
/// runs after every failed allocation of the process heap (NULL clears
/// it). Returns 0 (`ESP_OK`).
extern "C" fn heap_caps_register_failed_alloc_callback(hook: Option<FailedAllocHook>) -> i32 {
    caps::set_failed_alloc_hook(hook);
    0
}
}

c_name! {
/// `heap_caps_exec_writable` (rawrt's): the writable alias of `p`, a
/// pointer into a `MALLOC_CAP_EXEC` block; NULL for any other pointer.
extern "C" fn heap_caps_exec_writable(p: *const u8) -> *mut u8 {
    caps::exec_writable(p)
}
}

c_name! {
/// `heap_caps_exec_sync` (rawrt's): after writing `len` bytes of code
/// through the writable alias of `p`, makes them visible to instruction
/// fetches at `p` (aarch64 and riscv64 need it). False if `[p, p + len)`
/// is not in executable memory.
extern "C" fn heap_caps_exec_sync(p: *const u8, len: usize) -> bool {
    caps::exec_sync(p, len)
}
}

c_name! {
/// `heap_caps_malloc_extmem_enable`: `malloc` of at least `limit` bytes
/// tries `MALLOC_CAP_SPIRAM` memory first (limits up to 1 KiB act as
/// 1025).
extern "C" fn heap_caps_malloc_extmem_enable(limit: usize) {
    caps::extmem_enable(limit)
}
}

/// The Rust side of the variadic `heap_caps_*_prefer` (`asm/<arch>-varargs.s`
/// collects the arguments; `which` says which function was called).
///
/// # Safety
/// Called only by the trampolines, with the arguments of a C call.
#[no_mangle]
unsafe extern "C" fn __rawrt_varargs(
    which: usize,
    regs: *const usize,
    stack: *const usize,
) -> *mut u8 {
    // SAFETY: the trampolines' contract.
    let args = unsafe { crate::arch::VarArgs::new(regs, stack) };
    match caps::Prefer::from_which(which) {
        // SAFETY: C's contract for the function called.
        Some(w) => unsafe { caps::prefer(w, &args) },
        None => null_mut(),
    }
}
