//! Static-ELF tests of the process runtime: arguments, environment, auxv,
//! exit, atexit, constructors, abort, panic, printing.
#![no_std]
#![no_main]

use rawrt::check::{child, Ended};
use rawrt::rt;

rawrt::main!(tests);

fn tests() -> i32 {
    rawrt::check::run(&[
        ("args_hold_program_name", args_hold_program_name),
        ("auxv_page_size", auxv_page_size),
        ("exit_status_reaches_parent", exit_status_reaches_parent),
        ("abort_is_sigabrt", abort_is_sigabrt),
        ("panic_message_and_101", panic_message_and_101),
        ("env_var_from_cargo_config", env_var_from_cargo_config),
        ("constructors_ran_before_main", constructors_ran_before_main),
        ("atexit_reverse_order_then_fini", atexit_reverse_order_then_fini),
        ("atexit_table_full_is_enomem", atexit_table_full_is_enomem),
        ("exit_status_is_low_byte", exit_status_is_low_byte),
        ("abort_ignores_handler_and_mask", abort_ignores_handler_and_mask),
        ("print_macros_one_write", print_macros_one_write),
        ("main_result_err_prints_and_exits_1", main_result_err_prints_and_exits_1),
        ("panic_in_atexit_handler_still_exits_101", panic_in_atexit_handler_still_exits_101),
        ("fatal_prints_one_line_and_aborts", fatal_prints_one_line_and_aborts),
        ("vdso_clock_agrees_with_the_system_call", vdso_clock_agrees_with_the_system_call),
    ])
}

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use rawrt::sys::{signal, Errno};

static PREINIT_SAW_ARGC: AtomicUsize = AtomicUsize::new(0);
/// `rt::args().count()` as the preinit constructor saw it: the saved stack
/// pointer (`.ctors.65535`'s constructor, placed first by linker.ld) is
/// there first.
static PREINIT_SAW_ARGS: AtomicUsize = AtomicUsize::new(usize::MAX);
static INIT_ORDER: AtomicUsize = AtomicUsize::new(0);

extern "C" fn preinit(argc: i32, _argv: *mut *const u8, _envp: *mut *const u8) {
    PREINIT_SAW_ARGC.store(argc as usize, Ordering::Relaxed);
    PREINIT_SAW_ARGS.store(rt::args().count(), Ordering::Relaxed);
    // preinit runs first: INIT_ORDER goes 0 -> 1.
    let _ = INIT_ORDER.compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed);
}

extern "C" fn init(_argc: i32, _argv: *mut *const u8, _envp: *mut *const u8) {
    // init runs second: 1 -> 2.
    let _ = INIT_ORDER.compare_exchange(1, 2, Ordering::Relaxed, Ordering::Relaxed);
}

#[used]
#[link_section = ".preinit_array"]
static PREINIT: extern "C" fn(i32, *mut *const u8, *mut *const u8) = preinit;
#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn(i32, *mut *const u8, *mut *const u8) = init;

/// Set in a child before it exits, so that only that child's destructor
/// prints.
static FINI_SPEAKS: AtomicBool = AtomicBool::new(false);

extern "C" fn fini() {
    if FINI_SPEAKS.load(Ordering::Relaxed) {
        rawrt::print!("fini;");
    }
}

#[used]
#[link_section = ".fini_array"]
static FINI: extern "C" fn() = fini;

extern "C" fn fini_prio() {
    if FINI_SPEAKS.load(Ordering::Relaxed) {
        rawrt::print!("fini200;");
    }
}

/// A destructor with a priority: it runs after the unprioritised ones, and
/// the atexit handlers run before both.
#[used]
#[link_section = ".fini_array.00200"]
static FINI_PRIO: extern "C" fn() = fini_prio;

