//! Ends badly on purpose, as its argument says: `panic` (status 101 and a
//! message), `abort` (SIGABRT) or `error` (main returns an `Err`: status 1).
#![no_std]
#![no_main]

use rawrt::rt;
use rawrt::sys::Errno;

rawrt::main!(run);

fn run() -> Result<(), Errno> {
    match rt::args().nth(1).map(|a| a.to_bytes()) {
        Some(b"panic") => panic!("asked to panic"),
        Some(b"abort") => rt::abort(),
        Some(b"error") => Err(Errno::EINVAL),
        _ => {
            rawrt::eprintln!("usage: fail panic|abort|error");
            Err(Errno::EINVAL)
        }
    }
}
