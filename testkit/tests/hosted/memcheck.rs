//! The memory routines must never call themselves (LLVM likes to turn a
//! copy loop into a call to `memcpy`, which here would be the loop itself).
//! The library is compiled to an object file at every opt-level, for every
//! installed target of the three, and the relocations of each routine's
//! section (`.rela.text.memcpy`, ...) are checked with `readelf`, which
//! reads every architecture.

use std::process::Command;

const ROUTINES: &[&str] = &["memcpy", "memmove", "memset", "memcmp", "bcmp", "strlen"];
const TARGETS: &[&str] =
    &["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "riscv64gc-unknown-linux-gnu"];

fn installed_targets() -> Vec<String> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let list = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    TARGETS
        .iter()
        .filter(|t| list.lines().any(|l| l.trim() == **t))
        .map(|t| t.to_string())
        .collect()
}

fn check_object(obj: &std::path::Path, what: &str) {
    let out = Command::new("readelf").arg("-rW").arg(obj).output().expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut current: Option<&str> = None;
    let mut seen = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Relocation section '") {
            let sect = rest.split('\'').next().unwrap();
            current = ROUTINES.iter().copied().find(|r| sect == format!(".rela.text.{r}"));
            seen.extend(current);
            continue;
        }
        if let Some(r) = current {
            for callee in ROUTINES {
                let hit = line.split_whitespace().any(|w| {
                    w == *callee
                        || w.starts_with(&format!("{callee}+"))
                        || w.starts_with(&format!("{callee}-"))
                });
                assert!(!hit, "{r} refers to {callee} ({what}): {line}");
            }
        }
    }
    // A routine with no relocations at all has no section to look at; the
    // symbol table must still hold every routine.
    let syms = Command::new("readelf").arg("-sW").arg(obj).output().expect("readelf");
    let syms = String::from_utf8_lossy(&syms.stdout);
    for r in ROUTINES {
        assert!(
            syms.lines().any(|l| l.contains(" FUNC ") && l.split_whitespace().last() == Some(r)),
            "{r} defined ({what})"
        );
    }
    let _ = seen;
}

pub(super) fn never_call_themselves() {
    let targets = installed_targets();
    assert!(!targets.is_empty());
    for target in &targets {
        for opt in ["0", "1", "2", "3", "s", "z"] {
            let dir = super::root().join("target/memcheck").join(target).join(opt);
            std::fs::create_dir_all(&dir).unwrap();
            let obj = dir.join("rawrt.o");
            let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            c.current_dir(super::root())
                .args(["rustc", "-p", "rawrt", "--lib", "--target", target, "--target-dir"])
                .arg(super::root().join("target/memcheck/build"))
                .args(["--", "-C", &format!("opt-level={opt}"), "-C", "codegen-units=1", "--emit"])
                .arg(format!("obj={}", obj.display()))
                .env_remove("RUSTFLAGS");
            super::run_nested(c);
            check_object(&obj, &format!("{target} opt-level {opt}"));
        }
    }
    print!("({} targets x 6 opt-levels) ", targets.len());
}
