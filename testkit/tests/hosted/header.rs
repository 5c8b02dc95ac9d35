//! `include/rawrt.h` kept in step with the library, mechanically:
//!
//! * every C name `librawrt.a` exports is declared in the header and every
//!   function the header declares is exported (in both modes: C names, and
//!   `RAWRT_PREFIX` against the library built without them);
//! * a C program that takes the address of every declared function compiles
//!   with `-std=c11 -Wall -Wextra -Werror -ffreestanding -nostdlib`, links
//!   with `librawrt.a` and runs (errno through the `errno` macro);
//! * each declaration's parameter and result types match the Rust
//!   definition's (width, signedness, pointer, by-value structure,
//!   variadic tail, noreturn), read from the DWARF of both compilers;
//! * every structure's size and field offsets match the Rust type it stands
//!   for (paired through the function signatures, or, for kernel
//!   structures rawrt passes through untyped, linux-raw-sys's definition);
//! * every constant the header defines has the value of the Rust (kernel)
//!   definition: static assertions generated from the Rust side.

use super::clib::{self, run_ok};
use super::dwarf::{Dwarf, Ty};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The functions the header declares, from GCC's `-aux-info` listing of a
/// file that includes it (only declarations made in rawrt.h count).
fn declared(dir: &Path, src: &str, flags: &[&str]) -> BTreeSet<String> {
    let c = dir.join("decls.c");
    std::fs::write(&c, src).unwrap();
    let aux = dir.join("decls.aux");
    run_ok(
        clib::cc()
            .args(flags)
            .arg("-I")
            .arg(super::root().join("include"))
            .arg("-c")
            .arg(&c)
            .arg("-o")
            .arg(dir.join("decls.o"))
            .arg("-aux-info")
            .arg(&aux),
    );
    let text = std::fs::read_to_string(&aux).unwrap();
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| l.contains("rawrt.h:")) {
        let decl = line.split("*/").nth(1).unwrap_or("");
        let before = decl.split(" (").next().unwrap_or("");
        let name = before.rsplit([' ', '*']).next().unwrap_or("");
        assert!(!name.is_empty(), "cannot read the -aux-info line {line}");
        names.insert(name.to_string());
    }
    names
}

/// Compares the header's declarations with an archive's exports.
fn same_names(what: &str, declared: &BTreeSet<String>, exported: &BTreeSet<String>) {
    let missing: Vec<_> = exported.difference(declared).collect();
    let extra: Vec<_> = declared.difference(exported).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: exported by librawrt.a but not declared in include/rawrt.h: {missing:?}; \
         declared but not exported: {extra:?}"
    );
}

