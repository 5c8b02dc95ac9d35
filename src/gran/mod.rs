//! The granule allocator and the page allocator (NuttX's `mm_gran`).
//!
//! [`Gran`] hands out whole granules (`1 << log2gran` bytes) from one
//! region, aligned to `1 << log2align`, with no limit on the number of
//! granules per allocation. One bit per granule records whether it is
//! allocated; runs of free granules are found a bitmap word (64 granules)
//! at a time ([`bitmap`]). Freeing a range that is not entirely allocated
//! is detected and refused ([`GranError`]).
//!
//! [`Pages`] is a granule allocator with 4096-byte granules over a region
//! reserved with `mmap`.
//!
//! Files: `bitmap` (word-at-a-time run search), `granule` ([`Gran`]),
//! `pages` ([`Pages`]), `error` ([`GranError`]).

pub mod bitmap;
mod error;
mod granule;
mod pages;

pub use error::GranError;
pub use granule::{Gran, GranInfo};
pub use pages::{PageInfo, Pages, PAGES};

#[cfg(test)]
pub(crate) mod tests;
