//! Blocks given back by other threads: a heap with caches (a thread
//! arena of the process heap, or any heap made
//! [`Heap::with_caches`]) keeps a list of blocks that threads other than
//! its user freed, which its user takes back the next time it locks the
//! heap. A free from another thread is then a push onto that list (one
//! compare-and-swap, no lock, no waiting: mimalloc's thread-free lists and
//! snmalloc's remote queues), and the heap's user, not the freeing
//! thread, does the work of putting the block back on its free lists.
//!
//! The list runs through the blocks: a listed block's first payload word
//! holds the link to the next one (mangled with the secret and its own
//! address, as a cached block's link is, and checked before it is
//! followed), its second the block's remote key ([`remote_key`]), so that
//! a second free of a listed block is reported as a double free, by the
//! push and by the locked path alike (`RawHeap::locate`). Headers are
//! never written outside the lock: a listed block stays in use to the
//! heap (and counts as allocated in its figures) until it is taken back.
//!
//! A freeing thread that brings its cache pushes in batches
//! ([`Heap::dealloc_remote_via`], which the process heap's frees use): small
//! blocks wait in the cache's *outbox*, already keyed and linked, until
//! [`OUTBOX_MAX`] of them go onto the list with one compare-and-swap, or
//! the thread frees a block of another heap, or flushes (at its end, and
//! before the process heap's figures, checks and trims): one contended
//! atomic operation per batch instead of one per block (snmalloc batches
//! its remote messages the same way). Until then the owner does not see
//! those blocks: a heap may find up to [`OUTBOX_MAX`] blocks of at most
//! [`OUTBOX_BLOCK_MAX`] bytes per other thread not yet back.
//!
//! Before it pushes, the freeing thread checks what it can without the
//! lock: the block lies in the heap's top segment as published (memory
//! that stays mapped while a live block is in it), and its header holds
//! the heap's tag, IN_USE and no LARGE. Anything else (a block of another
//! segment, a stray or damaged pointer) goes to the heap's locked path,
//! which validates it fully and reports misuse.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::block::{Mem, HDR, IN_USE, LARGE, SIZE, TAG_BITS};
use super::error::{Corruption, HeapError};
use super::heap::Heap;
use super::raw::RawHeap;
use super::secret;
use super::source::Source;
use super::tcache::{self, key_of, Freed, ThreadCache};

/// [`Heap::take_remote`]'s type, for the `take` hook.
type TakeFn<S> = fn(&Heap<S>, &mut RawHeap<S>, Option<&mut ThreadCache>);

/// The key that marks block `h` as on a heap's remote list: the
/// complement of its cache key ([`key_of`]), which the cache's free path
/// relies on to recognise both with one comparison.
#[inline(always)]
pub fn remote_key(h: usize) -> usize {
    !key_of(h)
}

/// The word listed block `h` stores for a link to `next` (0: none).
#[inline(always)]
fn mangle(h: usize, next: usize) -> usize {
    next ^ (h >> 12).rotate_left(32) ^ secret::link_mask()
}

/// The most blocks an outbox holds back (see
/// [`Heap::dealloc_remote_via`]): one compare-and-swap on the owner's list
/// per this many cross-thread frees instead of one per free.
pub const OUTBOX_MAX: usize = 32;
/// The largest block (header included) that waits in an outbox; bigger
/// ones go onto the list at once, so that an outbox holds back at most
/// [`OUTBOX_MAX`] times this many bytes.
pub const OUTBOX_BLOCK_MAX: usize = 4096;

/// [`Heap::push`] for an outbox, which knows its heap by address only.
///
/// # Safety
/// `heap` points to a live `Heap<S>`; the chain is as `push` wants it.
unsafe fn push_erased<S: Source>(heap: *const (), first: usize, last: usize) {
    // SAFETY: per the contract.
    let h = unsafe { &*heap.cast::<Heap<S>>() };
    // SAFETY: per the contract.
    unsafe { h.push(h.mem(), first, last) }
}

/// Blocks that a thread freed for one other heap and holds back, to put
/// them on that heap's remote list together (see
/// [`Heap::dealloc_remote_via`]); part of the thread's cache. All zeros
/// is empty.
#[repr(C)]
pub(in crate::heap) struct Outbox {
    /// The heap the blocks belong to (null: empty).
    heap: *const (),
    /// [`push_erased`] for that heap's type.
    push: Option<unsafe fn(*const (), usize, usize)>,
    /// The newest block; each links (mangled) to the one before.
    head: usize,
    /// The oldest block, whose link is written when the chain is pushed.
    tail: usize,
    /// How many blocks wait.
    n: usize,
}

