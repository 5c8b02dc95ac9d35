//! The heaps rawrt makes for capabilities that mean something on Linux,
//! each created on the first request that names its capability (no
//! system call before) and grown by one more region whenever its heaps
//! are full:
//!
//! - [`MALLOC_CAP_EXEC`]: a memfd mapped twice, read+execute (the
//!   addresses handed out) and read+write (where the heap keeps its
//!   blocks, and where [`exec_writable`] points): no page is ever
//!   writable and executable at once.
//! - [`MALLOC_CAP_DMA`]: memory prefaulted (`MAP_POPULATE`) and locked
//!   (`mlock`); when `RLIMIT_MEMLOCK` does not allow it, the request fails.
//! - [`MALLOC_CAP_SPIRAM`]: large, lazily committed memory
//!   (`MAP_NORESERVE`, transparent huge pages asked for with
//!   `MADV_HUGEPAGE`).

use core::ptr::null_mut;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::registry::{self, Entry, Kind, RegionHeap};
use super::{
    MALLOC_CAP_32BIT, MALLOC_CAP_8BIT, MALLOC_CAP_DEFAULT, MALLOC_CAP_DMA, MALLOC_CAP_EXEC,
    MALLOC_CAP_INTERNAL, MALLOC_CAP_SPIRAM, PRIOS,
};
use crate::sys::io;
use crate::sys::mm::{self, *};

/// The capability masks of an executable heap.
pub const EXEC_CAPS: [u32; PRIOS] = [MALLOC_CAP_EXEC, MALLOC_CAP_8BIT | MALLOC_CAP_32BIT, 0];
/// The capability masks of a DMA heap.
pub const DMA_CAPS: [u32; PRIOS] =
    [MALLOC_CAP_DMA, MALLOC_CAP_8BIT | MALLOC_CAP_32BIT | MALLOC_CAP_INTERNAL, 0];
/// The capability masks of an external-memory heap: like ESP-IDF's
/// SPIRAM, a last resort for default requests.
pub const SPIRAM_CAPS: [u32; PRIOS] =
    [MALLOC_CAP_SPIRAM, 0, MALLOC_CAP_8BIT | MALLOC_CAP_32BIT | MALLOC_CAP_DEFAULT];

/// The smallest region of each kind (a bigger request gets a region of
/// its size).
pub const EXEC_REGION: usize = 256 << 10;
/// See [`EXEC_REGION`]; small, because locked memory is scarce.
pub const DMA_REGION: usize = 64 << 10;
/// See [`EXEC_REGION`]; lazily committed, so large.
pub const SPIRAM_REGION: usize = 64 << 20;

/// A kind of memory rawrt maps.
struct Made {
    /// The capability that asks for it.
    cap: u32,
    /// Its masks.
    caps: [u32; PRIOS],
    /// The smallest region.
    region: usize,
    /// Its registry kind.
    kind: Kind,
}

const MADE: [Made; 3] = [
    Made { cap: MALLOC_CAP_EXEC, caps: EXEC_CAPS, region: EXEC_REGION, kind: Kind::Exec },
    Made { cap: MALLOC_CAP_DMA, caps: DMA_CAPS, region: DMA_REGION, kind: Kind::Dma },
    Made { cap: MALLOC_CAP_SPIRAM, caps: SPIRAM_CAPS, region: SPIRAM_REGION, kind: Kind::Spiram },
];

/// For a request of `size` bytes aligned to `align` with `caps` that the
/// heaps could not serve: a new heap of the kind `caps` names (which has
/// all of `caps`) with room for it, registered; `None` if `caps` names no
/// such kind or the memory cannot be had.
pub(super) fn grow(size: usize, align: usize, caps: u32) -> Option<&'static Entry> {
    let m = MADE
        .iter()
        .find(|m| caps & m.cap != 0 && (m.caps[0] | m.caps[1] | m.caps[2]) & caps == caps)?;
    let state = core::mem::size_of::<RegionHeap>() + 256;
    let need = state.checked_add(size)?.checked_add(align)?.checked_add(4096)?;
    let len = need.max(m.region).checked_next_multiple_of(crate::rt::page_size())?;
    match m.kind {
        Kind::Exec => map_exec(len, m.caps),
        Kind::Dma => map_dma(len, m.caps),
        _ => map_spiram(len, m.caps),
    }
}

