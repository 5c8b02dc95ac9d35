//! The heap: bump allocation plus segregated free lists over a memory
//! [`Source`], behind a lock.
//!
//! - [`RawHeap`] is the allocator core (`&mut self`, no locks, no system
//!   calls of its own). Its fields are private to `raw.rs` (which
//!   documents each one's invariant and holds the methods that change
//!   them and keep the totals right) and its children `raw/view.rs` (the
//!   accessors) and `raw/grow.rs` (taking on memory); the operations
//!   (`alloc.rs`, `free.rs`, `realloc.rs`, ...) go through those
//!   methods. `block.rs` documents the block layout and its
//!   invariants; `class.rs` the two-level size classes; `integrity.rs`
//!   the checks a block passes before its metadata is trusted;
//!   `large.rs` blocks in their own mappings; `trim.rs` how memory goes
//!   back, `decay.rs` when (dirty memory once it stayed unused for a
//!   while) and `raw/purge.rs` the purges; `secret.rs` the per-process
//!   secret.
//! - [`Heap`] wraps it in a [`Lock`](crate::sync::Lock), with thread caches
//!   in front (`tcache.rs`; the bins in `tcache/bins.rs`, how much a
//!   cache keeps in `tcache/policy.rs`); `&Heap` is an
//!   `allocator_api2::alloc::Allocator` and `Heap` a `GlobalAlloc`;
//!   [`ProcessHeap`] is a global-allocator handle to [`process()`].
//! - Region heaps the program gives (C's `multi_heap_register`,
//!   `mm_initialize`, `heap_caps_add_region`) are [`compact`] heaps, whose
//!   state costs a few hundred bytes of the region (NuttX's small memory
//!   model up to 64 KiB); [`RegionRef`] (`region.rs`) is a region heap of
//!   either core, and the handle C holds for it.
//! - Sources: [`RegionSource`] (a fixed region) and [`ProcessSource`] (the
//!   program break with mmap fallback, over an [`Os`] layer that hosted
//!   tests replace with a simulated kernel).
//! - For the C ABI and the Rust code that shares its conventions:
//!   `c_rules.rs` holds C's `realloc` rules once ([`Heap::realloc_c`] and
//!   its relatives); `c_info.rs` the C statistics structures, each made
//!   from a [`HeapInfo`]; [`caps`] the memory capabilities of ESP-IDF's
//!   `heap_caps_*` API (which heap serves which request).
//!
//! Misuse (a pointer that is misaligned, foreign, another heap's, already
//! free, or whose tags do not validate) comes back as a [`HeapError`];
//! interfaces that cannot return one report with [`misuse`] (`rawrt:
//! free(): double free of 0x...` on stderr, then SIGABRT). Damaged
//! metadata that an operation finds on its way (a free-list link that
//! points outside the heap or not back, a free block whose size or tags
//! disagree, a cache link forged without the process's secret) is
//! reported the same way, naming the check and the block (`rawrt:
//! malloc(): corrupted free list (links do not point back) at 0x...`),
//! and aborts: always, in release builds too.
//!
//! # Safety
//! This module manages raw memory: blocks are addressed as integers and
//! their words read and written through a [`Mem`] (`block.rs`), which
//! keeps pointer provenance. Every pointer handed back by a user is
//! validated (alignment, segment bounds or large-block set, the heap's
//! tag, header and neighbour tags) before any of its words is trusted,
//! and every link and size read from a block before it is followed.

mod alloc;
mod arena;
mod block;
mod c_info;
mod c_rules;
pub mod caps;
mod check;
mod check_lists;
mod chunks;
mod class;
pub mod compact;
mod decay;
mod entry;
mod error;
mod ext_lock;
mod free;
#[allow(clippy::module_inception)]
mod heap;
mod info;
mod integrity;
mod large;
mod os;
pub(crate) mod poison;
mod process;
mod raw;
mod realloc;
mod region;
mod remote;
mod secret;
mod segment;
mod source;
pub mod spans;
mod svg;
mod tcache;
pub mod trace;
mod traits;
mod trim;

#[cfg(test)]
pub(crate) use c_info::tests as c_info_tests;
#[cfg(test)]
pub(crate) use c_rules::tests as c_rules_tests;
#[cfg(test)]
pub(crate) use caps::tests as caps_tests;
#[cfg(test)]
pub(crate) use class::tests as class_tests;
#[cfg(test)]
pub(crate) use compact::tests as compact_tests;
#[cfg(test)]
pub(crate) use compact::tests_poison as compact_poison_tests;
#[cfg(test)]
pub(crate) use decay::tests as decay_tests;
#[cfg(test)]
pub(crate) use poison::tests as poison_tests;
#[cfg(test)]
pub(crate) use poison::tests_region as poison_region_tests;
#[cfg(test)]
pub(crate) use spans::tests as spans_tests;
#[cfg(test)]
pub(crate) use trace::record_tests as trace_tests;
#[cfg(test)]
pub(crate) use trace::threads_tests as trace_threads_tests;
#[cfg(test)]
mod mock_os;
#[cfg(test)]
pub(crate) mod tests_break;
#[cfg(test)]
pub(crate) mod tests_cache;
#[cfg(test)]
pub(crate) mod tests_decay;
#[cfg(test)]
pub(crate) mod tests_model;
#[cfg(test)]
pub(crate) mod tests_process;
#[cfg(test)]
pub(crate) mod tests_remote;
#[cfg(test)]
pub(crate) mod tests_unit;

