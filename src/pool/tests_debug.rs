//! Hosted tests of debugging pools (`super::debug`), which Miri also runs:
//! each mode's geometry and figures, canaries and fills where they belong,
//! `check_integrity`'s reports of each damage, every bad free, and
//! randomized runs against a model in every mode, over a region and over
//! a chunk source (the Memcheck mode's routing included: natively its
//! announcements do nothing, but its blocks take the debugging paths).

use std::collections::HashMap;
use std::ptr::NonNull;

use super::debug::{CANARIES, FILLS, VALGRIND};
use super::tests::{Region, Rng, TestSource};
use super::{Pool, PoolError};
use crate::heap::poison_layer::{canary, FREE_FILL, NEW_FILL, TAIL};

/// Every mode: none, Memcheck's routing alone, light, comprehensive, and
/// comprehensive with Memcheck's routing.
const MODES: [u8; 5] = [0, VALGRIND, CANARIES, CANARIES | FILLS, CANARIES | FILLS | VALGRIND];

/// Bytes of the tests' regions: 64 KiB, 8 KiB under Miri (which
/// interprets every canary check).
const REGION: usize = if cfg!(miri) { 8192 } else { 64 * 1024 };

/// A region of [`REGION`] bytes, 4096-aligned.
fn new_region() -> Region {
    Region::new(REGION, 4096)
}

/// A region pool of 64-byte blocks over a [`new_region`] in `mode`.
fn region_pool(r: &Region, mode: u8) -> Pool {
    // SAFETY: the region outlives the pool (each test keeps it).
    unsafe { Pool::from_region_in_mode(r.ptr, REGION, 64, 16, mode) }.unwrap()
}

fn byte(p: *const u8, i: isize) -> u8 {
    // SAFETY: the tests read inside their pools' chunks.
    unsafe { p.offset(i).read() }
}

/// Whether the canaries around the 64-byte block at `p` are in place.
fn guarded(p: *const u8) -> bool {
    // SAFETY: a poisoned pool's slot holds the head word and the tail.
    let head = unsafe { p.cast::<usize>().sub(1).read() };
    head == canary(p) && (0..8).all(|i| byte(p, 64 + i) == TAIL[i as usize])
}

/// A region pool of 64 KiB holds 1,021 blocks 64 bytes apart, or 681
/// blocks 96 bytes apart when poisoned (16 bytes of head, 8 of tail,
/// rounded up to the alignment; 8 KiB: 126 or 84 blocks); `info` says
/// so, `block_size` stays 64; every block's
/// canaries are in place from the start and stay there while it is used
/// and after it is freed.
fn geometry_and_canaries() {
    for mode in MODES {
        let r = new_region();
        let pool = region_pool(&r, mode);
        let poisoned = mode & CANARIES != 0;
        let (cap, stride) = match (poisoned, cfg!(miri)) {
            (false, false) => (1021, 64),
            (true, false) => (681, 96),
            (false, true) => (126, 64),
            (true, true) => (84, 96),
        };
        let i = pool.info();
        assert_eq!((i.block_size, i.capacity, i.free, i.max_blocks), (64, cap, cap, cap));
        let a = pool.alloc().unwrap().as_ptr();
        let b = pool.alloc().unwrap().as_ptr();
        assert_eq!((b as usize - a as usize, a as usize % 16), (stride, 0), "mode {mode}");
        if poisoned {
            assert!(guarded(a) && guarded(b));
            // SAFETY: a live block of the pool.
            unsafe { pool.free(a) }.unwrap();
            assert!(guarded(a));
            // SAFETY: as above.
            unsafe { pool.free(b) }.unwrap();
        }
        let mut out = String::new();
        assert!(pool.check_integrity(true, &mut out), "{out}");
    }
}

/// Comprehensive mode hands out blocks of 0xCE and fills freed ones with
/// 0xFE (all 64 bytes: the free-list link is in the head); `alloc_zeroed`
/// still zeroes. Light mode writes no fill.
fn fills() {
    for mode in [CANARIES, CANARIES | FILLS] {
        let src = TestSource::leak();
        let pool = Pool::new_in_mode(64, 16, 0, src, mode).unwrap();
        let p = pool.alloc().unwrap().as_ptr();
        let fresh: Vec<u8> = (0..64).map(|i| byte(p, i)).collect();
        // SAFETY: a live block.
        unsafe { pool.free(p) }.unwrap();
        let freed: Vec<u8> = (0..64).map(|i| byte(p, i)).collect();
        if mode & FILLS != 0 {
            assert_eq!((fresh, freed), (vec![NEW_FILL; 64], vec![FREE_FILL; 64]));
        } else {
            // The source's garbage, untouched.
            assert_eq!((fresh, freed), (vec![0xCD; 64], vec![0xCD; 64]));
        }
        let z = pool.alloc_zeroed().unwrap().as_ptr();
        assert_eq!(z, p);
        assert!((0..64).all(|i| byte(z, i) == 0));
        assert!(guarded(z));
    }
}

