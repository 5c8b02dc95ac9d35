//! The heaps rawrt makes for capabilities with a meaning on Linux:
//! executable memory (code written through the writable alias and run
//! through the pointer handed out, no `rwx` mapping ever), DMA memory
//! (locked; `RLIMIT_MEMLOCK` exhausted gives NULL, ENOMEM and the
//! callback), external memory (and `malloc` preferring it for large
//! requests once enabled), and capabilities only regions have.

use super::registry::isolated;
use super::util::*;
use core::ffi::c_char;
use core::sync::atomic::{AtomicUsize, Ordering};
use rawrt::sys::{consts as c, io, process};

extern "C" {
    fn heap_caps_exec_writable(p: *const u8) -> *mut u8;
    fn heap_caps_exec_sync(p: *const u8, len: usize) -> bool;
    fn heap_caps_malloc_extmem_enable(limit: usize);
}

/// `x + k` as machine code of this architecture (`int f(int x)`).
fn add_k(k: u8) -> [u8; 8] {
    if cfg!(target_arch = "x86_64") {
        // lea eax, [rdi + k]; ret; nops
        [0x8d, 0x47, k, 0xc3, 0x90, 0x90, 0x90, 0x90]
    } else if cfg!(target_arch = "aarch64") {
        // add w0, w0, #k; ret
        let add = (0x1100_0000u32 | (k as u32) << 10).to_le_bytes();
        let ret = 0xd65f_03c0u32.to_le_bytes();
        [add[0], add[1], add[2], add[3], ret[0], ret[1], ret[2], ret[3]]
    } else {
        // addiw a0, a0, k; ret
        let add = ((k as u32) << 20 | 10 << 15 | 10 << 7 | 0x1b).to_le_bytes();
        let ret = 0x0000_8067u32.to_le_bytes();
        [add[0], add[1], add[2], add[3], ret[0], ret[1], ret[2], ret[3]]
    }
}

/// The contents of `/proc/self/<name>` (up to 64 KiB), run through `f`.
fn proc_self<T>(name: &core::ffi::CStr, f: impl FnOnce(&str) -> T) -> T {
    let fd = io::openat(c::AT_FDCWD, name, c::O_RDONLY, 0).expect("open /proc/self");
    let mut buf = [0u8; 64 << 10];
    let mut n = 0;
    while let Ok(k @ 1..) = io::read(fd, &mut buf[n..]) {
        n += k;
    }
    let _ = io::close(fd);
    f(core::str::from_utf8(&buf[..n]).unwrap())
}

fn maps_have(what: &str) -> bool {
    proc_self(c"/proc/self/maps", |m| m.contains(what))
}

/// Whether some mapping is writable and executable at once.
fn any_rwx() -> bool {
    proc_self(c"/proc/self/maps", |m| {
        m.lines().any(|l| l.split_whitespace().nth(1).is_some_and(|p| p.starts_with("rwx")))
    })
}

pub fn exec_memory_runs_code_written_through_its_alias() {
    isolated(|| {
        assert!(!maps_have("rawrt-exec"), "no executable heap before the first request");
        // SAFETY: code written through the alias, synchronised, then called.
        unsafe {
            let p = heap_caps_malloc(64, MALLOC_CAP_EXEC);
            assert!(!p.is_null());
            assert!(maps_have("rawrt-exec"));
            let w = heap_caps_exec_writable(p);
            assert!(!w.is_null() && w != p);
            assert!(heap_caps_exec_writable(w).is_null(), "the alias is no block");
            let code = add_k(42);
            w.copy_from(code.as_ptr(), code.len());
            assert!(heap_caps_exec_sync(p, code.len()));
            assert_eq!(*p.add(1), code[1], "one set of bytes, two views");
            let f: extern "C" fn(i32) -> i32 = core::mem::transmute(p);
            assert_eq!(f(100), 142);
            // A second function, and the first one rewritten.
            let q = heap_caps_malloc(8, MALLOC_CAP_EXEC | MALLOC_CAP_8BIT);
            let code = add_k(7);
            heap_caps_exec_writable(q).copy_from(code.as_ptr(), code.len());
            assert!(heap_caps_exec_sync(q, code.len()));
            let g: extern "C" fn(i32) -> i32 = core::mem::transmute(q);
            assert_eq!(g(1), 8);
            // QEMU: qemu-user 7.2 keeps the code it translated from a page
            // until that page is written through its own mapping; a write
            // through the alias goes unseen there (its `ic ivau` and
            // `riscv_flush_icache` do nothing). Code rewritten in place is
            // checked natively only; new code, above, everywhere.
            let code = add_k(99);
            w.copy_from(code.as_ptr(), code.len());
            assert!(heap_caps_exec_sync(p, code.len()));
            if cfg!(target_arch = "x86_64") {
                assert_eq!(f(1), 100);
            } else {
                assert!(matches!(f(1), 43 | 100));
            }
            assert!(!any_rwx(), "a mapping is writable and executable");
            // Plain free and realloc take the executable pointer.
            assert!(malloc_usable_size(q) >= 8);
            free(q);
            let r = realloc(p, 4096);
            assert!(!heap_caps_exec_writable(r).is_null(), "still executable memory");
            assert_eq!(*r.add(1), code[1]);
            heap_caps_free(r);
            // Not executable memory: NULL and false.
            let m = malloc(64);
            assert!(heap_caps_exec_writable(m).is_null());
            assert!(!heap_caps_exec_sync(m, 8));
            free(m);
            // A request bigger than a region gets a region of its size.
            let big = heap_caps_malloc(EXEC_REGION * 2, MALLOC_CAP_EXEC);
            assert!(!big.is_null());
            heap_caps_exec_writable(big).add(EXEC_REGION * 2 - 1).write(1);
            free(big);
        }
    });
}

