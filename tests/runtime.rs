//! Static-ELF tests of the process runtime: arguments, environment, auxv,
//! exit, atexit, constructors, abort, panic, printing.
#![no_std]
#![no_main]

use rawrt::check::{child, Ended};
use rawrt::rt;

rawrt::main!(tests);

fn tests() -> i32 {
    rawrt::check::run(&[
        ("args_hold_program_name", args_hold_program_name),
        ("auxv_page_size", auxv_page_size),
        ("exit_status_reaches_parent", exit_status_reaches_parent),
        ("abort_is_sigabrt", abort_is_sigabrt),
        ("panic_message_and_101", panic_message_and_101),
    ])
}

fn args_hold_program_name() {
    assert!(rt::env::argc() >= 1);
    let argv0 = rt::args().next().unwrap().to_bytes();
    assert!(argv0.windows(7).any(|w| w == b"runtime"), "argv[0] names the test binary");
}

fn auxv_page_size() {
    assert_eq!(rt::getauxval(6 /* AT_PAGESZ */), Some(4096));
    assert_eq!(rt::getauxval(0xdead), None);
}

fn exit_status_reaches_parent() {
    assert_eq!(child(|| 42).ended, Ended::Exited(42));
    assert_eq!(child(|| rt::_exit(7)).ended, Ended::Exited(7));
}

fn abort_is_sigabrt() {
    assert_eq!(child(|| rt::abort()).ended, Ended::Signaled(6));
}

fn panic_message_and_101() {
    let o = child(|| panic!("boom {}", 42));
    assert_eq!(o.ended, Ended::Exited(101));
    assert!(o.stderr().starts_with("panicked at tests/runtime.rs:"), "{}", o.stderr());
    assert!(o.stderr().ends_with(":\nboom 42\n"), "{}", o.stderr());
}
