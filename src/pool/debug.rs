//! Debugging pools: poisoning (`RAWRT_HEAP_POISONING`, see
//! `heap::poison`) and Valgrind's Memcheck, at no cost to the fast paths.
//!
//! A pool's mode is fixed when it is created ([`mode_now`]): canaries
//! (poisoning `light`), canaries and fills (`comprehensive`), and
//! announcements to Memcheck when the program runs under it; 0 (none) for
//! a pool created with poisoning off and natively.
//!
//! **No cost when off.** A debugging pool keeps its chunks on a shelf
//! (`Dbg`), so that its fast-path fields hold an empty chunk table and no
//! partial chunk, and no hint: its every allocation goes to the branch the
//! fast path already takes when no chunk has a free block (`Inner::grow`,
//! which makes the allocation here, `Inner::alloc_staged`, and hands the
//! block to the fast path through a staging chunk of one block), and its
//! every free to the branch of a pointer no chunk holds (`NotInPool`,
//! which the cold error path of `Pool::free` brings here,
//! `Inner::free_debug`). A pool that is not debugging runs exactly the
//! instructions it ran before debugging existed (callgrind counts of
//! `bench/pool_calls.c` in the README). The debugging paths take the
//! chunks off the shelf under the pool's lock, allocate or free, and put
//! them back. (They do not call the fast path's `Inner::locate` and
//! `Inner::free`: a second call site would have the compiler outline them,
//! instructions more per free.)
//!
//! **Poisoning.** Each block lies in a slot between a head (the
//! alignment, at least 16 bytes: the free-list link at its start, the
//! head canary in its last word, `canary(p)` of the process heap's
//! layer) and a tail canary (the layer's 8 bytes), the slot rounded up to
//! the alignment: a pool's slots are bigger than its blocks, and a
//! poisoned region pool holds fewer blocks (`info().capacity`;
//! `block_size` stays the user's). Every slot gets its canaries when its
//! chunk is made, and keeps them for ever: a free checks them (a damaged
//! one is reported as the process heap reports it, `rawrt:
//! rawrt_pool_free(): canary corrupted after block 0x...`, naming
//! `Pool::free` from Rust, and aborts), and so does
//! [`Pool::check_integrity`], for every slot. In comprehensive mode every
//! free block is filled with `0xFE` (from its chunk's making, and at each
//! free) and every block handed out with `0xCE`; before a block is handed
//! out again its fill is checked (`rawrt: rawrt_pool_alloc(): write after
//! free at offset 8 of block 0x...`, naming `rawrt_pool_alloc` whichever
//! allocation function was called, as the process heap names `malloc`'s
//! family), as [`Pool::check_integrity`] checks every free block's. The
//! free-list link of a free block lies in its head, not in the user's
//! bytes; light mode does not look for writes after free.
//!
//! **Memcheck.** A pool is a Memcheck memory pool named by a number (a
//! `Pool` may move): its chunks' blocks (the whole slots when poisoned)
//! are inaccessible until handed out, each block handed out is announced
//! (undefined, `user` bytes) and each block freed; the pool's own reads
//! and writes of slots are quiet; dropping the pool ends its Memcheck
//! pool, and a growing pool's chunks go back to their source accessible.
//! Memcheck's leak check finds block 0 of a chunk reachable through the
//! chunk's header, and the block last handed out through the staging
//! chunk.

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::block_pool::{Fail, Geometry, Inner, Pool};
use super::chunk::{Chunk, STAGE_BYTES};
use super::table::ChunkTable;
use super::ChunkSource;
use super::PoolError;
use crate::heap::poison_layer::{
    canary, first_not, init_canaries, Damage, FREE_FILL, NEW_FILL, TAIL,
};
use crate::heap::Poisoning;
use crate::rt::valgrind::{self, Quiet};

/// Mode bit: head and tail canaries around every block.
pub(crate) const CANARIES: u8 = 1;
/// Mode bit: free blocks filled with `0xFE` and checked, new ones `0xCE`.
pub(crate) const FILLS: u8 = 2;
/// Mode bit: blocks announced to Valgrind's Memcheck.
pub(crate) const VALGRIND: u8 = 4;
/// Bytes of the tail canary.
pub(super) const TAIL_BYTES: usize = TAIL.len();

/// The mode of a pool created now: the process's poisoning mode (fixing
/// it, as a region heap's making does, without installing the process
/// heap's layer, which a program that only uses pools does not link) and
/// whether Memcheck watches. In the library's unit tests, the mode in
/// force without fixing it (`heap::poison::for_new_heap`).
#[inline(never)]
pub(super) fn mode_now() -> u8 {
    let poison = match crate::heap::poison::for_new_heap() {
        Poisoning::Off => 0,
        Poisoning::Light => CANARIES,
        Poisoning::Comprehensive => CANARIES | FILLS,
    };
    poison | if valgrind::running() { VALGRIND } else { 0 }
}

