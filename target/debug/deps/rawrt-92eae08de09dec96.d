/work/main/target/debug/deps/rawrt-92eae08de09dec96.d: src/lib.rs src/arch/mod.rs src/arch/x86_64.rs src/mem.rs src/rt/mod.rs src/sync/mod.rs src/sync/lock.rs src/sys/mod.rs src/sys/errno.rs src/sys/futex.rs src/sys/io.rs src/sys/mm.rs src/sys/mq.rs src/sys/process.rs src/sys/signal.rs src/sys/time.rs src/testing.rs

/work/main/target/debug/deps/rawrt-92eae08de09dec96: src/lib.rs src/arch/mod.rs src/arch/x86_64.rs src/mem.rs src/rt/mod.rs src/sync/mod.rs src/sync/lock.rs src/sys/mod.rs src/sys/errno.rs src/sys/futex.rs src/sys/io.rs src/sys/mm.rs src/sys/mq.rs src/sys/process.rs src/sys/signal.rs src/sys/time.rs src/testing.rs

src/lib.rs:
src/arch/mod.rs:
src/arch/x86_64.rs:
src/mem.rs:
src/rt/mod.rs:
src/sync/mod.rs:
src/sync/lock.rs:
src/sys/mod.rs:
src/sys/errno.rs:
src/sys/futex.rs:
src/sys/io.rs:
src/sys/mm.rs:
src/sys/mq.rs:
src/sys/process.rs:
src/sys/signal.rs:
src/sys/time.rs:
src/testing.rs:
