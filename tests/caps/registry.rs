//! The registry of heaps: registration errors, the priority walk, owner
//! lookups for C's `free`, `realloc` and `malloc_usable_size`, the
//! aggregated figures and the failed-allocation callback. Each test runs
//! in a child ([`isolated`]), so that its registrations do not outlive
//! it.

use super::util::*;
use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicUsize, Ordering};
use rawrt::check::{child, Ended};
use rawrt::heap::MultiHeapInfo;

const SIGABRT: i32 = 6;
const K64: usize = 64 << 10;

/// Runs `f` in a child, which must exit with status 0.
#[track_caller]
pub fn isolated(f: impl FnOnce()) {
    let o = child(|| {
        f();
        0
    });
    assert_eq!(o.ended, Ended::Exited(0), "child: {}{}", o.stdout(), o.stderr());
}

/// Runs `f` in a child, which must abort after printing exactly `want`
/// on stderr (`{addr}` stands for the address it printed on stdout).
#[track_caller]
fn aborts(want: &str, f: impl FnOnce() -> *mut u8) {
    let o = child(|| {
        let p = f();
        rawrt::println!("{:#x}", p as usize);
        // SAFETY: the misuse under test; the child dies of it.
        unsafe { free(core::hint::black_box(p)) };
        0
    });
    let addr = o.stdout().trim();
    assert_eq!(o.ended, Ended::Signaled(SIGABRT), "{} / {}", o.stdout(), o.stderr());
    assert_eq!(o.stderr(), want.replace("{addr}", addr));
}

pub fn no_syscall_before_first_use() {
    // Registration maps nothing: the region is the caller's.
    isolated(|| {
        let (s, e) = region(K64);
        let before = rawrt::heap::process().info().mmap_calls;
        // SAFETY: a fresh mapping, given to the heap.
        assert_eq!(unsafe { heap_caps_add_region(s, e) }, ESP_OK);
        assert_eq!(rawrt::heap::process().info().mmap_calls, before);
    });
}

pub fn registration_errors() {
    isolated(|| {
        let (s, e) = region(4 * K64);
        let m = (s + e) / 2;
        let caps = [MALLOC_CAP_PID2, 0, 0];
        let add = |c: *const u32, s: isize, e: isize| {
            // SAFETY: the regions are this test's mapping (or rejected).
            unsafe { heap_caps_add_region_with_caps(c, s, e) }
        };
        // Null, inverted, empty, too small, null caps, no caps.
        assert_eq!(add(caps.as_ptr(), 0, 4096), ESP_ERR_INVALID_ARG);
        assert_eq!(add(caps.as_ptr(), m, s), ESP_ERR_INVALID_ARG);
        assert_eq!(add(caps.as_ptr(), s, s), ESP_ERR_INVALID_ARG);
        assert_eq!(add(caps.as_ptr(), s, s + MIN_REGION as isize - 1), ESP_ERR_INVALID_ARG);
        assert_eq!(add(core::ptr::null(), s, m), ESP_ERR_INVALID_ARG);
        assert_eq!(add([0u32; 3].as_ptr(), s, m), ESP_ERR_INVALID_ARG);
        // The smallest region that is allowed; the next one starts at its end.
        let min = s + MIN_REGION as isize;
        assert_eq!(add(caps.as_ptr(), s, min), ESP_OK);
        // SAFETY: the region is registered: a heap has room in it.
        let p = unsafe { heap_caps_malloc(16, MALLOC_CAP_PID2) };
        assert!(inside(p, (s as usize, min as usize)), "{p:?}");
        assert_eq!(add(caps.as_ptr(), min, m), ESP_OK);
        // Overlaps: the same, inside, across either end, around.
        assert_eq!(add(caps.as_ptr(), s, min), ESP_ERR_INVALID_ARG);
        assert_eq!(
            add(caps.as_ptr(), s + 4096, s + 8192 + MIN_REGION as isize),
            ESP_ERR_INVALID_ARG
        );
        assert_eq!(add(caps.as_ptr(), m - 4096, e), ESP_ERR_INVALID_ARG);
        assert_eq!(add(caps.as_ptr(), s - 4096 * 4, s + 4096), ESP_ERR_INVALID_ARG);
        assert_eq!(add(caps.as_ptr(), s - 4096, e), ESP_ERR_INVALID_ARG);
        // Right after the second: fine; plain RAM for heap_caps_add_region.
        // SAFETY: the rest of this test's mapping.
        assert_eq!(unsafe { heap_caps_add_region(m, e) }, ESP_OK);
        assert_eq!(registry::len(), 3);
        assert_eq!(registry::get(2).caps, PROCESS_PRIO);
    });
}

pub fn registry_full_is_no_mem() {
    isolated(|| {
        let step = MIN_REGION.next_multiple_of(4096);
        let (s, _) = region(step * (MAX_HEAPS + 1));
        let caps = [MALLOC_CAP_PID3, 0, 0];
        for i in 0..=MAX_HEAPS {
            let a = s + (i * step) as isize;
            // SAFETY: this test's mapping, a piece per heap.
            let r = unsafe { heap_caps_add_region_with_caps(caps.as_ptr(), a, a + step as isize) };
            assert_eq!(r, if i < MAX_HEAPS { ESP_OK } else { ESP_ERR_NO_MEM }, "heap {i}");
        }
    });
}

pub fn priority_order_with_three_overlapping_sets() {
    isolated(|| {
        const A: u32 = MALLOC_CAP_PID4;
        const B: u32 = MALLOC_CAP_PID5;
        const C: u32 = MALLOC_CAP_PID6;
        // h1: A first, B second; h2: B first, C last; h3: C first, A second;
        // h4: A and B second (registered last).
        let h1 = add([A, B, 0], K64);
        let h2 = add([B, 0, C], K64);
        let h3 = add([C, A, 0], K64);
        let h4 = add([0, A | B, 0], K64);
        let first = |caps: u32| {
            // SAFETY: plain calls; the block is leaked in the child.
            let p = unsafe { heap_caps_malloc(64, caps) };
            [h1, h2, h3, h4].iter().position(|&h| inside(p, h)).map(|i| i + 1)
        };
        // Priority 0 first, then registration order.
        assert_eq!(first(A), Some(1));
        assert_eq!(first(B), Some(2));
        assert_eq!(first(C), Some(3));
        // All of the caps, of any priority: A|B is h1 (prio 0) before h4.
        assert_eq!(first(A | B), Some(1));
        assert_eq!(first(B | C), Some(2));
        assert_eq!(first(A | C), Some(3));
        assert_eq!(first(A | B | C), None);
        // Once h1 is full, A goes on to priority 1: h3 (C at 0, A at 1)
        // before h4 (A at 1), in registration order; h2 has no A.
        let mut n = 0;
        while first(A) == Some(1) {
            n += 1;
        }
        assert!(n > 500, "h1 took {n} more blocks");
        assert_eq!(first(A), Some(3));
        assert_eq!(first(A | B), Some(4));
        // Process heap's caps are never in these heaps.
        assert_eq!(first(MALLOC_CAP_PID7), None);
    });
}

pub fn plain_free_realloc_and_usable_size_take_region_blocks() {
    isolated(|| {
        let h = add([MALLOC_CAP_PID2, 0, 0], K64);
        let free0 = {
            // SAFETY: plain call.
            unsafe { heap_caps_get_free_size(MALLOC_CAP_PID2) }
        };
        // SAFETY: blocks of the region heap through the plain C calls.
        unsafe {
            let p = heap_caps_malloc(100, MALLOC_CAP_PID2);
            assert!(inside(p, h));
            assert!(malloc_usable_size(p) >= 100);
            assert_eq!(heap_caps_get_allocated_size(p), malloc_usable_size(p));
            p.write_bytes(0x5a, 100);
            let q = realloc(p, 3000);
            assert!(inside(q, h), "realloc keeps a block in its heap");
            assert_eq!(*q.add(99), 0x5a);
            assert!(malloc_usable_size(q) >= 3000);
            free(q);
            assert_eq!(heap_caps_get_free_size(MALLOC_CAP_PID2), free0);
            let r = heap_caps_malloc(10, MALLOC_CAP_PID2);
            heap_caps_free(r);
            let r = heap_caps_malloc(10, MALLOC_CAP_PID2);
            assert_eq!(realloc(r, 0), core::ptr::null_mut());
            assert_eq!(heap_caps_get_free_size(MALLOC_CAP_PID2), free0);
            // Process heap blocks still go their own way.
            let m = malloc(50);
            assert!(!inside(m, h));
            free(m);
        }
    });
}

