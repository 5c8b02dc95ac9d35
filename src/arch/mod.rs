//! Architecture layer: the system-call instruction, the thread pointer and a
//! compiler barrier, one file per architecture with an identical item list.
//!
//! # Safety
//! Every function here issues a raw instruction. The callers in `sys` give
//! each system call arguments of the right kind; this layer only moves them
//! into the registers the kernel ABI names.

#[cfg_attr(target_arch = "x86_64", path = "x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "riscv64.rs")]
mod imp;

pub use imp::*;

// The process entry `_start` (a weak symbol) lives in `asm/<arch>.s`.
#[cfg(all(not(test), feature = "entry", target_arch = "x86_64"))]
core::arch::global_asm!(include_str!("../../asm/x86_64.s"), options(att_syntax));
#[cfg(all(not(test), feature = "entry", target_arch = "aarch64"))]
core::arch::global_asm!(include_str!("../../asm/aarch64.s"));
#[cfg(all(not(test), feature = "entry", target_arch = "riscv64"))]
core::arch::global_asm!(include_str!("../../asm/riscv64.s"));