fn env_var_from_cargo_config() {
    // Set for every cargo-run process by .cargo/config.toml [env].
    let v = rt::getenv("RAWRT_TEST_VALUE").expect("RAWRT_TEST_VALUE is set by .cargo/config.toml");
    assert_eq!(v.to_bytes(), b"set by cargo");
    assert!(rt::getenv("RAWRT_TEST_VALU").is_none());
    assert!(rt::getenv("RAWRT_TEST_VALUE_NOT_SET").is_none());
    assert!(rt::env().any(|kv| kv.to_bytes() == b"RAWRT_TEST_VALUE=set by cargo"));
}

fn constructors_ran_before_main() {
    assert_eq!(INIT_ORDER.load(Ordering::Relaxed), 2, "preinit then init ran, in order");
    assert_eq!(PREINIT_SAW_ARGC.load(Ordering::Relaxed), rt::env::argc());
    assert!(rt::env::argc() >= 1);
    assert_eq!(PREINIT_SAW_ARGS.load(Ordering::Relaxed), rt::env::argc(), "args() in preinit");
}

extern "C" fn first() {
    rawrt::print!("first;");
}
extern "C" fn second() {
    rawrt::print!("second;");
}

fn atexit_reverse_order_then_fini() {
    let o = child(|| {
        FINI_SPEAKS.store(true, Ordering::Relaxed);
        rt::atexit(first).unwrap();
        rt::atexit(second).unwrap();
        3
    });
    assert_eq!(o.ended, Ended::Exited(3));
    assert_eq!(o.stdout(), "second;first;fini;fini200;");
    // _exit runs neither.
    let o = child(|| {
        FINI_SPEAKS.store(true, Ordering::Relaxed);
        rt::atexit(first).unwrap();
        rt::_exit(4)
    });
    assert_eq!(o.ended, Ended::Exited(4));
    assert_eq!(o.stdout(), "");
}

extern "C" fn nothing() {}

fn atexit_table_full_is_enomem() {
    let o = child(|| {
        for i in 0..rt::exit::ATEXIT_MAX {
            if rt::atexit(nothing).is_err() {
                return 10 + i as i32;
            }
        }
        match rt::atexit(nothing) {
            Err(Errno::ENOMEM) => 0,
            _ => 1,
        }
    });
    assert_eq!(o.ended, Ended::Exited(0));
}

fn exit_status_is_low_byte() {
    assert_eq!(child(|| 0x1ff).ended, Ended::Exited(0xff));
    assert_eq!(child(|| rt::exit(256 + 9)).ended, Ended::Exited(9));
}

extern "C" fn swallow(_sig: i32) {}

fn abort_ignores_handler_and_mask() {
    let o = child(|| {
        // Ignore SIGABRT, then block it: abort must still end the process.
        let ign = signal::SigAction { handler: signal::SIG_IGN, ..Default::default() };
        // SAFETY: SIG_IGN needs no restorer.
        unsafe { signal::rt_sigaction(signal::SIGABRT, Some(&ign)).unwrap() };
        signal::rt_sigprocmask(signal::SIG_BLOCK, Some(&signal::SigSet::only(signal::SIGABRT)))
            .unwrap();
        let _ = swallow;
        rt::abort()
    });
    assert_eq!(o.ended, Ended::Signaled(6));
}

fn print_macros_one_write() {
    let o = child(|| {
        rawrt::print!("a{}", 1);
        rawrt::println!(" b{}", 2);
        rawrt::println!();
        rawrt::eprint!("e{}", 3);
        rawrt::eprintln!("!");
        let x = 5;
        rawrt::println!("{x} {{literal braces}}");
        // One literal: written with its newline as it is, unless it holds
        // `{{` escapes (then formatted, as any other).
        rawrt::println!("plain");
        rawrt::println!("{{}} only escapes");
        // Longer than the 512-byte buffer: still complete and in order.
        let mut long = [b'x'; 1500];
        long[1499] = b'y';
        rawrt::println!("{}", core::str::from_utf8(&long).unwrap());
        0
    });
    assert_eq!(o.ended, Ended::Exited(0));
    let head = "a1 b2\n\n5 {literal braces}\nplain\n{} only escapes\n";
    assert!(
        o.stdout().starts_with(head) && o.stdout()[head.len()..].starts_with("xxx"),
        "{}",
        o.stdout()
    );
    assert!(o.stdout().ends_with("xxy\n"));
    assert_eq!(o.stdout().len(), head.len() + 1501);
    assert_eq!(o.stderr(), "e3!\n");
}