/// A pool's debugging state: its mode, its name for Memcheck, and (while
/// shelved) its chunk table, partial list and hint.
pub(super) struct Dbg {
    /// [`CANARIES`], [`FILLS`], [`VALGRIND`]; 0 for a pool that is not
    /// debugging (then nothing is ever shelved).
    pub(super) mode: u8,
    /// The Memcheck pool's name (0 unless [`VALGRIND`]).
    pub(super) vg: usize,
    /// Whether the chunks are here (not in the fast path's fields).
    pub(super) shelved: bool,
    pub(super) table: ChunkTable,
    pub(super) partial: Option<Chunk>,
    pub(super) hint: Option<Chunk>,
    /// The staging chunk (`Chunk::staged`): its header, bitmap word and
    /// scratch word.
    stage: [u64; STAGE_BYTES / 8 + 1],
}

impl Dbg {
    /// The state for `mode`, nothing shelved yet.
    pub(super) fn new(mode: u8) -> Dbg {
        // Memcheck pools are named by numbers below any mapping.
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let vg = if mode & VALGRIND != 0 { NEXT.fetch_add(1, Relaxed) } else { 0 };
        Dbg {
            mode,
            vg,
            shelved: false,
            table: ChunkTable::new(),
            partial: None,
            hint: None,
            stage: [0; STAGE_BYTES / 8 + 1],
        }
    }

    /// Whether the fast path must miss (the chunks are on the shelf).
    #[inline(always)]
    pub(super) fn shelved(&self) -> bool {
        self.shelved
    }
}

/// A pool was created over `len` bytes of blocks at `area` (none yet for
/// a growing pool): its Memcheck pool begins.
#[cold]
#[inline(never)]
pub(super) fn created(d: &Dbg, area: *const u8, len: usize) {
    if d.mode & VALGRIND != 0 {
        valgrind::create_pool(d.vg, area, len);
    }
}

/// A pool is dropped (its region's `len` bytes of blocks at `area`, or
/// none): its Memcheck pool ends.
fn dropped(d: &Dbg, area: *const u8, len: usize) {
    if d.mode & VALGRIND != 0 {
        valgrind::destroy_pool(d.vg, area, len);
    }
}

/// Prepares a debugging pool's new chunk: every slot's canaries, every
/// block's free fill, and the blocks inaccessible to Memcheck.
#[cold]
#[inline(never)]
pub(super) fn new_chunk(mode: u8, chunk: Chunk, g: &Geometry) {
    let first = chunk.first_ptr();
    if mode & CANARIES != 0 {
        init_canaries();
        for i in 0..chunk.nblocks() {
            let p = first.wrapping_add(i * g.block_size + g.head);
            // SAFETY: slot `i` lies in the new chunk, the pool's alone.
            unsafe { guard(p, g, mode & FILLS != 0) };
        }
    }
    if mode & VALGRIND != 0 {
        valgrind::make_noaccess(first, chunk.nblocks() * g.block_size);
    }
}

/// Writes the canaries around the block at `p`, and its free fill if
/// `fill`.
///
/// # Safety
/// `p` is the block of a slot of a chunk of the calling pool, which holds
/// its lock.
unsafe fn guard(p: *mut u8, g: &Geometry, fill: bool) {
    // SAFETY: the head's last word and the tail lie in the slot.
    unsafe {
        p.cast::<usize>().sub(1).write(canary(p));
        core::ptr::copy_nonoverlapping(TAIL.as_ptr(), p.add(g.user), TAIL_BYTES);
        if fill {
            core::ptr::write_bytes(p, FREE_FILL, g.user);
        }
    }
}

/// Which canary around the block at `p` is damaged, if any.
///
/// # Safety
/// As for [`guard`].
unsafe fn damage(p: *mut u8, g: &Geometry) -> Option<Damage> {
    // SAFETY: the head's last word and the tail lie in the slot.
    let (head, tail) = unsafe {
        let mut t = [0u8; TAIL_BYTES];
        core::ptr::copy_nonoverlapping(p.add(g.user), t.as_mut_ptr(), TAIL_BYTES);
        (p.cast::<usize>().sub(1).read(), t)
    };
    if head != canary(p) {
        Some(Damage::Head)
    } else if tail != TAIL {
        Some(Damage::Tail)
    } else {
        None
    }
}

/// The damage of the free block at `p`: a canary, or a write after free.
///
/// # Safety
/// As for [`guard`].
unsafe fn damage_free(p: *mut u8, g: &Geometry, mode: u8) -> Option<Damage> {
    // SAFETY: forwarded contract; the block's bytes lie in its slot.
    unsafe {
        damage(p, g).or_else(|| match mode & FILLS {
            0 => None,
            _ => first_not(p, g.user, FREE_FILL).map(Damage::AfterFree),
        })
    }
}

