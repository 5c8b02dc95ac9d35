//! The process heap across threads: one heap per thread (an *arena*), so
//! that threads allocate and free without a lock that other threads take.
//!
//! - The **main heap** (the program break, with mmap fallback, and every
//!   large block) serves the main thread, and every request that a thread
//!   arena does not take (more than [`ARENA_MAX`] bytes, an alignment above
//!   [`ARENA_ALIGN`], or an arena out of room).
//! - Every other thread gets an **arena** on its first allocation past
//!   its cache: a [`Heap`] over its own reservation of [`ARENA_SPACE`]
//!   bytes of address space, committed from the start as it grows
//!   (`process/reserve.rs`), whose state lives in the reservation's first
//!   pages. Its free top goes back by the purge decay, not by shrinking
//!   (no trim threshold unless one is set). Its lock is the thread's own: other threads take it only to
//!   read figures, check, trim or resize one of its blocks.
//! - **Freeing**: the calling thread's cache takes blocks of its own arena
//!   (`tcache.rs`); any other block goes to its owner, found from its
//!   address (the arenas' reservations, then the main heap): the caller's
//!   own arena under its lock, another's through its remote list without
//!   a lock (`remote.rs`), which the owner takes back at its next locked
//!   call. Small blocks for another heap wait in the freeing thread's
//!   outbox and go onto that list in batches (when it is full, when a
//!   block of another heap comes, when the thread takes an arena or ends,
//!   and before this thread's figures, checks, dumps, trims and locks of
//!   the process heap).
//! - **Threads that end** give their cache back to their arena, and an
//!   arena no thread uses any more keeps [`IDLE_KEEP`] bytes of free top
//!   for the next thread, which takes it over (blocks that other threads
//!   still hold stay valid: their frees go to its remote list as before);
//!   the rest goes back to the kernel. With more than [`MAX_ARENAS`]
//!   threads alive, the newest share arenas (correct, since each is a
//!   locked heap, if slower).
//! - **Figures** (`info`), **checks**, **dumps** and **trims** cover the
//!   main heap and every arena; `info` sums them (the peak and low-water
//!   mark are the sums of each heap's own).
//!
//! A single-threaded program uses the main heap alone, as before: no
//! arena is made, and owner lookups find no arena to compare against.

use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::block::{up, ALIGN, HDR, LARGE, SIZE};
use super::error::HeapError;
use super::heap::{Heap, HeapGuard};
use super::info::HeapInfo;
use super::os::{LinuxOs, Os};
use super::process::ProcessSource;
use super::raw::FailedAllocFn;
use super::realloc::Resized;
use super::tcache::{self, ThreadCache};
use super::PROCESS;
use crate::rt::valgrind;
use crate::sync::Lock;

/// The most thread arenas (threads beyond share them). A power of two:
/// arena indices (all below it) are taken modulo it, so that indexing
/// compiles to no bounds check and no panic path.
pub const MAX_ARENAS: usize = 64;
const _: () = assert!(MAX_ARENAS.is_power_of_two() && MAX_ARENAS <= 64, "the idle set is a u64");
/// Address space reserved for each arena: it serves that many bytes at
/// most (then its thread's requests go to the main heap).
pub const ARENA_SPACE: usize = 1 << 30;
/// The largest request a thread arena serves; larger ones go to the
/// main heap (which maps big blocks of their own, as glibc's arenas leave
/// blocks above its mmap threshold to mappings). Smaller than that, a
/// thread's blocks come and go without the main heap's lock, and without
/// its break moving up and down.
pub const ARENA_MAX: usize = 1024 * 1024;
/// The largest alignment a thread arena serves.
pub const ARENA_ALIGN: usize = 4096;
/// Free top an arena keeps when its thread ends, for the next thread.
pub const IDLE_KEEP: usize = 1024 * 1024;

/// Whether threads get arenas and caches: not in the hosted unit tests
/// (see `mod.rs`), where every call goes to the main heap, which has no
/// caches there.
const THREADS: bool = !cfg!(test);

/// [`Arenas::take_arena`] as an address (not a pointer: LLVM would turn
/// the call through a pointer that holds one function or null into a
/// direct call, and link it), once [`enable_arenas`] has run (0 before:
/// every thread uses the main heap). Only the thread module's
/// first spawn stores it, so a program that never starts a thread links
/// no code that makes or hands out arenas.
static TAKE_ARENA: AtomicUsize = AtomicUsize::new(0);

/// [`TAKE_ARENA`]'s type.
type TakeArenaFn = fn(&Arenas, &mut ThreadCache, bool) -> Option<usize>;

/// [`free_remote`] as an address, once [`enable_arenas`] has run (0
/// before): frees of blocks that are not the calling thread's own go
/// through it, so a program that never starts a thread links no remote
/// list code.
static FREE_REMOTE: AtomicUsize = AtomicUsize::new(0);

/// [`ThreadCache::flush_outbox`] as an address, once [`enable_arenas`] has
/// run (0 before): an outbox holds blocks only after a free through
/// [`FREE_REMOTE`], so a program that never starts a thread links no
/// flush either.
static FLUSH_OUTBOX: AtomicUsize = AtomicUsize::new(0);

/// [`FLUSH_OUTBOX`]'s type.
type FlushFn = fn(&mut ThreadCache);

/// [`free_remote`]'s type.
type FreeRemoteFn = unsafe fn(&ProcHeap, &mut ThreadCache, usize) -> Result<(), HeapError>;