fn vm_locked_kib() -> usize {
    proc_self(c"/proc/self/status", |s| {
        let l = s.lines().find(|l| l.starts_with("VmLck:")).expect("VmLck");
        l[6..].trim().trim_end_matches("kB").trim().parse().unwrap()
    })
}

pub fn dma_memory_is_locked() {
    isolated(|| {
        let before = vm_locked_kib();
        // SAFETY: plain calls.
        unsafe {
            let p = heap_caps_malloc(1000, MALLOC_CAP_DMA);
            assert!(!p.is_null());
            assert!(vm_locked_kib() >= before + DMA_REGION / 1024, "the region is locked");
            let e = registry::owner(p as usize).unwrap();
            assert_eq!(e.kind, Kind::Dma);
            assert_eq!(e.caps, DMA_CAPS);
            p.write_bytes(1, 1000);
            // DMA with 8BIT and 32BIT: the same heap; DMA with EXEC: none.
            let q = heap_caps_calloc(10, 10, MALLOC_CAP_DMA | MALLOC_CAP_8BIT | MALLOC_CAP_32BIT);
            assert!(registry::owner(q as usize).is_some_and(|o| core::ptr::eq(o, e)));
            assert!(heap_caps_malloc(10, MALLOC_CAP_DMA | MALLOC_CAP_EXEC).is_null());
            free(p);
            free(q);
        }
    });
}

static HOOKED: AtomicUsize = AtomicUsize::new(0);
static HOOK_CAPS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn hook(size: usize, caps: u32, name: *const c_char) {
    // SAFETY: a NUL-terminated name.
    let name = unsafe { core::ffi::CStr::from_ptr(name) };
    assert_eq!(name.to_bytes(), b"heap_caps_malloc");
    HOOKED.store(size, Ordering::Relaxed);
    HOOK_CAPS.store(caps as usize, Ordering::Relaxed);
}

pub fn dma_under_an_exhausted_memlock_limit_fails() {
    isolated(|| {
        // Allow no locked memory; as root, drop CAP_IPC_LOCK (which ignores
        // the limit) by becoming nobody.
        let zero = process::Rlimit { rlim_cur: 0, rlim_max: 0 };
        process::prlimit64(0, c::RLIMIT_MEMLOCK, Some(&zero)).expect("prlimit");
        if process::getuid() == 0 {
            process::setuid(65534).expect("setuid");
        }
        // SAFETY: plain calls.
        unsafe {
            heap_caps_register_failed_alloc_callback(Some(hook));
            set_errno(0);
            assert!(heap_caps_malloc(100, MALLOC_CAP_DMA).is_null());
            assert_eq!(errno(), 12);
            assert_eq!(HOOKED.load(Ordering::Relaxed), 100);
            assert_eq!(HOOK_CAPS.load(Ordering::Relaxed), MALLOC_CAP_DMA as usize);
            assert_eq!(heaps(MALLOC_CAP_DMA).count(), 0, "no heap was left behind");
            // Other memory is unaffected.
            let p = heap_caps_malloc(100, MALLOC_CAP_8BIT);
            assert!(!p.is_null());
            free(p);
        }
    });
}

pub fn spiram_is_large_lazy_memory() {
    isolated(|| {
        // SAFETY: plain calls.
        unsafe {
            let p = heap_caps_malloc(8 << 20, MALLOC_CAP_SPIRAM);
            assert!(!p.is_null());
            let e = registry::owner(p as usize).unwrap();
            assert_eq!(e.kind, Kind::Spiram);
            assert!(e.end - e.start >= SPIRAM_REGION);
            p.add((8 << 20) - 1).write(5);
            // malloc prefers it for large requests once enabled.
            let before = malloc(64 << 10);
            assert!(registry::owner(before as usize).is_none());
            heap_caps_malloc_extmem_enable(16 << 10);
            let big = malloc(64 << 10);
            assert!(registry::owner(big as usize).is_some_and(|o| o.kind == Kind::Spiram));
            let small = malloc(100);
            assert!(registry::owner(small as usize).is_none());
            assert!(extmem_limit() == 16 << 10);
            heap_caps_malloc_extmem_enable(1);
            assert_eq!(extmem_limit(), rawrt::heap::CACHE_MAX + 1);
            for q in [p, before, big, small] {
                free(q);
            }
        }
    });
}

pub fn region_only_caps_and_invalid_get_null() {
    isolated(|| {
        for caps in [
            MALLOC_CAP_RETENTION,
            MALLOC_CAP_RTCRAM,
            MALLOC_CAP_PID2,
            MALLOC_CAP_PID7,
            MALLOC_CAP_IRAM_8BIT,
            MALLOC_CAP_INVALID,
            MALLOC_CAP_INVALID | MALLOC_CAP_8BIT,
            MALLOC_CAP_EXEC | MALLOC_CAP_DMA,
            MALLOC_CAP_SPIRAM | MALLOC_CAP_INTERNAL,
        ] {
            // SAFETY: plain calls.
            assert!(unsafe { heap_caps_malloc(16, caps) }.is_null(), "{caps:#x}");
        }
        // With a region that has one, it is served there.
        let h = add([MALLOC_CAP_RTCRAM, 0, 0], 64 << 10);
        // SAFETY: plain call.
        assert!(inside(unsafe { heap_caps_malloc(16, MALLOC_CAP_RTCRAM) }, h));
        // 0 asks for nothing in particular: the process heap.
        // SAFETY: plain call.
        let p = unsafe { heap_caps_malloc(16, 0) };
        assert!(!p.is_null() && registry::owner(p as usize).is_none());
    });
}
