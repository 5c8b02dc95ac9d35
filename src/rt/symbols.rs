//! Code addresses as `function+0xoff`, from the program's own ELF symbol
//! table: `/proc/self/exe` is mapped read-only on the first call (and kept
//! mapped), its `.symtab` searched for the `STT_FUNC` symbol whose range
//! holds the address. A static-pie program's load bias (`AT_ENTRY` less
//! the file's `e_entry`) is added to every symbol. A stripped program (no
//! `.symtab`), or an address no function holds, gives `None`: the caller
//! prints the raw address. Used by the heap's leak report; a program that
//! never asks links none of it.

use core::ffi::CStr;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys::io::{self, AT_FDCWD};
use crate::sys::mm::{self, MAP_PRIVATE, PROT_READ};

/// `AT_ENTRY`, the program's entry point as loaded.
const AT_ENTRY: usize = 9;
const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;
/// `O_RDONLY | O_CLOEXEC`.
const O_CLOEXEC: u32 = 0o2000000;
/// `SEEK_END`.
const SEEK_END: u32 = 2;

/// The mapped file's address (0: not looked at yet; [`NONE`]: it could
/// not be mapped) and its size. Two threads asking first may both map it;
/// one mapping is kept.
static MAP: AtomicUsize = AtomicUsize::new(0);
static LEN: AtomicUsize = AtomicUsize::new(0);
const NONE: usize = 1;

/// A symbol found for an address: its name (without the NUL) and the
/// address's offset from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The function's name as the symbol table spells it.
    pub name: &'static [u8],
    /// `address - start`.
    pub offset: usize,
}

/// The program file, mapped (empty if it cannot be read).
fn image() -> &'static [u8] {
    let mut base = MAP.load(Ordering::Acquire);
    if base == 0 {
        base = map_exe();
        MAP.store(base, Ordering::Release);
    }
    if base == NONE {
        return &[];
    }
    // SAFETY: `map_exe` mapped `LEN` bytes at `base`, never unmapped.
    unsafe { core::slice::from_raw_parts(base as *const u8, LEN.load(Ordering::Acquire)) }
}

/// `/proc/self/exe`, from a named static: a C string literal would go to
/// the library's one mergeable string section, which every program that
/// prints keeps whole.
fn exe() -> &'static CStr {
    static EXE: [u8; 15] = *b"/proc/self/exe\0";
    CStr::from_bytes_with_nul(&EXE).unwrap_or_default()
}

fn map_exe() -> usize {
    let Ok(fd) = io::openat(AT_FDCWD, exe(), O_CLOEXEC, 0) else { return NONE };
    let len = io::lseek(fd, 0, SEEK_END).unwrap_or(0) as usize;
    let base = if len >= 64 {
        // SAFETY: no MAP_FIXED: a new read-only mapping of our own file.
        unsafe { mm::mmap(core::ptr::null_mut(), len, PROT_READ, MAP_PRIVATE, fd, 0) }
            .map_or(NONE, |p| p as usize)
    } else {
        NONE
    };
    let _ = io::close(fd);
    LEN.store(len, Ordering::Release);
    base
}

fn u16_at(b: &[u8], o: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as usize)
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<usize> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?) as usize)
}

/// The function holding code address `addr`, if the program has a symbol
/// table that names one.
pub fn lookup(addr: usize) -> Option<Symbol> {
    find(image(), addr, crate::rt::getauxval(AT_ENTRY).unwrap_or(0))
}

/// [`lookup`] in ELF64 image `elf` (little-endian), loaded with its entry
/// point at `entry` (0: at its own address).
pub fn find(elf: &'static [u8], addr: usize, entry: usize) -> Option<Symbol> {
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let bias = if entry == 0 { 0 } else { entry.wrapping_sub(u64_at(elf, 24)?) };
    let (shoff, shentsize, shnum) = (u64_at(elf, 40)?, u16_at(elf, 58)?, u16_at(elf, 60)?);
    let sh = |i: usize| shoff + i * shentsize;
    let symtab = (0..shnum).find(|&i| u32_at(elf, sh(i) + 4) == Some(SHT_SYMTAB))?;
    let (off, size, link, entsize) = (
        u64_at(elf, sh(symtab) + 24)?,
        u64_at(elf, sh(symtab) + 32)?,
        u32_at(elf, sh(symtab) + 40)? as usize,
        u64_at(elf, sh(symtab) + 56)?.max(24),
    );
    let stroff = u64_at(elf, sh(link) + 24)?;
    let strsize = u64_at(elf, sh(link) + 32)?;
    let strtab = elf.get(stroff..stroff.checked_add(strsize)?)?;
    (0..size / entsize).find_map(|i| {
        let s = off + i * entsize;
        let info = *elf.get(s + 4)?;
        let value = u64_at(elf, s + 8)?.wrapping_add(bias);
        let len = u64_at(elf, s + 16)?;
        if info & 0xf != STT_FUNC || addr < value || addr - value >= len {
            return None;
        }
        let name = strtab.get(u32_at(elf, s)? as usize..)?;
        let name = name.get(..name.iter().position(|&c| c == 0)?)?;
        Some(Symbol { name, offset: addr - value })
    })
}
