#!/usr/bin/env bash
# Packages rawrt for crates.io (`cargo package`, extra arguments passed on,
# e.g. --list or --allow-dirty), verifying the package in a target
# directory of its own: the published crate has no tests/, so its build
# script gives no link arguments for tests, and Cargo would otherwise reuse
# that output for the repository's own tests (same unit, same directory).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo package -p rawrt --target-dir target/package-verify "$@"
