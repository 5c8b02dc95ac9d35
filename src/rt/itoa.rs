//! Decimal and hexadecimal digits without `core::fmt`, for the panic
//! handler and fatal messages (which must not pull in the formatter).

/// Writes `n` in decimal into the end of `buf`; returns the digits.
#[cfg_attr(not(feature = "entry"), allow(dead_code))]
pub(crate) fn dec(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        i -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // u64::MAX has 20 digits, so `i` never underflows; `get` keeps this
    // free of bounds-check panics.
    buf.get(i..).unwrap_or(&[])
}

/// Writes `n` as `0x` and lower-case hex digits into `buf`; returns them.
/// Not inlined, and a loop the compiler does not unroll (`black_box`
/// hides the shifted value from it): an inlined, unrolled copy was 525
/// bytes of cold code in every program whose allocator can report a bad
/// pointer; this one is 83 (x86_64).
#[inline(never)]
pub(crate) fn hex(mut n: u64, buf: &mut [u8; 18]) -> &[u8] {
    // 1 to 16 digits (0 has one).
    let digits = (64 - (n | 1).leading_zeros() as usize).div_ceil(4);
    let end = 2 + digits;
    buf[0] = b'0';
    buf[1] = b'x';
    let mut i = end;
    while i > 2 {
        i -= 1;
        // `i` is below `end`, at most 18: `get_mut` keeps this free of a
        // bounds-check panic.
        if let Some(slot) = buf.get_mut(i) {
            *slot = b"0123456789abcdef"[(n & 15) as usize];
        }
        n = core::hint::black_box(n >> 4);
    }
    buf.get(..end).unwrap_or(&[])
}

#[cfg(test)]
pub(crate) mod tests {
    fn digits() {
        let mut b = [0; 20];
        assert_eq!(super::dec(0, &mut b), b"0");
        assert_eq!(super::dec(101, &mut b), b"101");
        assert_eq!(super::dec(u64::MAX, &mut b), b"18446744073709551615");
        let mut h = [0; 18];
        assert_eq!(super::hex(0, &mut h), b"0x0");
        assert_eq!(super::hex(0xf, &mut h), b"0xf");
        assert_eq!(super::hex(0x10, &mut h), b"0x10");
        assert_eq!(super::hex(0xdead_beef, &mut h), b"0xdeadbeef");
        assert_eq!(super::hex(1 << 60, &mut h), b"0x1000000000000000");
        assert_eq!(super::hex(u64::MAX, &mut h), b"0xffffffffffffffff");
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[("itoa::digits", digits)];
}