/// Registers the heap over `[p, p + len)` (handing out addresses `delta`
/// above), or unmaps it (and `alias`, `len` bytes) if that fails.
fn register(
    p: *mut u8,
    len: usize,
    delta: usize,
    caps: [u32; PRIOS],
    kind: Kind,
    alias: *mut u8,
) -> Option<&'static Entry> {
    // SAFETY: a fresh mapping of ours, given to the heap for good.
    match unsafe { registry::register(caps, p.addr(), p.addr() + len, delta, kind) } {
        Ok(e) => Some(e),
        Err(_) => {
            // SAFETY: our own fresh mappings, unused.
            unsafe {
                let _ = mm::munmap(p, len);
                if !alias.is_null() {
                    let _ = mm::munmap(alias, len);
                }
            }
            None
        }
    }
}

fn map_exec(len: usize, caps: [u32; PRIOS]) -> Option<&'static Entry> {
    // MFD_EXEC: executable even where `vm.memfd_noexec` makes memfds
    // non-executable by default (Linux 6.3 on); older kernels refuse the
    // flag, and their memfds are executable anyway.
    let fd = match mm::memfd_create(c"rawrt-exec", MFD_CLOEXEC | MFD_EXEC) {
        Err(crate::sys::Errno::EINVAL) => mm::memfd_create(c"rawrt-exec", MFD_CLOEXEC),
        r => r,
    }
    .ok()?;
    let views = (|| {
        io::ftruncate(fd, len as i64).ok()?;
        // SAFETY: no MAP_FIXED: the kernel picks free ranges.
        let rw =
            unsafe { mm::mmap(null_mut(), len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) }.ok()?;
        // SAFETY: as above.
        match unsafe { mm::mmap(null_mut(), len, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0) } {
            Ok(rx) => Some((rw, rx)),
            Err(_) => {
                // SAFETY: our own fresh mapping.
                let _ = unsafe { mm::munmap(rw, len) };
                None
            }
        }
    })();
    let _ = io::close(fd);
    let (rw, rx) = views?;
    register(rw, len, rx.addr().wrapping_sub(rw.addr()), caps, Kind::Exec, rx)
}

fn map_dma(len: usize, caps: [u32; PRIOS]) -> Option<&'static Entry> {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
    // SAFETY: no MAP_FIXED: the kernel picks a free range.
    let p = unsafe { mm::mmap(null_mut(), len, PROT_READ | PROT_WRITE, flags, -1, 0) }.ok()?;
    if mm::mlock(p, len).is_err() {
        // SAFETY: our own fresh mapping.
        let _ = unsafe { mm::munmap(p, len) };
        return None;
    }
    register(p, len, 0, caps, Kind::Dma, null_mut())
}

fn map_spiram(len: usize, caps: [u32; PRIOS]) -> Option<&'static Entry> {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    // SAFETY: no MAP_FIXED: the kernel picks a free range.
    let p = unsafe { mm::mmap(null_mut(), len, PROT_READ | PROT_WRITE, flags, -1, 0) }.ok()?;
    // Only advice: a kernel without transparent huge pages refuses it.
    // SAFETY: our own mapping.
    let _ = unsafe { mm::madvise(p, len, MADV_HUGEPAGE) };
    register(p, len, 0, caps, Kind::Spiram, null_mut())
}

/// The writable alias of `p`, a pointer into an executable heap's block
/// (`heap_caps_exec_writable`): the same bytes, mapped read+write. Null
/// for a pointer no executable heap holds.
pub fn exec_writable(p: *const u8) -> *mut u8 {
    match registry::owner(p.addr()) {
        Some(e) if e.kind == Kind::Exec => e.inner(p.cast_mut()),
        _ => null_mut(),
    }
}

