//! `clock_gettime` through the kernel's vDSO: no system call, as a libc's
//! `clock_gettime` is. The vDSO is the small shared object the kernel maps
//! into every process (auxiliary-vector entry `AT_SYSINFO_EHDR`); its
//! dynamic symbol table names the clock function. Looked up on the first
//! call, then cached. Without a vDSO (a program with its own `_start` that
//! did not call [`rawrt_init`](super::rawrt_init), qemu-user, a kernel
//! without one) or when the vDSO's function fails, the system call.
//!
//! The lookup reads only what the ELF format and the kernel promise for
//! the vDSO: its program headers (the `PT_LOAD` at offset 0 and
//! `PT_DYNAMIC`), the dynamic section's `DT_HASH`, `DT_SYMTAB` and
//! `DT_STRTAB`, and the symbols (`DT_HASH`'s chain count bounds them).

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys::time::Timespec;
use crate::sys::Errno;

/// The vDSO's clock function, as the kernel exports it.
type ClockFn = unsafe extern "C" fn(clock: i32, ts: *mut Timespec) -> i32;

/// The function's name in the vDSO of this architecture.
#[cfg(target_arch = "aarch64")]
const NAME: &[u8] = b"__kernel_clock_gettime";
#[cfg(not(target_arch = "aarch64"))]
const NAME: &[u8] = b"__vdso_clock_gettime";

/// 0: not looked up yet; [`NONE`]: no vDSO function; else its address.
static CLOCK: AtomicUsize = AtomicUsize::new(0);
const NONE: usize = 1;

/// `clock_gettime(2)` by the vDSO when there is one, else the system call.
pub fn clock_gettime(clock: u32) -> Result<Timespec, Errno> {
    let f = match CLOCK.load(Ordering::Relaxed) {
        0 => {
            let f = lookup().unwrap_or(NONE);
            CLOCK.store(f, Ordering::Relaxed);
            f
        }
        f => f,
    };
    if f != NONE {
        let mut ts = Timespec::default();
        // SAFETY: `f` is the vDSO's clock_gettime (found by `lookup` in the
        // vDSO the kernel mapped, which stays for the life of the
        // process); it writes one timespec into `ts`.
        let r = unsafe { core::mem::transmute::<usize, ClockFn>(f)(clock as i32, &mut ts) };
        if r == 0 {
            return Ok(ts);
        }
    }
    crate::sys::time::clock_gettime(clock)
}

/// The address of the vDSO's clock function, if there is one.
#[cold]
fn lookup() -> Option<usize> {
    let base = super::getauxval(linux_raw_sys::general::AT_SYSINFO_EHDR as usize)?;
    // SAFETY: `AT_SYSINFO_EHDR` is the address of the vDSO's ELF header,
    // mapped readable for the life of the process by the kernel.
    unsafe { find(base) }
}

/// Reads the `usize`-sized field at `a` (the vDSO is a 64-bit ELF on the
/// three targets).
///
/// # Safety
/// `a` lies in the mapped vDSO.
unsafe fn word(a: usize) -> usize {
    // SAFETY: forwarded contract; unaligned reads are fine for any field.
    unsafe { (a as *const usize).read_unaligned() }
}

