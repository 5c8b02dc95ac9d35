//! The process heap and the kernel: another user of the program break,
//! memory going back after a burst, large blocks in their own mappings
//! (munmap on free, mremap on realloc, a settable threshold), trimming,
//! and `largest_free_block` as a promise that needs no system call.

use super::util::*;
use rawrt::heap::{self, DEFAULT_MMAP_THRESHOLD, DEFAULT_TRIM_THRESHOLD, PURGE_DELAY_MS, TOP_PAD};
use rawrt::sys::mm;

/// A block or foreign area the test owns: address, length, pattern tag.
type Owned = (usize, usize, u64);

fn verify_all(t: &Table<Owned>) {
    for i in 0..t.len() {
        let (p, len, tag) = t.get(i);
        assert_pattern(p as *const u8, len, tag);
    }
}

pub fn foreign_brk_mover() {
    let mut rng = Rng::new(42);
    let mut blocks = Table::<Owned>::new(20_000);
    let mut foreign = Table::<Owned>::new(64);
    // Start from a trimmed heap (earlier tests leave free memory behind),
    // so that the rounds below must grow it.
    // SAFETY: plain C call.
    unsafe { malloc_trim(0) };
    let i0 = info();
    let mut tag = 1;
    for _round in 0..16 {
        // Enough heap activity to need more memory in every round.
        for _ in 0..300 {
            let size = 16 + rng.below(3000);
            // SAFETY: plain C call.
            let p = unsafe { malloc(size) };
            assert!(!p.is_null());
            fill(p, size, tag);
            blocks.push((p as usize, size, tag));
            tag += 1;
        }
        for _ in 0..100 {
            let (p, len, t) = blocks.swap_remove(rng.below(blocks.len()));
            assert_pattern(p as *const u8, len, t);
            // SAFETY: a live block.
            unsafe { free(p as *mut u8) };
        }
        // Someone else moves the break up and writes there.
        let cur = current_brk();
        let base = (cur + 15) & !15;
        let len = (1 + rng.below(8)) * PAGE;
        // SAFETY: raising the break maps new memory only.
        assert_eq!(unsafe { mm::brk(base + len) }, base + len, "foreign brk");
        fill(base as *mut u8, len, tag);
        foreign.push((base, len, tag));
        tag += 1;
    }
    verify_all(&blocks);
    verify_all(&foreign);
    heap_ok();
    let top_foreign = foreign.get(foreign.len() - 1);
    let foreign_end = top_foreign.0 + top_foreign.1;
    assert!(info().brk_calls > i0.brk_calls, "the heap kept using the break");
    // Everything back, then trims: the break never goes below what the
    // foreign user holds, and its data stays.
    while let Some((p, len, t)) = blocks.pop() {
        assert_pattern(p as *const u8, len, t);
        // SAFETY: a live block.
        unsafe { free(p as *mut u8) };
    }
    // SAFETY: plain C call.
    unsafe { malloc_trim(0) };
    assert!(current_brk() >= foreign_end, "the heap lowered the break below foreign data");
    verify_all(&foreign);
    heap_ok();
    // The heap still works (and grows) without touching foreign memory.
    for _ in 0..2000 {
        let size = 16 + rng.below(2000);
        // SAFETY: plain C call.
        let p = unsafe { malloc(size) };
        fill(p, size, tag);
        blocks.push((p as usize, size, tag));
        tag += 1;
    }
    verify_all(&foreign);
    verify_all(&blocks);
    while let Some((p, _, _)) = blocks.pop() {
        // SAFETY: a live block.
        unsafe { free(p as *mut u8) };
    }
    // SAFETY: plain C call.
    unsafe { malloc_trim(0) };
    assert!(current_brk() >= foreign_end);
    verify_all(&foreign);
    heap_ok();
}

/// Bytes the resident set may stay above where it started after a burst
/// of 50 MB of small blocks is freed: the free top the heap keeps below
/// the trim threshold (its pages are purged only once they have stayed
/// unused for `PURGE_DELAY_MS`, so that memory freed and reused at once
/// is not faulted in again; the rest coalesces into the top, which an
/// automatic trim gives back at once) and 1 MiB for the pages that the calling
/// thread's last cached blocks keep. Under qemu-user the resident set is
/// qemu's, and qemu's own bookkeeping for the guest's mappings (page
/// descriptors, translated code) grows by some 2.5 MB over the three
/// bursts: 2 MiB more there.
const RSS_SLACK: usize = DEFAULT_TRIM_THRESHOLD + (1 << 20) + if QEMU { 2 << 20 } else { 0 };
/// Bytes the footprint may stay above where it started: the top the heap
/// keeps after an automatic trim, and a page of rounding.
const FOOTPRINT_SLACK: usize = TOP_PAD + 2 * PAGE;

