//! Issue 4's benchmark: pool alloc+free against the heap's malloc+free and
//! glibc's malloc+free for one block size, and granule allocation against
//! the naive bit loop.

use std::hint::black_box;
use std::ptr::NonNull;
use std::time::Instant;

use rawrt::gran::{bitmap, Gran};
use rawrt::heap::Heap;
use rawrt::pool::Pool;

use crate::{Region, Rng};

// glibc's malloc: this is a std program, so the C library is glibc (rawrt
// is linked without its `cabi` feature and exports only `rawrt_*` names).
extern "C" {
    fn malloc(n: usize) -> *mut u8;
    fn free(p: *mut u8);
}

const BLOCK: usize = 64;

/// Something that hands out BLOCK-byte blocks.
trait Blocks {
    fn get(&mut self) -> *mut u8;
    /// # Safety
    /// `p` came from `get` and is live.
    unsafe fn put(&mut self, p: *mut u8);
}

struct PoolBlocks<'a>(&'a Pool);
impl Blocks for PoolBlocks<'_> {
    #[inline]
    fn get(&mut self) -> *mut u8 {
        self.0.alloc().expect("pool alloc").as_ptr()
    }
    #[inline]
    unsafe fn put(&mut self, p: *mut u8) {
        // SAFETY: forwarded.
        unsafe { self.0.free(p) }.expect("pool free")
    }
}

/// A region heap of the kind C's `multi_heap_register` makes (the compact
/// core: the wide format over this benchmark's region), through C's path
/// (the heap's natural alignment).
#[cfg(feature = "compact")]
struct RegionBlocks(rawrt::heap::RegionRef);
#[cfg(feature = "compact")]
impl Blocks for RegionBlocks {
    #[inline]
    fn get(&mut self) -> *mut u8 {
        use rawrt::heap::Entry;
        let a = self.0.natural_align();
        self.0
            .allocate(BLOCK, a, false, "multi_heap_malloc")
            .expect("heap alloc")
            .as_ptr()
    }
    #[inline]
    unsafe fn put(&mut self, p: *mut u8) {
        // SAFETY: forwarded.
        unsafe { self.0.dealloc(NonNull::new_unchecked(p)) }.expect("heap free")
    }
}

struct HeapBlocks<'a, S: rawrt::heap::Source>(&'a Heap<S>);
impl<S: rawrt::heap::Source> Blocks for HeapBlocks<'_, S> {
    #[inline]
    fn get(&mut self) -> *mut u8 {
        self.0
            .allocate(BLOCK, 16, false, "malloc")
            .expect("heap alloc")
            .as_ptr()
    }
    #[inline]
    unsafe fn put(&mut self, p: *mut u8) {
        // SAFETY: forwarded.
        unsafe { self.0.dealloc(NonNull::new_unchecked(p)) }.expect("heap free")
    }
}

struct GlibcBlocks;
impl Blocks for GlibcBlocks {
    #[inline]
    fn get(&mut self) -> *mut u8 {
        // SAFETY: plain malloc.
        let p = unsafe { malloc(BLOCK) };
        assert!(!p.is_null());
        p
    }
    #[inline]
    unsafe fn put(&mut self, p: *mut u8) {
        // SAFETY: from malloc.
        unsafe { free(p) }
    }
}

/// ns per alloc+free pair: `pairs` times alloc, write, free.
fn pair<B: Blocks>(b: &mut B, pairs: usize) -> f64 {
    let t = Instant::now();
    for i in 0..pairs {
        let p = b.get();
        // SAFETY: a live block of BLOCK bytes.
        unsafe {
            p.write(i as u8);
            b.put(black_box(p));
        }
    }
    t.elapsed().as_nanos() as f64 / pairs as f64
}

/// ns per alloc+free pair: `rounds` times allocate `order.len()` blocks,
/// write each, then free them in `order`.
fn batch<B: Blocks>(b: &mut B, order: &[usize], rounds: usize) -> f64 {
    let mut v = vec![std::ptr::null_mut::<u8>(); order.len()];
    let t = Instant::now();
    for _ in 0..rounds {
        for (i, slot) in v.iter_mut().enumerate() {
            let p = b.get();
            // SAFETY: a live block of BLOCK bytes.
            unsafe { p.write(i as u8) };
            *slot = p;
        }
        for &i in order {
            // SAFETY: each block freed once.
            unsafe { b.put(v[i]) };
        }
    }
    t.elapsed().as_nanos() as f64 / (rounds * order.len()) as f64
}

/// The pool table's workload sizes: (pairs, batch size, rounds, trials).
fn pool_sizes(quick: bool) -> (usize, usize, usize, usize) {
    if quick {
        (2_000_000, 10_000, 100, 1)
    } else {
        (10_000_000, 10_000, 500, 5)
    }
}

