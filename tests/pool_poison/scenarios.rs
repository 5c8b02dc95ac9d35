//! Poisoning of block pools, one mode per test binary
//! (`tests/pool_poison_off.rs`, `pool_poison_light.rs`,
//! `pool_poison_comprehensive.rs`: the mode is chosen before the first
//! allocation and holds for the process; a pool created then is poisoned
//! for its life). Each misuse runs in a forked child, which announces the
//! block (`addr 0x...` on stdout) before it misuses it; the test asserts
//! how the child ended (the signal or a normal exit) and exactly what it
//! printed, in every mode: what the mode detects and what it does not.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering};
use rawrt::check::{child, Ended};
use rawrt::heap::{self, Poisoning};
use rawrt::pool::{Pool, PoolInfo};

#[path = "../poison/death.rs"]
mod death;
use death::{aborts, announce, survives};

enum CPool {}

extern "C" {
    fn rawrt_pool_create(block_size: usize, align: usize, max_blocks: usize) -> *mut CPool;
    fn rawrt_pool_create_in(
        region: *mut u8,
        size: usize,
        block_size: usize,
        align: usize,
    ) -> *mut CPool;
    fn rawrt_pool_alloc(pool: *mut CPool) -> *mut u8;
    fn rawrt_pool_calloc(pool: *mut CPool) -> *mut u8;
    fn rawrt_pool_free(pool: *mut CPool, p: *mut u8);
    fn rawrt_pool_info(pool: *mut CPool, out: *mut PoolInfo);
    fn rawrt_pool_check(pool: *mut CPool, print_errors: bool) -> bool;
    fn rawrt_pool_for_each_used(
        pool: *mut CPool,
        f: extern "C" fn(*mut u8, *mut core::ffi::c_void),
        ctx: *mut core::ffi::c_void,
    );
    fn rawrt_pool_destroy(pool: *mut CPool);
}

/// The mode of this binary.
static MODE: AtomicU8 = AtomicU8::new(0);

fn mode() -> Poisoning {
    match MODE.load(Ordering::Relaxed) {
        2 => Poisoning::Light,
        3 => Poisoning::Comprehensive,
        _ => Poisoning::Off,
    }
}

fn poisoned() -> bool {
    mode() != Poisoning::Off
}

fn comprehensive() -> bool {
    mode() == Poisoning::Comprehensive
}

/// Chooses `m` before anything allocates, then runs the scenarios.
pub fn run(m: Poisoning) -> i32 {
    MODE.store(m as u8, Ordering::Relaxed);
    assert_eq!(heap::set_poisoning(m), Ok(()));
    rawrt::check::run(&[
        ("pool_poison::geometry_of_a_region_pool", geometry),
        ("pool_poison::fills_of_new_and_freed_blocks", fills),
        ("pool_poison::one_byte_overflow", one_byte_overflow),
        ("pool_poison::one_byte_underflow", one_byte_underflow),
        ("pool_poison::overflow_into_a_neighbour", overflow_into_a_neighbour),
        ("pool_poison::write_after_free_at_0_8_63", write_after_free_small),
        ("pool_poison::write_after_free_at_0_8_100_4000", write_after_free_big),
        ("pool_poison::double_free", double_free),
        ("pool_poison::canary_of_a_free_block_at_reuse", canary_of_a_free_block_at_reuse),
        ("pool_poison::damaged_link_names_the_block", damaged_link_names_the_block),
        ("pool_poison::check_finds_overflow", check_finds_overflow),
        ("pool_poison::check_finds_write_after_free", check_finds_write_after_free),
        ("pool_poison::intact_pools_pass_every_check", intact_pools_pass),
    ])
}

/// A region pool of 64-byte blocks in a fresh 64 KiB of the heap (a
/// region pool of its own in each child).
fn region_pool() -> *mut CPool {
    let region = alloc::boxed::Box::leak(alloc::vec![0u8; 64 * 1024].into_boxed_slice());
    // SAFETY: the region is the pool's for ever.
    let p = unsafe { rawrt_pool_create_in(region.as_mut_ptr(), region.len(), 64, 16) };
    assert!(!p.is_null());
    p
}

/// A growing pool of `size`-byte blocks.
fn heap_pool(size: usize) -> *mut CPool {
    // SAFETY: plain C call.
    let p = unsafe { rawrt_pool_create(size, 16, 0) };
    assert!(!p.is_null());
    p
}

