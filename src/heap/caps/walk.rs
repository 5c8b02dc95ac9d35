//! The priority walk: which heap serves a request, and the heaps that
//! have a set of capabilities (for the figures, checks and dumps).

use core::fmt::{self, Write};
use core::ptr::NonNull;

use super::kinds;
use super::registry::{self, Entry};
use super::{
    failed_with_caps, free, wanted, MALLOC_CAP_INVALID, PRIOS, PROCESS_CAPS, PROCESS_PRIO,
};
use crate::heap::block::ALIGN;
use crate::heap::error::HeapError;
use crate::heap::info::HeapInfo;
use crate::heap::process;
use crate::heap::Entry as _;

/// Whether a heap with masks `prio` serves a request for `caps` at
/// priority `i`: its mask `i` has one of the capabilities, and its masks
/// together have all of them (ESP-IDF's rule).
#[inline]
fn serves(prio: &[u32; PRIOS], i: usize, caps: u32) -> bool {
    prio[i] & caps != 0 && (prio[0] | prio[1] | prio[2]) & caps == caps
}

/// An allocation from the first heap in priority order that has `caps`
/// (not 0, without [`MALLOC_CAP_INVALID`]) and room, else from a new heap
/// of the kind `caps` names (`kinds.rs`); no callback, no errno.
pub(super) fn alloc(
    size: usize,
    align: usize,
    zero: bool,
    caps: u32,
    func: &'static str,
) -> Option<NonNull<u8>> {
    for i in 0..PRIOS {
        if serves(&PROCESS_PRIO, i, caps) {
            let mut g = process().lock();
            let p = if zero { g.alloc_zeroed(size, align) } else { g.alloc(size, align) };
            if p.is_some() {
                return p;
            }
        }
        for e in registry::entries() {
            if serves(&e.caps, i, caps) {
                if let Some(p) = e.heap.allocate(size, align, zero, func) {
                    return NonNull::new(e.outer(p.as_ptr()));
                }
            }
        }
    }
    // A kind of memory rawrt makes: one more heap of it.
    let e = kinds::grow(size, align, caps)?;
    let p = e.heap.allocate(size, align, zero, func)?;
    NonNull::new(e.outer(p.as_ptr()))
}

/// The heap that owns a block.
#[derive(Clone, Copy)]
enum Owner {
    Process,
    Region(&'static Entry),
}

/// `heap_caps_realloc`'s resize of the live block `nn` (see
/// [`super::realloc`]): in its own heap if that has all of `caps`, else
/// (or when it has no room there) moved to memory with `caps`. A failure
/// is reported (errno, callback) if `report`.
///
/// # Safety
/// `nn` is a live block of a heap; if it moves, nothing may use it
/// afterwards.
pub(super) unsafe fn realloc(
    nn: NonNull<u8>,
    size: usize,
    caps: u32,
    func: &'static str,
    report: bool,
) -> Result<NonNull<u8>, HeapError> {
    let p = nn.as_ptr();
    let want = wanted(caps);
    // SAFETY: the caller's contract; other pointers are rejected.
    let (owner, old, all) = match unsafe { process().usable_size(p) } {
        Ok(n) => (Owner::Process, n, PROCESS_CAPS),
        Err(e) => {
            let o = registry::owner(p.addr()).ok_or(e)?;
            // SAFETY: as above, in `o`'s heap.
            (Owner::Region(o), unsafe { o.heap.usable_size(o.inner(p)) }?, o.all_caps())
        }
    };
    let ok = caps & MALLOC_CAP_INVALID == 0;
    if ok && all & want == want {
        match owner {
            Owner::Process => {
                // An arena's block (not the main heap's) is moved below.
                // SAFETY: a live block of the process heap.
                if let Ok(q) = unsafe { process().lock().realloc(p, size, ALIGN) } {
                    return Ok(q);
                }
            }
            Owner::Region(o) => {
                let inner = NonNull::new(o.inner(p)).ok_or(HeapError::InvalidPointer)?;
                // SAFETY: a live block of `o`'s heap.
                match unsafe { o.heap.reallocate(inner, size, ALIGN, func) } {
                    Ok(q) => {
                        return NonNull::new(o.outer(q.as_ptr())).ok_or(HeapError::InvalidPointer)
                    }
                    Err(HeapError::OutOfMemory) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let Some(q) = ok.then(|| alloc(size, ALIGN, false, want, func)).flatten() else {
        if report {
            failed_with_caps(size, ALIGN, caps, func);
        }
        return Err(HeapError::OutOfMemory);
    };
    // SAFETY: both are live blocks of at least the bytes copied, distinct;
    // the old one is freed after the copy.
    unsafe {
        core::ptr::copy_nonoverlapping(p, q.as_ptr(), old.min(size));
        free(p, "free");
    }
    Ok(q)
}

/// One heap of those a request can be served by.
#[derive(Clone, Copy)]
pub enum HeapRef {
    /// The process heap.
    Process,
    /// A registered heap.
    Region(&'static Entry),
}

impl HeapRef {
    /// The heap's figures.
    pub fn info(&self) -> HeapInfo {
        match self {
            HeapRef::Process => process().info(),
            HeapRef::Region(e) => e.heap.info(),
        }
    }

    /// The heap's capability masks.
    pub fn caps(&self) -> [u32; PRIOS] {
        match self {
            HeapRef::Process => PROCESS_PRIO,
            HeapRef::Region(e) => e.caps,
        }
    }

    /// Whether every invariant of the heap holds; errors are written to
    /// `out` if `print_errors`.
    pub fn check(&self, print_errors: bool, out: &mut dyn Write) -> bool {
        match self {
            HeapRef::Process => process().check(print_errors, out),
            HeapRef::Region(e) => e.heap.check(print_errors, out),
        }
    }

    /// Writes one line per block and a summary (block addresses are the
    /// heap's own: an executable heap's writable view).
    pub fn dump(&self, out: &mut dyn Write) -> fmt::Result {
        match self {
            HeapRef::Process => process().dump(out),
            HeapRef::Region(e) => e.heap.dump(out),
        }
    }

    /// Writes where the heap is: `At 0x... len N` (handed-out addresses)
    /// or `Process heap`.
    pub fn describe(&self, out: &mut dyn Write) -> fmt::Result {
        match self {
            HeapRef::Process => write!(out, "Process heap"),
            HeapRef::Region(e) => write!(out, "At 0x{:x} len {}", e.start, e.end - e.start),
        }
    }
}

/// The heaps that have all of `caps` (0 as [`MALLOC_CAP_DEFAULT`](super::MALLOC_CAP_DEFAULT)),
/// in registration order, the process heap first; with
/// [`MALLOC_CAP_INVALID`] every heap (as `heap_caps_check_integrity`
/// takes it).
pub fn heaps(caps: u32) -> Heaps {
    Heaps { caps, next: 0 }
}

/// The iterator of [`heaps`]: index 0 is the process heap, `i + 1` entry
/// `i`.
pub struct Heaps {
    caps: u32,
    next: usize,
}

impl Iterator for Heaps {
    type Item = HeapRef;

    fn next(&mut self) -> Option<HeapRef> {
        let all = self.caps & MALLOC_CAP_INVALID != 0;
        let want = wanted(self.caps);
        loop {
            let i = self.next;
            if i > registry::len() {
                return None;
            }
            self.next += 1;
            let h = match i.checked_sub(1) {
                None => HeapRef::Process,
                Some(j) => HeapRef::Region(registry::entry(j)?),
            };
            let c = h.caps();
            if all || (c[0] | c[1] | c[2]) & want == want {
                return Some(h);
            }
        }
    }
}
