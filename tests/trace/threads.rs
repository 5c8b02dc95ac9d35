//! Several threads traced at once: every allocation and free recorded,
//! with its thread, and frees of one thread's blocks by another.

use super::util::*;
use alloc::vec;
use alloc::vec::Vec;
use rawrt::heap::trace::HeapTraceRecord;
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
