//! Heap poisoning chosen without a rebuild: `tests/c/poison.c`, linked
//! with the README's C line, run with `RAWRT_HEAP_POISONING` set to each
//! mode, to a value that is no mode, and with the mode chosen by
//! `rawrt_heap_set_poisoning` over the variable; built with
//! `rawrt_track.h` and traced, its report names the line of the
//! allocation.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

/// How the program ended (exit status or signal), its stdout and stderr.
fn run(exe: &std::path::Path, env: Option<&str>, scenario: &str) -> (String, String, String) {
    let mut c = Command::new(exe);
    c.arg(scenario).env_remove("RAWRT_HEAP_POISONING").env_remove("RAWRT_HEAP_TRACE");
    if let Some(v) = env {
        c.env("RAWRT_HEAP_POISONING", v);
    }
    let o = c.output().unwrap();
    let ended = match (o.status.code(), o.status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (_, Some(s)) => format!("signal {s}"),
        _ => unreachable!(),
    };
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    (ended, out, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The address the program announced.
fn addr(out: &str) -> &str {
    out.lines().find_map(|l| l.strip_prefix("addr ")).expect("no address announced")
}

pub(super) fn environment_chooses_the_mode() {
    let flags = super::cmalloc::readme_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exe = super::cmalloc::build("tests/c/poison.c", &flags, "poison");
    // Off (unset, empty, `off`): nothing is detected, the program ends.
    for env in [None, Some(""), Some("off")] {
        for s in ["overflow", "uaf", "zero"] {
            let (ended, out, err) = run(&exe, env, s);
            assert_eq!((ended.as_str(), err.as_str()), ("exit 0", ""), "{env:?} {s}");
            assert!(out.ends_with("done\n"), "{env:?} {s}: {out}");
        }
    }
    // Light: the overflow is reported at free; the rest goes unnoticed.
    let (ended, out, err) = run(&exe, Some("light"), "overflow");
    let line = format!("rawrt: free(): canary corrupted after block {}\n", addr(&out));
    assert_eq!((ended.as_str(), err), ("signal 6", line));
    for s in ["uaf", "zero"] {
        let (ended, _, err) = run(&exe, Some("light"), s);
        assert_eq!((ended.as_str(), err.as_str()), ("exit 0", ""), "light {s}");
    }
    // Comprehensive: all three.
    let (ended, out, err) = run(&exe, Some("comprehensive"), "overflow");
    let line = format!("rawrt: free(): canary corrupted after block {}\n", addr(&out));
    assert_eq!((ended.as_str(), err), ("signal 6", line));
    let (ended, out, err) = run(&exe, Some("comprehensive"), "uaf");
    let line = format!("rawrt: free(): write after free at offset 100 of block {}\n", addr(&out));
    assert_eq!((ended.as_str(), err), ("signal 6", line));
    let (ended, _, err) = run(&exe, Some("comprehensive"), "zero");
    assert_eq!((ended.as_str(), err.as_str()), ("signal 11", ""));
    // A value that is no mode: one line at the first allocation, SIGABRT.
    let (ended, out, err) = run(&exe, Some("Light"), "overflow");
    let line = "rawrt: RAWRT_HEAP_POISONING: unknown mode \"Light\" (off, light, comprehensive)\n";
    assert_eq!((ended.as_str(), out.as_str(), err.as_str()), ("signal 6", "", line));
    // The program's own choice, before its first allocation, wins over
    // the variable; later choices fail with EBUSY, unknown modes EINVAL.
    for env in [None, Some("comprehensive")] {
        let (ended, out, err) = run(&exe, env, "api");
        let line = format!("rawrt: free(): canary corrupted after block {}\n", addr(&out));
        assert!(out.starts_with("api ok\n"), "{out}");
        assert_eq!((ended.as_str(), err), ("signal 6", line));
    }
}

/// Built with `-include rawrt_track.h` and run with `RAWRT_HEAP_TRACE=leaks`
/// too, the report of an overflow found by `free` names the allocation's
/// `file:line` (`heap::trace`'s origin for `rt::fatal`); without the trace
/// it is the plain line.
pub(super) fn damage_report_names_the_allocation() {
    let mut flags = super::cmalloc::readme_flags();
    flags.extend(["-include".to_string(), "rawrt_track.h".to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exe = super::cmalloc::build("tests/c/poison.c", &flags, "poison-tracked");
    let mut c = Command::new(&exe);
    c.arg("overflow").env("RAWRT_HEAP_POISONING", "light").env("RAWRT_HEAP_TRACE", "leaks");
    let o = c.output().unwrap();
    assert_eq!(o.status.signal(), Some(6), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    let head = format!("rawrt: free(): canary corrupted after block {} (allocated at ", addr(&out));
    let rest = err.strip_prefix(&head).unwrap_or_else(|| panic!("{err:?} is not {head:?}.."));
    assert!(rest.ends_with("/tests/c/poison.c:25)\n"), "{err}");
    let (ended, out, err) = run(&exe, Some("light"), "overflow");
    let line = format!("rawrt: free(): canary corrupted after block {}\n", addr(&out));
    assert_eq!((ended.as_str(), err), ("signal 6", line));
}

/// `tests/c/poison_regions.c`: a region heap made before anything
/// allocates fixes the mode from the environment (a later
/// `rawrt_heap_set_poisoning` fails with EBUSY) and is poisoned for its
/// life; the process heap is poisoned too when it first allocates.
pub(super) fn region_heap_first_fixes_the_mode() {
    let flags = super::cmalloc::readme_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exe = super::cmalloc::build("tests/c/poison_regions.c", &flags, "poison_regions");
    for env in [None, Some("off"), Some("light"), Some("comprehensive")] {
        let poisoned = matches!(env, Some("light" | "comprehensive"));
        let (ended, out, err) = run(&exe, env, "process");
        assert!(out.starts_with("busy\naddr "), "{env:?}: {out}");
        if poisoned {
            let line = format!("rawrt: free(): canary corrupted after block {}\n", addr(&out));
            assert_eq!((ended.as_str(), err), ("signal 6", line), "{env:?}");
        } else {
            assert_eq!((ended.as_str(), err.as_str()), ("exit 0", ""), "{env:?}");
        }
        let (ended, out, err) = run(&exe, env, "overflow");
        if poisoned {
            let line =
                format!("rawrt: multi_heap_free(): canary corrupted after block {}\n", addr(&out));
            assert_eq!((ended.as_str(), err), ("signal 6", line), "{env:?}");
        } else {
            assert_eq!((ended.as_str(), err.as_str()), ("exit 0", ""), "{env:?}");
        }
        let (ended, out, err) = run(&exe, env, "uaf");
        if env == Some("comprehensive") {
            let what = "multi_heap_malloc(): write after free at offset 100 of block";
            let line = format!("rawrt: {what} {}\n", addr(&out));
            assert_eq!((ended.as_str(), err), ("signal 6", line));
        } else {
            assert_eq!((ended.as_str(), err.as_str()), ("exit 0", ""), "{env:?}");
            assert!(out.ends_with("done\n"));
        }
    }
}
