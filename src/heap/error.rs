//! What a heap reports when it is handed a pointer it cannot take back,
//! or cannot satisfy a request.

use core::fmt;

/// Why a heap operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// The pointer is misaligned, outside every segment and large block of
    /// this heap, or its header does not describe a block.
    InvalidPointer,
    /// The block is already free.
    DoubleFree,
    /// The block's header or its neighbours' boundary tags are
    /// inconsistent: the heap has been overwritten.
    Corrupted,
    /// No memory for the request (a reallocated block is left intact).
    OutOfMemory,
}

impl HeapError {
    /// The message, e.g. `"double free"`.
    pub fn message(self) -> &'static str {
        match self {
            HeapError::InvalidPointer => "invalid pointer",
            HeapError::DoubleFree => "double free",
            HeapError::Corrupted => "heap corruption detected",
            HeapError::OutOfMemory => "out of memory",
        }
    }
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}
