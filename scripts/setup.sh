#!/usr/bin/env bash
# Installs what rawrt's tests need on a fresh Debian machine: the rustup
# targets for aarch64 and riscv64, qemu-user to run them, strace for the
# system-call budget, binutils (readelf, objdump), the cross C compilers
# (scripts/cross.sh links C programs for aarch64 and riscv64), the assemblers and
# allocators that later tests and benchmarks use, a C++ compiler for
# libFuzzer (scripts/fuzz.sh), Python (scripts/svg-blocks.py reads the
# heap's pictures) and Valgrind (Memcheck reads rawrt's heap). The nightly toolchain with Miri (a test tool only) is
# installed by scripts/miri.sh. Idempotent and quiet when everything is
# already there.
set -euo pipefail

need_apt=()
for pair in qemu-aarch64:qemu-user qemu-riscv64:qemu-user strace:strace readelf:binutils \
            nasm:nasm fasm:fasm aarch64-linux-gnu-as:binutils-aarch64-linux-gnu \
            riscv64-linux-gnu-as:binutils-riscv64-linux-gnu \
            aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu riscv64-linux-gnu-gcc:gcc-riscv64-linux-gnu \
            c++:g++ python3:python3 \
            valgrind:valgrind; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
for lib in libmimalloc.so.2:libmimalloc2.0 libjemalloc.so.2:libjemalloc2; do
    ls /usr/lib/x86_64-linux-gnu/"${lib%%:*}" >/dev/null 2>&1 || need_apt+=("${lib#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

rustup component list --installed | grep -q "^clippy" || rustup component add clippy
rustup component list --installed | grep -q "^rustfmt" || rustup component add rustfmt
installed=$(rustup target list --installed)
for t in aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
