//! What the tracer prints: `heap_trace_dump`'s lines, the leak report at
//! exit (each leaked block, its callers named, a total; the exit status
//! kept), and the source locations `rawrt_track.h`'s functions carry.

use super::util::*;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, CStr};
use rawrt::check::{child, Ended};
use rawrt::heap::trace::HeapTraceRecord;

fn hex(s: &str) -> usize {
    usize::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("not hex: {s}"))
}

/// `name+0x..` as the report prints a caller: the function the address
/// lies in, by this (the same, forked) program's symbol table.
fn sym(a: usize) -> String {
    let s = rawrt::rt::symbols::lookup(a).expect("a symbol");
    format!("{}+{:#x}", core::str::from_utf8(s.name).unwrap(), s.offset)
}

pub fn dump_lines() {
    let o = child(|| {
        let mut buf = [HeapTraceRecord::EMPTY; 4];
        start(&mut buf, ALL);
        let a = trace_site_malloc(24);
        let b = trace_site_malloc(100);
        trace_site_free(a);
        stop();
        // SAFETY: plain call.
        unsafe { heap_trace_dump() };
        let r0 = get(0);
        rawrt::println!(
            "facts {:#x} {:#x} {} {:#x} {:#x}",
            a.addr(),
            b.addr(),
            rawrt::sys::process::gettid(),
            r0.alloced_by[0].addr(),
            r0.freed_by[0].addr()
        );
        0
    });
    assert_eq!(o.ended, Ended::Exited(0), "{}", o.stderr());
    let lines: Vec<&str> = o.stdout().lines().collect();
    assert_eq!(lines.len(), 12, "{}", o.stdout());
    let f: Vec<&str> = lines[11].split(' ').collect();
    let (a, b, tid, ra, rf) = (f[1], f[2], f[3], hex(f[4]), hex(f[5]));
    assert_eq!(lines[0], "====== Heap Trace: 2 records (4 capacity) ======");
    // `   24 bytes (@ 0x...) allocated thread T time 0x%08x caller C[:C...]`
    let head = |size: &str, at: &str, line: &str| {
        let want = format!("{size} bytes (@ {at}) allocated thread {tid} time 0x");
        let rest = line.strip_prefix(&want).unwrap_or_else(|| panic!("{line:?} is not {want:?}.."));
        let (time, callers) = rest.split_at(8);
        assert!(time.bytes().all(|c| c.is_ascii_hexdigit()), "{line}");
        let callers = callers.strip_prefix(" caller ").unwrap_or_else(|| panic!("{line}"));
        callers.split(':').map(hex).collect::<Vec<usize>>()
    };
    let c0 = head("    24", a, lines[1]);
    assert_eq!(c0[0], ra);
    assert!(sym(ra).starts_with("trace_site_malloc+0x"), "{}", sym(ra));
    let freed: Vec<usize> =
        lines[2].strip_prefix("freed by ").expect("freed by").split(':').map(hex).collect();
    assert_eq!(freed[0], rf);
    assert!(sym(rf).starts_with("trace_site_free+0x"), "{}", sym(rf));
    let c1 = head("   100", b, lines[3]);
    assert_eq!(c1[0], ra, "the same call site");
    assert_eq!(
        lines[4..11],
        [
            "====== Heap Trace Summary ======",
            "Mode: Heap Trace All",
            "100 bytes 'leaked' in trace (1 allocations)",
            "records: 2 (4 capacity, 2 high water mark)",
            "Total allocations: 2",
            "Total frees: 1",
            "================================",
        ]
    );
}

fn c_str(p: *const c_char) -> &'static str {
    // SAFETY: the tracer hands back the literals the test passed.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap()
}

fn location(p: *const u8) -> Option<(&'static str, u32)> {
    let (mut file, mut line) = (core::ptr::null(), 0);
    // SAFETY: both outputs are writable.
    unsafe { rawrt_heap_trace_location(p, &mut file, &mut line) }.then(|| (c_str(file), line))
}

