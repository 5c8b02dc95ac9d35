//! Runs every example built by this `cargo test` and compares its stdout,
//! stderr and exit status with what the example promises.

use std::process::Command;

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    stdout: &'static str,
    /// A prefix of stderr (the rest may carry addresses).
    stderr: &'static str,
    status: Option<i32>,
    signal: Option<i32>,
    /// Lines stdout must contain, for output that carries addresses; when
    /// non-empty, `stdout` is not compared exactly.
    has: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case { name: "hello", args: &[], stdout: "Hello from rawrt!\n", stderr: "", status: Some(0), signal: None, has: &[] },
    Case {
        name: "args",
        args: &["one", "two words"],
        stdout: "argc 3\nargv[1] = one\nargv[2] = two words\nRAWRT_EXAMPLE = from the test\nAT_PAGESZ = 4096\n",
        stderr: "",
        status: Some(3),
        signal: None,
        has: &[],
    },
    Case {
        name: "fail",
        args: &["panic"],
        stdout: "",
        stderr: "panicked at examples/fail.rs:",
        status: Some(101),
        signal: None,
        has: &[],
    },
    Case {
        name: "fail",
        args: &["abort"],
        stdout: "",
        stderr: "",
        status: None,
        signal: Some(6),
        has: &[],
    },
    Case {
        name: "fail",
        args: &["error"],
        stdout: "",
        stderr: "Error: EINVAL (Invalid argument)\n",
        status: Some(1),
        signal: None,
        has: &[],
    },
    Case {
        name: "c_abi",
        args: &[],
        stdout: "",
        stderr: "",
        status: Some(0),
        signal: None,
        has: &[
            "EPERM 1\n",
            "ENOMEM 12\n",
            "MAP_ANONYMOUS 32\n",
            "RLIM_INFINITY 18446744073709551615\n",
            "MALLOC_CAP_DEFAULT 4096\n",
            "thrd_timedout 4\n",
            "struct Timespec 16 sec@0 nsec@8\n",
        ],
    },
    Case {
        name: "heapmap",
        args: &[],
        stdout: "",
        stderr: "",
        status: Some(0),
        signal: None,
        has: &["<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", "<g class=\"figures\"", "</svg>\n"],
    },
    Case {
        name: "demo",
        args: &[],
        stdout: "",
        stderr: "",
        status: Some(0),
        signal: None,
        has: &[
            "Vec of 10000 squares, sum 333283335000\n",
            "String \"no libc at all\" (15 bytes)\n",
            "region heap: 65048 B free, largest free block 65048 B, 2 used blocks, 1 free blocks\n",
            "check: ok\n",
            "dump of the region heap:\n",
            " used next 0x",
            "allocated 432 B in 2 blocks (peak 432 B), footprint 65536 B\n",
            "calls: brk 0 mmap 0 munmap 0 mremap 0 madvise 0\n",
        ],
    },
    Case {
        name: "caps",
        args: &[],
        stdout: "",
        stderr: "",
        status: Some(0),
        signal: None,
        has: &[
            "heap_init: Initializing. RAM available for dynamic allocation:\n",
            " len 00010000 (64 KiB): DRAM\n",
            "JIT: f(40) = 42, run from 0x",
            "DMA: 4096 bytes at 0x",
            "Heap summary for capabilities 0x00000004:\n",
            "\n  Process heap free ",
            "\n    largest_free_block ",
            "\n  Totals:\n    free ",
        ],
    },
];

/// Every example file must have at least one case, so none goes unchecked.
fn every_example_has_a_case() {
    for entry in std::fs::read_dir(super::root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                CASES.iter().any(|c| c.name == stem),
                "example {stem} has no case in testkit/tests/hosted/examples.rs"
            );
        }
    }
}

pub(super) fn output_and_status() {
    use std::os::unix::process::ExitStatusExt;
    every_example_has_a_case();
    let dir = super::profile_dir().join("examples");
    for c in CASES {
        let exe = dir.join(c.name);
        let out = Command::new(&exe)
            .args(c.args)
            .env("RAWRT_EXAMPLE", "from the test")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if c.has.is_empty() {
            assert_eq!(stdout, c.stdout, "stdout of {} {:?}", c.name, c.args);
        }
        for line in c.has {
            assert!(stdout.contains(line), "stdout of {} lacks {line:?}:\n{stdout}", c.name);
        }
        assert!(stderr.starts_with(c.stderr), "stderr of {} {:?}: {stderr}", c.name, c.args);
        if c.stderr.is_empty() {
            assert_eq!(stderr, "", "stderr of {} {:?}", c.name, c.args);
        }
        assert_eq!(out.status.code(), c.status, "status of {} {:?}", c.name, c.args);
        assert_eq!(out.status.signal(), c.signal, "signal of {} {:?}", c.name, c.args);
    }
}
