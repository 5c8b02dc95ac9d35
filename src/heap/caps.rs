//! ESP-IDF's memory capabilities (`MALLOC_CAP_*`) that rawrt has a heap
//! for: the process heap is byte-addressable default memory.

/// `MALLOC_CAP_8BIT`: byte-addressable memory.
pub const MALLOC_CAP_8BIT: u32 = 1 << 2;
/// `MALLOC_CAP_DEFAULT`: what plain `malloc` returns.
pub const MALLOC_CAP_DEFAULT: u32 = 1 << 12;
