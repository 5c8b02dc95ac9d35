//! `librawrt.a` for assembly programs: built with
//! `cargo rustc --release --lib --crate-type staticlib`, then linked by GNU
//! ld with programs that define their own `_start` or only `main`.

use std::path::PathBuf;
use std::process::Command;

/// Builds the LTO'd static library once per test run; returns its path.
pub(super) fn librawrt() -> PathBuf {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(super::root())
        .args(["rustc", "-p", "rawrt", "--release", "--lib", "--crate-type=staticlib"])
        .arg("--target-dir")
        .arg(super::root().join("target/staticlib"))
        .env_remove("RUSTFLAGS");
    super::run_nested(c);
    super::root().join("target/staticlib/release/librawrt.a")
}

fn assemble_and_link(src: &str, out: &str) -> PathBuf {
    let lib = librawrt();
    let dir = super::root().join("target/asm");
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join(format!("{out}.o"));
    let exe = dir.join(out);
    let st =
        Command::new("as").arg(super::root().join(src)).arg("-o").arg(&obj).status().expect("as");
    assert!(st.success(), "as {src}");
    let st = Command::new("ld")
        .args(["-static", "--gc-sections", "-s", "-T"])
        .arg(super::root().join("linker.ld"))
        .arg(&obj)
        .arg(&lib)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("ld");
    assert!(st.success(), "ld {src}");
    exe
}

pub(super) fn asm_programs_link_with_either_start() {
    let exe = assemble_and_link("tests/asm/own_start.s", "own_start");
    let st = Command::new(&exe).status().unwrap();
    assert_eq!(st.code(), Some(7), "own _start: getauxval(AT_PAGESZ) == 4096, exit(7)");
    let exe = assemble_and_link("tests/asm/main_only.s", "main_only");
    let st = Command::new(&exe).args(["a", "b"]).status().unwrap();
    assert_eq!(st.code(), Some(43), "main only: returns argc + 40");
}
