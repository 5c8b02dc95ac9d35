//! Tests of how the process source moves the program break, over the
//! simulated kernel: one `brk` per growth once the break is known, a
//! foreign mover detected (through the process's record of the break, or
//! by the result of our own move), and the query before every move kept
//! where no record exists.

use super::mock_os::MockOs;
use super::{ProcessSource, RawHeap, GROW_STEP};

type Mocked = RawHeap<ProcessSource<MockOs>>;

fn mock() -> Mocked {
    RawHeap::new(ProcessSource::new(MockOs::new(1 << 30)))
}

fn a(h: &mut Mocked, size: usize) -> usize {
    h.alloc(size, 16).expect("alloc").as_ptr() as usize
}

fn free_all(h: &mut Mocked, ps: Vec<usize>) {
    for p in ps {
        // SAFETY: tests free their own live blocks.
        unsafe { h.free(p as *mut u8) }.expect("free");
    }
    let mut out = String::new();
    assert!(h.check(true, &mut out), "{out}");
}

/// Allocates 1000-byte blocks until the break has moved `moves` more
/// times; returns them.
fn grow_by(h: &mut Mocked, moves: usize) -> Vec<usize> {
    let mut ps = Vec::new();
    let mut brk = h.source().os().current_brk();
    let mut seen = 0;
    while seen < moves {
        ps.push(a(h, 1000));
        let now = h.source().os().current_brk();
        if now != brk {
            // A step from our end (the first one from the initial break,
            // which is not page-aligned).
            assert!(now > brk && now - brk <= GROW_STEP + 4096, "moved by a step");
            (brk, seen) = (now, seen + 1);
        }
    }
    ps
}

fn growth_makes_one_brk_per_move() {
    let mut h = mock();
    let p = a(&mut h, 100);
    // The first growth asks where the break is (it starts at a random
    // place in a real process), then moves it.
    assert_eq!(h.info().brk_calls, 2);
    let ps = grow_by(&mut h, 10);
    let i = h.info();
    assert_eq!(i.brk_calls, 2 + 10, "one brk per move, no query");
    assert_eq!(h.source().os().brk_calls, i.brk_calls, "every call counted");
    assert_eq!(h.spans().len(), 1, "every move extended the one segment");
    free_all(&mut h, ps);
    // Trimming asks first (a shrink over memory that someone the record
    // cannot see put above our end would destroy it), then lowers.
    let before = h.info().brk_calls;
    assert!(h.trim(0));
    assert_eq!(h.info().brk_calls, before + 2, "a query and the move down");
    // SAFETY: p is live.
    unsafe { h.free(p as *mut u8) }.unwrap();

    // Without a record of the break (inside another C library), each move
    // is a query and the move, as before.
    let mut h = mock();
    h.source().os().untracked = true;
    let p = a(&mut h, 100);
    assert_eq!(h.info().brk_calls, 2);
    let ps = grow_by(&mut h, 10);
    assert_eq!(h.info().brk_calls, 2 + 2 * 10);
    free_all(&mut h, ps);
    // SAFETY: p is live.
    unsafe { h.free(p as *mut u8) }.unwrap();
}

fn foreign_mover_detected_through_the_record() {
    let mut h = mock();
    let first = grow_by(&mut h, 2);
    let seg_end = h.spans()[0].end();
    // A program's sbrk (through rawrt's brk) takes memory above our end.
    h.source().os().foreign_move(5000);
    let before = h.info().brk_calls;
    let brk = h.source().os().current_brk();
    let mut more = Vec::new();
    while h.source().os().current_brk() == brk {
        more.push(a(&mut h, 1000));
    }
    // Found from the record, not by a query: the one call is the raise.
    assert_eq!(h.info().brk_calls, before + 1, "a new segment with one brk");
    let spans = h.spans();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].end(), seg_end, "the old segment was not extended");
    assert!(spans[1].base >= brk && spans[1].base % 4096 == 0, "above the foreign memory");
    h.source().os().verify_foreign();
    free_all(&mut h, first.into_iter().chain(more).collect());
    assert!(h.trim(0));
    h.source().os().verify_foreign();
    assert!(h.source().os().current_brk() >= brk, "never lowered over foreign memory");
}

