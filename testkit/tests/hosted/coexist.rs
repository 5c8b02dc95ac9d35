//! rawrt beside glibc: `librawrt.a` built without C names
//! (`--no-default-features --features entry,global-allocator`) defines no
//! unprefixed C name, and an ordinary glibc program
//! (`tests/c/coexist/glibc_and_rawrt.c`, built with `cc` as usual) that
//! interleaves glibc's malloc and rawrt_malloc, both growing the break,
//! finds every byte of every block intact.

use super::clib::{self, run_ok};
use std::process::Command;

/// C names the prefixed archive must not define (a sample of every family;
/// the complete rule is below: everything is `rawrt_`-prefixed or not a C
/// name at all).
const MUST_NOT_DEFINE: &[&str] = &[
    "malloc",
    "free",
    "calloc",
    "realloc",
    "posix_memalign",
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "bcmp",
    "strlen",
    "read",
    "write",
    "close",
    "exit",
    "_exit",
    "abort",
    "atexit",
    "getauxval",
    "__errno_location",
    "brk",
    "sbrk",
    "mmap",
    "munmap",
    "mprotect",
    "shm_open",
    "mq_open",
    "fork",
    "getpid",
    "waitpid",
    "gran_alloc",
    "mm_malloc",
    "heap_caps_malloc",
    "rawrt_init",
];

pub(super) fn prefixed_library_defines_no_c_name() {
    let lib = clib::prefixed_lib();
    let syms = clib::defined_symbols(lib);
    let names: Vec<&str> = syms.iter().map(|(n, _)| n.as_str()).collect();
    for n in MUST_NOT_DEFINE {
        assert!(!names.contains(n), "the library without C names defines {n}");
    }
    let mut unprefixed = Vec::new();
    for (name, ty) in &syms {
        if name.starts_with("rawrt_") {
            continue;
        }
        match clib::not_a_c_name(name) {
            Some(_) if name == "_start" => {
                assert!(*ty == 'W', "_start must be weak (type {ty}): crt1.o defines it");
                unprefixed.push("_start (weak)");
            }
            Some(_) => {
                if !name.starts_with("_ZN") && !name.starts_with("_R") && !name.starts_with("__") {
                    unprefixed.push(name.as_str());
                }
            }
            None => panic!("the library without C names defines the C name {name} ({ty})"),
        }
    }
    // What remains unprefixed is the weak entry point and Rust's panic
    // runtime glue (`rust_eh_personality`, `_Unwind_Resume`), reported so
    // that a change shows up here.
    unprefixed.sort();
    assert!(
        unprefixed.iter().all(|n| matches!(
            *n,
            "_start (weak)" | "rust_eh_personality" | "_Unwind_Resume" | "rawrt_init_rs"
        )),
        "unexpected unprefixed symbols: {unprefixed:?}"
    );
    print!(
        "({} rawrt_ names; also defined: {}) ",
        syms.iter().filter(|s| s.0.starts_with("rawrt_")).count(),
        unprefixed.join(", ")
    );
}

/// Whether the prefixed archive moves the break through the C library's
/// `brk`/`sbrk` (undefined references the C library resolves), which is
/// what keeps glibc's cached break true: glibc's `sbrk` adds to the break
/// it last set itself, so a raw `brk` system call behind its back makes it
/// hand out (or unmap) memory the other heap owns.
fn moves_break_through_libc(lib: &std::path::Path) -> bool {
    let out = Command::new("nm").args(["-u", "-P"]).arg(lib).output().expect("nm");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some("sbrk"))
}

pub(super) fn glibc_malloc_and_rawrt_malloc_share_the_break() {
    let lib = clib::prefixed_lib();
    let dir = clib::scratch("coexist");
    let exe = dir.join("glibc_and_rawrt");
    // An ordinary glibc program: the compiler's defaults (PIE, dynamic).
    run_ok(
        clib::cc()
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I"])
            .arg(super::root().join("include"))
            .arg(super::root().join("tests/c/coexist/glibc_and_rawrt.c"))
            .arg(lib)
            .arg("-o")
            .arg(&exe),
    );
    let out = Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let passed =
        out.status.success() && stdout.matches("ok: ").count() == 4 && !stdout.contains("FAIL");
    assert!(
        moves_break_through_libc(lib),
        "the no-cabi library moves the break through the C library's sbrk"
    );
    assert!(passed, "glibc and rawrt heaps together: {}\n{stdout}{stderr}", out.status);
    print!("(both heaps on one break, no byte changed) ");
}