pub fn foreign_pointers_still_abort() {
    // A pointer no heap owns: the process heap's verdict, as before.
    static mut DATA: [u64; 8] = [0; 8];
    aborts("rawrt: free(): invalid pointer of {addr}\n", || {
        add([MALLOC_CAP_PID2, 0, 0], K64);
        (&raw mut DATA).cast::<u8>().wrapping_add(16)
    });
    // A region's own memory that is no block (its heap's state).
    aborts("rawrt: free(): invalid pointer of {addr}\n", || {
        let h = add([MALLOC_CAP_PID2, 0, 0], K64);
        (h.0 + 64) as *mut u8
    });
}

pub fn region_block_misuse_aborts_naming_the_pointer() {
    aborts("rawrt: free(): double free of {addr}\n", || {
        add([MALLOC_CAP_PID2, 0, 0], K64);
        // SAFETY: a block, freed, then (by the caller) freed again.
        unsafe {
            let p = heap_caps_malloc(200, MALLOC_CAP_PID2);
            free(p);
            p
        }
    });
}

/// The sum of the region heaps' figures that have `caps`, plus the
/// process heap's if it has them.
fn sum_of_heaps(caps: u32) -> MultiHeapInfo {
    let mut s = MultiHeapInfo::default();
    for h in heaps(caps) {
        let i: MultiHeapInfo = h.info().into();
        s.total_free_bytes += i.total_free_bytes;
        s.total_allocated_bytes += i.total_allocated_bytes;
        s.largest_free_block = s.largest_free_block.max(i.largest_free_block);
        s.minimum_free_bytes += i.minimum_free_bytes;
        s.allocated_blocks += i.allocated_blocks;
        s.free_blocks += i.free_blocks;
        s.total_blocks += i.total_blocks;
    }
    s
}

pub fn aggregate_figures_are_the_sum_of_the_heaps() {
    isolated(|| {
        let h1 = add([MALLOC_CAP_PID3, MALLOC_CAP_8BIT, 0], K64);
        let h2 = add([MALLOC_CAP_PID3, 0, 0], 2 * K64);
        let _h3 = add([MALLOC_CAP_PID4, 0, 0], K64);
        // SAFETY: plain calls; blocks leaked in the child.
        unsafe {
            for i in 0..40 {
                heap_caps_malloc(100 + i * 37, MALLOC_CAP_PID3);
            }
            let big = heap_caps_malloc(90_000, MALLOC_CAP_PID3);
            assert!(inside(big, h2));
        }
        let mut got = MultiHeapInfo::default();
        // SAFETY: `got` is writable.
        unsafe { heap_caps_get_info(&mut got, MALLOC_CAP_PID3) };
        // Exactly h1 + h2, each from its own heap's figures.
        assert_eq!(heaps(MALLOC_CAP_PID3).count(), 2);
        let mut want = MultiHeapInfo::default();
        for e in registry::entries().take(2) {
            let i: MultiHeapInfo = e.heap.info().into();
            want.total_free_bytes += i.total_free_bytes;
            want.total_allocated_bytes += i.total_allocated_bytes;
            want.largest_free_block = want.largest_free_block.max(i.largest_free_block);
            want.minimum_free_bytes += i.minimum_free_bytes;
            want.allocated_blocks += i.allocated_blocks;
            want.free_blocks += i.free_blocks;
            want.total_blocks += i.total_blocks;
        }
        assert_eq!(got, want);
        assert_eq!(got, sum_of_heaps(MALLOC_CAP_PID3));
        assert_eq!(got.allocated_blocks, 41);
        // SAFETY: plain calls.
        unsafe {
            assert_eq!(heap_caps_get_free_size(MALLOC_CAP_PID3), want.total_free_bytes);
            assert_eq!(
                heap_caps_get_total_size(MALLOC_CAP_PID3),
                want.total_free_bytes + want.total_allocated_bytes
            );
            assert_eq!(heap_caps_get_largest_free_block(MALLOC_CAP_PID3), want.largest_free_block);
            // 8BIT: the process heap and h1 (8BIT at priority 1).
            let mut p8 = MultiHeapInfo::default();
            heap_caps_get_info(&mut p8, MALLOC_CAP_8BIT | MALLOC_CAP_PID3);
            assert_eq!(p8, registry::get(0).heap.info().into());
            // Nothing has these: zeros.
            heap_caps_get_info(&mut p8, MALLOC_CAP_PID3 | MALLOC_CAP_PID4);
            assert_eq!(p8, MultiHeapInfo::default());
        }
        // The total is the region minus the heap's state.
        let t = sum_of_heaps(MALLOC_CAP_PID3);
        let regions = (h1.1 - h1.0) + (h2.1 - h2.0);
        assert!(t.total_free_bytes + t.total_allocated_bytes < regions);
    });
}

