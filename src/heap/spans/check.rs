//! The small heap's figures, counted from the span headers when asked for,
//! and its integrity check.

use super::{
    recip, secret, size_of_class, SpanHeap, SpanStats, BUMP, CLASSES, CLASS_MASK, FLAGS, HDR, HEAD,
    LISTED, MAGIC, NEXT, PREV, SEGMENTS, SIZE, SPAN, USED,
};
use crate::heap::source::Source;

impl<S: Source> SpanHeap<S> {
    /// The figures: the mapped blocks' as counted, the spans' from their
    /// headers (every span handed out so far, in the segments' order).
    pub fn stats(&self) -> SpanStats {
        let mut st = self.st;
        for s in self.spans() {
            if self.rd(s + MAGIC) == s ^ secret::key_mask() {
                let used = self.rd(s + USED);
                st.blocks += used;
                st.used += used * self.rd(s + SIZE);
            }
        }
        st
    }

    /// Every span handed out so far, in the segments' order.
    pub(super) fn spans(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.n_segs.min(SEGMENTS);
        self.segs[..n].iter().enumerate().flat_map(move |(i, &(lo, hi))| {
            let end = if i + 1 == n { self.fresh.0 } else { hi };
            (lo..end).step_by(SPAN)
        })
    }

    /// Checks every span: a live one's header (size of its class, bump,
    /// count), its free list (links mangled with the secret to blocks of
    /// the span below the bump, each with its key, as many as the span's
    /// blocks not in use), and the class lists (each listed span of its
    /// class, linked both ways, with a free block); the empty spans' list.
    /// Whether all was well.
    pub fn check(&self) -> bool {
        let (km, lm) = (secret::key_mask(), secret::link_mask());
        let mut listed = 0;
        for s in self.spans() {
            if self.rd(s + MAGIC) != s ^ km {
                continue;
            }
            let (flags, size, bump) = (self.rd(s + FLAGS), self.rd(s + SIZE), self.rd(s + BUMP));
            let c = flags & CLASS_MASK;
            if c == 0
                || c >= CLASSES
                || size_of_class(c) != size
                || flags & !(CLASS_MASK | LISTED) != recip(size)
            {
                return false;
            }
            if !(HDR..=SPAN).contains(&bump) || (bump - HDR) % size != 0 {
                return false;
            }
            let blocks = (bump - HDR) / size;
            let (mut free, mut h) = (0, self.rd(s + HEAD) ^ lm);
            while h != 0 {
                let off = h.wrapping_sub(s + HDR);
                if free >= blocks
                    || off >= bump - HDR
                    || off % size != 0
                    || self.rd(h + 8) != h ^ km
                {
                    return false;
                }
                free += 1;
                h = self.rd(h) ^ (h >> 12) ^ lm;
            }
            if free + self.rd(s + USED) != blocks {
                return false;
            }
            let is_cur = self.classes[c].cur == s;
            if flags & LISTED != 0 {
                listed += 1;
                if is_cur || free == 0 {
                    return false;
                }
            } else if !is_cur && free > 0 {
                return false;
            }
        }
        // The class lists: listed spans of their class, linked both ways.
        let mut seen = 0;
        for (c, cl) in self.classes.iter().enumerate() {
            let (mut prev, mut s) = (0, cl.partial);
            while s != 0 {
                if seen > listed
                    || self.span_of(s) != Some(s)
                    || self.rd(s + MAGIC) != s ^ km
                    || self.rd(s + FLAGS) & (CLASS_MASK | LISTED) != c | LISTED
                    || self.rd(s + PREV) != prev
                {
                    return false;
                }
                seen += 1;
                (prev, s) = (s, self.rd(s + NEXT));
            }
        }
        // The empty spans: not live, as many as counted.
        let (mut n, mut s) = (0, self.empty);
        while s != 0 {
            if n >= self.st.empty || self.span_of(s) != Some(s) || self.rd(s + MAGIC) != 0 {
                return false;
            }
            n += 1;
            s = self.rd(s + NEXT);
        }
        seen == listed && n == self.st.empty
    }
}