impl Pool {
    /// A debugging pool is dropped: its chunks off the shelf (for `Drop`
    /// to give back), its Memcheck pool ended.
    #[cold]
    #[inline(never)]
    pub(super) fn dropping(&mut self) {
        let bs = self.geometry.block_size;
        let region = self.source.is_none();
        let inner = self.inner.get_mut();
        inner.unshelve();
        let (area, len) = match inner.chunks().first() {
            Some(c) if region => (c.first_ptr().cast_const(), c.nblocks() * bs),
            _ => (core::ptr::null(), 0),
        };
        dropped(&inner.dbg, area, len);
        if inner.dbg.mode & VALGRIND != 0 && !region {
            // The chunks go back to their source whole, as it gave them.
            for c in inner.chunks() {
                valgrind::make_defined(c.first_ptr(), c.nblocks() * bs);
            }
        }
    }
}

impl Inner {
    /// The allocation of a debugging pool, from `Inner::grow` (where the
    /// fast path comes when no chunk is on its partial list, always for a
    /// debugging pool): the fast path's allocation with the chunks off the
    /// shelf, then (poisoned) the block's canaries and (comprehensive) its
    /// free fill checked (damage, a write after free, is reported, as
    /// `rawrt_pool_alloc`, and aborts) and (comprehensive) its new fill
    /// written, then the block announced to Memcheck. The caller
    /// takes the block from the staging chunk returned, and counts it.
    #[cold]
    #[inline(never)]
    pub(super) fn alloc_staged(
        &mut self,
        g: &Geometry,
        source: Option<&'static dyn ChunkSource>,
    ) -> Result<Chunk, PoolError> {
        const FUNC: &str = "rawrt_pool_alloc";
        let (mode, vg) = (self.dbg.mode, self.dbg.vg);
        let quiet = Quiet::new();
        let slot = match self.open().alloc(g, source) {
            Ok(s) => s,
            Err(Fail::Error(e)) => return Err(e),
            // The block the program had (`at` is its slot).
            Err(Fail::Corrupt(at)) => super::error::corrupted(FUNC, at + g.head),
        };
        // The caller counts the block again.
        self.in_use -= 1;
        let p = slot.as_ptr().wrapping_add(g.head);
        if mode & CANARIES != 0 {
            // SAFETY: the free block's slot is ours.
            if let Some(d) = unsafe { damage_free(p, g, mode) } {
                d.abort(FUNC, p)
            }
        }
        if mode & FILLS != 0 {
            // SAFETY: the block's bytes are ours.
            unsafe { core::ptr::write_bytes(p, NEW_FILL, g.user) };
        }
        drop(quiet);
        if mode & VALGRIND != 0 {
            valgrind::pool_alloc(vg, p, g.user);
        }
        // SAFETY: the stage is the pool's, behind its lock.
        Ok(unsafe { Chunk::staged(self.dbg.stage.as_mut_ptr().cast(), p) })
    }

    /// The free of a debugging pool's block at `addr`, from
    /// `Pool::free_failed` (where the fast path's free goes when no chunk
    /// holds the address, always for a debugging pool, whose chunks are on
    /// the shelf): `NotInPool` for a pool that is not debugging; else the
    /// block validated as the fast path would (the errors of
    /// [`Pool::free`]), its canaries checked (damage is reported under
    /// `func` and aborts), (comprehensive) its free fill written, then
    /// freed with the chunks off the shelf, then the free announced to
    /// Memcheck.
    pub(super) fn free_debug(
        &mut self,
        addr: usize,
        g: &Geometry,
        func: &'static str,
    ) -> Result<(), PoolError> {
        if !self.dbg.shelved() {
            return Err(PoolError::NotInPool);
        }
        let (mode, vg) = (self.dbg.mode, self.dbg.vg);
        let quiet = Quiet::new();
        let mut open = self.open();
        let slot = addr.wrapping_sub(g.head);
        // Not `Inner::locate` and `Inner::free`, which the fast path
        // inlines: a second call would have the compiler outline them.
        let chunk = open.chunk_table().predecessor(slot).ok_or(PoolError::NotInPool)?;
        if slot >= chunk.end(g) {
            return Err(PoolError::NotInPool);
        }
        let idx = chunk.index_of(slot, g)?;
        if !chunk.is_used(idx) {
            return Err(PoolError::DoubleFree);
        }
        let p = chunk.first_ptr().wrapping_add(idx * g.block_size + g.head);
        if mode & CANARIES != 0 {
            // SAFETY: `p` is a live block of this pool, whose lock we hold.
            if let Some(d) = unsafe { damage(p, g) } {
                d.abort(func, p)
            }
        }
        if mode & FILLS != 0 {
            // SAFETY: the live block's bytes, ours again.
            unsafe { core::ptr::write_bytes(p, FREE_FILL, g.user) };
        }
        let was_full = chunk.is_full();
        chunk.free(idx, g)?;
        open.took_back(chunk, was_full);
        drop(open);
        drop(quiet);
        if mode & VALGRIND != 0 {
            valgrind::pool_free(vg, p);
        }
        Ok(())
    }
}