pub fn realloc_moves_across_kinds() {
    isolated(|| {
        let a = add([MALLOC_CAP_PID2, 0, 0], K64);
        let b = add([MALLOC_CAP_PID3, MALLOC_CAP_8BIT, 0], K64);
        // SAFETY: plain calls on live blocks.
        unsafe {
            let p = heap_caps_malloc(300, MALLOC_CAP_PID2);
            assert!(inside(p, a));
            for i in 0..300 {
                *p.add(i) = i as u8;
            }
            // To another region: moved, contents kept.
            let q = heap_caps_realloc(p, 500, MALLOC_CAP_PID3);
            assert!(inside(q, b));
            assert!((0..300).all(|i| *q.add(i) == i as u8));
            // Same caps: stays (grows in place or moves within its heap).
            let r = heap_caps_realloc(q, 800, MALLOC_CAP_PID3 | MALLOC_CAP_8BIT);
            assert!(inside(r, b));
            // To the process heap, and back to a region.
            let s = heap_caps_realloc(r, 200, MALLOC_CAP_DEFAULT);
            assert!(!inside(s, a) && !inside(s, b));
            assert!((0..200).all(|i| *s.add(i) == i as u8));
            let t = heap_caps_realloc(s, 100, MALLOC_CAP_PID2);
            assert!(inside(t, a));
            assert!((0..100).all(|i| *t.add(i) == i as u8));
            // No heap has the caps: NULL, the block intact, ENOMEM.
            set_errno(0);
            assert!(heap_caps_realloc(t, 100, MALLOC_CAP_PID7).is_null());
            assert_eq!(errno(), 12);
            assert!(heap_caps_realloc(t, 100, MALLOC_CAP_INVALID | MALLOC_CAP_PID2).is_null());
            assert!(inside(t, a) && *t.add(99) == 99);
            // Size 0 frees, NULL allocates.
            assert!(heap_caps_realloc(t, 0, MALLOC_CAP_PID3).is_null());
            let n = heap_caps_realloc(core::ptr::null_mut(), 64, MALLOC_CAP_PID3);
            assert!(inside(n, b));
            assert_eq!(heap_caps_get_info_allocated(MALLOC_CAP_PID2), 0);
        }
    });
}

/// Allocated bytes of the heaps with `caps`.
fn heap_caps_get_info_allocated(caps: u32) -> usize {
    let mut i = MultiHeapInfo::default();
    // SAFETY: `i` is writable.
    unsafe { heap_caps_get_info(&mut i, caps) };
    i.total_allocated_bytes
}

