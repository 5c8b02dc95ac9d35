//! The `Errno` type: a Linux error number with its name and message.
//!
//! Numbers come from `linux-raw-sys`; the table below pairs each name with
//! the message that glibc's `strerror` gives for it.

use core::fmt;
use linux_raw_sys::errno as e;

/// A Linux error number (1..=4095), as returned negated by a system call.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(u16);

macro_rules! errnos {
    ($($name:ident => $msg:literal,)*) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`: ", $msg, ".")]
                pub const $name: Errno = Errno(e::$name as u16);
            )*
            /// `EWOULDBLOCK` is `EAGAIN` on Linux.
            pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
            /// `EDEADLOCK` is `EDEADLK` on Linux.
            pub const EDEADLOCK: Errno = Errno::EDEADLK;

            /// The symbolic name, such as `"ENOMEM"`, or `None` for a number
            /// Linux does not define.
            pub fn name(self) -> Option<&'static str> {
                match self.0 as u32 {
                    $(e::$name => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The usual message, such as `"Cannot allocate memory"`.
            pub fn message(self) -> &'static str {
                match self.0 as u32 {
                    $(e::$name => $msg,)*
                    _ => "Unknown error",
                }
            }
        }
    };
}

errnos! {
    EPERM => "Operation not permitted",
    ENOENT => "No such file or directory",
    ESRCH => "No such process",
    EINTR => "Interrupted system call",
    EIO => "Input/output error",
    ENXIO => "No such device or address",
    E2BIG => "Argument list too long",
    ENOEXEC => "Exec format error",
    EBADF => "Bad file descriptor",
    ECHILD => "No child processes",
    EAGAIN => "Resource temporarily unavailable",
    ENOMEM => "Cannot allocate memory",
    EACCES => "Permission denied",
    EFAULT => "Bad address",
    ENOTBLK => "Block device required",
    EBUSY => "Device or resource busy",
    EEXIST => "File exists",
    EXDEV => "Invalid cross-device link",
    ENODEV => "No such device",
    ENOTDIR => "Not a directory",
    EISDIR => "Is a directory",
    EINVAL => "Invalid argument",
    ENFILE => "Too many open files in system",
    EMFILE => "Too many open files",
    ENOTTY => "Inappropriate ioctl for device",
    ETXTBSY => "Text file busy",
    EFBIG => "File too large",
    ENOSPC => "No space left on device",
    ESPIPE => "Illegal seek",
    EROFS => "Read-only file system",
    EMLINK => "Too many links",
    EPIPE => "Broken pipe",
    EDOM => "Numerical argument out of domain",
    ERANGE => "Numerical result out of range",
    EDEADLK => "Resource deadlock avoided",
    ENAMETOOLONG => "File name too long",
    ENOLCK => "No locks available",
    ENOSYS => "Function not implemented",
    ENOTEMPTY => "Directory not empty",
    ELOOP => "Too many levels of symbolic links",
    ENOMSG => "No message of desired type",
    EIDRM => "Identifier removed",
    ECHRNG => "Channel number out of range",
    EL2NSYNC => "Level 2 not synchronized",
    EL3HLT => "Level 3 halted",
    EL3RST => "Level 3 reset",
    ELNRNG => "Link number out of range",
    EUNATCH => "Protocol driver not attached",
    ENOCSI => "No CSI structure available",
    EL2HLT => "Level 2 halted",
    EBADE => "Invalid exchange",
    EBADR => "Invalid request descriptor",
    EXFULL => "Exchange full",
    ENOANO => "No anode",
    EBADRQC => "Invalid request code",
    EBADSLT => "Invalid slot",
    EBFONT => "Bad font file format",
    ENOSTR => "Device not a stream",
    ENODATA => "No data available",
    ETIME => "Timer expired",
    ENOSR => "Out of streams resources",
    ENONET => "Machine is not on the network",
    ENOPKG => "Package not installed",
    EREMOTE => "Object is remote",
    ENOLINK => "Link has been severed",
    EADV => "Advertise error",
    ESRMNT => "Srmount error",
    ECOMM => "Communication error on send",
    EPROTO => "Protocol error",
    EMULTIHOP => "Multihop attempted",
    EDOTDOT => "RFS specific error",
    EBADMSG => "Bad message",
    EOVERFLOW => "Value too large for defined data type",
    ENOTUNIQ => "Name not unique on network",
    EBADFD => "File descriptor in bad state",
    EREMCHG => "Remote address changed",
    ELIBACC => "Can not access a needed shared library",
    ELIBBAD => "Accessing a corrupted shared library",
    ELIBSCN => ".lib section in a.out corrupted",
    ELIBMAX => "Attempting to link in too many shared libraries",
    ELIBEXEC => "Cannot exec a shared library directly",
    EILSEQ => "Invalid or incomplete multibyte or wide character",
    ERESTART => "Interrupted system call should be restarted",
    ESTRPIPE => "Streams pipe error",
    EUSERS => "Too many users",
    ENOTSOCK => "Socket operation on non-socket",
    EDESTADDRREQ => "Destination address required",
    EMSGSIZE => "Message too long",
    EPROTOTYPE => "Protocol wrong type for socket",
    ENOPROTOOPT => "Protocol not available",
    EPROTONOSUPPORT => "Protocol not supported",
    ESOCKTNOSUPPORT => "Socket type not supported",
    EOPNOTSUPP => "Operation not supported",
    EPFNOSUPPORT => "Protocol family not supported",
    EAFNOSUPPORT => "Address family not supported by protocol",
    EADDRINUSE => "Address already in use",
    EADDRNOTAVAIL => "Cannot assign requested address",
    ENETDOWN => "Network is down",
    ENETUNREACH => "Network is unreachable",
    ENETRESET => "Network dropped connection on reset",
    ECONNABORTED => "Software caused connection abort",
    ECONNRESET => "Connection reset by peer",
    ENOBUFS => "No buffer space available",
    EISCONN => "Transport endpoint is already connected",
    ENOTCONN => "Transport endpoint is not connected",
    ESHUTDOWN => "Cannot send after transport endpoint shutdown",
    ETOOMANYREFS => "Too many references: cannot splice",
    ETIMEDOUT => "Connection timed out",
    ECONNREFUSED => "Connection refused",
    EHOSTDOWN => "Host is down",
    EHOSTUNREACH => "No route to host",
    EALREADY => "Operation already in progress",
    EINPROGRESS => "Operation now in progress",
    ESTALE => "Stale file handle",
    EUCLEAN => "Structure needs cleaning",
    ENOTNAM => "Not a XENIX named type file",
    ENAVAIL => "No XENIX semaphores available",
    EISNAM => "Is a named type file",
    EREMOTEIO => "Remote I/O error",
    EDQUOT => "Disk quota exceeded",
    ENOMEDIUM => "No medium found",
    EMEDIUMTYPE => "Wrong medium type",
    ECANCELED => "Operation canceled",
    ENOKEY => "Required key not available",
    EKEYEXPIRED => "Key has expired",
    EKEYREVOKED => "Key has been revoked",
    EKEYREJECTED => "Key was rejected by service",
    EOWNERDEAD => "Owner died",
    ENOTRECOVERABLE => "State not recoverable",
    ERFKILL => "Operation not possible due to RF-kill",
    EHWPOISON => "Memory page has hardware error",
}

impl Errno {
    /// Makes an `Errno` from a positive error number.
    #[inline]
    pub const fn from_raw(n: i32) -> Errno {
        Errno(n as u16)
    }

    /// The positive error number.
    #[inline]
    pub const fn raw(self) -> i32 {
        self.0 as i32
    }

    /// Decodes a raw system-call return: values in `-4095..=-1` are errors.
    #[inline(always)]
    pub fn result(ret: usize) -> Result<usize, Errno> {
        if ret > (-4096isize) as usize {
            Err(Errno(ret.wrapping_neg() as u16))
        } else {
            Ok(ret)
        }
    }
}

impl fmt::Display for Errno {
    /// Prints `ENOMEM (Cannot allocate memory)`, or `errno 4000` for an
    /// unknown number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({})", n, self.message()),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Errno;

    fn names_and_messages() {
        assert_eq!(Errno::ENOMEM.raw(), 12);
        assert_eq!(Errno::ENOMEM.name(), Some("ENOMEM"));
        assert_eq!(Errno::ENOMEM.message(), "Cannot allocate memory");
        assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
        assert_eq!(Errno::from_raw(4000).name(), None);
        assert_eq!(format!("{}", Errno::EBADF), "EBADF (Bad file descriptor)");
        assert_eq!(format!("{:?}", Errno::EINVAL), "EINVAL");
        assert_eq!(format!("{}", Errno::from_raw(4000)), "errno 4000");
    }

    fn decoding() {
        assert_eq!(Errno::result(0), Ok(0));
        assert_eq!(Errno::result(-1isize as usize), Err(Errno::EPERM));
        assert_eq!(Errno::result(-4095isize as usize), Err(Errno::from_raw(4095)));
        assert_eq!(Errno::result(-4096isize as usize), Ok(-4096isize as usize));
        assert_eq!(Errno::result(usize::MAX / 2), Ok(usize::MAX / 2));
    }

    pub(crate) const TESTS: &[(&str, fn())] =
        &[("errno::names_and_messages", names_and_messages), ("errno::decoding", decoding)];
}
