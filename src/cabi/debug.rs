//! Heap debugging for C: `rawrt_heap_svg`, `rawrt_heap_set_poisoning`,
//! `rawrt_heap_check`.

use crate::heap::{self, RegionRef};
use crate::rt::io::FdWriter;
use crate::sys::STDERR;
use core::ffi::c_void;

/// `rawrt_heap_svg`: writes an SVG picture of `heap` (a
/// `multi_heap_handle_t`; NULL: the process heap and its thread arenas)
/// to `fd`. 0, or -1 with `errno` set by the write that failed.
#[no_mangle]
unsafe extern "C" fn rawrt_heap_svg(heap: *const c_void, fd: i32) -> i32 {
    // SAFETY: C's contract: NULL or a handle `multi_heap_register` returned.
    let heap = (!heap.is_null()).then(|| unsafe { RegionRef::from_handle(heap) });
    super::or_errno(heap::svg_to_fd(heap, fd).map(|()| 0), -1)
}

/// `rawrt_heap_set_poisoning`: the process heap's poisoning mode (0 off,
/// 1 light, 2 comprehensive), overriding `RAWRT_HEAP_POISONING`. 0, or -1
/// with `errno` `EINVAL` (another mode) or `EBUSY` (the heap has
/// allocated already).
#[no_mangle]
extern "C" fn rawrt_heap_set_poisoning(mode: i32) -> i32 {
    super::or_errno(heap::set_poisoning_c(mode).map(|()| 0), -1)
}

/// `rawrt_heap_check`: whether the process heap is intact (with
/// poisoning, its canaries and fills too); each fault found is printed on
/// stderr if `print_errors`.
#[no_mangle]
extern "C" fn rawrt_heap_check(print_errors: bool) -> bool {
    FdWriter::with(STDERR, |w| heap::process().check(print_errors, w))
}
