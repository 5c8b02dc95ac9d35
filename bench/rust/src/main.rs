//! Hosted benchmarks of rawrt against the Rust allocators (talc-style
//! random actions and heap efficiency over one region size), and of
//! rawrt's pools and granule allocator (issue 4). Prints Markdown tables.
//!
//! Usage: rawrt-bench [random|efficiency|pool|gran|all]... [--quick]
//!        rawrt-bench own [--quick]
//!
//! For profiling one cell: `RAWRT_BENCH_ROWS=TEXT` keeps
//! the rows whose name contains TEXT, `RAWRT_BENCH_COLUMN=pair|lifo|fifo|random`
//! measures one column (e.g. under `valgrind --tool=callgrind`).
//!
//! `own` measures rawrt's own rows only (random actions, pools, granules)
//! and prints them as `name<TAB>ns` lines: `scripts/bench.sh --baseline`
//! runs it for today's rawrt and for a past revision, alternately, and
//! tabulates the two side by side.
//!
//! Every workload uses a fixed seed, so each allocator sees the same
//! sequence of requests (until it fails). Times are the best of a few
//! trials; the allocators are not locked (see `alloc.rs`).

mod alloc;
mod poolgran;

use alloc::*;
use std::alloc::Layout;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The region every region allocator gets (32 MiB).
pub const REGION: usize = 32 << 20;

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
    /// Uniform in `lo..hi` (hi > lo).
    #[inline]
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }
}

/// talc's size distribution: uniform below a uniform cap, so small sizes
/// are more frequent.
#[inline]
fn gen_size(rng: &mut Rng, max: usize) -> usize {
    let cap = rng.range(16, max);
    rng.range(4, cap)
}

/// talc's alignment distribution: 8 B for 75%, 16 B for 19%, 32 B for 4%,
/// ... (at most 2 KiB).
#[inline]
fn gen_align(rng: &mut Rng) -> usize {
    8usize << ((rng.next_u64() as u16).trailing_zeros() / 2)
}

struct Live {
    ptr: *mut u8,
    layout: Layout,
}

/// The region, page-aligned and touched once so that page faults are out
/// of every measurement.
pub struct Region {
    pub ptr: *mut u8,
    pub len: usize,
}

impl Region {
    fn new(len: usize) -> Region {
        let layout = Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        // SAFETY: fresh memory of `len` bytes.
        unsafe { std::ptr::write_bytes(ptr, 0xab, len) };
        Region { ptr, len }
    }
}

// ---- random actions ----------------------------------------------------

const RA_MIN_LIVE: usize = 300;
const RA_REALLOC_MULTI: usize = 3;

/// `actions` talc-style random actions: 1/7 realloc of a random live block
/// to 1..3*max bytes, 3/7 free of a random block (while at least 300 are
/// live), otherwise allocate (size and alignment biased small). Every new
/// block gets its first byte written. Returns the time and the failures.
fn random_actions<A: Alloc>(a: &mut A, max: usize, actions: usize, seed: u64) -> (Duration, usize) {
    let mut rng = Rng::new(seed);
    let mut v: Vec<Live> = Vec::with_capacity(100_000);
    let mut fails = 0;
    let t = Instant::now();
    for _ in 0..actions {
        let action = rng.below(7);
        if action == 6 {
            if !v.is_empty() {
                let i = rng.below(v.len());
                let new = rng.range(1, max * RA_REALLOC_MULTI);
                let l = &mut v[i];
                // SAFETY: a live block with its layout.
                let q = unsafe { a.realloc(l.ptr, l.layout, new) };
                if q.is_null() {
                    fails += 1;
                } else {
                    l.ptr = q;
                    l.layout = Layout::from_size_align(new, l.layout.align()).unwrap();
                }
            }
        } else if action < 3 || v.len() < RA_MIN_LIVE {
            let layout =
                Layout::from_size_align(gen_size(&mut rng, max), gen_align(&mut rng)).unwrap();
            // SAFETY: non-zero size.
            let p = unsafe { a.alloc(layout) };
            if p.is_null() {
                fails += 1;
            } else {
                // SAFETY: a fresh block of at least 4 bytes.
                unsafe { p.write(1) };
                v.push(Live { ptr: p, layout });
            }
        } else {
            let i = rng.below(v.len());
            let l = v.swap_remove(i);
            // SAFETY: a live block with its layout.
            unsafe { a.dealloc(l.ptr, l.layout) };
        }
    }
    let dt = t.elapsed();
    for l in v {
        // SAFETY: a live block with its layout.
        unsafe { a.dealloc(l.ptr, l.layout) };
    }
    (dt, fails)
}

