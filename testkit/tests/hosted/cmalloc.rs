//! C programs against `librawrt.a`: `tests/c/malloc.c` uses the C
//! allocation ABI (malloc family, mallinfo2, errno, ESP-IDF multi_heap_*
//! and heap_caps_*) with no libc. It is built twice, with the strict
//! flags (`-std=c11 -Wall -Wextra -Werror -fno-builtin`, so that the
//! compiler cannot fold what it believes malloc does) and with the bare
//! command the issue names (`cc -nostdlib -static prog.c librawrt.a`),
//! run, and its status and output compared with what it promises.

use std::path::{Path, PathBuf};
use std::process::Command;

const STRICT: &[&str] =
    &["-std=c11", "-Wall", "-Wextra", "-Werror", "-nostdlib", "-static", "-fno-builtin"];
const BARE: &[&str] = &["-nostdlib", "-static"];

/// The README's C link line (without the source, library and output):
/// rawrt's linker script, unused sections dropped, stripped.
pub(super) fn readme_flags() -> Vec<String> {
    let root = super::root();
    let mut f: Vec<String> = ["-std=c11", "-ffreestanding", "-nostdlib", "-static", "-O2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    f.push(format!("-I{}", root.join("include").display()));
    f.push(format!("-Wl,--gc-sections,-T,{},--build-id=none", root.join("linker.ld").display()));
    f.push("-s".into());
    f
}

pub(super) fn build(src: &str, flags: &[&str], out: &str) -> PathBuf {
    let lib = super::staticlib::librawrt();
    let dir = super::root().join("target/cmalloc");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(out);
    let o = Command::new("cc")
        .args(flags)
        .arg(super::root().join(src))
        .arg(&lib)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cc");
    assert!(
        o.status.success(),
        "cc {} {src}:\n{}",
        flags.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    exe
}

pub(super) fn run(exe: &Path) -> (String, String) {
    use std::os::unix::process::ExitStatusExt;
    let o = Command::new(exe).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert_eq!(
        (o.status.code(), o.status.signal()),
        (Some(0), None),
        "{}: stderr:\n{stderr}\nstdout:\n{stdout}",
        exe.display()
    );
    assert_eq!(stderr, "", "{}", exe.display());
    (stdout, stderr)
}

/// The lines printed between `<<< name` and `>>> name`.
fn section<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let start =
        out.find(&format!("<<< {name}\n")).unwrap_or_else(|| panic!("no {name} in:\n{out}"));
    let rest = &out[start..];
    let end = rest.find(&format!(">>> {name}\n")).unwrap();
    rest[..end].lines().skip(1).collect()
}

fn hex(s: &str) -> usize {
    usize::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("not hex: {s}"))
}