#[no_mangle]
#[inline(never)]
extern "C" fn trace_site_track(n: usize, line: u32) -> *mut u8 {
    // SAFETY: plain call.
    core::hint::black_box(unsafe { rawrt_malloc_at(n, c"app.c".as_ptr(), line) })
}

pub fn source_locations_from_track_functions() {
    let mut buf = [HeapTraceRecord::EMPTY; 8];
    start(&mut buf, LEAKS);
    let p = trace_site_track(24, 42);
    // SAFETY: the tracked functions with blocks of this test.
    let (q, r) = unsafe {
        let q = rawrt_calloc_at(2, 8, c"app.c".as_ptr(), 43);
        let r = rawrt_realloc_at(q, 5000, c"app.c".as_ptr(), 44);
        (q, r)
    };
    assert!(!p.is_null() && !q.is_null() && !r.is_null() && q != r);
    assert_eq!(location(p), Some(("app.c", 42)));
    assert_eq!(location(q), None, "freed by the realloc");
    assert_eq!(location(r), Some(("app.c", 44)));
    let rec = get(0);
    assert_eq!((rec.addr(), rec.size, c_str(rec.file), rec.line), (p.addr(), 24, "app.c", 42));
    in_function(rec.alloced_by[0], "trace_site_track");
    // SAFETY: live blocks of this test.
    unsafe {
        rawrt_free_at(p, c"app.c".as_ptr(), 45);
        rawrt_free_at(core::ptr::null_mut(), c"app.c".as_ptr(), 46);
    }
    assert_eq!(location(p), None);
    assert_eq!((count(), get(0).addr(), get(0).line), (1, r.addr(), 44));
    stop();
    trace_site_free(r);
    // A block the trace never saw, and null.
    assert_eq!(location(core::ptr::null()), None);
}

pub fn leak_report_at_exit_keeps_the_status() {
    let o = child(|| {
        // SAFETY: plain call.
        assert_eq!(unsafe { rawrt_heap_trace_leaks_at_exit() }, ESP_OK);
        // SAFETY: plain call: tracing already.
        assert_eq!(unsafe { rawrt_heap_trace_leaks_at_exit() }, ESP_ERR_INVALID_STATE);
        let a = trace_site_malloc(24);
        let b = trace_site_track(100, 7);
        let t = trace_site_malloc(7);
        trace_site_free(t);
        let c = trace_site_calloc(2, 8);
        rawrt::println!("{:#x} {:#x} {:#x}", a.addr(), b.addr(), c.addr());
        3
    });
    assert_eq!(o.ended, Ended::Exited(3), "{}", o.stderr());
    let addrs: Vec<&str> = o.stdout().trim_end().split(' ').collect();
    let lines: Vec<&str> = o.stderr().lines().collect();
    assert_eq!(lines.len(), 4, "{}", o.stderr());
    for (line, want) in lines.iter().zip([
        format!("rawrt: leak: 24 bytes at {}, allocated by trace_site_malloc+0x", addrs[0]),
        format!(
            "rawrt: leak: 100 bytes at {} from app.c:7, allocated by trace_site_track+0x",
            addrs[1]
        ),
        format!("rawrt: leak: 16 bytes at {}, allocated by trace_site_calloc+0x", addrs[2]),
    ]) {
        assert!(line.starts_with(&want), "{line:?} does not start with {want:?}");
    }
    assert_eq!(lines[3], "rawrt: leaks: 140 bytes in 3 blocks");
}

pub fn no_leaks_is_a_zero_total() {
    let o = child(|| {
        // SAFETY: plain call.
        assert_eq!(unsafe { rawrt_heap_trace_leaks_at_exit() }, ESP_OK);
        trace_site_free(trace_site_malloc(24));
        0
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.stderr(), "rawrt: leaks: 0 bytes in 0 blocks\n");
}
