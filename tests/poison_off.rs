//! Heap poisoning mode `off`, chosen before the first allocation: the
//! scenarios of `tests/poison/scenarios.rs` (each detection, and what
//! this mode does not detect). Run: `cargo test --test poison_off`.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "poison/scenarios.rs"]
mod scenarios;

rawrt::main!(tests);

fn tests() -> i32 {
    scenarios::run(rawrt::heap::Poisoning::Off)
}
