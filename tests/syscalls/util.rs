//! Helpers shared by the system-call tests: names unique to this run,
//! formatting into stack buffers, `/proc/self/status` fields, forked
//! children, clocks and anonymous pages. No heap: everything lives on the
//! stack or in mmap'd memory.

use core::ffi::CStr;
use core::fmt::{self, Write};
use rawrt::sys::process::{self, WaitStatus};
use rawrt::sys::time::{self, Timespec};
use rawrt::sys::{consts as c, io, mm, Errno, Fd};

/// Whether this binary runs under qemu-user. CI runs the aarch64 and
/// riscv64 builds only under qemu-user on an x86_64 host (`.cargo/config.toml`
/// runners), and the x86_64 build natively: the architecture is the honest
/// signal. Where qemu-user 7.2 does not emulate a call the way the kernel
/// behaves, tests check the kernel's behaviour natively and accept only the
/// documented qemu outcome under qemu.
pub const QEMU: bool = cfg!(not(target_arch = "x86_64"));

/// The page size on all three targets (`AT_PAGESZ` is checked by
/// tests/runtime.rs).
pub const PAGE: usize = 4096;

/// A fixed-size text buffer on the stack that `write!` can fill.
pub struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buf { bytes: [0; N], len: 0 }
    }
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap()
    }
    /// The text as a C string (a NUL is kept after it; the text must not
    /// contain one).
    pub fn cstr(&self) -> &CStr {
        assert!(self.len < N, "Buf full");
        CStr::from_bytes_with_nul(&self.bytes[..=self.len]).unwrap()
    }
}

impl<const N: usize> Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the NUL that `cstr` needs.
        if self.len + s.len() >= N {
            return Err(fmt::Error);
        }
        self.bytes[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

/// Formats `args` into a stack buffer.
pub fn text(args: fmt::Arguments<'_>) -> Buf<128> {
    let mut b = Buf::new();
    b.write_fmt(args).unwrap();
    b
}

/// A path under /tmp unique to this process and `tag`.
pub fn tmp_path(tag: &str) -> Buf<128> {
    text(format_args!("/tmp/rawrt-syscalls-{}-{}", process::getpid(), tag))
}

/// Reads a whole small file (up to 8 KiB) into `buf`; returns its length.
pub fn read_file(path: &CStr, buf: &mut [u8]) -> usize {
    let fd = io::openat(io::AT_FDCWD, path, c::O_RDONLY | c::O_CLOEXEC, 0).unwrap();
    let mut len = 0;
    loop {
        match io::read(fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::EINTR) => {}
            Err(e) => panic!("read {:?}: {}", path, e),
        }
        assert!(len < buf.len(), "{:?} larger than the buffer", path);
    }
    io::close(fd).unwrap();
    len
}

/// A numeric field of `/proc/self/status`, such as `VmLck` (decimal, in
/// kB) or `CapEff` (hexadecimal).
pub fn status_field(name: &str, radix: u32) -> u64 {
    let mut buf = [0u8; 8192];
    let len = read_file(c"/proc/self/status", &mut buf);
    let text = core::str::from_utf8(&buf[..len]).unwrap();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix(':')) {
            let digits = rest.trim().split(' ').next().unwrap();
            return u64::from_str_radix(digits, radix).unwrap();
        }
    }
    panic!("no {} in /proc/self/status", name);
}

/// Kilobytes of memory locked by this process (`VmLck`).
pub fn locked_kb() -> u64 {
    status_field("VmLck", 10)
}

/// Whether the process has `CAP_IPC_LOCK` (bit 14), which lifts
/// `RLIMIT_MEMLOCK` for mlock and mlockall.
pub fn cap_ipc_lock() -> bool {
    status_field("CapEff", 16) & (1 << 14) != 0
}

/// Forks a child that runs `f` and ends with `exit_group(f())`; returns
/// the child's pid. Unlike `rawrt::check::child` the child shares our
/// stdout/stderr and the caller decides when to reap it.
pub fn spawn(f: impl FnOnce() -> i32) -> i32 {
    let pid = process::fork().expect("fork");
    if pid == 0 {
        process::exit_group(f());
    }
    assert!(pid > 0);
    pid
}