/// ns per action of one run over a fresh allocator (after a short
/// warm-up on another fresh one), and the failed requests.
fn ra_score<A: Alloc>(region: &Region, max: usize, actions: usize, trial: usize) -> (f64, usize) {
    {
        // SAFETY: the region is ours; no other allocator over it is alive.
        let mut a = unsafe { A::new(region.ptr, region.len) };
        random_actions(&mut a, max, actions / 50, 7 + trial as u64);
    }
    // SAFETY: as above (the warm-up allocator is gone).
    let mut a = unsafe { A::new(region.ptr, region.len) };
    let (dt, fails) = random_actions(&mut a, max, actions, 42);
    (dt.as_nanos() as f64 / actions as f64, fails)
}

type RaFn = fn(&Region, usize, usize, usize) -> (f64, usize);

const RA_ALLOCATORS: &[(&str, RaFn)] = &[
    ("rawrt (region)", ra_score::<Rawrt>),
    ("talc 5.1", ra_score::<Talc>),
    ("rlsf 0.2", ra_score::<Rlsf>),
    ("dlmalloc 0.2", ra_score::<Dlmalloc>),
    ("linked_list_allocator 0.10", ra_score::<Lla>),
    ("buddy_system_allocator 0.13", ra_score::<Buddy>),
    (
        "rawrt process-style heap, mmap source (not a region)",
        ra_score::<RawrtProcess>,
    ),
    ("glibc malloc (not a region)", ra_score::<Glibc>),
];

fn bench_random(region: &Region, quick: bool) {
    let sizes = [200usize, 1000, 10000];
    let actions = if quick { 200_000 } else { 2_000_000 };
    let trials = if quick { 1 } else { 5 };
    println!("### Random actions (talc-style), ns per action (lower is better)\n");
    println!(
        "{} actions per run (linked_list_allocator: a tenth), fixed seed, best of {} runs, region {} MiB, ≥{} live blocks; \
         alloc/free/realloc 3:3:1, sizes biased small, realloc up to 3× the column's max size. \
         Ratio = rawrt (region)'s time / this allocator's time (above 1: rawrt slower).\n",
        actions,
        trials,
        REGION >> 20,
        RA_MIN_LIVE
    );
    print!("| allocator |");
    for s in sizes {
        print!(" max {s} B | ratio |");
    }
    println!();
    print!("|---|");
    for _ in sizes {
        print!("---:|---:|");
    }
    println!();
    // Trials outermost, so that a disturbance of a shared machine hits
    // every allocator alike; each cell keeps its best trial.
    let n = RA_ALLOCATORS.len();
    let mut best = vec![[f64::MAX; 3]; n];
    let mut fails = vec![[0usize; 3]; n];
    for trial in 0..trials {
        for (i, (name, f)) in RA_ALLOCATORS.iter().enumerate() {
            for (k, &s) in sizes.iter().enumerate() {
                // linked_list_allocator is 10-50 times slower: fewer actions.
                let acts = if name.starts_with("linked") {
                    actions / 10
                } else {
                    actions
                };
                let (ns, fl) = f(region, s, acts, trial);
                best[i][k] = best[i][k].min(ns);
                fails[i][k] += fl;
            }
        }
    }
    for (i, (name, _)) in RA_ALLOCATORS.iter().enumerate() {
        print!("| {name} |");
        for k in 0..sizes.len() {
            let fail = if fails[i][k] > 0 {
                format!(" ({} failed)", fails[i][k])
            } else {
                String::new()
            };
            print!(
                " {:.1}{fail} | {:.2} |",
                best[i][k],
                best[0][k] / best[i][k]
            );
        }
        println!();
    }
    println!();
}

