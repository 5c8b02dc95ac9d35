//! A simulated kernel for hosted tests, over one memory arena: the program
//! break lives in its first part, mappings in the rest (first fit over a
//! table of live mappings), with injectable refusals and foreign break
//! moves (seen by the process's record of the break, as a program's
//! `sbrk` through rawrt is, or unseen), a clock the test sets, and a count
//! of each call; every call is checked against the memory the heap owns.
//!
//! Natively the arena is a real `PROT_NONE` reservation whose pages become
//! accessible only while they are part of the break or of a mapping, so a
//! stray access faults. Under Miri (which cannot make system calls) it is
//! a zeroed allocation from std, whose pointer is the heap's provenance
//! root ([`Os::root`]): an access outside the arena is an error Miri
//! reports, and pages given back are zeroed as the kernel would.

use std::collections::BTreeMap;

use super::os::Os;

const PAGE: usize = 4096;
/// Bytes of the mapping area after the break area.
const MAP_AREA: usize = if cfg!(miri) { 32 << 20 } else { 4 << 30 };

/// The arena: its base pointer and length.
struct Arena {
    base: *mut u8,
    len: usize,
}

impl Arena {
    #[cfg(not(miri))]
    fn new(len: usize) -> Arena {
        use crate::sys::mm;
        // SAFETY: a fresh PROT_NONE reservation at a kernel-chosen address.
        let base = unsafe {
            mm::mmap(
                core::ptr::null_mut(),
                len,
                mm::PROT_NONE,
                mm::MAP_PRIVATE | mm::MAP_ANONYMOUS | mm::MAP_NORESERVE,
                -1,
                0,
            )
        }
        .expect("reserve the arena");
        Arena { base, len }
    }

    #[cfg(miri)]
    fn new(len: usize) -> Arena {
        let layout = std::alloc::Layout::from_size_align(len, PAGE).unwrap();
        // SAFETY: a non-zero size.
        let base = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!base.is_null());
        Arena { base, len }
    }

    /// Makes `[lo, hi)` (page-rounded) usable, reading as zeros.
    fn open(&self, lo: usize, hi: usize) {
        let (lo, hi) = (lo.next_multiple_of(PAGE), hi.next_multiple_of(PAGE));
        if hi <= lo {
            return;
        }
        #[cfg(not(miri))]
        {
            use crate::sys::mm;
            let p = self.base.with_addr(lo);
            // SAFETY: the range is inside our reservation.
            unsafe { mm::mprotect(p, hi - lo, mm::PROT_READ | mm::PROT_WRITE) }.expect("mprotect");
        }
        #[cfg(miri)]
        self.zero(lo, hi);
    }

    /// Gives `[lo, hi)` (page-rounded) back: it faults natively, and reads
    /// as zeros when opened again.
    fn close(&self, lo: usize, hi: usize) {
        let (lo, hi) = (lo.next_multiple_of(PAGE), hi.next_multiple_of(PAGE));
        if hi <= lo {
            return;
        }
        #[cfg(not(miri))]
        {
            use crate::sys::mm;
            let p = self.base.with_addr(lo);
            // SAFETY: discarding pages of our reservation, as the kernel does.
            unsafe {
                mm::madvise(p, hi - lo, mm::MADV_DONTNEED).expect("madvise");
                mm::mprotect(p, hi - lo, mm::PROT_NONE).expect("mprotect");
            }
        }
        #[cfg(miri)]
        self.zero(lo, hi);
    }

    /// Zeroes `[lo, hi)` (`madvise(MADV_DONTNEED)` natively).
    fn zero(&self, lo: usize, hi: usize) {
        #[cfg(not(miri))]
        {
            use crate::sys::mm;
            // SAFETY: discarding pages of our reservation.
            unsafe { mm::madvise(self.base.with_addr(lo), hi - lo, mm::MADV_DONTNEED) }
                .expect("madvise");
        }
        #[cfg(miri)]
        // SAFETY: inside the arena.
        unsafe {
            core::ptr::write_bytes(self.base.with_addr(lo), 0, hi - lo)
        };
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        #[cfg(not(miri))]
        // SAFETY: the heap using us is gone; the reservation is ours.
        unsafe {
            let _ = crate::sys::mm::munmap(self.base, self.len);
        }
        #[cfg(miri)]
        // SAFETY: allocated in `new` with this layout.
        unsafe {
            std::alloc::dealloc(
                self.base,
                std::alloc::Layout::from_size_align(self.len, PAGE).unwrap(),
            )
        };
    }
}

