//! The C ABI: thin `extern "C"` wrappers with C names, no logic of their own.
//! Never compiled into the hosted test build.
//!
//! With the `cabi` feature (default) each function is exported under its C
//! name (`malloc`, `write`, `exit`, ...); without it, under the same name
//! with a `rawrt_` prefix (`rawrt_malloc`, ...), so that rawrt can share a
//! process with another libc. Names that already start with `rawrt_` are
//! exported as they are.
//!
//! # Safety
//! Each wrapper has the contract of the C function it is named after.

/// Exports a function under its C name, or `rawrt_NAME` without `cabi`.
macro_rules! c_name {
    ($(#[$m:meta])* $v:vis unsafe extern "C" fn $name:ident $($rest:tt)*) => {
        $(#[$m])*
        #[cfg_attr(feature = "cabi", export_name = stringify!($name))]
        #[cfg_attr(not(feature = "cabi"), export_name = concat!("rawrt_", stringify!($name)))]
        $v unsafe extern "C" fn $name $($rest)*
    };
    ($(#[$m:meta])* $v:vis extern "C" fn $name:ident $($rest:tt)*) => {
        $(#[$m])*
        #[cfg_attr(feature = "cabi", export_name = stringify!($name))]
        #[cfg_attr(not(feature = "cabi"), export_name = concat!("rawrt_", stringify!($name)))]
        $v extern "C" fn $name $($rest)*
    };
}

/// `Ok(v)` as `v`, `Err(e)` as `fail` with `errno = e`: the C convention
/// of the system interfaces (-1, or `MAP_FAILED`, and `errno`).
#[inline]
fn or_errno<T>(r: Result<T, crate::sys::Errno>, fail: T) -> T {
    r.unwrap_or_else(|e| {
        crate::rt::errno::set(e);
        fail
    })
}

mod debug;
mod espidf;
#[cfg(not(feature = "small-heap"))]
mod malloc;
mod nuttx;
mod pool;
mod process;
mod rt;
#[cfg(feature = "small-heap")]
mod small;
mod sys;
mod thread;
mod trace;
