//! Where a heap's memory comes from: the [`Source`] trait and the
//! fixed-region source.

/// A span of memory handed to or given back by a heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub base: usize,
    /// Length in bytes.
    pub len: usize,
    /// The source's own tag for the span (e.g. brk or mmap); opaque to the
    /// heap, which only compares it to decide whether two spans can merge.
    pub kind: u8,
    /// Whether every byte is known to be zero (fresh from the kernel).
    pub zeroed: bool,
}

impl Span {
    /// One past the last byte.
    #[inline]
    pub fn end(&self) -> usize {
        self.base + self.len
    }
}

/// How many memory system calls a source has made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysCounters {
    /// `brk` calls (queries included).
    pub brk: usize,
    /// `mmap` calls.
    pub mmap: usize,
    /// `munmap` calls.
    pub munmap: usize,
    /// `mremap` calls.
    pub mremap: usize,
    /// `madvise` calls.
    pub madvise: usize,
}

impl SysCounters {
    /// No calls yet.
    pub const ZERO: SysCounters = SysCounters { brk: 0, mmap: 0, munmap: 0, mremap: 0, madvise: 0 };
}

/// A supplier of memory for a heap.
///
/// The heap asks for *segments* with [`grow`](Source::grow); a span that
/// starts exactly at the end of the current top segment (and has the same
/// `kind`) extends it, any other span becomes a new segment. Large blocks
/// get their own mappings through `map`/`unmap`/`remap` when
/// [`can_map`](Source::can_map) is true.
///
/// # Safety
/// Every span returned by `grow` and every mapping returned by `map` or
/// `remap` must be readable and writable, 8-aligned, disjoint from all
/// other memory the heap owns, and stay valid until the heap gives it
/// back. A source must never call into the heap that owns it.
pub unsafe trait Source {
    /// Whether heaps over this source can take a caller's lock around
    /// their own (`Heap::set_external_lock`); false compiles the check
    /// away.
    const EXTERNAL_LOCK: bool = false;

    /// More memory: at least `min` bytes. `top` is the heap's current top
    /// segment, which the source should extend in place if it can.
    fn grow(&mut self, top: Option<Span>, min: usize) -> Option<Span>;

    /// Gives back the tail of segment `seg` beyond `new_len` (a multiple
    /// of the page size). Returns whether it was given back.
    ///
    /// # Safety
    /// Nothing may use the tail afterwards.
    unsafe fn shrink(&mut self, seg: Span, new_len: usize) -> bool;

    /// Gives back a whole segment. Returns whether it was given back.
    ///
    /// # Safety
    /// Nothing may use the segment afterwards.
    unsafe fn release(&mut self, seg: Span) -> bool;

    /// Discards the contents of the whole pages `[base, base+len)` (they
    /// read as zero afterwards). Returns whether it did.
    ///
    /// # Safety
    /// Nothing may need the contents.
    unsafe fn purge(&mut self, base: usize, len: usize) -> bool;

    /// Whether [`map`](Source::map) can ever succeed.
    fn can_map(&self) -> bool;

    /// A new zero-filled mapping of `len` bytes (a page multiple).
    fn map(&mut self, len: usize) -> Option<usize>;

    /// Gives back a mapping from `map` or `remap`.
    ///
    /// # Safety
    /// Nothing may use the mapping afterwards.
    unsafe fn unmap(&mut self, base: usize, len: usize);

    /// Resizes a mapping, moving it if needed; `None` leaves it intact.
    ///
    /// # Safety
    /// On success no pointer into the old mapping stays valid.
    unsafe fn remap(&mut self, base: usize, old: usize, new: usize) -> Option<usize>;

    /// Whether the system ever refused this source memory (a growth or a
    /// mapping): a memory limit is near, and the heap keeps less memory
    /// aside from its free lists (the thread caches' medium bins, see
    /// `tcache`). False by default.
    fn refused(&self) -> bool {
        false
    }

    /// The page size that `shrink`, `purge` and `map` work in.
    fn page_size(&mut self) -> usize;

    /// The system calls made so far.
    fn counters(&self) -> SysCounters;

    /// A monotonic clock in milliseconds, read when the heap checks
    /// whether dirty memory stayed unused long enough to be purged (rarely:
    /// see `decay.rs`); `None` without one (the heap then measures age in
    /// checks).
    fn now_ms(&mut self) -> Option<u64> {
        None
    }

    /// A pointer whose provenance covers every span and mapping this
    /// source hands out, or null when they are reached through exposed
    /// provenance (memory from the kernel). Used under Miri, which checks
    /// strict provenance (see [`Mem`](super::block::Mem)).
    fn root(&self) -> *mut u8 {
        core::ptr::null_mut()
    }
}

/// A fixed region handed over by the caller: one segment, never grows,
/// never maps.
pub struct RegionSource {
    region: Option<Span>,
    /// The first region's pointer (its provenance is exposed: the heap
    /// reaches blocks by address).
    root: *mut u8,
}

// SAFETY: the region is exclusively owned by the heap that owns the source.
unsafe impl Send for RegionSource {}

impl RegionSource {
    /// A source that hands out the `len` bytes at `base` once.
    ///
    /// # Safety
    /// The region must be valid for reads and writes, and used by nothing
    /// else, for as long as the heap lives.
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        let span = Span { base: base.expose_provenance(), len, kind: 0, zeroed: false };
        RegionSource { region: Some(span), root: base }
    }

    /// Queues one more region, handed out at the next `grow` (NuttX's
    /// `mm_addregion`). False if one is queued already. (Under Miri, which
    /// checks strict provenance, the heap forms every pointer from the
    /// first region's: its provenance must cover this region too, e.g. both
    /// derived from one buffer's pointer. Natively the heap reaches every
    /// region through exposed provenance.)
    ///
    /// # Safety
    /// As for [`RegionSource::new`].
    pub unsafe fn add(&mut self, base: *mut u8, len: usize) -> bool {
        if self.region.is_some() {
            return false;
        }
        let base = base.expose_provenance();
        self.region = Some(Span { base, len, kind: 0, zeroed: false });
        true
    }
}

// SAFETY: the region is valid and exclusive by `RegionSource::new`'s
// contract, and is handed out at most once.
unsafe impl Source for RegionSource {
    const EXTERNAL_LOCK: bool = true;

    fn grow(&mut self, _top: Option<Span>, _min: usize) -> Option<Span> {
        self.region.take()
    }
    unsafe fn shrink(&mut self, _seg: Span, _new_len: usize) -> bool {
        false
    }
    unsafe fn release(&mut self, _seg: Span) -> bool {
        false
    }
    unsafe fn purge(&mut self, _base: usize, _len: usize) -> bool {
        false
    }
    fn can_map(&self) -> bool {
        false
    }
    fn map(&mut self, _len: usize) -> Option<usize> {
        None
    }
    unsafe fn unmap(&mut self, _base: usize, _len: usize) {}
    unsafe fn remap(&mut self, _base: usize, _old: usize, _new: usize) -> Option<usize> {
        None
    }
    fn page_size(&mut self) -> usize {
        4096
    }
    fn counters(&self) -> SysCounters {
        SysCounters::default()
    }
    fn root(&self) -> *mut u8 {
        self.root
    }
}