// ---- heap efficiency ---------------------------------------------------

const HE_MAX: usize = 10_000;
const HE_MAX_SMALL: usize = 1_000;
const HE_REALLOC_MULTI: usize = 10;
/// talc's heap size for this benchmark (`HEAP_SIZE = 1 << 27`).
pub const HE_REGION: usize = 128 << 20;

/// talc's heap-efficiency benchmark (benches/src/bin/heap_efficiency.rs),
/// re-implemented: one allocator over the region for `rounds` rounds; in
/// each, random alloc (5/10) / free (1/10) / realloc (4/10, to 1..10× the
/// max) until the first failure, then the bytes requested by the live
/// blocks are counted and every block is freed. Returns the mean
/// efficiency (used / region over all rounds) and the worst round's.
fn efficiency<A: Alloc>(region: &Region, rounds: usize, max: usize) -> (f64, f64) {
    // SAFETY: the region is ours; the previous allocator is gone.
    let mut a = unsafe { A::new(region.ptr, region.len) };
    let mut rng = Rng::new(1000);
    let mut v: Vec<Live> = Vec::with_capacity(100_000);
    let (mut used, mut worst) = (0usize, f64::MAX);
    for _ in 0..rounds {
        loop {
            match rng.below(10) {
                0..=4 => {
                    let layout =
                        Layout::from_size_align(gen_size(&mut rng, max), gen_align(&mut rng))
                            .unwrap();
                    // SAFETY: non-zero size.
                    let p = unsafe { a.alloc(layout) };
                    if p.is_null() {
                        break;
                    }
                    v.push(Live { ptr: p, layout });
                }
                5 => {
                    if !v.is_empty() {
                        let i = rng.below(v.len());
                        let l = v.swap_remove(i);
                        // SAFETY: a live block.
                        unsafe { a.dealloc(l.ptr, l.layout) };
                    }
                }
                _ => {
                    if !v.is_empty() {
                        let i = rng.below(v.len());
                        let new = rng.range(1, max * HE_REALLOC_MULTI);
                        let l = &mut v[i];
                        // SAFETY: a live block.
                        let q = unsafe { a.realloc(l.ptr, l.layout, new) };
                        if q.is_null() {
                            break;
                        }
                        l.ptr = q;
                        l.layout = Layout::from_size_align(new, l.layout.align()).unwrap();
                    }
                }
            }
        }
        let round: usize = v.iter().map(|l| l.layout.size()).sum();
        used += round;
        worst = worst.min(round as f64 / region.len as f64 * 100.0);
        for l in v.drain(..) {
            // SAFETY: a live block.
            unsafe { a.dealloc(l.ptr, l.layout) };
        }
    }
    black_box(&v);
    (used as f64 / (rounds * region.len) as f64 * 100.0, worst)
}

type EffFn = fn(&Region, usize, usize) -> (f64, f64);

const EFF_ALLOCATORS: &[(&str, EffFn)] = &[
    ("rawrt (region)", efficiency::<Rawrt>),
    ("talc 5.1", efficiency::<Talc>),
    ("rlsf 0.2", efficiency::<Rlsf>),
    ("dlmalloc 0.2", efficiency::<Dlmalloc>),
    ("buddy_system_allocator 0.13", efficiency::<Buddy>),
];

