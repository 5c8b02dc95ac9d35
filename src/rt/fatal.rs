//! Fatal misuse reports: one line on stderr, then `abort` (SIGABRT).
//! Used by the heap and the pools when they detect a bad pointer or
//! corruption; never formats with `core::fmt`.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::io::FdWriter;
use super::itoa;
use crate::sys::STDERR;

/// Where the block at an address was allocated, for the reports below:
/// 0, or the address of an [`OriginFn`], installed by the heap tracer
/// when it records source locations (`heap::trace`, `rawrt_track.h`), so
/// that a report adds ` (allocated at FILE:LINE)`.
pub static BLOCK_ORIGIN: AtomicUsize = AtomicUsize::new(0);

/// [`BLOCK_ORIGIN`]'s type: writes ` (allocated at FILE:LINE)` for the
/// block at the address if a location was recorded for it, else nothing.
pub type OriginFn = fn(usize, &mut FdWriter);

/// Prints `rawrt: FUNC(): WHAT of 0xADDR` on stderr in one `write`, then
/// ends the process with `SIGABRT`: a bad pointer handed in. For example
/// `fatal("free", "double free", p)` prints
/// `rawrt: free(): double free of 0x5555deadbeef`.
#[cold]
pub fn fatal(func: &str, what: &str, addr: usize) -> ! {
    report(func, what.as_bytes(), b" of ", addr)
}

/// Prints `rawrt: FUNC(): WHAT at 0xADDR` on stderr in one `write`, then
/// ends the process with `SIGABRT`: damaged allocator metadata found at
/// (the block) `addr`. For example `rawrt: malloc(): corrupted free list
/// (links do not point back) at 0x5555deadbeef`.
#[cold]
pub fn fatal_at(func: &str, what: &str, addr: usize) -> ! {
    report(func, what.as_bytes(), b" at ", addr)
}

/// Prints `rawrt: FUNC(): WHAT block 0xADDR` on stderr in one `write`,
/// or with an offset `rawrt: FUNC(): WHAT at offset N of block 0xADDR`,
/// then ends the process with `SIGABRT`: a debugging check (heap
/// poisoning) found the block damaged. For example `rawrt: free(): canary
/// corrupted after block 0x5555deadbeef` or `rawrt: free(): write after
/// free at offset 100 of block 0x5555deadbeef`.
#[cold]
#[inline(never)]
pub fn fatal_block(func: &str, what: &str, offset: Option<usize>, addr: usize) -> ! {
    // `WHAT at offset N of`, then `report` adds ` block 0xADDR`.
    let mut buf = [0u8; 96];
    let mut len = 0;
    let mut d = [0u8; 20];
    let tail: [&[u8]; 3] = match offset {
        Some(n) => [b" at offset ", itoa::dec(n as u64, &mut d), b" of"],
        None => [b"", b"", b""],
    };
    for part in [what.as_bytes(), tail[0], tail[1], tail[2]] {
        // A copy (memcpy), not a byte loop, which the compiler vectorised
        // into about 400 bytes of cold code; what does not fit is cut.
        let n = part.len().min(buf.len() - len);
        if let (Some(to), Some(from)) = (buf.get_mut(len..len + n), part.get(..n)) {
            to.copy_from_slice(from);
            len += n;
        }
    }
    // Bytes, not a `str`: no UTF-8 validation linked in for a message
    // made of two `str`s and ASCII.
    report(func, buf.get(..len).unwrap_or(what.as_bytes()), b" block ", addr)
}

#[cold]
#[inline(never)]
fn report(func: &str, what: &[u8], sep: &[u8], addr: usize) -> ! {
    let mut w = FdWriter::new(STDERR);
    let mut h = [0u8; 18];
    for part in [b"rawrt: ", func.as_bytes(), b"(): ", what, sep, itoa::hex(addr as u64, &mut h)] {
        w.push(part);
    }
    let origin = BLOCK_ORIGIN.load(Ordering::Acquire);
    if origin != 0 {
        // SAFETY: a non-zero `BLOCK_ORIGIN` is the address of an
        // `OriginFn` (stored by the tracer with this very type).
        let f = unsafe { core::mem::transmute::<usize, OriginFn>(origin) };
        f(addr, &mut w);
    }
    w.push(b"\n");
    let _ = w.finish();
    super::exit::abort()
}
