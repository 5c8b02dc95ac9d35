//! The trace records, ESP-IDF's `heap_trace_record_t`, and the table that
//! keeps them in the caller's buffer (ESP-IDF's standalone mode, as in
//! IDF v4: records in allocation order; a full buffer stops recording new
//! allocations and marks the trace overflowed). Pure logic over a slice:
//! the hosted unit tests drive it directly.

use core::ffi::{c_char, c_void};

/// Callers kept per record: the return address of the allocation call,
/// then up to three more found by walking frame pointers (ESP-IDF's
/// `CONFIG_HEAP_TRACING_STACK_DEPTH`).
pub const STACK_DEPTH: usize = 4;

/// `heap_trace_mode_t`: `HEAP_TRACE_ALL` keeps a record of every
/// allocation and marks it when freed; `HEAP_TRACE_LEAKS` drops the
/// record of a block when it is freed, so the records left are the blocks
/// still allocated.
pub const HEAP_TRACE_ALL: u32 = 0;
/// See [`HEAP_TRACE_ALL`].
pub const HEAP_TRACE_LEAKS: u32 = 1;

/// One traced allocation, ESP-IDF's `heap_trace_record_t` with
/// `CONFIG_HEAP_TRACING_STACK_DEPTH` = [`STACK_DEPTH`], then rawrt's own
/// fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapTraceRecord {
    /// When it was allocated: microseconds of `CLOCK_MONOTONIC` (from the
    /// vDSO), modulo 2^32 (ESP-IDF: the CPU's cycle count).
    pub ccount: u32,
    /// The block; null in an empty record.
    pub address: *mut c_void,
    /// The size asked for.
    pub size: usize,
    /// Return addresses of the allocation call and its callers, 0 past
    /// the last one found.
    pub alloced_by: [*mut c_void; STACK_DEPTH],
    /// The same for the free (`HEAP_TRACE_ALL` only); all 0 while the
    /// block is allocated.
    pub freed_by: [*mut c_void; STACK_DEPTH],
    /// rawrt: `__FILE__` of the allocation (`rawrt_track.h`), or null.
    pub file: *const c_char,
    /// rawrt: `__LINE__` of the allocation, or 0.
    pub line: u32,
    /// rawrt: the allocating thread's id (`gettid`).
    pub tid: u32,
}

impl HeapTraceRecord {
    /// An empty record.
    pub const EMPTY: HeapTraceRecord = HeapTraceRecord {
        ccount: 0,
        address: core::ptr::null_mut(),
        size: 0,
        alloced_by: [core::ptr::null_mut(); STACK_DEPTH],
        freed_by: [core::ptr::null_mut(); STACK_DEPTH],
        file: core::ptr::null(),
        line: 0,
        tid: 0,
    };

    /// Whether the block was freed (a record of `HEAP_TRACE_ALL`).
    pub fn freed(&self) -> bool {
        !self.freed_by[0].is_null()
    }

    /// The block's address.
    pub fn addr(&self) -> usize {
        self.address.addr()
    }
}

/// Code addresses as a record keeps them.
pub fn as_ptrs(a: [usize; STACK_DEPTH]) -> [*mut c_void; STACK_DEPTH] {
    a.map(core::ptr::without_provenance_mut)
}

/// ESP-IDF's `heap_trace_summary_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapTraceSummary {
    /// [`HEAP_TRACE_ALL`] or [`HEAP_TRACE_LEAKS`].
    pub mode: u32,
    /// Allocations seen while tracing (recorded or not).
    pub total_allocations: usize,
    /// Frees seen while tracing.
    pub total_frees: usize,
    /// Records in the buffer.
    pub count: usize,
    /// The buffer's size in records.
    pub capacity: usize,
    /// The most records the buffer held at once.
    pub high_water_mark: usize,
    /// Whether an allocation found the buffer full (and went unrecorded).
    pub has_overflowed: bool,
}

