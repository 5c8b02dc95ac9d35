//! Memory routines: `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`,
//! `strlen`, exported under their C names (feature `cabi`) or as
//! `rawrt_memcpy` etc.
//!
//! The compiler lowers copies and fills to calls of these very symbols, so
//! a loop here must never be turned back into such a call: every loop body
//! holds an [`arch::barrier`](crate::arch::barrier), and a test checks the
//! disassembly for self-calls. Lengths from 512 bytes on use `rep movsb` /
//! `rep stosb` on x86_64 (forward copies only); otherwise long runs move
//! four words per round (aligned destination, unaligned reads), short
//! ones and the tails a byte at a time.

use crate::arch::barrier;
use core::mem::size_of;

const W: usize = size_of::<usize>();

/// From this many bytes on, x86_64 copies and fills with `rep movsb` /
/// `rep stosb` (fast on every CPU with ERMS, i.e. since 2012).
#[cfg(target_arch = "x86_64")]
const REP_MIN: usize = 512;

/// Copies `n` bytes forward; the ranges may overlap only if `dst <= src`.
#[inline(always)]
unsafe fn copy_forward(mut d: *mut u8, mut s: *const u8, mut n: usize) {
    // SAFETY: the caller gives valid ranges of `n` bytes.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        if n >= REP_MIN {
            // A forward byte copy, as `rep movsb` is, is right for every
            // overlap with dst <= src.
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") d => _,
                inout("rsi") s => _,
                options(nostack, preserves_flags)
            );
            return;
        }
        if n >= 2 * W {
            while (d as usize) % W != 0 {
                *d = *s;
                d = d.add(1);
                s = s.add(1);
                n -= 1;
                barrier();
            }
            // Four words per round: every read of a round comes before its
            // writes, so an overlap with dst <= src is still copied right.
            while n >= 4 * W {
                let sw = s as *const usize;
                let (a, b, c, e) = (
                    sw.read_unaligned(),
                    sw.add(1).read_unaligned(),
                    sw.add(2).read_unaligned(),
                    sw.add(3).read_unaligned(),
                );
                let dw = d as *mut usize;
                dw.write(a);
                dw.add(1).write(b);
                dw.add(2).write(c);
                dw.add(3).write(e);
                d = d.add(4 * W);
                s = s.add(4 * W);
                n -= 4 * W;
                barrier();
            }
            while n >= W {
                (d as *mut usize).write((s as *const usize).read_unaligned());
                d = d.add(W);
                s = s.add(W);
                n -= W;
                barrier();
            }
        }
        while n > 0 {
            *d = *s;
            d = d.add(1);
            s = s.add(1);
            n -= 1;
            barrier();
        }
    }
}

/// Copies `n` bytes backward (from the end); for overlaps with `dst > src`.
#[inline(always)]
unsafe fn copy_backward(dst: *mut u8, src: *const u8, mut n: usize) {
    // SAFETY: the caller gives valid ranges of `n` bytes.
    unsafe {
        let mut d = dst.add(n);
        let mut s = src.add(n);
        if n >= 2 * W {
            while (d as usize) % W != 0 {
                d = d.sub(1);
                s = s.sub(1);
                *d = *s;
                n -= 1;
                barrier();
            }
            // Four words per round, all read before any is written.
            while n >= 4 * W {
                d = d.sub(4 * W);
                s = s.sub(4 * W);
                let sw = s as *const usize;
                let (a, b, c, e) = (
                    sw.read_unaligned(),
                    sw.add(1).read_unaligned(),
                    sw.add(2).read_unaligned(),
                    sw.add(3).read_unaligned(),
                );
                let dw = d as *mut usize;
                dw.add(3).write(e);
                dw.add(2).write(c);
                dw.add(1).write(b);
                dw.write(a);
                n -= 4 * W;
                barrier();
            }
            while n >= W {
                d = d.sub(W);
                s = s.sub(W);
                (d as *mut usize).write((s as *const usize).read_unaligned());
                n -= W;
                barrier();
            }
        }
        while n > 0 {
            d = d.sub(1);
            s = s.sub(1);
            *d = *s;
            n -= 1;
            barrier();
        }
    }
}

