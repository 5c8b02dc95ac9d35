//! What the tracer prints: `heap_trace_dump` (ESP-IDF's layout, on
//! stdout) and the leak report at exit (on stderr, callers named from the
//! program's symbol table).
//!
//! No `core::fmt` here: the format strings of `format_args!` go to one
//! mergeable string section of the library, which every program that
//! prints anything keeps whole; plain pieces and `rt::itoa` keep this
//! text in the programs that trace.

use core::ffi::{c_char, c_void, CStr};

use super::record::{HeapTraceRecord, HEAP_TRACE_ALL, STACK_DEPTH};
use super::TABLE;
use crate::rt::io::FdWriter;
use crate::rt::itoa;
use crate::rt::symbols;
use crate::sys::{Fd, STDERR, STDOUT};

/// A writer of text pieces, decimal and hexadecimal numbers.
struct Out(FdWriter);

impl Out {
    /// A piece of text. Not inlined: inlined, the copies of literal
    /// pieces become 8-byte constants in the library's shared constant
    /// pools (riscv64), which every program keeps whole.
    #[inline(never)]
    fn s(&mut self, s: &str) -> &mut Self {
        self.0.push(s.as_bytes());
        self
    }

    fn dec(&mut self, n: usize) -> &mut Self {
        let mut b = [0; 20];
        self.0.push(itoa::dec(n as u64, &mut b));
        self
    }

    /// `n` in decimal, right-aligned in `width` columns.
    fn dec_in(&mut self, n: usize, width: usize) -> &mut Self {
        let mut b = [0; 20];
        let d = itoa::dec(n as u64, &mut b);
        for _ in d.len()..width {
            self.0.push(b" ");
        }
        self.0.push(d);
        self
    }

    fn hex(&mut self, n: usize) -> &mut Self {
        let mut b = [0; 18];
        self.0.push(itoa::hex(n as u64, &mut b));
        self
    }

    /// `0x` and exactly 8 hex digits.
    fn hex8(&mut self, n: u32) -> &mut Self {
        let mut b = *b"0x00000000";
        for (i, slot) in b.iter_mut().skip(2).enumerate() {
            *slot = b"0123456789abcdef"[(n >> (28 - 4 * i)) as usize & 15];
        }
        self.0.push(&b);
        self
    }

    /// Callers as ESP-IDF prints them: `0x...:0x...`, up to the first 0.
    fn raw(&mut self, callers: &[*mut c_void; STACK_DEPTH]) -> &mut Self {
        for (i, a) in callers.iter().take_while(|a| !a.is_null()).enumerate() {
            self.s(if i == 0 { "" } else { ":" }).hex(a.addr());
        }
        self
    }

    /// A code address as `function+0xoffset`, or raw.
    fn named(&mut self, a: usize) -> &mut Self {
        match symbols::lookup(a) {
            Some(sym) => {
                self.0.push(sym.name);
                self.s("+").hex(sym.offset)
            }
            None => self.hex(a),
        }
    }

    fn file(&mut self, p: *const c_char) -> &mut Self {
        // SAFETY: `rawrt_track.h` passes `__FILE__`, a string literal.
        self.0.push(unsafe { CStr::from_ptr(p) }.to_bytes());
        self
    }
}

fn with(fd: Fd, f: impl FnOnce(&mut Out)) {
    let mut o = Out(FdWriter::new(fd));
    f(&mut o);
    let _ = o.0.finish();
}

/// `heap_trace_dump`: every record, then the summary, on stdout, as
/// ESP-IDF prints them (the CPU and cycle count replaced by the thread
/// and the time stamp):
///
/// ```text
/// ====== Heap Trace: 2 records (8 capacity) ======
///     24 bytes (@ 0x4c2010) allocated thread 4242 time 0x5e2a3b1c caller 0x401136:0x4011a0
/// freed by 0x401150:0x4011a0
///    100 bytes (@ 0x4c2030) allocated thread 4242 time 0x5e2a3b20 caller 0x401140
/// ====== Heap Trace Summary ======
/// Mode: Heap Trace All
/// 100 bytes 'leaked' in trace (1 allocations)
/// records: 2 (8 capacity, 2 high water mark)
/// Total allocations: 2
/// Total frees: 1
/// ================================
/// ```
///
/// A record with a source location (`rawrt_track.h`) ends its first line
/// with ` at file:line`. An overflowed trace adds `(NB: Internal Buffer has
/// overflowed, so trace data is incomplete.)` before the last line.
pub fn dump() {
    let mut t = TABLE.lock();
    let s = t.summary();
    with(STDOUT, |w| {
        w.s("====== Heap Trace: ").dec(s.count).s(" records (").dec(s.capacity);
        w.s(" capacity) ======\n");
        let (mut bytes, mut blocks) = (0, 0);
        for r in t.records().iter() {
            w.dec_in(r.size, 6).s(" bytes (@ ").hex(r.addr()).s(") allocated thread ");
            // (No piece of 4, 8 or 16 bytes here: those become constants
            // of the shared pools, see `Out::s`.)
            w.dec(r.tid as usize).s(" time ").hex8(r.ccount).s(" caller").s(" ").raw(&r.alloced_by);
            if !r.file.is_null() {
                w.s(" at ").file(r.file).s(":").dec(r.line as usize);
            }
            if s.mode == HEAP_TRACE_ALL && r.freed() {
                w.s("\nfreed by ").raw(&r.freed_by).s("\n");
            } else {
                bytes += r.size;
                blocks += 1;
                w.s("\n");
            }
        }
        w.s("====== Heap Trace Summary ======\nMode: Heap Trace ");
        w.s(if s.mode == HEAP_TRACE_ALL { "All" } else { "Leaks" }).s("\n");
        w.dec(bytes).s(" bytes 'leaked' in trace (").dec(blocks).s(" allocations)\n");
        w.s("records: ").dec(s.count).s(" (").dec(s.capacity).s(" capacity, ");
        w.dec(s.high_water_mark).s(" high water mark)\n");
        w.s("Total allocations: ").dec(s.total_allocations).s("\n");
        w.s("Total frees: ").dec(s.total_frees).s("\n");
        if s.has_overflowed {
            w.s("(NB: Internal Buffer has overflowed, so trace data is incomplete.)\n");
        }
        w.s("================================\n");
    });
}

/// The leak report (what `RAWRT_HEAP_TRACE=leaks` prints at exit), on
/// stderr: one line per block still allocated among the records, oldest
/// first, then a total:
///
/// ```text
/// rawrt: leak: 24 bytes at 0x4c2010 from leak.c:12, allocated by make_node+0x1d, main+0x31
/// rawrt: leak: 100 bytes at 0x4c2030, allocated by main+0x44
/// rawrt: leaks: 124 bytes in 2 blocks
/// ```
///
/// Each caller is `function+0xoffset` when the program's symbol table
/// names it, else its raw address. A trace whose buffer overflowed says
/// so first: `rawrt: leaks: incomplete (the trace buffer was full)`.
pub fn leak_report() {
    let mut t = TABLE.lock();
    t.tracing = false;
    let s = t.summary();
    with(STDERR, |w| {
        if s.has_overflowed {
            w.s("rawrt: leaks: incomplete (the trace buffer was full)\n");
        }
        let (mut bytes, mut blocks) = (0, 0);
        for r in t.records().iter().filter(|r| !r.freed()) {
            leak_line(w, r);
            bytes += r.size;
            blocks += 1;
        }
        w.s("rawrt: leaks: ").dec(bytes).s(" bytes in ").dec(blocks).s(" blocks").s("\n");
    });
}

fn leak_line(w: &mut Out, r: &HeapTraceRecord) {
    w.s("rawrt: leak: ").dec(r.size).s(" bytes at ").hex(r.addr());
    if !r.file.is_null() {
        w.s(" from ").file(r.file).s(":").dec(r.line as usize);
    }
    w.s(", allocated by ");
    for (i, a) in r.alloced_by.iter().map(|a| a.addr()).take_while(|&a| a != 0).enumerate() {
        w.s(if i == 0 { "" } else { ", " }).named(a);
    }
    w.s("\n");
}

/// `rawrt: RAWRT_HEAP_TRACE=VALUE: unknown (leaks or off)` on stderr.
pub(super) fn unknown_env(v: &[u8]) {
    with(STDERR, |w| {
        w.s("rawrt: RAWRT_HEAP_TRACE=");
        w.0.push(v);
        w.s(": unknown (leaks or off)\n");
    });
}
