//! Prints the numbers behind `include/rawrt.h` as rawrt's Rust definitions
//! give them: every constant the header defines, one `NAME VALUE` line
//! each (negative values as their 64-bit two's complement), then the
//! layouts rawrt's C ABI relies on, one `struct NAME SIZE field@offset ...`
//! line each. What an assembly or FFI user needs without a C compiler, and
//! what the header check (`testkit/tests/hosted/header.rs`) compares the
//! header with.
//!
//! ```text
//! $ cargo run --example c_abi | grep ENOMEM
//! ENOMEM 12
//! ```
#![no_std]
#![no_main]

use core::mem::{offset_of, size_of};
use linux_raw_sys::{errno as e, general as g};
use rawrt::heap::{caps, trace};
use rawrt::sys::{self, mq::MqAttr, process::Rlimit, time::Timespec};
use rawrt::thread::c11;

rawrt::main!(run);

/// Prints `NAME VALUE` for each constant, by the name it has in both the
/// header and the Rust definition.
macro_rules! consts {
    ($($m:ident :: $c:ident),* $(,)?) => {
        $( rawrt::println!("{} {}", stringify!($c), $m::$c as i64 as u64); )*
    };
}

/// Prints `struct NAME SIZE field@offset ...`.
macro_rules! layout {
    ($name:expr, $t:ty, $($f:ident),*) => {{
        rawrt::print!("struct {} {}", $name, size_of::<$t>());
        $( rawrt::print!(" {}@{}", stringify!($f), offset_of!($t, $f)); )*
        rawrt::println!();
    }};
}

