//! The library's hosted unit tests: every module's table, the selection
//! Miri runs, and [`dies`] for tests that must see a crash. The runner is
//! `rawrt_testkit::run` (why rawrt has a runner of its own: see that
//! crate); this is the test binary's `main`.

/// Every module's table of unit tests.
const SUITES: &[&[rawrt_testkit::Test]] = &[
    crate::sys::errno_tests::TESTS,
    crate::sync::lock_tests::TESTS,
    crate::mem::tests::TESTS,
    crate::rt::itoa_tests::TESTS,
    crate::rt::vdso_tests::TESTS,
    crate::pool::tests::TESTS,
    crate::pool::tests_debug::TESTS,
    crate::gran::tests::TESTS,
    crate::heap::class_tests::TESTS,
    crate::heap::decay_tests::TESTS,
    crate::heap::trace_tests::TESTS,
    crate::heap::trace_threads_tests::TESTS,
    crate::heap::c_info_tests::TESTS,
    crate::heap::c_rules_tests::TESTS,
    crate::heap::caps_tests::TESTS,
    crate::heap::tests_model::TESTS,
    crate::heap::tests_unit::TESTS,
    crate::heap::tests_process::TESTS,
    crate::heap::tests_break::TESTS,
    crate::heap::tests_decay::TESTS,
    crate::heap::tests_cache::TESTS,
    crate::heap::tests_remote::TESTS,
    crate::heap::poison_tests::TESTS,
    crate::heap::poison_region_tests::TESTS,
    crate::heap::compact_tests::TESTS,
    crate::heap::compact_poison_tests::TESTS,
    crate::heap::spans_tests::TESTS,
];

/// The tests Miri runs (`scripts/miri.sh`): the allocator cores over
/// memory the tests own, with randomized runs shortened
/// ([`crate::heap::tests_model::ops`]). The others make system calls
/// through inline assembly (real mappings, `fork`, `mincore`, the hosted
/// checks' processes), which Miri cannot run.
const MIRI: &[&str] = &[
    "heap::class::",
    "heap::c_info::",
    "heap::c_rules::",
    "heap::trace::",
    "heap::decay::periods_expire_after_the_delay",
    "heap::decay::checks_are_due_by_count_or_bytes",
    "heap::unit::largest_free_block_is_exact",
    "heap::unit::double_free_and_invalid_pointers",
    "heap::unit::corruption_is_reported",
    "heap::unit::realloc_in_place_and_failure",
    "heap::unit::aligned_allocations",
    "heap::unit::failed_alloc_callback_fires",
    "heap::unit::allocator_traits",
    "heap::unit::dump_check_addr_and_info",
    "heap::unit::picture_adds_up",
    "heap::unit::init_in_place",
    "heap::unit::mixed_sizes_in_a_big_region",
    "heap::unit::threads_share_a_heap",
    "heap::unit::added_region_is_used_and_checked",
    "heap::model::region_heaps",
    "heap::model::process_heap_on_mock",
    "heap::cache::model_over_a_cached_region",
    "heap::cache::a_cache_drawn_on_as_it_fills_is_kept",
    "heap::cache::medium_",
    "heap::cache::cache_links_are_none_or_blocks_in_bounds",
    "heap::cache::cache_rounds_of_one_size",
    "heap::cache::threads_share_a_cached_region",
    "heap::cache::misuse_of_cached_blocks",
    "heap::cache::enomem_only_after_the_cache_went_back",
    "heap::remote::listed_blocks_come_back_at_the_next_lock",
    "heap::remote::misuse_of_listed_blocks",
    "heap::remote::threads_push_at_once",
    "heap::remote::model_with_remote_frees",
    "heap::remote::outbox_",
    "heap::poison::",
    "heap::compact::",
    "heap::spans::",
    "pool::",
    "gran::",
];

/// Tests that do not run under Miri even inside the groups above.
/// (`source_growth_and_destroy` makes 120,000 allocations to grow a pool
/// through nine chunks: minutes under Miri, and the model runs cover the
/// same paths.)
const NOT_MIRI: &[&str] = &[
    "heap::compact::external_lock",
    "pool::alloc_wait_no_lost_wakeups",
    "pool::source_growth_and_destroy",
    "gran::pages_",
];

pub(crate) fn main() {
    rawrt_testkit::run(SUITES, |name| {
        cfg!(miri)
            && (!MIRI.iter().any(|m| name.starts_with(m))
                || NOT_MIRI.iter().any(|m| name.starts_with(m)))
    });
}

/// How a forked child that was expected to die ended: the signal that
/// killed it (`None` if it exited) and what it wrote on stderr.
pub(crate) struct Death {
    pub signal: Option<i32>,
    pub stderr: String,
}

/// Runs `f` in a forked child (natively; not under Miri, which cannot
/// fork), for tests of the reports that end the process: allocator
/// corruption found on the way, which aborts rather than return an error.
pub(crate) fn dies(f: impl FnOnce()) -> Death {
    use crate::sys::{io, process};
    let [r, w] = io::pipe2(0).expect("pipe2");
    let pid = process::fork().expect("fork");
    if pid == 0 {
        let _ = io::dup3(w, 2, 0);
        f();
        process::exit_group(0);
    }
    let _ = io::close(w);
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n @ 1..) = io::read(r, &mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    let _ = io::close(r);
    let (_, status) = process::wait4(pid, 0).expect("wait4");
    let signal = match process::WaitStatus::from_raw(status) {
        process::WaitStatus::Signaled(s) => Some(s),
        _ => None,
    };
    Death { signal, stderr: String::from_utf8_lossy(&out).into_owned() }
}
