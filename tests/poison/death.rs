//! What the poisoning suites (`scenarios.rs`, `regions.rs`,
//! `../pool_poison/scenarios.rs`) share: each misuse runs in a forked
//! child that announces the block it is about to misuse on stdout, and
//! the test asserts how the child ended and the exact line it wrote.

use alloc::format;
use alloc::string::String;
use rawrt::check::{child, Ended};
use rawrt::sys::signal::SIGABRT;

/// Announces the block about to be misused.
pub fn announce(p: *const u8) -> *mut u8 {
    rawrt::println!("addr {:#x}", p as usize);
    p as *mut u8
}

/// Runs `f` in a child; returns how it ended, its stderr, and the
/// address it announced.
pub fn outcome(f: impl FnOnce()) -> (Ended, String, String) {
    let o = child(|| {
        f();
        0
    });
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap_or("").into();
    (o.ended, o.stderr().into(), addr)
}

/// The child must abort with exactly `rawrt: {line} {addr}`.
#[track_caller]
pub fn aborts(f: impl FnOnce(), line: &str) {
    let (ended, err, addr) = outcome(f);
    assert!(!addr.is_empty(), "no address announced ({err:?})");
    assert_eq!(ended, Ended::Signaled(SIGABRT as i32), "{err:?}");
    assert_eq!(err, format!("rawrt: {line} {addr}\n"));
}

/// The child must end normally, having printed nothing on stderr.
#[track_caller]
pub fn survives(f: impl FnOnce()) {
    let (ended, err, _) = outcome(f);
    assert_eq!((ended, err.as_str()), (Ended::Exited(0), ""));
}
