//! The small heap (feature `small-heap`, `src/heap/spans`) as C programs
//! get it: `librawrt.a` built with the feature exports the same C names
//! as the default one; `tests/c/small.c` (malloc, memcpy, write, free)
//! linked by the README's C line within issue 15's 12 KiB budget and
//! without a panic or `core::fmt` symbol; and `tests/c/small_heap.c`, the
//! malloc family's contracts (its checks) and its misuse (each ends with
//! SIGABRT and one line on stderr); and a Rust program built with the
//! feature, whose global allocator it is.

use super::clib;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Issue 15's budget for the C program of `malloc`, `memcpy`, `write` and
/// `free`, in bytes (12 KiB; musl's static program is 13,376 B).
pub(super) const SMALL_HEAP_C_MAX_BYTES: u64 = 12 * 1024;

/// The checks `tests/c/small_heap.c` makes.
const CHECKS: usize = 32;

/// `src` linked by the README's C line (stripped if `strip`) with the
/// small heap's archive into `dir/out`.
fn link(dir: &Path, src: &str, out: &str, strip: bool) -> PathBuf {
    let exe = dir.join(out);
    let mut flags = super::cmalloc::readme_flags();
    if !strip {
        flags.retain(|f| f != "-s");
    }
    let mut c = clib::cc();
    c.args(&flags).args(["-Wall", "-Wextra", "-Werror"]);
    c.arg(super::root().join(src)).arg(clib::small_heap_lib()).arg("-o").arg(&exe);
    clib::run_ok(&mut c);
    exe
}

pub(super) fn small_heap_exports_the_same_c_names() {
    let (small, default) =
        (clib::c_names(clib::small_heap_lib()), clib::c_names(clib::default_lib()));
    let only: Vec<_> = small.symmetric_difference(&default).collect();
    assert!(only.is_empty(), "C names in one archive only: {only:?}");
    print!("({} C names) ", small.len());
}

pub(super) fn small_heap_c_program_size() {
    let dir = clib::scratch("smallheap-size");
    let exe = link(&dir, "tests/c/small.c", "small", true);
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from malloc\n");
    let size = std::fs::metadata(&exe).unwrap().len();
    println!("(malloc/memcpy/write/free in C, small heap: {size} bytes) ");
    assert!(size <= SMALL_HEAP_C_MAX_BYTES, "{size} bytes, budget {SMALL_HEAP_C_MAX_BYTES}");
    let full = link(&dir, "tests/c/small.c", "small-symbols", false);
    let syms = String::from_utf8(clib::run_ok(Command::new("nm").arg(&full)).stdout).unwrap();
    let bad: Vec<&str> =
        syms.lines().filter(|l| super::nopanic::FORBIDDEN.iter().any(|f| l.contains(f))).collect();
    assert!(bad.is_empty(), "panic or core::fmt symbols with the small heap:\n{}", bad.join("\n"));
}

fn run(exe: &Path, arg: Option<&str>) -> (Option<i32>, Option<i32>, String, String) {
    let mut c = Command::new(exe);
    c.args(arg);
    let o = c.output().unwrap();
    (
        o.status.code(),
        o.status.signal(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub(super) fn small_heap_from_c() {
    let exe = link(&clib::scratch("smallheap-c"), "tests/c/small_heap.c", "small_heap", false);
    let (code, _, stdout, stderr) = run(&exe, None);
    let summary = format!("small_heap: {CHECKS} passed, 0 failed\n");
    assert!(
        code == Some(0) && !stdout.contains("FAIL") && stdout.ends_with(&summary),
        "status {code:?}, expected {summary:?}:\n{stdout}{stderr}"
    );
    for (arg, line) in [
        ("double-free", "rawrt: free(): double free of 0x"),
        ("invalid", "rawrt: free(): invalid pointer of 0x"),
        ("foreign", "rawrt: free(): invalid pointer of 0x"),
        ("overwrite", "rawrt: malloc(): corrupted free list (link outside the heap) at 0x"),
    ] {
        let (code, signal, _, stderr) = run(&exe, Some(arg));
        assert_eq!((code, signal), (None, Some(6)), "{arg}: SIGABRT; stderr: {stderr}");
        assert!(
            stderr.starts_with(line) && stderr.lines().count() == 1,
            "{arg}: stderr {stderr:?}, expected one line {line:?}..."
        );
    }
    // A page-aligned pointer that no heap handed out, with nothing mapped
    // before it: the check word's read faults (as the README says).
    let (code, signal, _, stderr) = run(&exe, Some("page-aligned"));
    assert_eq!((code, signal, stderr.as_str()), (None, Some(11), ""), "page-aligned");
    print!("({CHECKS} checks, 5 misuses) ");
}

pub(super) fn small_heap_is_rusts_global_allocator() {
    let mut c = super::nested_cargo("small-heap");
    c.args(["--release", "--features", "small-heap", "--example", "demo"]);
    super::run_nested(c);
    let exe = super::root().join("target/small-heap/release/examples/demo");
    let (code, _, stdout, stderr) = run(&exe, None);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // The Vec and the String went to the small heap: the process heap
    // holds nothing.
    for line in [
        "Vec of 10000 squares, sum 333283335000",
        "String \"no libc at all\" (15 bytes)",
        "process heap: 0 B allocated in 0 blocks, brk calls 0, mmap calls 0",
        "check: ok",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line {line:?} in:\n{stdout}");
    }
}
