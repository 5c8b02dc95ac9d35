//! The process heap's source: the program break, with `mmap` fallback.
//!
//! The break is shared with anything else in the process that calls
//! `brk` (another allocator, the program's own `sbrk`). The kernel's
//! `brk(new)` moves the break to `new` in either direction, so a raise
//! issued while someone else's memory lies above our end would shrink the
//! break over it (or, past it, overlap it), and the result would look
//! like success: a foreign move cannot be found from the result of our
//! own move. So before every move the source knows where the break is:
//!
//! - In a process whose every `brk` goes through rawrt (rawrt is its C
//!   library: the `cabi` feature), the system-call layer records the
//!   kernel's answer to each `brk` ([`crate::sys::mm::last_brk`]), ours
//!   and the program's alike, and [`Os::known_brk`] returns it: the
//!   heap's growth is one `brk(new)` per move, with no query, and a
//!   foreign move shows as a record that is not our segment's end. The
//!   first growth asks the kernel once (the initial break is randomised,
//!   not where the program ends).
//! - Elsewhere (inside another C library, whose `sbrk` keeps its own
//!   cached break) the source asks with `brk(0)` before each move; there
//!   that is the C library's `sbrk(0)`, which answers from its cache.
//!
//! It extends its segment only if the break is exactly at the segment's
//! end, and checks the result: the new break, or the old one when the
//! kernel refused; anything else means someone moved the break after all,
//! and the source leaves it alone. (Code that issues the `brk` system call
//! itself, behind the record, is found only that way, when the kernel
//! refuses to grow the break from where it left it; otherwise our move
//! would overlap or shrink its memory. Like glibc's `sbrk`, which adds to
//! the break it set last, rawrt's heap cannot share the break with such
//! code.) Lowering the break (a trim) always asks
//! the kernel first, since a shrink over memory that a mover the record
//! cannot see put above our end would destroy it; trims are rare. If
//! someone moved the break, the next segment starts at the new break
//! (page-aligned). If `brk` is refused (e.g. RLIMIT_DATA) the source
//! switches to mmap'd segments of at least 1 MiB, which it tries to extend
//! in place with `mremap` before mapping a new one.

use super::block::up;
use super::os::{LinuxOs, Os};
use super::source::{Source, Span, SysCounters};

mod reserve;

use reserve::Reserve;
pub use reserve::KIND_RESERVED;

/// Span kind: part of the program break.
pub const KIND_BRK: u8 = 1;
/// Span kind: an anonymous mapping.
pub const KIND_MMAP: u8 = 2;
/// The least the break is moved by, amortising the system calls (one per
/// move when the break is known without a query, see the module). Kept below the default trim threshold
/// less the pad an automatic trim keeps: see `DEFAULT_TRIM_THRESHOLD`.
pub const GROW_STEP: usize = 1024 * 1024;
const _: () =
    assert!(super::raw::TRIM_KEEP + GROW_STEP + 64 * 1024 <= super::raw::DEFAULT_TRIM_THRESHOLD);
/// The least a new mapped segment is made of when memory is short.
const MIN_MMAP_STEP: usize = 128 * 1024;
/// The least an mmap'd segment holds (grows with the number of segments).
pub const MMAP_SEGMENT: usize = 1024 * 1024;
/// A refused break move of at most this much disables `brk` for good.
const BRK_GIVE_UP: usize = 64 * 1024 * 1024;
/// After the break has been found moved by someone else this many times,
/// the source leaves it to them and grows by mmap: each move costs the
/// heap a segment slot (there are `MAX_SEGS`), mmap'd segments grow
/// geometrically and extend in place.
const FOREIGN_GIVE_UP: u32 = 4;
/// Requests above this fail without a system call.
const MAX_GROW: usize = (isize::MAX as usize) >> 1;

/// What a raise of the break did.
enum Raised {
    /// The break is where we asked.
    Done,
    /// The kernel refused: the break is where it was.
    Refused,
    /// The break is neither: someone else moved it.
    Moved,
}

/// Memory from the program break, falling back to `mmap`.
pub struct ProcessSource<O: Os = LinuxOs> {
    os: O,
    n: SysCounters,
    page: usize,
    /// End of our latest break segment (0: none yet).
    brk_end: usize,
    /// The break is not used (refused, taken over, or never: mmap only).
    no_brk: bool,
    mmap_segs: u32,
    /// Times the break was found moved by someone else.
    foreign_moves: u32,
    /// The kernel refused memory once (see [`Source::refused`]).
    refused: bool,
    /// The reservation the source commits from (`reserve.rs`); all zeros
    /// when it uses the break and mappings.
    space: Reserve,
}

// SAFETY: the source holds only addresses of memory its heap owns.
unsafe impl<O: Os + Send> Send for ProcessSource<O> {}

