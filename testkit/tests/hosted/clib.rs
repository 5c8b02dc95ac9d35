//! What the C, header, assembly and coexistence checks share: the static
//! libraries they link (each built once per test run, in its own target
//! directory), the C names an archive exports, and running commands.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The default `librawrt.a` (release, LTO, C names, weak `_start`).
pub(super) fn default_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(super::staticlib::librawrt)
}

/// `cargo rustc --lib --crate-type staticlib` with `args`, in
/// `target/<dir>`; returns the archive.
fn staticlib(dir: &str, args: &[&str], target: Option<&str>, rustflags: Option<&str>) -> PathBuf {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(super::root())
        .args(["rustc", "-p", "rawrt", "--lib", "--crate-type", "staticlib", "--target-dir"])
        .arg(super::root().join("target").join(dir))
        .args(args)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if let Some(t) = target {
        c.args(["--target", t]);
    }
    if let Some(f) = rustflags {
        c.env("RUSTFLAGS", f);
    }
    super::run_nested(c);
    let profile = if args.contains(&"--release") { "release" } else { "debug" };
    let mut p = super::root().join("target").join(dir);
    if let Some(t) = target {
        p.push(t);
    }
    p.join(profile).join("librawrt.a")
}

/// `librawrt.a` with the small heap behind `malloc` (feature
/// `small-heap`): release, LTO, C names.
pub(super) fn small_heap_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        staticlib("staticlib-small", &["--release", "--features", "small-heap"], None, None)
    })
}

/// `librawrt.a` without C names (`--no-default-features --features
/// entry`): only `rawrt_`-prefixed names, for a program that has a libc.
/// Built position-independent (the default relocation model instead of the
/// repository's static one) so that an ordinary PIE C program can link it.
pub(super) fn prefixed_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        staticlib(
            "staticlib-prefixed",
            &["--release", "--no-default-features", "--features", "entry,global-allocator"],
            None,
            Some("-C panic=abort"),
        )
    })
}

/// Unoptimised: rawrt's dev profile builds it at opt-level 1 (see
/// Cargo.toml), where functions it also inlines lose their plain DWARF
/// description.
const UNOPTIMISED: &[&str] = &["--config", "profile.dev.package.rawrt.opt-level=0"];

/// The default `librawrt.a` unoptimised with debug information, whose
/// DWARF gives the Rust side of the header check.
pub(super) fn debug_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| staticlib("staticlib-debug", UNOPTIMISED, None, None))
}

/// The release and debug `librawrt.a` without the `c11-threads` feature.
pub(super) fn no_c11_threads_libs() -> (PathBuf, PathBuf) {
    const FEATURES: &[&str] =
        &["--no-default-features", "--features", "entry,cabi,global-allocator"];
    (
        staticlib("staticlib-no-c11", &[&["--release"], FEATURES].concat(), None, None),
        staticlib("staticlib-debug-no-c11", &[UNOPTIMISED, FEATURES].concat(), None, None),
    )
}

/// Runs `c`, panicking with its output unless it succeeds.
pub(super) fn run_ok(c: &mut Command) -> Output {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A scratch directory `target/<name>`, emptied.
pub(super) fn scratch(name: &str) -> PathBuf {
    let d = super::root().join("target").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Global symbols an archive defines, with nm's type letter.
pub(super) fn defined_symbols(archive: &Path) -> Vec<(String, char)> {
    // nm also reads the LLVM bitcode members of compiler_builtins and
    // complains about them on stderr; their symbols are not ours anyway.
    let out =
        Command::new("nm").args(["--defined-only", "-g", "-P"]).arg(archive).output().expect("nm");
    let mut v: Vec<(String, char)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, ty) = (f.next()?, f.next()?);
            (ty.len() == 1 && !name.ends_with(':'))
                .then(|| (name.to_string(), ty.chars().next().unwrap()))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Why a defined global symbol of `librawrt.a` is not a C name, if it is
/// not: Rust-mangled, a compiler-runtime routine (`__` prefix: the
/// compiler's own, or rawrt's `__rawrt_start`), the entry point, or Rust's
/// panic-runtime glue.
pub(super) fn not_a_c_name(name: &str) -> Option<&'static str> {
    if name.starts_with("_ZN") || name.starts_with("_R") {
        Some("Rust-mangled")
    } else if name.starts_with("__") && name != "__errno_location" {
        Some("compiler runtime or rawrt internal")
    } else if name == "_start" {
        Some("the (weak) entry point")
    } else if matches!(name, "rust_eh_personality" | "_Unwind_Resume" | "rust_begin_unwind") {
        Some("Rust panic-runtime glue")
    } else if name == "rawrt_init_rs" {
        Some("the Rust API's rt::rawrt_init in a build without C names")
    } else {
        None
    }
}

/// The C names an archive exports.
pub(super) fn c_names(archive: &Path) -> BTreeSet<String> {
    defined_symbols(archive)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| not_a_c_name(n).is_none())
        .collect()
}

/// The C compiler.
pub(super) fn cc() -> Command {
    Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
}

/// `cc -std=c11 -Wall -Wextra -Werror -ffreestanding -nostdlib -static`
/// with rawrt's header directory: how a C program without libc is built.
pub(super) fn cc_nolibc() -> Command {
    let mut c = cc();
    c.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-ffreestanding",
        "-nostdlib",
        "-static",
        "-O2",
    ])
    .arg("-I")
    .arg(super::root().join("include"));
    c
}

/// Compiles `src` (C, without libc) and links it with the default
/// `librawrt.a` into `out`.
pub(super) fn build_c_nolibc(src: &Path, out: &Path) {
    run_ok(cc_nolibc().arg(src).arg(default_lib()).arg("-o").arg(out));
}
