//! Valgrind client requests, so that Memcheck understands rawrt's heaps: a
//! static executable with no libc has no `malloc` for Valgrind to replace,
//! so the allocator itself announces each block it hands out and frees
//! (a `realloc` under Memcheck moves the block), with the requests of
//! Valgrind's `valgrind.h` and `memcheck.h`, issued from inline assembly by
//! [`crate::arch::client_request`].
//!
//! Natively a request is a handful of instructions that change nothing;
//! the heap asks [`running`] (one load, after the first call) before it
//! issues any, and takes its slow paths only under Valgrind.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

use crate::arch::client_request;

/// `VG_USERREQ__RUNNING_ON_VALGRIND`.
const RUNNING_ON_VALGRIND: usize = 0x1001;
/// `VG_USERREQ__MALLOCLIKE_BLOCK`.
const MALLOCLIKE_BLOCK: usize = 0x1301;
/// `VG_USERREQ__FREELIKE_BLOCK`.
const FREELIKE_BLOCK: usize = 0x1302;
/// `VG_USERREQ__CREATE_MEMPOOL`.
const CREATE_MEMPOOL: usize = 0x1303;
/// `VG_USERREQ__DESTROY_MEMPOOL`.
const DESTROY_MEMPOOL: usize = 0x1304;
/// `VG_USERREQ__MEMPOOL_ALLOC`.
const MEMPOOL_ALLOC: usize = 0x1305;
/// `VG_USERREQ__MEMPOOL_FREE`.
const MEMPOOL_FREE: usize = 0x1306;
/// `VG_USERREQ__CHANGE_ERR_DISABLEMENT`.
const CHANGE_ERR_DISABLEMENT: usize = 0x1801;
/// Memcheck's requests start at `VG_USERREQ_TOOL_BASE('M', 'C')`.
const MEMCHECK: usize = (b'M' as usize) << 24 | (b'C' as usize) << 16;
/// `VG_USERREQ__MAKE_MEM_NOACCESS`.
const MAKE_MEM_NOACCESS: usize = MEMCHECK;
/// `VG_USERREQ__MAKE_MEM_DEFINED` (also asked to learn whether Memcheck
/// answers).
const MAKE_MEM_DEFINED: usize = MEMCHECK + 2;

/// 0: native (asked), 1: under Memcheck, 2: not asked yet; so that
/// natively, once asked, [`running`] is one test of zero.
static STATE: AtomicU8 = AtomicU8::new(2);

#[inline(never)]
fn request(code: usize, a: usize, b: usize, c: usize, d: usize) -> usize {
    client_request(0, &[code, a, b, c, d, 0])
}

/// Whether the program runs under Valgrind's Memcheck (asked once, then
/// remembered).
#[inline(always)]
pub fn running() -> bool {
    STATE.load(Relaxed) != 0 && asked()
}

#[cold]
#[inline(never)]
fn asked() -> bool {
    if STATE.load(Relaxed) == 1 {
        return true;
    }
    // Memcheck answers its own requests with -1; Valgrind's other tools
    // (Callgrind, Cachegrind, ...) leave the default 0, and under them the
    // heap keeps its fast paths, so that profiles show what runs natively.
    let on = request(RUNNING_ON_VALGRIND, 0, 0, 0, 0) > 0
        && request(MAKE_MEM_DEFINED, STATE.as_ptr().addr(), 0, 0, 0) == usize::MAX;
    STATE.store(on as u8, Relaxed);
    on
}

/// Announces a block of `size` usable bytes at `p` handed out by an
/// allocator (undefined contents unless `zeroed`), with `redzone` bytes on
/// each side that the program must not touch.
pub fn malloclike(p: *const u8, size: usize, redzone: usize, zeroed: bool) {
    if running() {
        request(MALLOCLIKE_BLOCK, p.addr(), size, redzone, zeroed as usize);
    }
}

/// Announces that the block at `p` (announced by [`malloclike`]) was freed:
/// Memcheck reports any later access to it.
fn freelike(p: *const u8, redzone: usize) {
    if running() {
        request(FREELIKE_BLOCK, p.addr(), redzone, 0, 0);
    }
}