fn run() -> i32 {
    // The kernel's numbers, through linux-raw-sys (what rawrt's system
    // calls pass on).
    #[rustfmt::skip]
    consts!(
        e::EPERM, e::ENOENT, e::ESRCH, e::EINTR, e::EIO, e::ENXIO, e::E2BIG, e::ENOEXEC, e::EBADF,
        e::ECHILD, e::EAGAIN, e::EWOULDBLOCK, e::ENOMEM, e::EACCES, e::EFAULT, e::EBUSY, e::EEXIST,
        e::ENODEV, e::ENOTDIR, e::EISDIR, e::EINVAL, e::ENFILE, e::EMFILE, e::EFBIG, e::ENOSPC,
        e::ESPIPE, e::EROFS, e::EPIPE, e::ERANGE, e::EDEADLK, e::ENAMETOOLONG, e::ENOSYS, e::ELOOP,
        e::EOVERFLOW, e::EMSGSIZE, e::EOPNOTSUPP, e::ETIMEDOUT,
        g::O_RDONLY, g::O_WRONLY, g::O_RDWR, g::O_CREAT, g::O_EXCL, g::O_TRUNC, g::O_NONBLOCK,
        g::O_CLOEXEC,
        g::PROT_NONE, g::PROT_READ, g::PROT_WRITE, g::PROT_EXEC,
        g::MAP_SHARED, g::MAP_PRIVATE, g::MAP_FIXED, g::MAP_ANONYMOUS, g::MAP_NORESERVE,
        g::MAP_POPULATE, g::MAP_FIXED_NOREPLACE,
        g::MREMAP_MAYMOVE, g::MREMAP_FIXED, g::MREMAP_DONTUNMAP,
        g::MS_ASYNC, g::MS_INVALIDATE, g::MS_SYNC,
        g::MCL_CURRENT, g::MCL_FUTURE, g::MCL_ONFAULT,
        g::MADV_NORMAL, g::MADV_RANDOM, g::MADV_SEQUENTIAL, g::MADV_WILLNEED, g::MADV_DONTNEED,
        g::MADV_FREE, g::MADV_REMOVE, g::MADV_DONTFORK, g::MADV_DOFORK, g::MADV_HUGEPAGE,
        g::MADV_NOHUGEPAGE, g::MADV_DONTDUMP, g::MADV_DODUMP,
        g::SIGEV_SIGNAL, g::SIGEV_NONE, g::SIGEV_THREAD, g::SIGEV_THREAD_ID,
        g::SIGHUP, g::SIGINT, g::SIGQUIT, g::SIGILL, g::SIGTRAP, g::SIGABRT, g::SIGBUS, g::SIGFPE,
        g::SIGKILL, g::SIGUSR1, g::SIGSEGV, g::SIGUSR2, g::SIGPIPE, g::SIGALRM, g::SIGTERM,
        g::SIGCHLD,
        g::WNOHANG, g::CLOCK_REALTIME, g::CLOCK_MONOTONIC,
        g::RLIMIT_DATA, g::RLIMIT_STACK, g::RLIMIT_NOFILE, g::RLIMIT_MEMLOCK, g::RLIMIT_AS,
        g::RLIM_INFINITY,
        g::AT_PHDR, g::AT_PHNUM, g::AT_PAGESZ, g::AT_ENTRY, g::AT_UID, g::AT_EUID, g::AT_GID,
        g::AT_EGID, g::AT_PLATFORM, g::AT_HWCAP, g::AT_CLKTCK, g::AT_SECURE, g::AT_RANDOM,
        g::AT_HWCAP2, g::AT_EXECFN, g::AT_SYSINFO_EHDR,
    );
    // Names C has and the kernel's headers do not.
    rawrt::println!("ENOTSUP {}", e::EOPNOTSUPP);
    rawrt::println!("MAP_ANON {}", g::MAP_ANONYMOUS);
    // posix_madvise hands these to madvise (glibc's values too).
    rawrt::println!("POSIX_MADV_NORMAL {}", g::MADV_NORMAL);
    rawrt::println!("POSIX_MADV_RANDOM {}", g::MADV_RANDOM);
    rawrt::println!("POSIX_MADV_SEQUENTIAL {}", g::MADV_SEQUENTIAL);
    rawrt::println!("POSIX_MADV_WILLNEED {}", g::MADV_WILLNEED);
    rawrt::println!("POSIX_MADV_DONTNEED {}", g::MADV_DONTNEED);
    // rawrt's own.
    rawrt::println!("STDIN_FILENO {}", sys::STDIN);
    rawrt::println!("STDOUT_FILENO {}", sys::STDOUT);
    rawrt::println!("STDERR_FILENO {}", sys::STDERR);
    // What rawrt's exit(status) passes on: C's values.
    rawrt::println!("EXIT_SUCCESS 0");
    rawrt::println!("EXIT_FAILURE 1");
    consts!(
        caps::MALLOC_CAP_EXEC,
        caps::MALLOC_CAP_32BIT,
        caps::MALLOC_CAP_8BIT,
        caps::MALLOC_CAP_DMA,
        caps::MALLOC_CAP_PID2,
        caps::MALLOC_CAP_PID3,
        caps::MALLOC_CAP_PID4,
        caps::MALLOC_CAP_PID5,
        caps::MALLOC_CAP_PID6,
        caps::MALLOC_CAP_PID7,
        caps::MALLOC_CAP_SPIRAM,
        caps::MALLOC_CAP_INTERNAL,
        caps::MALLOC_CAP_DEFAULT,
        caps::MALLOC_CAP_IRAM_8BIT,
        caps::MALLOC_CAP_RETENTION,
        caps::MALLOC_CAP_RTCRAM,
        caps::MALLOC_CAP_INVALID,
        caps::ESP_ERR_NO_MEM,
        caps::ESP_ERR_INVALID_ARG,
        caps::ESP_ERR_NOT_FOUND
    );
    rawrt::println!("ESP_OK {}", caps::ESP_OK);
    rawrt::println!("ESP_FAIL {}", caps::ESP_FAIL as i64 as u64);
    // Heap poisoning's modes.
    rawrt::println!("RAWRT_POISON_OFF {}", rawrt::heap::POISON_OFF);
    rawrt::println!("RAWRT_POISON_LIGHT {}", rawrt::heap::POISON_LIGHT);
    rawrt::println!("RAWRT_POISON_COMPREHENSIVE {}", rawrt::heap::POISON_COMPREHENSIVE);
    rawrt::println!("ESP_ERR_INVALID_STATE {}", trace::ESP_ERR_INVALID_STATE);
    rawrt::println!("CONFIG_HEAP_TRACING_STACK_DEPTH {}", trace::STACK_DEPTH);
    rawrt::println!("HEAP_TRACE_ALL {}", trace::HEAP_TRACE_ALL);
    rawrt::println!("HEAP_TRACE_LEAKS {}", trace::HEAP_TRACE_LEAKS);
    // C11 threads (enumeration constants in the header).
    rawrt::println!("thrd_success {}", c11::THRD_SUCCESS);
    rawrt::println!("thrd_busy {}", c11::THRD_BUSY);
    rawrt::println!("thrd_error {}", c11::THRD_ERROR);
    rawrt::println!("thrd_nomem {}", c11::THRD_NOMEM);
    rawrt::println!("thrd_timedout {}", c11::THRD_TIMEDOUT);
    rawrt::println!("mtx_plain {}", c11::MTX_PLAIN);
    rawrt::println!("mtx_recursive {}", c11::MTX_RECURSIVE);
    rawrt::println!("mtx_timed {}", c11::MTX_TIMED);

    // Kernel structures the C ABI passes through untyped (no Rust
    // signature pairs them with the header's).
    layout!("sigevent", g::sigevent, sigev_value, sigev_signo, sigev_notify, _sigev_un);
    layout!("sigval", g::sigval, sival_int, sival_ptr);
    // Rust types whose layout the header check also reads from DWARF: the
    // compiler's word against the DWARF reader's.
    layout!("MqAttr", MqAttr, flags, maxmsg, msgsize, curmsgs, reserved);
    layout!("Timespec", Timespec, sec, nsec);
    layout!("rlimit64", Rlimit, rlim_cur, rlim_max);
    0
}