// SAFETY: the pointer is to a heap that threads may share (a `Heap<S>`
// with `S: Send`, which `dealloc_remote_via` requires): pushing onto its
// remote list from another thread is what the list is for. An outbox is
// changed only through `&mut` (by one thread at a time, as the cache it is
// part of); through `&` it gives its length only.
unsafe impl Send for Outbox {}
// SAFETY: as above.
unsafe impl Sync for Outbox {}

impl Outbox {
    /// An empty outbox.
    pub(in crate::heap) const fn new() -> Self {
        Outbox { heap: core::ptr::null(), push: None, head: 0, tail: 0, n: 0 }
    }

    /// How many blocks wait.
    pub(in crate::heap) fn len(&self) -> usize {
        self.n
    }

    /// Puts the waiting blocks on their heap's remote list (one
    /// compare-and-swap); the outbox is empty afterwards.
    pub(in crate::heap) fn flush(&mut self) {
        if let Some(push) = self.push {
            // SAFETY: stored with `heap` by `dealloc_remote_via`, whose
            // caller keeps the heap in place until the outbox is flushed;
            // the chain holds used blocks of it that nothing uses, each
            // marked with the remote key and linked to the one before.
            unsafe { push(self.heap, self.head, self.tail) };
            *self = Outbox::new();
        }
    }
}

/// What [`Heap::free_remote`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Remote {
    /// The block is on the heap's remote list.
    Listed,
    /// The heap's locked path must take the block (and validate it).
    Locked,
}

impl<S: Source> Heap<S> {
    /// Frees the block at payload `p` from a thread that is not this
    /// heap's user: puts it on the remote list, or leaves it to the locked
    /// path (see the module documentation). A block that is on the list
    /// already is a double free.
    ///
    /// # Safety
    /// If `p` is a live block of this heap, nothing may use it afterwards.
    #[inline]
    pub(super) unsafe fn free_remote(&self, p: usize) -> Result<Remote, HeapError> {
        // SAFETY: forwarded contract.
        let Some((h, _)) = (unsafe { self.remote_check(p) })? else {
            return Ok(Remote::Locked);
        };
        // SAFETY: `h` is a used block that nothing uses any more.
        unsafe { self.push_one(self.mem(), h) };
        Ok(Remote::Listed)
    }

    /// What the remote path can vouch for without the lock: the block at
    /// payload `p` and its size when it is a used, not large block of this
    /// heap's top segment that is neither cached nor listed (nor waiting
    /// in an outbox); `None` sends it to the locked path, which validates
    /// it fully. A block that carries the remote key is a double free.
    ///
    /// # Safety
    /// If `p` is a live block of this heap, nothing may use it afterwards.
    #[inline(always)]
    unsafe fn remote_check(&self, p: usize) -> Result<Option<(usize, usize)>, HeapError> {
        let h = p.wrapping_sub(HDR);
        // A block address of the top segment (so `p` is 16-aligned).
        if !self.is_keyed() || !self.fast_range().holds(h) {
            return Ok(None);
        }
        let m = self.mem();
        // The header word is read atomically: the heap's user may change
        // its PREV_IN_USE bit under the lock meanwhile (the only part of a
        // live block's header that changes); tag, IN_USE and LARGE do not
        // change while the block is live.
        // SAFETY: `h` lies in the top segment's block area, which is mapped
        // and 8-aligned (see `fast_range`).
        let hdr = unsafe { AtomicUsize::from_ptr(m.ptr(h)) }.load(Ordering::Relaxed);
        if hdr & (TAG_BITS | IN_USE | LARGE) != self.tag() | IN_USE {
            return Ok(None);
        }
        // SAFETY: a used block of this heap has at least two payload words,
        // which belong to its user, and so now to this free.
        let k = unsafe { m.rd(h + 16) };
        if k == remote_key(h) {
            return Err(HeapError::DoubleFree);
        }
        if k == key_of(h) {
            return Ok(None); // cached: the locked path reports it
        }
        Ok(Some((h, hdr & SIZE)))
    }

