//! Helpers shared by the heap tests: the C allocation functions as the
//! program links them, a deterministic random generator, bookkeeping
//! arrays that live in their own mappings (so that the process heap's
//! figures count only the blocks a test made), block patterns, the
//! resident set size and text buffers on the stack.

use core::ffi::c_char;
use core::fmt::{self, Write};
use rawrt::heap::{self, HeapInfo, MallInfo2};
use rawrt::sys::{consts as c, io, mm, Errno};

/// Whether this binary runs under qemu-user (the aarch64 and riscv64
/// builds run only there, see tests/syscalls/util.rs). Where qemu-user 7.2
/// does not behave like the kernel, a test checks the kernel's behaviour
/// natively and says what it accepts under qemu (search for `QEMU`).
pub const QEMU: bool = cfg!(not(target_arch = "x86_64"));

/// The page size on the three targets (checked by tests/runtime.rs).
pub const PAGE: usize = 4096;

/// ESP-IDF's failed-allocation hook.
pub type CHook = extern "C" fn(usize, u32, *const c_char);

/// The allocation functions of rawrt's C ABI, as the optimizer sees them.
mod c_abi {
    extern "C" {
        pub fn malloc(size: usize) -> *mut u8;
        pub fn calloc(n: usize, size: usize) -> *mut u8;
        pub fn realloc(p: *mut u8, size: usize) -> *mut u8;
        pub fn aligned_alloc(align: usize, size: usize) -> *mut u8;
        pub fn memalign(align: usize, size: usize) -> *mut u8;
    }
}

// The allocation functions, with the block they return hidden from the
// optimizer: LLVM (like a C compiler) knows what `malloc` and `free` mean
// and deletes an allocation whose block is never used, with its `free`;
// release builds did, in tests that observe the heap's bookkeeping.

/// C `malloc`, not elided.
pub unsafe fn malloc(size: usize) -> *mut u8 {
    // SAFETY: forwarded.
    core::hint::black_box(unsafe { c_abi::malloc(size) })
}

/// C `calloc`, not elided.
pub unsafe fn calloc(n: usize, size: usize) -> *mut u8 {
    // SAFETY: forwarded.
    core::hint::black_box(unsafe { c_abi::calloc(n, size) })
}

/// C `realloc`, not elided.
pub unsafe fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: forwarded.
    core::hint::black_box(unsafe { c_abi::realloc(p, size) })
}

/// C11 `aligned_alloc`, not elided.
pub unsafe fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
    // SAFETY: forwarded.
    core::hint::black_box(unsafe { c_abi::aligned_alloc(align, size) })
}

/// `memalign`, not elided.
pub unsafe fn memalign(align: usize, size: usize) -> *mut u8 {
    // SAFETY: forwarded.
    core::hint::black_box(unsafe { c_abi::memalign(align, size) })
}

// The rest of the C ABI exported by rawrt under C names (feature `cabi`),
// called the way a C program calls it.
extern "C" {
    pub fn free(p: *mut u8);
    pub fn posix_memalign(memptr: *mut *mut u8, align: usize, size: usize) -> i32;
    pub fn malloc_usable_size(p: *mut u8) -> usize;
    pub fn malloc_trim(pad: usize) -> i32;
    pub fn mallinfo2() -> MallInfo2;
    pub fn __errno_location() -> *mut i32;
    pub fn heap_caps_register_failed_alloc_callback(hook: Option<CHook>) -> i32;
}

/// C's `errno`, read through `__errno_location` as C code reads it.
pub fn errno() -> i32 {
    // SAFETY: the location is this thread's errno.
    unsafe { *__errno_location() }
}

/// Sets C's `errno`.
pub fn set_errno(v: i32) {
    // SAFETY: as above.
    unsafe { *__errno_location() = v }
}

/// `ENOMEM` as C sees it.
pub const ENOMEM: i32 = Errno::ENOMEM.raw();

/// xorshift64*: small and deterministic.
pub use rawrt::check::Rng;

/// A fixed-capacity array in its own anonymous mapping: test bookkeeping
/// that neither allocates from the heap under test nor shows in its
/// figures. Pages are touched on creation so that they count in a
/// resident-set baseline taken afterwards.
pub struct Table<T: Copy> {
    ptr: *mut T,
    cap: usize,
    len: usize,
}

