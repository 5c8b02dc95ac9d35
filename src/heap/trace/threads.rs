//! Per-thread accounting (ESP-IDF's per-task tracking, mapped to
//! threads): for each thread, the bytes and blocks it allocated and that
//! are not freed yet, and the peak of those bytes. A block freed by
//! another thread is taken off its allocating thread's figures, so each
//! live block's thread and size are kept in a side table: an
//! open-addressing hash table (linear probing, deletion by backward
//! shift, no tombstones) over memory the caller gives. Pure logic over
//! slices: the hosted unit tests drive it directly.

/// `rawrt_heap_thread_info_t`: one thread's figures.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Bytes (as asked for) allocated by the thread and not freed.
    pub bytes: usize,
    /// Blocks allocated by the thread and not freed.
    pub blocks: usize,
    /// The most `bytes` reached.
    pub peak_bytes: usize,
}

/// The threads accounted (later ones are not). A power of two.
pub const MAX_THREADS: usize = 256;
const _: () = assert!(MAX_THREADS.is_power_of_two());

/// A live block in the side table (`addr` 0: an empty slot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// The block.
    pub addr: usize,
    /// Its size as asked for.
    pub size: usize,
    /// Its allocating thread's index in the thread table.
    pub thread: usize,
}

/// The accounting: the side table of live blocks and each thread's
/// figures.
pub struct Accounts<'a> {
    live: &'a mut [Live],
    used: usize,
    tids: [u32; MAX_THREADS],
    info: [ThreadInfo; MAX_THREADS],
    threads: usize,
    /// Blocks not accounted because the side table was full.
    pub missed: usize,
}

/// A block's slot: its address past the alignment bits, folded (shifts
/// and xors only: a multiplier would be a constant in the library's shared
/// constant pool on riscv64, kept by every program).
fn hash(addr: usize) -> usize {
    let h = addr >> 4;
    h ^ (h >> 11) ^ (h >> 23)
}

