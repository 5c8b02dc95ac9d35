//! Heap tracing: ESP-IDF's standalone heap trace over the process heap's
//! C functions, and a leak report at exit.
//!
//! - [`init_standalone`] gives the tracer a buffer of records, [`start`]
//!   clears it and records every `malloc`, `calloc`, `aligned_alloc`,
//!   `memalign`, `valloc`, `realloc` and `free` from then on, in
//!   [`HEAP_TRACE_ALL`] mode (every allocation, marked when freed) or
//!   [`HEAP_TRACE_LEAKS`] mode (a freed block's record goes: what is left
//!   is what is still allocated); [`stop`] and [`resume`] pause it;
//!   [`get`], [`summary`] and [`dump`] read it (`record.rs`, `report.rs`).
//! - Each record has the block, its size, the time, the allocating
//!   thread, the return address of the allocation call and up to
//!   [`STACK_DEPTH`]` - 1` callers above it found by walking frame
//!   pointers where the program keeps them (bounded by the thread's
//!   stack, stopping at the first frame that does not look like one: it
//!   never faults), the same for the free, and the `file:line` that
//!   `rawrt_track.h` passes.
//! - [`leaks_at_exit`] (or `RAWRT_HEAP_TRACE=leaks`, read by
//!   [`from_env`]) traces leaks into a buffer of its own and lists, at
//!   `exit`, every block still allocated with its callers named from the
//!   program's symbol table (`rt/symbols.rs`), then a total line.
//!
//! How the tracer sees every call at no cost to programs that never trace
//! is in `hook.rs`: the first [`start`] installs it and diverts the
//! process heap. Not traced: Rust's global allocator, `posix_memalign`,
//! and `heap_caps_*` / region heaps (their calls go on unrecorded).

mod hook;
mod record;
mod report;
mod threads;

use core::ffi::c_char;
use core::ptr::NonNull;

use crate::heap::{caps, process, ALIGN};
use crate::sync::Lock;
use hook::TraceOps;
#[cfg(not(test))]
pub use hook::{
    __rawrt_alloc_slow, __rawrt_calloc_at, __rawrt_free_at, __rawrt_free_slow, __rawrt_malloc_at,
    __rawrt_realloc, __rawrt_realloc_at, ALIGNED_ALLOC, CALLOC, MALLOC, MEMALIGN, VALLOC,
};
pub use hook::{diverted, Kind, Loc, Site};
#[cfg(test)]
pub(crate) use record::tests as record_tests;
pub use record::{
    HeapTraceRecord, HeapTraceSummary, HEAP_TRACE_ALL, HEAP_TRACE_LEAKS, STACK_DEPTH,
};
pub use report::{dump, leak_report};
#[cfg(test)]
pub(crate) use threads::tests as threads_tests;
pub use threads::{ThreadInfo, MAX_THREADS};

/// `ESP_OK`.
pub const ESP_OK: i32 = 0;
/// `ESP_ERR_INVALID_ARG`: a null record pointer, an index past the
/// records, an unknown mode, an empty buffer.
pub const ESP_ERR_INVALID_ARG: i32 = 0x102;
/// `ESP_ERR_INVALID_STATE`: no buffer yet, or a new buffer while tracing.
pub const ESP_ERR_INVALID_STATE: i32 = 0x103;

/// Records kept by [`leaks_at_exit`] (in a mapping of its own, committed
/// as used): 65536 blocks alive at once.
pub const EXIT_RECORDS: usize = 1 << 16;

/// The records and counters.
static TABLE: Lock<record::Table> = Lock::new(record::Table::new());

/// The per-thread accounting, once started; locked only with [`TABLE`]
/// held (so that a block's free is accounted before another thread can
/// get the same address and account it).
static ACCOUNTS: Lock<Option<threads::Accounts<'static>>> = Lock::new(None);

/// Entries of the accounting's side table (in a mapping of its own,
/// committed as used): 7/8 of them, about 917,000 live blocks.
pub const ACCOUNTED_BLOCKS: usize = 1 << 20;

static OPS: TraceOps = TraceOps { alloc: traced_alloc, free: traced_free, realloc: traced_realloc };

