//! Decoding fuzz input into choices: every read succeeds (zeros once the
//! input is used up, which ends the run), so every input is valid.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Inputs run and operations performed so far (all targets).
static INPUTS: AtomicU64 = AtomicU64::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);

/// Inputs run so far.
pub fn inputs() -> u64 {
    INPUTS.load(Relaxed)
}

/// Operations performed so far.
pub fn ops() -> u64 {
    OPS.load(Relaxed)
}

/// Counts an input that ran `n` operations.
pub fn count(n: u64) {
    INPUTS.fetch_add(1, Relaxed);
    OPS.fetch_add(n, Relaxed);
}

/// The fuzz input, read front to back.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Whether the input is used up.
    pub fn done(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.u32() as usize % n
        }
    }

    /// A request size: mostly small, some medium, a few up to `max`.
    pub fn size(&mut self, max: usize) -> usize {
        match self.byte() {
            0..=159 => self.below(257),
            160..=229 => self.below(4097),
            230..=249 => self.below(65_537),
            _ => self.below(max + 1),
        }
    }

    /// An alignment: 16 or less mostly, up to 4096.
    pub fn align(&mut self) -> usize {
        match self.byte() {
            0..=199 => 1 << (self.byte() % 5),
            _ => 32 << (self.byte() % 8),
        }
    }
}

/// The byte a block with tag `t` holds at offset `i`: 0x01..=0x7F, never a
/// value a heap header's tag could start with (its top bit is set).
pub fn pattern(t: u32, i: usize) -> u8 {
    ((t as usize).wrapping_mul(31).wrapping_add(i) % 127 + 1) as u8
}

/// Fills `[p, p+len)` with tag `t`'s pattern.
///
/// # Safety
/// The caller owns `[p, p+len)`.
pub unsafe fn fill(p: *mut u8, len: usize, t: u32) {
    for i in 0..len {
        // SAFETY: the caller owns the range.
        unsafe { p.add(i).write(pattern(t, i)) };
    }
}

/// Whether `[p, p+len)` holds tag `t`'s pattern.
///
/// # Safety
/// The caller owns `[p, p+len)`.
pub unsafe fn intact(p: *const u8, len: usize, t: u32) -> bool {
    // SAFETY: the caller owns the range.
    (0..len).all(|i| unsafe { p.add(i).read() } == pattern(t, i))
}

/// A zeroed, 4096-aligned buffer of `len` bytes from std's allocator,
/// freed on drop.
pub struct Region {
    pub ptr: *mut u8,
    pub len: usize,
}

impl Region {
    pub fn new(len: usize) -> Region {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Region { ptr, len }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len, 4096).unwrap();
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, layout) };
    }
}
