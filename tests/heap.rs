//! Static-ELF tests of the heap as its users meet it: the process heap
//! (brk with mmap fallback, the calling thread's cache in front) through
//! the C ABI (malloc and friends, as a C program links them) and as Rust's
//! global allocator, under resource
//! limits, next to a foreign user of the program break, giving memory back
//! to the kernel, rejecting bad pointers with one line and SIGABRT, and a
//! region heap's dump and check output, and what region heaps cost
//! (NuttX's small memory model).
//!
//! Run one test or a group by name: `cargo test --test heap -- misuse::`.
//! The same binary runs natively (x86_64) and under qemu-user (aarch64,
//! riscv64); where qemu-user 7.2 does not behave like the kernel a test
//! says what it accepts there (search for `QEMU`).
#![no_std]
#![no_main]

extern crate alloc;

#[path = "heap/cache.rs"]
mod cache;
#[path = "heap/global.rs"]
mod global;
#[path = "heap/hardening.rs"]
mod hardening;
#[path = "heap/kernel.rs"]
mod kernel;
#[path = "heap/misuse.rs"]
mod misuse;
#[path = "heap/model.rs"]
mod model;
#[path = "heap/oom.rs"]
mod oom;
#[path = "heap/region.rs"]
mod region;
#[path = "heap/small.rs"]
mod small;
#[path = "heap/util.rs"]
mod util;

rawrt::main!(tests);

/// `(module::test, fn)` pairs named after their module.
macro_rules! table {
    ($($m:ident :: $f:ident),* $(,)?) => {
        &[$((concat!(stringify!($m), "::", stringify!($f)), $m::$f as fn())),*]
    };
}

fn tests() -> i32 {
    rawrt::check::run(table![
        // First, so that their children start with a heap that never grew.
        oom::rlimit_data_zero_falls_back_to_mmap,
        oom::brk_blocked_by_a_mapping_falls_back_to_mmap,
        oom::enomem_only_after_the_cache_went_back,
        oom::random_run_under_one_mib_of_data,
        global::vec_growth_keeps_contents,
        global::string_growth_and_formatting,
        global::boxes_and_alignment,
        global::collections_and_c_share_one_heap,
        model::randomized_process_heap,
        cache::freed_blocks_come_back_without_the_heap,
        cache::unused_cached_blocks_go_back_to_the_heap,
        kernel::foreign_brk_mover,
        kernel::burst_gives_memory_back,
        kernel::large_blocks_map_unmap_remap,
        kernel::mmap_threshold_is_settable,
        kernel::trim_gives_back_the_top,
        kernel::largest_free_block_needs_no_syscall,
        oom::rlimit_as_enomem_callback_and_recovery,
        oom::huge_requests_fail_without_syscalls,
        region::dump_lists_every_block_and_a_summary,
        region::check_reports_corruption,
        region::largest_free_block_is_exact,
        region::allocator_api2_vec_in_a_region,
        small::state_takes_little_of_a_region,
        small::four_kib_region_serves,
        small::nine_hundred_8_byte_blocks_in_16_kib,
        small::small_model_damage_aborts,
        misuse::double_free_of_small_medium_and_large_blocks,
        misuse::free_of_pointers_the_heap_never_gave,
        misuse::realloc_and_usable_size_of_bad_pointers,
        misuse::overwritten_header_is_corruption,
        cache::write_after_free_into_a_cached_block,
        misuse::free_inside_a_zeroed_block_is_invalid,
        misuse::double_free_after_the_top_was_trimmed,
        hardening::unlink_of_forged_links,
        hardening::free_list_link_to_static_data,
        hardening::cache_link_to_static_data_with_forged_key,
        hardening::overflow_into_a_free_header,
        hardening::nested_heaps_are_told_apart,
        hardening::double_free_of_a_mapped_block,
        oom::impossible_requests_make_few_syscalls,
        kernel::foreign_brk_mover_many_times,
    ])
}
