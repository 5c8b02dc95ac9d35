//! The user template (`templates/app/`): copied into a directory of its
//! own with its rawrt dependency pointed at this repository, built for
//! x86_64 as a user builds it, and run.

use std::fs;
use std::path::Path;
use std::process::Command;

/// Copies directory `from` into `to` (created), skipping build output.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

pub(super) fn user_template_builds_and_runs() {
    let root = super::root();
    // Outside the repository, so that no configuration of rawrt's own
    // (its .cargo/config.toml) applies: only the template's.
    let dir = std::env::temp_dir().join(format!("rawrt-template-app-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    copy_dir(&root.join("templates/app"), &dir);
    let manifest = dir.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    assert!(text.contains(r#"rawrt = { path = "../.." }"#), "the template's rawrt dependency");
    let text = text.replace(
        r#"rawrt = { path = "../.." }"#,
        &format!("rawrt = {{ path = {:?} }}", root.display().to_string()),
    );
    fs::write(&manifest, text).unwrap();
    // As a user runs it: from the program's directory (its own
    // .cargo/config.toml), none of this test run's flags.
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(&dir)
        .args(["build", "--release", "--offline"])
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    super::run_nested(c);
    let exe = dir.join("target/release/app");
    let out = Command::new(&exe).args(["one", "two"]).env("HOME", "/nowhere").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2 arguments: [\"one\", \"two\"]\nHOME=Some(\"/nowhere\")\njoined on the heap: one+two\n"
    );
    // A static executable: ELF, ET_EXEC (no PIE), no PT_INTERP.
    let elf = fs::read(&exe).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([elf[16], elf[17]]), 2, "ET_EXEC");
    let phoff = u64::from_le_bytes(elf[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) =
        (u16::from_le_bytes([elf[54], elf[55]]) as usize, u16::from_le_bytes([elf[56], elf[57]]));
    for i in 0..phnum as usize {
        let at = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
        assert_ne!(p_type, 3, "PT_INTERP: the template's program needs a dynamic loader");
    }
    fs::remove_dir_all(&dir).unwrap();
}