/// C `memcpy`: copies `n` bytes; the ranges must not overlap.
///
/// # Safety
/// `dst` and `src` must be valid for `n` bytes and not overlap.
#[cfg_attr(all(not(test), feature = "cabi"), export_name = "memcpy")]
#[cfg_attr(not(all(not(test), feature = "cabi")), export_name = "rawrt_memcpy")]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { copy_forward(dst, src, n) };
    dst
}

/// C `memmove`: copies `n` bytes; the ranges may overlap.
///
/// # Safety
/// `dst` and `src` must be valid for `n` bytes.
#[cfg_attr(all(not(test), feature = "cabi"), export_name = "memmove")]
#[cfg_attr(not(all(not(test), feature = "cabi")), export_name = "rawrt_memmove")]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: copying forward is safe when dst precedes src or the ranges
    // are disjoint; otherwise copy from the end.
    unsafe {
        if (dst as usize).wrapping_sub(src as usize) >= n {
            copy_forward(dst, src, n)
        } else {
            copy_backward(dst, src, n)
        }
    }
    dst
}

/// C `memset`: fills `n` bytes with the low byte of `c`.
///
/// # Safety
/// `dst` must be valid for `n` bytes.
#[cfg_attr(all(not(test), feature = "cabi"), export_name = "memset")]
#[cfg_attr(not(all(not(test), feature = "cabi")), export_name = "rawrt_memset")]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, mut n: usize) -> *mut u8 {
    let b = c as u8;
    let mut d = dst;
    // SAFETY: `dst` is valid for `n` bytes.
    unsafe {
        if n >= 2 * W {
            while (d as usize) % W != 0 {
                *d = b;
                d = d.add(1);
                n -= 1;
                barrier();
            }
            #[cfg(target_arch = "x86_64")]
            if n >= REP_MIN {
                core::arch::asm!(
                    "rep stosb",
                    inout("rcx") n => _,
                    inout("rdi") d => _,
                    in("al") b,
                    options(nostack, preserves_flags)
                );
                return dst;
            }
            // 0x0101..01 * b; an array repeat here would itself become a
            // memset call at opt-level 0.
            let word = (b as usize).wrapping_mul(usize::MAX / 255);
            while n >= 4 * W {
                let dw = d as *mut usize;
                dw.write(word);
                dw.add(1).write(word);
                dw.add(2).write(word);
                dw.add(3).write(word);
                d = d.add(4 * W);
                n -= 4 * W;
                barrier();
            }
            while n >= W {
                (d as *mut usize).write(word);
                d = d.add(W);
                n -= W;
                barrier();
            }
        }
        while n > 0 {
            *d = b;
            d = d.add(1);
            n -= 1;
            barrier();
        }
    }
    dst
}

/// C `memcmp`: compares `n` bytes as unsigned chars.
///
/// # Safety
/// Both ranges must be valid for `n` bytes.
#[cfg_attr(all(not(test), feature = "cabi"), export_name = "memcmp")]
#[cfg_attr(not(all(not(test), feature = "cabi")), export_name = "rawrt_memcmp")]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { compare(a, b, n) }
}

/// The body of `memcmp` and `bcmp`, inlined into each so that neither
/// calls the other.
#[inline(always)]
unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    // SAFETY: both ranges are valid for `n` bytes.
    unsafe {
        while i + W <= n
            && (a.add(i) as *const usize).read_unaligned()
                == (b.add(i) as *const usize).read_unaligned()
        {
            i += W;
            barrier();
        }
        while i < n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return x as i32 - y as i32;
            }
            i += 1;
            barrier();
        }
    }
    0
}

/// C `bcmp`: zero if the `n` bytes are equal, non-zero otherwise.
///
/// # Safety
/// Both ranges must be valid for `n` bytes.
#[cfg_attr(all(not(test), feature = "cabi"), export_name = "bcmp")]
#[cfg_attr(not(all(not(test), feature = "cabi")), export_name = "rawrt_bcmp")]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { compare(a, b, n) }
}

