//! The allocation fast paths cost what they cost before the debugging
//! features (issue 14: poisoning, tracing and Valgrind support cost
//! nothing when they are off). `tests/c/fastpath.c` runs under Callgrind
//! for 1,000 and 2,000 iterations; the difference, per call, is the
//! steady-state instruction count of `malloc`, `free` and `calloc`,
//! each with what it calls (calloc's `memset` of 48 bytes: 37). Deterministic: the same binary executes the same instructions.
//! With the variables that choose the debugging modes unset, empty or
//! `off`, the counts are the budgets below; with poisoning on, the test
//! sees the layer (the counts grow), so that it measures what it claims.

use std::collections::BTreeMap;
use std::process::Command;

/// Instructions per call (x86_64, the release staticlib): malloc's and
/// free's thread-cache paths, and calloc's with its memset. malloc's and
/// calloc's were 54 and 105 until the cache's pop went without branches on
/// what the workload decides (the end of a bin's list, the low-water
/// marks): 12 instructions more on this loop's path (a bin of one block),
/// where they skipped work before, and 12% less time on random sizes,
/// where those branches mispredicted.
const BUDGET: [(&str, u64); 3] = [("malloc", 66), ("free", 62), ("calloc", 117)];

/// Instructions executed in each function of `BUDGET` with its callees
/// (`callgrind_annotate --inclusive=yes`, collection on only inside the
/// three), for `n` iterations.
fn counts(exe: &std::path::Path, n: u32, env: &[(&str, &str)]) -> BTreeMap<String, u64> {
    let out = exe.with_extension(format!("{n}.callgrind"));
    let mut c = Command::new("valgrind");
    c.arg("--tool=callgrind").arg(format!("--callgrind-out-file={}", out.display()));
    for (f, _) in BUDGET {
        c.arg(format!("--toggle-collect={f}"));
    }
    c.arg(exe).arg(n.to_string());
    c.env_remove("RAWRT_HEAP_POISONING").env_remove("RAWRT_HEAP_TRACE");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("valgrind (scripts/setup.sh installs it)");
    assert!(o.status.success(), "fastpath {n}: {}", String::from_utf8_lossy(&o.stderr));
    let a = Command::new("callgrind_annotate")
        .arg("--inclusive=yes")
        .arg(&out)
        .output()
        .expect("callgrind_annotate");
    let text = String::from_utf8_lossy(&a.stdout);
    // Lines such as "248,000 (43.36%)  ???:free [/path/fastpath]".
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some((count, rest)) = line.trim_start().split_once(' ') else { continue };
        let Ok(count) = count.replace(',', "").parse::<u64>() else { continue };
        let Some(func) = rest.split("???:").nth(1).and_then(|r| r.split(' ').next()) else {
            continue;
        };
        if BUDGET.iter().any(|(f, _)| *f == func) {
            m.insert(func.to_string(), count);
        }
    }
    m
}

/// Per-call instructions of each function: counts at 2,000 iterations
/// minus counts at 1,000, divided by the 1,000 calls more (free runs
/// twice per iteration). With `steady`, every call must cost the same.
fn per_call(exe: &std::path::Path, env: &[(&str, &str)], steady: bool) -> BTreeMap<String, u64> {
    let (a, b) = (counts(exe, 1000, env), counts(exe, 2000, env));
    BUDGET
        .iter()
        .map(|(f, _)| {
            let d = b.get(*f).copied().unwrap_or(0) - a.get(*f).copied().unwrap_or(0);
            let calls = if *f == "free" { 2000 } else { 1000 };
            assert!(
                !steady || d % calls == 0,
                "{f}: {d} instructions for {calls} calls: not steady"
            );
            (f.to_string(), d / calls)
        })
        .collect()
}

pub(super) fn allocation_fast_paths_unchanged_when_off() {
    let dir = super::clib::scratch("fastpath");
    let exe = dir.join("fastpath");
    super::clib::build_c_nolibc(&super::root().join("tests/c/fastpath.c"), &exe);
    for env in [
        &[][..],
        &[("RAWRT_HEAP_POISONING", "")][..],
        &[("RAWRT_HEAP_POISONING", "off"), ("RAWRT_HEAP_TRACE", "leaks")][..],
    ] {
        let got = per_call(&exe, env, true);
        for (f, budget) in BUDGET {
            assert!(
                got[f] <= budget,
                "{env:?}: {f} takes {} instructions per call, more than its {budget}: {got:?}",
                got[f]
            );
        }
    }
    // The measurement sees a change of path: with light poisoning every
    // call goes through the layer.
    let light = per_call(&exe, &[("RAWRT_HEAP_POISONING", "light")], false);
    for f in ["malloc", "free"] {
        let budget = BUDGET.iter().find(|(g, _)| *g == f).unwrap().1;
        assert!(light[f] > 2 * budget, "light poisoning: {f} {} per call: {light:?}", light[f]);
    }
}
