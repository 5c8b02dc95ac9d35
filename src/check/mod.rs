//! A small test harness for static-ELF tests (`tests/*.rs`), which have no
//! libtest: [`run`] runs a table of tests and prints a closing
//! `N passed, 0 failed` line; a failing assertion panics, which prints the
//! location and ends the program with status 101. [`child`] runs code in a
//! forked child and reports how it ended and what it wrote on stderr, for
//! tests that must see a crash. [`Rng`] is the random generator every
//! randomized test of rawrt uses.

use crate::sys::{io, process, Fd};
use crate::{print, println};

mod rng;
pub use rng::Rng;

/// Runs every `(name, test)` pair, or only those whose name contains one of
/// the program's arguments.
pub fn run(tests: &[(&str, fn())]) -> i32 {
    let filters: heapless_args::Filters = heapless_args::Filters::new();
    let (mut passed, mut skipped) = (0, 0);
    for (name, test) in tests {
        if !filters.admits(name) {
            skipped += 1;
            continue;
        }
        print!("test {} ... ", name);
        test();
        println!("ok");
        passed += 1;
    }
    println!("\n{} passed, 0 failed, {} skipped", passed, skipped);
    0
}

mod heapless_args {
    use core::ffi::CStr;

    pub struct Filters {
        args: [Option<&'static CStr>; 8],
    }

    impl Filters {
        pub fn new() -> Self {
            let mut args = [None; 8];
            for (slot, a) in args
                .iter_mut()
                .zip(crate::rt::args().skip(1).filter(|a| !a.to_bytes().starts_with(b"-")))
            {
                *slot = Some(a);
            }
            Filters { args }
        }

        pub fn admits(&self, name: &str) -> bool {
            let mut any = false;
            for a in self.args.iter().flatten() {
                any = true;
                let a = a.to_bytes();
                if name.as_bytes().windows(a.len().max(1)).any(|w| w == a) {
                    return true;
                }
            }
            !any
        }
    }
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `exit` with this status.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// What a child did: how it ended, and up to 4 KiB of its stderr and stdout.
pub struct Outcome {
    /// How it ended.
    pub ended: Ended,
    stderr: [u8; 4096],
    stderr_len: usize,
    stdout: [u8; 4096],
    stdout_len: usize,
}

impl Outcome {
    /// What the child wrote on stderr, less the line qemu-user adds when a
    /// child dies by a signal (`qemu: uncaught target signal 6 ...`).
    pub fn stderr(&self) -> &str {
        let s = core::str::from_utf8(&self.stderr[..self.stderr_len]).unwrap_or("<not UTF-8>");
        match s.find("qemu: uncaught target signal") {
            Some(i) if s[i..].trim_end().lines().count() == 1 => &s[..i],
            _ => s,
        }
    }
    /// What the child wrote on stdout.
    pub fn stdout(&self) -> &str {
        core::str::from_utf8(&self.stdout[..self.stdout_len]).unwrap_or("<not UTF-8>")
    }
}

fn drain(fd: Fd, buf: &mut [u8; 4096]) -> usize {
    let mut len = 0;
    let mut scratch = [0u8; 512];
    loop {
        match io::read(fd, &mut scratch) {
            Ok(0) => return len,
            Ok(n) => {
                let take = n.min(buf.len() - len);
                buf[len..len + take].copy_from_slice(&scratch[..take]);
                len += take;
            }
            Err(crate::sys::Errno::EINTR) => {}
            Err(_) => return len,
        }
    }
}

/// Runs `f` in a forked child with stdout and stderr captured; the child
/// exits with `f`'s return value. Returns how it ended and its output.
pub fn child(f: impl FnOnce() -> i32) -> Outcome {
    let err = io::pipe2(0).expect("pipe2");
    let out = io::pipe2(0).expect("pipe2");
    let pid = process::fork().expect("fork");
    if pid == 0 {
        let _ = io::dup3(err[1], 2, 0);
        let _ = io::dup3(out[1], 1, 0);
        for fd in [err[0], err[1], out[0], out[1]] {
            let _ = io::close(fd);
        }
        let status = f();
        crate::rt::exit(status);
    }
    let _ = io::close(err[1]);
    let _ = io::close(out[1]);
    let mut o = Outcome {
        ended: Ended::Exited(0),
        stderr: [0; 4096],
        stderr_len: 0,
        stdout: [0; 4096],
        stdout_len: 0,
    };
    // Small outputs fit the pipe buffers, so reading one after the other
    // cannot deadlock for what tests write.
    o.stdout_len = drain(out[0], &mut o.stdout);
    o.stderr_len = drain(err[0], &mut o.stderr);
    let _ = io::close(err[0]);
    let _ = io::close(out[0]);
    let (_, status) = process::wait4(pid, 0).expect("wait4");
    o.ended = match process::WaitStatus::from_raw(status) {
        process::WaitStatus::Exited(s) => Ended::Exited(s),
        process::WaitStatus::Signaled(s) => Ended::Signaled(s),
        process::WaitStatus::Other(s) => panic!("child stopped: status {:#x}", s),
    };
    o
}