/// `heap_trace_init_standalone`: the tracer keeps its records in the `n`
/// records at `buf` from now on (none kept yet). `ESP_ERR_INVALID_STATE`
/// while tracing; `ESP_ERR_INVALID_ARG` for a null buffer or `n` = 0.
///
/// # Safety
/// `buf` holds `n` writable records that nothing else touches while the
/// tracer may use them (until the next `init_standalone`).
pub unsafe fn init_standalone(buf: *mut HeapTraceRecord, n: usize) -> i32 {
    let mut t = TABLE.lock();
    if t.tracing {
        return ESP_ERR_INVALID_STATE;
    }
    if buf.is_null() || n == 0 {
        return ESP_ERR_INVALID_ARG;
    }
    // SAFETY: the caller's contract.
    unsafe { t.init(buf, n) };
    ESP_OK
}

/// `heap_trace_start`: drops the records and counters and traces from now
/// on in `mode` ([`HEAP_TRACE_ALL`] or [`HEAP_TRACE_LEAKS`]).
/// `ESP_ERR_INVALID_STATE` without a buffer, `ESP_ERR_INVALID_ARG` for
/// another mode.
pub fn start(mode: u32) -> i32 {
    let mut t = TABLE.lock();
    if t.buf.is_null() {
        return ESP_ERR_INVALID_STATE;
    }
    if mode > HEAP_TRACE_LEAKS {
        return ESP_ERR_INVALID_ARG;
    }
    t.sum.mode = mode;
    t.clear();
    t.tracing = true;
    drop(t);
    divert();
    ESP_OK
}

/// `heap_trace_stop`: records nothing more until [`resume`] or [`start`]
/// (the records stay). `ESP_ERR_INVALID_STATE` without a buffer.
pub fn stop() -> i32 {
    let mut t = TABLE.lock();
    if t.buf.is_null() {
        return ESP_ERR_INVALID_STATE;
    }
    t.tracing = false;
    ESP_OK
}

/// `heap_trace_resume`: traces again, keeping the records and counters.
/// `ESP_ERR_INVALID_STATE` without a buffer.
pub fn resume() -> i32 {
    let mut t = TABLE.lock();
    if t.buf.is_null() {
        return ESP_ERR_INVALID_STATE;
    }
    t.tracing = true;
    drop(t);
    divert();
    ESP_OK
}

/// `heap_trace_get_count`: the records in the buffer.
pub fn count() -> usize {
    TABLE.lock().count
}

/// `heap_trace_get`: a copy of record `i` (from 0, in allocation order)
/// into `out`. `ESP_ERR_INVALID_STATE` without a buffer,
/// `ESP_ERR_INVALID_ARG` for `i` past the records.
pub fn get(i: usize, out: &mut HeapTraceRecord) -> i32 {
    let mut t = TABLE.lock();
    if t.buf.is_null() {
        return ESP_ERR_INVALID_STATE;
    }
    match t.records().get(i) {
        Some(r) => {
            *out = *r;
            ESP_OK
        }
        None => ESP_ERR_INVALID_ARG,
    }
}

/// `heap_trace_summary`: the mode, counters and buffer use.
pub fn summary() -> HeapTraceSummary {
    TABLE.lock().summary()
}

/// The source location (`rawrt_track.h`) recorded for the live block at
/// `addr`, if it was traced: for reports that name a block (a corruption
/// report can say where the damaged block was allocated).
pub fn location(addr: usize) -> Option<(*const c_char, u32)> {
    let mut t = TABLE.lock();
    let r = t.records().iter().rev().find(|r| r.addr() == addr && !r.freed())?;
    (!r.file.is_null()).then_some((r.file, r.line))
}

/// Installs the tracer (the first time) and moves the calling thread off
/// its home heap; other threads leave theirs at their next slow path.
/// Reports of damaged blocks (`rt::fatal`) then name where a block was
/// allocated, when `rawrt_track.h` said so ([`origin`]).
fn divert() {
    hook::install(&OPS);
    let f: crate::rt::OriginFn = origin;
    crate::rt::BLOCK_ORIGIN.store(f as usize, core::sync::atomic::Ordering::Release);
    process().leave_home();
}

