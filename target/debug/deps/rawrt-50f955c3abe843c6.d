/work/main/target/debug/deps/rawrt-50f955c3abe843c6.d: src/lib.rs

/work/main/target/debug/deps/librawrt-50f955c3abe843c6.rlib: src/lib.rs

/work/main/target/debug/deps/librawrt-50f955c3abe843c6.rmeta: src/lib.rs

src/lib.rs:
