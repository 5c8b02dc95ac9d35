//! A simulated kernel for hosted tests: the program break lives in one
//! big reserved mapping (inaccessible beyond the break, so any access past
//! it faults), with injectable refusals and foreign break moves; `mmap`
//! and friends go to the real kernel but are checked against the
//! mappings the heap owns.

use std::collections::BTreeMap;

use super::os::Os;
use crate::sys::mm;

const PAGE: usize = 4096;

/// The simulated kernel.
pub(crate) struct MockOs {
    base: usize,
    cap: usize,
    brk: usize,
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

// SAFETY: the mock owns its reservation; tests use it from one thread.
unsafe impl Send for MockOs {}

impl MockOs {
    /// A break area of `cap` bytes; the break starts at an odd address.
    pub fn new(cap: usize) -> Self {
        // SAFETY: a fresh PROT_NONE reservation at a kernel-chosen address.
        let base = unsafe {
            mm::mmap(
                core::ptr::null_mut(),
                cap,
                mm::PROT_NONE,
                mm::MAP_PRIVATE | mm::MAP_ANONYMOUS | mm::MAP_NORESERVE,
                -1,
                0,
            )
        }
        .expect("reserve the break area") as usize;
        let mut os = MockOs {
            base,
            cap,
            brk: base,
            brk_fail: false,
            mmap_fail: 0,
            no_grow_in_place: false,
            map_budget: usize::MAX,
            mapped: 0,
            foreign: Vec::new(),
            maps: BTreeMap::new(),
        };
        os.foreign_move(0x1234); // the program's own data ends mid-page
        os
    }

    fn protect(&self, lo: usize, hi: usize, prot: u32) {
        let (lo, hi) = (lo.next_multiple_of(PAGE), hi.next_multiple_of(PAGE));
        if hi > lo {
            // SAFETY: the range is inside our reservation.
            unsafe { mm::mprotect(lo as *mut u8, hi - lo, prot) }.expect("mprotect");
        }
    }

    /// The current break.
    pub fn current_brk(&self) -> usize {
        self.brk
    }

    /// Another allocator raises the break by `n` bytes and fills them.
    pub fn foreign_move(&mut self, n: usize) {
        let old = self.brk;
        self.protect(old, old + n, mm::PROT_READ | mm::PROT_WRITE);
        // SAFETY: freshly accessible memory above the old break.
        unsafe { core::ptr::write_bytes(old as *mut u8, 0xF0, n) };
        self.brk = old + n;
        self.foreign.push((old, old + n));
    }

    /// Asserts that no foreign memory was touched.
    pub fn verify_foreign(&self) {
        for &(a, b) in &self.foreign {
            // SAFETY: foreign memory stays mapped (asserted in `brk`).
            let s = unsafe { core::slice::from_raw_parts(a as *const u8, b - a) };
            assert!(s.iter().all(|&x| x == 0xF0), "foreign memory at {a:#x} was overwritten");
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
    }

    fn add(&mut self, a: usize, len: usize) {
        self.maps.insert(a, len);
        self.mapped += len;
    }
}

impl Drop for MockOs {
    fn drop(&mut self) {
        // SAFETY: the heap using us is gone; all of this is ours.
        unsafe {
            let _ = mm::munmap(self.base as *mut u8, self.cap);
            for (&b, &l) in self.maps.iter() {
                let _ = mm::munmap(b as *mut u8, l);
            }
        }
    }
}

// SAFETY: behaves like the kernel calls within the simulated area.
unsafe impl Os for MockOs {
    unsafe fn brk(&mut self, addr: usize) -> usize {
        if addr == 0 || addr < self.base || addr > self.base + self.cap {
            return self.brk;
        }
        if addr > self.brk {
            if self.brk_fail {
                return self.brk;
            }
            self.protect(self.brk, addr, mm::PROT_READ | mm::PROT_WRITE);
        } else if addr < self.brk {
            for &(a, b) in &self.foreign {
                assert!(b <= addr || a >= self.brk, "break lowered over foreign memory {a:#x}");
            }
            let lo = addr.next_multiple_of(PAGE);
            let hi = self.brk.next_multiple_of(PAGE);
            if hi > lo {
                // SAFETY: discarding pages above the new break, as the kernel does.
                unsafe { mm::madvise(lo as *mut u8, hi - lo, mm::MADV_DONTNEED) }.unwrap();
            }
            self.protect(addr, self.brk, mm::PROT_NONE);
        }
        self.brk = addr;
        addr
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
        let p = mm::mmap_anonymous(len).ok()? as usize;
        self.add(p, len);
        Some(p)
    }

    unsafe fn munmap(&mut self, base: usize, len: usize) -> bool {
        assert!(self.covered(base, len), "munmap of memory the heap never mapped");
        // SAFETY: the heap gives up a range of its own mappings.
        unsafe { mm::munmap(base as *mut u8, len) }.unwrap();
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
        if !may_move && self.no_grow_in_place {
            return None;
        }
        if new > old && new - old > self.map_budget.saturating_sub(self.mapped) {
            return None;
        }
        let flags = if may_move { mm::MREMAP_MAYMOVE } else { 0 };
        // SAFETY: the heap owns the mapping and accepts the move.
        let p = unsafe { mm::mremap(base as *mut u8, old, new, flags, core::ptr::null_mut()) }
            .ok()? as usize;
        self.cut(base, old);
        self.add(p, new);
        Some(p)
    }

    unsafe fn dontneed(&mut self, base: usize, len: usize) -> bool {
        assert!(base % PAGE == 0 && len % PAGE == 0, "madvise of partial pages");
        let in_brk = base >= self.base && base + len <= self.brk;
        assert!(in_brk || self.covered(base, len), "madvise outside the heap");
        // SAFETY: the heap discards pages it owns.
        unsafe { mm::madvise(base as *mut u8, len, mm::MADV_DONTNEED) }.is_ok()
    }

    fn page_size(&mut self) -> usize {
        PAGE
    }
}
