//! libFuzzer target: `rawrt_fuzz::heap` (src/heaps.rs), with the
//! operation count at exit (see `rawrt_fuzz::target!`).
#![no_main]

rawrt_fuzz::target!("heap", rawrt_fuzz::heap);
