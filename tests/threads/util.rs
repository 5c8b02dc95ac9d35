//! Helpers: a monotonic clock in nanoseconds, a spinning barrier, and a
//! count of this process's mappings.

use core::sync::atomic::{AtomicU32, Ordering};
use rawrt::sys::consts::{AT_FDCWD, O_CLOEXEC, O_RDONLY};
use rawrt::sys::io;
use rawrt::sys::time::{clock_gettime, Timespec, CLOCK_MONOTONIC, CLOCK_REALTIME};
use rawrt::thread;

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn now_ns() -> i128 {
    clock_gettime(CLOCK_MONOTONIC).unwrap().as_nanos()
}

/// `CLOCK_REALTIME` plus `ms` milliseconds, as an absolute deadline.
pub fn realtime_in(ms: i64) -> Timespec {
    let t = clock_gettime(CLOCK_REALTIME).unwrap().as_nanos() + ms as i128 * 1_000_000;
    Timespec { sec: (t / 1_000_000_000) as i64, nsec: (t % 1_000_000_000) as i64 }
}

/// Waits (yielding) until `count` reaches `n`.
pub fn wait_for(count: &AtomicU32, n: u32) {
    let start = now_ns();
    while count.load(Ordering::Acquire) < n {
        assert!(
            now_ns() - start < 20_000_000_000,
            "waited 20 s for {} to reach {}",
            count.load(Ordering::Relaxed),
            n
        );
        thread::yield_now();
    }
}

/// The number of lines of /proc/self/maps (read with openat/read).
pub fn mappings() -> usize {
    let fd = io::openat(AT_FDCWD, c"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0).unwrap();
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        let n = io::read(fd, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    io::close(fd).unwrap();
    lines
}
