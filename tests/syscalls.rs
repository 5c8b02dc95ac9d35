//! Static-ELF tests of the typed system calls (`rawrt::sys`): for every
//! wrapper, the success path with a real effect and a real value, and its
//! error paths with the exact errno the kernel documents.
//!
//! Each module covers one part of `rawrt::sys`; `util` holds the helpers.
//! Run one test or a group by name: `cargo test --test syscalls -- mq_`.
//!
//! The same binary runs natively (x86_64) and under qemu-user (aarch64,
//! riscv64). Where qemu-user does not behave like the kernel, the test
//! checks the kernel's behaviour natively and accepts under qemu only the
//! one outcome qemu is documented to give; each such place says so
//! (search for `QEMU`).
#![no_std]
#![no_main]

#[path = "syscalls/abi.rs"]
mod abi;
#[path = "syscalls/files.rs"]
mod files;
#[path = "syscalls/lock.rs"]
mod lock;
#[path = "syscalls/mm.rs"]
mod mm;
#[path = "syscalls/mq.rs"]
mod mq;
#[path = "syscalls/process.rs"]
mod process;
#[path = "syscalls/signal.rs"]
mod signal;
#[path = "syscalls/time.rs"]
mod time;
#[path = "syscalls/util.rs"]
mod util;

rawrt::main!(tests);

/// `(module::test, fn)` pairs named after their module.
macro_rules! table {
    ($($m:ident :: $f:ident),* $(,)?) => {
        &[$((concat!(stringify!($m), "::", stringify!($f)), $m::$f as fn())),*]
    };
}

fn tests() -> i32 {
    util::watchdog(120);
    rawrt::check::run(table![
        files::read_write_pipe,
        files::nonblocking_pipe_short_write_and_eagain,
        files::write_to_closed_pipe_epipe_or_sigpipe,
        files::write_all_4mib_into_pipe,
        files::blocking_pipe_write_cut_short_by_sigstop,
        files::write_all_completes_after_short_write,
        files::writev_gathers_and_faults,
        files::openat_create_exclusive_read_back,
        files::openat_relative_to_dirfd_and_unlinkat,
        files::close_twice_is_ebadf,
        files::lseek_offsets_and_espipe,
        files::ftruncate_sets_size,
        files::pipe2_flags,
        files::dup3_duplicates,
        mm::brk_query_grow_write_shrink,
        mm::mmap_anonymous_zeroed_read_write,
        mm::mmap_errors,
        mm::munmap_releases_and_checks_alignment,
        mm::mremap_grows_and_keeps_content,
        mm::mremap_errors,
        mm::mprotect_read_only_faults_writer,
        mm::madvise_dontneed_zeroes,
        mm::msync_shared_file_mapping,
        lock::mlock_munlock_show_in_vmlck,
        lock::mlockall_munlockall,
        lock::memlock_limit_without_cap_ipc_lock,
        process::exit_and_exit_group_status,
        process::getpid_gettid_parent_and_child,
        process::kill_probe_and_deliver,
        process::tgkill_sigusr1_default_kills,
        process::prlimit64_nofile_emfile,
        process::fork_and_wait4_statuses,
        process::clone_settid_pointers,
        signal::rt_sigaction_ignore_read_back_restore,
        signal::rt_sigaction_errors,
        signal::rt_sigprocmask_block_raise_unblock,
        signal::rt_sigprocmask_setmask_and_errors,
        time::clock_gettime_values,
        time::clock_nanosleep_sleeps_long_enough,
        time::getrandom_fills_and_differs,
        time::futex_wait_wake_private,
        time::futex_wakes_a_waiter_in_another_process,
        time::errno_display_and_debug,
        mq::mq_open_attributes_and_priority_order,
        mq::mq_sizes_and_nonblocking,
        mq::mq_timed_calls_time_out,
        mq::mq_getsetattr_toggles_nonblock,
        mq::mq_notify_registration_and_signal,
        mq::mq_unlink_then_enoent,
        // Last, so that a layout mismatch does not hide the behaviour tests.
        abi::timespec_and_mq_attr_match_kernel_structs,
        abi::sigaction_matches_kernel_struct,
    ])
}
