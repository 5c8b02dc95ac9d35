//! The C ABI: thin `extern "C"` wrappers with C names, no logic of their own.
//! Exported only with the `cabi` feature and never in the hosted test build.
//!
//! # Safety
//! Each wrapper has the contract of the C function it is named after.

mod rt;
mod sys;
