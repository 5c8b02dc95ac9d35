//! Heap debugging for C: `rawrt_heap_svg`.

use crate::heap::{self, RegionRef};
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