impl<O: Os> ProcessSource<O> {
    /// A source that uses the break first. Makes no system call yet.
    pub const fn new(os: O) -> Self {
        ProcessSource {
            os,
            n: SysCounters::ZERO,
            page: 0,
            brk_end: 0,
            no_brk: false,
            mmap_segs: 0,
            foreign_moves: 0,
            refused: false,
            space: Reserve { lo: 0, hi: 0, end: 0 },
        }
    }

    /// A source that never touches the break.
    pub const fn mmap_only(os: O) -> Self {
        ProcessSource {
            os,
            n: SysCounters::ZERO,
            page: 0,
            brk_end: 0,
            no_brk: true,
            mmap_segs: 0,
            foreign_moves: 0,
            refused: false,
            space: Reserve { lo: 0, hi: 0, end: 0 },
        }
    }

    /// The system-call layer, e.g. a test double.
    pub fn os(&mut self) -> &mut O {
        &mut self.os
    }

    /// Whether the source still uses the break.
    pub fn uses_brk(&self) -> bool {
        !self.no_brk
    }

    fn query(&mut self) -> usize {
        self.n.brk += 1;
        // SAFETY: brk(0) only queries.
        unsafe { self.os.brk(0) }
    }

    /// Where the break is: the process's record of it if every move goes
    /// through calls that the system-call layer sees (no system call), or
    /// else the kernel's answer to a query.
    fn current(&mut self) -> usize {
        match self.os.known_brk() {
            Some(b) => b,
            None => self.query(),
        }
    }

    /// Someone else moved the break: the next segment goes above theirs,
    /// and after [`FOREIGN_GIVE_UP`] such moves the break is left to them.
    fn foreign_moved(&mut self) {
        self.foreign_moves += 1;
        if self.foreign_moves >= FOREIGN_GIVE_UP {
            self.no_brk = true;
        }
    }

    /// Raises the break from `end` by `step` bytes, or by `least` if the
    /// kernel refuses that many (a memory limit may leave room for what
    /// the heap needs, if not for a whole step); `end` is the break (see
    /// [`current`](Self::current)). The length it was raised by;
    /// `Err(true)` if the kernel refused, `Err(false)` if the result showed
    /// the break elsewhere (moved by someone else: counted, not touched).
    /// A refusal of even `least` bytes (at most [`BRK_GIVE_UP`]) gives the
    /// break up for good.
    fn raise_by(&mut self, end: usize, step: usize, least: usize) -> Result<usize, bool> {
        for len in [step, least] {
            let want = end.checked_add(len).ok_or(true)?;
            match self.raise(end, want) {
                Raised::Done => return Ok(len),
                Raised::Moved => {
                    self.foreign_moved();
                    return Err(false);
                }
                Raised::Refused => {}
            }
            if least >= step {
                break;
            }
        }
        if least <= BRK_GIVE_UP {
            self.no_brk = true;
        }
        Err(true)
    }

    /// Raises the break from `end` (the break, see
    /// [`current`](Self::current)) to `want`, one system call.
    fn raise(&mut self, end: usize, want: usize) -> Raised {
        self.n.brk += 1;
        // SAFETY: `want` is above `end`, the break as the process's last
        // `brk` left it (or as just queried): the call only maps memory.
        let got = unsafe { self.os.brk(want) };
        if got == want {
            self.brk_end = want;
            Raised::Done
        } else if got == end {
            self.refused = true;
            Raised::Refused
        } else {
            Raised::Moved
        }
    }

    /// Extends the top segment in place. `Err(true)` if the break was ours
    /// but the kernel refused to move it (no point asking again).
    fn extend(&mut self, t: Span, step: usize, least: usize) -> Result<Span, bool> {
        let end = t.end();
        if t.kind == KIND_BRK && !self.no_brk && end == self.brk_end {
            if self.current() != end {
                // Someone else moved the break: start a segment above
                // theirs, or leave the break to them if they keep at it.
                self.foreign_moved();
                return Err(false);
            }
            let len = self.raise_by(end, step, least)?;
            return Ok(Span { base: end, len, kind: KIND_BRK, zeroed: true });
        }
        if t.kind == KIND_MMAP {
            for len in [step, least] {
                let new = t.len.checked_add(len).ok_or(false)?;
                self.n.mremap += 1;
                // SAFETY: growing in place leaves the old range where it is.
                if unsafe { self.os.mremap(t.base, t.len, new, false) }.is_some() {
                    return Ok(Span { base: end, len, kind: KIND_MMAP, zeroed: true });
                }
                if least >= step {
                    break;
                }
            }
        }
        Err(false)
    }

