//! libFuzzer target: `rawrt_fuzz::granules` (src/grans.rs), with the
//! operation count at exit (see `rawrt_fuzz::target!`).
#![no_main]

rawrt_fuzz::target!("granules", rawrt_fuzz::granules);
