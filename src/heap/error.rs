//! What a heap reports when it is handed a pointer it cannot take back,
//! finds its own metadata damaged, or cannot satisfy a request.

use core::fmt;

/// Why a heap operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// The pointer is misaligned, outside every segment and large block of
    /// this heap, or its header does not describe a block of this heap
    /// (another heap's block, even one inside a block of this heap, has
    /// another tag).
    InvalidPointer,
    /// The block is already free.
    DoubleFree,
    /// The heap's metadata around the block has been overwritten; the
    /// check that found it.
    Corrupted(Corruption),
    /// No memory for the request (a reallocated block is left intact).
    OutOfMemory,
}

/// Which integrity check found heap metadata damaged. Each is a write
/// the program should not have made: past the end of a block, or into a
/// block after freeing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// A free-list link does not point to a block address inside one of
    /// the heap's segments.
    Link,
    /// The neighbours of a free block on its list do not point back at
    /// it (glibc: "corrupted double-linked list").
    Unlink,
    /// A free block's header does not describe a free block of this heap
    /// (flags or tag).
    FreeHeader,
    /// A free block's size does not fit its segment, disagrees with its
    /// footer or with its list (glibc: "corrupted size vs. prev_size").
    FreeSize,
    /// The boundary tags of a block handed back, or of its neighbours,
    /// disagree with it.
    Neighbour,
    /// A thread-cache link does not decode to a block of the heap: it was
    /// overwritten (or forged without the process's secret).
    CacheLink,
    /// A cached block's key was overwritten: a write after free.
    CacheKey,
    /// A large block's header does not describe its mapping.
    LargeHeader,
    /// A link of the list of blocks freed by other threads does not decode
    /// to a block of the heap (see `remote.rs`).
    RemoteLink,
    /// The key of a block on that list was overwritten: a write after free.
    RemoteKey,
}

impl Corruption {
    /// The check, as the report names it.
    pub fn message(self) -> &'static str {
        match self {
            Corruption::Link => "corrupted free list (link outside the heap)",
            Corruption::Unlink => "corrupted free list (links do not point back)",
            Corruption::FreeHeader => "corrupted free block header",
            Corruption::FreeSize => "corrupted free block size",
            Corruption::Neighbour => "corrupted boundary tag next to the block",
            Corruption::CacheLink => "corrupted thread-cache link",
            Corruption::CacheKey => "write after free into a cached block",
            Corruption::LargeHeader => "corrupted large-block header",
            Corruption::RemoteLink => "corrupted remote-free link",
            Corruption::RemoteKey => "write after free into a block freed by another thread",
        }
    }
}

impl HeapError {
    /// The message, e.g. `"double free"`.
    pub fn message(self) -> &'static str {
        match self {
            HeapError::InvalidPointer => "invalid pointer",
            HeapError::DoubleFree => "double free",
            HeapError::Corrupted(c) => c.message(),
            HeapError::OutOfMemory => "out of memory",
        }
    }
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}
