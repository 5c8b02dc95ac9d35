//! Heap debugging for C: `rawrt_heap_svg`.

use crate::heap::{self, Heap, RegionSource};

/// `rawrt_heap_svg`: writes an SVG picture of `heap` (a
/// `multi_heap_handle_t`; NULL: the process heap and its thread arenas)
/// to `fd`. 0, or -1 with `errno` set by the write that failed.
#[no_mangle]
extern "C" fn rawrt_heap_svg(heap: Option<&Heap<RegionSource>>, fd: i32) -> i32 {
    super::or_errno(heap::svg_to_fd(heap, fd).map(|()| 0), -1)
}
