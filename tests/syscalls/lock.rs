//! `rawrt::sys::mm`: mlock, munlock, mlockall, munlockall.
//!
//! Whether locking succeeds depends on `RLIMIT_MEMLOCK` and on
//! `CAP_IPC_LOCK`, which lifts the limit (mlock(2)): with the capability,
//! or a limit that covers the request, the call succeeds; without it a
//! limit of 0 gives `EPERM` and a limit too small gives `ENOMEM`. The
//! tests read both and assert the one outcome the kernel documents. Then a
//! child drops `CAP_IPC_LOCK` (capset, not wrapped by rawrt, issued through
//! `rawrt::syscall!`) so that the limit paths are exercised even when the
//! tests run as root.

use crate::util::*;
use rawrt::check::{child, Ended};
use rawrt::sys::mm::{self, MCL_CURRENT, MCL_FUTURE};
use rawrt::sys::process::{self, Rlimit, RLIMIT_MEMLOCK};
use rawrt::sys::{consts as c, Errno};

/// Locks pages only as they are touched, so that locking everything does
/// not populate qemu's 1 GiB translation buffer or our reservations.
const MCL_ONFAULT: u32 = c::MCL_ONFAULT;

fn memlock() -> Rlimit {
    process::prlimit64(0, RLIMIT_MEMLOCK, None).unwrap()
}

/// The outcome the kernel documents for locking `bytes` more.
fn expected(bytes: u64) -> Result<(), Errno> {
    let limit = memlock().rlim_cur;
    let locked = locked_kb() * 1024;
    if cap_ipc_lock() || locked + bytes <= limit {
        Ok(())
    } else if limit == 0 {
        Err(Errno::EPERM)
    } else {
        Err(Errno::ENOMEM)
    }
}

pub fn mlock_munlock_show_in_vmlck() {
    let p = pages(2);
    let before = locked_kb();
    let want = expected(2 * PAGE as u64);
    assert_eq!(mm::mlock(p, 2 * PAGE), want);
    if want.is_ok() {
        assert_eq!(locked_kb(), before + 8, "VmLck counts the two pages");
        assert_eq!(mm::munlock(p, 2 * PAGE), Ok(()));
        assert_eq!(locked_kb(), before);
        // An unmapped range: ENOMEM from both.
        let hole = pages(1);
        unmap(hole, 1);
        assert_eq!(mm::mlock(hole, PAGE), Err(Errno::ENOMEM));
        assert_eq!(mm::munlock(hole, PAGE), Err(Errno::ENOMEM));
    }
    unmap(p, 2);
}

pub fn mlockall_munlockall() {
    let o = child(|| {
        // mlockall(MCL_CURRENT) checks the whole address space (VmSize)
        // against the limit.
        let limit = memlock().rlim_cur;
        let size = status_field("VmSize", 10) * 1024;
        let want = if cap_ipc_lock() || size <= limit {
            Ok(())
        } else if limit == 0 {
            Err(Errno::EPERM)
        } else {
            Err(Errno::ENOMEM)
        };
        assert_eq!(mm::mlockall(MCL_CURRENT | MCL_ONFAULT), want);
        if want.is_ok() {
            assert!(locked_kb() > 0, "every mapping is locked");
            assert_eq!(mm::munlockall(), Ok(()));
            assert_eq!(locked_kb(), 0);
        }
        // MCL_FUTURE: mappings made from now on are locked.
        if cap_ipc_lock() || limit >= PAGE as u64 {
            assert_eq!(mm::mlockall(MCL_FUTURE), Ok(()));
            let p = pages(1);
            assert!(locked_kb() >= 4, "a new mapping is locked");
            assert_eq!(mm::munlockall(), Ok(()));
            assert_eq!(locked_kb(), 0);
            unmap(p, 1);
        }
        assert_eq!(mm::mlockall(0), Err(Errno::EINVAL), "no flag");
        assert_eq!(mm::mlockall(MCL_ONFAULT), Err(Errno::EINVAL), "ONFAULT alone");
        assert_eq!(mm::munlockall(), Ok(()), "nothing locked is fine");
        0
    });
    assert_eq!(o.ended, Ended::Exited(0), "{}", o.stderr());
}

/// Removes `CAP_IPC_LOCK` from the effective set of this process.
fn drop_cap_ipc_lock() {
    let mut hdr = c::__user_cap_header_struct { version: c::_LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [c::__user_cap_data_struct { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: capget writes two data structs; the header is live.
    let r = unsafe { rawrt::syscall!(__NR_capget, &mut hdr as *mut _, data.as_mut_ptr()) };
    assert_eq!(Errno::result(r), Ok(0), "capget");
    data[0].effective &= !(1 << c::CAP_IPC_LOCK);
    // SAFETY: capset reads the header and two data structs.
    let r = unsafe { rawrt::syscall!(__NR_capset, &mut hdr as *mut _, data.as_ptr()) };
    assert_eq!(Errno::result(r), Ok(0), "capset");
    assert!(!cap_ipc_lock());
}

fn set_soft_memlock(bytes: u64) {
    let hard = memlock().rlim_max;
    process::prlimit64(0, RLIMIT_MEMLOCK, Some(&Rlimit { rlim_cur: bytes, rlim_max: hard }))
        .unwrap();
}

pub fn memlock_limit_without_cap_ipc_lock() {
    let o = child(|| {
        drop_cap_ipc_lock();
        assert_eq!(locked_kb(), 0);
        let p = pages(2);
        set_soft_memlock(0);
        assert_eq!(mm::mlock(p, PAGE), Err(Errno::EPERM), "limit 0");
        assert_eq!(mm::mlockall(MCL_CURRENT | MCL_ONFAULT), Err(Errno::EPERM), "limit 0");
        assert_eq!(mm::mlockall(MCL_FUTURE), Err(Errno::EPERM), "limit 0");
        set_soft_memlock(PAGE as u64);
        assert_eq!(mm::mlock(p, 2 * PAGE), Err(Errno::ENOMEM), "two pages over a one-page limit");
        assert_eq!(locked_kb(), 0);
        assert_eq!(mm::mlock(p, PAGE), Ok(()), "one page fits");
        assert_eq!(locked_kb(), 4);
        assert_eq!(mm::munlock(p, PAGE), Ok(()));
        assert_eq!(
            mm::mlockall(MCL_CURRENT | MCL_ONFAULT),
            Err(Errno::ENOMEM),
            "the address space is over one page"
        );
        // MCL_FUTURE alone is not checked against the current size.
        assert_eq!(mm::mlockall(MCL_FUTURE), Ok(()));
        assert_eq!(mm::munlockall(), Ok(()));
        assert_eq!(locked_kb(), 0);
        unmap(p, 2);
        0
    });
    assert_eq!(o.ended, Ended::Exited(0), "{}", o.stderr());
}