/// `struct`/`union` tags the header defines (with a body).
fn record_tags(dir: &Path, prelude: &str) -> BTreeSet<String> {
    let c = dir.join("tags.c");
    std::fs::write(&c, format!("{prelude}#include \"rawrt.h\"\n")).unwrap();
    run_ok(
        clib::cc()
            .args(["-std=c11", "-ffreestanding", "-E", "-P", "-I"])
            .arg(super::root().join("include"))
            .arg(&c)
            .arg("-o")
            .arg(dir.join("rawrt.i")),
    );
    let text = std::fs::read_to_string(dir.join("rawrt.i")).unwrap();
    let toks: Vec<&str> = text
        .split(|c: char| c.is_whitespace())
        .flat_map(|w| split_punct(w))
        .filter(|t| !t.is_empty())
        .collect();
    let mut tags = BTreeSet::new();
    for w in toks.windows(3) {
        if (w[0] == "struct" || w[0] == "union") && w[2] == "{" && is_ident(w[1]) {
            tags.insert(format!("{} {}", w[0], w[1]));
        }
    }
    tags
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn split_punct(w: &str) -> Vec<&str> {
    let mut v = Vec::new();
    let mut start = 0;
    for (i, c) in w.char_indices() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            v.push(&w[start..i]);
            v.push(&w[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    v.push(&w[start..]);
    v
}

/// Macros rawrt.h defines: name → body (object-like ones only).
fn header_macros(dir: &Path, prelude: &str) -> BTreeMap<String, String> {
    let dump = |src: &str, name: &str| -> BTreeMap<String, String> {
        let c = dir.join(name);
        std::fs::write(&c, src).unwrap();
        let out = run_ok(
            clib::cc()
                .args(["-std=c11", "-ffreestanding", "-E", "-dM", "-I"])
                .arg(super::root().join("include"))
                .arg(&c),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("#define ")?;
                let (name, body) = rest.split_once(' ').unwrap_or((rest, ""));
                Some((name.to_string(), body.to_string()))
            })
            .collect()
    };
    let base = dump("#include <stddef.h>\n#include <stdint.h>\n#include <stdbool.h>\n", "base.c");
    let all = dump(&format!("{prelude}#include \"rawrt.h\"\n"), "all.c");
    all.into_iter().filter(|(n, _)| !base.contains_key(n) && !n.contains('(')).collect()
}

/// Macros of the header that are not numeric constants.
const NOT_CONSTANTS: &[&str] = &[
    "RAWRT_H",
    "RAWRT_NORETURN",
    "RAWRT_NO_C11_THREADS",
    "errno",
    "MAP_FAILED",
    "sigev_notify_thread_id",
];

/// What rawrt's Rust definitions say the header's numbers are, as the
/// `c_abi` example prints them (built by the same `cargo test`): every
/// constant, and the layouts of structures (size, fields and offsets).
struct Facts {
    consts: BTreeMap<String, u64>,
    layouts: BTreeMap<String, (usize, Vec<(String, usize)>)>,
}

impl Facts {
    fn load() -> Facts {
        let exe = super::profile_dir().join("examples/c_abi");
        let out = run_ok(&mut std::process::Command::new(&exe));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut f = Facts { consts: BTreeMap::new(), layouts: BTreeMap::new() };
        for line in text.lines() {
            let bad = || -> ! { panic!("{}: cannot read the line {line:?}", exe.display()) };
            let num = |x: &str| -> u64 { x.parse().unwrap_or_else(|_| bad()) };
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next()) {
                (Some("struct"), Some(name), Some(size)) => {
                    let fields = w
                        .map(|fo| {
                            let (f, o) = fo.split_once('@').unwrap_or_else(|| bad());
                            (f.to_string(), num(o) as usize)
                        })
                        .collect();
                    f.layouts.insert(name.into(), (num(size) as usize, fields));
                }
                (Some(name), Some(v), None) => {
                    f.consts.insert(name.into(), num(v));
                }
                _ => bad(),
            }
        }
        f
    }

    /// The value a header constant must have.
    fn constant(&self, name: &str) -> Option<u64> {
        self.consts.get(name).copied()
    }

    /// Structure `name`'s size and (field, offset) pairs.
    fn layout(&self, name: &str) -> (usize, &[(String, usize)]) {
        let (size, fields) =
            self.layouts.get(name).unwrap_or_else(|| panic!("c_abi prints no layout of {name}"));
        (*size, fields)
    }
}

/// Functions defined in assembly (`asm/<arch>-varargs.s`: C variadic
/// entry points; `heap/trace/hook.rs`: the stubs that learn their
/// caller), whose signatures have no DWARF to compare.
const IN_ASSEMBLY: &[&str] = &[
    "heap_caps_malloc_prefer",
    "heap_caps_calloc_prefer",
    "heap_caps_realloc_prefer",
    "malloc_at",
    "calloc_at",
    "realloc_at",
    "free_at",
];

/// Kernel structures that rawrt passes through untyped (so no Rust
/// signature pairs them): the header's must have linux-raw-sys's layout.
const KERNEL_LAYOUTS: &[&str] = &["sigevent", "sigval"];

/// Rust types whose DWARF layout must agree with the compiler's
/// `size_of`/`offset_of!` (a check of the DWARF reader).
const RUST_LAYOUTS: &[&str] = &["MqAttr", "Timespec", "rlimit64"];

/// The C program: takes the address of every declared function, prints
/// each structure's size, reads errno through the macro, and carries a
/// static assertion per constant.
fn check_program(
    prelude: &str,
    functions: &BTreeSet<String>,
    tags: &BTreeSet<String>,
    consts: &BTreeMap<String, u64>,
) -> String {
    let mut s = format!(
        "/* Generated by testkit/tests/hosted/header.rs. */\n{prelude}#include \"rawrt.h\"\n\n\
         typedef void (*any_fn)(void);\n\nstatic any_fn const functions[] = {{\n"
    );
    for f in functions {
        writeln!(s, "    (any_fn){f},").unwrap();
    }
    s.push_str("};\n\n");
    for (n, v) in consts {
        writeln!(s, "_Static_assert((unsigned long long)({n}) == {v}ULL, \"{n} is {v} in Rust\");")
            .unwrap();
    }
    s.push_str(
        r#"
static char out[8192];
static size_t len;

static void put(const char *s) {
    while (*s && len < sizeof out) out[len++] = *s++;
}

static void put_u(unsigned long v) {
    char d[24];
    int i = 0;
    do d[i++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (i > 0 && len < sizeof out) out[len++] = d[--i];
}

int main(void) {
    unsigned long n = 0;
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        n += functions[i] != 0;
    put("functions "); put_u(n); put("\n");
"#,
    );
    for t in tags {
        writeln!(s, "    put(\"sizeof {t} \"); put_u(sizeof({t})); put(\"\\n\");").unwrap();
    }
    s.push_str(
        r#"    errno = 0;
    if (close(-1) != -1 || errno != EBADF) { put("close(-1) did not set errno to EBADF\n"); write(1, out, len); return 1; }
    put("errno EBADF\n");
    write(1, out, len);
    return 0;
}
"#,
    );
    s
}

/// Compares a C type with a Rust one; structures met on both sides (by
/// value or behind pointers) are queued in `pairs` for a layout check.
fn same(c: &Dwarf, ct: &Ty, r: &Dwarf, rt: &Ty, pairs: &mut Vec<(usize, usize)>) -> bool {
    match (ct, rt) {
        (Ty::Ptr(pc), Ty::Ptr(pr)) => {
            if let (Some(pc), Some(pr)) = (pc, pr) {
                match (c.ty(*pc), r.ty(*pr)) {
                    (Ty::Record(a), Ty::Record(b)) if !c.has(a, "DW_AT_declaration") => {
                        pairs.push((a, b));
                    }
                    // A function pointer (not nullable: a nullable one is
                    // Option in Rust, Ptr(None)): the same parameters and
                    // result, structures among them paired.
                    (Ty::Func, Ty::Func) => {
                        let ((cp, cv), (rp, rv)) = (c.params(*pc), r.params(*pr));
                        return cv == rv
                            && cp.len() == rp.len()
                            && cp.iter().zip(&rp).all(|(a, b)| same(c, a, r, b, pairs))
                            && same(c, &c.ty_of(*pc), r, &r.ty_of(*pr), pairs);
                    }
                    _ => {}
                }
            }
            true
        }
        (Ty::Record(a), Ty::Record(b)) => {
            pairs.push((*a, *b));
            true
        }
        (Ty::Array { elem: e1, count: n1 }, Ty::Array { elem: e2, count: n2 }) => {
            n1 == n2 && same(c, e1, r, e2, pairs)
        }
        (a, b) => a == b,
    }
}

/// Checks one function's C declaration against its Rust definition.
fn same_signature(
    name: &str,
    c: &Dwarf,
    cf: usize,
    r: &Dwarf,
    rf: usize,
    pairs: &mut Vec<(usize, usize)>,
) -> Vec<String> {
    let mut errs = Vec::new();
    let (cp, variadic) = c.params(cf);
    let (rp, _) = r.params(rf);
    if variadic {
        if rp.len() < cp.len() {
            errs.push(format!(
                "{name}: C has {} fixed parameters, Rust only {}",
                cp.len(),
                rp.len()
            ));
        }
        for (i, t) in rp.iter().enumerate().skip(cp.len()) {
            if !matches!(t, Ty::Int { size: 4 | 8, .. } | Ty::Ptr(_)) {
                errs.push(format!(
                    "{name}: Rust parameter {i} ({}) cannot travel as a C variadic argument",
                    r.describe(t)
                ));
            }
        }
    } else if cp.len() != rp.len() {
        errs.push(format!("{name}: {} parameters in C, {} in Rust", cp.len(), rp.len()));
    }
    for (i, (ct, rt)) in cp.iter().zip(&rp).enumerate() {
        if !same(c, ct, r, rt, pairs) {
            errs.push(format!(
                "{name}: parameter {i} is {} in C, {} in Rust",
                c.describe(ct),
                r.describe(rt)
            ));
        }
    }
    let (cr, rr) = (c.ty_of(cf), r.ty_of(rf));
    if !same(c, &cr, r, &rr, pairs) {
        errs.push(format!("{name}: returns {} in C, {} in Rust", c.describe(&cr), r.describe(&rr)));
    }
    if c.has(cf, "DW_AT_noreturn") != r.has(rf, "DW_AT_noreturn") {
        errs.push(format!("{name}: noreturn in one language only"));
    }
    errs
}

/// Checks the layouts of paired structures (and of structures inside them).
fn same_layouts(
    c: &Dwarf,
    r: &Dwarf,
    mut pairs: Vec<(usize, usize)>,
    checked: &mut BTreeMap<String, String>,
) -> Vec<String> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    while let Some((a, b)) = pairs.pop() {
        if !seen.insert((a, b)) {
            continue;
        }
        let cname = c.name(a).unwrap_or("<anonymous>").to_string();
        let rname = r.name(b).unwrap_or("<anonymous>").to_string();
        checked.insert(cname.clone(), rname.clone());
        let (cs, rs) = (c.num(a, "DW_AT_byte_size"), r.num(b, "DW_AT_byte_size"));
        if cs != rs {
            errs.push(format!("struct {cname} is {cs:?} bytes, Rust {rname} {rs:?}"));
        }
        let (cm, rm) = (c.members(a), r.members(b));
        if let [(n, 0, Ty::Array { elem, .. })] = cm.as_slice() {
            if n == "__opaque" {
                // Opaque storage: only the size and alignment are C's business.
                let (ca, ra) = (c.size(elem), r.num(b, "DW_AT_alignment").unwrap_or(0));
                if ca != ra {
                    errs.push(format!(
                        "opaque struct {cname} is {ca}-aligned, Rust {rname} {ra}-aligned"
                    ));
                }
                continue;
            }
        }
        if cm.len() != rm.len() {
            errs.push(format!("struct {cname} has {} fields, Rust {rname} {}", cm.len(), rm.len()));
        }
        for ((cn, co, ct), (rn, ro, rt)) in cm.iter().zip(&rm) {
            if co != ro {
                errs.push(format!("{cname}.{cn} at offset {co}, Rust {rname}.{rn} at {ro}"));
            }
            if !same(c, ct, r, rt, &mut pairs) || c.size(ct) != r.size(rt) {
                errs.push(format!(
                    "{cname}.{cn} is {}, Rust {rname}.{rn} is {}",
                    c.describe(ct),
                    r.describe(rt)
                ));
            }
        }
    }
    errs
}

/// The Rust objects of the debug archive.
fn rust_objects(dir: &Path, lib: &Path) -> Vec<PathBuf> {
    let out = run_ok(std::process::Command::new("ar").arg("t").arg(lib));
    let members: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|m| m.starts_with("rawrt-") && m.ends_with(".o"))
        .map(String::from)
        .collect();
    assert!(!members.is_empty(), "no rawrt objects in {}", lib.display());
    run_ok(std::process::Command::new("ar").arg("x").arg(lib).args(&members).current_dir(dir));
    members.iter().map(|m| dir.join(m)).collect()
}

