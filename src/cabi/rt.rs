//! Process runtime names: `getauxval`, `__errno_location`, `exit`, `_exit`,
//! `atexit`, `abort`.

use crate::rt;
use crate::sys::Errno;

c_name! {
/// C `getauxval`; 0 with `errno` `ENOENT` if the entry is absent. Also what
/// aarch64's outline atomics call at start-up.
extern "C" fn getauxval(ty: usize) -> usize {
    rt::getauxval(ty).unwrap_or_else(|| {
        rt::errno::set(Errno::ENOENT);
        0
    })
}
}

c_name! {
/// C `__errno_location`: where `errno` lives for the calling thread.
extern "C" fn __errno_location() -> *mut i32 {
    rt::errno::location()
}
}

c_name! {
/// C `exit`.
extern "C" fn exit(status: i32) -> ! {
    rt::exit(status)
}
}

c_name! {
/// C `_exit`.
extern "C" fn _exit(status: i32) -> ! {
    rt::_exit(status)
}
}

c_name! {
/// C `atexit`: 0, or -1 with `ENOMEM` when the table is full (`ENOSYS`
/// when the program was linked without its handlers' destructor in
/// `.fini_array`).
extern "C" fn atexit(f: extern "C" fn()) -> i32 {
    match rt::atexit(f) {
        Ok(()) => 0,
        Err(e) => {
            rt::errno::set(e);
            -1
        }
    }
}
}

c_name! {
/// C `abort`.
extern "C" fn abort() -> ! {
    rt::abort()
}
}
