//! Tests of when dirty memory goes back, over the simulated kernel and
//! its clock: not when it is freed, but once it has stayed unused for the
//! purge delay (checked every so often, never with a clock read per
//! free), at once on `trim`, and never while it is reused.

use super::mock_os::MockOs;
use super::tests_model::heap_resident;
use super::{ProcessSource, RawHeap, DECAY_TICKS, PURGE_DELAY_MS};

type Mocked = RawHeap<ProcessSource<MockOs>>;

const BIG: usize = 256 << 10;

fn a(h: &mut Mocked, size: usize) -> usize {
    let p = h.alloc(size, 16).expect("alloc").as_ptr() as usize;
    // SAFETY: a live block of `size` bytes: written whole (dirty).
    unsafe { core::ptr::write_bytes(p as *mut u8, 0x77, size) };
    p
}

fn free(h: &mut Mocked, p: usize) {
    // SAFETY: tests free their own live blocks.
    unsafe { h.free(p as *mut u8) }.expect("free");
}

/// Resident bytes of the whole pages inside block `p` of `len` bytes.
fn resident(p: usize, len: usize) -> usize {
    let (lo, hi) = (p.next_multiple_of(4096), (p + len) & !4095);
    super::tests_model::resident(lo, hi - lo)
}

fn madvises(h: &Mocked) -> usize {
    h.info().madvise_calls
}

/// A heap with big blocks kept apart by small live ones (so that a freed
/// big block stays a free block and does not merge with the top), all
/// served from the break, and a top too small for one; returns the heap,
/// the big blocks, the guards.
fn setup(n: usize) -> (Mocked, Vec<usize>, Vec<usize>) {
    let mut h = RawHeap::new(ProcessSource::new(MockOs::new(1 << 30)));
    h.set_mmap_threshold(usize::MAX);
    let mut big = Vec::new();
    let mut guards = Vec::new();
    for _ in 0..n {
        big.push(a(&mut h, BIG));
        guards.push(a(&mut h, 64));
    }
    // Fill the top, so that a request of a freed block's size is served
    // by that block (the top goes first, see `alloc.rs`).
    let top = h.info().largest_free_block;
    if top > 4096 {
        guards.push(a(&mut h, top - 256));
    }
    (h, big, guards)
}

/// `n` frees that leave dirty memory behind without changing much: a
/// small block from the top, freed back into it.
fn churn(h: &mut Mocked, n: usize) {
    for _ in 0..n {
        let p = a(h, 100);
        free(h, p);
    }
}

fn advance(h: &mut Mocked, ms: usize) {
    h.source().os().clock += ms as u64;
}

fn freed_memory_stays_until_the_delay_passed() {
    let (mut h, big, guards) = setup(8);
    let m0 = madvises(&h);
    for &p in &big {
        free(&mut h, p);
    }
    assert_eq!(madvises(&h), m0, "nothing purged when it is freed");
    let resident_freed = resident(big[0], BIG);
    assert_eq!(resident_freed, BIG - 4096, "the freed pages stay");
    // Used on, without time passing: nothing goes back.
    churn(&mut h, 10 * DECAY_TICKS as usize);
    assert_eq!(madvises(&h), m0, "no time passed");
    // Time passes in steps of a tenth of the delay, the heap used on all
    // along: nothing goes before the delay has passed, everything by a
    // quarter of it later, plus the time between two checks (a period
    // ends at the first check a quarter of the delay after it began; its
    // memory goes the delay after that).
    // The churn's small blocks come from one of the big free blocks (the
    // best fit): that one is in use all along, and stays.
    let mut t = 0;
    while madvises(&h) < m0 + big.len() - 1 {
        advance(&mut h, PURGE_DELAY_MS / 10);
        t += PURGE_DELAY_MS / 10;
        churn(&mut h, DECAY_TICKS as usize);
        assert!(madvises(&h) == m0 || t >= PURGE_DELAY_MS, "purged after {t} ms");
        assert!(t <= PURGE_DELAY_MS * 5 / 4 + PURGE_DELAY_MS / 10, "not purged after {t} ms");
    }
    let used = a(&mut h, 100);
    for &p in &big {
        let live = (p..p + BIG).contains(&used);
        assert_eq!(resident(p, BIG) == 0, !live, "block {p:#x} (reused: {live})");
    }
    free(&mut h, used);
    // Purged once: later checks leave them alone.
    advance(&mut h, 10 * PURGE_DELAY_MS);
    churn(&mut h, 3 * DECAY_TICKS as usize);
    assert_eq!(madvises(&h), m0 + big.len() - 1);
    for p in guards {
        free(&mut h, p);
    }
    let mut out = String::new();
    assert!(h.check(true, &mut out), "{out}");
}

