//! Word-at-a-time operations on allocation bitmaps.
//!
//! A bitmap is a slice of `u64` words holding `nbits` meaningful bits; bit
//! `i` lives in word `i / 64` at position `i % 64` (least significant bit
//! first). A set bit means "in use", a clear bit "free". Bits at positions
//! `nbits..` of the last word are padding: every function here treats them
//! as set (in use), whatever they hold, so no run ever extends past `nbits`.
//!
//! The run finders look at one word per step: an all-ones word is skipped
//! with one comparison, an all-zeros word extends the current run by 64, and
//! a mixed word is split into its runs with `trailing_zeros` and
//! `trailing_ones` (at most 32 steps for the worst word, one per run, never
//! one per bit). A search for a short run (up to 8 bits) takes no walk at
//! all: it finds the run's possible starts in a word with a few shifts and
//! ands over that word and the next (`find_short_run`).
//! [`naive_find_clear_run`] is the bit-by-bit reference that
//! tests and benchmarks compare against.

/// Bits per bitmap word.
pub const WORD_BITS: usize = 64;

/// Runs up to this long are searched by `find_short_run` (its cost grows
/// with the run's length, the walk's with the runs in a word: at 16 the
/// granule benchmark's searches of up to 32 granules were 5% slower than
/// at 8, at 4 2% slower).
const SHORT_RUN: usize = 8;

/// Number of words needed for `nbits` bits.
#[inline]
pub const fn words_for(nbits: usize) -> usize {
    nbits.div_ceil(WORD_BITS)
}

/// Word `k`, or all ones (in use) past the end of the slice: callers
/// stay inside it, and a read outside is no free memory, never a panic.
#[inline(always)]
pub fn word(words: &[u64], k: usize) -> u64 {
    words.get(k).copied().unwrap_or(!0)
}

/// Word `k`, to change: writes outside the slice (which callers never
/// make) go nowhere, rather than panic.
#[inline(always)]
pub fn word_mut(words: &mut [u64], k: usize, f: impl FnOnce(&mut u64)) {
    if let Some(w) = words.get_mut(k) {
        f(w)
    }
}

/// Word `k` of the bitmap with the padding bits past `nbits` forced to one.
#[inline(always)]
fn word_at(words: &[u64], nbits: usize, k: usize) -> u64 {
    let w = word(words, k);
    let tail = nbits % WORD_BITS;
    if tail != 0 && k == nbits / WORD_BITS {
        w | (!0u64 << tail)
    } else {
        w
    }
}

/// Walks the maximal runs of clear bits in increasing order, starting at
/// word `start_word` (a run that began before it is not seen). `f(start,
/// end)` is called every time the current run grows, with the run so far as
/// the half-open range `start..end`; the walk stops as soon as `f` returns
/// true.
#[inline(always)]
fn walk_clear_runs(
    words: &[u64],
    nbits: usize,
    start_word: usize,
    mut f: impl FnMut(usize, usize) -> bool,
) {
    let nwords = words_for(nbits).min(words.len());
    let mut run_start = 0usize;
    let mut in_run = false;
    for k in start_word..nwords {
        let w = word_at(words, nbits, k);
        let base = k * WORD_BITS;
        if w == u64::MAX {
            in_run = false;
            continue;
        }
        if w == 0 {
            if !in_run {
                run_start = base;
                in_run = true;
            }
            if f(run_start, base + WORD_BITS) {
                return;
            }
            continue;
        }
        // A mixed word: alternate between skipping used bits and taking
        // free ones, one run per iteration.
        let free = !w;
        let mut pos = 0u32;
        while pos < 64 {
            let rest = free >> pos;
            if rest == 0 {
                // Bits pos..64 are all used.
                in_run = false;
                break;
            }
            let used = rest.trailing_zeros();
            if used > 0 {
                in_run = false;
                pos += used;
            }
            let len = (free >> pos).trailing_ones();
            if !in_run {
                run_start = base + pos as usize;
                in_run = true;
            }
            pos += len;
            if f(run_start, base + pos as usize) {
                return;
            }
            // pos == 64 leaves the run open into the next word.
        }
    }
}

/// The lowest index `i`, a multiple of `step` (a power of two), such that
/// bits `i..i + n` are all clear and `i + n <= nbits`; `None` if there is
/// none or `n == 0`. The search begins at word `start_word`: every word
/// before it must be all ones (the caller's "first non-full word" hint).
pub fn find_clear_run(
    words: &[u64],
    nbits: usize,
    start_word: usize,
    n: usize,
    step: usize,
) -> Option<usize> {
    debug_assert!(step.is_power_of_two());
    if n == 0 || n > nbits {
        return None;
    }
    if n <= SHORT_RUN {
        return find_short_run(words, nbits, start_word, n, step);
    }
    let mask = step - 1;
    let mut found = None;
    walk_clear_runs(words, nbits, start_word, |start, end| {
        // The lowest aligned start inside this run; if it does not fit yet,
        // no later aligned start of the same run fits sooner.
        let aligned = match start.checked_add(mask) {
            Some(v) => v & !mask,
            None => return false,
        };
        if aligned < end && end - aligned >= n {
            found = Some(aligned);
            true
        } else {
            false
        }
    });
    found
}