/// The records in a buffer and the counters, as ESP-IDF keeps them.
pub struct Table {
    /// The buffer; null before `heap_trace_init_standalone`.
    pub buf: *mut HeapTraceRecord,
    /// The buffer's size in records.
    pub cap: usize,
    /// Records in use (the first `count` of the buffer).
    pub count: usize,
    /// Whether allocations and frees are recorded now.
    pub tracing: bool,
    /// The counters and mode.
    pub sum: HeapTraceSummary,
}

impl Table {
    /// No buffer yet.
    pub const fn new() -> Table {
        Table {
            buf: core::ptr::null_mut(),
            cap: 0,
            count: 0,
            tracing: false,
            sum: HeapTraceSummary {
                mode: HEAP_TRACE_ALL,
                total_allocations: 0,
                total_frees: 0,
                count: 0,
                capacity: 0,
                high_water_mark: 0,
                has_overflowed: false,
            },
        }
    }

    /// The records in use.
    pub fn records(&mut self) -> &mut [HeapTraceRecord] {
        if self.buf.is_null() {
            return &mut [];
        }
        // SAFETY: `buf` holds `cap` records (the caller of `init`
        // promised), `count <= cap`, and the table's lock is held.
        unsafe { core::slice::from_raw_parts_mut(self.buf, self.count) }
    }

    /// Uses the `cap` records at `buf` from now on, empty.
    ///
    /// # Safety
    /// `buf` holds `cap` writable records that nothing else uses while
    /// the table does.
    pub unsafe fn init(&mut self, buf: *mut HeapTraceRecord, cap: usize) {
        self.buf = buf;
        self.cap = cap;
        self.clear();
    }

    /// Drops every record and zeroes the counters.
    pub fn clear(&mut self) {
        self.count = 0;
        let mode = self.sum.mode;
        self.sum = HeapTraceSummary { mode, capacity: self.cap, ..Default::default() };
    }

    /// Records an allocation (when tracing): at the end of the buffer, or,
    /// when it is full, nowhere (the trace has overflowed).
    pub fn allocated(&mut self, rec: HeapTraceRecord) {
        if !self.tracing || rec.address.is_null() {
            return;
        }
        self.sum.total_allocations += 1;
        if self.count == self.cap {
            self.sum.has_overflowed = true;
            return;
        }
        self.count += 1;
        self.sum.high_water_mark = self.sum.high_water_mark.max(self.count);
        if let Some(r) = self.records().last_mut() {
            *r = rec;
        }
    }

    /// Records the free of block `addr` by `callers` (when tracing): its
    /// record (the newest not freed yet) is dropped in
    /// [`HEAP_TRACE_LEAKS`] mode, marked freed in [`HEAP_TRACE_ALL`]. A
    /// block allocated before the trace started has no record.
    pub fn freed(&mut self, addr: usize, callers: [usize; STACK_DEPTH]) {
        if !self.tracing || addr == 0 {
            return;
        }
        self.sum.total_frees += 1;
        let leaks = self.sum.mode == HEAP_TRACE_LEAKS;
        let recs = self.records();
        let Some(i) = recs.iter().rposition(|r| r.addr() == addr && !r.freed()) else { return };
        let Some(tail) = recs.get_mut(i..) else { return };
        if leaks {
            // Record `i` moves to the end, the others up one (no
            // `copy_within`: its bounds check is a panic path).
            let mut it = tail.iter_mut();
            if let Some(mut prev) = it.next() {
                for cur in it {
                    core::mem::swap(prev, cur);
                    prev = cur;
                }
            }
            self.count -= 1;
        } else if let Some(r) = tail.first_mut() {
            r.freed_by = as_ptrs(callers);
        }
    }

    /// The summary (`heap_trace_summary`).
    pub fn summary(&self) -> HeapTraceSummary {
        HeapTraceSummary { count: self.count, capacity: self.cap, ..self.sum }
    }
}