pub use arena::{
    enable_arenas, Arenas, ARENA_ALIGN, ARENA_MAX, ARENA_SPACE, IDLE_KEEP, MAX_ARENAS,
};
pub use block::{Mem, ALIGN, MAX_REQUEST, MIN_BLOCK};
pub use c_info::{MallInfo, MallInfo2, MultiHeapInfo};
pub use c_rules::{align_c11, align_memalign, align_posix, CRules, ReallocNames};
pub use decay::{DECAY_CHECK_BYTES, DECAY_TICKS, PURGE_DELAY_MS};
pub use entry::Entry;
pub use error::{Corruption, HeapError};
pub use ext_lock::{ExtHeld, ExtLock, ExtLockFn};
pub use heap::{Heap, HeapGuard};
pub use info::HeapInfo;
pub use os::{LinuxOs, Os};
/// The poisoning layer's canary, fills and damage reports, which the
/// pools' debugging (`pool::debug`) shares.
pub(crate) use poison::layer as poison_layer;
pub use poison::{
    poisoning, set_poisoning, set_poisoning_c, Poisoning, POISON_COMPREHENSIVE, POISON_LIGHT,
    POISON_OFF,
};
pub use process::{ProcessSource, GROW_STEP, KIND_BRK, KIND_MMAP, KIND_RESERVED, MMAP_SEGMENT};
pub use raw::{
    AddRegion, FailedAllocFn, RawHeap, DEFAULT_MMAP_THRESHOLD, DEFAULT_TRIM_THRESHOLD,
    MAX_DYN_MMAP_THRESHOLD, TOP_PAD, TRIM_KEEP,
};
pub use region::{RegionRef, SMALL_MODEL_MAX};
pub use remote::{OUTBOX_BLOCK_MAX, OUTBOX_MAX};
pub use segment::MAX_SEGS;
pub use source::{RegionSource, Source, Span, SysCounters};
pub use svg::svg_to_fd;
pub use tcache::{
    ThreadCache, CACHE_CAP, CACHE_DEFER_MAX, CACHE_GC_PERIOD, CACHE_LIMIT_FROM, CACHE_MAX,
    CACHE_MEDIUM_CAP, CACHE_MEDIUM_MAX, CACHE_MEDIUM_MIN, CACHE_MEDIUM_SHARE, CACHE_MIN_KEEP,
    CACHE_NEAR,
};
pub use traits::{misuse, ProcessHeap};

/// The process heap: the program break with mmap fallback (the main
/// heap), an arena per thread (`arena.rs`), and per-thread caches in front.
/// Makes no system call until its first allocation. It is the heap of a
/// program that rawrt starts: its threads must be rawrt's
/// ([`crate::thread`]), whose control blocks hold the caches (in the
/// opaque slot that `rt/tls.rs` gives every thread; the heap does not
/// import the thread module) and which switch its locks on; a program
/// with another runtime (std, a libc) uses region heaps, or a `Heap` of
/// its own over [`ProcessSource::mmap_only`] (with caches it brings
/// itself: [`Heap::with_caches`]).
pub static PROCESS: Arenas = process_heap();

/// What [`PROCESS`] is built as. The one place where the hosted unit
/// tests run the heap differently from the product, and it must stay: the
/// tests run under the standard library in a glibc process, whose malloc
/// owns the program break and whose threads' thread pointers point at
/// glibc's control blocks, not rawrt's, so the product's process heap
/// would move glibc's break under it and take its thread caches from
/// glibc's memory. There the process heap maps its memory and has no
/// thread caches or arenas; everything else is the product's code (the
/// break, the thread caches, the remote lists and the locked paths are
/// tested through heaps the tests build with a simulated kernel
/// (`mock_os.rs`) and caches of their own).
const fn process_heap() -> Arenas {
    if cfg!(test) {
        Arenas::new(Heap::with_source(ProcessSource::mmap_only(LinuxOs)))
    } else {
        Arenas::new(Heap::with_caches(ProcessSource::new(LinuxOs)))
    }
}

/// The process heap.
#[inline(always)]
pub fn process() -> &'static Arenas {
    &PROCESS
}