/// Findings of [`Pool::check_integrity`] gathered under the pool's lock
/// before it prints them.
const BATCH: usize = 16;

/// A finding: the damage (`None`: a free list) and the block's address.
type Finding = (Option<Damage>, usize);

impl Pool {
    /// Checks the whole pool: every chunk's free list (each link names a
    /// free block, the list holds every free block once) and, when
    /// poisoned, every slot's canaries and (comprehensive) every free
    /// block's fill. Each damage found is printed on `out` (as the report
    /// of an abort would read, `rawrt: Pool::check_integrity(): canary
    /// corrupted after block 0x...`, naming the address the program
    /// received) if `print`; true if there is none. `out` is written
    /// while the pool's lock is free (the findings are gathered under it,
    /// a few at a time), so it may use the pool.
    /// C: `rawrt_pool_check(pool, print_errors)`, on stderr.
    pub fn check_integrity(&self, print: bool, out: &mut dyn Write) -> bool {
        self.check_integrity_as(print, out, "Pool::check_integrity")
    }

    /// [`Pool::check_integrity`], its reports naming `func`.
    pub(crate) fn check_integrity_as(&self, print: bool, out: &mut dyn Write, func: &str) -> bool {
        let mut found: [Finding; BATCH] = [(None, 0); BATCH];
        let (mut ok, mut from) = (true, (0, 0));
        loop {
            let (n, next) = self.check_from(from, &mut found);
            ok &= n == 0;
            if !print {
                if !ok {
                    return false;
                }
            } else {
                for &(d, at) in &found[..n] {
                    match d {
                        None => line(out, func, "corrupted free list (write after free) at ", at),
                        Some(d) => d.print(out, func, core::ptr::without_provenance(at)),
                    }
                }
            }
            match next {
                Some(f) => from = f,
                None => return ok,
            }
        }
    }

    /// Checks the pool from step `from.1` of chunk `from.0` (step 0: its
    /// free list; step `i + 1`: slot `i`) under its lock, until `found`
    /// is full: the findings, and where to go on (`None`: done).
    fn check_from(
        &self,
        from: (usize, usize),
        found: &mut [Finding; BATCH],
    ) -> (usize, Option<(usize, usize)>) {
        let g = &self.geometry;
        let mut guard = self.inner.lock();
        let mode = guard.dbg.mode;
        let inner = guard.open();
        let _quiet = Quiet::new();
        let mut n = 0;
        let (mut ci, mut step) = from;
        // The chunks are never given back while the pool lives, so the
        // index stays valid between two calls; a chunk another thread
        // made meanwhile (the table is in address order) may have this
        // call check one chunk again and not the new one.
        while let Some(&chunk) = inner.chunks().get(ci) {
            let steps = if mode & CANARIES != 0 { chunk.nblocks() + 1 } else { 1 };
            while step < steps {
                if n == BATCH {
                    return (n, Some((ci, step)));
                }
                let finding = if step == 0 {
                    chunk.check_free_list(g).map(|at| (None, at + g.head))
                } else {
                    let i = step - 1;
                    let p = chunk.first_ptr().wrapping_add(i * g.block_size + g.head);
                    // SAFETY: slot `i` of a chunk of this pool, whose
                    // lock we hold.
                    let d = unsafe {
                        if chunk.is_used(i) {
                            damage(p, g)
                        } else {
                            damage_free(p, g, mode)
                        }
                    };
                    d.map(|d| (Some(d), p.addr()))
                };
                if let Some(f) = finding {
                    found[n] = f;
                    n += 1;
                }
                step += 1;
            }
            (ci, step) = (ci + 1, 0);
        }
        (n, None)
    }
}

/// Prints `rawrt: FUNC(): WHAT0xADDR` on `out` (without `core::fmt`'s
/// formatter).
fn line(out: &mut dyn Write, func: &str, what: &str, addr: usize) {
    let mut h = [0u8; 18];
    let hex = crate::rt::itoa::hex(addr as u64, &mut h);
    for part in ["rawrt: ", func, "(): ", what, core::str::from_utf8(hex).unwrap_or(""), "\n"] {
        let _ = out.write_str(part);
    }
}
