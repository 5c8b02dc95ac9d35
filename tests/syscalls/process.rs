//! `rawrt::sys::process`: exit, exit_group, getpid, gettid, kill, tgkill,
//! prlimit64, fork, clone, wait4.

use crate::util::*;
use core::ptr::null_mut;
use rawrt::check::{child, Ended};
use rawrt::sys::io::{self, AT_FDCWD};
use rawrt::sys::process::{self, Rlimit, WaitStatus, RLIMIT_NOFILE, SIGCHLD, WNOHANG};
use rawrt::sys::signal::{SIGTERM, SIGUSR1};
use rawrt::sys::{consts as c, Errno};

/// A pid no process can have: above the kernel's PID_MAX_LIMIT (4 Mi).
const NO_PID: i32 = 0x3fff_ffff;

pub fn exit_and_exit_group_status() {
    assert_eq!(child(|| process::exit_group(3)).ended, Ended::Exited(3));
    assert_eq!(child(|| process::exit_group(0x105)).ended, Ended::Exited(5), "status & 0xff");
    // exit ends the calling thread; as the only thread it ends the process.
    assert_eq!(child(|| process::exit(9)).ended, Ended::Exited(9));
}

pub fn getpid_gettid_parent_and_child() {
    let me = process::getpid();
    assert!(me > 0);
    assert_eq!(process::gettid(), me, "the main thread's tid is the pid");
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    let kid = spawn(|| {
        let pid = process::getpid();
        io::write_all(w, &pid.to_ne_bytes()).unwrap();
        if pid != me && process::gettid() == pid {
            0
        } else {
            1
        }
    });
    io::close(w).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(io::read(r, &mut buf), Ok(4));
    assert_eq!(i32::from_ne_bytes(buf), kid, "fork returned the child's pid");
    assert_eq!(reap(kid), WaitStatus::Exited(0));
    io::close(r).unwrap();
}

pub fn kill_probe_and_deliver() {
    assert_eq!(process::kill(process::getpid(), 0), Ok(()), "signal 0 probes");
    assert_eq!(process::kill(NO_PID, 0), Err(Errno::ESRCH));
    assert_eq!(process::kill(process::getpid(), 9999), Err(Errno::EINVAL), "no signal 9999");
    // A child blocked reading an empty pipe, killed with SIGTERM.
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    let kid = spawn(|| {
        let mut b = [0u8; 1];
        let _ = io::read(r, &mut b);
        1
    });
    assert_eq!(process::kill(kid, 0), Ok(()));
    assert_eq!(process::kill(kid, SIGTERM), Ok(()));
    assert_eq!(reap(kid), WaitStatus::Signaled(SIGTERM as i32));
    assert_eq!(process::kill(kid, 0), Err(Errno::ESRCH), "reaped");
    io::close(r).unwrap();
    io::close(w).unwrap();
}

pub fn tgkill_sigusr1_default_kills() {
    let o = child(|| {
        process::tgkill(process::getpid(), process::gettid(), SIGUSR1).unwrap();
        1
    });
    assert_eq!(o.ended, Ended::Signaled(SIGUSR1 as i32));
    assert_eq!(SIGUSR1, 10);
    let me = process::getpid();
    assert_eq!(process::tgkill(me, process::gettid(), 0), Ok(()));
    assert_eq!(process::tgkill(me, NO_PID, 0), Err(Errno::ESRCH));
    assert_eq!(process::tgkill(0, me, 0), Err(Errno::EINVAL), "tgid must be positive");
    assert_eq!(process::tgkill(me, me, 9999), Err(Errno::EINVAL));
}