fn bench_efficiency(quick: bool) {
    let rounds = if quick { 20 } else { 300 };
    let region = Region::new(HE_REGION);
    println!("### Heap efficiency (talc's benchmark), higher is better\n");
    println!(
        "talc's setup: one allocator over a {} MiB region for {} rounds; in each, random alloc \
         (5/10, sizes biased small up to the column's max, talc's alignments) / free (1/10) / \
         realloc (4/10, to up to {}× the max) until the first failure, then everything is freed. \
         Efficiency = bytes requested by the live blocks at the failure / region size: mean over \
         the rounds, and the worst round. talc's own column is max 10000 B. \
         linked_list_allocator is left out, as talc's benchmark leaves it out: its linear search \
         takes hours over this region.\n",
        HE_REGION >> 20,
        rounds,
        HE_REALLOC_MULTI,
    );
    println!("| allocator | max {HE_MAX} B: mean | worst | max {HE_MAX_SMALL} B: mean | worst |");
    println!("|---|---:|---:|---:|---:|");
    let only = std::env::var("ONLY").unwrap_or_default();
    for (name, f) in EFF_ALLOCATORS.iter().filter(|(n, _)| n.contains(only.as_str())) {
        let (mean, min) = f(&region, rounds, HE_MAX);
        let (mean_s, min_s) = f(&region, rounds, HE_MAX_SMALL);
        println!("| {name} | {mean:.2}% | {min:.2}% | {mean_s:.2}% | {min_s:.2}% |");
    }
    println!();
}

/// rawrt's own measurements, one `name<TAB>ns` line each (see the
/// module documentation).
fn bench_own(region: &Region, quick: bool) {
    let actions = if quick { 200_000 } else { 2_000_000 };
    let trials = if quick { 1 } else { 5 };
    // RAWRT_BENCH_ROWS=TEXT (see the pool table) also keeps only the
    // random-actions and granule rows whose printed name contains TEXT.
    let keep = std::env::var("RAWRT_BENCH_ROWS").ok();
    let wanted = |row: &str| keep.as_deref().is_none_or(|k| row.contains(k));
    for (name, f) in RA_ALLOCATORS.iter().filter(|(n, _)| n.starts_with("rawrt")) {
        for s in [200usize, 1000, 10000] {
            if !wanted(&format!("random actions, {name}, max {s} B")) {
                continue;
            }
            let ns = (0..trials)
                .map(|t| f(region, s, actions, t).0)
                .fold(f64::MAX, f64::min);
            println!("random actions, {name}, max {s} B\t{ns:.2}");
        }
    }
    for (name, t) in poolgran::pool_table(quick, false) {
        // (A column RAWRT_BENCH_COLUMN left out stays at f64::MAX.)
        for (col, ns) in poolgran::POOL_COLUMNS.iter().zip(t).filter(|(_, ns)| *ns < f64::MAX) {
            println!("64-byte blocks, {name}, {col}\t{ns:.2}");
        }
    }
    for _ in 0..if wanted("Gran, ") { trials.min(3) } else { 0 } {
        for (&(live, max), (ns, _)) in
            poolgran::GRAN_CASES.iter().zip(poolgran::gran_times(quick, false))
        {
            println!("Gran, live {live}, max {max} granules\t{ns:.2}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut what: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(|s| s.as_str())
        .collect();
    if what.is_empty() || what.contains(&"all") {
        what = vec!["random", "efficiency", "pool", "gran"];
    }
    let region = Region::new(REGION);
    if what.first() == Some(&"one") {
        // For profiling: `one NAME-PREFIX MAX-SIZE [ACTIONS]` runs one
        // random-actions column of one allocator, 5 runs of ACTIONS
        // (default 10^7) actions.
        let name = what.get(1).copied().unwrap_or("rawrt");
        let max: usize = what.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
        let actions: usize = what.get(3).and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
        let (n, f) = RA_ALLOCATORS
            .iter()
            .find(|(n, _)| n.starts_with(name))
            .expect("allocator name");
        let (ns, fails) = (0..5)
            .map(|t| f(&region, max, actions, t))
            .fold((f64::MAX, 0), |a, b| (a.0.min(b.0), a.1 + b.1));
        println!("{n} max {max}: {ns:.1} ns/action, {fails} failures");
        return;
    }
    if what.first() == Some(&"own") {
        bench_own(&region, quick);
        return;
    }
    for w in what {
        match w {
            "random" => bench_random(&region, quick),
            "efficiency" => bench_efficiency(quick),
            "pool" => poolgran::bench_pool(quick),
            "gran" => poolgran::bench_gran(quick),
            other => {
                eprintln!("unknown benchmark {other}: random, efficiency, pool, gran, all");
                std::process::exit(2);
            }
        }
    }
}
