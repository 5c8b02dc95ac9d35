//! Typed system calls: one function per call, each returning
//! `Result<_, Errno>`.
//!
//! Layers: [`crate::arch`] issues the instruction (`syscall0`..`syscall6`),
//! the [`syscall!`](crate::syscall!) macro converts each argument to a register word, and the
//! wrappers in the submodules decode the result in one place
//! ([`Errno::result`]). Numbers and constants come from `linux-raw-sys`.
//!
//! # Safety
//! Wrappers whose arguments the kernel dereferences or whose effect can
//! break Rust's memory model (`mmap`, `munmap`, `brk`, `clone`, ...) are
//! `unsafe fn` and say what the caller must guarantee.

mod errno;
pub mod futex;
pub mod io;
pub mod mm;
pub mod mq;
pub mod process;
pub mod shm;
pub mod signal;
pub mod time;

#[cfg(test)]
pub(crate) use errno::tests as errno_tests;
pub use errno::Errno;
pub use linux_raw_sys::general as consts;

/// A raw file descriptor.
pub type Fd = i32;

/// Standard input.
pub const STDIN: Fd = 0;
/// Standard output.
pub const STDOUT: Fd = 1;
/// Standard error.
pub const STDERR: Fd = 2;

/// Converts a system-call argument to a register word.
pub trait Arg {
    /// The register word (signed values are sign-extended).
    fn word(self) -> usize;
}

macro_rules! arg_as_usize {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            #[inline(always)]
            fn word(self) -> usize {
                self as usize
            }
        }
    )*};
}
arg_as_usize!(usize, isize, u32, i32, u64, i64, u16, u8);

impl<T> Arg for *const T {
    #[inline(always)]
    fn word(self) -> usize {
        self as usize
    }
}

impl<T> Arg for *mut T {
    #[inline(always)]
    fn word(self) -> usize {
        self as usize
    }
}

/// Issues a system call by its `linux-raw-sys` name and returns the raw
/// result: `syscall!(__NR_write, fd, ptr, len)`.
#[macro_export]
#[doc(hidden)]
macro_rules! syscall {
    ($nr:ident) => {
        $crate::arch::syscall0($crate::sys::consts::$nr as usize)
    };
    ($nr:ident, $a0:expr) => {
        $crate::arch::syscall1($crate::sys::consts::$nr as usize, $crate::sys::Arg::word($a0))
    };
    ($nr:ident, $a0:expr, $a1:expr) => {
        $crate::arch::syscall2(
            $crate::sys::consts::$nr as usize,
            $crate::sys::Arg::word($a0),
            $crate::sys::Arg::word($a1),
        )
    };
    ($nr:ident, $a0:expr, $a1:expr, $a2:expr) => {
        $crate::arch::syscall3(
            $crate::sys::consts::$nr as usize,
            $crate::sys::Arg::word($a0),
            $crate::sys::Arg::word($a1),
            $crate::sys::Arg::word($a2),
        )
    };
    ($nr:ident, $a0:expr, $a1:expr, $a2:expr, $a3:expr) => {
        $crate::arch::syscall4(
            $crate::sys::consts::$nr as usize,
            $crate::sys::Arg::word($a0),
            $crate::sys::Arg::word($a1),
            $crate::sys::Arg::word($a2),
            $crate::sys::Arg::word($a3),
        )
    };
    ($nr:ident, $a0:expr, $a1:expr, $a2:expr, $a3:expr, $a4:expr) => {
        $crate::arch::syscall5(
            $crate::sys::consts::$nr as usize,
            $crate::sys::Arg::word($a0),
            $crate::sys::Arg::word($a1),
            $crate::sys::Arg::word($a2),
            $crate::sys::Arg::word($a3),
            $crate::sys::Arg::word($a4),
        )
    };
    ($nr:ident, $a0:expr, $a1:expr, $a2:expr, $a3:expr, $a4:expr, $a5:expr) => {
        $crate::arch::syscall6(
            $crate::sys::consts::$nr as usize,
            $crate::sys::Arg::word($a0),
            $crate::sys::Arg::word($a1),
            $crate::sys::Arg::word($a2),
            $crate::sys::Arg::word($a3),
            $crate::sys::Arg::word($a4),
            $crate::sys::Arg::word($a5),
        )
    };
}

/// Decodes a raw result into `Result<usize, Errno>`.
#[inline(always)]
pub(crate) fn ret(raw: usize) -> Result<usize, Errno> {
    Errno::result(raw)
}

/// Decodes a raw result that carries no value.
#[inline(always)]
pub(crate) fn ret_unit(raw: usize) -> Result<(), Errno> {
    Errno::result(raw).map(|_| ())
}