/// Measures the pool table: per row, ns per alloc+free pair for pair,
/// batch LIFO, batch FIFO and batch random (best of the trials). Without
/// `with_glibc`, rawrt's rows only.
pub fn pool_table(quick: bool, with_glibc: bool) -> Vec<(String, [f64; 4])> {
    let (pairs, k, rounds, trials) = pool_sizes(quick);
    let lifo: Vec<usize> = (0..k).rev().collect();
    let fifo: Vec<usize> = (0..k).collect();
    let mut rnd: Vec<usize> = (0..k).collect();
    let mut rng = Rng::new(99);
    for i in (1..k).rev() {
        let j = rng.below(i + 1);
        rnd.swap(i, j);
    }

    // A fixed pool over a region, a growing pool over the process heap,
    // the process heap itself, a region heap, glibc.
    let region = Region::new(4 << 20);
    // SAFETY: the region is ours for the rest of the program.
    let fixed =
        unsafe { Pool::from_region(region.ptr, region.len, BLOCK, 16) }.expect("fixed pool");
    assert!(fixed.info().capacity >= k, "region pool holds the batch");
    let growing = Pool::new(BLOCK, 16, 0, &crate::alloc::HOSTED_HEAP).expect("growing pool");
    let heap_region = Region::new(8 << 20);
    // SAFETY: as above.
    let region_heap = unsafe { Heap::from_raw(heap_region.ptr, heap_region.len) };
    #[cfg(feature = "compact")]
    let compact_region = Region::new(8 << 20);
    #[cfg(feature = "compact")]
    // SAFETY: as above.
    let compact = unsafe {
        rawrt::heap::RegionRef::init_in_place(compact_region.ptr, compact_region.len)
    }
    .expect("compact region heap");

    type Row<'a> = (
        &'a str,
        Box<dyn FnMut(&[usize], usize) -> f64 + 'a>,
        Box<dyn FnMut(usize) -> f64 + 'a>,
    );
    let mut rows: Vec<Row> = vec![
        (
            "rawrt Pool (region, fixed)",
            Box::new(|o, r| batch(&mut PoolBlocks(&fixed), o, r)),
            Box::new(|n| pair(&mut PoolBlocks(&fixed), n)),
        ),
        (
            "rawrt Pool (growing, chunks from that heap)",
            Box::new(|o, r| batch(&mut PoolBlocks(&growing), o, r)),
            Box::new(|n| pair(&mut PoolBlocks(&growing), n)),
        ),
        (
            "rawrt process-style heap (mmap source) malloc/free",
            Box::new(|o, r| batch(&mut HeapBlocks(&crate::alloc::HOSTED_HEAP), o, r)),
            Box::new(|n| pair(&mut HeapBlocks(&crate::alloc::HOSTED_HEAP), n)),
        ),
        (
            "rawrt region heap",
            Box::new(|o, r| batch(&mut HeapBlocks(&region_heap), o, r)),
            Box::new(|n| pair(&mut HeapBlocks(&region_heap), n)),
        ),
    ];
    // (Not built against a rawrt older than the compact heaps: see
    // Cargo.toml's `compact` feature.)
    #[cfg(feature = "compact")]
    rows.push((
        "rawrt compact region heap (multi_heap_register's)",
        Box::new(|o, r| batch(&mut RegionBlocks(compact), o, r)),
        Box::new(|n| pair(&mut RegionBlocks(compact), n)),
    ));
    if with_glibc {
        rows.push((
            "glibc malloc/free",
            Box::new(|o, r| batch(&mut GlibcBlocks, o, r)),
            Box::new(|n| pair(&mut GlibcBlocks, n)),
        ));
    }

    // Trials outermost (a disturbance of a shared machine hits every row
    // alike); each cell keeps its best trial.
    // For profiling: RAWRT_BENCH_ROWS=TEXT keeps only the rows whose name
    // contains TEXT.
    if let Ok(keep) = std::env::var("RAWRT_BENCH_ROWS") {
        rows.retain(|(name, _, _)| name.contains(keep.as_str()));
    }
    let mut table: Vec<(String, [f64; 4])> = rows
        .iter()
        .map(|(name, _, _)| (name.to_string(), [f64::MAX; 4]))
        .collect();
    for _ in 0..trials {
        for (i, (_, b, p)) in rows.iter_mut().enumerate() {
            // For profiling: RAWRT_BENCH_COLUMN=pair|lifo|fifo|random
            // measures that column only (the others stay unmeasured).
            let col = std::env::var("RAWRT_BENCH_COLUMN").unwrap_or_default();
            let on = |c: &str| col.is_empty() || col == c;
            let t = [
                if on("pair") { p(pairs) } else { f64::NAN },
                if on("lifo") { b(&lifo, rounds) } else { f64::NAN },
                if on("fifo") { b(&fifo, rounds) } else { f64::NAN },
                if on("random") { b(&rnd, rounds) } else { f64::NAN },
            ];
            for (cell, v) in table[i].1.iter_mut().zip(t) {
                *cell = cell.min(v);
            }
        }
    }
    drop(rows);
    table
}

