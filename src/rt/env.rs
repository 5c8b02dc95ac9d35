//! Arguments, environment and the auxiliary vector saved at start-up.

use super::start::initial;
use core::ffi::CStr;

/// An iterator over NUL-terminated strings in a NULL-terminated array.
#[derive(Clone)]
pub struct CStrs {
    next: *const *const u8,
}

impl Iterator for CStrs {
    type Item = &'static CStr;
    fn next(&mut self) -> Option<&'static CStr> {
        if self.next.is_null() {
            return None;
        }
        // SAFETY: `next` walks an argv/envp array from the kernel, which
        // ends with NULL and whose strings live for the whole process.
        unsafe {
            let p = *self.next;
            if p.is_null() {
                return None;
            }
            self.next = self.next.add(1);
            Some(CStr::from_ptr(p.cast()))
        }
    }
}

/// The program's arguments, `argv[0]` first. Empty if the runtime did not
/// start the program and `rawrt_init` was not called.
pub fn args() -> CStrs {
    CStrs { next: initial().map_or(core::ptr::null(), |(_, argv, _)| argv) }
}

/// The environment as `NAME=value` strings.
pub fn env() -> CStrs {
    CStrs { next: initial().map_or(core::ptr::null(), |(_, _, envp)| envp) }
}

/// The number of arguments.
pub fn argc() -> usize {
    initial().map_or(0, |(argc, _, _)| argc)
}

/// The value of environment variable `name`, if set.
pub fn getenv(name: &str) -> Option<&'static CStr> {
    env().find_map(|kv| {
        let b = kv.to_bytes_with_nul();
        (b.len() > name.len() && b.starts_with(name.as_bytes()) && b[name.len()] == b'=').then(
            || {
                // SAFETY: the tail after `NAME=` is still NUL-terminated.
                unsafe { CStr::from_bytes_with_nul_unchecked(&b[name.len() + 1..]) }
            },
        )
    })
}

/// The value of auxiliary-vector entry `ty` (`AT_PAGESZ`, `AT_RANDOM`, ...),
/// or `None` if absent. One copy: each of its callers runs once (the page
/// size, the heap secret, the vDSO lookup).
#[inline(never)]
pub fn getauxval(ty: usize) -> Option<usize> {
    let (_, _, mut envp) = initial()?;
    // SAFETY: the auxv follows the environment's NULL on the initial stack
    // and is a list of (type, value) pairs ending in AT_NULL.
    unsafe {
        while !(*envp).is_null() {
            envp = envp.add(1);
        }
        let mut p = envp.add(1) as *const usize;
        while *p != 0 {
            if *p == ty {
                return Some(*p.add(1));
            }
            p = p.add(2);
        }
    }
    None
}

/// The page size: the auxiliary vector's `AT_PAGESZ` when it is a power of
/// two of at least 4096, else 4096; read once, then cached. The one source
/// of the page size for the heap, thread stacks and `valloc`.
pub fn page_size() -> usize {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            let p = getauxval(linux_raw_sys::general::AT_PAGESZ as usize)
                .filter(|p| p.is_power_of_two() && *p >= 4096)
                .unwrap_or(4096);
            PAGE.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}
