//! libFuzzer target: `rawrt_fuzz::compact_heap` (src/heaps.rs), with the
//! operation count at exit (see `rawrt_fuzz::target!`).
#![no_main]

rawrt_fuzz::target!("compact_heap", rawrt_fuzz::compact_heap);