fn get(pool: *mut CPool) -> *mut u8 {
    // SAFETY: plain C call.
    let p = unsafe { rawrt_pool_alloc(pool) };
    assert!(!p.is_null());
    core::hint::black_box(p)
}

fn put(pool: *mut CPool, p: *mut u8) {
    // SAFETY: plain C call; misuse happens in children on purpose.
    unsafe { rawrt_pool_free(pool, core::hint::black_box(p)) }
}

fn info(pool: *mut CPool) -> PoolInfo {
    let mut i = PoolInfo::default();
    // SAFETY: plain C call.
    unsafe { rawrt_pool_info(pool, &mut i) };
    i
}

fn poke(p: *mut u8, off: isize, v: u8) {
    // SAFETY: the scenarios write around and after blocks on purpose.
    unsafe { p.offset(off).write_volatile(v) }
}

/// Damages the byte `off` bytes from `p`: writes its complement, so that
/// it changes whatever it held (a head canary or a mangled link is random
/// per process: a fixed value would match it once in 256 runs).
fn flip(p: *mut u8, off: isize) {
    // SAFETY: as for `poke`.
    unsafe {
        let a = p.offset(off);
        a.write_volatile(!a.read_volatile());
    }
}

fn peek(p: *mut u8, off: usize) -> u8 {
    // SAFETY: as for `poke`.
    unsafe { p.add(off).read_volatile() }
}

/// A region pool of 64-byte blocks in 64 KiB: without poisoning 1,021
/// blocks 64 bytes apart; poisoned, each block's slot also holds its
/// canaries (16 bytes of head, 8 of tail, rounded up to 16: 96 bytes), so
/// 681 blocks, the figures of `info` saying so (`block_size` stays 64).
fn geometry() {
    #[repr(C, align(4096))]
    struct Aligned([MaybeUninit<u8>; 65536]);
    static mut REGION: Aligned = Aligned([MaybeUninit::uninit(); 65536]);
    let region = &raw mut REGION;
    // SAFETY: the region is the pool's alone.
    let pool = Pool::from_static(unsafe { &mut (*region).0 }, 64, 16).unwrap();
    let (cap, stride) = if poisoned() { (681, 96) } else { (1021, 64) };
    let i = pool.info();
    assert_eq!((i.block_size, i.capacity, i.free, i.chunks), (64, cap, cap, 1));
    assert_eq!(pool.block_size(), 64);
    let a = pool.alloc().unwrap().as_ptr();
    let b = pool.alloc().unwrap().as_ptr();
    assert_eq!(b as usize - a as usize, stride);
    assert_eq!(a as usize % 16, 0);
    let mut seen = Vec::new();
    pool.for_each_used(|p| seen.push(p.as_ptr()));
    assert_eq!(seen, [a, b]);
    assert_eq!(pool.check(a), Ok(()));
    // SAFETY: live blocks of the pool.
    unsafe {
        pool.free(a).unwrap();
        assert_eq!(pool.free(a), Err(rawrt::pool::PoolError::DoubleFree));
        assert_eq!(pool.free(a.add(8)), Err(rawrt::pool::PoolError::Misaligned));
        pool.free(b).unwrap();
    }
    let all: Vec<_> = (0..cap).map(|_| pool.alloc().unwrap()).collect();
    assert_eq!(pool.alloc(), Err(rawrt::pool::PoolError::Exhausted));
    assert_eq!(pool.info().in_use, cap);
    for p in all {
        // SAFETY: live blocks of the pool.
        unsafe { pool.free(p.as_ptr()) }.unwrap();
    }
    assert_eq!((pool.info().in_use, pool.info().peak_in_use), (0, cap));
}

/// Comprehensive mode hands out blocks filled with 0xCE and fills freed
/// ones with 0xFE; `rawrt_pool_calloc` zeroes the block in every mode.
fn fills() {
    let pool = heap_pool(48);
    let p = get(pool);
    let fresh: Vec<u8> = (0..48).map(|k| peek(p, k)).collect();
    put(pool, p);
    let freed: Vec<u8> = (0..48).map(|k| peek(p, k)).collect();
    if comprehensive() {
        assert_eq!((fresh, freed), (alloc::vec![0xCE; 48], alloc::vec![0xFE; 48]));
    }
    // SAFETY: plain C call.
    let z = unsafe { rawrt_pool_calloc(pool) };
    assert!((0..48).all(|k| peek(z, k) == 0));
    put(pool, z);
    // SAFETY: the pool and its blocks are done with.
    unsafe { rawrt_pool_destroy(pool) };
}

