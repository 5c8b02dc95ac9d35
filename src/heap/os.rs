//! The memory system calls a [`ProcessSource`](super::ProcessSource)
//! makes, behind a trait so that hosted tests can drive the real
//! grow/shrink logic with a simulated program break.

use crate::sys::mm;

/// The kernel's memory calls, as the process source uses them.
///
/// # Safety
/// Implementations must behave like the Linux calls: `brk` returns the
/// break in effect afterwards, `mmap` returns fresh zero-filled private
/// read-write memory, and so on.
pub unsafe trait Os {
    /// `brk(addr)`; `0` queries. Returns the break in effect afterwards.
    ///
    /// # Safety
    /// Lowering the break unmaps memory that nothing may use any more.
    unsafe fn brk(&mut self, addr: usize) -> usize;
    /// Anonymous private read-write memory of `len` bytes.
    fn mmap(&mut self, len: usize) -> Option<usize>;
    /// `munmap`.
    ///
    /// # Safety
    /// Nothing may use the range afterwards.
    unsafe fn munmap(&mut self, base: usize, len: usize) -> bool;
    /// `mremap`, in place only unless `may_move`.
    ///
    /// # Safety
    /// On success with a move, the old range is gone.
    unsafe fn mremap(
        &mut self,
        base: usize,
        old: usize,
        new: usize,
        may_move: bool,
    ) -> Option<usize>;
    /// `madvise(MADV_DONTNEED)`.
    ///
    /// # Safety
    /// The contents of the range are discarded.
    unsafe fn dontneed(&mut self, base: usize, len: usize) -> bool;
    /// The page size.
    fn page_size(&mut self) -> usize;
    /// Reserves `len` bytes of address space, inaccessible and not
    /// counted as memory (`mmap` with `PROT_NONE` and `MAP_NORESERVE`);
    /// `None` if refused. The default refuses: an `Os` without
    /// reservations gives no thread arenas.
    fn reserve(&mut self, len: usize) -> Option<usize> {
        let _ = len;
        None
    }
    /// Makes `[base, base+len)`, inside a reservation, readable and
    /// writable (`mprotect`); its pages read as zero until written.
    ///
    /// # Safety
    /// The range lies in a reservation this process made.
    unsafe fn commit(&mut self, base: usize, len: usize) -> bool {
        let _ = (base, len);
        false
    }
    /// Gives `[base, base+len)`, inside a reservation, back to the kernel
    /// and makes it inaccessible again (a `PROT_NONE`, `MAP_NORESERVE`
    /// mapping put over it with `MAP_FIXED`).
    ///
    /// # Safety
    /// The range lies in a reservation; nothing may use it afterwards.
    unsafe fn decommit(&mut self, base: usize, len: usize) -> bool {
        let _ = (base, len);
        false
    }
    /// The program break as the latest `brk` call in the process left it,
    /// when every move of the break goes through calls that this layer
    /// sees (so that a move by someone else shows as a break other than
    /// the one the source set); `None` when that is not known, and the
    /// source asks the kernel with `brk(0)`.
    fn known_brk(&mut self) -> Option<usize> {
        None
    }
    /// A monotonic clock in milliseconds, read when the heap checks
    /// whether dirty memory has stayed unused long enough to be purged;
    /// `None` without one (the heap then measures age in checks).
    fn now_ms(&mut self) -> Option<u64> {
        None
    }
    /// A pointer whose provenance covers all memory these calls hand out
    /// (see [`Source::root`](super::Source::root)); null for the kernel's.
    fn root(&self) -> *mut u8 {
        core::ptr::null_mut()
    }
}

/// The real kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinuxOs;

