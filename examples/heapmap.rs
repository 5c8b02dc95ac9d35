//! A picture of the process heap after a fragmenting workload: 1,200
//! blocks of 16 B to 2 KiB, every other one freed (and the thread's cache
//! given back, so that they are the heap's free blocks), 400 more of other
//! sizes, a block big enough for its own mapping, and a few freed
//! small blocks left in the thread's cache. Writes the SVG to stdout, or to
//! the file named by the first argument:
//!
//! ```sh
//! cargo run --release --example heapmap > heap.svg
//! ```
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use linux_raw_sys::general::{O_CLOEXEC, O_CREAT, O_TRUNC, O_WRONLY};
use rawrt::heap;
use rawrt::sys::io::{openat, AT_FDCWD};
use rawrt::sys::{Errno, STDOUT};

rawrt::main!(run);

/// xorshift64*, fixed seed: the same picture on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn block(size: usize) -> Box<[u8]> {
    alloc::vec![0xa5u8; size].into_boxed_slice()
}

fn run() -> Result<(), Errno> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut live: Vec<Option<Box<[u8]>>> =
        (0..1200).map(|_| Some(block(16 + rng.below(2033)))).collect();
    for b in live.iter_mut().step_by(2) {
        *b = None; // every other block: holes all over the heap
    }
    // The thread's cache keeps many of those (its small and medium bins):
    // give it back, so that the holes are the heap's free blocks.
    heap::process().trim(usize::MAX);
    live.extend((0..400).map(|_| Some(block(64 + rng.below(4033)))));
    live.push(Some(block(1 << 20))); // its own mapping
    for b in live.iter_mut().rev().skip(1).step_by(41) {
        *b = None; // a few small frees that the thread's cache keeps
    }
    let fd = match rawrt::rt::args().nth(1) {
        Some(path) => openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)?,
        None => STDOUT,
    };
    heap::svg_to_fd(None, fd)?;
    drop(live);
    Ok(())
}
