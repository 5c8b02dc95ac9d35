//! The small heap's size classes: one per 16 bytes up to 256, then four
//! per doubling up to [`SMALL_MAX`] (a request is rounded up by at most a
//! quarter, as jemalloc's and mimalloc's classes are).

/// The largest request served from a span; larger ones are mapped.
pub const SMALL_MAX: usize = 8 << 10;
/// Number of classes (class 0 is unused: a request of 0 bytes takes
/// class 1's 16 bytes).
pub const CLASSES: usize = 37;

/// The class of a request of `n` bytes and its block size, for `n <=`
/// [`SMALL_MAX`].
#[inline(always)]
pub fn class_of(n: usize) -> (usize, usize) {
    debug_assert!(n <= SMALL_MAX);
    if n <= 256 {
        let c = if n == 0 { 1 } else { (n + 15) >> 4 };
        (c, c << 4)
    } else {
        // `t = n - 1` lies in [2^e, 2^(e+1)) with 8 <= e <= 12; its top
        // three bits `q` (4..=7) pick the quarter.
        let t = n - 1;
        let e = (usize::BITS - 1 - t.leading_zeros()) as usize;
        let q = t >> (e - 2);
        (17 + (e - 8) * 4 + (q - 4), (q + 1) << (e - 2))
    }
}

/// The block size of class `c` (`1 <= c < CLASSES`).
pub fn size_of_class(c: usize) -> usize {
    if c <= 16 {
        c << 4
    } else {
        let k = c - 17;
        let e = 8 + k / 4;
        (k % 4 + 5) << (e - 2)
    }
}

#[cfg(test)]
pub(super) fn classes_cover_every_size_and_waste_at_most_a_quarter() {
    let mut last = (0, 0);
    for n in 0..=SMALL_MAX {
        let (c, s) = class_of(n);
        assert!((1..CLASSES).contains(&c), "class {c} of {n}");
        assert!(s >= n.max(1) && s % 16 == 0, "size {s} of {n}");
        assert_eq!(size_of_class(c), s, "class {c}");
        if n > 256 {
            assert!(s - n < n / 4 + 16, "{n} -> {s}");
        }
        // Monotonic, and each class is the least that fits.
        assert!(c >= last.0 && s >= last.1);
        if c != last.0 && n > 0 {
            assert!(last.1 < n, "{n} fitted class {} already", last.0);
        }
        last = (c, s);
    }
    assert_eq!(class_of(SMALL_MAX), (CLASSES - 1, SMALL_MAX));
    assert_eq!(class_of(257), (17, 320));
    assert_eq!(class_of(16), (1, 16));
    assert_eq!(class_of(17), (2, 32));
}
