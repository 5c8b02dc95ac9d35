//! One interface over every allocator compared: rawrt's region heap (and
//! its process heap), talc, rlsf, dlmalloc, linked_list_allocator,
//! buddy_system_allocator, and glibc's malloc for reference. Region
//! allocators are all built over the same region; none is locked (rawrt's
//! lock costs nothing in a single-threaded process, talc is used through
//! its `!Sync` `TalcCell`, the others directly through `&mut`).

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::{null_mut, NonNull};

/// An allocator under test. `realloc` defaults to allocate, copy, free
/// (for allocators that have no realloc of their own).
pub trait Alloc {
    /// Builds the allocator over `[base, base + len)` (ignored by the
    /// non-region allocators).
    ///
    /// # Safety
    /// The region is valid and used by nothing else while `Self` lives.
    unsafe fn new(base: *mut u8, len: usize) -> Self;

    /// # Safety
    /// `layout` has a non-zero size.
    unsafe fn alloc(&mut self, layout: Layout) -> *mut u8;

    /// # Safety
    /// `p` is a live block of this allocator allocated with `layout`.
    unsafe fn dealloc(&mut self, p: *mut u8, layout: Layout);

    /// # Safety
    /// As for `dealloc`; on null the old block is intact.
    unsafe fn realloc(&mut self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            let q = self.alloc(Layout::from_size_align_unchecked(new, layout.align()));
            if !q.is_null() {
                std::ptr::copy_nonoverlapping(p, q, layout.size().min(new));
                self.dealloc(p, layout);
            }
            q
        }
    }
}

/// rawrt's region heap as `Heap::from_raw` builds it.
pub struct Rawrt(rawrt::heap::Heap<rawrt::heap::RegionSource>);

impl Alloc for Rawrt {
    unsafe fn new(base: *mut u8, len: usize) -> Self {
        // SAFETY: forwarded contract.
        Rawrt(unsafe { rawrt::heap::Heap::from_raw(base, len) })
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0.alloc(l).map_or(null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&mut self, p: *mut u8, _l: Layout) {
        // SAFETY: a live block.
        unsafe { self.0.dealloc(NonNull::new_unchecked(p)) }.expect("rawrt dealloc");
    }
    unsafe fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: a live block.
        match unsafe { self.0.realloc(NonNull::new_unchecked(p), l, new) } {
            Ok(q) => q.as_ptr(),
            Err(rawrt::heap::HeapError::OutOfMemory) => null_mut(),
            Err(e) => panic!("rawrt realloc: {e:?}"),
        }
    }
}

/// rawrt's process-heap configuration (trimming, large blocks in their own
/// mappings; no thread caches, which need rawrt's own threads) over an
/// mmap-only source. Not
/// `rawrt::heap::process()` itself: that one moves the program break with
/// raw `brk` calls, and glibc (in this std program) caches the break in
/// `sbrk` and later hands out memory that overlaps rawrt's segment. The C
/// benchmark measures the real brk-based process heap.
pub static HOSTED_HEAP: rawrt::heap::Heap<rawrt::heap::ProcessSource> =
    rawrt::heap::Heap::with_source(rawrt::heap::ProcessSource::mmap_only(rawrt::heap::LinuxOs));

/// [`HOSTED_HEAP`] through the `Alloc` interface.
pub struct RawrtProcess;

impl Alloc for RawrtProcess {
    unsafe fn new(_: *mut u8, _: usize) -> Self {
        RawrtProcess
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        HOSTED_HEAP.alloc(l).map_or(null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&mut self, p: *mut u8, _l: Layout) {
        // SAFETY: a live block.
        unsafe { HOSTED_HEAP.dealloc(NonNull::new_unchecked(p)) }.expect("rawrt dealloc");
    }
    unsafe fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: a live block.
        match unsafe { HOSTED_HEAP.realloc(NonNull::new_unchecked(p), l, new) } {
            Ok(q) => q.as_ptr(),
            Err(rawrt::heap::HeapError::OutOfMemory) => null_mut(),
            Err(e) => panic!("rawrt realloc: {e:?}"),
        }
    }
}

/// glibc's malloc (std's `System` on Linux).
pub struct Glibc;

impl Alloc for Glibc {
    unsafe fn new(_: *mut u8, _: usize) -> Self {
        Glibc
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.realloc(p, l, new) }
    }
}

/// talc 5 over the region (`Manual` source, `claim`ed once).
pub struct Talc(talc::cell::TalcCell<talc::source::Manual, talc::DefaultBinning>);

