//! The process runtime: start-up, arguments, environment and auxiliary
//! vector, exit and `atexit`, printing, the panic handler and `abort`,
//! the vDSO's clock.
//!
//! A program started by rawrt's `_start` has everything here. A program
//! with its own `_start` (common in assembly) calls [`rawrt_init`] once with
//! its initial stack pointer to get `args`/`env`/`getauxval`, constructors
//! and `atexit`; without that call `args()` and `env()` are empty,
//! `getauxval` returns 0 and `exit` still works.

pub mod env;
pub mod errno;
pub mod exit;
mod fatal;
pub mod io;
pub(crate) mod itoa;
#[cfg(test)]
pub(crate) use itoa::tests as itoa_tests;
#[cfg(all(not(test), feature = "entry"))]
mod panic;
pub mod start;
pub mod symbols;
pub(crate) mod tls;
pub mod valgrind;
mod vdso;
#[cfg(test)]
pub(crate) use vdso::tests as vdso_tests;

pub use env::{args, env, getauxval, getenv, page_size};
pub use exit::{_exit, abort, atexit, exit};
pub use fatal::{fatal, fatal_at, fatal_block, OriginFn, BLOCK_ORIGIN};
pub use start::rawrt_init;
pub use vdso::clock_gettime;

/// The top (exclusive) of the calling thread's stack, as far as its
/// frames go: a spawned thread's control block, from which its stack grows
/// down, or the main thread's initial stack pointer; 0 if unknown (the
/// runtime did not start the program). Frame-pointer walks stay below it.
pub fn stack_top() -> usize {
    if tls::ready() && tls::current() != tls::main() {
        return tls::current() as usize;
    }
    start::initial().map_or(0, |(_, argv, _)| argv as usize)
}

/// What a `main` function returns, turned into an exit status.
pub trait Termination {
    /// The exit status; prints the error of an `Err` first.
    fn report(self) -> i32;
}

impl Termination for i32 {
    fn report(self) -> i32 {
        self
    }
}

impl Termination for () {
    fn report(self) -> i32 {
        0
    }
}

impl<E: core::fmt::Display> Termination for Result<(), E> {
    fn report(self) -> i32 {
        match self {
            Ok(()) => 0,
            Err(e) => {
                crate::eprintln!("Error: {}", e);
                1
            }
        }
    }
}

/// Declares a Rust function as the program's C-ABI `main`. The function
/// takes no arguments (use [`args`] and [`env`](fn@env)) and returns `i32`, `()` or
/// `Result<(), E>` with `E: Display` (an `Err` prints `Error: ...` on
/// stderr and exits with status 1).
///
/// ```
/// #![no_std]
/// #![no_main]
/// rawrt::main!(run);
///
/// fn run() -> Result<(), rawrt::sys::Errno> {
///     let n = rawrt::sys::io::write(rawrt::sys::STDOUT, b"hello\n")?;
///     assert_eq!(n, 6);
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! main {
    ($f:path) => {
        #[no_mangle]
        pub extern "C" fn main(
            _argc: i32,
            _argv: *const *const u8,
            _envp: *const *const u8,
        ) -> i32 {
            $crate::rt::Termination::report($f())
        }
    };
}