// SAFETY: the buffer is the table's alone (`init`'s contract), and the
// table is used under its lock.
unsafe impl Send for Table {}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn rec(address: usize, size: usize, caller: usize) -> HeapTraceRecord {
        HeapTraceRecord {
            address: core::ptr::without_provenance_mut(address),
            size,
            alloced_by: as_ptrs([caller, 0, 0, 0]),
            ..HeapTraceRecord::EMPTY
        }
    }

    fn table(buf: &mut [HeapTraceRecord], mode: u32) -> Table {
        let mut t = Table::new();
        t.sum.mode = mode;
        // SAFETY: the buffer outlives the table in each test.
        unsafe { t.init(buf.as_mut_ptr(), buf.len()) };
        t.tracing = true;
        t
    }

    fn all_mode_marks_frees_and_keeps_order() {
        let mut buf = [HeapTraceRecord::EMPTY; 4];
        let mut t = table(&mut buf, HEAP_TRACE_ALL);
        t.allocated(rec(0x100, 10, 1));
        t.allocated(rec(0x200, 20, 2));
        t.freed(0x100, [7, 8, 0, 0]);
        t.freed(0x999, [9, 0, 0, 0]);
        t.allocated(rec(0x100, 30, 3));
        let r = t.records();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].addr(), r[0].size, r[0].freed_by), (0x100, 10, as_ptrs([7, 8, 0, 0])));
        assert_eq!((r[1].addr(), r[1].freed(), r[2].size, r[2].freed()), (0x200, false, 30, false));
        // The address again: the newest record not freed is the one marked.
        t.freed(0x100, [5, 0, 0, 0]);
        assert_eq!((t.records()[0].freed_by[0].addr(), t.records()[2].freed_by[0].addr()), (7, 5));
        let s = t.summary();
        assert_eq!((s.total_allocations, s.total_frees, s.count, s.capacity), (3, 3, 3, 4));
        assert_eq!((s.high_water_mark, s.has_overflowed), (3, false));
    }

    fn leaks_mode_drops_freed_records() {
        let mut buf = [HeapTraceRecord::EMPTY; 4];
        let mut t = table(&mut buf, HEAP_TRACE_LEAKS);
        for (i, a) in [0x100, 0x200, 0x300].into_iter().enumerate() {
            t.allocated(rec(a, i + 1, i));
        }
        t.freed(0x200, [1, 0, 0, 0]);
        let addrs: [usize; 2] = core::array::from_fn(|i| t.records()[i].addr());
        assert_eq!((t.count, addrs), (2, [0x100, 0x300]));
        assert_eq!(t.summary().high_water_mark, 3);
    }

    fn full_buffer_stops_recording_and_overflows() {
        let mut buf = [HeapTraceRecord::EMPTY; 2];
        let mut t = table(&mut buf, HEAP_TRACE_ALL);
        for a in [0x100, 0x200, 0x300] {
            t.allocated(rec(a, 1, 1));
        }
        let s = t.summary();
        assert_eq!((s.count, s.total_allocations, s.has_overflowed), (2, 3, true));
        assert_eq!(t.records()[1].addr(), 0x200);
        // Stopped: nothing counted.
        t.tracing = false;
        t.allocated(rec(0x400, 1, 1));
        t.freed(0x100, [1, 0, 0, 0]);
        assert_eq!((t.summary().total_allocations, t.summary().total_frees), (3, 0));
        assert!(!t.records()[0].freed());
        t.clear();
        assert_eq!(t.summary(), HeapTraceSummary { capacity: 2, ..Default::default() });
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("heap::trace::all_mode_marks_frees_and_keeps_order", all_mode_marks_frees_and_keeps_order),
        ("heap::trace::leaks_mode_drops_freed_records", leaks_mode_drops_freed_records),
        (
            "heap::trace::full_buffer_stops_recording_and_overflows",
            full_buffer_stops_recording_and_overflows,
        ),
    ];
}
