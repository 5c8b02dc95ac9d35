//! A region heap (`Heap::from_raw` over a static buffer): `dump` and
//! `check` output line by line, corruption found and reported, the exact
//! `largest_free_block`, the failed-allocation callback and the
//! `allocator_api2` interface.

use super::util::*;
use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicUsize, Ordering};
use rawrt::check::{child, Ended};
use rawrt::heap::{Heap, HeapError, RegionSource};

const LEN: usize = 64 << 10;

#[repr(C, align(16))]
struct Region([u8; LEN]);

// Each test has its own region (children get copies).
static mut DUMP: Region = Region([0; LEN]);
static mut CORRUPT: Region = Region([0; LEN]);
static mut EXACT: Region = Region([0; LEN]);
static mut API: Region = Region([0; LEN]);

fn region(r: *mut Region) -> Heap<RegionSource> {
    // SAFETY: each static region is used by one heap at a time.
    unsafe { Heap::from_raw(r as *mut u8, LEN) }
}

fn a(h: &Heap<RegionSource>, size: usize) -> usize {
    h.allocate(size, 16, false, "test").expect("region allocation").as_ptr() as usize
}

fn f(h: &Heap<RegionSource>, p: usize) -> Result<(), HeapError> {
    // SAFETY: the tests free their own blocks (or test rejection).
    unsafe { h.dealloc(core::ptr::NonNull::new(p as *mut u8).unwrap()) }
}

fn usable(h: &Heap<RegionSource>, p: usize) -> usize {
    // SAFETY: a live block of `h`.
    unsafe { h.usable_size(p as *const u8) }.unwrap()
}

fn dump(h: &Heap<RegionSource>) -> String {
    let mut s = String::new();
    h.dump(&mut s).unwrap();
    s
}

/// The dump line of block `p` (header 8 bytes before it).
fn used_line(h: &Heap<RegionSource>, p: usize) -> String {
    let u = usable(h, p);
    format!("  {:#x} {:>10} used next {:#x}", p - 8, u, p + u)
}

fn free_line(hdr: usize, u: usize, next_free: usize) -> String {
    format!("  {:#x} {:>10} free next {:#x} next_free {:#x}", hdr, u, hdr + u + 8, next_free)
}

#[track_caller]
fn lines_are(got: &str, want: &[String]) {
    let got: alloc::vec::Vec<&str> = got.lines().collect();
    assert_eq!(got.len(), want.len(), "dump:\n{}", got.join("\n"));
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g, w, "dump:\n{}", got.join("\n"));
    }
}

