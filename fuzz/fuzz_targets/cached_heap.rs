//! libFuzzer target: `rawrt_fuzz::cached_heap` (src/heaps.rs), with the
//! operation count at exit (see `rawrt_fuzz::target!`).
#![no_main]

rawrt_fuzz::target!("cached_heap", rawrt_fuzz::cached_heap);
