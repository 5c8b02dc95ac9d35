/work/main/target/debug/deps/rawrt-37078b490c198929.d: src/lib.rs

/work/main/target/debug/deps/rawrt-37078b490c198929: src/lib.rs

src/lib.rs:
