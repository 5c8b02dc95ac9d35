//! Heap poisoning mode `light` in region heaps, chosen before the first
//! allocation: the scenarios of `tests/poison/regions.rs` (each
//! detection, and what this mode does not detect). Run: `cargo test
//! --test poison_regions_light`.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "poison/regions.rs"]
mod regions;

rawrt::main!(tests);

fn tests() -> i32 {
    regions::run(rawrt::heap::Poisoning::Light)
}
