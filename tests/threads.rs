//! Static-ELF tests of threads: spawn and join, locks under contention,
//! per-thread errno, the heap hammered by several threads (and each
//! thread's cache given back as it ends), the heap's thread arenas
//! (cross-thread frees, arenas taken over, shared, misuse reported), stack overflow into the guard
//! page, thread exit codes, no mappings left behind, blocking pools, and
//! C11 `thrd_*` and `mtx_*` semantics through the Rust functions behind
//! the C ABI.
//!
//! Run one test or a group by name: `cargo test --test threads -- c11::`.
//! The same binary runs natively (x86_64) and under qemu-user (aarch64,
//! riscv64).
#![no_std]
#![no_main]

extern crate alloc;

#[path = "threads/arenas.rs"]
mod arenas;
#[path = "threads/basic.rs"]
mod basic;
#[path = "threads/c11.rs"]
mod c11;
#[path = "threads/ending.rs"]
mod ending;
#[path = "threads/heap.rs"]
mod heap;
#[path = "threads/pool.rs"]
mod pool;
#[path = "threads/util.rs"]
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
        // First: it checks what the first spawn of the process changes.
        c11::mutex_held_across_first_spawn,
        basic::spawn_join_returns_values,
        basic::small_stack_and_big_closure,
        basic::lock_counter_is_exact,
        basic::raw_lock_counter_is_exact,
        basic::errno_is_per_thread,
        basic::ids_differ_and_match_handles,
        basic::sleep_and_yield,
        heap::threads_hammer_the_heap,
        heap::a_threads_cache_goes_back_when_it_ends,
        arenas::threads_allocate_from_their_own_arenas,
        arenas::producer_consumer_blocks_come_back,
        arenas::an_ended_threads_arena_is_taken_over,
        arenas::more_threads_than_arenas_share_them,
        arenas::cross_thread_double_free_is_reported,
        arenas::remote_frees_wait_in_the_outbox,
        arenas::taking_an_arena_pushes_the_outbox,
        ending::stack_overflow_is_sigsegv,
        ending::exit_code_reaches_join,
        ending::panic_in_thread_ends_process_with_101,
        ending::main_thread_exit_waits_for_others,
        ending::detached_threads_drop_results_once,
        ending::detached_threads_result_blocks_come_back,
        ending::no_mappings_left_after_1000_cycles,
        ending::detached_threads_unmap_themselves,
        pool::producers_and_consumer_share_a_small_pool,
        pool::alloc_wait_times_out,
        pool::alloc_wait_wakes_on_free,
        c11::thrd_create_join_and_exit,
        c11::thrd_current_and_equal,
        c11::thrd_sleep_results,
        c11::mtx_init_kinds,
        c11::recursive_mutex,
        c11::trylock_busy_while_held,
        c11::timedlock_times_out,
        c11::timedlock_succeeds_when_released,
        c11::mutex_counter_is_exact,
        c11::relocking_a_plain_mutex_aborts,
    ])
}
