//! The smallest rawrt program: prints one line and exits with status 0.
//! Two system calls after execve (write, exit_group); see the README.
#![no_std]
#![no_main]

rawrt::main!(run);

fn run() -> i32 {
    rawrt::println!("Hello from rawrt!");
    0
}
