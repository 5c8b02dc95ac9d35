//! `rawrt::sys::io`: read, write, write_all, writev, openat, close, lseek,
//! ftruncate, unlinkat, pipe2, dup3.

use crate::util::*;
use rawrt::check::{child, Ended};
use rawrt::sys::io::{self, IoVec, AT_FDCWD};
use rawrt::sys::process::{self, WaitStatus};
use rawrt::sys::signal::{self, SigAction, SIGPIPE, SIG_IGN};
use rawrt::sys::{consts as c, Errno};

/// Four MiB: far more than a pipe holds (64 KiB by default).
const BIG: usize = 4 << 20;

pub fn read_write_pipe() {
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    assert_eq!(io::write(w, b"hello"), Ok(5));
    assert_eq!(io::write(w, b""), Ok(0));
    let mut buf = [0u8; 16];
    assert_eq!(io::read(r, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    // Each end works in one direction only.
    assert_eq!(io::read(w, &mut buf), Err(Errno::EBADF));
    assert_eq!(io::write(r, b"x"), Err(Errno::EBADF));
    io::close(w).unwrap();
    assert_eq!(io::read(r, &mut buf), Ok(0), "end of file once the write end is closed");
    io::close(r).unwrap();
    assert_eq!(io::read(r, &mut buf), Err(Errno::EBADF));
    assert_eq!(io::write(w, b"x"), Err(Errno::EBADF));
    assert_eq!(io::write_all(w, b"x"), Err(Errno::EBADF));
    assert_eq!(io::read(-1, &mut buf), Err(Errno::EBADF));
}

pub fn nonblocking_pipe_short_write_and_eagain() {
    let [r, w] = io::pipe2(c::O_NONBLOCK | c::O_CLOEXEC).unwrap();
    let mut one = [0u8; 1];
    assert_eq!(io::read(r, &mut one), Err(Errno::EAGAIN));
    let p = pages(64);
    // SAFETY: 64 fresh read-write pages.
    let big = unsafe { bytes(p, 64 * PAGE) };
    // A 256 KiB write into an empty 64 KiB pipe is cut short, then the full
    // pipe refuses more.
    let n = io::write(w, big).unwrap();
    assert!(n > 0 && n < big.len(), "short write expected, got {}", n);
    assert_eq!(io::write(w, b"x"), Err(Errno::EAGAIN));
    assert_eq!(io::write_all(w, b"x"), Err(Errno::EAGAIN));
    unmap(p, 64);
    io::close(r).unwrap();
    io::close(w).unwrap();
}

pub fn write_to_closed_pipe_epipe_or_sigpipe() {
    // With SIGPIPE ignored the write fails with EPIPE...
    let o = child(|| {
        let ign = SigAction { handler: SIG_IGN, ..Default::default() };
        // SAFETY: SIG_IGN needs no handler code.
        unsafe { signal::rt_sigaction(SIGPIPE, Some(&ign)) }.unwrap();
        let [r, w] = io::pipe2(0).unwrap();
        io::close(r).unwrap();
        assert_eq!(io::write(w, b"x"), Err(Errno::EPIPE));
        assert_eq!(io::write_all(w, b"x"), Err(Errno::EPIPE));
        0
    });
    assert_eq!(o.ended, Ended::Exited(0), "{}", o.stderr());
    // ...and with the default action it kills the writer.
    let o = child(|| {
        let [r, w] = io::pipe2(0).unwrap();
        io::close(r).unwrap();
        let _ = io::write(w, b"x");
        1
    });
    assert_eq!(o.ended, Ended::Signaled(SIGPIPE as i32));
}

/// Fills `n` bytes at `p` with [`pattern`].
fn fill_pattern(p: *mut u8, n: usize) {
    // SAFETY: the caller mapped `n` writable bytes at `p`.
    for (i, b) in unsafe { bytes(p, n) }.iter_mut().enumerate() {
        *b = pattern(i);
    }
}

pub fn write_all_4mib_into_pipe() {
    let p = pages(BIG / PAGE);
    fill_pattern(p, BIG);
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    let reader = spawn(|| {
        io::close(w).unwrap();
        let got = drain_pattern(r, 0, usize::MAX);
        if got == BIG {
            0
        } else {
            1
        }
    });
    io::close(r).unwrap();
    // SAFETY: the mapping stays until after the write.
    assert_eq!(io::write_all(w, unsafe { bytes(p, BIG) }), Ok(()));
    io::close(w).unwrap();
    assert_eq!(reap(reader), WaitStatus::Exited(0), "the reader saw every byte, in order");
    unmap(p, BIG / PAGE);
}

/// Starts a child writing the 4 MiB pattern into a blocking pipe with
/// `write_once` or `write_all`, reads the first 128 KiB, then stops the
/// child with SIGSTOP while its `write` is blocked on the full pipe and
/// continues it. A signal that arrives after a blocked pipe write has
/// copied some bytes makes the kernel return that partial count (pipe(7)):
/// a real short write, with no signal handler involved. Returns the
/// number of bytes that arrived and how the writer ended.
fn stopped_writer(all: bool) -> (usize, WaitStatus) {
    let p = pages(BIG / PAGE);
    fill_pattern(p, BIG);
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    let writer = spawn(|| {
        io::close(r).unwrap();
        // SAFETY: the child's copy of the mapping lives until it exits.
        let data = unsafe { bytes(p, BIG) };
        if all {
            if io::write_all(w, data).is_ok() {
                0
            } else {
                2
            }
        } else {
            match io::write(w, data) {
                Ok(n) if n > 0 && n < BIG => 0, // cut short, as expected
                Ok(_) => 1,
                Err(_) => 2,
            }
        }
    });
    io::close(w).unwrap();
    let head = 128 << 10;
    assert_eq!(drain_pattern(r, 0, head), head);
    process::kill(writer, c::SIGSTOP).unwrap();
    let (pid, status) = process::wait4(writer, c::WUNTRACED).unwrap();
    assert_eq!(pid, writer);
    assert_eq!(status & 0xff, 0x7f, "stopped, status {:#x}", status);
    assert_eq!((status >> 8) & 0xff, c::SIGSTOP as i32);
    process::kill(writer, c::SIGCONT).unwrap();
    let total = head + drain_pattern(r, head, usize::MAX);
    io::close(r).unwrap();
    unmap(p, BIG / PAGE);
    (total, reap(writer))
}

pub fn blocking_pipe_write_cut_short_by_sigstop() {
    let (total, ended) = stopped_writer(false);
    assert_eq!(ended, WaitStatus::Exited(0), "write returned a short count");
    assert!(total > 128 << 10 && total < BIG, "{} bytes arrived", total);
}

pub fn write_all_completes_after_short_write() {
    let (total, ended) = stopped_writer(true);
    assert_eq!(ended, WaitStatus::Exited(0), "write_all returned Ok");
    assert_eq!(total, BIG, "write_all went on after the short write");
}

pub fn writev_gathers_and_faults() {
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    let parts: [&[u8]; 3] = [b"ab", b"", b"cde"];
    let iov = parts.map(|s| IoVec { iov_base: s.as_ptr() as *mut _, iov_len: s.len() as _ });
    // SAFETY: every vector points at a live string.
    assert_eq!(unsafe { io::writev(w, &iov) }, Ok(5));
    let mut buf = [0u8; 8];
    assert_eq!(io::read(r, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"abcde");
    // SAFETY: as above; the kernel rejects the descriptor first.
    assert_eq!(unsafe { io::writev(r, &iov) }, Err(Errno::EBADF));
    // A vector into a PROT_NONE page: the kernel faults on it, nothing is
    // written. (read and write take slices, so EFAULT cannot be reached
    // through them from safe code; writev takes raw vectors.)
    // SAFETY: without MAP_FIXED the kernel picks a free range.
    let none = unsafe {
        rawrt::sys::mm::mmap(
            core::ptr::null_mut(),
            PAGE,
            c::PROT_NONE,
            c::MAP_PRIVATE | c::MAP_ANONYMOUS,
            -1,
            0,
        )
    }
    .unwrap();
    let bad = [IoVec { iov_base: none as *mut _, iov_len: 3 }];
    // SAFETY: the kernel checks the vector; our memory is not touched.
    assert_eq!(unsafe { io::writev(w, &bad) }, Err(Errno::EFAULT));
    unmap(none, 1);
    // More than IOV_MAX (1024) vectors.
    let many = [IoVec { iov_base: b"x".as_ptr() as *mut _, iov_len: 1 }; 1025];
    // SAFETY: every vector points at a live byte.
    assert_eq!(unsafe { io::writev(w, &many) }, Err(Errno::EINVAL));
    io::close(r).unwrap();
    io::close(w).unwrap();
}

pub fn openat_create_exclusive_read_back() {
    let path = tmp_path("open");
    let p = path.cstr();
    let _ = io::unlinkat(AT_FDCWD, p, 0);
    let excl = c::O_CREAT | c::O_EXCL | c::O_RDWR | c::O_CLOEXEC;
    let fd = io::openat(AT_FDCWD, p, excl, 0o600).unwrap();
    assert!(fd > 2);
    assert_eq!(io::openat(AT_FDCWD, p, excl, 0o600), Err(Errno::EEXIST));
    io::write_all(fd, b"rawrt").unwrap();
    io::close(fd).unwrap();
    let fd = io::openat(AT_FDCWD, p, c::O_RDONLY | c::O_CLOEXEC, 0).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(io::read(fd, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"rawrt");
    assert_eq!(io::write(fd, b"x"), Err(Errno::EBADF), "opened read-only");
    // A regular file is no directory: neither with O_DIRECTORY nor as dirfd.
    assert_eq!(io::openat(AT_FDCWD, p, c::O_RDONLY | c::O_DIRECTORY, 0), Err(Errno::ENOTDIR));
    assert_eq!(io::openat(fd, c"x", c::O_RDONLY, 0), Err(Errno::ENOTDIR));
    io::close(fd).unwrap();
    let missing = tmp_path("no-such-dir/file");
    assert_eq!(io::openat(AT_FDCWD, missing.cstr(), excl, 0o600), Err(Errno::ENOENT));
    assert_eq!(io::openat(-1, c"relative", c::O_RDONLY, 0), Err(Errno::EBADF));
    io::unlinkat(AT_FDCWD, p, 0).unwrap();
    assert_eq!(io::openat(AT_FDCWD, p, c::O_RDONLY, 0), Err(Errno::ENOENT));
}

pub fn openat_relative_to_dirfd_and_unlinkat() {
    let dir =
        io::openat(AT_FDCWD, c"/tmp", c::O_RDONLY | c::O_DIRECTORY | c::O_CLOEXEC, 0).unwrap();
    let name = text(format_args!("rawrt-syscalls-{}-rel", process::getpid()));
    let fd =
        io::openat(dir, name.cstr(), c::O_CREAT | c::O_EXCL | c::O_WRONLY | c::O_CLOEXEC, 0o600)
            .unwrap();
    io::close(fd).unwrap();
    // The same file by its absolute path.
    let abs = tmp_path("rel");
    let fd = io::openat(AT_FDCWD, abs.cstr(), c::O_RDONLY | c::O_CLOEXEC, 0).unwrap();
    io::close(fd).unwrap();
    io::unlinkat(dir, name.cstr(), 0).unwrap();
    assert_eq!(io::unlinkat(dir, name.cstr(), 0), Err(Errno::ENOENT));
    assert_eq!(io::unlinkat(AT_FDCWD, abs.cstr(), 0), Err(Errno::ENOENT));
    // A directory needs AT_REMOVEDIR; flags outside AT_REMOVEDIR are refused.
    assert_eq!(io::unlinkat(AT_FDCWD, c"/tmp", 0), Err(Errno::EISDIR));
    assert_eq!(io::unlinkat(dir, name.cstr(), 0x1), Err(Errno::EINVAL));
    io::close(dir).unwrap();
}

pub fn close_twice_is_ebadf() {
    let [r, w] = io::pipe2(0).unwrap();
    assert_eq!(io::close(r), Ok(()));
    assert_eq!(io::close(r), Err(Errno::EBADF));
    assert_eq!(io::close(w), Ok(()));
    assert_eq!(io::close(-1), Err(Errno::EBADF));
}

/// A fresh read-write file under /tmp, already unlinked.
fn scratch_file(tag: &str) -> i32 {
    let path = tmp_path(tag);
    let _ = io::unlinkat(AT_FDCWD, path.cstr(), 0);
    let fd =
        io::openat(AT_FDCWD, path.cstr(), c::O_CREAT | c::O_EXCL | c::O_RDWR | c::O_CLOEXEC, 0o600)
            .unwrap();
    io::unlinkat(AT_FDCWD, path.cstr(), 0).unwrap();
    fd
}

pub fn lseek_offsets_and_espipe() {
    let fd = scratch_file("lseek");
    io::write_all(fd, b"0123456789").unwrap();
    assert_eq!(io::lseek(fd, 0, c::SEEK_CUR), Ok(10));
    assert_eq!(io::lseek(fd, 0, c::SEEK_END), Ok(10));
    assert_eq!(io::lseek(fd, 3, c::SEEK_SET), Ok(3));
    let mut buf = [0u8; 4];
    assert_eq!(io::read(fd, &mut buf), Ok(4));
    assert_eq!(&buf, b"3456");
    assert_eq!(io::lseek(fd, -2, c::SEEK_END), Ok(8));
    assert_eq!(io::lseek(fd, -1, c::SEEK_SET), Err(Errno::EINVAL));
    assert_eq!(io::lseek(fd, 0, 99), Err(Errno::EINVAL));
    io::close(fd).unwrap();
    assert_eq!(io::lseek(fd, 0, c::SEEK_SET), Err(Errno::EBADF));
    let [r, w] = io::pipe2(0).unwrap();
    assert_eq!(io::lseek(r, 0, c::SEEK_END), Err(Errno::ESPIPE));
    io::close(r).unwrap();
    io::close(w).unwrap();
}

pub fn ftruncate_sets_size() {
    let fd = scratch_file("ftruncate");
    let size = 3 * PAGE as i64 + 5;
    assert_eq!(io::ftruncate(fd, size), Ok(()));
    assert_eq!(io::lseek(fd, 0, c::SEEK_END), Ok(size as u64));
    // The new bytes read as zeros.
    let mut buf = [0xffu8; 8];
    io::lseek(fd, 100, c::SEEK_SET).unwrap();
    assert_eq!(io::read(fd, &mut buf), Ok(8));
    assert_eq!(buf, [0; 8]);
    assert_eq!(io::ftruncate(fd, 2), Ok(()));
    assert_eq!(io::lseek(fd, 0, c::SEEK_END), Ok(2));
    assert_eq!(io::ftruncate(fd, -1), Err(Errno::EINVAL));
    let [r, w] = io::pipe2(0).unwrap();
    assert_eq!(io::ftruncate(w, 0), Err(Errno::EINVAL), "a pipe has no size");
    io::close(r).unwrap();
    io::close(w).unwrap();
    io::close(fd).unwrap();
    assert_eq!(io::ftruncate(fd, 0), Err(Errno::EBADF));
}

pub fn pipe2_flags() {
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    assert!(r >= 0 && w >= 0 && r != w);
    io::close(r).unwrap();
    io::close(w).unwrap();
    // Only O_CLOEXEC, O_NONBLOCK, O_DIRECT (and O_NOTIFICATION_PIPE) are
    // accepted.
    assert_eq!(io::pipe2(c::O_RDWR), Err(Errno::EINVAL));
}

pub fn dup3_duplicates() {
    let [r, w] = io::pipe2(c::O_CLOEXEC).unwrap();
    assert_eq!(io::dup3(w, 100, c::O_CLOEXEC), Ok(100));
    io::write_all(100, b"via 100").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(io::read(r, &mut buf), Ok(7));
    assert_eq!(&buf[..7], b"via 100");
    assert_eq!(io::dup3(w, w, 0), Err(Errno::EINVAL), "dup3 refuses old == new");
    assert_eq!(io::dup3(w, 101, c::O_NONBLOCK), Err(Errno::EINVAL), "only O_CLOEXEC");
    assert_eq!(io::dup3(-1, 101, 0), Err(Errno::EBADF));
    assert_eq!(io::dup3(w, -1, 0), Err(Errno::EBADF));
    for fd in [r, w, 100] {
        io::close(fd).unwrap();
    }
}
