#!/usr/bin/env bash
# Builds and runs rawrt's static-ELF tests and examples for aarch64 and
# riscv64 under qemu-user (runners in .cargo/config.toml), and checks the
# examples' output like the native hosted check does.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAWRT_EXAMPLE="from the test"
# Size budgets in bytes (issue 15; the x86_64 ones are hosted checks in
# testkit/tests/hosted/): the release hello, and the assembly example and
# tests/c/small.c linked by the README's lines.
declare -A HELLO_MAX=([aarch64-unknown-linux-gnu]=615 [riscv64gc-unknown-linux-gnu]=541)
declare -A ASM_MAX=([aarch64]=$((64 * 1024)) [riscv64]=$((61 * 1024)))
declare -A C_MAX=([aarch64]=$((41 * 1024)) [riscv64]=$((41 * 1024)))
# The same C program with the small heap (feature small-heap): issue 15's
# 12 KiB, as hosted::small_heap_c_program_size checks on x86_64.
SMALL_HEAP_C_MAX=$((12 * 1024))
# And the assembly examples with the small heap (issue 15's goal: 20 KiB).
declare -A SMALL_HEAP_ASM_MAX=([aarch64]=$((23 * 1024)) [riscv64]=$((22 * 1024)))
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
# The assembly examples for aarch64 and riscv64 (examples/asm/), GNU as and
# GNU ld, and C programs, the cross gcc, against the cross-built
# librawrt.a, run under qemu-user.
for pair in aarch64-unknown-linux-gnu:aarch64-linux-gnu:aarch64:qemu-aarch64 \
            riscv64gc-unknown-linux-gnu:riscv64-linux-gnu:riscv64:qemu-riscv64; do
    IFS=: read -r t prefix arch qemu <<<"$pair"
    echo "== $t: assembly example and C programs under qemu"
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
    # C programs, linked by the README's C line with the cross compiler:
    # tests/c/small.c (malloc, memcpy, write, free) within its budget, and
    # tests/c/nopanic.c (the malloc family, pools, region heaps, granules),
    # which must work and hold no panic or core::fmt symbol, as
    # hosted::c_program_size and hosted::allocation_paths_have_no_panic
    # check on x86_64. (Until 26abff5, itoa::hex kept a bounds check on
    # both targets, which linked the panic handler and core::fmt into every
    # program that allocates: 5.8 KB on aarch64, 5.3 KB on riscv64.)
    cline=(-std=c11 -ffreestanding -nostdlib -static -O2 -Iinclude)
    lflags=-Wl,--gc-sections,-T,linker.ld,--build-id=none
    "$prefix-gcc" "${cline[@]}" tests/c/small.c "$lib" "$lflags" -s -o "$dir/small"
    out=$("$qemu" "$dir/small")
    [ "$out" = "hello from malloc" ] || { echo "$arch small.c printed: $out"; exit 1; }
    size=$(stat -c %s "$dir/small")
    echo "$arch C malloc/memcpy/write/free: $size bytes (budget ${C_MAX[$arch]})"
    [ "$size" -le "${C_MAX[$arch]}" ] || { echo "$arch small.c over budget"; exit 1; }
    "$prefix-gcc" "${cline[@]}" tests/c/nopanic.c "$lib" "$lflags" -o "$dir/nopanic"
    out=$("$qemu" "$dir/nopanic")
    [ "$out" = "ok" ] || { echo "$arch nopanic.c printed: $out"; exit 1; }
    # The symbol lists are testkit/tests/hosted/nopanic.rs's: FORBIDDEN, and
    # the code only a program that starts a thread may link.
    syms=$("$prefix-nm" "$dir/nopanic")
    bad=$(grep -E '4core9panicking|core\.\.panicking|4core3fmt|core\.\.fmt' <<<"$syms" || true)
    [ -z "$bad" ] || { echo "$arch: panic or core::fmt symbols reachable from the allocation paths:"; echo "$bad"; exit 1; }
    bad=$(grep -E 'take_arena|free_remote|take_remote|flush_on_exit' <<<"$syms" || true)
    [ -z "$bad" ] || { echo "$arch: arena code in a program without threads:"; echo "$bad"; exit 1; }
    echo "$arch nopanic.c: ok, no panic, core::fmt or thread-arena symbol"
    # The C tests of the system interfaces (tests/c/*.c on check.h), built
    # as hosted::system_interfaces_from_c builds them on x86_64 and held to
    # the same check counts (its table), every check passed but those that
    # qemu-user 7.2 cannot pass, which are named here with the reason (each
    # passes natively, where the hosted test runs the same source).
    deviates=(
        # qemu keeps the guest's heap mapped when the break moves down.
        "brk: memory given back is unmapped (a write there: SIGSEGV)"
        # qemu does not emulate mq_notify (ENOSYS).
        "mq: mq_notify(SIGEV_NONE) registers"
        "mq: another process's mq_notify: EBUSY"
        "mq: mq_notify(NULL) unregisters"
        # qemu's madvise returns 0 for any advice and any range.
        "mm: posix_madvise with unknown advice returns EINVAL"
        "mm: madvise with unknown advice: -1 with EINVAL"
        "mm: madvise of an unmapped range: ENOMEM"
    )
    cap=nocap
    (( 0x$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status) & (1 << 14) )) && cap=cap
    table=$(sed -n 's/^ *("\([a-z_]*\)", \([0-9]*\)),$/\1 \2/p' testkit/tests/hosted/ctests.rs)
    [ "$(wc -l <<<"$table")" -ge 7 ] || { echo "no test table in testkit/tests/hosted/ctests.rs"; exit 1; }
    total=0 excused=0
    while read -r name checks; do
        "$prefix-gcc" "${cline[@]}" -Wall -Wextra -Werror "tests/c/$name.c" "$lib" -o "$dir/$name" </dev/null
        set +e; out=$("$qemu" "$dir/$name" $([ "$name" = mlock ] && echo "$cap") </dev/null); st=$?; set -e
        fails=$(sed -n 's/^FAIL: \(.*\) (line [0-9]*, errno [0-9-]*)$/\1/p' <<<"$out")
        n_fail=$( [ -z "$fails" ] && echo 0 || wc -l <<<"$fails")
        while IFS= read -r f; do
            [ -n "$f" ] || continue
            printf '%s\n' "${deviates[@]}" | grep -qxF "$name: $f" \
                || { echo "$arch tests/c/$name.c under qemu: FAIL: $f"; echo "$out"; exit 1; }
            excused=$((excused + 1))
        done <<<"$fails"
        # The summary (children print their own lines, and their own
        # summaries, before it).
        n_ok=$(tail -n 1 <<<"$out" | sed -n "s/^$name: \([0-9]*\) passed, $n_fail failed\$/\1/p")
        [ -n "$n_ok" ] && [ $((n_ok + n_fail)) -eq "$checks" ] \
            && [ "$st" -eq "$((n_fail > 0 ? 1 : 0))" ] \
            || { echo "$arch tests/c/$name.c: status $st, $n_ok + $n_fail of $checks checks:"; echo "$out"; exit 1; }
        total=$((total + checks))
    done <<<"$table"
    echo "$arch system-interface C tests: $total checks, all passed but $excused of qemu's (listed)"
    # The small heap (feature small-heap), as testkit/tests/hosted/smallheap.rs
    # checks it on x86_64: tests/c/small.c within 12 KiB and without panic
    # or core::fmt symbols, and tests/c/small_heap.c's checks.
    cargo rustc -q --release --lib --crate-type staticlib --features small-heap --target "$t" \
        --target-dir "target/staticlib-small-$t"
    slib="target/staticlib-small-$t/$t/release/librawrt.a"
    "$prefix-gcc" "${cline[@]}" tests/c/small.c "$slib" "$lflags" -s -o "$dir/small-heap"
    out=$("$qemu" "$dir/small-heap")
    [ "$out" = "hello from malloc" ] || { echo "$arch small.c, small heap, printed: $out"; exit 1; }
    size=$(stat -c %s "$dir/small-heap")
    echo "$arch C malloc/memcpy/write/free, small heap: $size bytes (budget $SMALL_HEAP_C_MAX)"
    [ "$size" -le "$SMALL_HEAP_C_MAX" ] || { echo "$arch small.c with the small heap over budget"; exit 1; }
    "$prefix-gcc" "${cline[@]}" tests/c/small.c "$slib" "$lflags" -o "$dir/small-heap-syms"
    bad=$(grep -E '4core9panicking|core\.\.panicking|4core3fmt|core\.\.fmt' <<<"$("$prefix-nm" "$dir/small-heap-syms")" || true)
    [ -z "$bad" ] || { echo "$arch: panic or core::fmt symbols with the small heap:"; echo "$bad"; exit 1; }
    "$prefix-gcc" "${cline[@]}" -Wall -Wextra -Werror tests/c/small_heap.c "$slib" -o "$dir/small_heap" </dev/null
    checks=$(sed -n 's/^const CHECKS: usize = \([0-9]*\);$/\1/p' testkit/tests/hosted/smallheap.rs)
    out=$("$qemu" "$dir/small_heap" </dev/null) \
        && [ "$(tail -n 1 <<<"$out")" = "small_heap: $checks passed, 0 failed" ] \
        || { echo "$arch tests/c/small_heap.c under qemu:"; echo "$out"; exit 1; }
    for m in double-free invalid foreign overwrite; do
        set +e; err=$("$qemu" "$dir/small_heap" "$m" 2>&1 >/dev/null </dev/null); st=$?; set -e
        # qemu adds its own line for the signal.
        [ $st -eq 134 ] && grep -q '^rawrt: \(free\|malloc\)(): ' <<<"$err" \
            || { echo "$arch small_heap $m: status $st, stderr: $err"; exit 1; }
    done
    set +e; "$qemu" "$dir/small_heap" page-aligned >/dev/null 2>&1 </dev/null; st=$?; set -e
    [ $st -eq 139 ] || { echo "$arch small_heap page-aligned: status $st, not SIGSEGV"; exit 1; }
    echo "$arch small heap: $checks checks and 5 misuses under qemu"
    "$prefix-ld" -z max-page-size=4096 -static --gc-sections -s -T linker.ld "$dir/$arch-gas.o" "$slib" \
        -o "$dir/$arch-gas-small"
    set +e; out=$("$qemu" "$dir/$arch-gas-small"); st=$?; set -e
    [[ $st -eq 0 && "$out" =~ $re ]] || { echo "$arch-gas, small heap: status $st, printed: $out"; exit 1; }
    size=$(stat -c %s "$dir/$arch-gas-small")
    echo "$arch-gas, small heap: $size bytes (budget ${SMALL_HEAP_ASM_MAX[$arch]})"
    [ "$size" -le "${SMALL_HEAP_ASM_MAX[$arch]}" ] || { echo "$arch-gas with the small heap over budget"; exit 1; }
done
echo "cross asm and C: 2 passed, 0 failed"
echo "cross: 2 passed, 0 failed"
