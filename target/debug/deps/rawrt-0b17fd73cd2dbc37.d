/work/main/target/debug/deps/rawrt-0b17fd73cd2dbc37.d: src/lib.rs

/work/main/target/debug/deps/rawrt-0b17fd73cd2dbc37: src/lib.rs

src/lib.rs:
