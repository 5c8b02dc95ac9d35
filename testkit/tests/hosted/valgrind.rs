//! rawrt's heaps under Valgrind's Memcheck: the allocator announces its
//! blocks with client requests (`src/rt/valgrind.rs`), so that Memcheck
//! finds in a static program with no libc what it finds with glibc's
//! malloc. `tests/c/valgrind.c` "bad" gets exactly four reports naming the
//! right blocks (a read after free, a one-byte overflow, a leak, a branch
//! on uninitialised memory); "good" and the Rust examples get none and
//! leave nothing allocated.

use std::process::Command;

fn memcheck(exe: &std::path::Path, args: &[&str]) -> (String, String, Option<i32>) {
    memcheck_poisoned(exe, args, None)
}

/// [`memcheck`] with `RAWRT_HEAP_POISONING` set to `mode` (or unset).
fn memcheck_poisoned(
    exe: &std::path::Path,
    args: &[&str],
    mode: Option<&str>,
) -> (String, String, Option<i32>) {
    let mut c = Command::new("valgrind");
    c.args(["--leak-check=full", "--error-exitcode=99"]).arg(exe).args(args);
    c.env_remove("RAWRT_HEAP_POISONING");
    if let Some(m) = mode {
        c.env("RAWRT_HEAP_POISONING", m);
    }
    let o = c.output().expect("valgrind (scripts/setup.sh installs it)");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

/// The address the program printed after `what ` on stdout.
fn printed(stdout: &str, what: &str) -> u64 {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(what))
        .unwrap_or_else(|| panic!("no {what} in {stdout}"));
    u64::from_str_radix(line.trim().trim_start_matches("0x"), 16).unwrap()
}

pub(super) fn memcheck_understands_the_heap() {
    let dir = super::clib::scratch("valgrind");
    let exe = dir.join("valgrind");
    super::clib::build_c_nolibc(&super::root().join("tests/c/valgrind.c"), &exe);

    let (out, err, status) = memcheck(&exe, &["bad"]);
    assert_eq!(status, Some(99), "Memcheck found errors:\n{err}");
    let freed = printed(&out, "freed ");
    let short = printed(&out, "short ");
    for want in [
        "Invalid read of size 4".to_string(),
        // Memcheck says "a block" or "a recently re-allocated block".
        format!("Address {:#x} is 8 bytes inside a ", freed + 8),
        "block of size 40 free'd".to_string(),
        "Invalid write of size 1".to_string(),
        format!("Address {:#x} is 0 bytes after a ", short + 13),
        "block of size 13 alloc'd".to_string(),
        "Conditional jump or move depends on uninitialised value(s)".to_string(),
        "100 bytes in 1 blocks are definitely lost".to_string(),
        "ERROR SUMMARY: 4 errors from 4 contexts".to_string(),
    ] {
        assert!(err.contains(&want), "Memcheck's report lacks {want:?}:\n{err}");
    }

    let (_, err, status) = memcheck(&exe, &["good"]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("ERROR SUMMARY: 0 errors from 0 contexts"), "{err}");
    assert!(err.contains("All heap blocks were freed -- no leaks are possible"), "{err}");

    // Rust's global allocator (Vec and String growth, realloc) likewise.
    let demo = super::profile_dir().join("examples/demo");
    let (_, err, status) = memcheck(&demo, &[]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("ERROR SUMMARY: 0 errors from 0 contexts"), "{err}");
    assert!(err.contains("total heap usage: 15 allocs, 15 frees"), "{err}");
}

