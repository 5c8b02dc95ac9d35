//! The poisoning layer over any heap ([`Under`]): each block the user
//! gets lies inside a bigger block of the heap below, between a head and
//! a tail canary; in comprehensive mode new memory is filled with
//! [`NEW_FILL`], freed memory with [`FREE_FILL`], and freed blocks wait in
//! a quarantine (FIFO) before they go back to the heap below, so that a
//! write after free is found when they leave it (before their memory
//! can be reused) or by an integrity check.
//!
//! ```text
//! outer block (the heap below's payload q)       user block p = q + H
//! | pad (zeros) | n | H | canary | state |  n bytes ...  | tail (8 bytes) | slack
//!  q            p-32 p-24 p-16    p-8     p               p+n
//! ```
//!
//! `H` is 48 for alignments up to 16, else the alignment rounded up to a
//! multiple of it (64, 128, ...), so that `p` keeps the alignment asked
//! for. The head's `canary` word is [`canary`]`(p)`, derived from the
//! process secret and `p`; `state` is the canary XOR [`LIVE`] or
//! [`FREED`]. The tail is [`TAIL`], 8 fixed bytes, none zero (an
//! off-by-one string terminator is caught). The heap below writes its
//! free-list links at `q` and `q+8` (and `q+16`, `q+24` for big blocks)
//! only when it takes a block back, never over the canaries or the
//! user's bytes of a quarantined block (which it still counts as used).
//!
//! A pointer handed back is trusted only after the heap below validated
//! its outer block (`q = p - H` for each possible `H`, smallest first)
//! and its head canary matched: a pointer that is no block gets
//! [`HeapError::InvalidPointer`], as without the layer.

use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::heap::error::HeapError;
use crate::heap::secret;
use crate::sync::Lock;

/// The fill of new memory (comprehensive mode), as ESP-IDF's.
pub const NEW_FILL: u8 = 0xCE;
/// The fill of freed memory (comprehensive mode), as ESP-IDF's.
pub const FREE_FILL: u8 = 0xFE;
/// The tail canary: 8 fixed bytes, none of them zero or a fill.
pub const TAIL: [u8; 8] = [0xB5, 0xA7, 0x6C, 0x93, 0xD1, 0x4E, 0x2B, 0x8A];
/// The head for alignments up to 16.
pub const HEAD: usize = 48;
/// Marks a live block's head.
const LIVE: usize = 0x4c49_5645_6c69_7665;
/// Marks a freed block's head (in the quarantine).
pub(crate) const FREED: usize = 0x4652_4545_6672_6565;
/// Blocks the quarantine holds at most.
pub const QUARANTINE_BLOCKS: usize = 1024;
/// Bytes (requested sizes) the quarantine holds at most; a block bigger
/// than that goes back to the heap below at once.
pub const QUARANTINE_BYTES: usize = 4 << 20;

/// The heap a poisoning layer allocates its outer blocks from.
pub trait Under {
    /// A block of at least `size` bytes aligned to `align` (a power of two,
    /// at least 16), or `None`.
    fn alloc(&self, size: usize, align: usize, func: &'static str) -> Option<NonNull<u8>>;
    /// Frees the block at `q`.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`](crate::heap::Heap::dealloc).
    unsafe fn free(&self, q: NonNull<u8>) -> Result<(), HeapError>;
    /// The usable size of the block at `q`; `Err` for anything but a live
    /// block of this heap (never faults).
    fn usable(&self, q: *const u8) -> Result<usize, HeapError>;
    /// Calls `f(q, usable)` for every used block, under the heap's lock.
    fn walk(&self, f: &mut dyn FnMut(*mut u8, usize));
}

/// The head size for alignment `align`.
fn head_for(align: usize) -> usize {
    if align <= 16 {
        HEAD
    } else {
        HEAD.next_multiple_of(align)
    }
}

/// The head canary of the user block at `p` (also the pools' head
/// canary, `pool::debug`).
pub(crate) fn canary(p: *const u8) -> usize {
    (p.addr() ^ secret::key_mask()).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x6361_6e61_7279_2121
}

/// Sets the process secret [`canary`] derives from, if it is not set yet
/// (before the first canary is written).
pub(crate) fn init_canaries() {
    secret::init();
}

/// A word `i` words before `p`.
///
/// # Safety
/// The word lies in a block of the heap below.
unsafe fn word(p: *mut u8, i: usize) -> *mut usize {
    p.wrapping_sub(8 * i).cast()
}

/// What the head before `p` says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Head {
    Live,
    Freed,
    Bad,
}

