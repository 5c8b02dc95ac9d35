//! Pool poisoning in mode `light`, chosen before the first allocation:
//! the scenarios of `tests/pool_poison/scenarios.rs` (each detection, and
//! what this mode does not detect). Run: `cargo test --test
//! pool_poison_light`.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "pool_poison/scenarios.rs"]
mod scenarios;

rawrt::main!(tests);

fn tests() -> i32 {
    scenarios::run(rawrt::heap::Poisoning::Light)
}
