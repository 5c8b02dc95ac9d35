//! Heaps by kind of memory (ESP-IDF's `heap_caps_*`, mapped onto Linux):
//! registers a region of plain RAM, prints an ESP-style summary of the
//! registered heaps, runs a tiny function written into executable memory
//! (through its writable alias: no page is writable and executable at
//! once), allocates locked DMA memory, and prints
//! `heap_caps_print_heap_info` for byte-addressable memory.
#![no_std]
#![no_main]

use core::alloc::Layout;
use rawrt::caps::{self, Caps};
use rawrt::heap::caps::{self as hc, registry, Kind, MALLOC_CAP_8BIT};
use rawrt::println;
use rawrt::rt::io::FdWriter;
use rawrt::sys::STDOUT;

rawrt::main!(run);

/// 64 KiB of .bss that becomes a heap of plain RAM.
#[repr(C, align(4096))]
struct Region([u8; 64 << 10]);
static mut REGION: Region = Region([0; 64 << 10]);

/// `int f(int x) { return x + 2; }` in this architecture's machine code.
fn plus_two() -> [u8; 8] {
    if cfg!(target_arch = "x86_64") {
        [0x8d, 0x47, 0x02, 0xc3, 0x90, 0x90, 0x90, 0x90] // lea eax, [rdi + 2]; ret
    } else if cfg!(target_arch = "aarch64") {
        [0x00, 0x08, 0x00, 0x11, 0xc0, 0x03, 0x5f, 0xd6] // add w0, w0, #2; ret
    } else {
        [0x1b, 0x05, 0x25, 0x00, 0x67, 0x80, 0x00, 0x00] // addiw a0, a0, 2; ret
    }
}

fn run() -> i32 {
    let start = (&raw mut REGION) as usize;
    // SAFETY: the static region is given to the heap for good.
    if let Err(e) = unsafe { hc::add_region(start, start + (64 << 10)) } {
        println!("heap_caps_add_region: {e:?}");
        return 1;
    }
    println!("heap_init: Initializing. RAM available for dynamic allocation:");
    for e in registry::entries() {
        let len = e.end - e.start;
        let kind = match e.kind {
            Kind::Region => "DRAM",
            Kind::Exec => "IRAM",
            Kind::Dma => "DMA",
            Kind::Spiram => "SPIRAM",
        };
        println!("heap_init: At 0x{:X} len {:08X} ({} KiB): {kind}", e.start, len, len >> 10);
    }

    // A function written through the writable alias, run from the
    // executable view.
    let Some(code) = caps::alloc(Layout::new::<[u8; 8]>(), Caps::EXEC) else {
        println!("no executable memory");
        return 1;
    };
    let bytes = plus_two();
    let w = caps::exec_writable(code.as_ptr());
    // SAFETY: `w` is the writable alias of the 8-byte block at `code`; the
    // code is synchronised before it runs, and it is a complete function.
    let r = unsafe {
        w.copy_from(bytes.as_ptr(), bytes.len());
        caps::exec_sync(code.as_ptr(), bytes.len());
        let f: extern "C" fn(i32) -> i32 = core::mem::transmute(code.as_ptr());
        f(40)
    };
    println!(
        "JIT: f(40) = {r}, run from 0x{:x}, written at 0x{:x}",
        code.as_ptr() as usize,
        w as usize
    );

    // Locked, prefaulted memory.
    match caps::alloc(Layout::from_size_align(4096, 64).unwrap(), Caps::DMA) {
        Some(p) => {
            println!("DMA: 4096 bytes at 0x{:x}, locked", p.as_ptr() as usize);
            // SAFETY: the block just allocated.
            unsafe { caps::dealloc(p) };
        }
        None => println!("DMA: none (RLIMIT_MEMLOCK too low?)"),
    }
    // SAFETY: the block allocated above.
    unsafe { caps::dealloc(code) };
    let _ = FdWriter::with(STDOUT, |w| hc::print_info(MALLOC_CAP_8BIT, w));
    0
}