// ---- The debug hook -------------------------------------------------
// The one place where a debug layer (heap poisoning, `poison/`) takes
// over the process heap. Installed, it keeps every thread homeless (no
// cache, no arena: `choose_home`), so that every allocation, free,
// resize and size query takes the homeless slow paths, which call it
// (`allocate_homeless`, `free_diverted`, `realloc_foreign`,
// `usable_size`, and the `!THREADS` branches); `check` adds the
// layer's verdict (`poison::check`, called directly, so that a program
// that never checks does not link it). Not installed, the fast paths are
// unchanged: only the cold homeless paths load it. A layer that wants to
// run over another (say tracing over poisoning) installs a table whose
// functions call the other's.

/// What a debug layer does for the process heap. Its blocks come from
/// the main heap (no thread has an arena or a cache while it is
/// installed): [`Arenas::main_heap`].
pub(super) struct Divert {
    /// As [`Arenas::allocate`] (the failed-allocation callback included).
    pub alloc: fn(&Arenas, usize, usize, bool, &'static str) -> Option<NonNull<u8>>,
    /// As [`Arenas::dealloc`].
    pub free: unsafe fn(&Arenas, NonNull<u8>) -> Result<(), HeapError>,
    /// As [`Arenas::reallocate`].
    pub realloc: DivertRealloc,
    /// As [`Arenas::usable_size`].
    pub usable: unsafe fn(&Arenas, *const u8) -> Result<usize, HeapError>,
}

/// [`Divert::realloc`]'s type.
pub(super) type DivertRealloc =
    unsafe fn(&Arenas, NonNull<u8>, usize, usize, &'static str) -> Result<NonNull<u8>, HeapError>;

/// 0, or the address of the installed [`Divert`] table (an address, as
/// `TAKE_ARENA`).
static DIVERT: AtomicUsize = AtomicUsize::new(0);

/// Installs `d` for the rest of the process (before the first
/// allocation: see `poison::fix`).
pub(super) fn install_divert(d: &'static Divert) {
    DIVERT.store(d as *const Divert as usize, Ordering::Release);
}

/// The installed debug layer, if any.
#[inline(always)]
fn divert() -> Option<&'static Divert> {
    match DIVERT.load(Ordering::Acquire) {
        0 => None,
        // SAFETY: a non-zero `DIVERT` is the address of a static `Divert`.
        a => Some(unsafe { &*(a as *const Divert) }),
    }
}

/// Whether threads stay homeless: with a debug layer installed, while the
/// heap is traced (`trace/hook.rs`) or under Valgrind's Memcheck.
#[inline(always)]
fn diverted() -> bool {
    DIVERT.load(Ordering::Relaxed) != 0 || super::trace::diverted() || valgrind::running()
}

/// The first allocation of a thread (and every one while diverted): the
/// heap's debugging mode is fixed at the process's first
/// ([`super::poison::fix`], which reads `RAWRT_HEAP_POISONING`).
/// (`RAWRT_HEAP_TRACE` is read only by programs that link the tracer:
/// `trace::from_env`, which `rawrt_track.h` calls at start-up; reading it
/// here would put the whole tracer, about 20 KB, into every program.)
#[inline(always)]
fn first_use() {
    if !super::poison::fixed() {
        super::poison::fix();
    }
}
// ---- end of the debug hook ------------------------------------------

/// Lets threads other than the main one get arenas of their own, free
/// each other's blocks through the remote lists, and give their caches
/// back when they end (called before the first thread starts).
pub fn enable_arenas() {
    let f: TakeArenaFn = Arenas::take_arena;
    TAKE_ARENA.store(f as usize, Ordering::Release);
    let f: FreeRemoteFn = free_remote;
    FREE_REMOTE.store(f as usize, Ordering::Release);
    let f: FlushFn = ThreadCache::flush_outbox;
    FLUSH_OUTBOX.store(f as usize, Ordering::Release);
    tcache::register_exit_hook();
}

/// Frees the block at payload `p` of heap `o`, whose user is another
/// thread: through the calling thread's outbox onto its remote list
/// ([`Heap::dealloc_remote_via`]; the outbox is flushed when full, when
/// the thread frees a block of another heap, when it ends, and before the
/// process heap's figures, checks and trims).
///
/// # Safety
/// As for [`Heap::dealloc`].
unsafe fn free_remote(o: &ProcHeap, c: &mut ThreadCache, p: usize) -> Result<(), HeapError> {
    // SAFETY: forwarded contract; `p` is not null (a payload address); the
    // process heap's heaps never move or go away.
    unsafe { o.dealloc_remote_via(c, NonNull::new_unchecked(o.mem().ptr(p))) }
}

/// A setting of [`Arenas`] not made: `usize::MAX`, stored plus one.
const fn unset() -> usize {
    usize::MAX.wrapping_add(1)
}

/// A setting of [`Arenas`] (stored plus one).
fn setting(stored: &AtomicUsize) -> usize {
    stored.load(Ordering::Relaxed).wrapping_sub(1)
}

/// A heap of the process: the main heap or an arena.
type ProcHeap = Heap<ProcessSource>;

/// The process heap: the main heap and the thread arenas.
pub struct Arenas {
    main: ProcHeap,
    /// Arenas made so far.
    made: AtomicUsize,
    /// Each arena's reservation (its heap lives at its start).
    base: [AtomicUsize; MAX_ARENAS],
    /// Threads using each arena.
    users: [AtomicU32; MAX_ARENAS],
    /// Bit `i`: arena `i` is made and no thread uses it.
    idle: AtomicU64,
    /// Serialises making and handing out arenas.
    making: Lock<()>,
    /// Settings made through [`Arenas`] that arenas made later get too,
    /// each stored plus one ([`unset`], [`setting`]) so that the process
    /// heap starts all-zero and lies in `.bss`: the trim threshold
    /// (`usize::MAX`, an arena's default: none) and the purge delay
    /// (`usize::MAX`: never set, the heap's default).
    trim_threshold: AtomicUsize,
    purge_delay: AtomicUsize,
}

impl Arenas {
    /// The process heap over `main`.
    pub(super) const fn new(main: ProcHeap) -> Self {
        Arenas {
            main,
            made: AtomicUsize::new(0),
            base: [const { AtomicUsize::new(0) }; MAX_ARENAS],
            users: [const { AtomicU32::new(0) }; MAX_ARENAS],
            idle: AtomicU64::new(0),
            making: Lock::new(()),
            trim_threshold: AtomicUsize::new(unset()),
            purge_delay: AtomicUsize::new(unset()),
        }
    }

