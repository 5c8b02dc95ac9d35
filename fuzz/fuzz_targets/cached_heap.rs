//! libFuzzer target: `rawrt_fuzz::cached_heap` (src/heaps.rs). At exit it prints
//! how many inputs and operations it ran (`scripts/fuzz.sh` reports it).
#![no_main]

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

extern "C" fn report() {
    eprintln!(
        "rawrt-fuzz: cached_heap: {} inputs, {} operations",
        rawrt_fuzz::inputs(),
        rawrt_fuzz::ops()
    );
}

libfuzzer_sys::fuzz_target!(
    init: {
        // SAFETY: glibc's atexit with a function that lives for ever.
        unsafe { atexit(report) };
    },
    |data: &[u8]| rawrt_fuzz::cached_heap(data)
);