/// One byte past a 64-byte block: the tail canary catches it at
/// `rawrt_pool_free`; without poisoning it lands in the next block (never
/// handed out here) and nothing notices.
fn one_byte_overflow() {
    for region in [true, false] {
        let f = move || {
            let pool = if region { region_pool() } else { heap_pool(64) };
            let p = announce(get(pool));
            poke(p, 64, 0);
            put(pool, p);
        };
        if poisoned() {
            aborts(f, "rawrt_pool_free(): canary corrupted after block");
        } else {
            survives(f);
        }
    }
}

/// One byte before a block: the head canary.
fn one_byte_underflow() {
    let f = || {
        let pool = region_pool();
        let _first = get(pool);
        let p = announce(get(pool));
        flip(p, -1);
        put(pool, p);
    };
    if poisoned() {
        aborts(f, "rawrt_pool_free(): canary corrupted before block");
    } else {
        survives(f);
    }
}

/// 24 bytes past a block, over its neighbour's start: the first block's
/// tail canary at its free (the neighbour's head canary too, which its
/// own free would report). Without poisoning the bytes land in the live
/// neighbour, which nobody checks.
fn overflow_into_a_neighbour() {
    let f = || {
        let pool = heap_pool(64);
        let p = announce(get(pool));
        let q = get(pool);
        // SAFETY: the overflow under test.
        unsafe { core::ptr::write_bytes(p, 0x41, 64 + 24) };
        put(pool, p);
        put(pool, q);
    };
    if poisoned() {
        aborts(f, "rawrt_pool_free(): canary corrupted after block");
    } else {
        survives(f);
    }
}

/// A byte written into a freed block at `off`, then an allocation that
/// hands the block out again (the pool's last freed block goes first).
/// Comprehensive mode finds it there (block and offset). Light mode does
/// not look. Without poisoning the block's first word is its free-list
/// link, which the pool checks as it hands the block out (byte 0 makes
/// the link name no free block); other offsets go unnoticed.
fn write_after_free(size: usize, offsets: &[usize]) {
    for &off in offsets {
        let f = move || {
            let pool = heap_pool(size);
            let _keep = get(pool);
            let p = announce(get(pool));
            put(pool, p);
            poke(p, off as isize, 0x55);
            let q = get(pool);
            assert_eq!(q, p);
        };
        if comprehensive() {
            aborts(f, &format!("rawrt_pool_alloc(): write after free at offset {off} of block"));
        } else if !poisoned() && off == 0 {
            aborts(f, "rawrt_pool_alloc(): corrupted free list (write after free) at");
        } else {
            survives(f);
        }
    }
}

fn write_after_free_small() {
    write_after_free(64, &[0, 8, 63]);
}

fn write_after_free_big() {
    write_after_free(4096, &[0, 8, 100, 4000]);
}

/// A write after free into a free block's canary (one byte before it,
/// one byte after it): poisoned, found when the block is handed out again
/// (not later, at the next owner's free); without poisoning the bytes land
/// in neighbours and nothing notices.
fn canary_of_a_free_block_at_reuse() {
    for (off, what) in [(-1isize, "before"), (64, "after")] {
        let f = move || {
            let pool = heap_pool(64);
            let _keep = get(pool);
            let p = announce(get(pool));
            let _next = get(pool);
            put(pool, p);
            flip(p, off);
            let q = get(pool);
            assert_eq!(q, p);
        };
        if poisoned() {
            aborts(f, &format!("rawrt_pool_alloc(): canary corrupted {what} block"));
        } else {
            survives(f);
        }
    }
}

/// Poisoned, a free block's link lies in its head, 16 bytes before the
/// block: damaged, it is reported as the pool hands the block out, naming
/// the block the program had. Without poisoning those bytes are the end
/// of the block before, in use, and nothing is wrong.
fn damaged_link_names_the_block() {
    let f = || {
        let pool = heap_pool(64);
        let _keep = get(pool);
        let p = announce(get(pool));
        put(pool, p);
        flip(p, -16);
        let _q = get(pool);
    };
    if poisoned() {
        aborts(f, "rawrt_pool_alloc(): corrupted free list (write after free) at");
    } else {
        survives(f);
    }
}