/// [`find_clear_run`] for short runs (`n <= SHORT_RUN`), a word at
/// a time without walking its runs: in the window of word `k`'s free bits
/// and the next word's, `n` ones in a row are found by and-ing the window
/// with itself shifted by 1, 2, 4, ... bits (each step doubles the length
/// of the runs it keeps, the last one tops it up to `n`); the bits left in
/// the low word are the starts of free runs of `n`, masked to the multiples
/// of `step`. The lowest one is the answer; the next word is tried
/// otherwise. The padding past `nbits` reads as used (`word_at`) and the
/// window past the last word as used too, so no run passes `nbits`.
#[inline]
fn find_short_run(
    words: &[u64],
    nbits: usize,
    start_word: usize,
    n: usize,
    step: usize,
) -> Option<usize> {
    debug_assert!((1..=WORD_BITS).contains(&n));
    let nwords = words_for(nbits).min(words.len());
    // The starts a word may offer: every `step`-th bit; with steps above a
    // word, bit 0 of every (step / 64)-th word.
    let every = if step >= WORD_BITS {
        1
    } else {
        let mut m = 1u64;
        let mut span = step;
        while span < WORD_BITS {
            m |= m << span;
            span *= 2;
        }
        m
    };
    let words_per_step = (step / WORD_BITS).max(1);
    let mut low = if start_word < nwords { !word_at(words, nbits, start_word) } else { 0 };
    for k in start_word..nwords {
        let high = if k + 1 < nwords { !word_at(words, nbits, k + 1) } else { 0 };
        if low != 0 && k % words_per_step == 0 {
            let mut window = u128::from(low) | u128::from(high) << WORD_BITS;
            let mut len = 1;
            while len < n {
                let by = len.min(n - len);
                window &= window >> by;
                len += by;
            }
            let starts = window as u64 & every;
            if starts != 0 {
                return Some(k * WORD_BITS + starts.trailing_zeros() as usize);
            }
        }
        low = high;
    }
    None
}

/// The length of the longest run of clear bits (`mxfree`).
pub fn largest_clear_run(words: &[u64], nbits: usize) -> usize {
    let mut best = 0;
    walk_clear_runs(words, nbits, 0, |start, end| {
        best = best.max(end - start);
        false
    });
    best
}

/// The number of clear bits among the first `nbits`.
pub fn count_clear(words: &[u64], nbits: usize) -> usize {
    (0..words_for(nbits)).map(|k| word_at(words, nbits, k).count_zeros() as usize).sum()
}

/// Calls `f(word_index, mask)` for each word that bits `start..start + n`
/// touch, with the mask of those bits within the word.
#[inline(always)]
fn for_range_masks(start: usize, n: usize, mut f: impl FnMut(usize, u64)) {
    let end = start + n;
    let mut i = start;
    while i < end {
        let bit = i % WORD_BITS;
        let take = (WORD_BITS - bit).min(end - i);
        let mask = if take == WORD_BITS { !0u64 } else { ((1u64 << take) - 1) << bit };
        f(i / WORD_BITS, mask);
        i += take;
    }
}

/// Sets bits `start..start + n` (which must lie inside the slice).
pub fn set_range(words: &mut [u64], start: usize, n: usize) {
    for_range_masks(start, n, |k, m| word_mut(words, k, |w| *w |= m));
}

/// Clears bits `start..start + n` (which must lie inside the slice).
pub fn clear_range(words: &mut [u64], start: usize, n: usize) {
    for_range_masks(start, n, |k, m| word_mut(words, k, |w| *w &= !m));
}

/// Whether bits `start..start + n` (inside the slice) are all set.
pub fn range_all_set(words: &[u64], start: usize, n: usize) -> bool {
    let mut all = true;
    for_range_masks(start, n, |k, m| all &= word(words, k) & m == m);
    all
}

/// Whether bits `start..start + n` (inside the slice) are all clear.
pub fn range_all_clear(words: &[u64], start: usize, n: usize) -> bool {
    let mut all = true;
    for_range_masks(start, n, |k, m| all &= word(words, k) & m == 0);
    all
}

/// The length of the allocation that starts at bit `first` (whose `starts`
/// bit is set): the bits from `first` up to the first bit after it that is
/// clear in `words` or set in `starts` (or `nbits`), a word at a time.
pub fn allocation_len(words: &[u64], starts: &[u64], nbits: usize, first: usize) -> usize {
    let mut k = first / WORD_BITS;
    // Bits that end the allocation: free, or another allocation's start;
    // `first` itself and the bits below it do not count (two shifts: the
    // second takes the top bit out when `first` is a word's last).
    let mut ends = (!word(words, k) | word(starts, k)) & (!0u64 << (first % WORD_BITS) << 1);
    loop {
        if ends != 0 {
            return (k * WORD_BITS + ends.trailing_zeros() as usize).min(nbits) - first;
        }
        k += 1;
        if k * WORD_BITS >= nbits {
            return nbits - first;
        }
        ends = !word(words, k) | word(starts, k);
    }
}

/// Bit-by-bit reference for [`find_clear_run`] (with `start_word` 0): the
/// obvious loop over every candidate start and every bit of the run. Kept
/// for the correctness tests and as the baseline of the granule benchmark;
/// not for production use.
#[doc(hidden)]
pub fn naive_find_clear_run(words: &[u64], nbits: usize, n: usize, step: usize) -> Option<usize> {
    if n == 0 || step == 0 {
        return None;
    }
    let bit = |i: usize| words[i / WORD_BITS] >> (i % WORD_BITS) & 1 != 0;
    let mut i = 0;
    while i + n <= nbits {
        if (i..i + n).all(|j| !bit(j)) {
            return Some(i);
        }
        i += step;
    }
    None
}

/// Bit-by-bit reference for [`largest_clear_run`].
#[doc(hidden)]
pub fn naive_largest_clear_run(words: &[u64], nbits: usize) -> usize {
    let (mut best, mut cur) = (0, 0);
    for i in 0..nbits {
        if words[i / WORD_BITS] >> (i % WORD_BITS) & 1 != 0 {
            cur = 0;
        } else {
            cur += 1;
            best = best.max(cur);
        }
    }
    best
}