/// C `strlen`: the number of bytes before the first NUL.
///
/// # Safety
/// `s` must point at a NUL-terminated string.
#[cfg_attr(all(not(test), feature = "cabi"), export_name = "strlen")]
#[cfg_attr(not(all(not(test), feature = "cabi")), export_name = "rawrt_strlen")]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the string is NUL-terminated.
    unsafe {
        while *s.add(n) != 0 {
            n += 1;
            barrier();
        }
    }
    n
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::check::Rng;

    fn random_buf(r: &mut Rng, n: usize) -> Vec<u8> {
        (0..n).map(|_| r.next() as u8).collect()
    }

    fn copy_and_move_match_reference() {
        let mut r = Rng::new(0x1234_5678);
        for k in 0..20_000 {
            // Mostly short; every tenth long enough for the bulk paths.
            let len = if k % 10 == 0 { r.below(5000) } else { r.below(300) };
            let total = len + 64;
            let orig = random_buf(&mut r, total);
            let (so, d) = (r.below(64), r.below(64));
            // memmove inside one buffer (overlapping in either direction).
            let mut buf = orig.clone();
            let mut want = orig.clone();
            want.copy_within(so..so + len, d);
            // SAFETY: both ranges lie inside `buf`.
            unsafe { memmove(buf.as_mut_ptr().add(d), buf.as_ptr().add(so), len) };
            assert_eq!(buf, want, "memmove len {len} src {so} dst {d}");
            // memcpy between two buffers at every alignment.
            let mut dst = vec![0xAAu8; total];
            // SAFETY: disjoint buffers, both long enough.
            unsafe { memcpy(dst.as_mut_ptr().add(d), orig.as_ptr().add(so), len) };
            assert_eq!(&dst[d..d + len], &orig[so..so + len]);
            assert!(dst[..d].iter().all(|&b| b == 0xAA));
            assert!(dst[d + len..].iter().all(|&b| b == 0xAA));
        }
    }

    fn set_matches_reference() {
        let mut r = Rng::new(99);
        for k in 0..10_000 {
            let len = if k % 10 == 0 { r.below(5000) } else { r.below(300) };
            let (off, c) = (r.below(32), r.next() as i32);
            let mut buf = vec![7u8; off + len + 32];
            // SAFETY: the range lies inside `buf`.
            unsafe { memset(buf.as_mut_ptr().add(off), c | 0x100, len) };
            for (i, &b) in buf.iter().enumerate() {
                let inside = i >= off && i < off + len;
                assert_eq!(
                    b,
                    if inside { c as u8 } else { 7 },
                    "memset off {off} len {len} at {i}"
                );
            }
        }
    }

    fn compare_matches_reference() {
        let mut r = Rng::new(7);
        for _ in 0..20_000 {
            let len = r.below(100);
            let a = random_buf(&mut r, len + 8);
            let mut b = a.clone();
            if len > 0 && r.below(2) == 0 {
                let i = r.below(len);
                b[i] = r.next() as u8;
            }
            let (oa, ob) = (r.below(8), r.below(8));
            let (sa, sb) = (&a[oa..oa + len.min(a.len() - 8)], &b[ob..ob + len.min(b.len() - 8)]);
            let n = sa.len();
            let want =
                sa.iter().zip(sb).find(|(x, y)| x != y).map_or(0, |(x, y)| *x as i32 - *y as i32);
            // SAFETY: both slices have `n` bytes.
            let got = unsafe { memcmp(sa.as_ptr(), sb.as_ptr(), n) };
            assert_eq!(got.signum(), want.signum());
            assert_eq!(got, want);
            // SAFETY: as above.
            assert_eq!(unsafe { bcmp(sa.as_ptr(), sb.as_ptr(), n) } == 0, want == 0);
        }
    }

    fn strlen_counts() {
        for n in 0..100 {
            let mut s = vec![b'x'; n];
            s.push(0);
            // SAFETY: NUL-terminated.
            assert_eq!(unsafe { strlen(s.as_ptr()) }, n);
        }
    }

    pub(crate) const TESTS: &[(&str, fn())] = &[
        ("mem::copy_and_move_match_reference", copy_and_move_match_reference),
        ("mem::set_matches_reference", set_matches_reference),
        ("mem::compare_matches_reference", compare_matches_reference),
        ("mem::strlen_counts", strlen_counts),
    ];
}