pub fn burst_gives_memory_back() {
    let mut rng = Rng::new(7);
    for order in ["random", "lifo", "fifo"] {
        let mut ptrs = Table::<usize>::new(200_000);
        // The footprint is compared after a `malloc_trim` at both ends: the
        // last blocks freed may stay in the thread cache and keep the
        // address space (not the memory) of the heap around them.
        // SAFETY: plain C call.
        unsafe { malloc_trim(0) };
        let (rss0, fp0) = (rss(), info().footprint);
        let mut total = 0;
        while total < 50 << 20 {
            let size = 16 + rng.below(1000);
            // SAFETY: plain C call; the block is written whole.
            unsafe {
                let p = malloc(size);
                assert!(!p.is_null());
                core::ptr::write_bytes(p, 0xAB, size);
                ptrs.push(p as usize);
            }
            total += size;
        }
        let (rss_peak, fp_peak) = (rss(), info().footprint);
        assert!(rss_peak >= rss0 + (45 << 20), "{order}: rss {rss0} -> {rss_peak} for 50 MB");
        assert!(fp_peak >= fp0 + (45 << 20));
        match order {
            "random" => ptrs.shuffle(&mut rng),
            "lifo" => {}
            _ => {
                for i in 0..ptrs.len() / 2 {
                    let j = ptrs.len() - 1 - i;
                    ptrs.swap(i, j);
                }
            }
        }
        // LIFO pops from the end: the last allocated first.
        while let Some(p) = ptrs.pop() {
            // SAFETY: a live block.
            unsafe { free(p as *mut u8) };
        }
        heap_ok();
        // What could not coalesce into the top (the thread cache's last
        // blocks keep parts apart) stays, dirty, for reuse until it has
        // been unused for the purge delay; the heap's checks then give it
        // back. Once in real time (a check ends the period of the frees,
        // the next one, the delay later, purges), then with a delay of 0
        // (whatever was freed before a check goes at that check).
        let kept = rss();
        if order == "random" {
            heap::process().purge_expired();
            sleep_ms(PURGE_DELAY_MS as u64 / 4 + 50);
            heap::process().purge_expired();
            sleep_ms(PURGE_DELAY_MS as u64 + 50);
        } else {
            heap::process().set_purge_delay(0);
        }
        heap::process().purge_expired();
        heap::process().set_purge_delay(PURGE_DELAY_MS);
        let rss1 = rss();
        // SAFETY: plain C call.
        unsafe { malloc_trim(0) };
        let fp1 = info().footprint;
        rawrt::print!(
            "[{order}: rss {}K -> {}K -> {}K -> {}K, footprint {}K -> {}K -> {}K] ",
            rss0 >> 10,
            rss_peak >> 10,
            kept >> 10,
            rss1 >> 10,
            fp0 >> 10,
            fp_peak >> 10,
            fp1 >> 10
        );
        assert!(fp1 <= fp0 + FOOTPRINT_SLACK, "{order}: footprint {fp0} -> {fp1}");
        // Under qemu-user this is qemu's resident set, guest memory
        // included; qemu 7.2 passes MADV_DONTNEED on anonymous memory to
        // the host, so the guest's pages do go back.
        assert!(rss1 <= rss0 + RSS_SLACK, "{order}: rss {rss0} -> {rss1}");
    }
}

fn sleep_ms(ms: u64) {
    let t = rawrt::sys::time::Timespec {
        sec: (ms / 1000) as i64,
        nsec: (ms % 1000 * 1_000_000) as i64,
    };
    rawrt::sys::time::clock_nanosleep(rawrt::sys::time::CLOCK_MONOTONIC, 0, &t).expect("sleep");
}

/// At least `min` bytes, and more than any free block of the process heap
/// holds: a request past the mmap threshold that free memory cannot
/// serve gets a mapping of its own (one that fits is served from free
/// memory, without a system call).
fn beyond_free(min: usize) -> usize {
    min.max(info().largest_free_block + 16)
}

