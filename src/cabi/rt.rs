//! Process runtime names: `getauxval`, `__errno_location`, `exit`, `_exit`,
//! `atexit`, `abort`.

use crate::rt;
use crate::sys::Errno;

/// C `getauxval`; 0 with `errno` `ENOENT` if the entry is absent. Also what
/// aarch64's outline atomics call at start-up.
#[no_mangle]
extern "C" fn getauxval(ty: usize) -> usize {
    rt::getauxval(ty).unwrap_or_else(|| {
        rt::errno::set(Errno::ENOENT);
        0
    })
}

/// C `__errno_location`: where `errno` lives for the calling thread.
#[no_mangle]
extern "C" fn __errno_location() -> *mut i32 {
    rt::errno::location()
}

/// C `exit`.
#[no_mangle]
extern "C" fn exit(status: i32) -> ! {
    rt::exit(status)
}

/// C `_exit`.
#[no_mangle]
extern "C" fn _exit(status: i32) -> ! {
    rt::_exit(status)
}

/// C `atexit`: 0, or -1 with `ENOMEM` when the table is full.
#[no_mangle]
extern "C" fn atexit(f: extern "C" fn()) -> i32 {
    match rt::atexit(f) {
        Ok(()) => 0,
        Err(e) => {
            rt::errno::set(e);
            -1
        }
    }
}

/// C `abort`.
#[no_mangle]
extern "C" fn abort() -> ! {
    rt::abort()
}
