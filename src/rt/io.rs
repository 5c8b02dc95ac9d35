//! Printing: `print!`, `println!`, `eprint!`, `eprintln!` over `core::fmt`.
//!
//! Each call formats into a 512-byte stack buffer and issues one `write`
//! when the text fits (more only for longer text). A call whose arguments
//! are a plain string skips the formatter entirely, so a program that
//! prints only literals does not link `core::fmt`.

use crate::sys::{io::write_all, Errno, Fd, STDERR};
use core::fmt;

const BUF: usize = 512;

/// A writer to a file descriptor through a stack buffer.
pub struct FdWriter {
    fd: Fd,
    len: usize,
    buf: [u8; BUF],
    err: Option<Errno>,
}

impl FdWriter {
    /// A writer to `fd` with an empty buffer.
    pub const fn new(fd: Fd) -> Self {
        FdWriter { fd, len: 0, buf: [0; BUF], err: None }
    }

    /// Appends bytes, writing the buffer out whenever it fills.
    #[inline(never)]
    pub fn push(&mut self, mut s: &[u8]) {
        while !s.is_empty() {
            if self.len == BUF {
                self.flush();
            }
            let n = s.len().min(BUF - self.len);
            // SAFETY: `len + n <= BUF` and `n <= s.len()`; indexing-free so
            // that printing never links the panic machinery.
            unsafe {
                core::ptr::copy_nonoverlapping(s.as_ptr(), self.buf.as_mut_ptr().add(self.len), n);
                s = s.get_unchecked(n..);
            }
            self.len += n;
        }
    }

    /// Writes out what is buffered; remembers the first error.
    pub fn flush(&mut self) {
        if self.len > 0 {
            // SAFETY: `len <= BUF`.
            let data = unsafe { self.buf.get_unchecked(..self.len) };
            if let Err(e) = write_all(self.fd, data) {
                self.err.get_or_insert(e);
            }
            self.len = 0;
        }
    }

    /// Runs `f` with a writer to `fd` and writes out what it wrote (errors
    /// are dropped: for reports that have nowhere else to go). The writer
    /// does not allocate, so `f` may print a heap's state.
    pub fn with<T>(fd: Fd, f: impl FnOnce(&mut FdWriter) -> T) -> T {
        let mut w = FdWriter::new(fd);
        let r = f(&mut w);
        let _ = w.finish();
        r
    }

    /// Flushes and returns the first error met.
    pub fn finish(mut self) -> Result<(), Errno> {
        self.flush();
        self.err.map_or(Ok(()), Err)
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Writes formatted text, and a newline if `nl`, to `fd` with as few
/// `write` calls as possible (one when it fits the buffer).
#[inline(always)]
pub fn print_to(fd: Fd, args: fmt::Arguments<'_>, nl: bool) -> Result<(), Errno> {
    match (args.as_str(), nl) {
        (Some(s), false) => write_all(fd, s.as_bytes()),
        (Some(s), true) => print_str_nl(fd, s),
        (None, _) => print_fmt(fd, args, nl),
    }
}

/// A string and a newline in one `write` when they fit the stack buffer.
#[inline(never)]
fn print_str_nl(fd: Fd, s: &str) -> Result<(), Errno> {
    let s = s.as_bytes();
    if s.len() >= BUF {
        write_all(fd, s)?;
        return write_all(fd, b"\n");
    }
    let mut buf = core::mem::MaybeUninit::<[u8; BUF]>::uninit();
    let p = buf.as_mut_ptr() as *mut u8;
    // SAFETY: `s.len() + 1 <= BUF`; exactly those bytes are initialised and
    // then read.
    let line = unsafe {
        core::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        *p.add(s.len()) = b'\n';
        core::slice::from_raw_parts(p, s.len() + 1)
    };
    write_all(fd, line)
}

#[inline(never)]
fn print_fmt(fd: Fd, args: fmt::Arguments<'_>, nl: bool) -> Result<(), Errno> {
    let mut w = FdWriter::new(fd);
    let _ = fmt::write(&mut w, args);
    if nl {
        w.push(b"\n");
    }
    w.finish()
}

/// Backs `print!`: like std, a failure to print ends the program (status
/// 101, with `rawrt: failed printing to stdout` on stderr), except `EPIPE`,
/// which ends it quietly with status 141 as `SIGPIPE`'s default would.
#[doc(hidden)]
#[inline(always)]
pub fn _print(fd: Fd, args: fmt::Arguments<'_>, nl: bool) {
    if let Err(e) = print_to(fd, args, nl) {
        print_failed(fd, e)
    }
}

/// Backs `println!` and `eprintln!` with a single string literal: `nl` is
/// that literal with its newline (`concat!`), written as it is when the
/// literal is plain text (no `{}` and no `{{` escapes, which change the
/// length), so that a line is one `write` of read-only data with no copy.
#[doc(hidden)]
#[inline(always)]
pub fn _print_lit(fd: Fd, args: fmt::Arguments<'_>, nl: &'static str) {
    match args.as_str() {
        Some(s) if s.len() + 1 == nl.len() => {
            if let Err(e) = write_all(fd, nl.as_bytes()) {
                print_failed(fd, e)
            }
        }
        _ => _print(fd, args, true),
    }
}

#[cold]
#[inline(never)]
fn print_failed(fd: Fd, e: Errno) -> ! {
    if e == Errno::EPIPE {
        super::exit::_exit(141);
    }
    // The errno is left to strace: formatting it would put code that
    // nearly never runs into every program that prints. When stderr itself
    // failed there is nowhere to say so.
    let _ = e;
    if fd != STDERR {
        let _ = write_all(STDERR, b"rawrt: writing stdout failed\n");
    }
    super::exit::exit(101)
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::rt::io::_print($crate::sys::STDOUT, format_args!($($arg)*), false)
    };
}

/// Prints to standard output, with a newline.
#[macro_export]
macro_rules! println {
    () => {
        $crate::rt::io::_print_lit($crate::sys::STDOUT, format_args!(""), "\n")
    };
    ($fmt:literal $(,)?) => {
        $crate::rt::io::_print_lit($crate::sys::STDOUT, format_args!($fmt), concat!($fmt, "\n"))
    };
    ($($arg:tt)*) => {
        $crate::rt::io::_print($crate::sys::STDOUT, format_args!($($arg)*), true)
    };
}

/// Prints to standard error.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::rt::io::_print($crate::sys::STDERR, format_args!($($arg)*), false)
    };
}

/// Prints to standard error, with a newline.
#[macro_export]
macro_rules! eprintln {
    () => {
        $crate::rt::io::_print_lit($crate::sys::STDERR, format_args!(""), "\n")
    };
    ($fmt:literal $(,)?) => {
        $crate::rt::io::_print_lit($crate::sys::STDERR, format_args!($fmt), concat!($fmt, "\n"))
    };
    ($($arg:tt)*) => {
        $crate::rt::io::_print($crate::sys::STDERR, format_args!($($arg)*), true)
    };
}