    /// Frees the block at `ptr` from a thread that is not this heap's
    /// user, as [`dealloc_remote`](Self::dealloc_remote) does, but through
    /// the outbox of that thread's cache `c`: a small block (at most
    /// [`OUTBOX_BLOCK_MAX`] bytes) waits there, marked as listed, with up to
    /// [`OUTBOX_MAX`]` - 1` others of the same heap, and they go onto the
    /// remote list together, with one compare-and-swap, when the outbox is
    /// full, when the thread frees a block of another heap this way, or at
    /// [`ThreadCache::flush_outbox`]. A second free of a waiting block is a
    /// double free, as for a listed one.
    ///
    /// # Safety
    /// As for [`dealloc`](Heap::dealloc); and this heap stays where it is
    /// until `c`'s outbox has been flushed (the process heap's arenas never
    /// move or go away). A cache dropped with blocks in its outbox leaves
    /// them allocated in their heap: flush it first.
    #[inline]
    pub unsafe fn dealloc_remote_via(
        &self,
        c: &mut ThreadCache,
        ptr: NonNull<u8>,
    ) -> Result<(), HeapError>
    where
        S: Send,
    {
        let p = ptr.as_ptr().addr();
        // SAFETY: forwarded contract.
        let Some((h, size)) = (unsafe { self.remote_check(p) })? else {
            // SAFETY: forwarded contract.
            return unsafe { self.dealloc_locked(None, p, 0) };
        };
        let m = self.mem();
        if size > OUTBOX_BLOCK_MAX {
            // SAFETY: `h` is a used block that nothing uses any more.
            unsafe { self.push_one(m, h) };
            return Ok(());
        }
        let me = core::ptr::from_ref(self).cast::<()>();
        let o = &mut c.outbox;
        if o.heap != me {
            o.flush();
            o.heap = me;
            o.push = Some(push_erased::<S>);
            o.tail = h;
        }
        // The block is marked as listed now (a second free is reported);
        // its link to the next block is written now too, but the oldest
        // block's only when the chain is pushed.
        // SAFETY: the block's first two payload words are ours (contract).
        unsafe {
            m.wr(h + 16, remote_key(h));
            if o.head != 0 {
                m.wr(h + 8, mangle(h, o.head));
            }
        }
        o.head = h;
        o.n += 1;
        if o.n >= OUTBOX_MAX {
            o.flush();
        }
        Ok(())
    }

    /// Marks used block `h` with the remote key and puts it on the remote
    /// list.
    ///
    /// # Safety
    /// `h` is a used block of this heap that nothing uses any more.
    #[inline]
    unsafe fn push_one(&self, m: Mem, h: usize) {
        // SAFETY: the block's first two payload words are ours (contract).
        unsafe {
            m.wr(h + 16, remote_key(h));
            self.push(m, h, h);
        }
    }