static CALLS: AtomicUsize = AtomicUsize::new(0);
static SIZE: AtomicUsize = AtomicUsize::new(0);
static CAPS: AtomicUsize = AtomicUsize::new(0);
static mut NAME: [u8; 48] = [0; 48];

extern "C" fn hook(size: usize, caps: u32, name: *const c_char) {
    CALLS.fetch_add(1, Ordering::Relaxed);
    SIZE.store(size, Ordering::Relaxed);
    CAPS.store(caps as usize, Ordering::Relaxed);
    // SAFETY: rawrt passes a NUL-terminated name; the copy fits.
    unsafe {
        let n = CStr::from_ptr(name).to_bytes();
        (&raw mut NAME).cast::<u8>().write_bytes(0, 48);
        (&raw mut NAME).cast::<u8>().copy_from(n.as_ptr(), n.len().min(47));
    }
}

fn last_call() -> (usize, usize, u32, &'static str) {
    // SAFETY: written by the hook, on this thread.
    let name = unsafe { CStr::from_ptr((&raw const NAME).cast()) }.to_str().unwrap();
    (
        CALLS.load(Ordering::Relaxed),
        SIZE.load(Ordering::Relaxed),
        CAPS.load(Ordering::Relaxed) as u32,
        name,
    )
}

pub fn failed_alloc_callback_gets_size_caps_and_name() {
    isolated(|| {
        // SAFETY: plain calls.
        unsafe {
            assert_eq!(heap_caps_register_failed_alloc_callback(Some(hook)), ESP_OK);
            // No heap has the caps.
            assert!(heap_caps_malloc(123, MALLOC_CAP_PID6).is_null());
            assert_eq!(last_call(), (1, 123, MALLOC_CAP_PID6, "heap_caps_malloc"));
            // A heap has them, but not the room.
            add([MALLOC_CAP_PID6, 0, 0], K64);
            assert!(heap_caps_malloc(K64, MALLOC_CAP_PID6).is_null());
            assert_eq!(last_call(), (2, K64, MALLOC_CAP_PID6, "heap_caps_malloc"));
            assert!(heap_caps_calloc(3, K64, MALLOC_CAP_PID6 | MALLOC_CAP_8BIT).is_null());
            assert_eq!(
                last_call(),
                (3, 3 * K64, MALLOC_CAP_PID6 | MALLOC_CAP_8BIT, "heap_caps_calloc")
            );
            // realloc with new caps: the caps asked for.
            let p = heap_caps_malloc(64, MALLOC_CAP_PID6);
            assert!(!p.is_null());
            assert!(heap_caps_realloc(p, 32, MALLOC_CAP_RTCRAM).is_null());
            assert_eq!(last_call(), (4, 32, MALLOC_CAP_RTCRAM, "heap_caps_realloc"));
            // MALLOC_CAP_INVALID: NULL, reported with the caps as given.
            assert!(heap_caps_malloc(8, MALLOC_CAP_INVALID | MALLOC_CAP_8BIT).is_null());
            assert_eq!(
                last_call(),
                (5, 8, MALLOC_CAP_INVALID | MALLOC_CAP_8BIT, "heap_caps_malloc")
            );
            // Success calls nothing; clearing it stops the calls.
            assert!(!heap_caps_malloc(64, MALLOC_CAP_PID6).is_null());
            assert_eq!(heap_caps_register_failed_alloc_callback(None), ESP_OK);
            assert!(heap_caps_malloc(123, MALLOC_CAP_PID7).is_null());
            assert_eq!(last_call().0, 5);
        }
    });
}

