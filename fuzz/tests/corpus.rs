//! Replays the corpus kept in `corpus/<target>/` through each target, as
//! an ordinary test (no fuzzing engine): every input that was ever kept
//! still passes.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    // The test harness runs the targets on several threads at once (each
    // over its own heap): rawrt's locks must know the process has threads.
    rawrt::sync::set_threaded();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        f(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
    println!("{target}: {n} inputs");
}

#[test]
fn heap_corpus() {
    replay("heap", rawrt_fuzz::heap);
}

#[test]
fn cached_heap_corpus() {
    replay("cached_heap", rawrt_fuzz::cached_heap);
}

#[test]
fn compact_heap_corpus() {
    replay("compact_heap", rawrt_fuzz::compact_heap);
}

#[test]
fn span_heap_corpus() {
    replay("span_heap", rawrt_fuzz::span_heap);
}

#[test]
fn pool_corpus() {
    replay("pool", rawrt_fuzz::pool);
}

#[test]
fn granules_corpus() {
    replay("granules", rawrt_fuzz::granules);
}
