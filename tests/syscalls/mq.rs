//! `rawrt::sys::mq`: POSIX message queues.
//!
//! Queue names are unique per run (pid) and per test. The kernel takes the
//! name without its leading '/'; like glibc's mq_open we keep "/name" in a
//! buffer and pass the bytes after the slash. (qemu-user 7.2 relies on that
//! convention: its mq_open and mq_unlink read the name from one byte
//! *before* the pointer, expecting the '/', and hand it to the host libc.)
//!
//! If the kernel has no message queues (ENOSYS: CONFIG_POSIX_MQUEUE off)
//! the tests fail loudly: rawrt promises these calls.

use crate::util::*;
use core::ffi::CStr;
use rawrt::check::{child, Ended};
use rawrt::eprintln;
use rawrt::sys::mq::{self, MqAttr};
use rawrt::sys::signal::SIGUSR1;
use rawrt::sys::time::{self, CLOCK_REALTIME};
use rawrt::sys::{consts as c, io, Errno, Fd};

/// "/rawrt-syscalls-PID-TAG" in a stack buffer.
struct Name(Buf<128>);

impl Name {
    fn new(tag: &str) -> Name {
        Name(text(format_args!("/rawrt-syscalls-{}-{}", rawrt::sys::process::getpid(), tag)))
    }
    /// The kernel's name: without the leading '/'.
    fn kernel(&self) -> &CStr {
        let full = self.0.cstr().to_bytes_with_nul();
        CStr::from_bytes_with_nul(&full[1..]).unwrap()
    }
}

const MAXMSG: i64 = 4;
const MSGSIZE: i64 = 64;

fn attr() -> MqAttr {
    MqAttr { maxmsg: MAXMSG, msgsize: MSGSIZE, ..Default::default() }
}

/// Creates a fresh queue (removing a stale one of the same name).
fn create(name: &Name, flags: u32) -> Fd {
    let _ = mq::mq_unlink(name.kernel());
    match mq::mq_open(
        name.kernel(),
        c::O_CREAT | c::O_EXCL | c::O_RDWR | c::O_CLOEXEC | flags,
        0o600,
        Some(&attr()),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOSYS) => {
            eprintln!("\n*** POSIX message queues are not available (mq_open: ENOSYS) ***");
            panic!("mq_open: ENOSYS: this kernel has no POSIX message queues");
        }
        Err(e) => panic!("mq_open {:?}: {}", name.kernel(), e),
    }
}

fn remove(name: &Name, fd: Fd) {
    io::close(fd).unwrap();
    mq::mq_unlink(name.kernel()).unwrap();
}

fn send(fd: Fd, msg: &[u8], prio: u32) {
    mq::mq_timedsend(fd, msg, prio, None).unwrap();
}

fn recv(fd: Fd) -> ([u8; MSGSIZE as usize], usize, u32) {
    let mut buf = [0u8; MSGSIZE as usize];
    let (n, prio) = mq::mq_timedreceive(fd, &mut buf, None).unwrap();
    (buf, n, prio)
}

pub fn mq_open_attributes_and_priority_order() {
    let name = Name::new("prio");
    let q = create(&name, 0);
    let a = mq::mq_getsetattr(q, None).unwrap();
    assert_eq!((a.flags, a.maxmsg, a.msgsize, a.curmsgs), (0, MAXMSG, MSGSIZE, 0));
    send(q, b"low", 1);
    send(q, b"high", 9);
    send(q, b"mid", 5);
    send(q, b"mid, later", 5);
    assert_eq!(mq::mq_getsetattr(q, None).unwrap().curmsgs, 4);
    // Highest priority first; FIFO within one priority.
    let expect: [(&[u8], u32); 4] = [(b"high", 9), (b"mid", 5), (b"mid, later", 5), (b"low", 1)];
    for (msg, prio) in expect {
        let (buf, n, p) = recv(q);
        assert_eq!((&buf[..n], p), (msg, prio));
    }
    assert_eq!(mq::mq_getsetattr(q, None).unwrap().curmsgs, 0);
    // The same queue again: O_EXCL refuses, a plain open shares it.
    let excl = c::O_CREAT | c::O_EXCL | c::O_RDWR;
    assert_eq!(mq::mq_open(name.kernel(), excl, 0o600, Some(&attr())), Err(Errno::EEXIST));
    let other = mq::mq_open(name.kernel(), c::O_WRONLY | c::O_CLOEXEC, 0, None).unwrap();
    send(other, b"via other", 3);
    let (buf, n, p) = recv(q);
    assert_eq!((&buf[..n], p), (&b"via other"[..], 3));
    // A write-only descriptor cannot receive.
    let mut buf = [0u8; MSGSIZE as usize];
    assert_eq!(mq::mq_timedreceive(other, &mut buf, None), Err(Errno::EBADF));
    io::close(other).unwrap();
    let bad = MqAttr { maxmsg: 0, msgsize: MSGSIZE, ..Default::default() };
    let name0 = Name::new("zero");
    assert_eq!(
        mq::mq_open(name0.kernel(), excl, 0o600, Some(&bad)),
        Err(Errno::EINVAL),
        "maxmsg 0"
    );
    remove(&name, q);
}

