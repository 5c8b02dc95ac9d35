//! What the tracer prints: `heap_trace_dump` (ESP-IDF's layout, on
//! stdout) and the leak report at exit (on stderr, callers named from the
//! program's symbol table).

use core::ffi::{c_char, c_void, CStr};
use core::fmt::{self, Write};

use super::record::{HeapTraceRecord, HEAP_TRACE_ALL, STACK_DEPTH};
use super::TABLE;
use crate::rt::io::FdWriter;
use crate::rt::symbols;
use crate::sys::{STDERR, STDOUT};

/// Callers as ESP-IDF prints them: `0x...:0x...`, up to the first 0.
struct Raw<'a>(&'a [*mut c_void; STACK_DEPTH]);

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().take_while(|a| !a.is_null()).enumerate() {
            write!(f, "{}{:#x}", if i == 0 { "" } else { ":" }, a.addr())?;
        }
        Ok(())
    }
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
    FdWriter::with(STDOUT, |w| {
        let _ =
            writeln!(w, "====== Heap Trace: {} records ({} capacity) ======", s.count, s.capacity);
        let (mut bytes, mut blocks) = (0, 0);
        for r in t.records().iter() {
            let _ = write!(
                w,
                "{:6} bytes (@ {:#x}) allocated thread {} time {:#010x} caller {}",
                r.size,
                r.addr(),
                r.tid,
                r.ccount,
                Raw(&r.alloced_by)
            );
            let _ = location(w, r);
            if s.mode == HEAP_TRACE_ALL && r.freed() {
                let _ = writeln!(w, "\nfreed by {}", Raw(&r.freed_by));
            } else {
                bytes += r.size;
                blocks += 1;
                let _ = writeln!(w);
            }
        }
        let _ = writeln!(w, "====== Heap Trace Summary ======");
        let mode = if s.mode == HEAP_TRACE_ALL { "All" } else { "Leaks" };
        let _ = writeln!(w, "Mode: Heap Trace {mode}");
        let _ = writeln!(w, "{bytes} bytes 'leaked' in trace ({blocks} allocations)");
        let _ = writeln!(
            w,
            "records: {} ({} capacity, {} high water mark)",
            s.count, s.capacity, s.high_water_mark
        );
        let _ = writeln!(w, "Total allocations: {}", s.total_allocations);
        let _ = writeln!(w, "Total frees: {}", s.total_frees);
        if s.has_overflowed {
            let _ =
                writeln!(w, "(NB: Internal Buffer has overflowed, so trace data is incomplete.)");
        }
        let _ = writeln!(w, "================================");
    });
}

/// ` at file:line` for a record with a source location.
fn location(w: &mut FdWriter, r: &HeapTraceRecord) -> fmt::Result {
    if r.file.is_null() {
        return Ok(());
    }
    write!(w, " at {}:{}", c_str(r.file), r.line)
}

fn c_str(p: *const c_char) -> &'static str {
    // SAFETY: `rawrt_track.h` passes `__FILE__`, a string literal.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
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
    FdWriter::with(STDERR, |w| {
        if s.has_overflowed {
            let _ = writeln!(w, "rawrt: leaks: incomplete (the trace buffer was full)");
        }
        let (mut bytes, mut blocks) = (0, 0);
        for r in t.records().iter().filter(|r| !r.freed()) {
            let _ = write!(w, "rawrt: leak: {} bytes at {:#x}", r.size, r.addr());
            if !r.file.is_null() {
                let _ = write!(w, " from {}:{}", c_str(r.file), r.line);
            }
            let _ = write!(w, ", allocated by ");
            for (i, a) in r.alloced_by.iter().map(|a| a.addr()).take_while(|&a| a != 0).enumerate()
            {
                let sep = if i == 0 { "" } else { ", " };
                let _ = match symbols::lookup(a) {
                    Some(sym) => write!(w, "{sep}{sym}"),
                    None => write!(w, "{sep}{a:#x}"),
                };
            }
            let _ = writeln!(w);
            bytes += r.size;
            blocks += 1;
        }
        let _ = writeln!(w, "rawrt: leaks: {bytes} bytes in {blocks} blocks");
    });
}