    fn brk_segment(&mut self, step: usize, least: usize) -> Option<Span> {
        let cur = self.current();
        let start = cur.checked_add(self.page - 1)? & !(self.page - 1);
        let len = self.raise_by(cur, step + (start - cur), least + (start - cur)).ok()?;
        Some(Span { base: start, len: len - (start - cur), kind: KIND_BRK, zeroed: true })
    }

    /// A new mapped segment: geometrically bigger ones first, then a
    /// step, at the last `least` bytes (what the heap needs, when memory is
    /// short).
    fn mmap_segment(&mut self, step: usize, least: usize) -> Option<Span> {
        let want = MMAP_SEGMENT << self.mmap_segs.min(8);
        let step = least.max(step.min(MIN_MMAP_STEP));
        let mut last = 0;
        for len in [step.max(want), step, least] {
            if len == last {
                continue;
            }
            last = len;
            self.n.mmap += 1;
            if let Some(base) = self.os.mmap(len) {
                self.mmap_segs += 1;
                return Some(Span { base, len, kind: KIND_MMAP, zeroed: true });
            }
            self.refused = true;
        }
        None
    }

    /// Lowers the break from `end` to `new_end` if it is still at `end`.
    /// Asks the kernel first even when the record says so: lowering the
    /// break over memory that a mover the record cannot see put there
    /// would unmap it, and trims are rare.
    fn lower(&mut self, end: usize, new_end: usize) -> bool {
        if self.no_brk
            || end != self.brk_end
            || self.os.known_brk().is_some_and(|b| b != end)
            || self.query() != end
        {
            return false;
        }
        self.n.brk += 1;
        // SAFETY: the heap gives up `[new_end, end)`; the break is ours.
        if unsafe { self.os.brk(new_end) } == new_end {
            self.brk_end = new_end;
            return true;
        }
        false
    }
}

// SAFETY: spans come from the break above its previous value or from
// fresh mappings; neither overlaps memory the heap already owns.
unsafe impl<O: Os> Source for ProcessSource<O> {
    fn grow(&mut self, top: Option<Span>, min: usize) -> Option<Span> {
        if min > MAX_GROW {
            return None;
        }
        if self.is_reserved() {
            return self.grow_reserved(min);
        }
        let page = self.page_size();
        let step = up(min.max(GROW_STEP), page);
        let least = up(min, page);
        let mut refused = false;
        if let Some(t) = top {
            match self.extend(t, step, least) {
                Ok(s) => return Some(s),
                Err(r) => refused = r,
            }
        }
        if !self.no_brk && !refused {
            if let Some(s) = self.brk_segment(step, least) {
                return Some(s);
            }
        }
        self.mmap_segment(step, least)
    }

    unsafe fn shrink(&mut self, seg: Span, new_len: usize) -> bool {
        let (end, new_end) = (seg.end(), seg.base + new_len);
        match seg.kind {
            // SAFETY: the heap gives up the tail.
            KIND_RESERVED => unsafe { self.shrink_reserved(new_end) },
            KIND_BRK => self.lower(end, new_end),
            KIND_MMAP => {
                self.n.munmap += 1;
                // SAFETY: the heap gives up the tail.
                unsafe { self.os.munmap(new_end, end - new_end) }
            }
            _ => false,
        }
    }

    unsafe fn release(&mut self, seg: Span) -> bool {
        // SAFETY: the heap gives up the whole segment.
        unsafe { self.shrink(seg, 0) }
    }

    unsafe fn purge(&mut self, base: usize, len: usize) -> bool {
        self.n.madvise += 1;
        // SAFETY: the heap no longer needs the contents.
        unsafe { self.os.dontneed(base, len) }
    }

    fn can_map(&self) -> bool {
        !self.is_reserved()
    }

    fn map(&mut self, len: usize) -> Option<usize> {
        if len > MAX_GROW || self.is_reserved() {
            return None;
        }
        self.n.mmap += 1;
        let got = self.os.mmap(len);
        self.refused |= got.is_none();
        got
    }

    unsafe fn unmap(&mut self, base: usize, len: usize) {
        self.n.munmap += 1;
        // SAFETY: the heap gives the mapping up.
        unsafe { self.os.munmap(base, len) };
    }

    unsafe fn remap(&mut self, base: usize, old: usize, new: usize) -> Option<usize> {
        if new > MAX_GROW {
            return None;
        }
        self.n.mremap += 1;
        // SAFETY: the heap accepts the move.
        unsafe { self.os.mremap(base, old, new, true) }
    }

    fn refused(&self) -> bool {
        self.refused
    }

    fn page_size(&mut self) -> usize {
        if self.page == 0 {
            self.page = self.os.page_size();
        }
        self.page
    }

    fn counters(&self) -> SysCounters {
        self.n
    }

    fn now_ms(&mut self) -> Option<u64> {
        self.os.now_ms()
    }

    fn root(&self) -> *mut u8 {
        self.os.root()
    }
}