    /// Arena `i` (made).
    #[inline(always)]
    fn arena(&self, i: usize) -> &ProcHeap {
        // SAFETY: a made arena's heap lives at its base for the rest of
        // the process (reservations are never given back).
        unsafe { &*(self.base[i % MAX_ARENAS].load(Ordering::Acquire) as *const ProcHeap) }
    }

    /// The main heap and every arena made so far, in order.
    fn heaps(&self) -> impl Iterator<Item = &ProcHeap> {
        let n = self.made.load(Ordering::Acquire);
        core::iter::once(&self.main).chain((0..n).map(|i| self.arena(i)))
    }

    /// The heap that owns the block at payload `p`: the arena whose
    /// reservation holds it, else the main heap (which also judges
    /// pointers that are no block at all).
    #[inline]
    fn owner(&self, p: usize) -> &ProcHeap {
        match self.arena_of(p as *const u8) {
            Some(i) => self.arena(i),
            None => &self.main,
        }
    }

    /// The heap whose blocks cache `c` holds, if chosen yet.
    #[inline(always)]
    fn home_of(c: &ThreadCache) -> Option<&'static ProcHeap> {
        // SAFETY: `home` is 0 or the address of the main heap (in the
        // static `PROCESS`, the only `Arenas`) or of a made arena, both of
        // which live for the rest of the process.
        (c.home != 0).then(|| unsafe { &*(c.home as *const ProcHeap) })
    }