fn unseen_mover_detected_by_the_result() {
    // Someone moves the break with their own system call (the record does
    // not see it), then the kernel refuses to grow it: the result of our
    // raise is neither the new break nor our end, so the source knows the
    // break moved, and leaves it where it is (no move back down over the
    // foreign memory); the heap goes on in mapped memory.
    let mut h = mock();
    let first = grow_by(&mut h, 1);
    h.source().os().foreign_move_unseen(3 * 4096);
    h.source().os().brk_fail = true;
    let brk = h.source().os().current_brk();
    let more: Vec<usize> = (0..3000).map(|_| a(&mut h, 1000)).collect();
    assert_eq!(h.source().os().current_brk(), brk, "the break stays where the mover left it");
    assert!(!h.source().uses_brk(), "refused from the foreign break: brk given up");
    assert!(h.info().mmap_calls >= 1);
    h.source().os().verify_foreign();
    free_all(&mut h, first.into_iter().chain(more).collect());
    assert!(h.trim(0));
    assert_eq!(h.source().os().current_brk(), brk);
    h.source().os().verify_foreign();
}

/// The word at the top segment's end, read through the heap's memory.
fn end_word(h: &Mocked) -> usize {
    let end = h.block_area().1;
    // SAFETY: the top segment's last word lies in memory the heap owns.
    unsafe { h.mem().rd(end) }
}

/// Growing and trimming the top write nothing at the top segment's end
/// (glibc's top does not either): the page there is otherwise untouched,
/// and a write faulted it in at every move of the break (the `large`
/// C workload took 8% more page faults than glibc's for it). After each
/// growth the word is as the kernel gave it, zero; a top taken whole, the
/// frees and trims keep the heap's checks passing, and memory the heap
/// takes for zero after growing from a trimmed end is zero.
fn the_top_end_is_not_written() {
    let mut h = mock();
    let mut ps = grow_by(&mut h, 3);
    assert_eq!(end_word(&h), 0, "after growing");
    let mut out = String::new();
    assert!(h.check(true, &mut out), "{out}");
    // A block that takes the whole top: its end is the segment's end.
    let rest = h.block_area().1 - h.top() - super::block::HDR;
    ps.push(a(&mut h, rest));
    assert_eq!(h.top_size(), 0);
    assert!(h.check(true, &mut out), "{out}");
    for &p in &ps[..ps.len() - 1] {
        // SAFETY: live blocks of 1000 bytes (not the last, the rest of
        // the top): dirty them all.
        unsafe { (p as *mut u8).write_bytes(0xEE, 1000) };
    }
    // The frees trim the top (past the trim threshold): its end now lies
    // in memory that blocks used, and keeps what they wrote there.
    free_all(&mut h, ps);
    h.trim(0);
    assert!(h.check(true, &mut out), "{out}");
    // Growing from a top whose end lies in memory that was used: what
    // the heap takes for zero (it skips zeroing it) is zero.
    let (brk, mut ps) = (h.source().os().current_brk(), Vec::new());
    while h.source().os().current_brk() < brk + 2 * GROW_STEP {
        let p = h.alloc_zeroed(1000, 16).expect("alloc_zeroed");
        // SAFETY: a live block of 1000 bytes.
        let bytes = unsafe { core::slice::from_raw_parts(p.as_ptr(), 1000) };
        assert!(bytes.iter().all(|&b| b == 0), "a zeroed block at {p:p} is not zero");
        ps.push(p.as_ptr() as usize);
    }
    assert_eq!(end_word(&h), 0, "after growing again");
    free_all(&mut h, ps);
}

pub(crate) const TESTS: &[(&str, fn())] = &[
    ("heap::break::the_top_end_is_not_written", the_top_end_is_not_written),
    ("heap::break::growth_makes_one_brk_per_move", growth_makes_one_brk_per_move),
    (
        "heap::break::foreign_mover_detected_through_the_record",
        foreign_mover_detected_through_the_record,
    ),
    ("heap::break::unseen_mover_detected_by_the_result", unseen_mover_detected_by_the_result),
];
