//! POSIX shared memory (`shm_overview(7)`): an object named `/NAME` is the
//! file `/dev/shm/NAME`, as glibc places it.

use super::io::{self, AT_FDCWD};
use super::{Errno, Fd};
use core::ffi::CStr;
use linux_raw_sys::general::{O_CLOEXEC, O_NOFOLLOW};

/// Where shared-memory objects live.
const SHM_DIR: &[u8] = b"/dev/shm/";
/// `NAME_MAX`.
const NAME_MAX: usize = 255;
/// Room for `/dev/shm/NAME` and its NUL.
const PATH_MAX: usize = SHM_DIR.len() + NAME_MAX + 1;

/// `/dev/shm/NAME` for a name `/NAME`, NUL-terminated in `buf`: `EINVAL`
/// for a name without its leading '/', an empty one or one with another
/// '/', `ENAMETOOLONG` beyond `NAME_MAX`.
fn path<'a>(name: &CStr, buf: &'a mut [u8; PATH_MAX]) -> Result<&'a CStr, Errno> {
    let n = name.to_bytes();
    let rest = match n.split_first() {
        Some((b'/', rest)) if !rest.is_empty() && !rest.contains(&b'/') => rest,
        _ => return Err(Errno::EINVAL),
    };
    if rest.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    buf[..SHM_DIR.len()].copy_from_slice(SHM_DIR);
    buf[SHM_DIR.len()..SHM_DIR.len() + rest.len()].copy_from_slice(rest);
    buf[SHM_DIR.len() + rest.len()] = 0;
    CStr::from_bytes_until_nul(&buf[..]).map_err(|_| Errno::EINVAL)
}

/// `shm_open(3)`: opens `/dev/shm/NAME` for the name `/NAME`, with
/// `O_NOFOLLOW | O_CLOEXEC` added to `oflag`.
pub fn shm_open(name: &CStr, oflag: u32, mode: u32) -> Result<Fd, Errno> {
    let mut buf = [0u8; PATH_MAX];
    let p = path(name, &mut buf)?;
    io::openat(AT_FDCWD, p, oflag | O_NOFOLLOW | O_CLOEXEC, mode)
}

/// `shm_unlink(3)`: removes the object `/NAME`.
pub fn shm_unlink(name: &CStr) -> Result<(), Errno> {
    let mut buf = [0u8; PATH_MAX];
    io::unlinkat(AT_FDCWD, path(name, &mut buf)?, 0)
}