/// A dump: `segment A..B (N B)` lines, block lines `  0xH  SIZE used|free|cached|top|large ...`
/// in address order within each segment, each block's `next` the next
/// line's header, and the summary last. Returns (used, free) block lines.
fn check_dump(lines: &[&str]) -> (usize, usize) {
    assert!(lines.len() >= 3, "{lines:#?}");
    let summary = lines.last().unwrap();
    assert!(summary.starts_with("heap: ") && summary.ends_with(" B"), "{summary}");
    let (mut used, mut free, mut next) = (0, 0, None);
    for l in &lines[..lines.len() - 1] {
        if let Some(seg) = l.strip_prefix("segment ") {
            let (range, size) = seg.split_once(' ').unwrap();
            let (a, b) = range.split_once("..").unwrap();
            assert_eq!(size, format!("({} B)", hex(b) - hex(a)), "{l}");
            next = None;
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        assert!(l.starts_with("  0x") && f.len() >= 3, "{l}");
        let (h, size) = (hex(f[0]), f[1].parse::<usize>().unwrap());
        // Headers are 8 bytes, 8 past a 16-byte boundary; a small-model
        // heap's (NuttX's, up to 64 KiB) are 4 bytes, 4 past an 8-byte one.
        let hdr = if h % 8 == 4 { 4 } else { 8 };
        assert!(h % 16 == 8 || hdr == 4, "header address: {l}");
        if let Some(n) = next {
            assert_eq!(h, n, "each block starts where the one before ends: {l}");
        }
        match f[2] {
            "used" | "free" | "cached" | "top" => {
                assert_eq!(f[3], "next", "{l}");
                assert_eq!(hex(f[4]), h + size + hdr, "next = header + size + header: {l}");
                next = Some(hex(f[4]));
                if f[2] == "used" {
                    used += 1;
                } else if f[2] == "free" {
                    free += 1;
                    assert_eq!(f[5], "next_free", "{l}");
                } else if f[2] == "cached" {
                    free += 1; // free to the program, parked in a thread cache
                    assert_eq!(f[5], "next_cached", "{l}");
                }
            }
            "large" => used += 1,
            _ => panic!("{l}"),
        }
    }
    (used, free)
}

fn check_output(stdout: &str) {
    let oks: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with("ok ") || *l == "all ok").collect();
    assert_eq!(
        oks,
        [
            "ok basics",
            "ok overflow",
            "ok recallocarray",
            "ok alignment",
            "ok statistics",
            "ok multi_heap",
            "ok heap_caps",
            "all ok"
        ],
        "{stdout}"
    );
    // multi_heap_dump of a heap with two blocks (1000 and 50 bytes asked).
    let dump = section(stdout, "multi_heap_dump");
    let (used, _free) = check_dump(&dump);
    assert_eq!(used, 2, "{dump:#?}");
    assert!(dump.last().unwrap().starts_with("heap: 2 used blocks ("), "{dump:#?}");
    assert!(
        dump[0].starts_with("segment 0x")
            && dump.iter().filter(|l| l.starts_with("segment")).count() == 1
    );
    // multi_heap_check after a header was overwritten with 0x7777771.
    let check = section(stdout, "multi_heap_check");
    assert!(
        !check.is_empty() && check.iter().all(|l| l.starts_with("CORRUPT HEAP: ")),
        "{check:#?}"
    );
    assert!(check[0].starts_with("CORRUPT HEAP: bad header 0x7777771 at 0x"), "{check:#?}");
    // heap_caps_print_heap_info, in ESP-IDF's layout: the title, two
    // lines per heap with the caps (here only the process heap), totals.
    let summary: Vec<&str> = section(stdout, "heap_caps_print_heap_info")
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(summary.len(), 5, "{summary:#?}");
    assert_eq!(summary[0], "Heap summary for capabilities 0x00001000:");
    let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    let w1 = words(summary[1]);
    assert_eq!(
        (&w1[..2], w1[2].as_str(), w1[4].as_str(), w1[6].as_str()),
        (&["Process".to_string(), "heap".to_string()][..], "free", "allocated", "min_free"),
        "{summary:#?}"
    );
    assert!(summary[2].starts_with("    largest_free_block "), "{summary:#?}");
    assert!(summary[2].contains(" alloc_blocks ") && summary[2].contains(" total_blocks "));
    assert_eq!(summary[3], "  Totals:");
    let w4 = words(summary[4]);
    assert_eq!((w4[0].as_str(), w4[2].as_str()), ("free", "allocated"), "{summary:#?}");
    assert_eq!(w4[1], w1[3], "the totals of one heap are its figures");
    // heap_caps_dump_all, with a block of 12345 bytes among others.
    // Each heap (here only the process heap) opens with where it is and
    // its capability masks.
    let all = section(stdout, "heap_caps_dump_all");
    assert_eq!(all[0], "Process heap caps 00001806 00000000 00000000", "{all:#?}");
    let all = &all[1..];
    let (used, _) = check_dump(all);
    assert!(used >= 1);
    assert!(
        all.iter().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 2
                && f[2] == "used"
                // 12,345 bytes take the thread caches' medium size of
                // 14,336 bytes and the header: 14,344 usable.
                && f[1].parse::<usize>() == Ok(14_344)
        }),
        "{all:#?}"
    );
}

pub(super) fn malloc_c_program() {
    let strict = build("tests/c/malloc.c", STRICT, "malloc");
    let (stdout, _) = run(&strict);
    check_output(&stdout);
    let bare = build("tests/c/malloc.c", BARE, "malloc-bare");
    let (stdout, _) = run(&bare);
    check_output(&stdout);
}