/// Reads the head before `p`.
///
/// # Safety
/// `[p-16, p)` lies in a block of the heap below.
unsafe fn head(p: *mut u8) -> Head {
    let c = canary(p);
    // SAFETY: the caller's contract.
    let (a, b) = unsafe { (word(p, 2).read(), word(p, 1).read()) };
    match (a == c, b ^ c) {
        (true, LIVE) => Head::Live,
        (true, FREED) => Head::Freed,
        _ => Head::Bad,
    }
}

/// A block found from a user pointer: the outer block, its usable size,
/// the user's size, and what its head says.
struct Found {
    q: NonNull<u8>,
    usable: usize,
    head: Head,
}

/// The offset of the first byte of `[p, p+n)` that is not `b`.
///
/// # Safety
/// The bytes are readable.
pub(crate) unsafe fn first_not(p: *const u8, n: usize, b: u8) -> Option<usize> {
    // SAFETY: the caller's contract.
    let s = unsafe { core::slice::from_raw_parts(p, n) };
    s.iter().position(|&x| x != b)
}

/// A freed block waiting before it goes back to the heap below.
struct Ring {
    slots: [*mut u8; QUARANTINE_BLOCKS],
    first: usize,
    len: usize,
    bytes: usize,
}

// SAFETY: the pointers are blocks the layer owns; they are only used
// under the layer's lock.
unsafe impl Send for Ring {}

/// What a layer found wrong (the integrity check's report, or the abort).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Damage {
    /// The head canary before the block is overwritten.
    Head,
    /// The tail canary after the block is overwritten.
    Tail,
    /// A freed block was written at this offset.
    AfterFree(usize),
}

impl Damage {
    /// The report's words (before `block 0x...`).
    pub fn what(self) -> &'static str {
        match self {
            Damage::Head => "canary corrupted before",
            Damage::Tail => "canary corrupted after",
            Damage::AfterFree(_) => "write after free",
        }
    }

    fn offset(self) -> Option<usize> {
        match self {
            Damage::AfterFree(o) => Some(o),
            _ => None,
        }
    }

    /// Reports the damage at the user block `p` (one line on stderr) and
    /// aborts.
    #[cold]
    pub fn abort(self, func: &str, p: *const u8) -> ! {
        #[cfg(miri)]
        panic!("rawrt: {func}(): {} {:?} block {:#x}", self.what(), self.offset(), p.addr());
        #[cfg(not(miri))]
        crate::rt::fatal_block(func, self.what(), self.offset(), p.addr())
    }

    /// Prints the damage as [`abort`](Self::abort) would, on `out`
    /// (without `core::fmt`'s formatter, which a C program that never
    /// checks its heap would otherwise link).
    pub fn print(self, out: &mut dyn Write, func: &str, p: *const u8) {
        let (mut d, mut h) = ([0u8; 20], [0u8; 18]);
        let mut parts: [&[u8]; 9] = [
            b"rawrt: ",
            func.as_bytes(),
            b"(): ",
            self.what().as_bytes(),
            b"",
            b"",
            b"",
            b" block ",
            b"",
        ];
        if let Some(o) = self.offset() {
            parts[4] = b" at offset ";
            parts[5] = digits(o as u64, 10, &mut d);
            parts[6] = b" of";
        }
        h[..2].copy_from_slice(b"0x");
        let n = digits(p.addr() as u64, 16, &mut h[2..]).len();
        let hex = &h[..2 + n];
        parts[8] = hex;
        for part in parts {
            let _ = out.write_str(core::str::from_utf8(part).unwrap_or(""));
        }
        let _ = out.write_str("\n");
    }
}

/// `n` in base `b` (10 or 16) at the start of `buf`; the digits.
fn digits(mut n: u64, b: u64, buf: &mut [u8]) -> &[u8] {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[(n % b) as usize];
        n /= b;
        if n == 0 || i == 0 {
            break;
        }
    }
    let len = (tmp.len() - i).min(buf.len());
    buf[..len].copy_from_slice(&tmp[i..i + len]);
    &buf[..len]
}

/// A poisoning layer: the mode, and the quarantine (also the lock that
/// orders the layer's changes to heads with its integrity checks).
pub struct Layer {
    /// Comprehensive mode (else light); set before the layer's first use.
    comprehensive: AtomicBool,
    ring: Lock<Ring>,
}

impl Layer {
    /// A layer: canaries, and with `comprehensive` fills and a quarantine.
    pub const fn new(comprehensive: bool) -> Self {
        Layer {
            comprehensive: AtomicBool::new(comprehensive),
            ring: Lock::new(Ring {
                slots: [core::ptr::null_mut(); QUARANTINE_BLOCKS],
                first: 0,
                len: 0,
                bytes: 0,
            }),
        }
    }

    /// Chooses the mode (before the layer's first use).
    pub fn set_comprehensive(&self, on: bool) {
        self.comprehensive.store(on, Relaxed);
    }

    /// Whether freed memory is filled and quarantined.
    pub fn comprehensive(&self) -> bool {
        self.comprehensive.load(Relaxed)
    }

    /// `size` bytes aligned to `align`, zeroed if `zero`, between canaries;
    /// filled with [`NEW_FILL`] in comprehensive mode unless `zero`.
    pub fn alloc<U: Under + ?Sized>(
        &self,
        u: &U,
        size: usize,
        align: usize,
        zero: bool,
        func: &'static str,
    ) -> Option<NonNull<u8>> {
        let h = head_for(align);
        let outer = size.checked_add(h + TAIL.len())?;
        secret::init();
        let _g = self.ring.lock();
        let q = u.alloc(outer, align.max(16), func)?.as_ptr();
        let p = q.wrapping_add(h);
        // SAFETY: `[q, q + outer)` is the new block, ours alone.
        unsafe {
            core::ptr::write_bytes(q, 0, h - 32);
            word(p, 4).write(size);
            word(p, 3).write(h);
            word(p, 2).write(canary(p));
            word(p, 1).write(canary(p) ^ LIVE);
            if zero || self.comprehensive() {
                core::ptr::write_bytes(p, if zero { 0 } else { NEW_FILL }, size);
            }
            core::ptr::copy_nonoverlapping(TAIL.as_ptr(), p.add(size), TAIL.len());
        }
        NonNull::new(p)
    }

