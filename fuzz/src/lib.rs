//! Fuzz targets for rawrt's allocators, each over memory of its own (a
//! region, or chunks from std's allocator): the heap, the heap with a
//! thread cache in front, block pools and granules. Each target decodes
//! its input into a sequence of operations (allocations of varied sizes
//! and alignments, frees in any order, resizes, and misuse: frees of
//! pointers that are not live blocks, double frees, frees of the wrong
//! size) and checks every result against a shadow model: no two live
//! blocks overlap, every block keeps its bytes, misuse is refused and
//! changes nothing, and the allocator's statistics are exact.
//!
//! `scripts/fuzz.sh` builds them with libFuzzer (stable Rust, coverage
//! through `-C passes=sancov-module`) and runs them; `tests/corpus.rs`
//! replays the corpus kept in `corpus/` as an ordinary test.

mod grans;
mod heaps;
mod input;
mod pools;

pub use grans::granules;
pub use heaps::{cached_heap, heap};
pub use input::{inputs, ops};
pub use pools::pool;
