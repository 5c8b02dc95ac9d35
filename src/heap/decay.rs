//! When dirty memory goes back: the purge decay's bookkeeping.
//!
//! Free memory that was written (the big free blocks' dirty pages and the
//! top's) is purged once it has stayed unused for [`PURGE_DELAY_MS`] (as
//! jemalloc's `dirty_decay_ms` and mimalloc's `purge_delay` do), not when
//! it is freed: memory that is freed and soon reused is never faulted in
//! again. Memory goes back at once only when asked (`malloc_trim`,
//! [`RawHeap::trim`](super::RawHeap::trim)) or when memory is short (an
//! allocation that would fail purges and retries first).
//!
//! Time is read only on a *check*: after [`DECAY_TICKS`] frees of blocks
//! in the heap's segments (those that go through its lock: the thread
//! caches absorb most small ones), once the dirty memory has grown by
//! [`DECAY_CHECK_BYTES`] since the last check, and when the heap grows
//! with memory freed since the last check; and only when at least
//! `PURGE_MIN` bytes are dirty.
//! So a clock read (a system call: rawrt uses no vDSO) is rare; between
//! checks no time is known. Dirty memory is therefore stamped with a
//! *period* (the checks divide time into periods of at least a quarter
//! of the delay), not a time: memory stamped with a period was freed no
//! later than the check that ended it, and it has expired once that check
//! lies [`PURGE_DELAY_MS`] in the past. This errs only towards keeping
//! memory longer (by up to the time until the next check), never towards
//! purging it early. The end times of the last [`RING`] periods are kept;
//! older periods ended at least 7/4 of the delay ago, so they have
//! expired.

/// Milliseconds that dirty free memory stays unused before it is purged
/// (its pages discarded with `madvise(MADV_DONTNEED)`), by default.
/// Settable per heap ([`Heap::set_purge_delay`](super::Heap::set_purge_delay)).
pub const PURGE_DELAY_MS: usize = 1000;
/// Frees between two checks of the clock, at most (jemalloc ticks 1000
/// times between its decay updates).
pub const DECAY_TICKS: u32 = 1024;
/// Dirty bytes that may be added between two checks of the clock, at most.
pub const DECAY_CHECK_BYTES: usize = 2 << 20;
/// Periods whose end times are kept.
const RING: usize = 8;

/// The decay state of one heap; all zeros is a new heap's (it lives in
/// `.bss` in the process heap).
#[derive(Clone, Copy, Debug)]
pub(super) struct Decay {
    /// Frees still to count before the next check: `DECAY_TICKS` after a
    /// check, a check is due when it wraps below 0 (a new heap's 0 makes
    /// its first free check).
    left: u32,
    /// Dirty bytes that call for a check when exceeded.
    mark: usize,
    /// The current period: the stamp of memory freed now.
    period: usize,
    /// When the current period began (ms; 0 before the first check).
    start: u64,
    /// End times of the last `RING` periods, by period number mod `RING`.
    ends: [u64; RING],
    /// The stamp of the top's latest dirty memory.
    top: usize,
    /// One more than the newest period purged by a check (0: none).
    walked: usize,
    /// The delay, stored XOR its default so that zeros mean the default.
    delay_x: usize,
}

impl Decay {
    /// A new heap's: no check yet, the default delay.
    pub const fn new() -> Self {
        Decay {
            left: 0,
            mark: 0,
            period: 0,
            start: 0,
            ends: [0; RING],
            top: 0,
            walked: 0,
            delay_x: 0,
        }
    }

    /// The stamp for memory freed now.
    #[inline(always)]
    pub fn stamp(&self) -> usize {
        self.period
    }

    /// The top gained dirty memory now.
    #[inline(always)]
    pub fn top_dirtied(&mut self) {
        self.top = self.period;
    }

    /// The stamp of the top's latest dirty memory.
    #[inline(always)]
    pub fn top_stamp(&self) -> usize {
        self.top
    }

    /// Counts a free; true when a check is due.
    #[inline(always)]
    pub fn tick(&mut self) -> bool {
        self.left = self.left.wrapping_sub(1);
        self.left > DECAY_TICKS
    }

    /// Counts a free that left dirty memory next to the top or in a big
    /// free block; true when a check is due (`dirty`: the heap's dirty
    /// bytes now).
    #[inline(always)]
    pub fn tick_dirty(&mut self, dirty: usize) -> bool {
        self.tick() || dirty > self.mark
    }

    /// Whether a free was counted since the last check.
    #[inline(always)]
    pub fn ticked(&self) -> bool {
        self.left != DECAY_TICKS
    }

    /// Milliseconds dirty memory stays before it is purged
    /// (`usize::MAX`: never automatically).
    #[inline]
    pub fn delay(&self) -> usize {
        self.delay_x ^ PURGE_DELAY_MS
    }

    /// Sets the delay.
    pub fn set_delay(&mut self, ms: usize) {
        self.delay_x = ms ^ PURGE_DELAY_MS;
    }

    /// A check at time `now` (ms; `None` without a clock, when every check
    /// ends a period, so that memory expires after a few checks), with
    /// `dirty` bytes dirty: the newest period whose memory has expired and
    /// was not purged by an earlier check, if any. The caller purges the
    /// memory stamped with it or before, then calls [`checked`](Self::checked).
    pub fn check(&mut self, now: Option<u64>, dirty: usize) -> Option<usize> {
        self.left = DECAY_TICKS;
        let delay = self.delay();
        if delay == usize::MAX || dirty == 0 {
            return None;
        }
        let min_len = (delay / 4) as u64;
        let now = now.unwrap_or(self.start.saturating_add(min_len.max(1)));
        if now.saturating_sub(self.start) >= min_len {
            self.ends[self.period % RING] = now;
            self.period += 1;
            self.start = now;
        }
        let limit = now.saturating_sub(delay as u64);
        let p = self.period;
        let newest = (1..=RING.min(p))
            .map(|k| p - k)
            .find(|&q| self.ends[q % RING] <= limit)
            .or_else(|| p.checked_sub(RING + 1))?;
        if newest < self.walked {
            return None;
        }
        self.walked = newest + 1;
        Some(newest)
    }

    /// After a check: the next is due once the dirty memory exceeds
    /// `dirty` by [`DECAY_CHECK_BYTES`].
    #[inline]
    pub fn checked(&mut self, dirty: usize) {
        self.mark = dirty.saturating_add(DECAY_CHECK_BYTES);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Periods and expiry without a heap: nothing expires before the
    /// delay has passed since the end of its period; a later check does
    /// not purge the same periods again.
    fn periods_expire_after_the_delay() {
        let mut d = Decay::new();
        let t0 = 50_000;
        assert_eq!(d.stamp(), 0);
        assert_eq!(d.check(Some(t0), 1), None, "period 0 just ended");
        assert_eq!(d.stamp(), 1);
        assert_eq!(d.check(Some(t0 + 100), 1), None, "too short to end a period");
        assert_eq!(d.stamp(), 1);
        assert_eq!(d.check(Some(t0 + 999), 1), None, "period 1 ends; period 0 is 999 ms old");
        assert_eq!(d.stamp(), 2);
        assert_eq!(d.check(Some(t0 + 1000), 1), Some(0), "period 0 is 1000 ms old");
        assert_eq!(d.check(Some(t0 + 1500), 1), None, "period 0 was purged; 1 is 501 ms old");
        assert_eq!(d.check(Some(t0 + 2000), 1), Some(1));
        assert_eq!(d.check(Some(t0 + 2000), 0), None, "nothing dirty: no purge");
        // A long pause: every earlier period expired at once.
        for k in 0..20 {
            d.check(Some(t0 + 3000 + 300 * k), 1);
        }
        assert_eq!(d.check(Some(t0 + 100_000), 1), Some(d.stamp() - 2));
        // Without a clock, every check ends a period.
        let mut n = Decay::new();
        let got: Vec<_> = (0..8).map(|_| n.check(None, 1)).collect();
        assert_eq!(got, [None, None, None, None, Some(0), Some(1), Some(2), Some(3)]);
        // Delay 0: whatever was freed before a check goes at that check;
        // usize::MAX: never.
        let mut z = Decay::new();
        z.set_delay(0);
        assert_eq!(z.check(Some(t0), 1), Some(0));
        assert_eq!(z.check(Some(t0), 1), Some(1));
        z.set_delay(usize::MAX);
        assert_eq!(z.check(Some(t0 + (1 << 30)), 1), None);
        assert_eq!(z.delay(), usize::MAX);
    }

    /// Ticks and the dirty mark decide when a check is due.
    fn checks_are_due_by_count_or_bytes() {
        let mut d = Decay::new();
        assert!(d.tick(), "a new heap's first free checks");
        d.check(Some(10_000), 1);
        d.checked(1);
        assert!(!d.ticked());
        for _ in 0..DECAY_TICKS / 2 {
            assert!(!d.tick());
        }
        for _ in DECAY_TICKS / 2..DECAY_TICKS {
            assert!(!d.tick_dirty(1000));
        }
        assert!(d.ticked());
        assert!(d.tick(), "the count is reached");
        d.check(Some(10_001), 1000);
        d.checked(1000);
        assert!(!d.tick_dirty(1000 + DECAY_CHECK_BYTES));
        assert!(!d.tick(), "a plain free does not look at the dirty bytes");
        assert!(d.tick_dirty(1001 + DECAY_CHECK_BYTES), "the dirty memory grew by the mark");
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("heap::decay::periods_expire_after_the_delay", periods_expire_after_the_delay),
        ("heap::decay::checks_are_due_by_count_or_bytes", checks_are_due_by_count_or_bytes),
    ];
}
