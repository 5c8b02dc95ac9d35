//! Static-ELF tests of the heaps with capabilities (`heap_caps_*`, issue
//! 13): the registry of heaps (registration errors, the priority walk,
//! owner lookups for `free`, `realloc` and `malloc_usable_size`),
//! aggregated figures, the failed-allocation callback, and a random run
//! across several heaps against a model.
//!
//! Run one test or a group by name: `cargo test --test caps -- registry::`.
//! The same binary runs natively (x86_64) and under qemu-user (aarch64,
//! riscv64).
#![no_std]
#![no_main]

extern crate alloc;

#[path = "caps/inspect.rs"]
mod inspect;
#[path = "caps/kinds.rs"]
mod kinds;
#[path = "caps/lock.rs"]
mod lock;
#[path = "caps/model.rs"]
mod model;
#[path = "caps/prefer.rs"]
mod prefer;
#[path = "caps/registry.rs"]
mod registry;
#[path = "caps/rust.rs"]
mod rust;
#[path = "caps/util.rs"]
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
        registry::no_syscall_before_first_use,
        registry::registration_errors,
        registry::registry_full_is_no_mem,
        registry::priority_order_with_three_overlapping_sets,
        registry::plain_free_realloc_and_usable_size_take_region_blocks,
        registry::foreign_pointers_still_abort,
        registry::region_block_misuse_aborts_naming_the_pointer,
        registry::aggregate_figures_are_the_sum_of_the_heaps,
        registry::realloc_moves_across_kinds,
        registry::failed_alloc_callback_gets_size_caps_and_name,
        registry::owner_lookup_among_a_thousand_heaps,
        registry::small_regions_register_and_cost_little,
        model::random_operations_across_five_heaps,
        kinds::exec_memory_runs_code_written_through_its_alias,
        kinds::dma_memory_is_locked,
        kinds::dma_under_an_exhausted_memlock_limit_fails,
        kinds::spiram_is_large_lazy_memory,
        kinds::region_only_caps_and_invalid_get_null,
        inspect::aligned_calloc_and_free_in_a_region,
        inspect::integrity_by_caps_and_by_address,
        inspect::walk_visits_every_block,
        inspect::local_minimum_free_size_monitor,
        prefer::prefer_falls_back_in_order,
        lock::caller_lock_keeps_other_threads_out,
        rust::vecs_in_exec_dma_and_default_memory,
        rust::alloc_by_layout_and_caps,
    ])
}