/// `check_integrity` names each damage as the abort would (`rawrt:
/// Pool::check_integrity(): ...`) and returns false; repaired, true.
fn check_reports_damage() {
    let r = new_region();
    let pool = region_pool(&r, CANARIES | FILLS);
    let keep = pool.alloc().unwrap().as_ptr();
    let p = pool.alloc().unwrap().as_ptr();
    let report =
        |what: &str| format!("rawrt: Pool::check_integrity(): {what} block {:#x}\n", p as usize);
    let check = || {
        let mut out = String::new();
        let ok = pool.check_integrity(true, &mut out);
        (ok, out)
    };
    let poke = |i: isize, v: u8| {
        // SAFETY: damage inside the pool's chunk, on purpose.
        unsafe { p.offset(i).write(v) }
    };
    assert_eq!(check(), (true, String::new()));
    poke(64, 0);
    assert_eq!(check(), (false, report("canary corrupted after")));
    poke(64, TAIL[0]);
    poke(-1, 0);
    assert_eq!(check(), (false, report("canary corrupted before")));
    poke(-1, (canary(p) >> 56) as u8);
    assert_eq!(check(), (true, String::new()));
    // SAFETY: a live block.
    unsafe { pool.free(p) }.unwrap();
    poke(40, 1);
    assert_eq!(check(), (false, report("write after free at offset 40 of")));
    let (ok, out) = {
        let mut out = String::new();
        (pool.check_integrity(false, &mut out), out)
    };
    assert_eq!((ok, out.as_str()), (false, ""));
    poke(40, FREE_FILL);
    assert_eq!(check(), (true, String::new()));
    // SAFETY: a live block.
    unsafe { pool.free(keep) }.unwrap();
}

/// Without poisoning, `check_integrity` still follows every free list: a
/// link overwritten after free is named by its block.
fn check_follows_free_lists() {
    for mode in [0, VALGRIND] {
        let src = TestSource::leak();
        let pool = Pool::new_in_mode(32, 0, 0, src, mode).unwrap();
        let blocks: Vec<*mut u8> = (0..5).map(|_| pool.alloc().unwrap().as_ptr()).collect();
        for &b in &blocks[1..4] {
            // SAFETY: live blocks.
            unsafe { pool.free(b) }.unwrap();
        }
        let mut out = String::new();
        assert!(pool.check_integrity(true, &mut out), "{out}");
        // The list is 3 -> 2 -> 1: block 2's link made to name block 4,
        // which is in use.
        // SAFETY: a free block's link, on purpose.
        unsafe { blocks[2].cast::<usize>().write(4) };
        assert!(!pool.check_integrity(true, &mut out));
        let want = format!(
            "rawrt: Pool::check_integrity(): corrupted free list (write after free) at {:#x}\n",
            blocks[2] as usize
        );
        assert_eq!(out, want);
        // SAFETY: repaired.
        unsafe { blocks[2].cast::<usize>().write(1) };
        out.clear();
        assert!(pool.check_integrity(true, &mut out), "{out}");
    }
}

/// Every bad free of a debugging pool gets the error the fast path gives,
/// and changes nothing.
fn bad_frees() {
    for mode in MODES {
        let r = new_region();
        let pool = region_pool(&r, mode);
        let a = pool.alloc().unwrap().as_ptr();
        let b = pool.alloc().unwrap().as_ptr();
        let other = Region::new(256, 16);
        let before = pool.info();
        // SAFETY: refused frees change nothing.
        unsafe {
            assert_eq!(pool.free(other.ptr), Err(PoolError::NotInPool));
            assert_eq!(pool.free(r.ptr), Err(PoolError::NotInPool));
            assert_eq!(pool.free(b.add(8)), Err(PoolError::Misaligned));
            assert_eq!(pool.free(b.sub(16)), Err(PoolError::Misaligned));
            assert_eq!(pool.check(b.add(8)), Err(PoolError::Misaligned));
            assert_eq!(pool.check(b), Ok(()));
            pool.free(a).unwrap();
            assert_eq!(pool.free(a), Err(PoolError::DoubleFree));
            assert_eq!(pool.check(a), Err(PoolError::DoubleFree));
        }
        let after = pool.info();
        assert_eq!((after.in_use, after.free), (before.in_use - 1, before.free + 1));
        // SAFETY: a live block.
        unsafe { pool.free(b) }.unwrap();
        let mut out = String::new();
        assert!(pool.check_integrity(true, &mut out), "{out}");
    }
}

