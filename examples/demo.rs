//! rawrt's heap at work in a no_std program: Vec and String growth through
//! the global allocator (the process heap, shared with C's malloc), a heap
//! over a static region with the `allocator_api2` collections, the
//! information table and a short block dump.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use rawrt::heap::{self, Heap};
use rawrt::println;
use rawrt::rt::io::FdWriter;
use rawrt::sys::STDOUT;

rawrt::main!(run);

/// 64 KiB of .bss that becomes a heap of its own.
#[repr(C, align(4096))]
struct Region([u8; 64 << 10]);
static mut REGION: Region = Region([0; 64 << 10]);

fn run() -> i32 {
    // Vec and String grow in place where they can (realloc into the top).
    let mut squares = Vec::new();
    for i in 0..10_000u64 {
        squares.push(i * i);
    }
    let mut text = String::new();
    for word in ["no", "libc", "at", "all"] {
        text.push_str(word);
        text.push(' ');
    }
    println!("Vec of {} squares, sum {}", squares.len(), squares.iter().sum::<u64>());
    println!("String {:?} ({} bytes)", text.trim_end(), text.len());
    let p = heap::process().info();
    println!(
        "process heap: {} B allocated in {} blocks, brk calls {}, mmap calls {}",
        p.total_allocated_bytes, p.allocated_blocks, p.brk_calls, p.mmap_calls
    );

    // A heap over a static region: it never grows and makes no system call.
    // SAFETY: the static is handed to this heap alone, for the whole run.
    let region = unsafe { Heap::from_raw((&raw mut REGION).cast(), 64 << 10) };
    let mut v = allocator_api2::vec::Vec::new_in(&region);
    v.extend_from_slice(b"a region heap");
    let mut w = allocator_api2::vec::Vec::with_capacity_in(100, &region);
    w.push(7u32);
    drop(squares);
    let i = region.info();
    println!(
        "region heap: {} B free, largest free block {} B, {} used blocks, {} free blocks",
        i.total_free_bytes, i.largest_free_block, i.allocated_blocks, i.free_blocks
    );
    println!(
        "check: {}",
        if region.check(true, &mut FdWriter::new(STDOUT)) { "ok" } else { "broken" }
    );

    println!("dump of the region heap:");
    let mut out = FdWriter::new(STDOUT);
    let _ = region.dump(&mut out);
    let _ = writeln!(out, "{}", region.info());
    let _ = out.finish();
    0
}