pub(super) fn header_matches_the_library() {
    check_header("header", "", clib::default_lib(), clib::debug_lib());
}

/// The header with `RAWRT_NO_C11_THREADS` against the library built
/// without the `c11-threads` feature.
pub(super) fn header_matches_the_library_without_c11_threads() {
    let (release, debug) = clib::no_c11_threads_libs();
    check_header("header-no-c11", "#define RAWRT_NO_C11_THREADS\n", &release, &debug);
}

/// Checks the header, with `prelude` before its inclusion, against the
/// `release` archive's names and the `debug` archive's DWARF.
fn check_header(name: &str, prelude: &str, release: &Path, debug: &Path) {
    let dir = clib::scratch(name);
    let free = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-ffreestanding"];

    // Every exported C name is declared, every declaration exported.
    let decls = declared(&dir, &format!("{prelude}#include \"rawrt.h\"\n"), &free);
    let exported = clib::c_names(release);
    same_names("C names", &decls, &exported);

    // Constants: every one has a Rust value.
    let facts = Facts::load();
    let macros = header_macros(&dir, prelude);
    let mut consts = BTreeMap::new();
    let mut unknown = Vec::new();
    for name in macros.keys().filter(|n| !NOT_CONSTANTS.contains(&n.as_str())) {
        match facts.constant(name) {
            Some(v) => {
                consts.insert(name.clone(), v);
            }
            None => unknown.push(name.clone()),
        }
    }
    assert!(
        unknown.is_empty(),
        "header constants that examples/c_abi.rs does not print: {unknown:?}"
    );

    // The C program: compiles warning-free, links, runs.
    let tags = record_tags(&dir, prelude);
    let src = dir.join("check.c");
    std::fs::write(&src, check_program(prelude, &decls, &tags, &consts)).unwrap();
    let obj = dir.join("check.o");
    run_ok(
        clib::cc_nolibc()
            .args(["-O0", "-g", "-fno-eliminate-unused-debug-types", "-c"])
            .arg(&src)
            .arg("-o")
            .arg(&obj),
    );
    let exe = dir.join("check");
    run_ok(clib::cc_nolibc().arg(&obj).arg(release).arg("-o").arg(&exe));
    let out = run_ok(&mut std::process::Command::new(&exe));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains(&format!("functions {}\n", decls.len())), "{stdout}");
    assert!(stdout.contains("errno EBADF\n"), "{stdout}");

    // Signatures and layouts, from DWARF.
    let c = Dwarf::load(&[&obj]);
    let objs = rust_objects(&dir, debug);
    let r = Dwarf::load(&objs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    let mut errs = Vec::new();
    let mut pairs = Vec::new();
    for name in &decls {
        let cf = c
            .with_tag("DW_TAG_subprogram")
            .find(|&i| c.name(i) == Some(name) && c.has(i, "DW_AT_declaration"));
        let rf = r.with_tag("DW_TAG_subprogram").find(|&i| {
            r.name(i) == Some(name) && !r.has(i, "DW_AT_linkage_name") && r.has(i, "DW_AT_low_pc")
        });
        // Assembly has no DWARF; tests/caps.rs calls these through C's
        // variadic convention on every architecture.
        if IN_ASSEMBLY.contains(&name.trim_start_matches("rawrt_")) {
            continue;
        }
        match (cf, rf) {
            (Some(cf), Some(rf)) => errs.extend(same_signature(name, &c, cf, &r, rf, &mut pairs)),
            _ => errs.push(format!("{name}: no DWARF description (C {cf:?}, Rust {rf:?})")),
        }
    }
    let mut checked = BTreeMap::new();
    errs.extend(same_layouts(&c, &r, pairs, &mut checked));

    // Enumeration constants (which the preprocessor does not see).
    let mut enumerators = 0;
    for e in c.with_tag("DW_TAG_enumerator") {
        let name = c.name(e).unwrap_or("");
        let v = c
            .attr(e, "DW_AT_const_value")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<i64>().ok());
        match (facts.constant(name), v) {
            (Some(want), Some(got)) if want == got as u64 => enumerators += 1,
            (want, got) => {
                errs.push(format!("enumeration constant {name} is {got:?} in C, {want:?} in Rust"))
            }
        }
    }

    // The DWARF reader agrees with the Rust compiler where both can be asked.
    for &rname in RUST_LAYOUTS {
        let (size, fields) = facts.layout(rname);
        let offsets: Vec<usize> = fields.iter().map(|f| f.1).collect();
        let Some(b) = r
            .with_tag("DW_TAG_structure_type")
            .find(|&i| r.name(i) == Some(rname) && r.num(i, "DW_AT_byte_size").is_some())
        else {
            errs.push(format!("Rust {rname} not in the DWARF"));
            continue;
        };
        let got: Vec<usize> = r.members(b).iter().map(|m| m.1 as usize).collect();
        assert_eq!(
            (r.num(b, "DW_AT_byte_size"), got),
            (Some(size as u64), offsets),
            "DWARF layout of {rname}"
        );
    }

    // Kernel structures passed through untyped.
    for &cname in KERNEL_LAYOUTS {
        let (size, fields) = facts.layout(cname);
        let Some(a) = (0..c.dies.len()).find(|&i| {
            matches!(c.dies[i].tag.as_str(), "DW_TAG_structure_type" | "DW_TAG_union_type")
                && c.name(i) == Some(cname)
                && !c.has(i, "DW_AT_declaration")
        }) else {
            errs.push(format!("{cname} not in the C DWARF"));
            continue;
        };
        checked.insert(cname.to_string(), "linux-raw-sys".to_string());
        if c.num(a, "DW_AT_byte_size") != Some(size as u64) {
            errs.push(format!(
                "{cname}: {:?} bytes in C, {size} in the kernel's",
                c.num(a, "DW_AT_byte_size")
            ));
        }
        let cm = c.members(a);
        if cm.len() != fields.len() {
            errs.push(format!(
                "{cname}: {} fields in C, {} in the kernel's",
                cm.len(),
                fields.len()
            ));
        }
        for (f, off) in fields {
            match cm.iter().find(|m| m.0 == *f) {
                Some(m) if m.1 as usize == *off => {}
                m => errs.push(format!(
                    "{cname}.{f}: at {:?} in C, {off} in the kernel's",
                    m.map(|m| m.1)
                )),
            }
        }
    }

    // Every structure the header defines was checked, and its size as the
    // running program printed it is the size DWARF gave.
    for tag in &tags {
        let name = tag.split_whitespace().nth(1).unwrap();
        if !checked.contains_key(name) {
            errs.push(format!("{tag} is defined in the header but matched with no Rust type"));
        }
        let a = (0..c.dies.len())
            .find(|&i| c.name(i) == Some(name) && c.num(i, "DW_AT_byte_size").is_some());
        let printed =
            format!("sizeof {tag} {}\n", a.and_then(|a| c.num(a, "DW_AT_byte_size")).unwrap_or(0));
        if !stdout.contains(&printed) {
            errs.push(format!(
                "{tag}: the program printed a size other than DWARF's ({printed:?}): {stdout}"
            ));
        }
    }
    assert!(
        errs.is_empty(),
        "include/rawrt.h does not match the library:\n  {}",
        errs.join("\n  ")
    );
    print!(
        "({} functions, {} structures, {} constants) ",
        decls.len(),
        checked.len(),
        consts.len() + enumerators
    );
}