/// A double free is reported in every mode (the pool's bitmap).
fn double_free() {
    for region in [true, false] {
        aborts(
            move || {
                let pool = if region { region_pool() } else { heap_pool(64) };
                let _keep = get(pool);
                let p = announce(get(pool));
                put(pool, p);
                put(pool, p);
            },
            "rawrt_pool_free(): double free of",
        );
    }
}

/// `rawrt_pool_check` (on stderr) finds a one-byte overflow of a live
/// block (poisoned), naming the block, and returns false; without the
/// mode it sees nothing wrong.
fn check_finds_overflow() {
    let o = child(|| {
        let pool = region_pool();
        let p = announce(get(pool));
        poke(p, 64, 0);
        // SAFETY: plain C call.
        let ok = unsafe { rawrt_pool_check(pool, true) };
        rawrt::println!("{ok}");
        0
    });
    let out = o.stdout();
    let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
    assert_eq!(o.ended, Ended::Exited(0));
    if poisoned() {
        assert_eq!(
            o.stderr(),
            format!("rawrt: rawrt_pool_check(): canary corrupted after block {addr}\n")
        );
        assert_eq!(out, format!("addr {addr}\nfalse\n"));
    } else {
        assert_eq!((o.stderr(), out), ("", format!("addr {addr}\ntrue\n").as_str()));
    }
}

/// `rawrt_pool_check` finds a write into a freed block: at offset 8 in
/// comprehensive mode (its fill); at offset 0 without poisoning (its
/// free-list link); light mode sees neither.
fn check_finds_write_after_free() {
    for off in [0usize, 8] {
        let o = child(move || {
            let pool = heap_pool(64);
            let _keep = get(pool);
            let p = announce(get(pool));
            put(pool, p);
            poke(p, off as isize, 1);
            // SAFETY: plain C call.
            let ok = unsafe { rawrt_pool_check(pool, true) };
            rawrt::println!("{ok}");
            0
        });
        let out = o.stdout();
        let addr = out.strip_prefix("addr ").and_then(|s| s.lines().next()).unwrap();
        assert_eq!(o.ended, Ended::Exited(0));
        let report = if comprehensive() {
            format!("rawrt: rawrt_pool_check(): write after free at offset {off} of block {addr}\n")
        } else if !poisoned() && off == 0 {
            format!("rawrt: rawrt_pool_check(): corrupted free list (write after free) at {addr}\n")
        } else {
            String::new()
        };
        assert_eq!(o.stderr(), report, "offset {off}");
        let ok = if report.is_empty() { "true" } else { "false" };
        assert_eq!(out, format!("addr {addr}\n{ok}\n"));
    }
}

extern "C" fn count(_: *mut u8, ctx: *mut core::ffi::c_void) {
    // SAFETY: `ctx` is the caller's counter.
    unsafe { *ctx.cast::<usize>() += 1 };
}

/// Many blocks of a growing and a region pool, written whole, some freed
/// and taken again: every byte is kept, the figures and the walk agree,
/// and every check passes, in every mode.
fn intact_pools_pass() {
    for region in [true, false] {
        let pool = if region { region_pool() } else { heap_pool(64) };
        let mut live: Vec<(*mut u8, u8)> = Vec::new();
        let mut rng = rawrt::check::Rng::new(7);
        for i in 0..3000usize {
            if live.len() < 600 && (live.is_empty() || rng.next() % 3 != 0) {
                let p = get(pool);
                // SAFETY: the block's own 64 bytes.
                unsafe { core::ptr::write_bytes(p, i as u8, 64) };
                live.push((p, i as u8));
            } else {
                let k = (rng.next() as usize) % live.len();
                let (p, v) = live.swap_remove(k);
                assert!((0..64).all(|j| peek(p, j) == v));
                put(pool, p);
            }
        }
        let i = info(pool);
        assert_eq!((i.block_size, i.in_use, i.capacity - i.free), (64, live.len(), live.len()));
        let mut n = 0usize;
        // SAFETY: plain C call; `count` adds to `n`.
        unsafe { rawrt_pool_for_each_used(pool, count, (&raw mut n).cast()) };
        assert_eq!(n, live.len());
        // SAFETY: plain C call.
        assert!(unsafe { rawrt_pool_check(pool, true) });
        for (p, v) in live {
            assert!((0..64).all(|j| peek(p, j) == v));
            put(pool, p);
        }
        // SAFETY: plain C call.
        assert!(unsafe { rawrt_pool_check(pool, true) });
        if !region {
            // SAFETY: every block is back.
            unsafe { rawrt_pool_destroy(pool) };
        }
    }
}