/// The simulated kernel.
pub(crate) struct MockOs {
    arena: Arena,
    /// The break area: `[base, base + cap)`.
    base: usize,
    cap: usize,
    brk: usize,
    /// The break as the last `brk` call left it (0: none yet), what
    /// `mm::last_brk` records in a process that rawrt started.
    seen: usize,
    /// Keep no record of the break ([`Os::known_brk`] is `None`), as in a
    /// process with another C library: the source queries.
    pub untracked: bool,
    /// The clock [`Os::now_ms`] reads, in milliseconds; tests advance it.
    pub clock: u64,
    /// Have no clock ([`Os::now_ms`] is `None`).
    pub no_clock: bool,
    /// How often the clock was read.
    pub clock_reads: usize,
    /// Every `brk` call (queries included) and `madvise` call.
    pub brk_calls: usize,
    /// Refuse every attempt to raise the break (as RLIMIT_DATA = 0 does).
    pub brk_fail: bool,
    /// Refuse the next this many mmaps (`usize::MAX`: all).
    pub mmap_fail: usize,
    /// Refuse to grow mappings in place (mremap without MAYMOVE).
    pub no_grow_in_place: bool,
    /// Refuse mmap/mremap growth beyond this many mapped bytes in total.
    pub map_budget: usize,
    mapped: usize,
    /// Memory "another allocator" took with the break: (start, end).
    foreign: Vec<(usize, usize)>,
    /// Live mappings made through us: base -> len.
    maps: BTreeMap<usize, usize>,
}

// SAFETY: the mock owns its arena; tests use it from one thread at a time
// (behind the heap's lock).
unsafe impl Send for MockOs {}

impl MockOs {
    /// A break area of `cap` bytes (and a mapping area after it); the
    /// break starts at an odd address.
    pub fn new(cap: usize) -> Self {
        // Miri keeps every byte of the arena: a smaller break area there
        // (the tests it runs stay far below it).
        let cap = if cfg!(miri) { cap.min(16 << 20) } else { cap }.next_multiple_of(PAGE);
        let arena = Arena::new(cap + MAP_AREA);
        let base = arena.base.addr();
        let mut os = MockOs {
            arena,
            base,
            cap,
            brk: base,
            seen: 0,
            untracked: false,
            clock: 1_000_000,
            no_clock: false,
            clock_reads: 0,
            brk_calls: 0,
            brk_fail: false,
            mmap_fail: 0,
            no_grow_in_place: false,
            map_budget: usize::MAX,
            mapped: 0,
            foreign: Vec::new(),
            maps: BTreeMap::new(),
        };
        os.foreign_move_unseen(0x1234); // the program's own data ends mid-page
        os
    }

    /// The current break.
    pub fn current_brk(&self) -> usize {
        self.brk
    }

    fn at(&self, a: usize) -> *mut u8 {
        self.arena.base.with_addr(a)
    }

    /// Another allocator raises the break by `n` bytes and fills them,
    /// through rawrt's `brk`, which records the new break.
    pub fn foreign_move(&mut self, n: usize) {
        self.foreign_move_unseen(n);
        self.seen = self.brk;
    }

    /// The same with its own `brk` system call, which nothing records.
    pub fn foreign_move_unseen(&mut self, n: usize) {
        let old = self.brk;
        self.arena.open(old, old + n);
        // SAFETY: freshly accessible memory above the old break.
        unsafe { core::ptr::write_bytes(self.at(old), 0xF0, n) };
        self.brk = old + n;
        self.foreign.push((old, old + n));
    }

    /// Asserts that no foreign memory was touched.
    pub fn verify_foreign(&self) {
        for &(a, b) in &self.foreign {
            // SAFETY: foreign memory stays mapped (asserted in `brk`).
            let s = unsafe { core::slice::from_raw_parts(self.at(a), b - a) };
            // Slice comparisons (one `memcmp` each: fast under Miri too).
            let fill = [0xF0u8; 4096];
            let intact = s.chunks(fill.len()).all(|c| c == &fill[..c.len()]);
            assert!(intact, "foreign memory at {a:#x} was overwritten");
        }
    }

    /// Bytes currently mapped through `mmap`/`mremap`.
    pub fn mapped(&self) -> usize {
        self.mapped
    }

    /// Whether `[a, a+len)` is wholly mapped through us.
    fn covered(&self, a: usize, len: usize) -> bool {
        let mut at = a;
        while at < a + len {
            match self.maps.range(..=at).next_back() {
                Some((&b, &l)) if b + l > at => at = b + l,
                _ => return false,
            }
        }
        true
    }

    /// Whether `[a, a+len)` overlaps no mapping and lies in the area.
    fn vacant(&self, a: usize, len: usize) -> bool {
        let area = self.base + self.cap;
        a >= area
            && a + len <= area + MAP_AREA
            && self.maps.range(..a + len).next_back().is_none_or(|(&b, &l)| b + l <= a)
    }