impl<T: Copy> Table<T> {
    pub fn new(cap: usize) -> Self {
        let bytes = (cap * core::mem::size_of::<T>()).div_ceil(PAGE).max(1) * PAGE;
        let ptr = mm::mmap_anonymous(bytes).expect("mmap for test bookkeeping") as *mut T;
        for off in (0..bytes).step_by(PAGE) {
            // SAFETY: inside the new mapping.
            unsafe { (ptr as *mut u8).add(off).write_volatile(0) };
        }
        Table { ptr, cap, len: 0 }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn push(&mut self, v: T) {
        assert!(self.len < self.cap, "Table full");
        // SAFETY: `len < cap`.
        unsafe { self.ptr.add(self.len).write(v) };
        self.len += 1;
    }
    pub fn get(&self, i: usize) -> T {
        assert!(i < self.len);
        // SAFETY: `i < len`.
        unsafe { self.ptr.add(i).read() }
    }
    pub fn set(&mut self, i: usize, v: T) {
        assert!(i < self.len);
        // SAFETY: `i < len`.
        unsafe { self.ptr.add(i).write(v) }
    }
    /// Removes entry `i`, moving the last one into its place.
    pub fn swap_remove(&mut self, i: usize) -> T {
        let v = self.get(i);
        let last = self.get(self.len - 1);
        self.set(i, last);
        self.len -= 1;
        v
    }
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: the old last entry.
        Some(unsafe { self.ptr.add(self.len).read() })
    }
    pub fn swap(&mut self, i: usize, j: usize) {
        let (a, b) = (self.get(i), self.get(j));
        self.set(i, b);
        self.set(j, a);
    }
    /// Shuffles the entries (Fisher-Yates).
    pub fn shuffle(&mut self, rng: &mut Rng) {
        for i in (1..self.len).rev() {
            let j = rng.below(i + 1);
            self.swap(i, j);
        }
    }
}

impl<T: Copy> Drop for Table<T> {
    fn drop(&mut self) {
        let bytes = (self.cap * core::mem::size_of::<T>()).div_ceil(PAGE).max(1) * PAGE;
        // SAFETY: the mapping is ours and no longer used.
        unsafe { mm::munmap(self.ptr as *mut u8, bytes) }.expect("munmap");
    }
}

/// The word a block of `tag` is filled with: the tag's low byte in every
/// byte but the lowest, whose value depends on nothing but the tag too,
/// so that two blocks with different tags differ in every word.
#[inline]
fn word_of(tag: u64) -> u64 {
    let b = (tag as u8) | 1; // never 0: a zeroed block does not pass
    u64::from_ne_bytes([b, b ^ 0x5a, b, b, b, b, b, (tag >> 8) as u8])
}

/// The byte at offset `i` of a block filled with `tag`.
#[inline]
pub fn byte_of(tag: u64, i: usize) -> u8 {
    word_of(tag).to_ne_bytes()[i % 8]
}

/// Fills `[p, p+len)` (`p` 8-aligned) with `tag`'s pattern.
pub fn fill(p: *mut u8, len: usize, tag: u64) {
    let w = word_of(tag);
    let mut i = 0;
    // SAFETY: the caller owns `[p, p+len)`; `p` is 8-aligned. (Eight
    // words at a time through a reference: this runs unoptimized in the
    // test profile, where every raw access is checked for alignment.)
    unsafe {
        while i + 64 <= len {
            *(p.wrapping_add(i) as *mut [u64; 8]) = [w; 8];
            i += 64;
        }
        while i < len {
            *p.wrapping_add(i) = byte_of(tag, i);
            i += 1;
        }
    }
}

/// The first offset in `[p, p+len)` that does not hold `tag`'s pattern.
pub fn first_bad(p: *const u8, len: usize, tag: u64) -> Option<usize> {
    let w = word_of(tag);
    let mut i = 0;
    // SAFETY: the caller owns `[p, p+len)`; `p` is 8-aligned.
    unsafe {
        while i + 64 <= len {
            let c = &*(p.wrapping_add(i) as *const [u64; 8]);
            if c[0] != w
                || c[1] != w
                || c[2] != w
                || c[3] != w
                || c[4] != w
                || c[5] != w
                || c[6] != w
                || c[7] != w
            {
                break;
            }
            i += 64;
        }
        while i < len {
            if *p.wrapping_add(i) != byte_of(tag, i) {
                return Some(i);
            }
            i += 1;
        }
    }
    None
}

/// Blocks longer than this get their pattern only at sample points (see
/// [`pieces`]), which keeps the randomized runs fast without a loss: a
/// neighbour's or the heap's own write lands at a block's ends, and a
/// bad copy misses samples too.
pub const DENSE: usize = 16 << 10;

/// Calls `f(offset, len)` for the parts of a block of `len` bytes that
/// carry its pattern: all of it up to [`DENSE`] bytes, else the first and
/// last 4 KiB and 64 bytes at every 4 KiB boundary between.
pub fn pieces(len: usize, mut f: impl FnMut(usize, usize) -> bool) -> bool {
    if len <= DENSE {
        return f(0, len);
    }
    if !f(0, 4096) {
        return false;
    }
    let mut off = 4096;
    while off + 4096 < len - 4096 {
        if !f(off, 64) {
            return false;
        }
        off += 4096;
    }
    let tail = (len - 4096) & !7;
    f(tail, len - tail)
}

/// Fills the sample points of block `[p, p+len)` with `tag`'s pattern.
pub fn fill_sparse(p: *mut u8, len: usize, tag: u64) {
    pieces(len, |off, n| {
        fill_at(p, off, n, tag);
        true
    });
}

