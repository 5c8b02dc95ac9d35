//! The page allocator: a granule allocator with 4096-byte granules over a
//! region reserved with `mmap` (NuttX's `mm_pgalloc` family).
//!
//! Layout of the mapping: the bitmap first, rounded up to whole pages, then
//! exactly `npages` pages of granules. The mapping is owned by the
//! allocator and unmapped when it is dropped. Invariants are those of
//! [`Gran`], with `log2gran = log2align = 12`.

use core::ptr::NonNull;

use super::bitmap::words_for;
use super::granule::GranInner;
use super::{Gran, GranError, GranInfo};
use crate::sys::mm;

/// Statistics of the page allocator (NuttX's `struct pginfo_s`, plus the
/// page size).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PageInfo {
    /// Bytes per page (4096).
    pub page_size: usize,
    /// Pages managed.
    pub total: usize,
    /// Free pages.
    pub free: usize,
    /// The longest run of free pages.
    pub mxfree: usize,
}

/// The process's page allocator (NuttX's `mm_pgalloc` and `mm_pgfree`),
/// empty until [`Pages::map`] (C's `rawrt_pages_init`) reserves its pages.
pub static PAGES: Pages = Pages::empty();

/// A page allocator. It may be created empty in a `static` and mapped
/// later ([`Pages::empty`] + [`Pages::map`]), or mapped at once
/// ([`Pages::init`]).
pub struct Pages {
    gran: Gran,
}

impl Pages {
    /// Bytes per page.
    pub const PAGE_SIZE: usize = 1 << Self::PAGE_SHIFT;
    /// Log base 2 of [`Pages::PAGE_SIZE`].
    pub const PAGE_SHIFT: u8 = 12;

    /// An allocator with no pages: every allocation fails with
    /// [`GranError::NoMemory`] until [`Pages::map`] succeeds.
    pub const fn empty() -> Pages {
        Pages { gran: Gran::empty() }
    }

    /// **Makes system calls (`mmap`).** A page allocator over `npages`
    /// fresh pages of anonymous memory (`rawrt_pages_init`).
    pub fn init(npages: usize) -> Result<Pages, GranError> {
        let pages = Pages::empty();
        pages.map(npages)?;
        Ok(pages)
    }

    /// **Makes system calls (`mmap`).** Reserves `npages` pages of
    /// anonymous memory (plus the pages holding the bitmap) and manages
    /// them. Errors: [`GranError::Busy`] if already mapped,
    /// [`GranError::InvalidArgument`] for zero or an absurd count,
    /// [`GranError::Map`] if `mmap` fails.
    pub fn map(&self, npages: usize) -> Result<(), GranError> {
        let mut g = self.gran.inner.lock();
        if g.owned_map.1 != 0 || g.ngranules != 0 {
            return Err(GranError::Busy);
        }
        if npages == 0 || npages > (isize::MAX as usize >> Self::PAGE_SHIFT) / 2 {
            return Err(GranError::InvalidArgument);
        }
        let nwords = 2 * words_for(npages); // allocated bits and starts
        let bitmap_bytes = (nwords * 8).next_multiple_of(Self::PAGE_SIZE);
        let heap_bytes = npages << Self::PAGE_SHIFT;
        let len = bitmap_bytes + heap_bytes;
        let base = mm::mmap_anonymous(len).map_err(GranError::Map)?;
        // SAFETY: the fresh mapping is ours; the bitmap takes its first
        // `bitmap_bytes` and the granules the rest, page-aligned.
        let gran = unsafe {
            Gran::with_bitmap(
                base.add(bitmap_bytes),
                heap_bytes,
                Self::PAGE_SHIFT,
                Self::PAGE_SHIFT,
                base.cast::<u64>(),
                nwords,
            )
        };
        match gran {
            Ok(mut gran) => {
                let mut inner = core::mem::replace(gran.inner.get_mut(), GranInner::EMPTY);
                debug_assert_eq!(inner.ngranules, npages);
                inner.owned_map = (base, len);
                *g = inner;
                Ok(())
            }
            Err(e) => {
                // SAFETY: the mapping was just made and nothing uses it.
                let _ = unsafe { mm::munmap(base, len) };
                Err(e)
            }
        }
    }

    /// `mm_pgalloc`: `npages` contiguous pages, page-aligned. Errors:
    /// [`GranError::InvalidArgument`] for zero, [`GranError::NoMemory`] if
    /// no run of free pages is long enough.
    pub fn alloc(&self, npages: usize) -> Result<NonNull<u8>, GranError> {
        let size = npages.checked_mul(Self::PAGE_SIZE).ok_or(GranError::NoMemory)?;
        self.gran.alloc(size)
    }

    /// `mm_pgfree`: returns `npages` pages from `addr`. Every page must be
    /// allocated; otherwise nothing changes and the error says why (see
    /// [`Gran::free`]).
    ///
    /// # Safety
    /// Nothing may use the pages afterwards.
    pub unsafe fn free(&self, addr: *mut u8, npages: usize) -> Result<(), GranError> {
        let size = npages.checked_mul(Self::PAGE_SIZE).ok_or(GranError::OutOfRange)?;
        // SAFETY: forwarded from the caller.
        unsafe { self.gran.free(addr, size) }
    }

    /// [`free`](Self::free) for interfaces that cannot return an error
    /// (NuttX's `mm_pgfree`): pages that are not allocated are reported on
    /// stderr as `rawrt: FUNC(): what of 0x...` and abort.
    ///
    /// # Safety
    /// As for `free`.
    pub unsafe fn free_or_abort(&self, addr: *mut u8, npages: usize, func: &'static str) {
        // SAFETY: forwarded contract; bad ranges are detected.
        if let Err(e) = unsafe { self.free(addr, npages) } {
            crate::rt::fatal(func, e.message(), addr as usize)
        }
    }

    /// Page statistics (`mm_pginfo`).
    pub fn info(&self) -> PageInfo {
        let GranInfo { ngranules, nfree, mxfree, .. } = self.gran.info();
        PageInfo { page_size: Self::PAGE_SIZE, total: ngranules, free: nfree, mxfree }
    }

    /// The underlying granule allocator.
    pub fn gran(&self) -> &Gran {
        &self.gran
    }
}

impl Default for Pages {
    fn default() -> Self {
        Pages::empty()
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // The granule allocator's own drop sees it empty: the pages are
        // unmapped here, not handed back to an owner.
        let g = core::mem::replace(self.gran.inner.get_mut(), GranInner::EMPTY);
        let (base, len) = g.owned_map;
        if len != 0 {
            crate::rt::valgrind::destroy_pool(g.pool(), core::ptr::null(), 0);
            // SAFETY: the mapping belongs to this allocator. Pages it handed
            // out are raw pointers whose use after this point would be the
            // holder's (unsafe) error.
            let _ = unsafe { mm::munmap(base, len) };
        }
    }
}