pub fn dump_lists_every_block_and_a_summary() {
    let h = region(&raw mut DUMP);
    let base = &raw const DUMP as usize;
    let seg = format!("segment {:#x}..{:#x} ({} B)", base, base + LEN, LEN);
    let empty_info = h.info();
    let empty_dump = dump(&h);
    // Six blocks; the second and fourth freed later (same size, not
    // adjacent): the fourth heads its list and links to the second.
    let p: [usize; 6] = [100, 100, 200, 100, 40, 3000].map(|n| a(&h, n));
    // The first header is 8 past a 16-byte boundary near the start, the
    // sentinel the last word; everything between was top.
    let first = p[0] - 8;
    assert!(
        first % 16 == 8 && first >= base + 8 && first <= base + 24,
        "first header {first:#x}, region {base:#x}"
    );
    let sentinel = base + LEN - 8;
    let top = sentinel - first - 8;
    let i = empty_info;
    assert_eq!(
        (i.total_free_bytes, i.largest_free_block, i.free_blocks, i.allocated_blocks),
        (top, top, 1, 0)
    );
    lines_are(&empty_dump, &[
        seg.clone(),
        format!("  {:#x} {:>10} top next {:#x}", first, top, sentinel),
        format!("heap: 0 used blocks (0 B), 1 free blocks ({top} B, largest {top}), footprint {LEN} B"),
    ]);
    for k in 1..6 {
        assert_eq!(
            p[k],
            p[k - 1] + usable(&h, p[k - 1]) + 8,
            "blocks are laid out one after another"
        );
    }
    f(&h, p[1]).unwrap();
    f(&h, p[3]).unwrap();
    let t = p[5] + usable(&h, p[5]); // the top's header
    let used: usize = [0, 2, 4, 5].iter().map(|&k| usable(&h, p[k])).sum();
    let free = 104 + 104 + (sentinel - t - 8);
    lines_are(&dump(&h), &[
        seg.clone(),
        used_line(&h, p[0]),
        free_line(p[1] - 8, 104, 0),
        used_line(&h, p[2]),
        free_line(p[3] - 8, 104, p[1] - 8),
        used_line(&h, p[4]),
        used_line(&h, p[5]),
        format!("  {:#x} {:>10} top next {:#x}", t, sentinel - t - 8, sentinel),
        format!("heap: 4 used blocks ({used} B), 3 free blocks ({free} B, largest {}), footprint {LEN} B", sentinel - t - 8),
    ]);
    let i = h.info();
    assert_eq!(
        (i.allocated_blocks, i.total_allocated_bytes, i.free_blocks, i.total_free_bytes),
        (4, used, 3, free)
    );
    // Freeing the third merges it with both free neighbours.
    let u2 = usable(&h, p[2]);
    f(&h, p[2]).unwrap();
    let d = dump(&h);
    assert!(d.contains(&free_line(p[1] - 8, 104 + 8 + u2 + 8 + 104, 0)), "{d}");
    assert_eq!(d.lines().count(), 7, "{d}");
    assert!(h.check(true, &mut Buf::<512>::new()));
    for k in [0, 4, 5] {
        f(&h, p[k]).unwrap();
    }
    lines_are(&dump(&h), &[
        seg,
        format!("  {:#x} {:>10} top next {:#x}", first, top, sentinel),
        format!("heap: 0 used blocks (0 B), 1 free blocks ({top} B, largest {top}), footprint {LEN} B"),
    ]);
}

/// Runs `corrupt` on a fresh heap in a child, then `check(true, ..)`;
/// returns what check printed, one error per line.
fn check_after(corrupt: fn(&Heap<RegionSource>, &[usize; 5]) -> usize) -> (String, usize) {
    let o = child(|| {
        let h = region(&raw mut CORRUPT);
        let p = [64, 64, 500, 64, 64].map(|n| a(&h, n));
        f(&h, p[1]).unwrap();
        f(&h, p[3]).unwrap();
        let mut out = Buf::<2048>::new();
        assert!(h.check(true, &mut out), "intact before: {}", out.as_str());
        let at = corrupt(&h, &p);
        let ok = h.check(true, &mut out);
        rawrt::print!("{:#x}\n{}", at, out.as_str());
        assert!(!h.check_addr(p[0] as *const u8), "check_addr sees the damage");
        if ok {
            1
        } else {
            0
        }
    });
    assert_eq!(
        o.ended,
        Ended::Exited(0),
        "check missed the corruption: {}{}",
        o.stdout(),
        o.stderr()
    );
    let (at, rest) = o.stdout().split_once('\n').unwrap();
    (String::from(rest), usize::from_str_radix(at.trim_start_matches("0x"), 16).unwrap())
}