pub fn owner_lookup_among_a_thousand_heaps() {
    isolated(|| {
        let step = MIN_REGION.next_multiple_of(4096);
        let (s, _) = region(step * 1000);
        let caps = [MALLOC_CAP_PID5, 0, 0];
        // Registered in a scrambled order, so that the sorted array shifts.
        let mut order: [u16; 1000] = core::array::from_fn(|i| i as u16);
        let mut rng = rawrt::check::Rng::new(7);
        for i in (1..1000).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &i in &order {
            let a = s + (i as usize * step) as isize;
            // SAFETY: this test's mapping, a piece per heap.
            let r = unsafe { heap_caps_add_region_with_caps(caps.as_ptr(), a, a + step as isize) };
            assert_eq!(r, ESP_OK);
        }
        for i in 0..1000 {
            let a = s as usize + i * step;
            let e = registry::owner(a + step / 2).expect("owner");
            assert_eq!((e.start, e.end), (a, a + step));
            assert_eq!(registry::owner(a + step - 1).unwrap().start, a);
        }
        assert!(registry::owner(s as usize - 1).is_none());
        assert!(registry::owner(s as usize + 1000 * step).is_none());
        // Blocks of all of them, freed through plain free.
        // SAFETY: plain calls.
        unsafe {
            let mut blocks = [core::ptr::null_mut(); 1000];
            for b in blocks.iter_mut() {
                *b = heap_caps_malloc(200, MALLOC_CAP_PID5);
                assert!(!b.is_null());
            }
            let all = heap_caps_get_free_size(MALLOC_CAP_PID5);
            for &b in blocks.iter() {
                free(b);
            }
            assert!(heap_caps_get_free_size(MALLOC_CAP_PID5) > all);
        }
    });
}

/// What a registered region's heap costs, exactly (page-aligned regions:
/// NuttX's small model up to 64 KiB, the compact wide format above), and
/// a 4 KiB region registers and serves `heap_caps_*` and plain `free`.
pub fn small_regions_register_and_cost_little() {
    isolated(|| {
        let caps = [MALLOC_CAP_PID7, 0, 0];
        for (len, want) in [(4 << 10, 3828), (64 << 10, 65236), (1 << 20, 1_047_752)] {
            // (The figures add up over the heaps with the caps: the
            // earlier sizes' heaps keep a few bytes.)
            // SAFETY: plain calls on the registered heaps.
            let before = unsafe { heap_caps_get_free_size(MALLOC_CAP_PID7) };
            assert!(before < 64);
            let r = add(caps, len);
            // SAFETY: as above.
            unsafe {
                assert_eq!(heap_caps_get_free_size(MALLOC_CAP_PID7) - before, want, "{len} B");
                assert_eq!(heap_caps_get_largest_free_block(MALLOC_CAP_PID7), want);
                assert!(len - want <= if len <= K64 { 1024 } else { 2048 });
                // Fill it: 16-byte aligned blocks (heap_caps_malloc's), all in
                // the region, then all back.
                let mut blocks = alloc::vec::Vec::new();
                loop {
                    let p = heap_caps_malloc(200, MALLOC_CAP_PID7);
                    if p.is_null() {
                        break;
                    }
                    assert!(inside(p, r) && p as usize % 16 == 0);
                    assert!(heap_caps_get_allocated_size(p) >= 200);
                    blocks.push(p);
                }
                assert!(blocks.len() >= 16, "{len}: {} blocks", blocks.len());
                for (k, &p) in blocks.iter().enumerate() {
                    if k % 2 == 0 {
                        free(p); // plain free finds the owner
                    } else {
                        heap_caps_free(p);
                    }
                }
                assert_eq!(
                    heap_caps_get_free_size(MALLOC_CAP_PID7) - before,
                    want,
                    "{len}: all back"
                );
            }
            // Fill this heap with one block. (The
            // largest free block is exact at the heap's own alignment, 8 in
            // the small model; heap_caps_malloc's 16 may cost a gap of up to
            // 24 bytes before the block.)
            let slack = if len <= K64 { 24 } else { 0 };
            // SAFETY: as above.
            unsafe {
                assert!(heap_caps_malloc(want + 1, MALLOC_CAP_PID7).is_null());
                let whole = heap_caps_malloc(want - slack, MALLOC_CAP_PID7);
                assert!(inside(whole, r), "{len}: the largest free block, less the slack");
            }
        }
    });
}
