//! [`HeapInfo`] in the shapes C programs know: ESP-IDF's
//! `multi_heap_info_t`, NuttX's `struct mallinfo` and glibc's
//! `struct mallinfo2`, each made with `HeapInfo::into()`.

use super::info::HeapInfo;

/// ESP-IDF's `multi_heap_info_t` (`multi_heap_get_info`,
/// `heap_caps_get_info`).
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

/// NuttX's `struct mallinfo` (`mm_mallinfo`, `mallinfo`): counts as
/// `int`, saturated at `INT_MAX`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo {
    /// Bytes the heap manages (obtained from its regions or the kernel).
    pub arena: i32,
    /// Free blocks.
    pub ordblks: i32,
    /// Allocated blocks.
    pub aordblks: i32,
    /// The largest free block: the largest request that can succeed.
    pub mxordblk: i32,
    /// Allocated bytes.
    pub uordblks: i32,
    /// Free bytes.
    pub fordblks: i32,
}

/// `n` as a C `int`, saturated.
fn int(n: usize) -> i32 {
    n.min(i32::MAX as usize) as i32
}

impl From<HeapInfo> for MallInfo {
    fn from(i: HeapInfo) -> Self {
        MallInfo {
            arena: int(i.footprint),
            ordblks: int(i.free_blocks),
            aordblks: int(i.allocated_blocks),
            mxordblk: int(i.largest_free_block),
            uordblks: int(i.total_allocated_bytes),
            fordblks: int(i.total_free_bytes),
        }
    }
}

/// glibc's `struct mallinfo2` (`mallinfo2`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo2 {
    /// Bytes obtained from the kernel and not given back (footprint).
    pub arena: usize,
    /// Free blocks (the top counted as one).
    pub ordblks: usize,
    /// Always 0 (glibc's fastbins do not exist here).
    pub smblks: usize,
    /// Always 0: large mapped blocks are counted in the fields above.
    pub hblks: usize,
    /// Always 0, as `hblks`.
    pub hblkhd: usize,
    /// Peak allocated bytes.
    pub usmblks: usize,
    /// Always 0 (no fastbins).
    pub fsmblks: usize,
    /// Allocated bytes.
    pub uordblks: usize,
    /// Free bytes.
    pub fordblks: usize,
    /// The largest free block (what `malloc` can give without the kernel).
    pub keepcost: usize,
}

impl From<HeapInfo> for MallInfo2 {
    fn from(i: HeapInfo) -> Self {
        MallInfo2 {
            arena: i.footprint,
            ordblks: i.free_blocks,
            usmblks: i.peak_allocated_bytes,
            uordblks: i.total_allocated_bytes,
            fordblks: i.total_free_bytes,
            keepcost: i.largest_free_block,
            ..MallInfo2::default()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn sample() -> HeapInfo {
        HeapInfo {
            total_free_bytes: 1,
            total_allocated_bytes: 2,
            largest_free_block: 3,
            minimum_free_bytes: 4,
            allocated_blocks: 5,
            free_blocks: 6,
            total_blocks: 11,
            peak_allocated_bytes: 7,
            footprint: 8,
            ..HeapInfo::default()
        }
    }

    /// Each C structure takes its fields from the right `HeapInfo` field.
    pub fn fields_map() {
        let m: MultiHeapInfo = sample().into();
        assert_eq!(
            m,
            MultiHeapInfo {
                total_free_bytes: 1,
                total_allocated_bytes: 2,
                largest_free_block: 3,
                minimum_free_bytes: 4,
                allocated_blocks: 5,
                free_blocks: 6,
                total_blocks: 11,
            }
        );
        let n: MallInfo = sample().into();
        assert_eq!(
            n,
            MallInfo { arena: 8, ordblks: 6, aordblks: 5, mxordblk: 3, uordblks: 2, fordblks: 1 }
        );
        let g: MallInfo2 = sample().into();
        assert_eq!(
            g,
            MallInfo2 {
                arena: 8,
                ordblks: 6,
                usmblks: 7,
                uordblks: 2,
                fordblks: 1,
                keepcost: 3,
                ..MallInfo2::default()
            }
        );
    }

    /// NuttX's `int` counts saturate instead of wrapping.
    pub fn nuttx_counts_saturate() {
        let big = HeapInfo { footprint: usize::MAX, total_free_bytes: 1 << 40, ..sample() };
        let n: MallInfo = big.into();
        assert_eq!((n.arena, n.fordblks, n.uordblks), (i32::MAX, i32::MAX, 2));
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("heap::c_info::fields_map", fields_map),
        ("heap::c_info::nuttx_counts_saturate", nuttx_counts_saturate),
    ];
}