/// The first sample offset of `[p, p+len)` not holding `tag`'s pattern.
pub fn first_bad_sparse(p: *const u8, len: usize, tag: u64) -> Option<usize> {
    first_bad_sparse_below(p, len, len, tag)
}

/// As [`first_bad_sparse`] for the samples of a block of `len` bytes that
/// lie below `limit` (what a reallocation to `limit` bytes keeps).
pub fn first_bad_sparse_below(p: *const u8, len: usize, limit: usize, tag: u64) -> Option<usize> {
    let mut bad = None;
    pieces(len, |off, n| {
        let n = n.min(limit.saturating_sub(off));
        bad = first_bad_at(p, off, n, tag);
        bad.is_none()
    });
    bad
}

/// Fills `[p+off, p+off+n)` (`off` a multiple of 8) with the pattern as
/// it runs from `p`.
fn fill_at(p: *mut u8, off: usize, n: usize, tag: u64) {
    debug_assert!(off % 8 == 0);
    fill(p.wrapping_add(off), n, tag)
}

fn first_bad_at(p: *const u8, off: usize, n: usize, tag: u64) -> Option<usize> {
    first_bad(p.wrapping_add(off), n, tag).map(|i| i + off)
}

/// Asserts that block `[p, p+len)` holds `tag`'s pattern (at the sample
/// points of a long block).
#[track_caller]
pub fn assert_pattern(p: *const u8, len: usize, tag: u64) {
    if let Some(i) = first_bad_sparse(p, len, tag) {
        // SAFETY: `i < len`.
        let got = unsafe { p.add(i).read() };
        panic!(
            "block {:p} (tag {}) byte {} of {} is {:#x}, want {:#x}",
            p,
            tag,
            i,
            len,
            got,
            byte_of(tag, i)
        );
    }
}

/// Whether `[p, p+len)` is all zero.
pub fn all_zero(p: *const u8, len: usize) -> bool {
    let (mut i, words) = (0, len / 8);
    // SAFETY: the caller owns the range; `p` is 8-aligned.
    unsafe {
        while i < words {
            if *(p as *const u64).wrapping_add(i) != 0 {
                return false;
            }
            i += 1;
        }
        i *= 8;
        while i < len {
            if *p.wrapping_add(i) != 0 {
                return false;
            }
            i += 1;
        }
    }
    true
}

/// A fixed-size text buffer on the stack that `write!` can fill; text
/// beyond its size is dropped (and `overflowed` says so).
pub struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
    pub overflowed: bool,
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buf { bytes: [0; N], len: 0, overflowed: false }
    }
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("<not UTF-8>")
    }
}

impl<const N: usize> Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(N - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            self.overflowed = true;
        }
        Ok(())
    }
}

/// Asserts that the process heap passes `check`, showing what it found.
#[track_caller]
pub fn heap_ok() {
    let mut out = Buf::<4096>::new();
    let ok = heap::process().check(true, &mut out);
    assert!(ok, "process heap check failed:\n{}", out.as_str());
    assert_eq!(out.as_str(), "", "check printed without finding errors");
}

/// The process heap's figures.
pub fn info() -> HeapInfo {
    heap::process().info()
}

/// The memory system calls the process heap has made, all kinds together.
pub fn syscalls(i: &HeapInfo) -> usize {
    i.brk_calls + i.mmap_calls + i.munmap_calls + i.mremap_calls + i.madvise_calls
}

/// Reads a whole small file (up to the buffer's size) into `buf`.
pub fn read_file<'a>(path: &core::ffi::CStr, buf: &'a mut [u8]) -> &'a str {
    let fd =
        io::openat(io::AT_FDCWD, path, c::O_RDONLY | c::O_CLOEXEC, 0).expect("open /proc file");
    let mut len = 0;
    loop {
        match io::read(fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::EINTR) => {}
            Err(e) => panic!("read {:?}: {}", path, e),
        }
        assert!(len < buf.len(), "{:?} larger than the buffer", path);
    }
    io::close(fd).unwrap();
    core::str::from_utf8(&buf[..len]).unwrap()
}

/// The resident set size of this process in bytes (`/proc/self/statm`,
/// second field, in pages).
pub fn rss() -> usize {
    let mut buf = [0u8; 256];
    let text = read_file(c"/proc/self/statm", &mut buf);
    let pages: usize = text.split(' ').nth(1).unwrap().parse().unwrap();
    pages * PAGE
}

/// The size of this process's address space in bytes (`/proc/self/statm`,
/// first field, in pages).
pub fn vm_size() -> usize {
    let mut buf = [0u8; 256];
    let text = read_file(c"/proc/self/statm", &mut buf);
    let pages: usize = text.split(' ').next().unwrap().parse().unwrap();
    pages * PAGE
}

/// The program break, queried.
pub fn current_brk() -> usize {
    // SAFETY: brk(0) only queries.
    unsafe { mm::brk(0) }
}
