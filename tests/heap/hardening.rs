//! The process heap against corrupted metadata and foreign blocks, tried
//! as an attacker would (each case once gave the attacker what the
//! comment says): every case runs in a child, which must die by SIGABRT
//! after one line naming the function, the check and the block
//! (`rawrt: malloc(): corrupted free list (...) at 0x...`).
//!
//! The tests know the block layout (`src/heap/block.rs`): a header word
//! before each payload, a free block's list links in its first two payload
//! words, a cached block's link in its first.

use super::misuse::{announce, dies, dies_at};
use super::util::*;

extern "C" {
    fn multi_heap_register(start: *mut u8, size: usize) -> *mut u8;
    fn multi_heap_malloc(h: *mut u8, size: usize) -> *mut u8;
    fn multi_heap_free(h: *mut u8, p: *mut u8);
    fn mm_initialize(start: *mut u8, size: usize) -> *mut u8;
    fn mm_malloc(h: *mut u8, size: usize) -> *mut u8;
    fn rawrt_pool_create_in(region: *mut u8, size: usize, block: usize, align: usize) -> *mut u8;
    fn rawrt_pool_alloc(pool: *mut u8) -> *mut u8;
    fn gran_initialize(start: *mut u8, size: usize, log2gran: u8, log2align: u8) -> *mut u8;
    fn gran_alloc(h: *mut u8, size: usize) -> *mut u8;
}

/// Reads the word at `a`. The compiler knows `malloc` and `free`: a read
/// before a block's start, or a write into a freed block, is out of
/// bounds to it and may be folded away; these accesses go through an
/// address it cannot see through.
fn peek(a: usize) -> usize {
    // SAFETY: the tests read heap words they know to be mapped.
    unsafe { (core::hint::black_box(a) as *const usize).read_volatile() }
}

/// Writes the word at `a` (see [`peek`]): the attacker's write.
fn poke(a: usize, v: usize) {
    // SAFETY: the tests write heap words they know to be mapped.
    unsafe { (core::hint::black_box(a) as *mut usize).write_volatile(v) }
}

/// The header word of the block at payload `p`.
fn header(p: *mut u8) -> usize {
    peek(p as usize - 8)
}

/// The size bits of a header (below its tag, above its flags).
const SIZE: usize = (1 << 48) - 16;

/// A block of `size` bytes (above the thread caches' sizes, 40 KiB) whose
/// neighbours on both sides are blocks in use, so that freeing it lists
/// it whole, its links at its first two payload words. Blocks allocated on
/// the way stay allocated (this runs in a child).
fn isolated(size: usize) -> *mut u8 {
    loop {
        // SAFETY: plain C calls.
        let (p, q) = unsafe { (malloc(size), malloc(size)) };
        let next = p as usize + (header(p) & SIZE);
        // Bit 1 of a header: the block before is in use.
        if q as usize == next && header(p) & 2 != 0 {
            return p;
        }
    }
}

/// A fake block in static data, where an attacker would aim a link:
/// a plausible header at word 1, so that the payload is 16-aligned.
#[repr(C, align(16))]
struct Fake([usize; 8]);
static mut FAKE: Fake = Fake([0; 8]);

/// The fake block's header address, with its header set to `hdr`, its
/// links to zero and its footer (for a free block of `size`) set.
fn fake_block(hdr: usize) -> usize {
    let base = (&raw mut FAKE) as usize;
    poke(base + 8, hdr);
    poke(base + 16, 0);
    poke(base + 24, 0);
    base + 8
}

// SAFETY (every closure below): plain C calls and the attacker's writes
// through `poke`; the misuse under test happens in a child, which dies of
// it.

/// Finding 1: unlinking a free block whose links were overwritten wrote
/// the attacker's value to the attacker's address (`&TARGET - 16` as the
/// next link made the unlink store the previous link into `TARGET`).
pub fn unlink_of_forged_links() {
    static mut TARGET: usize = 0;
    static mut BUF: [usize; 4] = [0; 4];
    dies_at("malloc", "corrupted free list (link outside the heap)", || unsafe {
        let p = isolated(45_000);
        free(p);
        announce(p);
        poke(p as usize, (&raw mut TARGET) as usize - 16);
        poke(p as usize + 8, (&raw mut BUF) as usize);
        core::hint::black_box(malloc(45_000)); // unused, it could be left out
        if peek((&raw mut TARGET) as usize) == (&raw mut BUF) as usize {
            rawrt::println!("TARGET overwritten");
        }
    });
}

