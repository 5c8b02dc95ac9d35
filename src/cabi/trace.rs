//! ESP-IDF's heap trace for C (`heap_trace_*`, declared in `rawrt.h`),
//! rawrt's leak report (`rawrt_heap_trace_from_env`,
//! `rawrt_heap_trace_leaks_at_exit`, `rawrt_heap_trace_location`) and the
//! functions `rawrt_track.h` calls (`rawrt_malloc_at` & co.) are the
//! tracing hook's stubs themselves, exported under those names by
//! `heap/trace/hook.rs`, so that their callers are learnt as for `malloc`.

use core::ffi::c_char;

use crate::heap::trace::{self, HeapTraceRecord, HeapTraceSummary, ThreadInfo};

c_name! {
/// `heap_trace_init_standalone`.
///
/// # Safety
/// `records` holds `n` records that only the tracer uses from now on.
unsafe extern "C" fn heap_trace_init_standalone(records: *mut HeapTraceRecord, n: usize) -> i32 {
    // SAFETY: C's contract.
    unsafe { trace::init_standalone(records, n) }
}
}

c_name! {
/// `heap_trace_start`.
extern "C" fn heap_trace_start(mode: u32) -> i32 {
    trace::start(mode)
}
}

c_name! {
/// `heap_trace_stop`.
extern "C" fn heap_trace_stop() -> i32 {
    trace::stop()
}
}

c_name! {
/// `heap_trace_resume`.
extern "C" fn heap_trace_resume() -> i32 {
    trace::resume()
}
}

c_name! {
/// `heap_trace_get_count`.
extern "C" fn heap_trace_get_count() -> usize {
    trace::count()
}
}

c_name! {
/// `heap_trace_get`: `ESP_ERR_INVALID_ARG` for a NULL `out`.
///
/// # Safety
/// `out` is NULL or writable.
unsafe extern "C" fn heap_trace_get(i: usize, out: *mut HeapTraceRecord) -> i32 {
    // SAFETY: C's contract.
    unsafe { out.as_mut() }.map_or(trace::ESP_ERR_INVALID_ARG, |out| trace::get(i, out))
}
}

c_name! {
/// `heap_trace_summary`: `ESP_ERR_INVALID_ARG` for a NULL `out`.
///
/// # Safety
/// `out` is NULL or writable.
unsafe extern "C" fn heap_trace_summary(out: *mut HeapTraceSummary) -> i32 {
    // SAFETY: C's contract.
    unsafe { out.as_mut() }.map_or(trace::ESP_ERR_INVALID_ARG, |out| {
        *out = trace::summary();
        trace::ESP_OK
    })
}
}

c_name! {
/// `heap_trace_dump`.
extern "C" fn heap_trace_dump() {
    trace::dump()
}
}

/// `rawrt_heap_trace_from_env`: reads `RAWRT_HEAP_TRACE` (see
/// `heap::trace::from_env`).
#[no_mangle]
extern "C" fn rawrt_heap_trace_from_env() -> i32 {
    trace::from_env()
}

/// `rawrt_heap_trace_leaks_at_exit`: traces leaks and reports them at exit.
#[no_mangle]
extern "C" fn rawrt_heap_trace_leaks_at_exit() -> i32 {
    trace::leaks_at_exit()
}

/// `rawrt_heap_trace_location`: the `file` and `line` recorded for the
/// live traced block `p` (true), or false.
#[no_mangle]
extern "C" fn rawrt_heap_trace_location(
    p: *const u8,
    file: Option<&mut *const c_char>,
    line: Option<&mut u32>,
) -> bool {
    let Some((f, l)) = trace::location(p.addr()) else { return false };
    if let Some(file) = file {
        *file = f;
    }
    if let Some(line) = line {
        *line = l;
    }
    true
}

/// `rawrt_heap_thread_accounting`: starts per-thread accounting.
#[no_mangle]
extern "C" fn rawrt_heap_thread_accounting() -> i32 {
    trace::thread_accounting()
}

/// `rawrt_heap_thread_info`: thread `tid`'s figures (0: the caller's);
/// `ESP_ERR_INVALID_ARG` for a NULL `out` or a negative `tid`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
unsafe extern "C" fn rawrt_heap_thread_info(tid: i32, out: *mut ThreadInfo) -> i32 {
    // SAFETY: C's contract.
    let (Some(out), Ok(tid)) = (unsafe { out.as_mut() }, u32::try_from(tid)) else {
        return trace::ESP_ERR_INVALID_ARG;
    };
    match trace::thread_info(tid) {
        Ok(info) => {
            *out = info;
            trace::ESP_OK
        }
        Err(e) => e,
    }
}