fn reuse_within_the_delay_faults_nothing() {
    let (mut h, big, _guards) = setup(8);
    let m0 = madvises(&h);
    let before = heap_resident(&h);
    // Rounds of freeing everything big and taking it again, a third of
    // the delay apart, with checks between: the pages stay, nothing is
    // purged, nothing has to be faulted in again.
    let mut live = big.clone();
    for _ in 0..20 {
        for &p in &live {
            free(&mut h, p);
        }
        h.purge_expired();
        advance(&mut h, PURGE_DELAY_MS / 3);
        h.purge_expired();
        live = live.iter().map(|_| a(&mut h, BIG)).collect();
        h.purge_expired();
    }
    live.sort_unstable();
    assert_eq!(live, big, "the same blocks were reused");
    assert_eq!(madvises(&h), m0, "memory reused within the delay is never purged");
    assert_eq!(heap_resident(&h), before, "nor faulted in again");
    // Then left alone for the delay (and a check to end the period of the
    // last frees): it goes back.
    for &p in &live {
        free(&mut h, p);
    }
    for _ in 0..6 {
        advance(&mut h, PURGE_DELAY_MS / 4);
        h.purge_expired();
    }
    assert_eq!(madvises(&h), m0 + big.len());
}

fn clock_reads_are_rare() {
    let (mut h, big, _guards) = setup(1);
    free(&mut h, big[0]); // dirty memory worth a check
    let reads0 = h.source().os().clock_reads;
    // Every free counts towards a check; a check reads the clock once.
    let n = 100 * DECAY_TICKS as usize;
    for i in 0..n {
        let p = a(&mut h, 16 + i % 4000);
        free(&mut h, p);
    }
    let reads = h.source().os().clock_reads - reads0;
    assert!(reads <= n / DECAY_TICKS as usize + 2, "{reads} clock reads for {n} frees");
    assert!(reads >= n / DECAY_TICKS as usize - 2, "{reads} clock reads for {n} frees");
    // With less dirty memory than could ever be purged, none.
    let mut h = RawHeap::new(ProcessSource::new(MockOs::new(1 << 30)));
    for i in 0..n {
        let p = a(&mut h, 16 + i % 4000);
        free(&mut h, p);
    }
    assert_eq!(h.source().os().clock_reads, 0, "no clock read for a few dirty pages");
}

fn trim_purges_at_once_and_the_delay_is_settable() {
    let (mut h, big, _guards) = setup(4);
    let m0 = madvises(&h);
    free(&mut h, big[0]);
    free(&mut h, big[2]);
    assert_eq!(madvises(&h), m0);
    assert!(h.trim(usize::MAX / 8), "malloc_trim purges whatever its age");
    assert_eq!(madvises(&h), m0 + 2);
    assert_eq!(resident(big[0], BIG), 0);
    // Never automatically.
    h.set_purge_delay(usize::MAX);
    assert_eq!(h.purge_delay(), usize::MAX);
    free(&mut h, big[1]);
    advance(&mut h, 100 * PURGE_DELAY_MS);
    churn(&mut h, 4 * DECAY_TICKS as usize);
    h.purge_expired();
    assert_eq!(madvises(&h), m0 + 2, "a delay of usize::MAX never purges by itself");
    // 0: at the next check.
    h.set_purge_delay(0);
    h.purge_expired();
    assert_eq!(madvises(&h), m0 + 3, "a delay of 0 purges at the next check");
    free(&mut h, big[3]);
    h.purge_expired();
    assert_eq!(madvises(&h), m0 + 4);
}

fn clockless_heap_counts_checks() {
    // A source without a clock (None): memory expires after some checks.
    let (mut h, big, _guards) = setup(2);
    h.source().os().no_clock = true;
    let m0 = madvises(&h);
    free(&mut h, big[0]);
    h.purge_expired();
    assert_eq!(madvises(&h), m0, "not at the first check");
    for _ in 0..6 {
        h.purge_expired();
    }
    assert_eq!(madvises(&h), m0 + 1, "after a few checks");
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    (
        "heap::decay::freed_memory_stays_until_the_delay_passed",
        freed_memory_stays_until_the_delay_passed,
    ),
    ("heap::decay::reuse_within_the_delay_faults_nothing", reuse_within_the_delay_faults_nothing),
    ("heap::decay::clock_reads_are_rare", clock_reads_are_rare),
    (
        "heap::decay::trim_purges_at_once_and_the_delay_is_settable",
        trim_purges_at_once_and_the_delay_is_settable,
    ),
    ("heap::decay::clockless_heap_counts_checks", clockless_heap_counts_checks),
];