/// Makes `len` bytes of machine code written through the writable alias
/// of `p` (see [`exec_writable`]) visible to instruction fetches at `p`
/// (`heap_caps_exec_sync`): the instruction-cache maintenance aarch64 and
/// riscv64 need (nothing on x86_64). False if no executable heap holds
/// `[p, p + len)`.
pub fn exec_sync(p: *const u8, len: usize) -> bool {
    match registry::owner(p.addr()) {
        Some(e) if e.kind == Kind::Exec && len <= e.end - p.addr() => {
            // SAFETY: both views of the range are mapped, for the life of
            // the process.
            unsafe { mm::sync_icache(e.inner(p.cast_mut()).addr(), p.addr(), len) };
            true
        }
        _ => false,
    }
}

/// The complement of the size from which plain `malloc` requests that the
/// thread cache cannot serve try external memory first
/// (`heap_caps_malloc_extmem_enable`); 0 (a limit of `usize::MAX`):
/// never. Complemented so that it starts all-zero, in `.bss`.
static EXTMEM_LIMIT_NOT: AtomicUsize = AtomicUsize::new(0);

/// 0, or the address of [`extmem_first_in`] once external memory is
/// enabled: a program that never enables it links none of it (an address,
/// not a pointer, so that LLVM does not call the target directly).
static EXTMEM_FIRST: AtomicUsize = AtomicUsize::new(0);

/// `heap_caps_malloc_extmem_enable(limit)`: plain `malloc` of at least
/// `limit` bytes tries external memory ([`MALLOC_CAP_SPIRAM`]) first, and
/// the process heap if that fails. A limit at or below the largest size
/// of the thread caches' small bins ([`CACHE_MAX`](crate::heap::CACHE_MAX),
/// 1 KiB) is raised above it: those requests keep malloc's inlined fast
/// path. (Medium requests at or above the limit go to external memory
/// first, as asked, not to the caches' medium bins.)
pub fn extmem_enable(limit: usize) {
    type First = fn(usize, usize, bool, &'static str) -> Option<NonNull<u8>>;
    EXTMEM_FIRST.store(extmem_first_in as First as usize, Ordering::Release);
    EXTMEM_LIMIT_NOT.store(!limit.max(crate::heap::CACHE_MAX + 1), Ordering::Release);
}

/// The limit [`extmem_enable`] set (`usize::MAX` before).
#[inline]
pub fn extmem_limit() -> usize {
    !EXTMEM_LIMIT_NOT.load(Ordering::Acquire)
}

/// `malloc`'s slow path for a request that external memory is enabled
/// for: there first, then the process heap. Out of line, so that the
/// usual path stays a compare and a tail call.
#[cold]
#[inline(never)]
pub(super) fn extmem_first(
    size: usize,
    align: usize,
    zero: bool,
    func: &'static str,
) -> Option<NonNull<u8>> {
    match EXTMEM_FIRST.load(Ordering::Acquire) {
        0 => crate::heap::process().allocate_slow(size, align, zero, func),
        f => {
            type First = fn(usize, usize, bool, &'static str) -> Option<NonNull<u8>>;
            // SAFETY: a non-zero `EXTMEM_FIRST` is `extmem_first_in`'s
            // address, stored with this very type.
            unsafe { core::mem::transmute::<usize, First>(f)(size, align, zero, func) }
        }
    }
}

/// [`extmem_first`] once enabled.
fn extmem_first_in(
    size: usize,
    align: usize,
    zero: bool,
    func: &'static str,
) -> Option<NonNull<u8>> {
    super::walk::alloc(size, align, zero, MALLOC_CAP_SPIRAM, func)
        .or_else(|| crate::heap::process().allocate_slow(size, align, zero, func))
}
