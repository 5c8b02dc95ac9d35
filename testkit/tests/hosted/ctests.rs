//! C tests of the system interfaces (`tests/c/*.c`): each is built with
//! `cc -std=c11 -Wall -Wextra -Werror -ffreestanding -nostdlib -static`
//! against `include/rawrt.h` and `librawrt.a`, run, and must exit 0 with
//! every check it prints passed and as many checks as it promises.

use super::clib;
use std::process::Command;

/// Each C test with the number of checks it makes (so that none is
/// silently skipped).
const TESTS: &[(&str, usize)] = &[
    ("shm", 22),
    ("mprotect", 13),
    ("brk", 19),
    ("mlock", 13),
    ("mq", 38),
    ("mm", 25),
    ("process", 29),
];

/// Whether this process has CAP_IPC_LOCK (bit 14 of CapEff), which lets
/// mlock go beyond RLIMIT_MEMLOCK; its children (the tests) inherit it.
fn has_cap_ipc_lock() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).expect("CapEff");
    u64::from_str_radix(eff.trim(), 16).unwrap() & (1 << 14) != 0
}

pub(super) fn system_interfaces_from_c() {
    // Every program written on check.h has an entry (tests/c also holds
    // programs that other hosted tests run).
    for entry in std::fs::read_dir(super::root().join("tests/c")).unwrap() {
        let path = entry.unwrap().path();
        let ours =
            || std::fs::read_to_string(&path).is_ok_and(|t| t.contains("#include \"check.h\""));
        if path.extension().is_some_and(|e| e == "c") && ours() {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            // (`small_heap.c` links the small heap: smallheap.rs runs it.)
            assert!(
                TESTS.iter().any(|t| t.0 == stem) || stem == "small_heap",
                "tests/c/{stem}.c has no entry in testkit/tests/hosted/ctests.rs"
            );
        }
    }
    let dir = clib::scratch("ctests");
    let cap = has_cap_ipc_lock();
    let mut total = 0;
    for &(name, checks) in TESTS {
        let exe = dir.join(name);
        clib::build_c_nolibc(&super::root().join(format!("tests/c/{name}.c")), &exe);
        let mut c = Command::new(&exe);
        if name == "mlock" {
            c.arg(if cap { "cap" } else { "nocap" });
        }
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = format!("{name}: {checks} passed, 0 failed\n");
        assert!(
            out.status.success()
                && !stdout.lines().any(|l| l.starts_with("FAIL"))
                && stdout.ends_with(&summary),
            "tests/c/{name}.c: {}, expected to end with {summary:?}:\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        total += checks;
    }
    print!(
        "({} programs, {total} checks; CAP_IPC_LOCK {}) ",
        TESTS.len(),
        if cap { "held" } else { "not held" }
    );
}
