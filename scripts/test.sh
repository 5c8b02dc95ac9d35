#!/usr/bin/env bash
# The README's test command (and CI's): sets up what the tests need
# (scripts/setup.sh), runs `cargo test` (hosted unit tests, static-ELF
# tests, examples, budgets), rustfmt's check, clippy with warnings as
# errors, the layering of the modules (scripts/layers.sh), the
# static-ELF tests and examples for aarch64 and riscv64 under qemu-user
# (scripts/cross.sh), the allocator cores under
# Miri with both borrow models (scripts/miri.sh), and the fuzz targets for
# a bounded time (scripts/fuzz.sh --ci).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test
cargo fmt --check
cargo clippy --all-targets -- -D warnings
scripts/layers.sh
scripts/cross.sh
scripts/miri.sh
scripts/fuzz.sh --ci
