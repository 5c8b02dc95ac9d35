//! No panic reachable from the allocation paths: `tests/c/nopanic.c` uses
//! the malloc family and pools, linked with the README's C line
//! (`--gc-sections` keeps only what is reachable); the program must work
//! and hold no `core::panicking` or `core::fmt` symbol. Indices the heap
//! makes are written so that the compiler sees them in bounds, divisors
//! so that it sees them non-zero; a failure names the symbols and the
//! functions that reach them. The same program must hold no thread-arena,
//! remote-list or thread-exit code (it starts no thread: these are reached
//! only through what the first thread spawn, or the first remote free,
//! installs).

use std::process::Command;

/// Mangled-name fragments of the panic machinery and of `core::fmt` (v0
/// and legacy manglings).
pub(super) const FORBIDDEN: &[&str] =
    &["4core9panicking", "core..panicking", "4core3fmt", "core..fmt"];

pub(super) fn allocation_paths_have_no_panic() {
    // The README's line without `-s`: the symbols are what is checked.
    let flags: Vec<String> =
        super::cmalloc::readme_flags().into_iter().filter(|f| f != "-s").collect();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exe = super::cmalloc::build("tests/c/nopanic.c", &flags, "nopanic");
    let (stdout, _) = super::cmalloc::run(&exe);
    assert_eq!(stdout, "ok\n");
    let nm = Command::new("nm").arg(&exe).output().expect("nm");
    assert!(nm.status.success());
    let syms = String::from_utf8_lossy(&nm.stdout);
    // Pay for what is used: a program that starts no thread links no
    // code that makes or hands out thread arenas, frees through or takes
    // back the remote lists, or gives an ending thread's cache back.
    let threads = ["take_arena", "free_remote", "take_remote", "flush_on_exit"];
    let arenas: Vec<&str> =
        syms.lines().filter(|l| threads.iter().any(|t| l.contains(t))).collect();
    assert!(arenas.is_empty(), "arena code in a program without threads:\n{}", arenas.join("\n"));
    let bad: Vec<&str> = syms.lines().filter(|l| FORBIDDEN.iter().any(|f| l.contains(f))).collect();
    if !bad.is_empty() {
        // Which functions call into them, for the report.
        let dis = Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(&exe).output();
        let dis = dis.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        let (mut func, mut callers) = ("", Vec::new());
        for l in dis.lines() {
            if l.ends_with(">:") {
                func = l;
            } else if (l.contains("call") || l.contains("jmp"))
                && FORBIDDEN.iter().any(|f| l.contains(f))
                && !FORBIDDEN.iter().any(|f| func.contains(f))
            {
                callers.push(func);
            }
        }
        callers.dedup();
        panic!(
            "panic or fmt symbols in {}:\n{}\ncalled from:\n{}",
            exe.display(),
            bad.join("\n"),
            callers.join("\n")
        );
    }
}