    /// Puts a chain of used blocks, each marked with the remote key, on
    /// the remote list: `first` is the newest, linked (mangled) down to
    /// `last`, whose link this writes.
    ///
    /// # Safety
    /// The blocks are used blocks of this heap that nothing uses any more.
    #[inline]
    unsafe fn push(&self, m: Mem, first: usize, last: usize) {
        // The lock takes the list back through `take` (see there); the
        // release below orders this store before the list's new head.
        let take: TakeFn<S> = Self::take_remote;
        if self.take.load(Ordering::Relaxed).is_null() {
            self.take.store(take as *mut (), Ordering::Relaxed);
        }
        let mut head = self.remote.load(Ordering::Relaxed);
        loop {
            // SAFETY: as above; the list's user reads the link only after
            // the release below.
            unsafe { m.wr(last + 8, mangle(last, head)) };
            match self.remote.compare_exchange_weak(
                head,
                first,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Frees the block at `ptr` from a thread that is not this heap's
    /// user: onto the remote list when the block can be vouched for
    /// without the lock, else under the lock (see the module
    /// documentation); the heap's user takes listed blocks back at its next
    /// lock. The same errors as [`dealloc`](Heap::dealloc).
    ///
    /// # Safety
    /// As for [`dealloc`](Heap::dealloc).
    #[inline]
    pub unsafe fn dealloc_remote(&self, ptr: NonNull<u8>) -> Result<(), HeapError> {
        let p = ptr.as_ptr().addr();
        // SAFETY: forwarded contract.
        if unsafe { self.free_remote(p) }? == Remote::Listed {
            return Ok(());
        }
        // SAFETY: forwarded contract.
        unsafe { self.dealloc_locked(None, p, 0) }
    }

    /// [`take_remote`](Self::take_remote) through `take`, which the first
    /// push stored before the list held anything (the caller saw the list
    /// non-empty with acquire ordering); nothing if it was never stored.
    /// (A pointer, not an address: it keeps its provenance under Miri.)
    #[inline]
    pub(super) fn take_remote_through_hook(&self, g: &mut RawHeap<S>, c: Option<&mut ThreadCache>) {
        let f = self.take.load(Ordering::Relaxed);
        if !f.is_null() {
            // SAFETY: a non-null `take` is `Self::take_remote`, stored by
            // `push` with this very type.
            unsafe { core::mem::transmute::<*mut (), TakeFn<S>>(f)(self, g, c) }
        }
    }

    /// Takes the whole remote list back, under the lock (`g`): a block
    /// that `free` would cache without the lock goes into `c` after the
    /// same checks (`tcache::take_listed`); any other is validated as a
    /// locked free is, then cached in `c` if it has room, or freed. A
    /// damaged link or key, or a block that does not validate, is reported
    /// (`free()`) and aborts.
    #[cold]
    #[inline(never)]
    pub(super) fn take_remote(&self, g: &mut RawHeap<S>, mut c: Option<&mut ThreadCache>) {
        let m = g.mem();
        let b = self.bounds();
        let mut h = self.remote.swap(0, Ordering::Acquire);
        while h != 0 {
            // SAFETY: `h` was pushed by `free_remote` (or checked as a link
            // below): a used block of this heap's top segment, mapped.
            let next = unsafe { unlist(m, h) };
            if next != 0 && !b.holds(next) {
                damaged(Corruption::RemoteLink, h);
            }
            // A block that `free`'s fast path would cache goes into the
            // cache as its checks vouch for it (and the cache's limit is
            // met as each block comes, as a free meets it); any other gets
            // the full check, and is cached if it may be (not when its bin
            // was found full just now: that counted towards the bin's
            // growth once).
            let offer = match c.as_deref_mut() {
                Some(c) => match tcache::take_listed(self, c, h) {
                    Freed::Cached => {
                        if c.over_limit() {
                            g.set_parked(c.held());
                            tcache::enforce_limit(g, c);
                        }
                        h = next;
                        continue;
                    }
                    other => {
                        g.set_parked(c.held());
                        other
                    }
                },
                None => Freed::ToHeap,
            };
            let found = g.locate(h + HDR).unwrap_or_else(|e| misused(e, h));
            let cached = match (offer, c.as_deref_mut()) {
                (Freed::ToHeap, Some(c)) => tcache::take_checked(g, c, &found),
                _ => false,
            };
            if !cached {
                if let Err(e) = g.free_found(found) {
                    misused(e, h);
                }
            }
            h = next;
        }
        // The limit was met block by block (here and in `take_checked`).
        if let Some(c) = c {
            g.set_parked(c.held());
        }
    }

    /// How many blocks the remote list holds (walks it, on a heap that
    /// nothing uses meanwhile; `usize::MAX` for a link out of bounds).
    #[cfg(test)]
    pub(super) fn remote_len(&self) -> usize {
        let (m, mut n, mut h) = (self.mem(), 0, self.remote.load(Ordering::Acquire));
        while h != 0 {
            n += 1;
            // SAFETY: listed blocks are used blocks of this heap; their
            // links are checked in bounds before they are followed.
            h = mangle(h, unsafe { m.rd(h + 8) });
            if h != 0 && !self.bounds().holds(h) {
                return usize::MAX;
            }
        }
        n
    }
}

/// Takes listed block `h` off the list: checks its key, clears it, and
/// returns the decoded link.
///
/// # Safety
/// `h` is a used block of the heap whose list it was taken from.
unsafe fn unlist(m: Mem, h: usize) -> usize {
    // SAFETY: per the contract.
    let (word, key) = unsafe { (m.rd(h + 8), m.rd(h + 16)) };
    if key != remote_key(h) {
        damaged(Corruption::RemoteKey, h);
    }
    // SAFETY: as above.
    unsafe { m.wr(h + 16, 0) };
    mangle(h, word)
}

#[cold]
fn damaged(k: Corruption, h: usize) -> ! {
    super::misuse("free", HeapError::Corrupted(k), (h + HDR) as *const u8)
}

#[cold]
fn misused(e: HeapError, h: usize) -> ! {
    super::misuse("free", e, (h + HDR) as *const u8)
}
