//! Several threads traced at once: every allocation and free recorded,
//! with its thread, and frees of one thread's blocks by another; the
//! per-thread accounting.

use super::util::*;
use alloc::vec;
use alloc::vec::Vec;
use rawrt::heap::trace::{HeapTraceRecord, ThreadInfo};
use rawrt::thread;

const THREADS: usize = 4;
const EACH: usize = 50;

pub fn several_threads_are_all_recorded() {
    let mut buf = vec![HeapTraceRecord::EMPTY; THREADS * EACH + 8];
    start(&mut buf, ALL);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..EACH {
                    let p = trace_site_malloc(8 + t * 100 + i);
                    assert!(!p.is_null());
                    if i % 2 == 0 {
                        trace_site_free(p);
                    } else {
                        kept.push(p.addr());
                    }
                }
                (rawrt::sys::process::gettid() as u32, kept)
            })
        })
        .collect();
    let done: Vec<(u32, Vec<usize>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // The main thread frees what the others kept.
    for (_, kept) in &done {
        for &p in kept {
            trace_site_free(p as *mut u8);
        }
    }
    stop();
    let s = summary();
    assert_eq!((s.count, s.total_allocations, s.total_frees), (THREADS * EACH, 200, 200));
    assert!(!s.has_overflowed);
    let recs: Vec<HeapTraceRecord> = (0..count()).map(get).collect();
    for (t, (tid, _)) in done.iter().enumerate() {
        let mine: Vec<&HeapTraceRecord> = recs.iter().filter(|r| r.tid == *tid).collect();
        assert_eq!(mine.len(), EACH, "thread {t}");
        for (i, r) in mine.iter().enumerate() {
            assert_eq!(r.size, 8 + t * 100 + i, "thread {t}'s allocation {i}, in order");
            in_function(r.alloced_by[0], "trace_site_malloc");
            in_function(r.freed_by[0], "trace_site_free");
        }
    }
}

extern "C" {
    fn rawrt_heap_thread_accounting() -> i32;
    fn rawrt_heap_thread_info(tid: i32, out: *mut ThreadInfo) -> i32;
}

fn info(tid: i32) -> Result<ThreadInfo, i32> {
    let mut i = ThreadInfo::default();
    // SAFETY: `i` is writable.
    match unsafe { rawrt_heap_thread_info(tid, &mut i) } {
        ESP_OK => Ok(i),
        e => Err(e),
    }
}

fn figures(bytes: usize, blocks: usize, peak_bytes: usize) -> Result<ThreadInfo, i32> {
    Ok(ThreadInfo { bytes, blocks, peak_bytes })
}

/// Each thread's live bytes and blocks and its peak, with a block freed
/// by another thread taken off its allocator's figures, and resized ones
/// moved; with the trace itself stopped.
pub fn per_thread_accounting() {
    assert_eq!(info(0), Err(ESP_ERR_INVALID_STATE), "before the start");
    let before = trace_site_malloc(64);
    // SAFETY: plain calls.
    unsafe {
        assert_eq!(rawrt_heap_thread_accounting(), ESP_OK);
        assert_eq!(rawrt_heap_thread_accounting(), ESP_OK, "again");
    }
    let me = rawrt::sys::process::gettid();
    assert_eq!(info(0), Err(ESP_ERR_NOT_FOUND), "nothing allocated yet");
    let a = trace_site_malloc(100);
    let b = trace_site_calloc(5, 10);
    assert_eq!(info(0), figures(150, 2, 150));
    assert_eq!(info(me), info(0));
    // A block from before the start: its free changes nothing.
    trace_site_free(before);
    assert_eq!(info(0), figures(150, 2, 150));
    let a_addr = a.addr();
    let other = thread::spawn(move || {
        let c = trace_site_malloc(1000);
        let d = trace_site_malloc(24);
        // The main thread's block, freed here: the main thread's figures.
        trace_site_free(a_addr as *mut u8);
        (rawrt::sys::process::gettid(), c.addr(), d.addr())
    });
    let (tid, c, d) = other.join().unwrap();
    assert_eq!(info(tid), figures(1024, 2, 1024));
    assert_eq!(info(0), figures(50, 1, 150));
    trace_site_free(c as *mut u8);
    assert_eq!(info(tid), figures(24, 1, 1024));
    let b = trace_site_realloc(b, 500);
    assert_eq!(info(0), figures(500, 1, 500));
    assert!(trace_site_realloc(b, 0).is_null());
    trace_site_free(d as *mut u8);
    assert_eq!((info(0), info(tid)), (figures(0, 0, 500), figures(0, 0, 1024)));
    assert_eq!(info(0x7fff_fff0), Err(ESP_ERR_NOT_FOUND));
    assert_eq!(info(-1), Err(ESP_ERR_INVALID_ARG));
    // SAFETY: a null output is refused.
    assert_eq!(unsafe { rawrt_heap_thread_info(0, core::ptr::null_mut()) }, ESP_ERR_INVALID_ARG);
}
