//! Fuzz targets for rawrt's allocators, each over memory of its own (a
//! region, or chunks from std's allocator): the heap, the heap with a
//! thread cache in front, the small heap, block pools and granules. Each target decodes
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
mod spans;

pub use grans::granules;
pub use heaps::{cached_heap, compact_heap, heap};
pub use input::{inputs, ops};
pub use pools::pool;
pub use spans::span_heap;

/// Defines the libFuzzer target `$name` (its binary's `main`), which runs
/// `$run` on every input and, at exit, prints how many inputs and
/// allocator operations it ran (the line `scripts/fuzz.sh` reports). Used
/// by each file of `fuzz_targets/`, which depend on `libfuzzer-sys`.
#[macro_export]
macro_rules! target {
    ($name:literal, $run:path) => {
        extern "C" {
            fn atexit(f: extern "C" fn()) -> i32;
        }

        extern "C" fn report() {
            $crate::report($name);
        }

        libfuzzer_sys::fuzz_target!(
            init: {
                // SAFETY: glibc's atexit with a function that lives for ever.
                unsafe { atexit(report) };
            },
            |data: &[u8]| $run(data)
        );
    };
}

/// Prints target `name`'s count of inputs and operations (see [`target!`]).
pub fn report(name: &str) {
    eprintln!("rawrt-fuzz: {name}: {} inputs, {} operations", inputs(), ops());
}
