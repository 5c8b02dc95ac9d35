//! `rawrt::sys::mm`: brk, mmap, munmap, mremap, mprotect, madvise, msync.
//! (mlock and friends are in lock.rs.)

use crate::util::*;
use core::ptr::{null_mut, read_volatile, write_volatile};
use rawrt::check::{child, Ended};
use rawrt::sys::io::{self, AT_FDCWD};
use rawrt::sys::mm::{
    self, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE,
};
use rawrt::sys::{consts as c, Errno};

pub fn brk_query_grow_write_shrink() {
    // SAFETY: brk(0) only asks for the current break.
    let start = unsafe { mm::brk(0) };
    assert!(start > 0);
    let top = start + PAGE;
    // SAFETY: nothing of ours lives above the break.
    assert_eq!(unsafe { mm::brk(top) }, top, "the break moved up");
    // SAFETY: [start, top) is now mapped read-write.
    let mem = unsafe { bytes(start as *mut u8, PAGE) };
    assert!(mem.iter().all(|&b| b == 0), "new break memory is zeroed");
    mem.fill(0x5a);
    assert!(mem.iter().all(|&b| b == 0x5a));
    // A break inside the kernel's half can never be granted: the call
    // reports the unchanged break (brk itself has no error return).
    // SAFETY: a refused request changes nothing.
    assert_eq!(unsafe { mm::brk(0xffff_8000_0000_0000) }, top);
    // SAFETY: `mem` is no longer used.
    assert_eq!(unsafe { mm::brk(start) }, start, "the break moved back down");
    // SAFETY: query only.
    assert_eq!(unsafe { mm::brk(0) }, start);
}

pub fn mmap_anonymous_zeroed_read_write() {
    let n = 3 * PAGE;
    let p = mm::mmap_anonymous(n).unwrap();
    assert_eq!(p as usize % PAGE, 0);
    // SAFETY: `n` fresh read-write bytes.
    let mem = unsafe { bytes(p, n) };
    assert!(mem.iter().all(|&b| b == 0), "anonymous memory is zero-filled");
    for (i, b) in mem.iter_mut().enumerate() {
        *b = pattern(i);
    }
    assert!(mem.iter().enumerate().all(|(i, &b)| b == pattern(i)));
    unmap(p, 3);
}

