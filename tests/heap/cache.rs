//! The calling thread's cache in front of the process heap: a freed small
//! block comes back to the next request of its size without the heap,
//! the figures count cached blocks as free, `dump` marks them, blocks that
//! stay unused go back to the heap, and a write into a cached block is
//! caught when the cache would hand it out.

use super::util::*;
use core::fmt::{self, Write};
use rawrt::heap::{self, CACHE_CAP, CACHE_GC_PERIOD, CACHE_LIMIT_FROM};

/// Counts the dump lines of cached blocks whose usable size is `usable`.
struct CountCached {
    usable: usize,
    line: Buf<256>,
    n: usize,
}

impl Write for CountCached {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for piece in s.split_inclusive('\n') {
            self.line.write_str(piece)?;
            if piece.ends_with('\n') {
                // `  0xHEADER  USABLE cached next ...` (no allocation here:
                // the heap is locked while it dumps).
                let mut f = self.line.as_str().split_whitespace().skip(1);
                if f.next().map(str::parse) == Some(Ok(self.usable)) && f.next() == Some("cached") {
                    self.n += 1;
                }
                self.line = Buf::new();
            }
        }
        Ok(())
    }
}

/// How many blocks of `usable` bytes the dump shows as cached.
fn cached(usable: usize) -> usize {
    let mut c = CountCached { usable, line: Buf::new(), n: 0 };
    heap::process().dump(&mut c).unwrap();
    c.n
}

pub fn freed_blocks_come_back_without_the_heap() {
    // SAFETY: plain C calls on live blocks.
    unsafe {
        let p = malloc(100);
        let guard = malloc(100); // keeps `p` off the top
        let u = malloc_usable_size(p);
        let i0 = info();
        free(p);
        let i1 = info();
        assert_eq!(i1.total_allocated_bytes, i0.total_allocated_bytes - u);
        assert_eq!(i1.allocated_blocks, i0.allocated_blocks - 1);
        assert_eq!(i1.free_blocks, i0.free_blocks + 1, "a cached block counts as free");
        assert_eq!(i1.total_free_bytes, i0.total_free_bytes + u);
        assert!(cached(u) >= 1, "dump marks it cached");
        heap_ok();
        let q = malloc(100);
        assert_eq!(q, p, "the block just freed comes back first");
        let i2 = info();
        assert_eq!(i2.total_allocated_bytes, i0.total_allocated_bytes);
        assert_eq!(i2.peak_allocated_bytes, i0.peak_allocated_bytes.max(i2.total_allocated_bytes));
        assert_eq!(syscalls(&i2), syscalls(&i0), "no system call");
        // A slightly smaller request may take it too (up to two size
        // classes up), before the heap is asked: first take whatever
        // blocks of that request's own size are cached.
        let mut own = Table::<usize>::new(64);
        while cached(88) > 0 {
            own.push(malloc(80) as usize);
        }
        free(q);
        let r = malloc(80);
        assert_eq!(r, p, "a near size reuses the cached block");
        assert_eq!(malloc_usable_size(r), u);
        free(r);
        free(guard);
        while let Some(b) = own.pop() {
            free(b as *mut u8);
        }
    }
    heap_ok();
}

pub fn unused_cached_blocks_go_back_to_the_heap() {
    // SAFETY: plain C calls on live blocks.
    unsafe {
        // A small heap (what earlier tests left is given back), where a
        // cache may hold all it can (see `CACHE_LIMIT_FROM`).
        malloc_trim(0);
        assert!(info().footprint < CACHE_LIMIT_FROM);
        let mut blocks = Table::<usize>::new(128);
        let mut earlier = Table::<usize>::new(128);
        while cached(600) > 0 {
            earlier.push(malloc(600) as usize); // whatever was cached before
        }
        // Blocks of exactly 600 usable bytes (a free block a little bigger
        // may serve a request whole).
        while blocks.len() < CACHE_CAP as usize {
            let p = malloc(600);
            if malloc_usable_size(p) == 600 {
                blocks.push(p as usize);
            } else {
                earlier.push(p as usize);
            }
        }
        let u = 600;
        let top_guard = malloc(16);
        while let Some(p) = blocks.pop() {
            free(p as *mut u8);
        }
        assert_eq!(cached(u), CACHE_CAP as usize, "a full bin");
        // Other sizes come and go; the blocks of 600 stay unused, and each
        // collection gives back half of those that stayed unused since the
        // one before: after the first collection that sees them all (the
        // second from now at the latest), three more halve them.
        for _ in 0..5 * CACHE_GC_PERIOD {
            let p = malloc(40);
            free(p);
        }
        let left = cached(u);
        assert!(left <= CACHE_CAP as usize / 8, "{left} still cached");
        free(top_guard);
        while let Some(p) = earlier.pop() {
            free(p as *mut u8);
        }
    }
    heap_ok();
}

pub fn write_after_free_into_a_cached_block() {
    super::misuse::dies_at("malloc", "write after free into a cached block", || unsafe {
        let p = malloc(100);
        let _next = malloc(100);
        free(p);
        super::misuse::announce(p);
        // Where the cache keeps its link and its key (through an address
        // the compiler cannot see through: a write into a freed block is
        // out of bounds to it).
        core::ptr::write_bytes(core::hint::black_box(p), 0x41, 16);
        core::hint::black_box(malloc(100));
    });
}