// SAFETY: these are the Linux calls themselves.
unsafe impl Os for LinuxOs {
    #[inline]
    unsafe fn brk(&mut self, addr: usize) -> usize {
        // Built without C names, rawrt lives inside another C library whose
        // `sbrk` remembers the break it last set: move the break through
        // that library so that its idea of the break stays true.
        #[cfg(all(not(test), not(feature = "cabi")))]
        {
            extern "C" {
                fn brk(addr: *mut u8) -> i32;
                fn sbrk(incr: isize) -> *mut u8;
            }
            // SAFETY: the host C library's own brk/sbrk; the caller vouches
            // for lowering.
            unsafe {
                if addr != 0 {
                    brk(addr as *mut u8);
                }
                sbrk(0) as usize
            }
        }
        #[cfg(any(test, feature = "cabi"))]
        // SAFETY: the caller vouches for lowering.
        unsafe {
            mm::brk(addr)
        }
    }
    fn mmap(&mut self, len: usize) -> Option<usize> {
        mm::mmap_anonymous(len).ok().map(|p| p as usize)
    }
    unsafe fn munmap(&mut self, base: usize, len: usize) -> bool {
        // SAFETY: the caller gives the range up.
        unsafe { mm::munmap(base as *mut u8, len) }.is_ok()
    }
    unsafe fn mremap(
        &mut self,
        base: usize,
        old: usize,
        new: usize,
        may_move: bool,
    ) -> Option<usize> {
        let flags = if may_move { mm::MREMAP_MAYMOVE } else { 0 };
        // SAFETY: the caller accepts that the mapping moves.
        unsafe { mm::mremap(base as *mut u8, old, new, flags, core::ptr::null_mut()) }
            .ok()
            .map(|p| p as usize)
    }
    unsafe fn dontneed(&mut self, base: usize, len: usize) -> bool {
        // SAFETY: the caller no longer needs the contents.
        unsafe { mm::madvise(base as *mut u8, len, mm::MADV_DONTNEED) }.is_ok()
    }
    fn page_size(&mut self) -> usize {
        crate::rt::page_size()
    }
    fn reserve(&mut self, len: usize) -> Option<usize> {
        const FLAGS: u32 = mm::MAP_PRIVATE | mm::MAP_ANONYMOUS | mm::MAP_NORESERVE;
        // SAFETY: without MAP_FIXED the kernel picks an unused range.
        unsafe { mm::mmap(core::ptr::null_mut(), len, mm::PROT_NONE, FLAGS, -1, 0) }
            .ok()
            .map(|p| p as usize)
    }
    unsafe fn commit(&mut self, base: usize, len: usize) -> bool {
        // SAFETY: the range is in our own reservation.
        unsafe { mm::mprotect(base as *mut u8, len, mm::PROT_READ | mm::PROT_WRITE) }.is_ok()
    }
    unsafe fn decommit(&mut self, base: usize, len: usize) -> bool {
        const FLAGS: u32 = mm::MAP_PRIVATE | mm::MAP_ANONYMOUS | mm::MAP_NORESERVE | mm::MAP_FIXED;
        // SAFETY: the range is in our own reservation and the caller gives
        // it up; MAP_FIXED replaces only that range.
        unsafe { mm::mmap(base as *mut u8, len, mm::PROT_NONE, FLAGS, -1, 0) }.is_ok()
    }
    fn known_brk(&mut self) -> Option<usize> {
        // With C names rawrt is the process's C library: every `brk` and
        // `sbrk` goes through `mm::brk`, which records the kernel's answer.
        // Inside another C library (or a hosted test, under glibc's
        // malloc) the break is that library's: ask.
        #[cfg(all(not(test), feature = "cabi"))]
        match mm::last_brk() {
            0 => None,
            b => Some(b),
        }
        #[cfg(any(test, not(feature = "cabi")))]
        None
    }
    fn now_ms(&mut self) -> Option<u64> {
        let t = crate::rt::clock_gettime(crate::sys::time::CLOCK_MONOTONIC).ok()?;
        Some(t.sec as u64 * 1000 + t.nsec as u64 / 1_000_000)
    }
}