/// The block being freed or resized (address, file, line), set before
/// its record changes: a damage the heap finds in it then (an overflow
/// found by `free`) is named by [`origin`] without the table's lock, which
/// the freeing thread holds.
static FREEING: [core::sync::atomic::AtomicUsize; 3] =
    [const { core::sync::atomic::AtomicUsize::new(0) }; 3];

/// Notes the location recorded for block `addr` (under the table's lock)
/// before it is freed or resized; see [`FREEING`].
fn note_freeing(t: &mut record::Table, addr: usize) {
    use core::sync::atomic::Ordering::Relaxed;
    let r = t.records().iter().rev().find(|r| r.addr() == addr && !r.freed());
    let (file, line) = r.map_or((0, 0), |r| (r.file as usize, r.line as usize));
    FREEING[0].store(0, Relaxed);
    FREEING[1].store(file, Relaxed);
    FREEING[2].store(line, Relaxed);
    FREEING[0].store(addr, Relaxed);
}

/// Writes ` (allocated at FILE:LINE)` on `w` if `rawrt_track.h` recorded
/// where the block at `addr` was allocated: the block being freed
/// ([`FREEING`]), else its latest record (in [`HEAP_TRACE_ALL`] mode freed
/// blocks keep theirs), if the table's lock is free. (For `rt::fatal`'s
/// reports: [`crate::rt::OriginFn`].)
fn origin(addr: usize, w: &mut crate::rt::io::FdWriter) {
    use core::sync::atomic::Ordering::Relaxed;
    let (file, line) = if FREEING[0].load(Relaxed) == addr {
        (FREEING[1].load(Relaxed) as *const c_char, FREEING[2].load(Relaxed) as u32)
    } else {
        let Some(mut t) = TABLE.try_lock() else { return };
        match t.records().iter().rev().find(|r| r.addr() == addr) {
            Some(r) => (r.file, r.line),
            None => return,
        }
    };
    if file.is_null() {
        return;
    }
    let mut d = [0u8; 20];
    // SAFETY: `rawrt_track.h` passes `__FILE__`, NUL-terminated.
    let file = unsafe { core::ffi::CStr::from_ptr(file) }.to_bytes();
    for part in [b" (allocated at ", file, b":", crate::rt::itoa::dec(line as u64, &mut d), b")"] {
        w.push(part);
    }
}

/// The callers of an allocation function called from `site`: the return
/// address, then up to `STACK_DEPTH - 1` more from the frame records that
/// `site.fp` leads to.
fn callers(site: &Site) -> [usize; STACK_DEPTH] {
    let mut c = [0; STACK_DEPTH];
    c[0] = site.caller;
    walk(site.fp, &mut c[1..]);
    c
}

/// The callers a walk from frame pointer `fp` finds (up to
/// `STACK_DEPTH - 1`, zeros after): what the records get past the return
/// address. Public for the tests of the walk's bounds.
#[doc(hidden)]
pub fn walk_from(fp: usize) -> [usize; STACK_DEPTH - 1] {
    let mut out = [0; STACK_DEPTH - 1];
    walk(fp, &mut out);
    out
}

/// Fills `out` with the return addresses of the frame records from `fp`
/// up, stopping (leaving zeros) at the first that is not plainly a frame
/// record of this thread's stack: misaligned, not above the previous one
/// (or this function's own frame), or not below the stack's top. So a
/// frame-pointer register that holds anything else is never followed
/// outside the stack.
#[inline(never)]
fn walk(mut fp: usize, out: &mut [usize]) {
    use crate::arch::{FRAME_NEXT, FRAME_RET};
    let top = crate::rt::stack_top();
    let here = 0usize;
    let mut low = core::ptr::addr_of!(here).addr();
    let (lo, hi) = (FRAME_NEXT.min(FRAME_RET), FRAME_NEXT.max(FRAME_RET) + 8);
    for slot in out {
        let (a, b) = (fp.wrapping_add_signed(lo), fp.wrapping_add_signed(hi));
        if top == 0 || fp % 8 != 0 || a <= low || a > b || b > top {
            return;
        }
        // SAFETY: both words lie in this thread's stack, between this
        // function's frame and the stack's top, which is mapped.
        let (next, ret) = unsafe {
            (
                core::ptr::read_volatile(fp.wrapping_add_signed(FRAME_NEXT) as *const usize),
                core::ptr::read_volatile(fp.wrapping_add_signed(FRAME_RET) as *const usize),
            )
        };
        if ret == 0 {
            return;
        }
        *slot = ret;
        low = b - 1;
        fp = next;
    }
}