/// The pool table's column names, for `own`.
pub const POOL_COLUMNS: [&str; 4] = ["pair", "batch LIFO", "batch FIFO", "batch random"];

pub fn bench_pool(quick: bool) {
    let (pairs, k, rounds, trials) = pool_sizes(quick);
    let table = pool_table(quick, true);
    let glibc = table.last().unwrap().1;
    let heap = table[2].1;
    println!("### Pool vs heap vs glibc, {BLOCK}-byte blocks: ns per alloc+free pair (lower is better)\n");
    println!(
        "pair: alloc, write, free, {pairs} times. batch: allocate {k} blocks (writing each), then \
         free them LIFO / FIFO / in a random order; {rounds} rounds. Best of {trials}. \
         Ratios: this row's time / glibc's, and / the rawrt process-style heap's.\n"
    );
    println!("| allocator | pair | batch LIFO | batch FIFO | batch random | vs glibc (pair/LIFO/FIFO/random) | vs rawrt heap |");
    println!("|---|---:|---:|---:|---:|---|---|");
    for (name, t) in &table {
        let rg: Vec<String> = (0..4).map(|i| format!("{:.2}", t[i] / glibc[i])).collect();
        let rh: Vec<String> = (0..4).map(|i| format!("{:.2}", t[i] / heap[i])).collect();
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            t[0],
            t[1],
            t[2],
            t[3],
            rg.join(" / "),
            rh.join(" / ")
        );
    }
    println!();
}

// ---- granules ------------------------------------------------------------

/// A granule allocator that searches with the naive bit loop and keeps
/// its own bitmap; everything else as `Gran`.
struct NaiveGran {
    words: Vec<u64>,
    nbits: usize,
    base: usize,
    log2gran: u32,
}

impl NaiveGran {
    fn alloc(&mut self, size: usize) -> Option<usize> {
        let n = size.div_ceil(1 << self.log2gran);
        let i = bitmap::naive_find_clear_run(&self.words, self.nbits, n, 1)?;
        bitmap::set_range(&mut self.words, i, n);
        Some(self.base + (i << self.log2gran))
    }
    fn free(&mut self, p: usize, size: usize) {
        let n = size.div_ceil(1 << self.log2gran);
        let i = (p - self.base) >> self.log2gran;
        assert!(bitmap::range_all_set(&self.words, i, n));
        bitmap::clear_range(&mut self.words, i, n);
    }
}

/// The same random alloc/free sequence on both: at most `live` blocks of
/// 1..=`max_gran` granules, `steps` steps (allocate when below `live`
/// blocks or with probability 1/2, else free a random one).
fn gran_run(
    steps: usize,
    live: usize,
    max_gran: usize,
    log2gran: u32,
    mut alloc: impl FnMut(usize) -> Option<usize>,
    mut free: impl FnMut(usize, usize),
) -> (f64, usize) {
    let mut rng = Rng::new(5);
    let mut v: Vec<(usize, usize)> = Vec::with_capacity(live);
    let mut nops = 0;
    let mut fails = 0;
    let t = Instant::now();
    for _ in 0..steps {
        if v.len() < live / 2 || (v.len() < live && rng.below(2) == 0) {
            let size = rng.range(1, max_gran + 1) << log2gran;
            match alloc(size) {
                Some(p) => v.push((p, size)),
                None => fails += 1,
            }
        } else {
            let i = rng.below(v.len());
            let (p, s) = v.swap_remove(i);
            free(p, s);
        }
        nops += 1;
    }
    let dt = t.elapsed().as_nanos() as f64 / nops as f64;
    for (p, s) in v {
        free(p, s);
    }
    (dt, fails)
}

/// The granule workloads: (live N, max M granules).
pub const GRAN_CASES: [(usize, usize); 4] = [(64, 4), (512, 32), (2000, 32), (256, 256)];
const LOG2GRAN: u8 = 6; // 64-byte granules
const GRAN_HEAP: usize = 4 << 20; // 65536 granules, 1024 bitmap words

