//! Bad pointers handed back to the process heap: each case runs in a
//! child, which must die by SIGABRT after one line on stderr naming the
//! function, the fault and the pointer exactly
//! (`rawrt: free(): double free of 0x...`).

use super::util::*;
use alloc::format;
use rawrt::check::{child, Ended};

const SIGABRT: i32 = 6;

/// Runs `f` in a child, which must abort with exactly
/// `rawrt: {func}(): {what} of {addr:#x}` on stderr, where `addr` is the
/// pointer `f` announced (see [`announce`]) before passing it.
#[track_caller]
pub fn dies(func: &str, what: &str, f: impl FnOnce()) {
    dies_saying(func, what, "of", f)
}

/// As [`dies`] for a detected corruption, reported as
/// `rawrt: {func}(): {what} at {addr:#x}` (the block whose metadata was
/// found damaged).
#[track_caller]
pub fn dies_at(func: &str, what: &str, f: impl FnOnce()) {
    dies_saying(func, what, "at", f)
}

#[track_caller]
fn dies_saying(func: &str, what: &str, word: &str, f: impl FnOnce()) {
    let o = child(|| {
        f();
        rawrt::println!("returned");
        0
    });
    let out = o.stdout();
    let addr = out
        .strip_prefix("addr ")
        .and_then(|s| s.lines().next())
        .unwrap_or_else(|| panic!("child printed no address: {out:?} / {:?}", o.stderr()));
    let want = format!("rawrt: {func}(): {what} {word} {addr}\n");
    assert_eq!(
        o.ended,
        Ended::Signaled(SIGABRT),
        "{func}/{what}: stdout {out:?} stderr {:?}",
        o.stderr()
    );
    assert_eq!(o.stderr(), want);
    assert_eq!(out, format!("addr {addr}\n"), "nothing after the fatal call");
}

/// Announces the pointer about to be passed (see [`dies`]).
pub fn announce(p: *const u8) -> *mut u8 {
    rawrt::println!("addr {:#x}", p as usize);
    p as *mut u8
}

// SAFETY (every closure below): plain C calls; the misuse under test
// happens in a child, which dies of it.

pub fn double_free_of_small_medium_and_large_blocks() {
    for size in [1, 24, 500, 5000, 100_000, 300 << 10] {
        dies("free", "double free", || unsafe {
            let keep = malloc(size); // neighbours on both sides: not the top's
            let p = malloc(size);
            let after = malloc(16);
            core::ptr::write_bytes(p, 0, size);
            free(p);
            free(announce(p));
            let _ = (keep, after);
        });
    }
    // A block that went back into the top: bigger than any free block,
    // so that it comes from the top (nothing is mapped in this child).
    dies("free", "double free", || unsafe {
        rawrt::heap::process().set_mmap_threshold(usize::MAX);
        let p = malloc(info().largest_free_block + 16);
        free(p);
        free(announce(p));
    });
}

/// A block that went back into the top, which then went back to the
/// kernel (an automatic trim): freeing it again is still a double free
/// ("freed twice in a row"), and reading its header must not fault.
pub fn double_free_after_the_top_was_trimmed() {
    dies("free", "double free", || unsafe {
        rawrt::heap::process().set_mmap_threshold(usize::MAX);
        let p = malloc(info().largest_free_block + (4 << 20));
        free(p);
        free(announce(p));
    });
    // The same after merging with a big free block before it: the trim
    // then gives back the page that held the block's header.
    dies("free", "double free", || unsafe {
        rawrt::heap::process().set_mmap_threshold(usize::MAX);
        let a = malloc(info().largest_free_block + (2 << 20));
        let p = malloc(1 << 20);
        free(a);
        free(p);
        free(announce(p));
    });
}

pub fn free_of_pointers_the_heap_never_gave() {
    // Misaligned, by a byte and by a word.
    for off in [1, 8] {
        dies("free", "invalid pointer", move || unsafe {
            let p = malloc(100);
            free(announce(p.add(off)));
        });
    }
    // The stack.
    dies("free", "invalid pointer", || unsafe {
        let local = [0u128; 4];
        free(announce(local.as_ptr() as *const u8));
    });
    // Static data.
    static DATA: [u128; 4] = [0; 4];
    dies("free", "invalid pointer", || unsafe {
        free(announce(DATA.as_ptr() as *const u8));
    });
    // Inside a block, 16-aligned, over bytes that cannot be a header.
    dies("free", "invalid pointer", || unsafe {
        let p = malloc(256);
        core::ptr::write_bytes(p, 0xFF, 256);
        free(announce(p.add(64)));
    });
    // Inside a large block.
    dies("free", "invalid pointer", || unsafe {
        let p = malloc(1 << 20);
        free(announce(p.add(4096)));
    });
}

/// A pointer into the middle of a zeroed block: the word before it reads
/// as a header without IN_USE, which alone must not pass for a freed
/// block (a real free block has a size that fits its segment).
pub fn free_inside_a_zeroed_block_is_invalid() {
    dies("free", "invalid pointer", || unsafe {
        let p = calloc(1, 256);
        free(announce(p.add(64)));
    });
}

pub fn realloc_and_usable_size_of_bad_pointers() {
    dies("realloc", "double free", || unsafe {
        let p = malloc(100);
        let _next = malloc(100);
        free(p);
        announce(p);
        realloc(p, 200);
    });
    dies("realloc", "double free", || unsafe {
        let p = malloc(300 << 10);
        free(p);
        announce(p);
        realloc(p, 200);
    });
    dies("realloc", "invalid pointer", || unsafe {
        let local = [0u128; 4];
        realloc(announce(local.as_ptr() as *const u8), 10);
    });
    dies("malloc_usable_size", "invalid pointer", || unsafe {
        let p = malloc(100);
        malloc_usable_size(announce(p.add(8)));
    });
    dies("malloc_usable_size", "double free", || unsafe {
        let p = malloc(100);
        let _next = malloc(100);
        free(p);
        malloc_usable_size(announce(p));
    });
    // Rust's allocator interface reports the same way.
    dies("dealloc", "invalid pointer", || unsafe {
        let local = [0u128; 4];
        let layout = core::alloc::Layout::from_size_align(16, 16).unwrap();
        alloc::alloc::dealloc(announce(local.as_ptr() as *const u8), layout);
    });
}

pub fn overwritten_header_is_corruption() {
    // A write past the end of a block clears the next block's record that
    // its neighbour is in use: freeing the block notices.
    dies_at("free", "corrupted boundary tag next to the block", || unsafe {
        // Two neighbours: the thread cache may hand out blocks freed
        // earlier, anywhere in the heap and a few bytes bigger, so allocate
        // until one follows the other by its own usable size (the top's
        // bump gives such a pair once the cache's blocks are used).
        let (mut p, mut next) = (malloc(40), malloc(40));
        for _ in 0..100_000 {
            if next as usize == p as usize + malloc_usable_size(p) + 8 {
                break;
            }
            (p, next) = (next, malloc(40));
        }
        let usable = malloc_usable_size(p);
        assert_eq!(next as usize, p as usize + usable + 8, "no two neighbours");
        // The next block's header word follows the usable bytes.
        core::ptr::write_bytes(p, 0, usable + 8);
        free(announce(p));
    });
}