    /// The highest vacant page-aligned range of `len` bytes in the mapping
    /// area: like Linux, new mappings go below the ones before them, so a
    /// mapping usually cannot grow in place.
    fn find(&self, len: usize) -> Option<usize> {
        let lo = self.base + self.cap;
        let mut end = lo + MAP_AREA;
        for (&b, &l) in self.maps.iter().rev() {
            if b + l + len <= end {
                break;
            }
            end = end.min(b);
        }
        (end >= lo + len).then(|| end - len)
    }

    /// Forgets `[a, a+len)` (wholly mapped).
    fn cut(&mut self, a: usize, len: usize) {
        let hit: Vec<(usize, usize)> = self
            .maps
            .range(..a + len)
            .filter(|(&b, &l)| b + l > a)
            .map(|(&b, &l)| (b, l))
            .collect();
        for (b, l) in hit {
            self.maps.remove(&b);
            if b < a {
                self.maps.insert(b, a - b);
            }
            if b + l > a + len {
                self.maps.insert(a + len, b + l - (a + len));
            }
        }
        self.mapped -= len;
        self.arena.close(a, a + len);
    }

    /// The kernel's `brk` to an address inside the break area: moves the
    /// break there (both ways), or leaves it when refused; the result.
    ///
    /// # Safety
    /// As for [`Os::brk`].
    unsafe fn move_brk(&mut self, addr: usize) -> usize {
        if addr > self.brk {
            if self.brk_fail {
                return self.brk;
            }
            self.arena.open(self.brk, addr);
        } else if addr < self.brk {
            for &(a, b) in &self.foreign {
                assert!(b <= addr || a >= self.brk, "break lowered over foreign memory {a:#x}");
            }
            self.arena.close(addr, self.brk);
        }
        self.brk = addr;
        addr
    }

    fn add(&mut self, a: usize, len: usize) {
        self.arena.open(a, a + len);
        self.maps.insert(a, len);
        self.mapped += len;
    }
}

// SAFETY: behaves like the kernel calls within the simulated area.
unsafe impl Os for MockOs {
    unsafe fn brk(&mut self, addr: usize) -> usize {
        self.brk_calls += 1;
        self.seen = if addr == 0 || addr < self.base || addr > self.base + self.cap {
            self.brk
        } else {
            // SAFETY: forwarded contract.
            unsafe { self.move_brk(addr) }
        };
        self.seen
    }

    fn known_brk(&mut self) -> Option<usize> {
        (!self.untracked && self.seen != 0).then_some(self.seen)
    }

    fn now_ms(&mut self) -> Option<u64> {
        self.clock_reads += 1;
        (!self.no_clock).then_some(self.clock)
    }

    fn mmap(&mut self, len: usize) -> Option<usize> {
        if self.mmap_fail > 0 {
            if self.mmap_fail != usize::MAX {
                self.mmap_fail -= 1;
            }
            return None;
        }
        if len > self.map_budget.saturating_sub(self.mapped) {
            return None;
        }
        let p = self.find(len.next_multiple_of(PAGE))?;
        self.add(p, len);
        Some(p)
    }

    unsafe fn munmap(&mut self, base: usize, len: usize) -> bool {
        assert!(self.covered(base, len), "munmap of memory the heap never mapped");
        self.cut(base, len);
        true
    }

    unsafe fn mremap(
        &mut self,
        base: usize,
        old: usize,
        new: usize,
        may_move: bool,
    ) -> Option<usize> {
        assert!(self.covered(base, old), "mremap of an unknown mapping");
        if new <= old {
            self.cut(base + new, old - new);
            return Some(base);
        }
        if new - old > self.map_budget.saturating_sub(self.mapped) {
            return None;
        }
        if !self.no_grow_in_place && self.vacant(base + old, new - old) {
            self.add(base + old, new - old);
            return Some(base);
        }
        if !may_move {
            return None;
        }
        let to = self.find(new)?;
        self.add(to, new);
        // SAFETY: both ranges are mapped and distinct.
        unsafe { core::ptr::copy_nonoverlapping(self.at(base), self.at(to), old) };
        self.cut(base, old);
        Some(to)
    }

    unsafe fn dontneed(&mut self, base: usize, len: usize) -> bool {
        assert!(base % PAGE == 0 && len % PAGE == 0, "madvise of partial pages");
        let in_brk = base >= self.base && base + len <= self.brk;
        assert!(in_brk || self.covered(base, len), "madvise outside the heap");
        self.arena.zero(base, base + len);
        true
    }

    fn page_size(&mut self) -> usize {
        PAGE
    }

    fn root(&self) -> *mut u8 {
        self.arena.base
    }
}