pub fn prlimit64_nofile_emfile() {
    let lim = process::prlimit64(0, RLIMIT_NOFILE, None).unwrap();
    assert!(
        lim.rlim_cur >= 64 && lim.rlim_cur <= lim.rlim_max,
        "{:?}",
        (lim.rlim_cur, lim.rlim_max)
    );
    assert_eq!(
        process::prlimit64(process::getpid(), RLIMIT_NOFILE, None).map(|l| l.rlim_cur),
        Ok(lim.rlim_cur)
    );
    assert_eq!(
        process::prlimit64(0, 9999, None).map(|l| l.rlim_cur),
        Err(Errno::EINVAL),
        "no resource 9999"
    );
    assert_eq!(
        process::prlimit64(NO_PID, RLIMIT_NOFILE, None).map(|l| l.rlim_cur),
        Err(Errno::ESRCH)
    );
    let inverted = Rlimit { rlim_cur: 10, rlim_max: 5 };
    assert_eq!(
        process::prlimit64(0, RLIMIT_NOFILE, Some(&inverted)).map(|l| l.rlim_cur),
        Err(Errno::EINVAL),
        "soft above hard"
    );
    let o = child(move || {
        const SOFT: u64 = 32;
        let new = Rlimit { rlim_cur: SOFT, rlim_max: lim.rlim_max };
        let old = process::prlimit64(0, RLIMIT_NOFILE, Some(&new)).unwrap();
        assert_eq!(
            (old.rlim_cur, old.rlim_max),
            (lim.rlim_cur, lim.rlim_max),
            "the old limit comes back"
        );
        let now = process::prlimit64(0, RLIMIT_NOFILE, None).unwrap();
        assert_eq!(now.rlim_cur, SOFT);
        // Open until the table is full: every descriptor is below the limit
        // and the failure is EMFILE.
        let mut opened = 0;
        let err = loop {
            match io::openat(AT_FDCWD, c"/dev/null", c::O_RDONLY, 0) {
                Ok(fd) => {
                    assert!((fd as u64) < SOFT, "fd {}", fd);
                    opened += 1;
                    assert!(opened <= SOFT, "the limit did not hold");
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err, Errno::EMFILE);
        assert!(opened > 0);
        assert_eq!(io::pipe2(0), Err(Errno::EMFILE));
        assert_eq!(io::dup3(0, SOFT as i32, 0), Err(Errno::EBADF), "new fd at the limit");
        0
    });
    assert_eq!(o.ended, Ended::Exited(0), "{}", o.stderr());
}

pub fn fork_and_wait4_statuses() {
    let kid = spawn(|| 7);
    let (pid, status) = process::wait4(kid, 0).unwrap();
    assert_eq!(pid, kid);
    assert_eq!(status, 7 << 8, "raw status of exit(7)");
    assert_eq!(WaitStatus::from_raw(status), WaitStatus::Exited(7));
    // WNOHANG with a live child, then with none left to wait for.
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    let kid = spawn(|| {
        io::close(w).unwrap();
        let mut b = [0u8; 1];
        if io::read(r, &mut b) == Ok(0) {
            4
        } else {
            1
        }
    });
    assert_eq!(process::wait4(kid, WNOHANG), Ok((0, 0)), "still running");
    io::close(w).unwrap();
    assert_eq!(
        process::wait4(-1, 0).map(|(p, s)| (p, WaitStatus::from_raw(s))),
        Ok((kid, WaitStatus::Exited(4)))
    );
    io::close(r).unwrap();
    assert_eq!(process::wait4(-1, 0), Err(Errno::ECHILD), "no children");
    assert_eq!(process::wait4(-1, WNOHANG), Err(Errno::ECHILD));
    assert_eq!(process::wait4(1, 0), Err(Errno::ECHILD), "pid 1 is not our child");
    assert_eq!(process::wait4(-1, 0x100), Err(Errno::EINVAL), "unknown option bit");
}

pub fn clone_settid_pointers() {
    let sigchld = SIGCHLD as usize;
    // CLONE_CHILD_SETTID stores the child's tid in the child's memory: the
    // child sees it in its copy. This also checks that the wrapper puts
    // child_tid in the right register (5th on x86_64, 4th elsewhere would
    // be tls).
    let mut ctid: i32 = 0;
    let mut ptid: i32 = 0;
    let flags = sigchld | (c::CLONE_CHILD_SETTID | c::CLONE_PARENT_SETTID) as usize;
    // SAFETY: no CLONE_VM: the child gets its own copy of memory and stack.
    let kid = unsafe { process::clone(flags, &mut ptid, &mut ctid, 0) }.unwrap();
    if kid == 0 {
        // SAFETY: the kernel wrote our tid before we ran.
        let seen = unsafe { core::ptr::read_volatile(&ctid) };
        process::exit_group(if seen == process::gettid() { 0 } else { 1 });
    }
    assert_eq!(reap(kid), WaitStatus::Exited(0), "the child found its tid at child_tid");
    // SAFETY: plain reads of our locals, which the kernel may have written.
    let (ptid, ctid) =
        unsafe { (core::ptr::read_volatile(&ptid), core::ptr::read_volatile(&ctid)) };
    assert_eq!(ctid, 0, "CLONE_CHILD_SETTID writes only the child's copy");
    if QEMU {
        // qemu-user's fork path of clone (do_fork in linux-user/syscall.c)
        // stores the parent_tid value in the *child* after fork(), so the
        // parent's copy stays unchanged.
        assert_eq!(ptid, 0);
    } else {
        assert_eq!(ptid, kid, "CLONE_PARENT_SETTID writes the parent's copy");
    }
    // Flags that need a shared address space are refused without CLONE_VM.
    let sighand = sigchld | c::CLONE_SIGHAND as usize;
    // SAFETY: refused, so no child exists.
    assert_eq!(unsafe { process::clone(sighand, null_mut(), null_mut(), 0) }, Err(Errno::EINVAL));
    let thread = sigchld | (c::CLONE_THREAD | c::CLONE_SIGHAND) as usize;
    // SAFETY: as above.
    assert_eq!(unsafe { process::clone(thread, null_mut(), null_mut(), 0) }, Err(Errno::EINVAL));
}