/// With `RAWRT_PREFIX`, in an ordinary glibc C11 program: the header
/// coexists with glibc's headers, and its declarations are exactly what
/// the library built without C names exports.
pub(super) fn prefixed_header_matches_the_prefixed_library() {
    let dir = clib::scratch("header-prefixed");
    let src = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <errno.h>\n\
               #include <time.h>\n#include <signal.h>\n#include <sys/types.h>\n#include <sys/mman.h>\n\
               #include <sys/resource.h>\n#include <mqueue.h>\n#include <unistd.h>\n\
               #define RAWRT_PREFIX\n#include \"rawrt.h\"\n";
    let decls = declared(&dir, src, &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]);
    let exported = clib::c_names(clib::prefixed_lib());
    same_names("rawrt_ names (RAWRT_PREFIX, library without C names)", &decls, &exported);
    // The same functions as the C-name mode, less rawrt_init (which only a
    // program with its own _start and no libc may call) and the C11
    // threads (which set the thread pointer a host libc owns), with
    // multi_heap_set_lock, which takes a C11 mutex.
    let plain = declared(&dir, "#include \"rawrt.h\"\n", &["-std=c11", "-ffreestanding"]);
    let c11 =
        |n: &str| n.starts_with("thrd_") || n.starts_with("mtx_") || n == "multi_heap_set_lock";
    let want: BTreeSet<String> = plain
        .iter()
        .filter(|n| *n != "rawrt_init" && !c11(n))
        .map(|n| if n.starts_with("rawrt_") { n.clone() } else { format!("rawrt_{n}") })
        .collect();
    same_names("RAWRT_PREFIX declarations against the C-name declarations", &decls, &want);
    print!("({} rawrt_ functions) ", decls.len());
}
