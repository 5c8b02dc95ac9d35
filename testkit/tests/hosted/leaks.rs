//! The leak report of a C program (`tests/c/leak.c`), built with
//! `-include rawrt_track.h` and frame pointers, run with
//! `RAWRT_HEAP_TRACE=leaks`: each leaked block with its `file:line` and
//! its callers named from the program's symbol table (the allocating
//! function, then its callers up to `main` and `__rawrt_start`), the
//! total, and the exit status unchanged; without the variable, or with
//! `off`, no report; an unknown value is reported; a stripped program
//! names its callers by address. Also `heap_trace_dump` from C.

use std::process::Command;

/// Builds `tests/c/leak.c` (stripped if `strip`) against the release
/// library.
fn build(strip: bool) -> std::path::PathBuf {
    let root = super::root();
    let mut flags: Vec<String> = ["-std=c11", "-ffreestanding", "-nostdlib", "-static", "-O2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    flags.push("-fno-omit-frame-pointer".into());
    flags.push(format!("-I{}", root.join("include").display()));
    flags.extend(["-include".into(), "rawrt_track.h".into()]);
    flags.push(format!("-Wl,--gc-sections,-T,{}", root.join("linker.ld").display()));
    if strip {
        flags.push("-s".into());
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    super::cmalloc::build("tests/c/leak.c", &flags, if strip { "leak-stripped" } else { "leak" })
}

fn run(exe: &std::path::Path, env: Option<&str>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = Command::new(exe);
    c.args(args).env_remove("RAWRT_HEAP_TRACE");
    if let Some(v) = env {
        c.env("RAWRT_HEAP_TRACE", v);
    }
    let o = c.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `name+0x..` for each caller of a report line's `allocated by` list.
fn callers(line: &str) -> Vec<String> {
    let list = line.split_once(", allocated by ").expect(line).1;
    list.split(", ")
        .map(|c| {
            let (name, off) = c.split_once("+0x").unwrap_or_else(|| panic!("{c} in {line}"));
            assert!(usize::from_str_radix(off, 16).is_ok(), "{c}");
            name.to_string()
        })
        .collect()
}

pub(super) fn leak_report_from_c() {
    let exe = build(false);
    let (status, out, err) = run(&exe, Some("leaks"), &[]);
    assert_eq!(status, Some(3), "{err}");
    let addrs: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(addrs.len(), 3, "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    let want = [
        (
            format!("rawrt: leak: 16 bytes at {} from ", addrs[0]),
            "leak.c:17",
            &["make_node", "build", "main", "__rawrt_start"][..],
        ),
        (
            format!("rawrt: leak: 4000 bytes at {} from ", addrs[1]),
            "leak.c:45",
            &["main", "__rawrt_start"][..],
        ),
        (
            format!("rawrt: leak: 20 bytes at {} from ", addrs[2]),
            "leak.c:46",
            &["main", "__rawrt_start"][..],
        ),
    ];
    for (line, (head, at, names)) in lines.iter().zip(want) {
        let rest = line.strip_prefix(&head).unwrap_or_else(|| panic!("{line:?} is not {head:?}.."));
        // `__FILE__` as the compiler was given it (a full path here).
        let file = rest.split(", allocated by ").next().unwrap();
        assert!(file.ends_with(&format!("/tests/c/{at}")), "{line}");
        assert_eq!(callers(line), names, "{line}");
    }
    assert_eq!(lines[3], "rawrt: leaks: 4036 bytes in 3 blocks");

    // Not asked for: nothing; an unknown value: one line, the run as usual.
    for v in [None, Some("off"), Some("")] {
        let (status, _, err) = run(&exe, v, &[]);
        assert_eq!((status, err.as_str()), (Some(3), ""), "RAWRT_HEAP_TRACE={v:?}");
    }
    let (status, _, err) = run(&exe, Some("all"), &[]);
    assert_eq!(
        (status, err.as_str()),
        (Some(3), "rawrt: RAWRT_HEAP_TRACE=all: unknown (leaks or off)\n")
    );

    // Stripped: the same report, callers as raw addresses.
    let (status, _, err) = run(&build(true), Some("leaks"), &[]);
    assert_eq!(status, Some(3));
    let first = err.lines().next().unwrap();
    let list = first.split_once(", allocated by ").expect(first).1;
    assert!(list.split(", ").all(|c| c.starts_with("0x") && !c.contains('+')), "{first}");
    assert_eq!(err.lines().last(), Some("rawrt: leaks: 4036 bytes in 3 blocks"));
}

pub(super) fn heap_trace_dump_from_c() {
    let (status, out, err) = run(&build(false), None, &["dump"]);
    assert_eq!(status, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "====== Heap Trace: 6 records (16 capacity) ======", "{out}");
    // Each record: size, `at leak.c:N` (rawrt_track.h), freed or not.
    let sizes: Vec<(&str, &str)> = lines[1..]
        .iter()
        .take_while(|l| !l.starts_with("======"))
        .filter(|l| !l.starts_with("freed by "))
        .map(|l| {
            let at = l.rsplit_once("/tests/c/").map_or("", |x| x.1);
            (l.split_whitespace().next().unwrap(), at)
        })
        .collect();
    assert_eq!(
        sizes,
        [
            ("16", "leak.c:17"),
            ("16", "leak.c:17"),
            ("10", "leak.c:44"),
            ("4000", "leak.c:45"),
            ("20", "leak.c:46"),
            ("7", "leak.c:47"),
        ][..],
        "{out}"
    );
    let frees = lines.iter().filter(|l| l.starts_with("freed by ")).count();
    assert_eq!(frees, 3, "{out}");
    assert_eq!(
        lines[lines.len() - 7..],
        [
            "====== Heap Trace Summary ======",
            "Mode: Heap Trace All",
            "4036 bytes 'leaked' in trace (3 allocations)",
            "records: 6 (16 capacity, 6 high water mark)",
            "Total allocations: 6",
            "Total frees: 3",
            "================================",
        ]
    );
}