    /// The outer block of the user block at `p`, validated by the heap
    /// below; `Err` as the heap below judges `p` when no head size fits.
    fn find<U: Under + ?Sized>(&self, u: &U, p: *mut u8) -> Result<Found, HeapError> {
        if p.addr() % 16 != 0 {
            return Err(HeapError::InvalidPointer);
        }
        let mut first = None;
        let mut h = HEAD;
        while h <= p.addr() && h < (1 << 47) {
            let q = p.wrapping_sub(h);
            match u.usable(q) {
                Ok(usable) if usable >= h + TAIL.len() => {
                    // SAFETY: `[p-16, p)` lies in the validated outer block.
                    let head = unsafe { head(p) };
                    if head != Head::Bad || h == HEAD {
                        // A block whose head is bad is found at the
                        // smallest head size alone (a bigger one would be
                        // another block's).
                        let q = NonNull::new(q).ok_or(HeapError::InvalidPointer)?;
                        return Ok(Found { q, usable, head });
                    }
                }
                Ok(_) => {}
                // The heap below found its block but damage around it
                // (the next block's header overwritten, say): an overflow
                // the tail canary names better, if the head is intact.
                Err(e @ HeapError::Corrupted(_)) => {
                    // SAFETY: the heap below located a block at `q` (its
                    // header validated), which holds at least a head.
                    let head = unsafe { head(p) };
                    if head != Head::Bad {
                        // SAFETY: an intact head holds the size it was
                        // made with, which the outer block holds.
                        let n = unsafe { word(p, 4).read() };
                        let usable = n.saturating_add(h + TAIL.len());
                        let q = NonNull::new(q).ok_or(e)?;
                        return Ok(Found { q, usable, head });
                    }
                    first.get_or_insert(e);
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
            h = if h == HEAD { 64 } else { h * 2 };
        }
        Err(first.unwrap_or(HeapError::InvalidPointer))
    }

    /// The user's size of the live or freed block at `p` (outer block `f`),
    /// or the damage if its head or tail is overwritten.
    ///
    /// # Safety
    /// `f` was found for `p`.
    unsafe fn size_of(&self, p: *mut u8, f: &Found) -> Result<usize, Damage> {
        if f.head == Head::Bad {
            return Err(Damage::Head);
        }
        // SAFETY: the head lies in the validated outer block.
        let (n, h) = unsafe { (word(p, 4).read(), word(p, 3).read()) };
        let fits = n.checked_add(h + TAIL.len()).is_some_and(|e| e <= f.usable);
        if !fits || p.wrapping_sub(h) != f.q.as_ptr() {
            return Err(Damage::Head);
        }
        let mut t = [0u8; 8];
        // SAFETY: `[p+n, p+n+8)` lies in the outer block (checked above).
        unsafe { core::ptr::copy_nonoverlapping(p.add(n), t.as_mut_ptr(), 8) };
        if t != TAIL {
            return Err(Damage::Tail);
        }
        Ok(n)
    }

    /// Frees the user block at `p`: checks its canaries (a damaged one is
    /// reported under `func` and aborts), then gives it back to the heap
    /// below, or (comprehensive) fills it and puts it in the quarantine,
    /// giving back the oldest blocks beyond its bounds after checking that
    /// nobody wrote them.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`](crate::heap::Heap::dealloc).
    pub unsafe fn free<U: Under + ?Sized>(
        &self,
        u: &U,
        p: NonNull<u8>,
        func: &'static str,
    ) -> Result<(), HeapError> {
        let p = p.as_ptr();
        let mut ring = self.ring.lock();
        let f = self.find(u, p)?;
        if f.head == Head::Freed {
            return Err(HeapError::DoubleFree);
        }
        // SAFETY: `f` was found for `p`.
        let n = unsafe { self.size_of(p, &f) }.unwrap_or_else(|d| d.abort(func, p));
        if !self.comprehensive() {
            // SAFETY: the block is live; the heap below validates it.
            return unsafe { u.free(f.q) };
        }
        // SAFETY: the live block's head and bytes are the layer's now.
        unsafe {
            word(p, 1).write(canary(p) ^ FREED);
            core::ptr::write_bytes(p, FREE_FILL, n);
        }
        if ring.len == QUARANTINE_BLOCKS {
            // SAFETY: forwarded contract.
            unsafe { self.evict(u, &mut ring, func) }?;
        }
        let i = (ring.first + ring.len) % QUARANTINE_BLOCKS;
        ring.slots[i] = p;
        ring.len += 1;
        ring.bytes += n;
        while ring.bytes > QUARANTINE_BYTES {
            // SAFETY: forwarded contract.
            unsafe { self.evict(u, &mut ring, func) }?;
        }
        Ok(())
    }

    /// Gives the oldest quarantined block back to the heap below, after
    /// checking it (damage is reported under `func` and aborts).
    ///
    /// # Safety
    /// The quarantined blocks are the layer's.
    unsafe fn evict<U: Under + ?Sized>(
        &self,
        u: &U,
        ring: &mut Ring,
        func: &str,
    ) -> Result<(), HeapError> {
        let p = ring.slots[ring.first % QUARANTINE_BLOCKS];
        ring.first = (ring.first + 1) % QUARANTINE_BLOCKS;
        ring.len -= 1;
        let f = self.find(u, p)?;
        // SAFETY: `f` was found for `p`.
        let n = unsafe { self.check_freed(p, &f) }.unwrap_or_else(|d| d.abort(func, p));
        ring.bytes -= n;
        // SAFETY: the block left the quarantine; the heap below takes it.
        unsafe { u.free(f.q) }
    }

    /// The user's size of the quarantined block at `p`, or the damage.
    ///
    /// # Safety
    /// `f` was found for `p`.
    unsafe fn check_freed(&self, p: *mut u8, f: &Found) -> Result<usize, Damage> {
        if f.head != Head::Freed {
            return Err(Damage::Head);
        }
        // SAFETY: `f` was found for `p`.
        let n = unsafe { self.size_of(p, f) }?;
        // SAFETY: the block's bytes lie in the outer block.
        match unsafe { first_not(p, n, FREE_FILL) } {
            Some(o) => Err(Damage::AfterFree(o)),
            None => Ok(n),
        }
    }

    /// The user's size of the live block at `p` (for `malloc_usable_size`:
    /// the bytes that may be written without touching the tail canary).
    ///
    /// # Safety
    /// `p` should be a live block.
    pub unsafe fn usable<U: Under + ?Sized>(&self, u: &U, p: *mut u8) -> Result<usize, HeapError> {
        let f = self.find(u, p)?;
        match f.head {
            Head::Freed => Err(HeapError::DoubleFree),
            // SAFETY: `f` was found for `p`.
            _ => unsafe { self.size_of(p, &f) }.map_err(|_| HeapError::InvalidPointer),
        }
    }

    /// Resizes the user block at `p`: always a new block, the bytes kept,
    /// the old one freed (its canaries checked, damage reported under
    /// `func`).
    ///
    /// # Safety
    /// As for [`Heap::reallocate`](crate::heap::Heap::reallocate).
    pub unsafe fn realloc<U: Under + ?Sized>(
        &self,
        u: &U,
        p: NonNull<u8>,
        new_size: usize,
        align: usize,
        func: &'static str,
    ) -> Result<NonNull<u8>, HeapError> {
        let old = {
            let _g = self.ring.lock();
            let f = self.find(u, p.as_ptr())?;
            if f.head == Head::Freed {
                return Err(HeapError::DoubleFree);
            }
            // SAFETY: `f` was found for `p`.
            unsafe { self.size_of(p.as_ptr(), &f) }.unwrap_or_else(|d| d.abort(func, p.as_ptr()))
        };
        let q = self.alloc(u, new_size, align, false, func).ok_or(HeapError::OutOfMemory)?;
        // SAFETY: two distinct live blocks, each holding the bytes copied.
        unsafe { core::ptr::copy_nonoverlapping(p.as_ptr(), q.as_ptr(), old.min(new_size)) };
        // SAFETY: forwarded contract.
        unsafe { self.free(u, p, func) }?;
        Ok(q)
    }

    /// Checks every block of the heap below: the canaries of live blocks,
    /// and (comprehensive) the fill of quarantined ones. Each damaged
    /// block is printed on `out` (as `func`) if `print`; true if none is.
    pub fn check<U: Under + ?Sized>(
        &self,
        u: &U,
        print: bool,
        out: &mut dyn Write,
        func: &str,
    ) -> bool {
        let _g = self.ring.lock();
        let mut ok = true;
        u.walk(&mut |q, usable| {
            let (p, damage) = Self::check_outer(self, q, usable);
            if let Some(d) = damage {
                ok = false;
                if print {
                    d.print(out, func, p);
                }
            }
        });
        ok
    }

    /// The user block in the outer block `q` and its damage, if any.
    fn check_outer(&self, q: *mut u8, usable: usize) -> (*mut u8, Option<Damage>) {
        let mut h = HEAD;
        while h + TAIL.len() <= usable {
            let p = q.wrapping_add(h);
            // SAFETY: `[p-16, p)` lies in the outer block.
            let head = unsafe { head(p) };
            if head != Head::Bad {
                let f = Found { q: NonNull::new(q).unwrap_or(NonNull::dangling()), usable, head };
                let r = match head {
                    // SAFETY: `f` describes `p`'s outer block.
                    Head::Freed => unsafe { self.check_freed(p, &f) },
                    // SAFETY: as above.
                    _ => unsafe { self.size_of(p, &f) },
                };
                return (p, r.err());
            }
            h = if h == HEAD { 64 } else { h * 2 };
        }
        (q.wrapping_add(HEAD), Some(Damage::Head))
    }
}