/// A record of block `p` of `size` bytes allocated from `site` now.
fn record_of(p: NonNull<u8>, size: usize, site: &Site) -> HeapTraceRecord {
    let t = crate::rt::clock_gettime(crate::sys::time::CLOCK_MONOTONIC).unwrap_or_default();
    // `nsec` is below 10^9: a 32-bit division (whose multiplier is an
    // immediate, not a constant in the shared pool).
    let us = (t.sec as u64).wrapping_mul(1_000_000).wrapping_add((t.nsec as u32 / 1000) as u64);
    HeapTraceRecord {
        ccount: us as u32,
        address: p.as_ptr().cast(),
        size,
        alloced_by: record::as_ptrs(callers(site)),
        freed_by: [core::ptr::null_mut(); STACK_DEPTH],
        file: site.file,
        line: site.line,
        tid: crate::sys::process::gettid() as u32,
    }
}

/// # Safety
/// `loc` is null or valid.
unsafe fn traced_alloc(
    size: usize,
    align: usize,
    kind: &'static Kind,
    caller: usize,
    fp: usize,
    loc: *const Loc,
) -> *mut u8 {
    process().leave_home();
    let Some(p) = NonNull::new(hook::alloc_plain(size, align, kind)) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the caller's contract.
    let rec = record_of(p, size, &unsafe { Site::new(caller, fp, loc) });
    let mut t = TABLE.lock();
    t.allocated(rec);
    if let Some(a) = ACCOUNTS.lock().as_mut() {
        a.allocated(rec.addr(), size, rec.tid);
    }
    drop(t);
    p.as_ptr()
}

/// # Safety
/// C's contract for `free`; `loc` is null or valid.
unsafe fn traced_free(p: *mut u8, caller: usize, fp: usize, loc: *const Loc) {
    process().leave_home();
    // SAFETY: the caller's contract.
    let by = callers(&unsafe { Site::new(caller, fp, loc) });
    // The record goes and the block is freed under the lock: no other
    // thread can get the same address and record it in between.
    let mut t = TABLE.lock();
    note_freeing(&mut t, p.addr());
    t.freed(p.addr(), by);
    if let Some(a) = ACCOUNTS.lock().as_mut() {
        a.freed(p.addr());
    }
    // SAFETY: forwarded contract.
    unsafe { caps::free(p, "free") };
    drop(t);
}

/// # Safety
/// C's contract for `realloc`; `loc` is null or valid.
unsafe fn traced_realloc(
    p: *mut u8,
    size: usize,
    caller: usize,
    fp: usize,
    loc: *const Loc,
) -> *mut u8 {
    if p.is_null() {
        // SAFETY: forwarded contract.
        return unsafe { traced_alloc(size, ALIGN, &hook::MALLOC, caller, fp, loc) };
    }
    if size == 0 {
        // SAFETY: forwarded contract: `realloc(p, 0)` frees `p`.
        unsafe { traced_free(p, caller, fp, loc) };
        return core::ptr::null_mut();
    }
    process().leave_home();
    // SAFETY: the caller's contract.
    let site = unsafe { Site::new(caller, fp, loc) };
    let by = callers(&site);
    // Under the lock, as for `traced_free`. (A failed-allocation callback
    // that allocates from here would wait for the lock forever.)
    let mut t = TABLE.lock();
    note_freeing(&mut t, p.addr());
    // SAFETY: forwarded contract.
    let q = unsafe { hook::realloc_plain(p, size) };
    if let Some(nn) = NonNull::new(q) {
        t.freed(p.addr(), by);
        let rec = HeapTraceRecord { alloced_by: record::as_ptrs(by), ..record_of(nn, size, &site) };
        t.allocated(rec);
        if let Some(a) = ACCOUNTS.lock().as_mut() {
            a.freed(p.addr());
            a.allocated(rec.addr(), size, rec.tid);
        }
    }
    q
}

