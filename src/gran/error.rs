//! Errors of the granule and page allocators.

use core::fmt;

use crate::sys::Errno;

/// Why a granule or page operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GranError {
    /// No run of free granules is long enough (or suitably aligned) for the
    /// request. Maps to `ENOMEM`.
    NoMemory,
    /// A bad parameter: null or too small a region, a size of zero, a
    /// granule or alignment exponent too large, a size that overflows.
    /// Maps to `EINVAL`.
    InvalidArgument,
    /// Free: the range does not lie inside the granule heap. Maps to
    /// `EINVAL`; the C layer reports it and aborts.
    OutOfRange,
    /// Free: the address is not at the start of a granule. Maps to
    /// `EINVAL`; the C layer reports it and aborts.
    Misaligned,
    /// Free: the first granule is not allocated (a double free, or a range
    /// that was never handed out). Nothing was changed. Maps to `EINVAL`;
    /// the C layer reports it and aborts.
    NotAllocated,
    /// Free: the address lies inside an allocation, not at its start.
    /// Nothing was changed. Maps to `EINVAL`; the C layer reports it and
    /// aborts.
    NotAStart,
    /// Free: the size covers more or fewer granules than the allocation
    /// (would free a neighbour's granules, or part of the allocation).
    /// Nothing was changed. Maps to `EINVAL`; the C layer reports it and
    /// aborts.
    WrongSize,
    /// The page allocator was already initialised. Maps to `EBUSY`.
    Busy,
    /// Reserving the page region failed with this error (`mmap`).
    Map(Errno),
}

impl GranError {
    /// The `errno` value a C caller sees.
    pub fn errno(self) -> Errno {
        match self {
            GranError::NoMemory => Errno::ENOMEM,
            GranError::Busy => Errno::EBUSY,
            GranError::Map(e) => e,
            GranError::InvalidArgument
            | GranError::OutOfRange
            | GranError::Misaligned
            | GranError::NotAllocated
            | GranError::NotAStart
            | GranError::WrongSize => Errno::EINVAL,
        }
    }

    /// A short description; the bad-free kinds read as the noun of the
    /// one-line report before an abort (`rawrt: gran_free(): unallocated
    /// range of 0x...`).
    pub fn message(self) -> &'static str {
        match self {
            GranError::NoMemory => "no run of free granules is large enough",
            GranError::InvalidArgument => "invalid argument",
            GranError::OutOfRange => "range outside the granule heap",
            GranError::Misaligned => "address not at a granule start",
            GranError::NotAllocated => "unallocated range",
            GranError::NotAStart => "address not at the start of an allocation",
            GranError::WrongSize => "size does not match the allocation",
            GranError::Busy => "already initialised",
            GranError::Map(_) => "cannot map the page region",
        }
    }

    /// Whether this error reports bad input to a free (the kinds the C
    /// layer turns into an abort rather than an error return).
    pub fn is_bad_free(self) -> bool {
        matches!(
            self,
            GranError::OutOfRange
                | GranError::Misaligned
                | GranError::NotAllocated
                | GranError::NotAStart
                | GranError::WrongSize
        )
    }
}

impl fmt::Display for GranError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GranError::Map(e) => write!(f, "{}: {}", self.message(), e),
            _ => f.write_str(self.message()),
        }
    }
}
