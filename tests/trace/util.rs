//! The C functions under test, call sites in functions of known names
//! (each keeps its result alive after the call, so that the call is not
//! a tail call and its return address lies inside the function), and the
//! symbol check of a recorded caller.

use core::ffi::c_char;
use core::hint::black_box;
use rawrt::heap::trace::{HeapTraceRecord, HeapTraceSummary};

extern "C" {
    pub fn malloc(size: usize) -> *mut u8;
    pub fn calloc(n: usize, size: usize) -> *mut u8;
    pub fn realloc(p: *mut u8, size: usize) -> *mut u8;
    pub fn free(p: *mut u8);
    pub fn heap_trace_init_standalone(records: *mut HeapTraceRecord, n: usize) -> i32;
    pub fn heap_trace_start(mode: u32) -> i32;
    pub fn heap_trace_stop() -> i32;
    pub fn heap_trace_resume() -> i32;
    pub fn heap_trace_get_count() -> usize;
    pub fn heap_trace_get(i: usize, out: *mut HeapTraceRecord) -> i32;
    pub fn heap_trace_summary(out: *mut HeapTraceSummary) -> i32;
    pub fn heap_trace_dump();
    pub fn rawrt_heap_trace_leaks_at_exit() -> i32;
    pub fn rawrt_heap_trace_location(
        p: *const u8,
        file: *mut *const c_char,
        line: *mut u32,
    ) -> bool;
    pub fn rawrt_malloc_at(size: usize, file: *const c_char, line: u32) -> *mut u8;
    pub fn rawrt_calloc_at(n: usize, size: usize, file: *const c_char, line: u32) -> *mut u8;
    pub fn rawrt_realloc_at(p: *mut u8, size: usize, file: *const c_char, line: u32) -> *mut u8;
    pub fn rawrt_free_at(p: *mut u8, file: *const c_char, line: u32);
}

pub const ESP_OK: i32 = 0;
pub const ESP_ERR_INVALID_ARG: i32 = 0x102;
pub const ESP_ERR_INVALID_STATE: i32 = 0x103;
pub const ESP_ERR_NOT_FOUND: i32 = 0x105;
pub const ALL: u32 = 0;
pub const LEAKS: u32 = 1;

#[no_mangle]
#[inline(never)]
pub extern "C" fn trace_site_malloc(n: usize) -> *mut u8 {
    // SAFETY: plain malloc.
    black_box(unsafe { malloc(n) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn trace_site_calloc(n: usize, size: usize) -> *mut u8 {
    // SAFETY: plain calloc.
    black_box(unsafe { calloc(n, size) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn trace_site_realloc(p: *mut u8, n: usize) -> *mut u8 {
    // SAFETY: `p` is null or a live block.
    black_box(unsafe { realloc(p, n) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn trace_site_free(p: *mut u8) {
    // SAFETY: `p` is null or a live block.
    unsafe { free(p) };
    black_box(p);
}

/// Gives the tracer `buf` and starts it in `mode`.
pub fn start(buf: &mut [HeapTraceRecord], mode: u32) {
    // SAFETY: the buffer outlives the trace: every test stops it, and the
    // next gives a new buffer before starting again.
    assert_eq!(unsafe { heap_trace_init_standalone(buf.as_mut_ptr(), buf.len()) }, ESP_OK);
    // SAFETY: plain call.
    assert_eq!(unsafe { heap_trace_start(mode) }, ESP_OK);
}

pub fn stop() {
    // SAFETY: plain call.
    assert_eq!(unsafe { heap_trace_stop() }, ESP_OK);
}

pub fn count() -> usize {
    // SAFETY: plain call.
    unsafe { heap_trace_get_count() }
}

pub fn get(i: usize) -> HeapTraceRecord {
    let mut r = HeapTraceRecord::EMPTY;
    // SAFETY: `r` is writable.
    assert_eq!(unsafe { heap_trace_get(i, &mut r) }, ESP_OK, "record {i}");
    r
}

pub fn summary() -> HeapTraceSummary {
    let mut s = HeapTraceSummary::default();
    // SAFETY: `s` is writable.
    assert_eq!(unsafe { heap_trace_summary(&mut s) }, ESP_OK);
    s
}

/// Asserts that code address `a` lies inside function `name` (by the
/// program's symbol table), past its first instruction.
#[track_caller]
pub fn in_function(a: *mut core::ffi::c_void, name: &str) {
    let s = rawrt::rt::symbols::lookup(a.addr())
        .unwrap_or_else(|| panic!("{a:p} is in no function (wanted {name})"));
    let got = core::str::from_utf8(s.name).unwrap();
    assert_eq!(got, name, "{a:p} is {got}+{:#x}, not in {name}", s.offset);
    assert!(s.offset > 0, "{a:p} is {name}'s first byte: not a return address");
}