/// Traces leaks from now on into a buffer of [`EXIT_RECORDS`] records of
/// the tracer's own, and at `exit` prints the [`leak_report`] on stderr
/// (the exit status stays the program's). `ESP_ERR_INVALID_STATE` while
/// tracing already; `ESP_ERR_NO_MEM` (0x101) if the buffer cannot be
/// mapped or no `atexit` slot is left.
pub fn leaks_at_exit() -> i32 {
    if TABLE.lock().tracing {
        return ESP_ERR_INVALID_STATE;
    }
    let len = EXIT_RECORDS * core::mem::size_of::<HeapTraceRecord>();
    let Ok(buf) = crate::sys::mm::mmap_anonymous(len) else { return 0x101 };
    extern "C" fn at_exit() {
        leak_report();
    }
    if crate::rt::atexit(at_exit).is_err() {
        return 0x101;
    }
    // SAFETY: a fresh mapping of `EXIT_RECORDS` records, the tracer's alone.
    match unsafe { init_standalone(buf.cast(), EXIT_RECORDS) } {
        ESP_OK => start(HEAP_TRACE_LEAKS),
        e => e,
    }
}

/// Reads `RAWRT_HEAP_TRACE` (once; later calls return the first answer):
/// `leaks` calls [`leaks_at_exit`]; unset, empty or `off` does nothing;
/// any other value is reported on stderr and gives `ESP_ERR_INVALID_ARG`.
pub fn from_env() -> i32 {
    use core::sync::atomic::{AtomicI32, Ordering};
    /// The first answer, plus one (0: not read yet).
    static DONE: AtomicI32 = AtomicI32::new(0);
    let _g = ENV.lock();
    match DONE.load(Ordering::Relaxed) {
        0 => {}
        r => return r - 1,
    }
    // `NAME=` as one 17-byte piece: the 16-byte name alone would be a
    // constant of the library's shared pool, kept by every program.
    let value = crate::rt::env().find_map(|kv| kv.to_bytes().strip_prefix(b"RAWRT_HEAP_TRACE="));
    let r = match value {
        None | Some(b"" | b"off") => ESP_OK,
        Some(b"leaks") => leaks_at_exit(),
        Some(v) => {
            report::unknown_env(v);
            ESP_ERR_INVALID_ARG
        }
    };
    DONE.store(r + 1, Ordering::Relaxed);
    r
}

/// Serialises [`from_env`].
static ENV: Lock<()> = Lock::new(());

/// Starts per-thread accounting (ESP-IDF's per-task tracking): from now
/// on every allocation through the C functions counts for its thread,
/// and its free (by any thread) against it. Diverts the process heap like
/// [`start`]. Blocks allocated before are not counted, nor their frees.
/// `ESP_OK` (also when already started), or `ESP_ERR_NO_MEM` (0x101) if
/// the side table cannot be mapped.
pub fn thread_accounting() -> i32 {
    let t = TABLE.lock();
    let mut a = ACCOUNTS.lock();
    if a.is_none() {
        let len = ACCOUNTED_BLOCKS * core::mem::size_of::<threads::Live>();
        let Ok(buf) = crate::sys::mm::mmap_anonymous(len) else { return 0x101 };
        // SAFETY: a fresh zeroed mapping of `ACCOUNTED_BLOCKS` entries
        // (all zeros is an empty `Live`), the accounting's alone forever.
        let live = unsafe { core::slice::from_raw_parts_mut(buf.cast(), ACCOUNTED_BLOCKS) };
        *a = Some(threads::Accounts::new(live));
    }
    drop(a);
    drop(t);
    divert();
    ESP_OK
}

/// Thread `tid`'s figures (0: the calling thread) since
/// [`thread_accounting`] started. `ESP_ERR_INVALID_STATE` before it,
/// `ESP_ERR_NOT_FOUND` (0x105) for a thread that allocated nothing since
/// (or beyond the [`MAX_THREADS`] accounted).
pub fn thread_info(tid: u32) -> Result<ThreadInfo, i32> {
    let tid = if tid == 0 { crate::sys::process::gettid() as u32 } else { tid };
    let _t = TABLE.lock();
    let a = ACCOUNTS.lock();
    let a = a.as_ref().ok_or(ESP_ERR_INVALID_STATE)?;
    a.info(tid).ok_or(0x105)
}