pub fn mq_sizes_and_nonblocking() {
    let name = Name::new("sizes");
    let q = create(&name, c::O_NONBLOCK);
    let mut buf = [0u8; MSGSIZE as usize];
    assert_eq!(mq::mq_timedreceive(q, &mut buf, None), Err(Errno::EAGAIN), "empty, O_NONBLOCK");
    assert_eq!(
        mq::mq_timedsend(q, &[0; MSGSIZE as usize + 1], 0, None),
        Err(Errno::EMSGSIZE),
        "message over msgsize"
    );
    send(q, &[7; MSGSIZE as usize], 0);
    let mut small = [0u8; MSGSIZE as usize - 1];
    assert_eq!(
        mq::mq_timedreceive(q, &mut small, None),
        Err(Errno::EMSGSIZE),
        "buffer under msgsize"
    );
    for _ in 1..MAXMSG {
        send(q, b"fill", 0);
    }
    assert_eq!(mq::mq_timedsend(q, b"one more", 0, None), Err(Errno::EAGAIN), "full, O_NONBLOCK");
    assert_eq!(
        mq::mq_timedsend(q, b"x", 32768, None),
        Err(Errno::EINVAL),
        "priority over MQ_PRIO_MAX"
    );
    let (got, n, _) = recv(q);
    assert_eq!(&got[..n], &[7; MSGSIZE as usize][..]);
    assert_eq!(mq::mq_timedsend(-1, b"x", 0, None), Err(Errno::EBADF));
    remove(&name, q);
}

pub fn mq_timed_calls_time_out() {
    let name = Name::new("timed");
    let q = create(&name, 0);
    let mut buf = [0u8; MSGSIZE as usize];
    let deadline = add_ms(time::clock_gettime(CLOCK_REALTIME).unwrap(), 50);
    assert_eq!(mq::mq_timedreceive(q, &mut buf, Some(&deadline)), Err(Errno::ETIMEDOUT));
    assert!(now(CLOCK_REALTIME) >= deadline.as_nanos(), "returned before the deadline");
    let bad = time::Timespec { sec: 0, nsec: 1_000_000_000 };
    assert_eq!(mq::mq_timedreceive(q, &mut buf, Some(&bad)), Err(Errno::EINVAL), "bad deadline");
    for _ in 0..MAXMSG {
        send(q, b"fill", 0);
    }
    let deadline = add_ms(time::clock_gettime(CLOCK_REALTIME).unwrap(), 20);
    assert_eq!(
        mq::mq_timedsend(q, b"late", 0, Some(&deadline)),
        Err(Errno::ETIMEDOUT),
        "full queue"
    );
    assert!(now(CLOCK_REALTIME) >= deadline.as_nanos());
    remove(&name, q);
}

pub fn mq_getsetattr_toggles_nonblock() {
    let name = Name::new("attr");
    let q = create(&name, 0);
    send(q, b"a", 0);
    send(q, b"b", 0);
    let on = MqAttr { flags: c::O_NONBLOCK as i64, ..Default::default() };
    let old = mq::mq_getsetattr(q, Some(&on)).unwrap();
    assert_eq!((old.flags, old.curmsgs), (0, 2));
    // maxmsg and msgsize in `new` are ignored: only the flags change.
    let now = mq::mq_getsetattr(q, None).unwrap();
    assert_eq!(
        (now.flags, now.maxmsg, now.msgsize, now.curmsgs),
        (c::O_NONBLOCK as i64, MAXMSG, MSGSIZE, 2)
    );
    recv(q);
    recv(q);
    let mut buf = [0u8; MSGSIZE as usize];
    assert_eq!(mq::mq_timedreceive(q, &mut buf, None), Err(Errno::EAGAIN), "non-blocking now");
    let off = MqAttr::default();
    assert_eq!(mq::mq_getsetattr(q, Some(&off)).unwrap().flags, c::O_NONBLOCK as i64);
    assert_eq!(mq::mq_getsetattr(q, None).unwrap().flags, 0);
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    assert_eq!(mq::mq_getsetattr(r, None), Err(Errno::EBADF), "a pipe is no queue");
    io::close(r).unwrap();
    io::close(w).unwrap();
    remove(&name, q);
}