/// Marks `len` bytes at `p` inaccessible: any access is reported.
pub fn make_noaccess(p: *const u8, len: usize) {
    if running() {
        request(MAKE_MEM_NOACCESS, p.addr(), len, 0, 0);
    }
}

/// Marks `len` bytes at `p` accessible and defined (memory an allocator
/// made inaccessible goes back to its owner).
pub fn make_defined(p: *const u8, len: usize) {
    if running() {
        request(MAKE_MEM_DEFINED, p.addr(), len, 0, 0);
    }
}

/// Memory pools: an allocator over memory it was handed (a region, a
/// mapping) announces its area as a pool named by `pool` (any address
/// unique to it), then each block it hands out and takes back; Memcheck
/// reports accesses to the area outside live blocks, reads of
/// uninitialised bytes, and blocks still live at exit that nothing points
/// to, as for `malloc`'s blocks.
///
/// Creates pool `pool` over the `len` bytes at `area`, all inaccessible
/// until handed out.
pub fn create_pool(pool: usize, area: *const u8, len: usize) {
    if running() {
        anchor();
        request(CREATE_MEMPOOL, pool, 0, 0, 0);
        request(MAKE_MEM_NOACCESS, area.addr(), len, 0, 0);
    }
}

/// Memcheck's leak checker looks at pool blocks only when some block was
/// announced as `malloc`'d (`find_active_chunks` returns early when there
/// is none), so a program whose only allocator is a pool would never hear
/// of its leaks. The first pool announces one empty block at a static
/// address, pointed to by a static: Memcheck lists it as "still reachable:
/// 0 bytes in 1 blocks", which is not an error.
fn anchor() {
    static ANCHOR: AtomicU8 = AtomicU8::new(0);
    static HELD: AtomicUsize = AtomicUsize::new(0);
    if HELD.load(Relaxed) == 0 {
        let p = ANCHOR.as_ptr().cast_const();
        HELD.store(p.addr(), Relaxed);
        request(MALLOCLIKE_BLOCK, p.addr(), 0, 0, 1);
    }
}

/// Ends pool `pool` (made by [`create_pool`] over `area`): its blocks are
/// forgotten, and the `len` bytes at `area` are the owner's again (all
/// defined: the owner may read what they hold).
pub fn destroy_pool(pool: usize, area: *const u8, len: usize) {
    if running() {
        request(DESTROY_MEMPOOL, pool, 0, 0, 0);
        request(MAKE_MEM_DEFINED, area.addr(), len, 0, 0);
    }
}

/// Announces a block of `size` bytes at `p` handed out from pool `pool`
/// (its bytes undefined).
pub fn pool_alloc(pool: usize, p: *const u8, size: usize) {
    if running() {
        request(MEMPOOL_ALLOC, pool, p.addr(), size, 0);
    }
}

/// Announces that the block at `p` went back to pool `pool`: any later
/// access is reported.
pub fn pool_free(pool: usize, p: *const u8) {
    if running() {
        request(MEMPOOL_FREE, pool, p.addr(), 0, 0);
    }
}

/// Stops Valgrind reporting errors in the calling thread until the guard
/// is dropped: the allocator's own reads and writes of block headers and
/// free-list links in memory it announced as freed are not the program's
/// errors.
#[must_use]
pub struct Quiet(bool);

impl Quiet {
    /// Reporting off (only under Valgrind).
    #[inline]
    pub fn new() -> Self {
        let on = running();
        if on {
            request(CHANGE_ERR_DISABLEMENT, 1, 0, 0, 0);
        }
        Quiet(on)
    }

    /// Reporting left as it is (natively, or where nothing is read).
    pub const OFF: Quiet = Quiet(false);

    /// Announces that the block at `p` was freed ([`freelike`]), then
    /// turns reporting off (only under Valgrind).
    #[cold]
    pub fn after_free(p: *const u8) -> Self {
        freelike(p, 0);
        Self::new()
    }
}

impl Default for Quiet {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        if self.0 {
            request(CHANGE_ERR_DISABLEMENT, (-1isize) as usize, 0, 0, 0);
        }
    }
}