    /// The calling thread's heap (cache `c`'s), chosen now if it is not
    /// yet: the main heap for the main thread, else an idle arena, a new
    /// one, or (when none can be had) the least used one or the main heap.
    #[inline]
    fn home(&self, c: &mut ThreadCache) -> &'static ProcHeap {
        match Self::home_of(c) {
            Some(h) => h,
            None => self.choose_home(c),
        }
    }

    #[cold]
    #[inline(never)]
    fn choose_home(&self, c: &mut ThreadCache) -> &'static ProcHeap {
        if diverted() {
            // Under Valgrind, or with a debug layer, a thread keeps no
            // cache and no arena: with no home every allocation and free
            // takes the slow paths, which tell Memcheck (or the layer, or
            // the tracer, `trace/hook.rs`) about each block.
            return &PROCESS.main;
        }
        let main =
            !crate::sync::is_threaded() || crate::rt::tls::current() == crate::rt::tls::main();
        let take = TAKE_ARENA.load(Ordering::Acquire);
        let i = if take == 0 {
            None
        } else {
            // SAFETY: a non-zero `TAKE_ARENA` is `Arenas::take_arena`'s
            // address, stored by `enable_arenas` with this very type.
            unsafe { core::mem::transmute::<usize, TakeArenaFn>(take)(self, c, main) }
        };
        let h = match i {
            Some(i) => self.arena(i),
            None => &self.main,
        };
        c.home = h as *const ProcHeap as usize;
        c.arena = i.map_or(0, |i| i + 1);
        Self::home_of(c).unwrap_or(&PROCESS.main)
    }

    /// An arena for a new thread: an idle one, else a new one, else the
    /// least used; `None` for the main thread (whose heap is the main heap)
    /// or if none could be made. First, what the thread (cache `c`) freed
    /// for other heaps goes to them: an outbox never holds blocks of its
    /// thread's own heap, whose locked paths (and the retries of a failing
    /// allocation) would not see them.
    fn take_arena(&self, c: &mut ThreadCache, main: bool) -> Option<usize> {
        c.flush_outbox();
        if main {
            return None;
        }
        let _g = self.making.lock();
        let idle = self.idle.load(Ordering::Relaxed);
        let n = self.made.load(Ordering::Relaxed);
        let i = if idle != 0 {
            let i = idle.trailing_zeros() as usize;
            self.idle.fetch_and(!(1 << i), Ordering::Relaxed);
            i
        } else if let Some(i) = (n < MAX_ARENAS).then(|| self.make_arena(n)).flatten() {
            i
        } else {
            (0..n).min_by_key(|&i| self.users[i % MAX_ARENAS].load(Ordering::Relaxed))?
        };
        self.users[i % MAX_ARENAS].fetch_add(1, Ordering::Relaxed);
        Some(i)
    }

    /// Makes arena `i` (under `making`): reserves its space, commits the
    /// pages its heap lives in and builds the heap there.
    fn make_arena(&self, i: usize) -> Option<usize> {
        let mut os = LinuxOs;
        let page = os.page_size();
        let base = os.reserve(ARENA_SPACE)?;
        let state = up(core::mem::size_of::<ProcHeap>(), page);
        // SAFETY: `[base, base+state)` is the start of our new reservation.
        if !unsafe { os.commit(base, state) } {
            // SAFETY: the reservation is ours and unused.
            unsafe { os.munmap(base, ARENA_SPACE) };
            return None;
        }
        let source = ProcessSource::reserved(os, base + state, ARENA_SPACE - state);
        // SAFETY: the committed pages are readable, writable, page-aligned
        // (enough for the heap) and used by nothing else; the rest of the
        // reservation is the source's.
        unsafe { core::ptr::write(base as *mut ProcHeap, Heap::with_caches(source)) };
        // SAFETY: as above: the heap just written, which nothing else sees yet.
        let heap = unsafe { &*(base as *const ProcHeap) };
        // The top is given back by the purge decay (its pages discarded once
        // unused for the delay), not by shrinking the arena as soon as it is
        // big: a thread whose live set rises and falls would commit and
        // fault the same pages again on every rise. `trim` and memory
        // shortage still shrink it.
        heap.set_trim_threshold(setting(&self.trim_threshold));
        match setting(&self.purge_delay) {
            usize::MAX => {}
            ms => heap.set_purge_delay(ms),
        }
        self.base[i % MAX_ARENAS].store(base, Ordering::Release);
        self.made.store(i + 1, Ordering::Release);
        Some(i)
    }

    /// The calling thread ends: its cache goes back to its heap, and an
    /// arena that no thread uses any more becomes idle (keeping
    /// [`IDLE_KEEP`] bytes of free top for the next thread).
    pub(super) fn thread_exit(&self) {
        if !THREADS {
            return;
        }
        let c = own_cache();
        c.flush_outbox();
        let Some(h) = Self::home_of(c) else { return };
        let mut g = h.lock_cached(c);
        tcache::flush_into(&mut g, c);
        let i = c.arena;
        c.home = 0;
        c.arena = 0;
        if i == 0 {
            return;
        }
        let i = i - 1;
        let _m = self.making.lock();
        if self.users[i % MAX_ARENAS].fetch_sub(1, Ordering::Relaxed) == 1 {
            g.trim(IDLE_KEEP);
            self.idle.fetch_or(1 << i, Ordering::Relaxed);
        }
    }

    /// The part of [`allocate`](Self::allocate) that C's `malloc` inlines:
    /// a block from the calling thread's own cache, of exactly the size
    /// class asked for; `None` leaves the request to
    /// [`allocate_slow`](Self::allocate_slow).
    #[inline(always)]
    pub(crate) fn allocate_fast(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if !THREADS || align > ALIGN {
            return None;
        }
        let c = own_cache();
        let p = Self::home_of(c)?.cache_take(c, size, func)?;
        if zero {
            // SAFETY: the block holds at least `size` bytes.
            unsafe { core::ptr::write_bytes(p.as_ptr(), 0, size) };
        }
        Some(p)
    }

    /// [`allocate`](Self::allocate) past the fast path: the calling
    /// thread's heap (its cache if its collection is due, then the heap
    /// under its lock), or the main heap for what a thread arena does not
    /// serve; the failed-allocation callback if both fail.
    #[inline(never)]
    pub(crate) fn allocate_slow(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if !THREADS {
            first_use();
            if let Some(d) = divert() {
                return (d.alloc)(self, size, align, zero, func);
            }
            return self.main.allocate(size, align, zero, func);
        }
        let c = own_cache();
        let Some(h) = Self::home_of(c) else {
            return self.allocate_homeless(c, size, align, zero, func);
        };
        let p = self.allocate_in(h, c, size, align, zero, func);
        if p.is_none() {
            self.main.failed(size, align, func);
        }
        p
    }

    /// [`allocate_slow`](Self::allocate_slow) for a thread without a home
    /// heap yet: its first allocation past the cache (which chooses one),
    /// or any under Valgrind's Memcheck, where threads have none.
    #[cold]
    #[inline(never)]
    fn allocate_homeless(
        &self,
        c: &mut ThreadCache,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        first_use();
        if let Some(d) = divert() {
            return (d.alloc)(self, size, align, zero, func);
        }
        if diverted() {
            return self.allocate_announced(size, align, zero, func);
        }
        // Now the thread has a home, and the usual slow path serves it.
        self.choose_home(c);
        self.allocate_slow(size, align, zero, func)
    }

    /// [`allocate_slow`](Self::allocate_slow) under Valgrind's Memcheck
    /// (or diverted for the tracer: then the announcements do nothing),
    /// which learns of the block: its `size` bytes are undefined (unless
    /// `zero`), the rest of it inaccessible, so that an overflow of even
    /// one byte is reported.
    #[cold]
    #[inline(never)]
    fn allocate_announced(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let _quiet = valgrind::Quiet::new();
        // The main heap, no cache (see `choose_home`).
        let Some(p) = self.allocate_main(size, align, zero, func) else {
            self.main.failed(size, align, func);
            return None;
        };
        valgrind::malloclike(p.as_ptr(), size, 0, zero);
        // SAFETY: the header word of a block just allocated.
        let hdr = unsafe { p.as_ptr().cast::<usize>().sub(1).read() };
        if hdr & LARGE == 0 {
            // The rest of a heap block (a large one's tail is page slack).
            let usable = (hdr & SIZE) - HDR;
            valgrind::make_noaccess(p.as_ptr().wrapping_add(size), usable.saturating_sub(size));
        }
        Some(p)
    }

    /// A block from the main heap under its lock, no cache: what a thread
    /// arena does not serve, and every allocation under Memcheck.
    #[inline(never)]
    fn allocate_main(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        self.main.allocate_locked(None, size, align, zero, func)
    }

    /// [`allocate_slow`](Self::allocate_slow) without the callback.
    #[inline(always)]
    fn allocate_quietly(
        &self,
        c: &mut ThreadCache,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let h = self.home(c);
        self.allocate_in(h, c, size, align, zero, func)
    }

    /// [`allocate_quietly`](Self::allocate_quietly) from heap `h`, cache
    /// `c`'s.
    #[inline(always)]
    fn allocate_in(
        &self,
        h: &ProcHeap,
        c: &mut ThreadCache,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let main = core::ptr::eq(h, &self.main);
        let mut p = None;
        if main || (size <= ARENA_MAX && align <= ARENA_ALIGN) {
            p = h.allocate_past_cache(c, size, align, zero, func);
        }
        if p.is_none() && !main {
            p = self.allocate_main(size, align, zero, func);
        }
        p
    }

    /// `size` bytes aligned to `align`, zeroed if `zero`; `func` names the
    /// caller in reports and for the failed-allocation callback.
    #[inline(always)]
    pub fn allocate(
        &self,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        if let Some(p) = self.allocate_fast(size, align, zero, func) {
            return Some(p);
        }
        self.allocate_slow(size, align, zero, func)
    }

    /// Frees the block at `ptr` (see [`Heap::dealloc`]): into the calling
    /// thread's cache or heap if it is its own, else to its owner.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[inline(always)]
    pub unsafe fn dealloc(&self, ptr: NonNull<u8>) -> Result<(), HeapError> {
        if !THREADS {
            if let Some(d) = divert() {
                // SAFETY: forwarded contract.
                return unsafe { (d.free)(self, ptr) };
            }
            // SAFETY: forwarded contract.
            return unsafe { self.main.dealloc(ptr) };
        }
        let p = ptr.as_ptr().addr();
        let c = own_cache();
        if let Some(h) = Self::home_of(c) {
            match h.cache_free(c, p) {
                tcache::Freed::Cached => return Ok(()),
                // SAFETY: forwarded contract.
                tcache::Freed::BinFull(i) => return unsafe { h.dealloc_locked(Some(c), p, i) },
                tcache::Freed::ToHeap => {}
            }
        }
        // SAFETY: forwarded contract.
        unsafe { self.free_to_owner(c, p) }
    }

    /// The part of [`dealloc`](Self::dealloc) that C's `free` inlines (the
    /// same steps, split so that the rest is a tail call): a
    /// block of the calling thread's own heap, into its cache (or, with
    /// its bin full, into the heap); `None` leaves the block to
    /// [`dealloc_slow`](Self::dealloc_slow).
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[inline(always)]
    #[cfg_attr(test, allow(dead_code))]
    pub(crate) unsafe fn dealloc_fast(&self, ptr: NonNull<u8>) -> Option<Result<(), HeapError>> {
        if !THREADS {
            return None;
        }
        let p = ptr.as_ptr().addr();
        let c = own_cache();
        let h = Self::home_of(c)?;
        match h.cache_free(c, p) {
            tcache::Freed::Cached => Some(Ok(())),
            // SAFETY: forwarded contract.
            tcache::Freed::BinFull(i) => Some(unsafe { h.dealloc_locked(Some(c), p, i) }),
            tcache::Freed::ToHeap => None,
        }
    }

    /// [`dealloc`](Self::dealloc) of a block that
    /// [`dealloc_fast`](Self::dealloc_fast) did not take: to its owner.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[inline(always)]
    pub(crate) unsafe fn dealloc_slow(&self, ptr: NonNull<u8>) -> Result<(), HeapError> {
        if !THREADS {
            // SAFETY: forwarded contract.
            return unsafe { self.main.dealloc(ptr) };
        }
        // SAFETY: forwarded contract.
        unsafe { self.free_to_owner(own_cache(), ptr.as_ptr().addr()) }
    }

    /// The calling thread leaves its home heap (when the heap is diverted
    /// for tracing): its cache goes back to the heap, and from now on it
    /// takes the slow paths. (Its arena, if it had one, is not offered to
    /// other threads again.)
    pub(crate) fn leave_home(&self) {
        if !THREADS {
            return;
        }
        let c = own_cache();
        c.flush_outbox();
        let Some(h) = Self::home_of(c) else { return };
        let mut g = h.lock_cached(c);
        tcache::flush_into(&mut g, c);
        drop(g);
        c.home = 0;
    }

    /// Frees the block at `p`, which the calling thread's cache did not
    /// take, to its owner.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[inline(never)]
    unsafe fn free_to_owner(&self, c: &mut ThreadCache, p: usize) -> Result<(), HeapError> {
        let o = self.owner(p);
        if c.home == o as *const ProcHeap as usize {
            // A medium block goes to the cache if it can (the fast path
            // takes only small ones).
            let full = match o.cache_free_medium(c, p) {
                tcache::Freed::Cached => return Ok(()),
                tcache::Freed::BinFull(i) => i,
                tcache::Freed::ToHeap => 0,
            };
            // SAFETY: forwarded contract.
            return unsafe { o.dealloc_locked(Some(c), p, full) };
        }
        if c.home == 0 && diverted() {
            // SAFETY: forwarded contract.
            return unsafe { self.free_diverted(o, p) };
        }
        let f = FREE_REMOTE.load(Ordering::Acquire);
        if f == 0 {
            // No thread was ever started: `o` is the main heap, the
            // caller's own, whose cache has no home yet; under the lock.
            // SAFETY: forwarded contract.
            return unsafe { o.dealloc_locked(None, p, 0) };
        }
        // SAFETY: a non-zero `FREE_REMOTE` is `free_remote`'s address,
        // stored by `enable_arenas` with this very type; forwarded contract.
        unsafe { core::mem::transmute::<usize, FreeRemoteFn>(f)(o, c, p) }
    }

    /// [`free_to_owner`](Self::free_to_owner) with threads homeless: to the
    /// debug layer, else (under Memcheck) [`free_announced`](Self::free_announced).
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[cold]
    #[inline(never)]
    unsafe fn free_diverted(&self, o: &ProcHeap, p: usize) -> Result<(), HeapError> {
        if let Some(d) = divert() {
            // SAFETY: forwarded contract; `p` is not null (a payload address).
            return unsafe { (d.free)(self, NonNull::new_unchecked(o.mem().ptr(p))) };
        }
        // SAFETY: forwarded contract.
        unsafe { Self::free_announced(o, p) }
    }

    /// [`free_to_owner`](Self::free_to_owner) under Valgrind's Memcheck,
    /// where threads keep no cache (see `choose_home`): Memcheck first (it
    /// reports a bad free itself), then quiet, since the heap's own work
    /// in the freed block is not the program's error; the owner's locked
    /// path checks the block at once.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[cold]
    #[inline(never)]
    unsafe fn free_announced(o: &ProcHeap, p: usize) -> Result<(), HeapError> {
        // Announced only when it is a live block of this heap: one of a
        // heap registered over its own memory (which `heap_caps_free`
        // offers the process heap first) is announced by that heap, and
        // a bad pointer or a double free is reported below.
        let q = core::ptr::without_provenance(p);
        let ours = {
            let _quiet = valgrind::Quiet::new();
            // SAFETY: the heap validates `q` before it reads any word of it.
            unsafe { o.usable_size_core(q) }.is_ok()
        };
        let _quiet = if ours { valgrind::Quiet::after_free(q) } else { valgrind::Quiet::new() };
        // SAFETY: forwarded contract.
        unsafe { o.dealloc_locked(None, p, 0) }
    }

    /// Frees `p` as C's `free` does (see [`Heap::free_or_abort`]).
    ///
    /// # Safety
    /// As for [`Heap::dealloc`].
    #[inline(always)]
    pub unsafe fn free_or_abort(&self, p: *mut u8, func: &'static str) {
        if let Some(nn) = NonNull::new(p) {
            // SAFETY: forwarded contract; misuse is caught and reported.
            if let Err(e) = unsafe { self.dealloc(nn) } {
                super::misuse(func, e, p)
            }
        }
    }

    /// Resizes the block at `ptr` (see [`Heap::reallocate`]). A block of
    /// the calling thread's heap is resized there; one of the main heap
    /// from another thread, under the main heap's lock; one of another
    /// thread's arena moves to the caller's heap.
    ///
    /// # Safety
    /// As for [`Heap::reallocate`].
    #[inline(never)]
    pub unsafe fn reallocate(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        // SAFETY: forwarded contract.
        unsafe { self.reallocate_inlined(ptr, new_size, align, func) }
    }

    /// [`reallocate`](Self::reallocate) inlined into its caller: C's
    /// `realloc` (`caps::realloc_c`, itself one copy in the program,
    /// `trace::hook::realloc_plain`), where a block of the calling
    /// thread's own heap is resized with no call between the C function
    /// and the heap's core but the core's own.
    ///
    /// # Safety
    /// As for [`Heap::reallocate`].
    #[inline(always)]
    pub(crate) unsafe fn reallocate_inlined(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        if !THREADS {
            if let Some(d) = divert() {
                // SAFETY: forwarded contract.
                return unsafe { (d.realloc)(self, ptr, new_size, align, func) };
            }
            // SAFETY: forwarded contract.
            return unsafe { self.main.reallocate(ptr, new_size, align, func) };
        }
        let c = own_cache();
        let o = self.owner(ptr.as_ptr().addr());
        let r = if c.home == o as *const ProcHeap as usize {
            // SAFETY: forwarded contract.
            unsafe { o.realloc_with(Some(c), ptr, new_size, align, func) }
        } else {
            // SAFETY: forwarded contract.
            unsafe { self.realloc_foreign(c, o, ptr, new_size, align, func) }.result()
        };
        if r == Err(HeapError::OutOfMemory) {
            self.main.failed(new_size, align, func);
        }
        r
    }

    /// [`reallocate`](Self::reallocate) under Valgrind: always a new block
    /// (announced), the bytes copied, the old block freed (announced), as
    /// Memcheck's own `realloc` does, so that it follows every byte.
    ///
    /// # Safety
    /// As for [`Heap::reallocate`].
    #[cold]
    #[inline(never)]
    unsafe fn realloc_announced(
        &self,
        c: &mut ThreadCache,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let old = {
            let _quiet = valgrind::Quiet::new();
            // SAFETY: forwarded contract (the block is validated here).
            unsafe { self.usable_size(ptr.as_ptr()) }?
        };
        let q = self.allocate_slow(new_size, align, false, func).ok_or(HeapError::OutOfMemory)?;
        {
            let _quiet = valgrind::Quiet::new();
            // SAFETY: two distinct live blocks, each holding the bytes copied.
            unsafe { core::ptr::copy_nonoverlapping(ptr.as_ptr(), q.as_ptr(), old.min(new_size)) };
        }
        // To its owner, as a free by this homeless thread: announced
        // under Memcheck (where every block is the main heap's), and for
        // a diverted thread its blocks from before may be its arena's.
        // SAFETY: forwarded contract; the block was validated above.
        unsafe { self.free_to_owner(c, ptr.as_ptr().addr()) }?;
        Ok(q)
    }

    /// [`reallocate`](Self::reallocate) of a block of heap `o`, which is not
    /// the calling thread's (whose cache is `c`); the outcome in registers
    /// (see [`Resized`]).
    ///
    /// # Safety
    /// As for [`Heap::reallocate`].
    #[inline(never)]
    unsafe fn realloc_foreign(
        &self,
        c: &mut ThreadCache,
        o: &ProcHeap,
        ptr: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Resized {
        let r = if c.home == 0 && diverted() {
            match divert() {
                // SAFETY: forwarded contract.
                Some(d) => unsafe { (d.realloc)(self, ptr, new_size, align, func) },
                // SAFETY: forwarded contract.
                None => unsafe { self.realloc_announced(c, ptr, new_size, align, func) },
            }
        } else {
            let h = self.home(c);
            if core::ptr::eq(o, h) {
                // The thread's first call: its home was chosen just now.
                // SAFETY: forwarded contract.
                unsafe { h.realloc_with_outlined(Some(c), ptr, new_size, align, func) }
            } else if core::ptr::eq(o, &self.main) {
                // SAFETY: forwarded contract.
                unsafe { o.realloc_with_outlined(None, ptr, new_size, align, func) }
            } else {
                // A block of another thread's arena moves to the caller's
                // heap.
                // SAFETY: forwarded contract (a block of `o` is validated
                // here).
                unsafe { o.usable_size(ptr.as_ptr()) }.and_then(|old| {
                    let q = self
                        .allocate_quietly(c, new_size, align, false, func)
                        .ok_or(HeapError::OutOfMemory)?;
                    // SAFETY: both blocks hold at least the bytes copied and
                    // are distinct live blocks; the old one is `o`'s, not
                    // the caller's.
                    unsafe {
                        core::ptr::copy_nonoverlapping(ptr.as_ptr(), q.as_ptr(), old.min(new_size));
                        self.free_to_owner(c, ptr.as_ptr().addr())?;
                    }
                    Ok(q)
                })
            }
        };
        Resized::from_result(r)
    }

    /// The usable size of the block at `ptr` (see [`Heap::usable_size`]).
    ///
    /// # Safety
    /// As for [`Heap::usable_size`].
    #[inline(never)]
    pub unsafe fn usable_size(&self, ptr: *const u8) -> Result<usize, HeapError> {
        if let Some(d) = divert() {
            // SAFETY: forwarded contract.
            return unsafe { (d.usable)(self, ptr) };
        }
        // The header lies outside the block Memcheck knows.
        let _quiet = valgrind::Quiet::new();
        // SAFETY: forwarded contract.
        unsafe { self.owner(ptr.addr()).usable_size(ptr) }
    }

    /// Puts the blocks of other threads' heaps that the calling thread
    /// holds back in its outbox on their lists, so that the figures,
    /// checks and trims that follow see every free this thread made.
    #[inline]
    fn settle(&self) {
        let f = FLUSH_OUTBOX.load(Ordering::Acquire);
        if THREADS && f != 0 {
            // SAFETY: a non-zero `FLUSH_OUTBOX` is `ThreadCache::flush_outbox`'s
            // address, stored by `enable_arenas` with this very type.
            unsafe { core::mem::transmute::<usize, FlushFn>(f)(own_cache()) }
        }
    }

    /// Whether `h` is the calling thread's heap.
    fn is_home(&self, h: &ProcHeap) -> bool {
        THREADS && own_cache().home == h as *const ProcHeap as usize
    }

    /// Locks heap `h`, telling it about the calling thread's cache if
    /// the cache is `h`'s.
    /// Under Valgrind its reports are off while the guard lives: the
    /// inspections read headers and links in blocks announced as freed.
    fn lock_heap<'a>(&self, h: &'a ProcHeap) -> HeapGuard<'a, ProcessSource> {
        if self.is_home(h) {
            return h.lock_cached(own_cache()).quieted();
        }
        h.lock().quieted()
    }

    /// The main heap, locked (for several operations under one lock).
    /// Nothing that allocates from the process heap may run while the
    /// guard lives.
    pub fn lock(&self) -> HeapGuard<'_, ProcessSource> {
        self.settle();
        self.lock_heap(&self.main)
    }

    /// The figures of the main heap and every arena, summed. Blocks in the
    /// calling thread's cache count as free, those in other threads'
    /// caches as allocated; blocks that other threads freed are taken back
    /// first (the calling thread's outbox is pushed first; blocks waiting
    /// in other threads' outboxes still count as allocated).
    pub fn info(&self) -> HeapInfo {
        self.settle();
        let mut all = HeapInfo::default();
        for (i, h) in self.heaps().enumerate() {
            let mut g = self.lock_heap(h);
            let one = if self.is_home(h) {
                g.info()
            } else {
                // Another thread's cache: its blocks count as allocated.
                let parked = (g.parked(), g.parked_blocks());
                g.set_parked((0, 0));
                let one = g.info();
                g.set_parked(parked);
                one
            };
            if i == 0 {
                all = one;
            } else {
                all.merge(&one);
            }
        }
        all
    }

    /// Checks every invariant of every heap and the calling thread's
    /// cache, printing violations to `out` if asked.
    pub fn check(&self, print_errors: bool, out: &mut dyn Write) -> bool {
        self.settle();
        let mut ok = true;
        for h in self.heaps() {
            ok &= if self.is_home(h) {
                h.check_cached(own_cache(), print_errors, out)
            } else {
                h.check(print_errors, out)
            };
        }
        if divert().is_some() {
            // Not through the table: a program that never checks its heap
            // links no check of the layer's.
            ok &= super::poison::check(self, print_errors, out);
        }
        ok
    }

    /// The main heap, where a debug layer's blocks come from (see
    /// [`Divert`]).
    pub(super) fn main_heap(&self) -> &ProcHeap {
        &self.main
    }

    /// Whether `ptr` lies in the process heap and the heap is intact.
    pub fn check_addr(&self, ptr: *const u8) -> bool {
        let owns = self.lock_heap(self.owner(ptr.addr())).owns(ptr);
        owns && self.check(false, &mut NoWrite)
    }

    /// Prints every block of every heap and a summary per heap. `out` must
    /// not allocate from the process heap.
    pub fn dump(&self, out: &mut dyn Write) -> core::fmt::Result {
        self.settle();
        for (i, h) in self.heaps().enumerate() {
            if i > 0 {
                writeln!(out, "arena {}:", i - 1)?;
            }
            self.lock_heap(h).dump(out)?;
        }
        Ok(())
    }

    /// Writes an SVG picture of every heap (the main heap, then each
    /// thread arena) with each one's figures. `out` must not allocate from
    /// the process heap.
    pub fn svg(&self, out: &mut dyn Write) -> core::fmt::Result {
        self.settle();
        let (mut heaps, mut rows) = (0, 0);
        for h in self.heaps() {
            heaps += 1;
            rows += self.lock_heap(h).svg_rows();
        }
        let mut p = super::svg::Picture::begin(out, "rawrt process heap", heaps, rows)?;
        for (i, h) in self.heaps().enumerate() {
            let g = self.lock_heap(h);
            if i == 0 {
                g.svg_heap(&mut p, format_args!("main heap"))?;
            } else {
                g.svg_heap(&mut p, format_args!("arena {}", i - 1))?;
            }
        }
        p.end()
    }

    /// Gives the calling thread's cache back, then the free memory of every
    /// heap beyond `pad` bytes of top (see [`Heap::trim`]).
    pub fn trim(&self, pad: usize) -> bool {
        self.settle();
        if THREADS {
            let c = own_cache();
            if let Some(h) = Self::home_of(c) {
                tcache::flush_into(&mut h.lock_cached(c), c);
            }
        }
        let mut any = false;
        for h in self.heaps() {
            any |= self.lock_heap(h).trim(pad);
        }
        any
    }

    /// Requests of at least `n` bytes get their own mapping (main heap:
    /// the arenas pass such requests to it).
    pub fn set_mmap_threshold(&self, n: usize) {
        self.main.set_mmap_threshold(n)
    }

    /// A free top bigger than `n` bytes is given back, in every heap
    /// (arenas made later too).
    pub fn set_trim_threshold(&self, n: usize) {
        let _m = self.making.lock();
        self.trim_threshold.store(n.wrapping_add(1), Ordering::Relaxed);
        for h in self.heaps() {
            h.set_trim_threshold(n)
        }
    }

    /// Dirty free memory is purged once it has stayed unused for `ms`
    /// milliseconds, in every heap (arenas made later too); see
    /// [`Heap::set_purge_delay`].
    pub fn set_purge_delay(&self, ms: usize) {
        let _m = self.making.lock();
        self.purge_delay.store(ms.wrapping_add(1), Ordering::Relaxed);
        for h in self.heaps() {
            h.set_purge_delay(ms)
        }
    }

    /// Purges now, in every heap, the dirty free memory that has stayed
    /// unused for the purge delay; see [`Heap::purge_expired`].
    pub fn purge_expired(&self) {
        for h in self.heaps() {
            self.lock_heap(h).purge_expired()
        }
    }

    /// Registers (or clears) the failed-allocation callback.
    pub fn set_failed_alloc_callback(&self, f: Option<FailedAllocFn>) {
        self.main.set_failed_alloc_callback(f)
    }

    /// Which thread arena holds the block at `p` (`None`: the main heap,
    /// or no block of the process heap).
    pub fn arena_of(&self, p: *const u8) -> Option<usize> {
        let n = self.made.load(Ordering::Acquire);
        (0..n).find(|&i| {
            p.addr().wrapping_sub(self.base[i % MAX_ARENAS].load(Ordering::Relaxed)) < ARENA_SPACE
        })
    }

    /// How many thread arenas exist, and how many of them no thread uses.
    pub fn arenas(&self) -> (usize, usize) {
        (self.made.load(Ordering::Acquire), self.idle.load(Ordering::Relaxed).count_ones() as usize)
    }
}

/// The calling thread's cache. Each entry point below takes it once and
/// passes it down; nothing it calls takes it again while it is in use.
#[inline(always)]
fn own_cache() -> &'static mut ThreadCache {
    // SAFETY: the calling thread's own cache, which lives as long as the
    // thread; the entry points hold one reference to it at a time.
    unsafe { &mut *tcache::current() }
}

struct NoWrite;
impl Write for NoWrite {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}
