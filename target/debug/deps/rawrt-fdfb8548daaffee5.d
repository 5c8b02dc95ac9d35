/work/main/target/debug/deps/rawrt-fdfb8548daaffee5.d: src/lib.rs

/work/main/target/debug/deps/librawrt-fdfb8548daaffee5.rlib: src/lib.rs

/work/main/target/debug/deps/librawrt-fdfb8548daaffee5.a: src/lib.rs

src/lib.rs:
