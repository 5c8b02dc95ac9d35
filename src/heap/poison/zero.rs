//! `malloc(0)` in comprehensive mode: a distinct pointer into one
//! inaccessible page (reserved `PROT_NONE` at the first such request),
//! so that any read or write through it faults (SIGSEGV); [`SLOTS`]
//! pointers 16 bytes apart, each handed out until freed. With all of them
//! out (or no page to be had), a zero-size request gets an ordinary
//! poisoned block of 0 bytes (its tail canary catches a write on free).

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::heap::error::HeapError;
use crate::heap::os::{LinuxOs, Os};

/// Zero-size pointers at most at once.
pub const SLOTS: usize = 256;
/// Bytes between two of them.
const STEP: usize = 16;

/// The page's address, 0 before the first request, 1 if it could not be
/// had.
static PAGE: AtomicUsize = AtomicUsize::new(0);
/// Bit `i`: slot `i` is handed out.
static USED: [AtomicU64; SLOTS / 64] = [const { AtomicU64::new(0) }; SLOTS / 64];

/// The page, reserved now if not yet; `None` if it cannot be had.
fn page() -> Option<usize> {
    match PAGE.load(Ordering::Acquire) {
        0 => {}
        1 => return None,
        p => return Some(p),
    }
    let got = LinuxOs.reserve(SLOTS * STEP).unwrap_or(1);
    match PAGE.compare_exchange(0, got, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => (got != 1).then_some(got),
        Err(other) => {
            if got != 1 {
                // SAFETY: our own reservation, which nothing uses (another
                // thread's won).
                unsafe { LinuxOs.munmap(got, SLOTS * STEP) };
            }
            (other != 1).then_some(other)
        }
    }
}

/// A free zero-size pointer, if one is left.
pub fn take() -> Option<NonNull<u8>> {
    let base = page()?;
    for (w, bits) in USED.iter().enumerate() {
        let mut cur = bits.load(Ordering::Relaxed);
        while cur != u64::MAX {
            let i = (!cur).trailing_zeros() as usize;
            match bits.compare_exchange(cur, cur | 1 << i, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    let a = base + (w * 64 + i) * STEP;
                    return NonNull::new(core::ptr::with_exposed_provenance_mut(a));
                }
                Err(now) => cur = now,
            }
        }
    }
    None
}

/// Whether `p` lies in the zero-size page.
pub fn owns(p: *const u8) -> bool {
    let base = PAGE.load(Ordering::Acquire);
    base > 1 && p.addr().wrapping_sub(base) < SLOTS * STEP
}

/// The slot of `p` (in the page): its word and bit, if `p` is a slot's
/// address and handed out.
fn slot(p: *const u8) -> Result<(usize, u64), HeapError> {
    let off = p.addr() - PAGE.load(Ordering::Acquire);
    if off % STEP != 0 {
        return Err(HeapError::InvalidPointer);
    }
    let (w, bit) = (off / STEP / 64, 1u64 << (off / STEP % 64));
    if USED[w % USED.len()].load(Ordering::Acquire) & bit == 0 {
        return Err(HeapError::DoubleFree);
    }
    Ok((w, bit))
}

/// Whether `p` (in the page) is a zero-size pointer handed out.
pub fn check(p: *const u8) -> Result<(), HeapError> {
    slot(p).map(|_| ())
}

/// Takes back the zero-size pointer `p` (in the page).
pub fn give(p: *const u8) -> Result<(), HeapError> {
    let (w, bit) = slot(p)?;
    if USED[w % USED.len()].fetch_and(!bit, Ordering::AcqRel) & bit == 0 {
        return Err(HeapError::DoubleFree);
    }
    Ok(())
}