impl<'a> Accounts<'a> {
    /// Accounts over side table `live` (the largest power of two of its
    /// entries is used, at most 7/8 full), all empty.
    pub fn new(live: &'a mut [Live]) -> Accounts<'a> {
        let n = match live.len() {
            0 => 0,
            len => 1 << (usize::BITS - 1 - len.leading_zeros()),
        };
        let live = live.get_mut(..n).unwrap_or_default();
        live.fill(Live::default());
        Accounts {
            live,
            used: 0,
            tids: [0; MAX_THREADS],
            info: [ThreadInfo::default(); MAX_THREADS],
            threads: 0,
            missed: 0,
        }
    }

    fn mask(&self) -> usize {
        self.live.len().wrapping_sub(1)
    }

    /// Entry `i` (an empty one past the end: never, `i` is masked).
    fn at(&self, i: usize) -> Live {
        self.live.get(i).copied().unwrap_or_default()
    }

    fn put(&mut self, i: usize, e: Live) {
        if let Some(slot) = self.live.get_mut(i) {
            *slot = e;
        }
    }

    /// The figures of thread index `t` (below [`MAX_THREADS`], a power of
    /// two: the mask only keeps the compiler's bounds check away).
    fn figures(&mut self, t: usize) -> &mut ThreadInfo {
        &mut self.info[t % MAX_THREADS]
    }

    /// Thread `tid`'s index, if it has one.
    fn index(&self, tid: u32) -> Option<usize> {
        self.tids.iter().take(self.threads).position(|&t| t == tid)
    }

    /// Thread `tid`'s index, made if new and there is room.
    fn thread(&mut self, tid: u32) -> Option<usize> {
        if let Some(i) = self.index(tid) {
            return Some(i);
        }
        let i = self.threads;
        if i == MAX_THREADS {
            return None;
        }
        self.tids[i % MAX_THREADS] = tid;
        self.threads += 1;
        Some(i)
    }

    /// Block `addr` of `size` bytes was allocated by thread `tid`.
    pub fn allocated(&mut self, addr: usize, size: usize, tid: u32) {
        if addr == 0 {
            return;
        }
        let Some(t) = self.thread(tid) else { return };
        if (self.used + 1) * 8 > self.live.len() * 7 {
            self.missed += 1;
            return;
        }
        let m = self.mask();
        let mut i = hash(addr) & m;
        while self.at(i).addr != 0 {
            i = (i + 1) & m;
        }
        self.put(i, Live { addr, size, thread: t });
        self.used += 1;
        let f = self.figures(t);
        f.bytes += size;
        f.blocks += 1;
        f.peak_bytes = f.peak_bytes.max(f.bytes);
    }

    /// Block `addr` was freed (by any thread): off its allocating
    /// thread's figures. A block not in the table (allocated before the
    /// accounting started, or missed) changes nothing.
    pub fn freed(&mut self, addr: usize) {
        if addr == 0 || self.live.is_empty() {
            return;
        }
        let m = self.mask();
        let mut i = hash(addr) & m;
        loop {
            match self.at(i).addr {
                0 => return,
                a if a == addr => break,
                _ => i = (i + 1) & m,
            }
        }
        let gone = self.at(i);
        let f = self.figures(gone.thread);
        f.bytes -= gone.size;
        f.blocks -= 1;
        self.used -= 1;
        // Backward shift: move up every later entry of the run that may
        // sit at `i`, so that no lookup meets a hole before its entry.
        let mut j = i;
        loop {
            j = (j + 1) & m;
            let e = self.at(j);
            if e.addr == 0 {
                break;
            }
            let home = hash(e.addr) & m;
            // `e` may move to `i` unless its home lies cyclically in (i, j].
            let stays = if i <= j { i < home && home <= j } else { i < home || home <= j };
            if !stays {
                self.put(i, e);
                i = j;
            }
        }
        self.put(i, Live::default());
    }

    /// Thread `tid`'s figures, if it allocated since the start.
    pub fn info(&self, tid: u32) -> Option<ThreadInfo> {
        let i = self.index(tid)?;
        Some(self.info[i % MAX_THREADS])
    }

    /// Blocks in the side table.
    #[cfg(test)]
    pub fn live_blocks(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Rng;

    fn counts_per_thread_and_cross_thread_frees() {
        let mut table = [Live::default(); 64];
        let mut a = Accounts::new(&mut table);
        a.allocated(0x1000, 100, 7);
        a.allocated(0x2000, 50, 7);
        a.allocated(0x3000, 10, 9);
        assert_eq!(a.info(7), Some(ThreadInfo { bytes: 150, blocks: 2, peak_bytes: 150 }));
        // Thread 9 frees thread 7's block: thread 7's figures go down.
        a.freed(0x1000);
        a.freed(0x5000);
        assert_eq!(a.info(7), Some(ThreadInfo { bytes: 50, blocks: 1, peak_bytes: 150 }));
        assert_eq!(a.info(9), Some(ThreadInfo { bytes: 10, blocks: 1, peak_bytes: 10 }));
        assert_eq!((a.info(8), a.live_blocks()), (None, 2));
        // The address again, for another thread.
        a.allocated(0x1000, 5, 9);
        assert_eq!(a.info(9).unwrap().bytes, 15);
    }

    fn full_table_misses_and_threads_are_bounded() {
        let mut table = [Live::default(); 8];
        let mut a = Accounts::new(&mut table);
        for i in 1..=10 {
            a.allocated(i * 16, 1, 1);
        }
        assert_eq!((a.live_blocks(), a.missed), (7, 3));
        let mut big = [Live::default(); 1024];
        let mut a = Accounts::new(&mut big);
        for t in 0..MAX_THREADS as u32 + 5 {
            a.allocated(16 + t as usize * 16, 1, t + 100);
        }
        assert!(a.info(100 + MAX_THREADS as u32 - 1).is_some());
        assert_eq!(a.info(100 + MAX_THREADS as u32), None);
    }

    /// Random allocations and frees against a plain list: every figure
    /// and every lookup agrees (collisions and backward shifts included:
    /// addresses in a narrow range of a small table).
    fn randomized_against_a_model() {
        let mut rng = Rng::new(11);
        let mut table = [Live::default(); 256];
        let mut a = Accounts::new(&mut table);
        let mut model: [(usize, usize, u32); 200] = [(0, 0, 0); 200];
        let mut n = 0;
        for step in 0..if cfg!(miri) { 300 } else { 4000 } {
            if n < 150 && (n == 0 || rng.chance(55)) {
                let addr = loop {
                    let x = (rng.below(4096) + 1) * 16;
                    if !model[..n].iter().any(|m| m.0 == x) {
                        break x;
                    }
                };
                let (size, tid) = (rng.below(1000), rng.below(4) as u32);
                a.allocated(addr, size, tid);
                model[n] = (addr, size, tid);
                n += 1;
            } else {
                let k = rng.below(n);
                a.freed(model[k].0);
                model[k] = model[n - 1];
                n -= 1;
            }
            assert_eq!(a.live_blocks(), n, "step {step}");
            for tid in 0..4 {
                let bytes: usize = model[..n].iter().filter(|m| m.2 == tid).map(|m| m.1).sum();
                let blocks = model[..n].iter().filter(|m| m.2 == tid).count();
                if let Some(f) = a.info(tid) {
                    assert_eq!((f.bytes, f.blocks), (bytes, blocks), "step {step} thread {tid}");
                }
            }
        }
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        (
            "heap::trace::counts_per_thread_and_cross_thread_frees",
            counts_per_thread_and_cross_thread_frees,
        ),
        (
            "heap::trace::full_table_misses_and_threads_are_bounded",
            full_table_misses_and_threads_are_bounded,
        ),
        ("heap::trace::randomized_against_a_model", randomized_against_a_model),
    ];
}