impl Alloc for Talc {
    unsafe fn new(base: *mut u8, len: usize) -> Self {
        let t = talc::cell::TalcCell::new(talc::source::Manual);
        // SAFETY: forwarded contract.
        unsafe { t.claim(base, len) }.expect("talc claim");
        Talc(t)
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.0.alloc(l) }
    }
    unsafe fn dealloc(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { self.0.dealloc(p, l) }
    }
    unsafe fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.0.realloc(p, l, new) }
    }
}

type TlsfInner =
    rlsf::Tlsf<'static, usize, usize, { usize::BITS as usize - 12 }, { usize::BITS as usize }>;

/// rlsf (TLSF) with the region inserted as one free block.
pub struct Rlsf(TlsfInner);

impl Alloc for Rlsf {
    unsafe fn new(base: *mut u8, len: usize) -> Self {
        let mut t = TlsfInner::new();
        // SAFETY: forwarded contract.
        unsafe {
            t.insert_free_block_ptr(NonNull::slice_from_raw_parts(
                NonNull::new_unchecked(base),
                len,
            ))
        }
        .expect("rlsf insert");
        Rlsf(t)
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0.allocate(l).map_or(null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { self.0.deallocate(NonNull::new_unchecked(p), l.align()) }
    }
    unsafe fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            self.0
                .reallocate(
                    NonNull::new_unchecked(p),
                    Layout::from_size_align_unchecked(new, l.align()),
                )
                .map_or(null_mut(), |p| p.as_ptr())
        }
    }
}

/// dlmalloc's system interface turned into "one region, once".
pub struct DlArena {
    base: *mut u8,
    len: usize,
    given: std::cell::Cell<bool>,
}

// SAFETY: used from one thread; the region outlives the allocator.
unsafe impl Send for DlArena {}

// SAFETY: hands out the caller's region once, marked external (flag 1) so
// dlmalloc never tries to release or merge it.
unsafe impl dlmalloc::Allocator for DlArena {
    fn alloc(&self, _size: usize) -> (*mut u8, usize, u32) {
        if self.given.replace(true) {
            (null_mut(), 0, 0)
        } else {
            (self.base, self.len, 1)
        }
    }
    fn remap(&self, _: *mut u8, _: usize, _: usize, _: bool) -> *mut u8 {
        null_mut()
    }
    fn free_part(&self, _: *mut u8, _: usize, _: usize) -> bool {
        false
    }
    fn free(&self, _: *mut u8, _: usize) -> bool {
        false
    }
    fn can_release_part(&self, _: u32) -> bool {
        false
    }
    fn allocates_zeros(&self) -> bool {
        false
    }
    fn page_size(&self) -> usize {
        4096
    }
}

/// dlmalloc (the Rust port) over the region. Boxed: it points into itself
/// once used.
pub struct Dlmalloc(Box<dlmalloc::Dlmalloc<DlArena>>);

impl Alloc for Dlmalloc {
    unsafe fn new(base: *mut u8, len: usize) -> Self {
        Dlmalloc(Box::new(dlmalloc::Dlmalloc::new_with_allocator(DlArena {
            base,
            len,
            given: std::cell::Cell::new(false),
        })))
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.0.malloc(l.size(), l.align()) }
    }
    unsafe fn dealloc(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { self.0.free(p, l.size(), l.align()) }
    }
    unsafe fn realloc(&mut self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.0.realloc(p, l.size(), l.align(), new) }
    }
}

/// linked_list_allocator (first fit over address-ordered holes).
pub struct Lla(linked_list_allocator::Heap);

impl Alloc for Lla {
    unsafe fn new(base: *mut u8, len: usize) -> Self {
        // SAFETY: forwarded contract.
        Lla(unsafe { linked_list_allocator::Heap::new(base, len) })
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0
            .allocate_first_fit(l)
            .map_or(null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { self.0.deallocate(NonNull::new_unchecked(p), l) }
    }
}

/// buddy_system_allocator.
pub struct Buddy(Box<buddy_system_allocator::Heap<33>>);

impl Alloc for Buddy {
    unsafe fn new(base: *mut u8, len: usize) -> Self {
        let mut h = Box::new(buddy_system_allocator::Heap::<33>::new());
        // SAFETY: forwarded contract.
        unsafe { h.init(base as usize, len) };
        Buddy(h)
    }
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.0.alloc(l).map_or(null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        self.0.dealloc(unsafe { NonNull::new_unchecked(p) }, l)
    }
}