fn main_result_err_prints_and_exits_1() {
    struct Failure;
    impl core::fmt::Display for Failure {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("it went wrong")
        }
    }
    let o = child(|| rt::Termination::report(Err::<(), _>(Failure)));
    assert_eq!(o.ended, Ended::Exited(1));
    assert_eq!(o.stderr(), "Error: it went wrong\n");
    let o = child(|| rt::Termination::report(Err::<(), _>(Errno::ENOENT)));
    assert_eq!(o.stderr(), "Error: ENOENT (No such file or directory)\n");
    assert_eq!(child(|| rt::Termination::report(Ok::<(), Errno>(()))).ended, Ended::Exited(0));
}

extern "C" fn panicking_handler() {
    panic!("in atexit");
}

fn panic_in_atexit_handler_still_exits_101() {
    let o = child(|| {
        rt::atexit(panicking_handler).unwrap();
        0
    });
    assert_eq!(o.ended, Ended::Exited(101));
    assert!(o.stderr().ends_with(":\nin atexit\n"), "{}", o.stderr());
}

fn args_hold_program_name() {
    assert!(rt::env::argc() >= 1);
    let argv0 = rt::args().next().unwrap().to_bytes();
    assert!(argv0.windows(7).any(|w| w == b"runtime"), "argv[0] names the test binary");
}

fn auxv_page_size() {
    assert_eq!(rt::getauxval(6 /* AT_PAGESZ */), Some(4096));
    assert_eq!(rt::getauxval(0xdead), None);
}

/// `rt::clock_gettime` (the vDSO's where there is one, natively; the
/// system call under qemu-user 7.2, which maps none) reads the same
/// clocks as the system call: monotonic time between two system-call
/// readings, real time within a second of one, and an unknown clock fails
/// with EINVAL.
fn vdso_clock_agrees_with_the_system_call() {
    use rawrt::sys::time::{self, CLOCK_MONOTONIC, CLOCK_REALTIME};
    for _ in 0..3 {
        let a = time::clock_gettime(CLOCK_MONOTONIC).unwrap();
        let b = rt::clock_gettime(CLOCK_MONOTONIC).unwrap();
        let c = time::clock_gettime(CLOCK_MONOTONIC).unwrap();
        assert!(a <= b && b <= c, "{a:?} {b:?} {c:?}");
    }
    let a = time::clock_gettime(CLOCK_REALTIME).unwrap().sec;
    let b = rt::clock_gettime(CLOCK_REALTIME).unwrap().sec;
    assert!((b - a).abs() <= 1, "{a} {b}");
    assert_eq!(rt::clock_gettime(0x7fff), Err(Errno::EINVAL));
}

fn exit_status_reaches_parent() {
    assert_eq!(child(|| 42).ended, Ended::Exited(42));
    assert_eq!(child(|| rt::_exit(7)).ended, Ended::Exited(7));
}

fn abort_is_sigabrt() {
    assert_eq!(child(|| rt::abort()).ended, Ended::Signaled(6));
}

fn panic_message_and_101() {
    let o = child(|| panic!("boom {}", 42));
    assert_eq!(o.ended, Ended::Exited(101));
    assert!(o.stderr().starts_with("panicked at tests/runtime.rs:"), "{}", o.stderr());
    assert!(o.stderr().ends_with(":\nboom 42\n"), "{}", o.stderr());
}

fn fatal_prints_one_line_and_aborts() {
    let o = child(|| rt::fatal("free", "double free", 0xdead_beef));
    assert_eq!(o.ended, Ended::Signaled(6));
    assert_eq!(o.stderr(), "rawrt: free(): double free of 0xdeadbeef\n");
}
