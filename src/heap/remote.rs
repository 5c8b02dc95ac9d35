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
//! Before it pushes, the freeing thread checks what it can without the
//! lock: the block lies in the heap's top segment as published (memory
//! that stays mapped while a live block is in it), and its header holds
//! the heap's tag, IN_USE and no LARGE. Anything else (a block of another
//! segment, a stray or damaged pointer) goes to the heap's locked path,
//! which validates it fully and reports misuse.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::block::{Mem, HDR, IN_USE, LARGE, TAG_BITS};
use super::error::{Corruption, HeapError};
use super::heap::Heap;
use super::raw::RawHeap;
use super::secret;
use super::source::Source;
use super::tcache::{self, key_of, ThreadCache};

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
        let h = p.wrapping_sub(HDR);
        // A block address of the top segment (so `p` is 16-aligned).
        if !self.is_keyed() || !self.fast_range().holds(h) {
            return Ok(Remote::Locked);
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
            return Ok(Remote::Locked);
        }
        // SAFETY: a used block of this heap has at least two payload words,
        // which belong to its user, and so now to this free.
        let k = unsafe { m.rd(h + 16) };
        if k == remote_key(h) {
            return Err(HeapError::DoubleFree);
        }
        if k == key_of(h) {
            return Ok(Remote::Locked); // cached: the locked path reports it
        }
        // SAFETY: as above.
        unsafe { self.push(m, h) };
        Ok(Remote::Listed)
    }

    /// Puts used block `h` on the remote list.
    ///
    /// # Safety
    /// `h` is a used block of this heap that nothing uses any more.
    #[inline]
    unsafe fn push(&self, m: Mem, h: usize) {
        // The lock takes the list back through `take` (see there); the
        // release below orders this store before the list's new head.
        let take: TakeFn<S> = Self::take_remote;
        if self.take.load(Ordering::Relaxed).is_null() {
            self.take.store(take as *mut (), Ordering::Relaxed);
        }
        // SAFETY: the block's first two payload words are ours (contract).
        unsafe { m.wr(h + 16, remote_key(h)) };
        let mut head = self.remote.load(Ordering::Relaxed);
        loop {
            // SAFETY: as above; the list's user reads the link only after
            // the release below.
            unsafe { m.wr(h + 8, mangle(h, head)) };
            match self.remote.compare_exchange_weak(head, h, Ordering::Release, Ordering::Relaxed) {
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

    /// Takes the whole remote list back, under the lock (`g`): each block
    /// is validated as any free is, then cached in `c` if it has room, or
    /// freed. A damaged link or key, or a block that does not validate, is
    /// reported (`free()`) and aborts.
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
            let found = g.locate(h + HDR).unwrap_or_else(|e| misused(e, h));
            let cached = match c.as_deref_mut() {
                Some(c) => tcache::take_checked(g, c, &found),
                None => false,
            };
            if !cached {
                if let Err(e) = g.free_found(found) {
                    misused(e, h);
                }
            }
            h = next;
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