pub fn mmap_errors() {
    assert_eq!(mm::mmap_anonymous(0), Err(Errno::EINVAL), "length 0");
    // Lengths no address space can hold. (The page-rounded length of the
    // first wraps to 0, which the kernel reports as ENOMEM too.)
    assert_eq!(mm::mmap_anonymous(usize::MAX), Err(Errno::ENOMEM));
    assert_eq!(mm::mmap_anonymous(1 << 62), Err(Errno::ENOMEM));
    let p = pages(1);
    let rw = PROT_READ | PROT_WRITE;
    // SAFETY: refused before anything is replaced (unaligned MAP_FIXED).
    let r = unsafe {
        mm::mmap(p.wrapping_add(1), PAGE, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
    };
    assert_eq!(r, Err(Errno::EINVAL), "MAP_FIXED at an unaligned address");
    // SAFETY: no MAP_FIXED in the calls below.
    unsafe {
        assert_eq!(
            mm::mmap(null_mut(), PAGE, rw, MAP_ANONYMOUS, -1, 0),
            Err(Errno::EINVAL),
            "neither private nor shared"
        );
        assert_eq!(
            mm::mmap(null_mut(), PAGE, PROT_READ, MAP_PRIVATE, -1, 0),
            Err(Errno::EBADF),
            "file mapping of fd -1"
        );
    }
    unmap(p, 1);
    // A writable shared mapping of a file opened read-only.
    let path = tmp_path("mmap-ro");
    let fd =
        io::openat(AT_FDCWD, path.cstr(), c::O_CREAT | c::O_RDWR | c::O_CLOEXEC, 0o600).unwrap();
    io::ftruncate(fd, PAGE as i64).unwrap();
    io::close(fd).unwrap();
    let ro = io::openat(AT_FDCWD, path.cstr(), c::O_RDONLY | c::O_CLOEXEC, 0).unwrap();
    io::unlinkat(AT_FDCWD, path.cstr(), 0).unwrap();
    // SAFETY: no MAP_FIXED.
    assert_eq!(unsafe { mm::mmap(null_mut(), PAGE, rw, MAP_SHARED, ro, 0) }, Err(Errno::EACCES));
    io::close(ro).unwrap();
}

/// An address that was mapped and no longer is.
fn hole() -> *mut u8 {
    let p = pages(1);
    unmap(p, 1);
    p
}

pub fn munmap_releases_and_checks_alignment() {
    let p = pages(2);
    let second = p.wrapping_add(PAGE);
    // SAFETY: the calls below are refused before anything is unmapped.
    unsafe {
        assert_eq!(mm::munmap(p.wrapping_add(1), PAGE), Err(Errno::EINVAL), "unaligned");
        assert_eq!(mm::munmap(p, 0), Err(Errno::EINVAL), "length 0");
    }
    // SAFETY: nothing uses the second page.
    unsafe { mm::munmap(second, PAGE) }.unwrap();
    // The second page is gone (msync reports unmapped ranges), the first stays.
    assert_eq!(mm::msync(second, PAGE, mm::MS_ASYNC), Err(Errno::ENOMEM));
    assert_eq!(mm::msync(p, PAGE, mm::MS_ASYNC), Ok(()));
    // SAFETY: the first page is still mapped read-write.
    unsafe {
        write_volatile(p, 7);
        assert_eq!(read_volatile(p), 7);
    }
    // Unmapping a range with nothing in it is not an error.
    // SAFETY: nothing is mapped there.
    assert_eq!(unsafe { mm::munmap(second, PAGE) }, Ok(()));
    unmap(p, 1);
}

pub fn mremap_grows_and_keeps_content() {
    let p = pages(1);
    // SAFETY: one fresh page.
    for (i, b) in unsafe { bytes(p, PAGE) }.iter_mut().enumerate() {
        *b = pattern(i);
    }
    // SAFETY: `p` is not used after the move.
    let q = unsafe { mm::mremap(p, PAGE, 4 * PAGE, mm::MREMAP_MAYMOVE, null_mut()) }.unwrap();
    assert_eq!(q as usize % PAGE, 0);
    // SAFETY: `q` is the grown mapping, 4 pages read-write.
    let mem = unsafe { bytes(q, 4 * PAGE) };
    assert!(mem[..PAGE].iter().enumerate().all(|(i, &b)| b == pattern(i)), "content moved along");
    assert!(mem[PAGE..].iter().all(|&b| b == 0), "the new pages are zero");
    mem[4 * PAGE - 1] = 1;
    // Shrinking happens in place.
    // SAFETY: the tail is no longer used.
    assert_eq!(unsafe { mm::mremap(q, 4 * PAGE, PAGE, 0, null_mut()) }, Ok(q));
    unmap(q, 1);
}

pub fn mremap_errors() {
    let p = pages(2);
    // SAFETY: every call below is refused, so nothing moves.
    unsafe {
        // Growing the first page in place runs into the second one.
        assert_eq!(mm::mremap(p, PAGE, 2 * PAGE, 0, null_mut()), Err(Errno::ENOMEM));
        assert_eq!(
            mm::mremap(p.wrapping_add(1), PAGE, 2 * PAGE, mm::MREMAP_MAYMOVE, null_mut()),
            Err(Errno::EINVAL)
        );
        // qemu-user 7.2 (target_mremap) looks for a free range of the new
        // length 0 before the kernel sees the call, finds none and says
        // ENOMEM; the kernel says EINVAL.
        let zero = if QEMU { Errno::ENOMEM } else { Errno::EINVAL };
        assert_eq!(
            mm::mremap(p, PAGE, 0, mm::MREMAP_MAYMOVE, null_mut()),
            Err(zero),
            "new length 0"
        );
        let fixed = p.wrapping_add(8 * PAGE);
        assert_eq!(
            mm::mremap(p, PAGE, PAGE, mm::MREMAP_FIXED, fixed),
            Err(Errno::EINVAL),
            "FIXED needs MAYMOVE"
        );
        assert_eq!(
            mm::mremap(hole(), PAGE, 2 * PAGE, mm::MREMAP_MAYMOVE, null_mut()),
            Err(Errno::EFAULT),
            "nothing mapped"
        );
    }
    unmap(p, 2);
}

pub fn mprotect_read_only_faults_writer() {
    let p = pages(1);
    // SAFETY: a fresh read-write page.
    unsafe { write_volatile(p, 7) };
    // SAFETY: nothing writes the page while it is read-only, except the
    // child that is meant to crash.
    unsafe { mm::mprotect(p, PAGE, PROT_READ) }.unwrap();
    // SAFETY: still readable.
    assert_eq!(unsafe { read_volatile(p) }, 7);
    // SAFETY (both children): their own copy of the page, read-only.
    let reader = child(|| unsafe { read_volatile(p) } as i32);
    assert_eq!(reader.ended, Ended::Exited(7));
    let writer = child(|| {
        unsafe { write_volatile(p, 1) };
        0
    });
    assert_eq!(writer.ended, Ended::Signaled(c::SIGSEGV as i32));
    // SAFETY: back to read-write before the write below.
    unsafe { mm::mprotect(p, PAGE, PROT_READ | PROT_WRITE) }.unwrap();
    // SAFETY: writable again.
    unsafe {
        write_volatile(p, 9);
        assert_eq!(read_volatile(p), 9);
    }
    // SAFETY: all refused before any change.
    unsafe {
        assert_eq!(
            mm::mprotect(p.wrapping_add(1), PAGE, PROT_READ),
            Err(Errno::EINVAL),
            "unaligned"
        );
        assert_eq!(mm::mprotect(p, PAGE, 0x100), Err(Errno::EINVAL), "unknown PROT bit");
        assert_eq!(mm::mprotect(hole(), PAGE, PROT_READ), Err(Errno::ENOMEM), "nothing mapped");
    }
    unmap(p, 1);
}

pub fn madvise_dontneed_zeroes() {
    let p = pages(2);
    // SAFETY: two fresh read-write pages.
    let mem = unsafe { bytes(p, 2 * PAGE) };
    mem.fill(0xab);
    // SAFETY: the contents of the first page are not needed any more.
    assert_eq!(unsafe { mm::madvise(p, PAGE, mm::MADV_DONTNEED) }, Ok(()));
    // SAFETY: advice only; nothing is discarded.
    assert_eq!(unsafe { mm::madvise(p, 2 * PAGE, mm::MADV_WILLNEED) }, Ok(()));
    assert!(mem[..PAGE].iter().all(|&b| b == 0), "MADV_DONTNEED zeroes a private anonymous page");
    // SAFETY (three calls): refused, or advice with no effect on contents.
    let unaligned = unsafe { mm::madvise(p.wrapping_add(1), PAGE, mm::MADV_NORMAL) };
    assert_eq!(unaligned, Err(Errno::EINVAL), "unaligned");
    let bad_advice = unsafe { mm::madvise(p, PAGE, 9999) };
    let unmapped = unsafe { mm::madvise(hole(), PAGE, mm::MADV_NORMAL) };
    if QEMU {
        // qemu-user 7.2 (target_madvise in linux-user/mmap.c) passes only
        // MADV_DONTNEED on anonymous mappings through to the kernel and
        // returns 0 for any other advice without looking at it, so an
        // invalid advice value and an unmapped range both "succeed".
        assert_eq!(bad_advice, Ok(()));
        assert_eq!(unmapped, Ok(()));
    } else {
        assert_eq!(bad_advice, Err(Errno::EINVAL), "unknown advice");
        assert_eq!(unmapped, Err(Errno::ENOMEM), "nothing mapped");
    }
    assert!(mem[PAGE..].iter().all(|&b| b == 0xab), "the second page kept its bytes");
    unmap(p, 2);
}

pub fn msync_shared_file_mapping() {
    let path = tmp_path("msync");
    let fd =
        io::openat(AT_FDCWD, path.cstr(), c::O_CREAT | c::O_EXCL | c::O_RDWR | c::O_CLOEXEC, 0o600)
            .unwrap();
    io::unlinkat(AT_FDCWD, path.cstr(), 0).unwrap();
    io::ftruncate(fd, PAGE as i64).unwrap();
    // SAFETY: no MAP_FIXED; the file is one page long.
    let p =
        unsafe { mm::mmap(null_mut(), PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) }.unwrap();
    // SAFETY: the shared mapping is read-write.
    unsafe { bytes(p, 6) }.copy_from_slice(b"synced");
    assert_eq!(mm::msync(p, PAGE, mm::MS_SYNC), Ok(()));
    let mut buf = [0u8; 6];
    assert_eq!(io::read(fd, &mut buf), Ok(6));
    assert_eq!(&buf, b"synced", "the file holds what was written through the mapping");
    assert_eq!(mm::msync(p.wrapping_add(1), PAGE, mm::MS_SYNC), Err(Errno::EINVAL), "unaligned");
    assert_eq!(
        mm::msync(p, PAGE, mm::MS_SYNC | mm::MS_ASYNC),
        Err(Errno::EINVAL),
        "SYNC and ASYNC"
    );
    unmap(p, 1);
    assert_eq!(mm::msync(p, PAGE, mm::MS_SYNC), Err(Errno::ENOMEM), "nothing mapped");
    io::close(fd).unwrap();
}