pub fn large_blocks_map_unmap_remap() {
    // SAFETY: plain C calls on live blocks throughout.
    unsafe {
        let n = beyond_free(256 << 10);
        let i0 = info();
        let p = malloc(n);
        assert!(!p.is_null());
        fill(p, 256 << 10, 1);
        let i1 = info();
        let usable = malloc_usable_size(p);
        assert!(usable >= n && usable < n + PAGE, "usable {usable} for {n}");
        assert!(i1.mmap_calls > i0.mmap_calls, "a mapping of its own");
        assert!(i1.mmap_calls <= i0.mmap_calls + 2, "the block and at most the block table");
        assert_eq!(i1.brk_calls, i0.brk_calls);
        assert_eq!(i1.allocated_blocks, i0.allocated_blocks + 1);
        assert_eq!(i1.total_allocated_bytes, i0.total_allocated_bytes + usable);
        assert!(i1.footprint >= i0.footprint + n);
        // Growing: mremap, contents kept.
        let q = realloc(p, n + (1 << 20));
        assert!(!q.is_null());
        assert_pattern(q, 256 << 10, 1);
        let i2 = info();
        assert_eq!(i2.mremap_calls, i1.mremap_calls + 1, "realloc of a large block uses mremap");
        assert_eq!((i2.mmap_calls, i2.munmap_calls), (i1.mmap_calls, i1.munmap_calls));
        fill(q, n + (1 << 20), 2);
        // Shrinking (still large): mremap again.
        let r = realloc(q, 200 << 10);
        assert!(!r.is_null());
        assert_pattern(r, 200 << 10, 2);
        let i3 = info();
        assert_eq!(i3.mremap_calls, i2.mremap_calls + 1);
        assert!(malloc_usable_size(r) < (200 << 10) + PAGE);
        // Free: munmap, and the figures come back.
        free(r);
        let i4 = info();
        assert_eq!(i4.munmap_calls, i3.munmap_calls + 1, "free of a large block unmaps it");
        assert_eq!(
            (i4.allocated_blocks, i4.total_allocated_bytes),
            (i0.allocated_blocks, i0.total_allocated_bytes)
        );
        assert!(
            i4.footprint <= i0.footprint + PAGE,
            "footprint {} -> {}",
            i0.footprint,
            i4.footprint
        );
        // A large block shrunk below the threshold moves into the heap.
        let p = malloc(beyond_free(300 << 10));
        // The block's mapping, and a new table of large blocks when the
        // old one filled with entries and tombstones of freed blocks (how
        // many there are depends on whether the kernel reused addresses):
        // the old table is unmapped then.
        let tables = info().mmap_calls - i4.mmap_calls - 1;
        assert!(tables <= 1, "{tables} new tables of large blocks for one block");
        fill(p, 4096, 3);
        let q = realloc(p, 1000);
        assert_pattern(q, 1000, 3);
        assert!(malloc_usable_size(q) < 1100);
        assert_eq!(info().munmap_calls, i4.munmap_calls + tables + 1);
        free(q);
        heap_ok();
    }
}

pub fn mmap_threshold_is_settable() {
    let h = heap::process();
    // SAFETY: plain C calls on live blocks.
    unsafe {
        // At the default: below maps nothing, at the threshold maps.
        let i0 = info();
        let a = malloc(DEFAULT_MMAP_THRESHOLD - 1);
        assert_eq!(info().mmap_calls, i0.mmap_calls, "below the threshold");
        let i1 = info();
        let b = malloc(beyond_free(DEFAULT_MMAP_THRESHOLD));
        assert_eq!(info().mmap_calls, i1.mmap_calls + 1, "at the threshold");
        free(a);
        free(b);
        // Raised to 1 MiB: 256 KiB comes from the heap.
        h.set_mmap_threshold(1 << 20);
        let i2 = info();
        let c = malloc(256 << 10);
        fill(c, 256 << 10, 4);
        let i3 = info();
        assert_eq!(
            (i3.mmap_calls, i3.mremap_calls),
            (i2.mmap_calls, i2.mremap_calls),
            "256 KiB below a 1 MiB threshold"
        );
        free(c);
        assert_eq!(info().munmap_calls, i3.munmap_calls);
        // Lowered to 64 KiB: 100 KiB gets its own mapping.
        h.set_mmap_threshold(64 << 10);
        let n = beyond_free(100 << 10);
        let i4 = info();
        let d = malloc(n);
        fill(d, 100 << 10, 5);
        assert_eq!(info().mmap_calls, i4.mmap_calls + 1);
        free(d);
        assert_eq!(info().munmap_calls, i4.munmap_calls + 1);
        h.set_mmap_threshold(DEFAULT_MMAP_THRESHOLD);
    }
    heap_ok();
}

