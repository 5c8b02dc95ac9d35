//! rawrt's hosted checks: every example run and compared, size and
//! system-call budgets, ELF shape, the memory routines' freedom from
//! self-calls, no panic path from the allocation functions, the heap's picture, Valgrind, the C header against the library, C and assembly programs,
//! the user template. They drive the static executables that the same
//! `cargo test` built (in the shared `target/<profile>/examples/`), and
//! nested cargo builds (release, other opt-levels) in separate target
//! directories under rawrt's `target/`.

mod asm_examples;
mod atexit;
mod budget;
mod clib;
mod cmalloc;
mod coexist;
mod ctests;
mod dwarf;
mod examples;
mod fastpath;
mod header;
mod heapmap;
mod leaks;
mod memcheck;
mod nopanic;
mod poison;
mod smallheap;
mod staticlib;
mod template;
mod valgrind;

use std::path::PathBuf;
use std::process::Command;

/// rawrt's package root (the workspace root, above this test kit).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `target/<profile>/` of the running test binary.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf()
}

/// A cargo command for a nested build, in its own target directory so that
/// it never waits on the outer build's lock.
fn nested_cargo(target_dir: &str) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root())
        .args(["build", "-p", "rawrt"])
        .arg("--target-dir")
        .arg(root().join("target").join(target_dir));
    c.env_remove("RUSTFLAGS");
    c
}

fn run_nested(mut c: Command) {
    let out = c.output().expect("run cargo");
    assert!(out.status.success(), "{:?} failed:\n{}", c, String::from_utf8_lossy(&out.stderr));
}

fn main() {
    rawrt_testkit::run(&[TESTS], |_| false);
}

const TESTS: &[rawrt_testkit::Test] = &[
    ("hosted::examples_output_and_status", examples::output_and_status),
    ("hosted::hello_release_size_and_elf", budget::hello_release_size_and_elf),
    ("hosted::hello_release_syscalls", budget::hello_release_syscalls),
    (
        "hosted::release_examples_end_with_their_segments",
        budget::release_examples_end_with_their_segments,
    ),
    ("hosted::c_program_size", budget::c_program_size),
    ("hosted::many_allocations_syscalls", budget::many_allocations_syscalls),
    ("hosted::small_heap_exports_the_same_c_names", smallheap::small_heap_exports_the_same_c_names),
    ("hosted::small_heap_c_program_size", smallheap::small_heap_c_program_size),
    ("hosted::small_heap_from_c", smallheap::small_heap_from_c),
    (
        "hosted::small_heap_is_rusts_global_allocator",
        smallheap::small_heap_is_rusts_global_allocator,
    ),
    (
        "hosted::assembly_examples_x86_64_small_heap",
        asm_examples::assembly_examples_x86_64_small_heap,
    ),
    ("hosted::mem_routines_never_call_themselves", memcheck::never_call_themselves),
    ("hosted::asm_programs_link_with_either_start", staticlib::asm_programs_link_with_either_start),
    ("hosted::malloc_c_program", cmalloc::malloc_c_program),
    ("hosted::atexit_in_each_linker_layout", atexit::atexit_in_each_layout),
    ("hosted::allocation_paths_have_no_panic", nopanic::allocation_paths_have_no_panic),
    ("hosted::header_matches_the_library", header::header_matches_the_library),
    (
        "hosted::header_matches_the_library_without_c11_threads",
        header::header_matches_the_library_without_c11_threads,
    ),
    (
        "hosted::prefixed_header_matches_the_prefixed_library",
        header::prefixed_header_matches_the_prefixed_library,
    ),
    ("hosted::system_interfaces_from_c", ctests::system_interfaces_from_c),
    ("hosted::heap_picture_matches_statistics", heapmap::heap_picture_matches_statistics),
    ("hosted::poisoning_chosen_by_the_environment", poison::environment_chooses_the_mode),
    ("hosted::damage_report_names_the_allocation", poison::damage_report_names_the_allocation),
    ("hosted::region_heap_first_fixes_the_mode", poison::region_heap_first_fixes_the_mode),
    ("hosted::leak_report_from_c", leaks::leak_report_from_c),
    ("hosted::heap_trace_dump_from_c", leaks::heap_trace_dump_from_c),
    (
        "hosted::allocation_fast_paths_unchanged_when_off",
        fastpath::allocation_fast_paths_unchanged_when_off,
    ),
    ("hosted::memcheck_understands_the_heap", valgrind::memcheck_understands_the_heap),
    (
        "hosted::memcheck_understands_region_allocators",
        valgrind::memcheck_understands_region_allocators,
    ),
    ("hosted::memcheck_understands_pools", valgrind::memcheck_understands_pools),
    ("hosted::assembly_examples_x86_64", asm_examples::assembly_examples_x86_64),
    ("hosted::prefixed_library_defines_no_c_name", coexist::prefixed_library_defines_no_c_name),
    (
        "hosted::glibc_malloc_and_rawrt_malloc_share_the_break",
        coexist::glibc_malloc_and_rawrt_malloc_share_the_break,
    ),
    ("hosted::user_template_builds_and_runs", template::user_template_builds_and_runs),
];
