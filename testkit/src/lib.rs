//! rawrt's test kit (a workspace member, never published): the runner of
//! rawrt's hosted unit tests, and (in `tests/hosted/`) the hosted checks
//! that build and run rawrt's static executables, C and assembly programs.
//!
//! Why a runner of our own: every crate of the workspace is built with
//! `-C panic=abort` on Linux (`.cargo/config.toml`), because rawrt's
//! freestanding examples and static-ELF tests cannot unwind, and libtest
//! refuses to build under `panic=abort` on stable Rust. So the library's
//! test build is an ordinary hosted program whose `main` hands its tables
//! of tests to [`run`]. A failing assertion aborts the run; the name of
//! the test is printed first so that the failure is attributed.
#![warn(missing_docs)]

use std::io::Write;

/// A test: its name and its function.
pub type Test = (&'static str, fn());

/// Runs every test of `suites` whose name contains one of the program's
/// arguments (all of them without arguments; arguments starting with `-`
/// are ignored, as cargo passes some), except those `skip` names, and
/// prints `N passed, 0 failed, M skipped`.
pub fn run(suites: &[&[Test]], skip: impl Fn(&str) -> bool) {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (mut passed, mut skipped) = (0, 0);
    for (name, test) in suites.iter().flat_map(|s| s.iter()) {
        if skip(name) || (!filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str()))) {
            skipped += 1;
            continue;
        }
        print!("test {name} ... ");
        std::io::stdout().flush().unwrap();
        test();
        println!("ok");
        passed += 1;
    }
    println!("\n{passed} passed, 0 failed, {skipped} skipped");
}

/// The library's own test build, which `cargo clippy --all-targets` checks
/// (`harness = false`, for the reason above): a program with nothing to
/// run, since the kit's checks are the `hosted` test (`test = false` keeps
/// `cargo test` from running this one).
#[cfg(test)]
fn main() {}