/// A `struct sigevent` asking for `notify` (`SIGEV_NONE`, `SIGEV_SIGNAL`).
fn sigevent(notify: u32, signo: u32) -> c::sigevent {
    // SAFETY: sigevent is plain data; all zeros is a valid value.
    let mut ev: c::sigevent = unsafe { core::mem::zeroed() };
    ev.sigev_notify = notify as i32;
    ev.sigev_signo = signo as i32;
    ev
}

fn notify(q: Fd, ev: Option<&c::sigevent>) -> Result<(), Errno> {
    let p = ev.map_or(core::ptr::null(), |e| e as *const c::sigevent as *const u8);
    // SAFETY: `p` is null or a live sigevent.
    unsafe { mq::mq_notify(q, p) }
}

pub fn mq_notify_registration_and_signal() {
    let name = Name::new("notify");
    let q = create(&name, 0);
    let none = sigevent(c::SIGEV_NONE, 0);
    if QEMU {
        // qemu-user 7.2 does not implement mq_notify (linux-user/syscall.c:
        // "Not implemented for now... case TARGET_NR_mq_notify"): every
        // call returns ENOSYS. The kernel behaviour is checked natively.
        assert_eq!(notify(q, Some(&none)), Err(Errno::ENOSYS));
        assert_eq!(notify(q, None), Err(Errno::ENOSYS));
        remove(&name, q);
        return;
    }
    assert_eq!(notify(q, Some(&none)), Ok(()), "registered");
    assert_eq!(notify(q, Some(&none)), Err(Errno::EBUSY), "one registration per queue");
    assert_eq!(notify(q, None), Ok(()), "unregistered");
    assert_eq!(notify(q, Some(&none)), Ok(()), "registered again");
    assert_eq!(notify(q, None), Ok(()));
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    assert_eq!(notify(r, Some(&none)), Err(Errno::EBADF), "a pipe is no queue");
    io::close(r).unwrap();
    io::close(w).unwrap();
    let bad_signal = sigevent(c::SIGEV_SIGNAL, 9999);
    assert_eq!(notify(q, Some(&bad_signal)), Err(Errno::EINVAL));
    // A sigevent the kernel cannot read.
    let none_page = pages(1);
    // SAFETY: the page is ours; after this no Rust code touches it.
    unsafe { rawrt::sys::mm::mprotect(none_page, PAGE, c::PROT_NONE) }.unwrap();
    // SAFETY: the kernel reads the pointer and faults; nothing of ours changes.
    assert_eq!(unsafe { mq::mq_notify(q, none_page) }, Err(Errno::EFAULT));
    unmap(none_page, 1);
    // The real effect: a message arriving on the empty queue sends the
    // registered signal (SIGUSR1, default action: terminate).
    let o = child(|| {
        notify(q, Some(&sigevent(c::SIGEV_SIGNAL, SIGUSR1))).unwrap();
        send(q, b"wake", 0);
        1
    });
    assert_eq!(o.ended, Ended::Signaled(SIGUSR1 as i32), "{}", o.stderr());
    let (buf, n, _) = recv(q);
    assert_eq!(&buf[..n], b"wake");
    remove(&name, q);
}

pub fn mq_unlink_then_enoent() {
    let name = Name::new("unlink");
    let q = create(&name, 0);
    assert_eq!(mq::mq_unlink(name.kernel()), Ok(()));
    assert_eq!(mq::mq_unlink(name.kernel()), Err(Errno::ENOENT));
    assert_eq!(mq::mq_open(name.kernel(), c::O_RDWR, 0, None), Err(Errno::ENOENT));
    // The open descriptor still works after the name is gone.
    send(q, b"still here", 2);
    let (buf, n, p) = recv(q);
    assert_eq!((&buf[..n], p), (&b"still here"[..], 2));
    io::close(q).unwrap();
}
