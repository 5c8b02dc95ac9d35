//! libFuzzer target: `rawrt_fuzz::pool` (src/pools.rs), with the
//! operation count at exit (see `rawrt_fuzz::target!`).
#![no_main]

rawrt_fuzz::target!("pool", rawrt_fuzz::pool);
