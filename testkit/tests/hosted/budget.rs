//! Deterministic budgets for the release `hello`: file size, ELF shape and
//! the exact system calls it makes (strace). Figures are in the README.

use std::process::Command;

/// The size budget of the release `hello` on x86_64, in bytes.
const HELLO_MAX_BYTES: u64 = 1024;

fn release_hello() -> std::path::PathBuf {
    let mut c = super::nested_cargo("budget");
    c.args(["--release", "--example", "hello"]);
    super::run_nested(c);
    super::root().join("target/budget/release/examples/hello")
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

pub(super) fn hello_release_size_and_elf() {
    let exe = release_hello();
    let elf = std::fs::read(&exe).unwrap();
    println!("(release hello: {} bytes) ", elf.len());
    assert!(
        elf.len() as u64 <= HELLO_MAX_BYTES,
        "release hello is {} bytes, budget {HELLO_MAX_BYTES}",
        elf.len()
    );
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(u16_at(&elf, 16), 2, "ET_EXEC");
    let (phoff, phentsize, phnum) =
        (u64_at(&elf, 32) as usize, u16_at(&elf, 54) as usize, u16_at(&elf, 56) as usize);
    let mut loads = Vec::new();
    let mut stack_flags = None;
    for i in 0..phnum {
        let ph = &elf[phoff + i * phentsize..];
        let (ty, flags) = (u32_at(ph, 0), u32_at(ph, 4));
        assert_ne!(ty, 3, "no PT_INTERP");
        assert_ne!(ty, 2, "no PT_DYNAMIC");
        assert_ne!(flags & 3, 3, "no segment both writable and executable");
        match ty {
            1 => loads.push(flags),
            0x6474e551 => stack_flags = Some(flags),
            _ => {}
        }
    }
    assert_eq!(loads, vec![5, 6], "one R+X and one R+W load segment");
    assert_eq!(stack_flags, Some(6), "PT_GNU_STACK is RW, not executable");
}

pub(super) fn hello_release_syscalls() {
    let exe = release_hello();
    let log = super::root().join("target/budget/hello.strace");
    let out = Command::new("strace")
        .arg("-f")
        .arg("-o")
        .arg(&log)
        .arg(&exe)
        .output()
        .expect("strace must be installed (.ci/run installs it)");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello from rawrt!\n");
    let text = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("+++") && !l.contains("---"))
        .map(|l| l.split('(').next().unwrap().split_whitespace().last().unwrap())
        .collect();
    assert_eq!(calls, ["execve", "write", "exit_group"], "strace:\n{text}");
}
