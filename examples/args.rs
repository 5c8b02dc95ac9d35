//! Prints its arguments, one environment variable and the page size from
//! the auxiliary vector, then exits with argc as its status.
//!
//! ```text
//! $ RAWRT_EXAMPLE=hi cargo run --example args -- one two
//! ```
#![no_std]
#![no_main]

use rawrt::{println, rt};

rawrt::main!(run);

fn run() -> i32 {
    println!("argc {}", rt::env::argc());
    for (i, a) in rt::args().enumerate().skip(1) {
        println!("argv[{}] = {}", i, a.to_str().unwrap_or("<not UTF-8>"));
    }
    match rt::getenv("RAWRT_EXAMPLE") {
        Some(v) => println!("RAWRT_EXAMPLE = {}", v.to_str().unwrap_or("<not UTF-8>")),
        None => println!("RAWRT_EXAMPLE is not set"),
    }
    println!("AT_PAGESZ = {}", rt::getauxval(6).unwrap_or(0));
    rt::env::argc() as i32
}