/// The allocators over memory handed to them announce themselves as
/// Memcheck pools (`tests/c/valgrind_regions.c`, one run per kind: granules,
/// a compact region heap, and the SPIRAM heap rawrt maps itself, which
/// under Memcheck is a compact heap too): in "bad", exactly the four reports (a read
/// after free naming the freed block, a write one byte past a block, the
/// lost block, a branch on an uninitialised byte) at the addresses the
/// program printed; in "good", none and nothing lost.
pub(super) fn memcheck_understands_region_allocators() {
    let dir = super::clib::scratch("valgrind-regions");
    let exe = dir.join("valgrind_regions");
    super::clib::build_c_nolibc(&super::root().join("tests/c/valgrind_regions.c"), &exe);
    for kind in ["gran", "multi-heap", "spiram"] {
        let (out, err, status) = memcheck(&exe, &[kind, "bad"]);
        assert_eq!(status, Some(99), "{kind}: Memcheck found no errors:\n{err}");
        let freed = printed(&out, "freed ");
        let short = printed(&out, "short ");
        for want in [
            "Invalid read of size 4".to_string(),
            format!("Address {:#x} is 8 bytes inside a block of size 100 free'd", freed + 8),
            "Invalid write of size 1".to_string(),
            format!("Address {:#x} is ", short + 50),
            "Conditional jump or move depends on uninitialised value(s)".to_string(),
            "200 bytes in 1 blocks are definitely lost".to_string(),
            "ERROR SUMMARY: 4 errors from 4 contexts".to_string(),
        ] {
            assert!(err.contains(&want), "{kind}: Memcheck's report lacks {want:?}:\n{err}");
        }
        // "good" (for the heaps also calloc's zeros and realloc's copies,
        // which a branch reads), plain and with the heaps poisoned.
        let modes: &[Option<&str>] =
            if kind == "gran" { &[None] } else { &[None, Some("light"), Some("comprehensive")] };
        for &mode in modes {
            let (_, err, status) = memcheck_poisoned(&exe, &[kind, "good"], mode);
            assert_eq!(status, Some(0), "{kind} {mode:?}: {err}");
            assert!(
                err.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
                "{kind} {mode:?}: {err}"
            );
            assert!(err.contains("definitely lost: 0 bytes in 0 blocks"), "{kind} {mode:?}: {err}");
        }
    }
}

/// Block pools announce themselves as Memcheck pools when the program runs
/// under Memcheck (`tests/c/valgrind_pools.c`, a pool over a region and a
/// pool growing from the heap, blocks of 64 bytes): in "bad", exactly the
/// four reports (a read after free, a write one byte past a block, the
/// lost block, a branch on an uninitialised byte) at the addresses the
/// program printed; in "good", none and nothing lost, also with the
/// pools poisoned (the pool's own accesses to canaries and fills, which
/// Memcheck sees as inaccessible, are quiet). (Memcheck describes an
/// address in a pool whose chunks are `malloc`'d by the chunk, so the
/// freed block's own description is checked for the region pool only.)
pub(super) fn memcheck_understands_pools() {
    let dir = super::clib::scratch("valgrind-pools");
    let exe = dir.join("valgrind_pools");
    super::clib::build_c_nolibc(&super::root().join("tests/c/valgrind_pools.c"), &exe);
    for kind in ["pool", "pool-heap"] {
        let (out, err, status) = memcheck(&exe, &[kind, "bad"]);
        assert_eq!(status, Some(99), "{kind}: Memcheck found no errors:\n{err}");
        let freed = printed(&out, "freed ");
        let short = printed(&out, "short ");
        let mut wants = vec![
            "Invalid read of size 4".to_string(),
            format!("Address {:#x} is ", freed + 8),
            "Invalid write of size 1".to_string(),
            format!("Address {:#x} is ", short + 64),
            "Conditional jump or move depends on uninitialised value(s)".to_string(),
            "64 bytes in 1 blocks are definitely lost".to_string(),
            "ERROR SUMMARY: 4 errors from 4 contexts".to_string(),
        ];
        if kind == "pool" {
            wants.push(format!(
                "Address {:#x} is 8 bytes inside a block of size 64 free'd",
                freed + 8
            ));
        }
        for want in wants {
            assert!(err.contains(&want), "{kind}: Memcheck's report lacks {want:?}:\n{err}");
        }
        for poisoning in ["off", "light", "comprehensive"] {
            let o = Command::new("valgrind")
                .args(["--leak-check=full", "--error-exitcode=99"])
                .arg(&exe)
                .args([kind, "good"])
                .env("RAWRT_HEAP_POISONING", poisoning)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "{kind} {poisoning}: {err}");
            assert!(err.contains("ERROR SUMMARY: 0 errors from 0 contexts"), "{kind}: {err}");
            assert!(err.contains("definitely lost: 0 bytes in 0 blocks"), "{kind}: {err}");
        }
    }
}
