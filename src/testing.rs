//! The hosted unit-test runner. The whole package is built with
//! `panic=abort` (a no_std runtime cannot unwind), which libtest refuses, so
//! the library's test build is an ordinary program whose `main` runs every
//! module's `TESTS` table. A failing assertion aborts the run; the name of
//! the test being run is printed first so that the failure is attributed.

use std::io::Write;

/// Every module's table of unit tests.
const SUITES: &[&[(&str, fn())]] = &[
    crate::sys::errno_tests::TESTS,
    crate::sync::lock_tests::TESTS,
    crate::mem::tests::TESTS,
    crate::rt::itoa_tests::TESTS,
    crate::hosted::TESTS,
    crate::pool::tests::TESTS,
    crate::gran::tests::TESTS,
    crate::heap::class_tests::TESTS,
    crate::heap::tests_model::TESTS,
    crate::heap::tests_unit::TESTS,
    crate::heap::tests_process::TESTS,
    crate::heap::tests_cache::TESTS,
];

pub(crate) fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (mut passed, mut filtered) = (0, 0);
    for (name, test) in SUITES.iter().flat_map(|s| s.iter()) {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        print!("test {name} ... ");
        std::io::stdout().flush().unwrap();
        test();
        println!("ok");
        passed += 1;
    }
    println!("\n{passed} passed, 0 failed, {filtered} skipped");
}
