//! Deterministic budgets (issue 15), figures in the README: the release
//! `hello` (file size, ELF shape and the exact system calls it makes,
//! under strace), the C program of `malloc`, `memcpy`, `write` and `free`
//! linked with the README's C line (file size, no file bytes for the
//! heap's state), and the system calls of a C program that makes 100,000
//! small allocations and frees them. The assembly examples' sizes are
//! checked where they are built (`asm_examples.rs`, `scripts/cross.sh`).

use std::path::Path;
use std::process::Command;

/// The size budget of the release `hello` on x86_64, in bytes (issue 15:
/// 512; aarch64 and riscv64 in `scripts/cross.sh`).
const HELLO_MAX_BYTES: u64 = 512;

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
    // hello writes no data: no writable segment (nor its program header:
    // scripts/linkwrap.sh relinks without it).
    assert_eq!(loads, vec![5], "one R+X load segment, nothing writable");
    assert_eq!(phnum, 2, "PT_LOAD and PT_GNU_STACK only");
    assert_eq!(stack_flags, Some(6), "PT_GNU_STACK is RW, not executable");
    assert_eq!(load_end(&elf), elf.len() as u64, "no bytes after the loaded ones");
}

/// The file offset after the last byte a PT_LOAD segment loads.
fn load_end(elf: &[u8]) -> u64 {
    let (phoff, phentsize, phnum) =
        (u64_at(elf, 32) as usize, u16_at(elf, 54) as usize, u16_at(elf, 56) as usize);
    (0..phnum)
        .map(|i| &elf[phoff + i * phentsize..])
        .filter(|ph| u32_at(ph, 0) == 1)
        .map(|ph| u64_at(ph, 8) + u64_at(ph, 32))
        .max()
        .unwrap()
}

/// Every release example, as `cargo build --release` leaves it: no section
/// headers and no bytes after the last segment's (scripts/linkwrap.sh cuts
/// the room lld reserves for the table it does not write), one writable
/// segment where the program has data (`args`: the saved stack pointer)
/// and none where it has not (`hello`), and each runs as before (checked by
/// `examples_output_and_status`).
pub(super) fn release_examples_end_with_their_segments() {
    let mut c = super::nested_cargo("budget");
    c.args(["--release", "--examples"]);
    super::run_nested(c);
    let dir = super::root().join("target/budget/release/examples");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(super::root().join("examples")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(name) = name.strip_suffix(".rs") else { continue };
        let elf = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(u64_at(&elf, 40), 0, "{name}: no section header table");
        assert_eq!(u16_at(&elf, 60), 0, "{name}: no section headers");
        assert_eq!(load_end(&elf), elf.len() as u64, "{name}: bytes after the loaded ones");
        let (phoff, phentsize, phnum) =
            (u64_at(&elf, 32) as usize, u16_at(&elf, 54) as usize, u16_at(&elf, 56) as usize);
        let writable = (0..phnum)
            .map(|i| &elf[phoff + i * phentsize..])
            .filter(|ph| u32_at(ph, 0) == 1 && u32_at(ph, 4) & 2 != 0)
            .count();
        match name {
            "hello" => assert_eq!((writable, phnum), (0, 2), "{name}"),
            "args" => assert_eq!((writable, phnum), (1, 3), "{name}"),
            _ => assert!(writable <= 1, "{name}"),
        }
        seen.push(name.to_string());
    }
    assert!(seen.iter().any(|n| n == "hello") && seen.iter().any(|n| n == "args"), "{seen:?}");
}

/// Runs `exe` under `strace -f`: its stdout, exit status and the names of
/// the system calls it made (execve first), with strace's log.
fn strace(exe: &Path, log: &str) -> (String, Option<i32>, Vec<String>, String) {
    let log = super::root().join("target/budget").join(log);
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let out = Command::new("strace")
        .arg("-f")
        .arg("-o")
        .arg(&log)
        .arg(exe)
        .output()
        .expect("strace must be installed (.ci/run installs it)");
    let text = std::fs::read_to_string(&log).unwrap();
    let calls = text
        .lines()
        .filter(|l| !l.contains("+++") && !l.contains("---"))
        .map(|l| l.split('(').next().unwrap().split_whitespace().last().unwrap().to_string())
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code(), calls, text)
}

pub(super) fn hello_release_syscalls() {
    let (stdout, _, calls, text) = strace(&release_hello(), "hello.strace");
    assert_eq!(stdout, "Hello from rawrt!\n");
    assert_eq!(calls, ["execve", "write", "exit_group"], "strace:\n{text}");
}

/// The size budget of `tests/c/small.c` (malloc, memcpy, write, free),
/// x86_64, linked with the README's C line, in bytes (Valgrind's client
/// requests, `src/rt/valgrind.rs`, take about 1.3 KiB of it; heap
/// poisoning, `src/heap/poison/`, 5.2 KB, measured by a build without it
/// made only for that: every program that allocates holds it, since
/// `RAWRT_HEAP_POISONING` chooses it at run time, without a rebuild).
const C_SMALL_MAX_BYTES: u64 = 42 * 1024;
/// The system calls, execve included, of `tests/c/many_allocs.c`.
const MANY_ALLOCS_MAX_SYSCALLS: usize = 11;

pub(super) fn c_program_size() {
    let flags = super::cmalloc::readme_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exe = super::cmalloc::build("tests/c/small.c", &flags, "small");
    let (stdout, _) = super::cmalloc::run(&exe);
    assert_eq!(stdout, "hello from malloc\n");
    let elf = std::fs::read(&exe).unwrap();
    println!("(malloc/memcpy/write/free in C: {} bytes) ", elf.len());
    assert!(
        elf.len() as u64 <= C_SMALL_MAX_BYTES,
        "{} is {} bytes, budget {C_SMALL_MAX_BYTES}",
        exe.display(),
        elf.len()
    );
    // The heap's state starts all-zero: in `.bss`, no file bytes. The
    // writable segment's file part holds only small initialised data.
    let (phoff, phentsize, phnum) =
        (u64_at(&elf, 32) as usize, u16_at(&elf, 54) as usize, u16_at(&elf, 56) as usize);
    for i in 0..phnum {
        let ph = &elf[phoff + i * phentsize..];
        if u32_at(ph, 0) == 1 && u32_at(ph, 4) & 2 != 0 {
            let filesz = u64_at(ph, 32);
            assert!(
                filesz <= 1024,
                "writable segment has {filesz} file bytes (the heap in .data?)"
            );
        }
    }
}

pub(super) fn many_allocations_syscalls() {
    let flags = super::cmalloc::readme_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exe = super::cmalloc::build("tests/c/many_allocs.c", &flags, "many_allocs");
    let (_, status, calls, text) = strace(&exe, "many_allocs.strace");
    assert_eq!(status, Some(0), "strace:\n{text}");
    println!("({} system calls) ", calls.len());
    assert!(
        calls.len() <= MANY_ALLOCS_MAX_SYSCALLS,
        "{} system calls, budget {MANY_ALLOCS_MAX_SYSCALLS}:\n{text}",
        calls.len()
    );
}
