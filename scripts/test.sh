#!/usr/bin/env bash
# The README's test command: sets up what the tests need (scripts/setup.sh),
# runs `cargo test` (hosted unit tests, static-ELF tests, examples, budgets),
# then the static-ELF tests and examples for aarch64 and riscv64 under
# qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test
scripts/cross.sh
