#!/usr/bin/env bash
# Builds and runs rawrt's static-ELF tests and examples for aarch64 and
# riscv64 under qemu-user (runners in .cargo/config.toml), and checks the
# examples' output like the native hosted check does.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAWRT_EXAMPLE="from the test"
# Size budgets in bytes (issue 15; the x86_64 ones are hosted checks in
# testkit/tests/hosted/): the release hello, and the assembly example
# linked by the README's line.
declare -A HELLO_MAX=([aarch64-unknown-linux-gnu]=615 [riscv64gc-unknown-linux-gnu]=541)
declare -A ASM_MAX=([aarch64]=$((64 * 1024)) [riscv64]=$((61 * 1024)))
for t in aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu; do
    echo "== $t: static-ELF tests under qemu"
    cargo test -p rawrt --target "$t" --test '*'
    echo "== $t: examples under qemu"
    out=$(cargo run -q --target "$t" --example hello)
    [ "$out" = "Hello from rawrt!" ] || { echo "hello on $t printed: $out"; exit 1; }
    set +e
    out=$(cargo run -q --target "$t" --example args -- one "two words"); st=$?
    set -e
    want=$'argc 3\nargv[1] = one\nargv[2] = two words\nRAWRT_EXAMPLE = from the test\nAT_PAGESZ = 4096'
    [ "$out" = "$want" ] && [ $st -eq 3 ] || { echo "args on $t: status $st, printed: $out"; exit 1; }
    for run in "panic:101" "error:1"; do
        set +e; cargo run -q --target "$t" --example fail -- "${run%%:*}" 2>/dev/null; st=$?; set -e
        [ $st -eq "${run#*:}" ] || { echo "fail ${run%%:*} on $t: status $st"; exit 1; }
    done
    out=$(cargo run -q --target "$t" --example demo)
    grep -q "^check: ok$" <<<"$out" && grep -q "^Vec of 10000 squares, sum 333283335000$" <<<"$out" \
        || { echo "demo on $t printed: $out"; exit 1; }
    cargo run -q --target "$t" --example heapmap | scripts/svg-blocks.py >/dev/null \
        || { echo "heapmap on $t: its picture does not add up"; exit 1; }
    out=$(cargo run -q --target "$t" --example caps)
    grep -q "^JIT: f(40) = 42, run from 0x" <<<"$out" && grep -q "^DMA: 4096 bytes at 0x" <<<"$out" \
        || { echo "caps on $t printed: $out"; exit 1; }
    cargo build -q --release --target "$t" --example hello
    size=$(stat -c %s "target/$t/release/examples/hello")
    echo "$t release hello: $size bytes (budget ${HELLO_MAX[$t]})"
    [ "$size" -le "${HELLO_MAX[$t]}" ] || { echo "release hello on $t over budget"; exit 1; }
    # Its system calls (qemu's log, on stderr; the program's stdout is
    # dropped): write, then exit_group, nothing else.
    q=qemu-${t%%-*}
    calls=$("${q%gc}" -strace "target/$t/release/examples/hello" 2>&1 >/dev/null \
        | sed -n 's/^[0-9]* \([a-z_0-9]*\)(.*/\1/p' | tr '\n' ' ')
    [ "$calls" = "write exit_group " ] || { echo "release hello on $t: system calls $calls"; exit 1; }
done
# The functions tests/c/nopanic.c calls, as -u options for the panic check
# below (the undefined symbols of its host object).
cc -std=c11 -ffreestanding -Iinclude -c tests/c/nopanic.c -o target/nopanic-host.o
nopanic_keep=()
for f in $(nm -u target/nopanic-host.o | awk '{print $2}'); do nopanic_keep+=(-u "$f"); done
nopanic_n=$(( ${#nopanic_keep[@]} / 2 ))
[ "$nopanic_n" -ge 20 ] || { echo "tests/c/nopanic.c: only $nopanic_n functions"; exit 1; }
# The assembly examples for aarch64 and riscv64 (examples/asm/): GNU as and
# GNU ld against the cross-built librawrt.a, run under qemu-user.
for pair in aarch64-unknown-linux-gnu:aarch64-linux-gnu:aarch64:qemu-aarch64 \
            riscv64gc-unknown-linux-gnu:riscv64-linux-gnu:riscv64:qemu-riscv64; do
    IFS=: read -r t prefix arch qemu <<<"$pair"
    echo "== $t: assembly example under qemu"
    cargo rustc -q --release --lib --crate-type staticlib --target "$t" --target-dir "target/staticlib-$t"
    lib="target/staticlib-$t/$t/release/librawrt.a"
    dir="target/asm-examples-$arch"; mkdir -p "$dir"
    "$prefix-as" "examples/asm/$arch-gas.s" -o "$dir/$arch-gas.o"
    "$prefix-ld" -z max-page-size=4096 -static --gc-sections -s -T linker.ld "$dir/$arch-gas.o" "$lib" \
        -o "$dir/$arch-gas"
    set +e; out=$("$qemu" "$dir/$arch-gas"); st=$?; set -e
    re="^$arch GNU as: malloc, realloc, free
pool: 2 blocks of 32 bytes in use
heap: [0-9]+ bytes allocated, [0-9]+ bytes from the kernel$"
    [[ $st -eq 0 && "$out" =~ $re ]] || { echo "$arch-gas: status $st, printed: $out"; exit 1; }
    size=$(stat -c %s "$dir/$arch-gas")
    echo "$arch-gas: $size bytes (budget ${ASM_MAX[$arch]})"
    [ "$size" -le "${ASM_MAX[$arch]}" ] || { echo "$arch-gas over budget"; exit 1; }
    # No panic reachable from the allocation paths on this target either
    # (x86_64: hosted::allocation_paths_have_no_panic): the example linked
    # without -s, every function tests/c/nopanic.c calls kept (ld keeps
    # what symbols undefined on its command line reach, as a call would),
    # must hold no panic or core::fmt symbol. (Until 26abff5, itoa::hex
    # kept a bounds check on both targets, which linked the panic handler
    # and core::fmt: 5.8 KB on aarch64, 5.3 KB on riscv64.)
    "$prefix-ld" -z max-page-size=4096 -static --gc-sections -T linker.ld "${nopanic_keep[@]}" \
        "$dir/$arch-gas.o" "$lib" -o "$dir/nopanic"
    bad=$("$prefix-nm" "$dir/nopanic" | grep -E '4core9panicking|core\.\.panicking|4core3fmt|core\.\.fmt' || true)
    [ -z "$bad" ] || { echo "$arch: panic or core::fmt symbols reachable from the allocation paths:"; echo "$bad"; exit 1; }
    echo "$arch: no panic or core::fmt symbol reachable from the $nopanic_n functions of tests/c/nopanic.c"
done
echo "cross asm: 2 passed, 0 failed"
echo "cross: 2 passed, 0 failed"
