#!/usr/bin/env bash
# The README's test command (and CI's): sets up what the tests need
# (scripts/setup.sh), runs `cargo test` (hosted unit tests, static-ELF
# tests, examples, budgets, doctests), rustfmt's check, clippy with
# warnings as errors on all three targets (with and without the small heap), the layering of the modules
# (scripts/layers.sh), the
# static-ELF tests and examples for aarch64 and riscv64 under qemu-user
# (scripts/cross.sh), the allocator cores under
# Miri with both borrow models (scripts/miri.sh), and the fuzz targets for
# a bounded time (scripts/fuzz.sh --ci).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test
cargo fmt --check
for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu; do
    cargo clippy --all-targets --target "$t" -- -D warnings
    cargo clippy --lib --features small-heap --target "$t" -- -D warnings
done
scripts/layers.sh
scripts/cross.sh
scripts/miri.sh
scripts/fuzz.sh --ci