pub fn trim_gives_back_the_top() {
    // SAFETY: plain C calls on live blocks.
    unsafe {
        let low = malloc(64);
        let fp0 = info().footprint;
        let mut ptrs = Table::<usize>::new(100_000);
        // Past what free memory holds: the heap grows by 4 MiB.
        while info().footprint < fp0 + (4 << 20) {
            let p = malloc(500);
            core::ptr::write_bytes(p, 1, 500);
            ptrs.push(p as usize);
        }
        let fp_full = info().footprint;
        while let Some(p) = ptrs.pop() {
            free(p as *mut u8);
        }
        let fp_auto = info().footprint;
        assert!(
            fp_auto <= fp0 + FOOTPRINT_SLACK,
            "an automatic trim: {fp0} -> {fp_full} -> {fp_auto}"
        );
        let purges = info().madvise_calls;
        let trimmed = malloc_trim(0);
        let fp_trim = info().footprint;
        assert!(
            fp_trim < fp_auto,
            "trim(0) gives back the top the automatic trim kept: {fp_auto} -> {fp_trim}"
        );
        assert!(fp_trim <= fp0 + PAGE, "trim(0) keeps at most a page of top: {fp0} -> {fp_trim}");
        assert_eq!(trimmed, 1, "malloc_trim reports that it gave memory back");
        let purges = info().madvise_calls - purges;
        let i = info();
        assert_eq!(malloc_trim(0), 0, "nothing left to give back");
        assert_eq!(info().footprint, fp_trim);
        assert_eq!(
            info().madvise_calls,
            i.madvise_calls,
            "nothing left to purge ({purges} purged before)"
        );
        free(low);
    }
    heap_ok();
}

pub fn largest_free_block_needs_no_syscall() {
    let mut rng = Rng::new(99);
    let mut ptrs = Table::<usize>::new(4000);
    // SAFETY: plain C calls on live blocks.
    unsafe {
        for round in 0..6 {
            // A fragmented heap: blocks of all sizes, every other freed.
            for _ in 0..600 {
                ptrs.push(
                    malloc(16 + rng.below(if round % 2 == 0 { 5000 } else { 100_000 })) as usize
                );
            }
            let mut i = 0;
            while i < ptrs.len() {
                free(ptrs.swap_remove(i) as *mut u8);
                i += 1;
            }
            let before = info();
            let l = before.largest_free_block;
            assert!(l > 0);
            let p = malloc(l);
            assert!(!p.is_null(), "malloc(largest_free_block = {l})");
            let after = info();
            assert_eq!(syscalls(&after), syscalls(&before), "malloc({l}) made a system call");
            core::ptr::write_bytes(p, 0xEE, l);
            ptrs.push(p as usize);
            // (One of largest + 16 bytes may still come without the kernel
            // on the process heap: parked small blocks coalesce with their
            // free neighbours before the heap grows. The region heap, which
            // parks nothing, is exact both ways: see region.rs.)
        }
        while let Some(p) = ptrs.pop() {
            free(p as *mut u8);
        }
    }
    heap_ok();
}

/// A foreign user that moves the break between every two growths of the
/// heap, more often than the heap has segment slots (32), while blocks
/// stay live in every segment: the heap must keep serving (a new segment
/// above each foreign area, or mmap'd memory), never fail for want of
/// bookkeeping.
pub fn foreign_brk_mover_many_times() {
    let o = rawrt::check::child(|| {
        let mut foreign = Table::<Owned>::new(256);
        let mut blocks = Table::<Owned>::new(256);
        for round in 0..100u64 {
            // A block bigger than any free memory: the heap must grow.
            let size = (info().largest_free_block + 16).clamp(64 << 10, 100 << 10);
            // SAFETY: plain C call.
            let p = unsafe { malloc(size) };
            if p.is_null() {
                rawrt::print!(
                    "malloc({}) failed in round {} with {} segments' worth of blocks live",
                    size,
                    round,
                    blocks.len()
                );
                return 1;
            }
            fill(p, size, round);
            blocks.push((p as usize, size, round));
            let base = (current_brk() + 15) & !15;
            // SAFETY: raising the break maps new memory only.
            assert_eq!(unsafe { mm::brk(base + PAGE) }, base + PAGE);
            fill(base as *mut u8, PAGE, 1000 + round);
            foreign.push((base, PAGE, 1000 + round));
        }
        verify_all(&blocks);
        verify_all(&foreign);
        heap_ok();
        0
    });
    assert_eq!(o.ended, rawrt::check::Ended::Exited(0), "{}{}", o.stdout(), o.stderr());
}