/// Waits for child `pid` and decodes how it ended.
pub fn reap(pid: i32) -> WaitStatus {
    let (got, status) = process::wait4(pid, 0).expect("wait4");
    assert_eq!(got, pid);
    WaitStatus::from_raw(status)
}

/// Nanoseconds on `clock`.
pub fn now(clock: u32) -> i128 {
    time::clock_gettime(clock).unwrap().as_nanos()
}

/// A `Timespec` of `ms` milliseconds.
pub const fn ms(ms: i64) -> Timespec {
    Timespec { sec: ms / 1000, nsec: (ms % 1000) * 1_000_000 }
}

/// `t` plus `ms` milliseconds, normalized.
pub fn add_ms(t: Timespec, ms: i64) -> Timespec {
    let n = t.as_nanos() + ms as i128 * 1_000_000;
    Timespec { sec: (n / 1_000_000_000) as i64, nsec: (n % 1_000_000_000) as i64 }
}

/// Anonymous read-write pages: `n` pages, zero-filled.
pub fn pages(n: usize) -> *mut u8 {
    let p = mm::mmap_anonymous(n * PAGE).unwrap();
    assert_eq!(p as usize % PAGE, 0);
    p
}

/// Unmaps what [`pages`] returned.
pub fn unmap(p: *mut u8, n: usize) {
    // SAFETY: the caller no longer uses the range.
    unsafe { mm::munmap(p, n * PAGE) }.unwrap();
}

/// The `len` bytes at `p` as a slice.
///
/// # Safety
/// The pages must be mapped readable (and writable if written through the
/// slice) for as long as the slice is used.
pub unsafe fn bytes<'a>(p: *mut u8, len: usize) -> &'a mut [u8] {
    // SAFETY: the caller vouches for the mapping.
    unsafe { core::slice::from_raw_parts_mut(p, len) }
}

/// The byte at offset `i` of the big-write pattern. The period 251 is
/// prime, so a chunk dropped, doubled or moved by a multiple of the page or
/// pipe size shows up.
pub fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Reads `fd` until end of file (or until `limit` bytes), checks every byte
/// against [`pattern`] from offset `start`, and returns how many were read.
/// Panics on the first mismatch.
pub fn drain_pattern(fd: Fd, start: usize, limit: usize) -> usize {
    let mut chunk = [0u8; 8192];
    let mut total = 0;
    while total < limit {
        let want = chunk.len().min(limit - total);
        let n = match io::read(fd, &mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => panic!("read: {}", e),
        };
        for (k, &b) in chunk[..n].iter().enumerate() {
            let at = start + total + k;
            assert_eq!(b, pattern(at), "byte {} of the stream", at);
        }
        total += n;
    }
    total
}

/// `Errno` formatted with `{}` into a stack buffer.
pub fn display(e: Errno) -> Buf<128> {
    text(format_args!("{}", e))
}

/// Ends this test process with SIGKILL if it runs longer than `secs`
/// seconds, so that a test that hangs (a child blocked on a pipe, a lost
/// wake-up) fails instead of blocking `cargo test` for ever. The watchdog
/// is a grandchild, so that it never shows up in our own `wait4` calls: it
/// polls a pipe whose write end only we (and our forked children) hold, and
/// leaves as soon as that pipe reports end of file.
pub fn watchdog(secs: i64) {
    let parent = process::getpid();
    let [r, w] = io::pipe2(c::O_NONBLOCK | c::O_CLOEXEC).unwrap();
    let middle = spawn(|| {
        if process::fork().unwrap() != 0 {
            return 0;
        }
        io::close(w).unwrap();
        let start = now(time::CLOCK_MONOTONIC);
        let mut b = [0u8; 1];
        loop {
            match io::read(r, &mut b) {
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                _ => return 0, // end of file: the tests are over
            }
            if now(time::CLOCK_MONOTONIC) - start > secs as i128 * 1_000_000_000 {
                rawrt::eprintln!(
                    "\n*** syscalls: watchdog: still running after {} s, killing pid {} ***",
                    secs,
                    parent
                );
                let _ = process::kill(parent, c::SIGKILL);
                return 1;
            }
            let _ = time::clock_nanosleep(time::CLOCK_MONOTONIC, 0, &ms(100));
        }
    });
    assert_eq!(reap(middle), WaitStatus::Exited(0));
    io::close(r).unwrap();
    // `w` stays open, on purpose, until this process ends.
}