/// A region pool exhausted in a debugging mode says so, `alloc_wait` times
/// out, and every block comes back.
fn exhaustion() {
    for mode in MODES {
        let r = Region::new(4096, 4096);
        let pool = region_pool_small(&r, mode);
        let n = pool.info().capacity;
        let all: Vec<NonNull<u8>> = (0..n).map(|_| pool.alloc().unwrap()).collect();
        assert_eq!(pool.alloc(), Err(PoolError::Exhausted));
        if !cfg!(miri) {
            // (The clock is a system call, which Miri does not run.)
            let t = Some(core::time::Duration::ZERO);
            assert_eq!(pool.alloc_wait(t), Err(PoolError::TimedOut));
        }
        assert_eq!((pool.info().low_water, pool.info().peak_in_use), (0, n));
        for p in all {
            // SAFETY: live blocks.
            unsafe { pool.free(p.as_ptr()) }.unwrap();
        }
        assert_eq!(pool.info().in_use, 0);
    }
}

fn region_pool_small(r: &Region, mode: u8) -> Pool {
    // SAFETY: the region outlives the pool.
    unsafe { Pool::from_region_in_mode(r.ptr, 4096, 64, 16, mode) }.unwrap()
}

/// Random allocations and frees in every mode, over a region and over a
/// growing source (several chunks), against a model: every block keeps
/// its bytes, the figures and the walk match the model, and the check
/// passes; dropping the growing pool gives every chunk back.
fn model() {
    for mode in MODES {
        for region in [true, false] {
            let r = new_region();
            let src = TestSource::leak();
            let pool = if region {
                region_pool(&r, mode)
            } else {
                Pool::new_in_mode(64, 16, 0, src, mode).unwrap()
            };
            let mut rng = Rng::new(mode as u64 * 2 + region as u64);
            let mut live: HashMap<usize, (*mut u8, u8)> = HashMap::new();
            let steps = if cfg!(miri) { 150 } else { 5000 };
            for step in 0..steps {
                if live.is_empty() || (live.len() < 400 && rng.chance(60)) {
                    let p = pool.alloc().unwrap().as_ptr();
                    if mode & FILLS != 0 {
                        assert!((0..64).all(|i| byte(p, i) == NEW_FILL));
                    }
                    // SAFETY: the block's own bytes.
                    unsafe { p.write_bytes(step as u8, 64) };
                    assert!(live.insert(p as usize, (p, step as u8)).is_none());
                } else {
                    let k = *live.keys().nth(rng.below(live.len())).unwrap();
                    let (p, v) = live.remove(&k).unwrap();
                    assert!((0..64).all(|i| byte(p, i) == v));
                    // SAFETY: a live block.
                    unsafe { pool.free(p) }.unwrap();
                }
            }
            let i = pool.info();
            assert_eq!((i.in_use, i.capacity - i.free), (live.len(), live.len()));
            let mut seen = Vec::new();
            pool.for_each_used(|p| seen.push(p.as_ptr() as usize));
            let mut want: Vec<usize> = live.keys().copied().collect();
            want.sort_unstable();
            assert_eq!(seen, want, "mode {mode}");
            let mut out = String::new();
            assert!(pool.check_integrity(true, &mut out), "{out}");
            if !region {
                assert!(i.chunks > 1 || cfg!(miri));
                drop(pool);
                assert_eq!((src.live(), src.bytes()), (0, 0));
            }
        }
    }
}

/// Four threads allocate, fill, check and free blocks of a comprehensive
/// pool at once: every byte is kept,
/// every fill is right, and the pool passes its check.
fn threads_share_a_debugging_pool() {
    let src = TestSource::leak();
    let pool = Pool::new_in_mode(40, 8, 0, src, CANARIES | FILLS).unwrap();
    let steps = if cfg!(miri) { 60 } else { 5000 };
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let pool = &pool;
            s.spawn(move || {
                let mut rng = Rng::new(t as u64);
                let mut mine: Vec<(*mut u8, u8)> = Vec::new();
                for step in 0..steps {
                    if mine.len() < 100 && rng.chance(55) {
                        let p = pool.alloc().unwrap().as_ptr();
                        assert!((0..40).all(|i| byte(p, i) == NEW_FILL));
                        let v = (step as u8) ^ t;
                        // SAFETY: this thread's block.
                        unsafe { p.write_bytes(v, 40) };
                        mine.push((p, v));
                    } else if let Some((p, v)) = mine.pop() {
                        assert!((0..40).all(|i| byte(p, i) == v));
                        // SAFETY: this thread's block.
                        unsafe { pool.free(p) }.unwrap();
                    }
                }
                for (p, _) in mine {
                    // SAFETY: this thread's block.
                    unsafe { pool.free(p) }.unwrap();
                }
            });
        }
    });
    assert_eq!(pool.info().in_use, 0);
    let mut out = String::new();
    assert!(pool.check_integrity(true, &mut out), "{out}");
}