/// Looks up [`NAME`] in the ELF image at `base`.
///
/// # Safety
/// `base` is the vDSO's ELF header, mapped by the kernel.
unsafe fn find(base: usize) -> Option<usize> {
    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const DT_HASH: usize = 4;
    const DT_STRTAB: usize = 5;
    const DT_SYMTAB: usize = 6;
    const STT_FUNC: u8 = 2;
    // SAFETY: every read below lies within the vDSO image, at the
    // offsets its ELF header, program headers and dynamic section give.
    unsafe {
        if (base as *const [u8; 4]).read() != *b"\x7fELF" {
            return None;
        }
        let phoff = word(base + 32);
        let phentsize = (base as *const u8).add(54).cast::<u16>().read_unaligned() as usize;
        let phnum = (base as *const u8).add(56).cast::<u16>().read_unaligned() as usize;
        // Where the image's virtual address 0 lies (the vDSO is linked at
        // 0 or at a fixed address, and mapped elsewhere).
        let (mut bias, mut dynamic) = (None, None);
        for i in 0..phnum {
            let ph = base + phoff + i * phentsize;
            let ty = (ph as *const u32).read_unaligned();
            let (offset, vaddr) = (word(ph + 8), word(ph + 16));
            if ty == PT_LOAD && offset == 0 {
                bias = Some(base.wrapping_sub(vaddr));
            } else if ty == PT_DYNAMIC {
                dynamic = Some(vaddr);
            }
        }
        let bias = bias?;
        let mut d = bias.wrapping_add(dynamic?);
        let (mut hash, mut strtab, mut symtab) = (None, None, None);
        loop {
            let (tag, val) = (word(d), word(d + 8));
            match tag {
                0 => break,
                DT_HASH => hash = Some(bias.wrapping_add(val)),
                DT_STRTAB => strtab = Some(bias.wrapping_add(val)),
                DT_SYMTAB => symtab = Some(bias.wrapping_add(val)),
                _ => {}
            }
            d += 16;
        }
        let (hash, strtab, symtab) = (hash?, strtab?, symtab?);
        // DT_HASH: nbucket, nchain (the number of symbols), ... (u32s).
        let count = (hash as *const u32).add(1).read_unaligned() as usize;
        for i in 0..count {
            // Elf64_Sym: st_name u32, st_info u8, st_other u8,
            // st_shndx u16, st_value u64, st_size u64.
            let sym = symtab + i * 24;
            let name = strtab + (sym as *const u32).read_unaligned() as usize;
            let info = (sym as *const u8).add(4).read();
            let shndx = (sym as *const u8).add(6).cast::<u16>().read_unaligned();
            if info & 0xf == STT_FUNC && shndx != 0 && named(name) {
                return Some(bias.wrapping_add(word(sym + 8)));
            }
        }
        None
    }
}

/// Whether the NUL-terminated string at `s` is [`NAME`].
///
/// # Safety
/// `s` is a NUL-terminated string in the mapped vDSO.
unsafe fn named(s: usize) -> bool {
    let s = s as *const u8;
    // A loop, not unrolled (`black_box` hides the index from the
    // compiler): 21 unrolled byte compares were about 250 bytes of code
    // that runs once.
    let mut i = 0;
    while let Some(&c) = NAME.get(core::hint::black_box(i)) {
        // SAFETY: the string is NUL-terminated and every byte before a
        // mismatch was not NUL, so `s + i` is within it.
        if unsafe { s.add(i).read() } != c {
            return false;
        }
        i += 1;
    }
    // SAFETY: as above: the first `NAME.len()` bytes matched, none NUL.
    unsafe { s.add(NAME.len()).read() == 0 }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{find, ClockFn, Timespec};

    /// The vDSO's ELF header, from `/proc/self/auxv` (the test binary was
    /// not started by rawrt, whose `getauxval` therefore has nothing).
    fn vdso_base() -> Option<usize> {
        let auxv = std::fs::read("/proc/self/auxv").expect("/proc/self/auxv");
        let words: Vec<usize> = auxv
            .chunks_exact(8)
            .map(|w| usize::from_ne_bytes(w.try_into().expect("8 bytes")))
            .collect();
        let at_sysinfo_ehdr = linux_raw_sys::general::AT_SYSINFO_EHDR as usize;
        words.chunks_exact(2).find(|p| p[0] == at_sysinfo_ehdr).map(|p| p[1])
    }

    /// `find` gives the vDSO's `__vdso_clock_gettime` in this process (the
    /// hosted tests run natively, on a kernel that maps a vDSO into every
    /// process), and what it reads lies between two system-call readings.
    fn finds_the_clock_in_this_process() {
        let base = vdso_base().expect("AT_SYSINFO_EHDR in /proc/self/auxv");
        // SAFETY: the kernel's vDSO header, mapped for the process's life.
        let f = unsafe { find(base) }.expect("__vdso_clock_gettime in the vDSO");
        // SAFETY: `find` returned the vDSO's clock_gettime.
        let clock = unsafe { core::mem::transmute::<usize, ClockFn>(f) };
        let mono = crate::sys::time::CLOCK_MONOTONIC;
        let a = crate::sys::time::clock_gettime(mono).expect("clock_gettime");
        let mut b = Timespec::default();
        // SAFETY: the vDSO function writes one timespec into `b`.
        assert_eq!(unsafe { clock(mono as i32, &mut b) }, 0);
        let c = crate::sys::time::clock_gettime(mono).expect("clock_gettime");
        assert!(a <= b && b <= c, "{a:?} {b:?} {c:?}");
    }

    pub(crate) const TESTS: &[(&str, fn())] =
        &[("rt::vdso::finds_the_clock_in_this_process", finds_the_clock_in_this_process)];
}
