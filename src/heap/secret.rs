//! The process's heap secret: the random values that thread-cache links
//! are mangled with, that cache keys are made of, and that heap tags are
//! derived from, so that an attacker who can write heap memory but not
//! read the secret cannot forge a link, a key or a header.
//!
//! It comes from the 16 random bytes the kernel puts at `AT_RANDOM` in
//! every process's auxiliary vector (no system call). A program that rawrt
//! did not start (rawrt inside a C or Rust program, no `rawrt_init`) has
//! no auxiliary vector to read: then `getrandom(2)` supplies it, and under
//! Miri the addresses of a stack slot and a static (randomised by ASLR
//! natively; fixed under Miri, which is fine for a test).
//!
//! The secret is set by the first heap that takes memory ([`init`], under
//! that heap's lock, before any block exists) and never changes; a cache
//! can only hold blocks that a heap handed out after that, so every
//! reader sees it (the lock's release orders the store before them).

use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The link mask, the key mask; 0 until [`init`].
static SECRET: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
/// Heaps that have taken memory so far: each one's serial number.
static HEAPS: AtomicUsize = AtomicUsize::new(0);

/// The mask thread-cache links are stored with.
#[inline(always)]
pub fn link_mask() -> usize {
    SECRET[0].load(Relaxed)
}

/// The mask thread-cache keys are made with.
#[inline(always)]
pub fn key_mask() -> usize {
    SECRET[1].load(Relaxed)
}

/// Sets the secret if it is not set yet.
#[cold]
pub fn init() {
    if SECRET[1].load(Relaxed) != 0 {
        return;
    }
    let (a, b) = random_words();
    // Two threads may race here (each under its own heap's lock): both
    // store values before either hands out a block, and the first store of
    // each word wins only if nothing was stored yet.
    let _ = SECRET[0].compare_exchange(0, a, Relaxed, Relaxed);
    let _ = SECRET[1].compare_exchange(0, b | 1, Relaxed, Relaxed);
}

/// The tag of a new heap: the top bit, and 15 bits of the key mask mixed
/// with the heap's serial number (distinct for the first 32,768 heaps).
pub fn new_tag() -> usize {
    init();
    let n = HEAPS.fetch_add(1, Relaxed);
    let bits = ((key_mask() >> 17) ^ n) & 0x7FFF;
    super::block::TAG_ONE | (bits << 48)
}

/// Sixteen random bytes as two words (never both zero).
fn random_words() -> (usize, usize) {
    if let Some(p) = crate::rt::getauxval(linux_raw_sys::general::AT_RANDOM as usize) {
        let p = core::ptr::with_exposed_provenance::<[u8; 8]>(p);
        // SAFETY: the kernel's AT_RANDOM points to 16 readable bytes that
        // live as long as the process (its initial stack).
        let (a, b) = unsafe { (p.read_unaligned(), p.add(1).read_unaligned()) };
        return mix(usize::from_ne_bytes(a), usize::from_ne_bytes(b));
    }
    let mut buf = [0u8; 16];
    #[cfg(not(miri))]
    if crate::sys::time::getrandom(&mut buf, 0) == Ok(16) {
        let a = usize::from_ne_bytes(buf[..8].try_into().unwrap_or_default());
        let b = usize::from_ne_bytes(buf[8..].try_into().unwrap_or_default());
        return mix(a, b);
    }
    let local = 0u8;
    buf[0] = 1;
    mix(core::ptr::addr_of!(local).addr(), HEAPS.as_ptr().addr() ^ buf.as_ptr().addr())
}

/// Spreads two words over every bit (splitmix64's finaliser), so that
/// both results change with each bit of the input.
fn mix(a: usize, b: usize) -> (usize, usize) {
    fn fin(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let (a, b) = (a as u64, b as u64);
    (fin(a ^ 0x9E37_79B9_7F4A_7C15) as usize, fin(b.wrapping_add(a.rotate_left(32))) as usize)
}
