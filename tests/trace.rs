//! Static-ELF tests of the heap trace (ESP-IDF's `heap_trace_*` through
//! the C ABI) and the leak report: records exact for scripted sequences
//! (blocks, sizes, callers inside the calling functions, frees), the
//! modes, a full buffer, `heap_trace_dump`'s lines, the frame-pointer
//! walk's bounds, several threads, `rawrt_track.h`'s source locations,
//! the report at exit with the exit status kept, and per-thread
//! accounting.
//!
//! The first trace diverts the process heap for good (every call takes the
//! slow paths), so these tests have a binary of their own. Run one test
//! or a group by name: `cargo test --test trace -- records::`. The same
//! binary runs natively (x86_64) and under qemu-user (aarch64, riscv64).
#![no_std]
#![no_main]

extern crate alloc;

#[path = "trace/records.rs"]
mod records;
#[path = "trace/report.rs"]
mod report;
#[path = "trace/threads.rs"]
mod threads;
#[path = "trace/util.rs"]
mod util;

rawrt::main!(tests);

/// `(module::test, fn)` pairs named after their module.
macro_rules! table {
    ($($m:ident :: $f:ident),* $(,)?) => {
        &[$((concat!(stringify!($m), "::", stringify!($f)), $m::$f as fn())),*]
    };
}

fn tests() -> i32 {
    rawrt::check::run(table![
        // First: nothing has given the tracer a buffer yet.
        records::errors_before_and_after_a_buffer,
        records::scripted_sequence_in_all_mode,
        records::leaks_mode_keeps_only_live_blocks,
        records::full_buffer_stops_recording,
        records::stop_and_resume,
        records::walk_follows_frames_and_stops_at_bad_ones,
        report::dump_lines,
        report::source_locations_from_track_functions,
        report::leak_report_at_exit_keeps_the_status,
        report::no_leaks_is_a_zero_total,
        threads::several_threads_are_all_recorded,
        threads::per_thread_accounting,
    ])
}
