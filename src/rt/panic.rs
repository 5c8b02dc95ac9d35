//! The panic handler: prints `panicked at FILE:LINE:COL:` and the message
//! on stderr in one `write`, then exits with status 101 like Rust's std.
//! A message that is a plain string is printed without `core::fmt`.

use super::io::FdWriter;
use super::itoa;
use crate::sys::STDERR;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    // A panic inside an atexit handler or destructor run by the first
    // panic's `exit` must not loop: the second one leaves at once.
    let again = PANICKING.swap(true, Ordering::Relaxed);
    let mut w = FdWriter::new(STDERR);
    w.push(b"panicked at ");
    if let Some(loc) = info.location() {
        let mut d = [0u8; 20];
        w.push(loc.file().as_bytes());
        w.push(b":");
        w.push(itoa::dec(loc.line() as u64, &mut d));
        w.push(b":");
        w.push(itoa::dec(loc.column() as u64, &mut d));
    }
    w.push(b":\n");
    let msg = info.message();
    match msg.as_str() {
        Some(s) => w.push(s.as_bytes()),
        None => {
            let _ = core::fmt::write(&mut w, format_args!("{}", msg));
        }
    }
    w.push(b"\n");
    let _ = w.finish();
    if again {
        super::exit::_exit(101)
    }
    super::exit::exit(101)
}

/// Referenced by the prebuilt `core`; never called with `panic=abort`.
/// Without `cabi`, inside another C library, libgcc provides it.
#[cfg(feature = "cabi")]
#[no_mangle]
extern "C" fn rust_eh_personality() {}

/// Referenced by the prebuilt `core`; never called with `panic=abort`.
/// Without `cabi` (inside a glibc or C++ program) libgcc's is used.
#[cfg(feature = "cabi")]
#[no_mangle]
extern "C" fn _Unwind_Resume() -> ! {
    super::exit::abort()
}
