//! A program on rawrt: no std, no libc. Prints its arguments, one
//! environment variable and a line built on the heap.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use rawrt::{println, rt};

rawrt::main!(run);

fn run() -> Result<(), rawrt::sys::Errno> {
    let args: Vec<&str> = rt::args().skip(1).map(|a| a.to_str().unwrap_or("?")).collect();
    println!("{} arguments: {:?}", args.len(), args);
    println!("HOME={:?}", rt::getenv("HOME"));
    let mut line = String::new();
    for (i, a) in args.iter().enumerate() {
        let _ = write!(line, "{}{}", if i == 0 { "" } else { "+" }, a);
    }
    println!("joined on the heap: {line}");
    Ok(())
}
