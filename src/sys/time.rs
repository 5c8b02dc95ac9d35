//! Clocks and randomness.

use core::time::Duration;

use super::{ret, ret_unit, Errno};
use crate::syscall;

pub use linux_raw_sys::general::{
    CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, GRND_NONBLOCK, GRND_RANDOM,
    TIMER_ABSTIME,
};

/// A time value as the kernel's 64-bit `timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: i64,
}

impl Timespec {
    /// Nanoseconds since the clock's epoch.
    pub fn as_nanos(&self) -> i128 {
        self.sec as i128 * 1_000_000_000 + self.nsec as i128
    }

    /// The time as a duration; `None` if it is negative or its
    /// nanoseconds are out of range (`EINVAL` for a C timeout).
    pub fn to_duration(&self) -> Option<core::time::Duration> {
        if self.sec >= 0 && (0..1_000_000_000).contains(&self.nsec) {
            Some(core::time::Duration::new(self.sec as u64, self.nsec as u32))
        } else {
            None
        }
    }

    /// `self + d` (a deadline `d` after `self`), saturating at the largest
    /// time.
    pub fn saturating_add(self, d: Duration) -> Timespec {
        let mut sec = i64::try_from(d.as_secs()).ok().and_then(|s| self.sec.checked_add(s));
        let mut nsec = self.nsec + i64::from(d.subsec_nanos());
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec = sec.and_then(|s| s.checked_add(1));
        }
        match sec {
            Some(sec) => Timespec { sec, nsec },
            None => Timespec { sec: i64::MAX, nsec: 999_999_999 },
        }
    }
}

/// `clock_gettime(2)`.
#[inline]
pub fn clock_gettime(clock: u32) -> Result<Timespec, Errno> {
    let mut ts = Timespec::default();
    // SAFETY: the kernel writes one timespec into `ts`.
    ret_unit(unsafe { syscall!(__NR_clock_gettime, clock, &mut ts as *mut Timespec) })?;
    Ok(ts)
}

/// `clock_nanosleep(2)` with a relative or (`TIMER_ABSTIME`) absolute time.
pub fn clock_nanosleep(clock: u32, flags: u32, t: &Timespec) -> Result<(), Errno> {
    // SAFETY: the kernel reads one timespec; no remainder is asked for.
    ret_unit(unsafe {
        syscall!(
            __NR_clock_nanosleep,
            clock,
            flags,
            t as *const Timespec,
            core::ptr::null_mut::<Timespec>()
        )
    })
}

/// `nanosleep(2)`: on `EINTR` the time left is stored in a non-null
/// `rem`.
///
/// # Safety
/// `t` and a non-null `rem` point to a timespec each, or are not
/// accessible at all (the kernel gives `EFAULT`).
#[inline]
pub unsafe fn nanosleep(t: *const Timespec, rem: *mut Timespec) -> Result<(), Errno> {
    // SAFETY: the caller vouches for both pointers; the kernel checks them.
    ret_unit(unsafe { syscall!(__NR_nanosleep, t, rem) })
}

/// `getrandom(2)`: fills up to `buf.len()` bytes.
#[inline]
pub fn getrandom(buf: &mut [u8], flags: u32) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes.
    ret(unsafe { syscall!(__NR_getrandom, buf.as_mut_ptr(), buf.len(), flags) })
}
