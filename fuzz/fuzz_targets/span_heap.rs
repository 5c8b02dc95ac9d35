//! libFuzzer target: `rawrt_fuzz::span_heap` (src/spans.rs), with the
//! operation count at exit (see `rawrt_fuzz::target!`).
#![no_main]

rawrt_fuzz::target!("span_heap", rawrt_fuzz::span_heap);