pub fn check_reports_corruption() {
    // SAFETY (all closures): the child writes into its own copy of the
    // region, at block headers and footers the test computed.
    // A used block's header overwritten.
    let (out, h) = check_after(|_, p| {
        unsafe { ((p[2] - 8) as *mut usize).write(0x10_0001) };
        p[2] - 8
    });
    assert!(out.starts_with(&format!("CORRUPT HEAP: bad header 0x100001 at {h:#x}\n")), "{out}");
    assert!(out.lines().all(|l| l.starts_with("CORRUPT HEAP: ")), "{out}");
    // A free block's footer overwritten.
    let (out, h) = check_after(|_, p| {
        unsafe { ((p[2] - 16) as *mut usize).write(0x30) };
        p[1] - 8
    });
    assert!(
        out.contains(&format!("CORRUPT HEAP: footer of free block {h:#x} is not its size\n")),
        "{out}"
    );
    // A free block's list link overwritten.
    let (out, _) = check_after(|_, p| {
        unsafe { (p[3] as *mut usize).write(0x1234_5678) };
        0x1234_5678
    });
    assert!(out.contains("points to 0x12345678, not a block"), "{out}");
    // The neighbour of a used block told that it is free.
    let (out, h) = check_after(|h, p| {
        let n = p[2] + usable(h, p[2]);
        unsafe { (n as *mut usize).write((n as *const usize).read() & !2) };
        n
    });
    assert!(
        out.contains(&format!(
            "CORRUPT HEAP: PREV_IN_USE of {h:#x} disagrees with its neighbour\n"
        )),
        "{out}"
    );
    // A used block grown by 16 bytes over its neighbour: the walk and the
    // totals disagree.
    let (out, _) = check_after(|h, p| {
        let hdr = (p[0] - 8) as *mut usize;
        let _ = h;
        unsafe { hdr.write(hdr.read() + 0x10) };
        p[0] - 8
    });
    assert!(out.starts_with("CORRUPT HEAP: "), "{out}");
}

static FAILED: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

fn on_fail(size: usize, align: usize, func: &'static str) {
    FAILED[0].fetch_add(1, Ordering::Relaxed);
    FAILED[1].store(size, Ordering::Relaxed);
    FAILED[2].store(align + func.len() * 1000, Ordering::Relaxed);
}

pub fn largest_free_block_is_exact() {
    let h = region(&raw mut EXACT);
    h.set_failed_alloc_callback(Some(on_fail));
    let mut rng = Rng::new(5);
    let mut live = Table::<usize>::new(1000);
    for round in 0..30 {
        // Fragment the region, then ask for exactly the largest block.
        for _ in 0..40 {
            if let Some(p) = h.allocate(rng.below(2000), 16, false, "fill") {
                live.push(p.as_ptr() as usize);
            }
        }
        for _ in 0..20.min(live.len()) {
            let k = rng.below(live.len());
            f(&h, live.swap_remove(k)).unwrap();
        }
        let l = h.info().largest_free_block;
        let calls = FAILED[0].load(Ordering::Relaxed);
        assert!(
            h.allocate(l + 16, 16, false, "region_test").is_none(),
            "round {round}: largest {l} + 16 fitted"
        );
        assert_eq!(FAILED[0].load(Ordering::Relaxed), calls + 1);
        assert_eq!(FAILED[1].load(Ordering::Relaxed), l + 16);
        assert_eq!(FAILED[2].load(Ordering::Relaxed), 16 + "region_test".len() * 1000);
        let p = h
            .allocate(l, 16, false, "exact")
            .unwrap_or_else(|| panic!("round {round}: largest {l} did not fit"));
        live.push(p.as_ptr() as usize);
        assert!(h.check(true, &mut Buf::<512>::new()));
    }
    while let Some(p) = live.pop() {
        f(&h, p).unwrap();
    }
    let i = h.info();
    assert_eq!(
        (i.allocated_blocks, i.free_blocks, i.largest_free_block),
        (0, 1, i.total_free_bytes)
    );
    assert!(i.minimum_free_bytes < 1000, "the heap was full at times: {}", i.minimum_free_bytes);
}

pub fn allocator_api2_vec_in_a_region() {
    let h = region(&raw mut API);
    let mut v = allocator_api2::vec::Vec::new_in(&h);
    for i in 0..3000u32 {
        v.push(i);
    }
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
    let i = h.info();
    assert_eq!(i.allocated_blocks, 1);
    assert!(i.total_allocated_bytes >= 3000 * 4);
    let mut w = allocator_api2::vec::Vec::with_capacity_in(10, &h);
    w.extend_from_slice(&[1u64; 10]);
    assert_eq!(h.info().allocated_blocks, 2);
    // Too big for the region: an error, not an abort.
    assert!(v.try_reserve(LEN).is_err());
    drop((v, w));
    let i = h.info();
    assert_eq!((i.allocated_blocks, i.total_allocated_bytes, i.free_blocks), (0, 0, 1));
}