/// Finding 2: a free block's next link aimed at a fake block in `.bss`
/// made the second allocation of that size return the static buffer.
pub fn free_list_link_to_static_data() {
    dies_at("malloc", "corrupted free list (link outside the heap)", || unsafe {
        let p = isolated(42_000);
        let b = header(p) & SIZE;
        free(p);
        announce(p);
        // A free block of the same size: header with bit 1 (previous in
        // use), links zero.
        poke(p as usize, fake_block(b | 2));
        let first = core::hint::black_box(malloc(42_000));
        let second = core::hint::black_box(malloc(42_000));
        rawrt::println!("got {:p} then {:p}", first, second);
    });
}

/// Findings 2 and 8: a cached block's link aimed at a fake block whose key
/// was forged from the public constant the cache once used
/// (`address ^ "rcachey"`) made `malloc` hand out static data.
pub fn cache_link_to_static_data_with_forged_key() {
    const OLD_KEY: usize = 0x7263_6163_6865_6b79;
    dies_at("malloc", "corrupted thread-cache link", || unsafe {
        let p = malloc(100);
        let _keep = malloc(100);
        free(p); // cached
        announce(p);
        let size = header(p) & SIZE;
        let fake = fake_block(size | 3); // in use, previous in use
        poke(fake + 16, fake ^ OLD_KEY);
        poke(p as usize, fake);
        let first = core::hint::black_box(malloc(100));
        let second = core::hint::black_box(malloc(100));
        rawrt::println!("got {:p} then {:p}", first, second);
    });
}

/// Finding 3: an overflow of eight `A`s into the header of a free block
/// made the next allocation of its size trust the size and crash inside
/// malloc with SIGSEGV.
pub fn overflow_into_a_free_header() {
    dies_at("malloc", "corrupted free block header", || unsafe {
        let a = isolated(42_000);
        let b = (a as usize + (header(a) & SIZE)) as *mut u8;
        let _after_b = malloc(42_000); // b is followed by a used block too
        free(b);
        announce(b);
        let end = a as usize + malloc_usable_size(a) + 8;
        for w in (a as usize..end).step_by(8) {
            poke(w, usize::from_ne_bytes([b'A'; 8]));
        }
        // Blocks that fit better go first; the damaged one (it claims a
        // huge size) is the fit once they are gone.
        for _ in 0..64 {
            core::hint::black_box(malloc(42_000));
        }
    });
}

/// Finding 4: a block of a heap that lives inside a process-heap block
/// passed for a process-heap block: `free` took it, and the next
/// `malloc` handed it out again while its own heap still owned it. The
/// reverse too: each heap refuses the other's blocks.
pub fn nested_heaps_are_told_apart() {
    dies("free", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let h = multi_heap_register(r, 65536);
        let p = multi_heap_malloc(h, 100);
        free(announce(p));
    });
    dies("realloc", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let h = multi_heap_register(r, 65536);
        let p = multi_heap_malloc(h, 100);
        core::hint::black_box(realloc(announce(p), 200));
    });
    dies("malloc_usable_size", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let h = mm_initialize(r, 65536);
        let p = mm_malloc(h, 100);
        core::hint::black_box(malloc_usable_size(announce(p)));
    });
    dies("free", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let h = mm_initialize(r, 65536);
        let p = mm_malloc(h, 4000);
        free(announce(p));
    });
    // A region heap inside a block of a region heap inside a process-heap
    // block: each level refuses the other levels' blocks.
    dies("multi_heap_free", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let outer = multi_heap_register(r, 65536);
        let r2 = multi_heap_malloc(outer, 16384);
        let inner = multi_heap_register(r2, 16384);
        let p = multi_heap_malloc(inner, 100);
        multi_heap_free(outer, announce(p));
    });
    dies("multi_heap_free", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let h = multi_heap_register(r, 65536);
        multi_heap_free(h, announce(malloc(16)));
    });
    // Pools and granules inside a process-heap block.
    dies("free", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let pool = rawrt_pool_create_in(r, 65536, 64, 16);
        let _first = rawrt_pool_alloc(pool);
        free(announce(rawrt_pool_alloc(pool)));
    });
    dies("free", "invalid pointer", || unsafe {
        let r = malloc(65536);
        let g = gran_initialize(r, 65536, 6, 4);
        let _first = gran_alloc(g, 100);
        free(announce(gran_alloc(g, 100)));
    });
}

/// Finding 10: a second free of a block in its own mapping was reported
/// as an invalid pointer once a few other large blocks had been freed
/// since (the heap remembered the last four; it remembers the last 16 now,
/// whatever happens to its table's tombstones, which a rebuild drops: with
/// only four, this test failed about once in eight runs, when the table
/// was rebuilt during it). The blocks freed between are above the most the
/// mmap threshold rises to, so they are mapped too.
pub fn double_free_of_a_mapped_block() {
    for size in [300 << 10, 20 << 20] {
        dies("free", "double free", move || unsafe {
            let p = malloc(size);
            free(p);
            for _ in 0..10 {
                free(core::hint::black_box(malloc(33 << 20)));
            }
            free(announce(p));
        });
    }
}