/// Gran's ns per operation for each of [`GRAN_CASES`], and the naive
/// allocator's on the same sequence if `naive`.
pub fn gran_times(quick: bool, naive: bool) -> Vec<(f64, Option<f64>)> {
    let log2gran = LOG2GRAN;
    let heap = GRAN_HEAP;
    let steps = if quick { 20_000 } else { 100_000 };
    let region = Region::new(heap);
    let bm_words = Gran::bitmap_words(heap, log2gran);
    let mut bm = vec![0u64; bm_words];
    let mut out = Vec::new();
    for &(live, max_gran) in &GRAN_CASES {
        // SAFETY: the region and bitmap are ours and outlive the allocator.
        let g = unsafe {
            Gran::with_bitmap(
                region.ptr,
                heap,
                log2gran,
                log2gran,
                bm.as_mut_ptr(),
                bm_words,
            )
        }
        .expect("gran");
        let (tg, fg) = gran_run(
            steps,
            live,
            max_gran,
            log2gran as u32,
            |s| g.alloc(s).ok().map(|p| p.as_ptr() as usize),
            // SAFETY: a live allocation of this size.
            |p, s| unsafe { g.free(p as *mut u8, s) }.expect("gran free"),
        );
        if !naive {
            out.push((tg, None));
            continue;
        }
        let (base, len) = g.heap();
        let mut naive = NaiveGran {
            words: vec![0; bitmap::words_for(len >> log2gran)],
            nbits: len >> log2gran,
            base: base as usize,
            log2gran: log2gran as u32,
        };
        // The same geometry, so the same sequence of results.
        let (tn, fnv) = {
            let n = std::cell::RefCell::new(&mut naive);
            gran_run(
                steps,
                live,
                max_gran,
                log2gran as u32,
                |s| n.borrow_mut().alloc(s),
                |p, s| n.borrow_mut().free(p, s),
            )
        };
        assert_eq!(fg, fnv, "same failures");
        out.push((tg, Some(tn)));
    }
    out
}

pub fn bench_gran(quick: bool) {
    let steps = if quick { 20_000 } else { 100_000 };
    println!("### Granule allocator vs the naive bit loop (lower is better)\n");
    println!(
        "Gran over {} MiB with {}-byte granules ({} granules); random alloc/free with up to N live \
         allocations of 1..=M granules, {steps} operations, same sequence for both. The naive \
         allocator differs only in its search (`gran::bitmap::naive_find_clear_run`, one bit at a \
         time from granule 0).\n",
        GRAN_HEAP >> 20,
        1 << LOG2GRAN,
        GRAN_HEAP >> LOG2GRAN
    );
    println!("| live N, max M granules | Gran ns/op | naive ns/op | Gran / naive |");
    println!("|---|---:|---:|---:|");
    for (&(live, max_gran), (tg, tn)) in GRAN_CASES.iter().zip(gran_times(quick, true)) {
        let tn = tn.expect("naive time");
        println!(
            "| {live}, {max_gran} | {tg:.1} | {tn:.1} | {:.3} |",
            tg / tn
        );
    }
    println!();

    // Search alone on a fixed, fragmented bitmap.
    let nbits = 65536;
    let mut words = vec![0u64; nbits / 64];
    let mut rng = Rng::new(11);
    // The first 3/4 is 70% used in short random runs; the rest is free.
    let mut i = 0;
    while i < nbits * 3 / 4 {
        let run = rng.range(1, 6);
        if rng.below(10) < 7 {
            bitmap::set_range(&mut words, i, run.min(nbits * 3 / 4 - i));
        }
        i += run;
    }
    println!(
        "Search only, on a {nbits}-bit map whose first 3/4 is 70% used in short random runs:\n"
    );
    println!("| run length n | find_clear_run ns | naive ns | ratio |");
    println!("|---:|---:|---:|---:|");
    for n in [1usize, 4, 8, 16, 64] {
        let reps = if quick { 200 } else { 2000 };
        let t = Instant::now();
        let mut a = 0;
        for _ in 0..reps {
            a += bitmap::find_clear_run(black_box(&words), nbits, 0, n, 1).unwrap();
        }
        let tw = t.elapsed().as_nanos() as f64 / reps as f64;
        let reps_n = (reps / 10).max(10);
        let t = Instant::now();
        let mut b = 0;
        for _ in 0..reps_n {
            b += bitmap::naive_find_clear_run(black_box(&words), nbits, n, 1).unwrap();
        }
        let tn = t.elapsed().as_nanos() as f64 / reps_n as f64;
        assert_eq!(a / reps, b / reps_n);
        println!("| {n} | {tw:.0} | {tn:.0} | {:.4} |", tw / tn);
    }
    println!();
}