/// A chunk header counting more blocks in use than were ever handed out
/// (`used > bump`, which only damage makes) fails the check, which names
/// block 0 (the address the program got for it); repaired, it passes.
fn check_finds_a_damaged_header() {
    for mode in [0, CANARIES] {
        let r = new_region();
        let pool = region_pool(&r, mode);
        let first = pool.alloc().unwrap().as_ptr();
        let _second = pool.alloc().unwrap();
        // The header's `used` (`ChunkHeader`, `repr(C)`: `first`,
        // `nblocks`, `used`, ...).
        let used = {
            let mut inner = pool.inner.lock();
            let open = inner.open();
            open.chunks()[0].base_ptr().cast::<usize>().wrapping_add(2)
        };
        // SAFETY: the header of the pool's chunk, damaged on purpose.
        unsafe {
            assert_eq!(used.read(), 2);
            used.write(3);
        }
        let mut out = String::new();
        assert!(!pool.check_integrity(true, &mut out), "mode {mode}");
        let want = format!(
            "rawrt: Pool::check_integrity(): corrupted free list (write after free) at {:#x}\n",
            first as usize
        );
        assert_eq!(out, want, "mode {mode}");
        // SAFETY: repaired.
        unsafe { used.write(2) };
        out.clear();
        assert!(pool.check_integrity(true, &mut out), "{out}");
    }
}

/// In a poisoned pool a free block's link lies in its head, before the
/// block: damaged, the check names the block as the program knew it (not
/// its slot).
fn damaged_link_is_named_by_its_block() {
    let r = new_region();
    let pool = region_pool(&r, CANARIES | FILLS);
    let _keep = pool.alloc().unwrap();
    let p = pool.alloc().unwrap().as_ptr();
    // SAFETY: a live block.
    unsafe { pool.free(p) }.unwrap();
    // SAFETY: the link (the slot's first word, 16 bytes before the
    // block), made to name block 0, which is in use.
    unsafe { p.sub(16).cast::<usize>().write(0) };
    let mut out = String::new();
    assert!(!pool.check_integrity(true, &mut out));
    let want = format!(
        "rawrt: Pool::check_integrity(): corrupted free list (write after free) at {:#x}\n",
        p as usize
    );
    assert_eq!(out, want);
}

/// Writes what it is given, after checking that the pool's lock is free
/// (a writer that allocates from the pool would deadlock otherwise).
struct LockChecking<'a> {
    pool: &'a Pool,
    text: String,
    held: usize,
}

impl core::fmt::Write for LockChecking<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let free = self.pool.inner.try_lock().is_some();
        if free {
            // A block of the pool, and back (what an allocating writer
            // would do).
            let b = self.pool.alloc().unwrap().as_ptr();
            // SAFETY: just allocated.
            unsafe { self.pool.free(b) }.unwrap();
        } else {
            self.held += 1;
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// `check_integrity` writes its reports while the pool's lock is free (a
/// writer may use the pool), all of them in address order, more than it
/// gathers at a time (40 damaged tails, in batches of 16).
fn check_writes_with_the_lock_free() {
    let r = new_region();
    let pool = region_pool(&r, CANARIES | FILLS);
    let blocks: Vec<*mut u8> = (0..40).map(|_| pool.alloc().unwrap().as_ptr()).collect();
    for &b in &blocks {
        // SAFETY: each block's tail canary, damaged on purpose.
        unsafe { b.add(64).write(0) };
    }
    let mut w = LockChecking { pool: &pool, text: String::new(), held: 0 };
    assert!(!pool.check_integrity(true, &mut w));
    let want: String = blocks
        .iter()
        .map(|&b| {
            format!(
                "rawrt: Pool::check_integrity(): canary corrupted after block {:#x}\n",
                b as usize
            )
        })
        .collect();
    assert_eq!((w.held, w.text), (0, want));
    let mut quiet = String::new();
    assert!(!pool.check_integrity(false, &mut quiet));
    assert_eq!(quiet, "");
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("pool::debug::geometry_and_canaries", geometry_and_canaries),
    ("pool::debug::fills", fills),
    ("pool::debug::check_reports_damage", check_reports_damage),
    ("pool::debug::check_follows_free_lists", check_follows_free_lists),
    ("pool::debug::bad_frees", bad_frees),
    ("pool::debug::exhaustion", exhaustion),
    ("pool::debug::model", model),
    ("pool::debug::threads_share_a_debugging_pool", threads_share_a_debugging_pool),
    ("pool::debug::check_finds_a_damaged_header", check_finds_a_damaged_header),
    ("pool::debug::damaged_link_is_named_by_its_block", damaged_link_is_named_by_its_block),
    ("pool::debug::check_writes_with_the_lock_free", check_writes_with_the_lock_free),
];
