//! The two block formats of the compact core: [`Small`] (NuttX's small
//! memory model: 4-byte headers, 16-bit links, 8-byte alignment, one area
//! of at most 64 KiB) and [`Wide`] (8-byte headers, links that are
//! addresses, 16-byte alignment, several areas of any size).

use super::super::block::Mem;

/// One stretch of blocks: headers from `base` up to the sentinel at
/// `sent` (both ≡ [`Format::HDR`] mod [`Format::GRAIN`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Area {
    /// The first block's header.
    pub base: usize,
    /// The sentinel header (after the last block).
    pub sent: usize,
}

/// Where a format keeps its words and how big they are.
///
/// # Safety
/// The constants must describe a layout in which a free block's header,
/// two links and footer fit in [`MIN_BLOCK`](Format::MIN_BLOCK) bytes,
/// and every size of an area of [`MAX_AREA`](Format::MAX_AREA) bytes
/// fits the size bits below the tag.
pub unsafe trait Format: 'static {
    /// Bytes of header per block (also the footer's).
    const HDR: usize;
    /// Payload alignment, and the unit of block sizes.
    const GRAIN: usize;
    /// Smallest block: header, two links, footer.
    const MIN_BLOCK: usize;
    /// Bytes of a link (next at `h + HDR`, previous right after).
    const LINK: usize;
    /// The largest area.
    const MAX_AREA: usize;
    /// The first bit of the heap's 16-bit tag in a header word.
    const TAG_SHIFT: u32;
    /// How many areas a heap can hold.
    const AREAS: usize;
    /// The areas' table.
    type Areas: Copy + AsRef<[Area]> + AsMut<[Area]>;
    /// An empty table.
    const NO_AREAS: Self::Areas;
    /// The size bits of a header.
    const SIZE: usize = ((1 << Self::TAG_SHIFT) - 1) & !(Self::GRAIN - 1);
    /// The tag bits of a header.
    const TAG: usize = 0xFFFF << Self::TAG_SHIFT;

    /// Reads the header or footer word at `a`.
    ///
    /// # Safety
    /// `a` is an aligned word of the heap's memory.
    unsafe fn rd(m: Mem, a: usize) -> usize;
    /// Writes the header or footer word at `a`.
    ///
    /// # Safety
    /// As for [`rd`](Self::rd).
    unsafe fn wr(m: Mem, a: usize, v: usize);
    /// Reads the link at `a`.
    ///
    /// # Safety
    /// As for [`rd`](Self::rd).
    unsafe fn rd_link(m: Mem, a: usize) -> usize;
    /// Writes the link at `a`.
    ///
    /// # Safety
    /// As for [`rd`](Self::rd).
    unsafe fn wr_link(m: Mem, a: usize, v: usize);
    /// The link to block `h` of a heap whose first area starts at `base`
    /// (never 0).
    fn encode(base: usize, h: usize) -> usize;
    /// The block a non-zero link names (unchecked: any address).
    fn decode(base: usize, v: usize) -> usize;
}

/// NuttX's small memory model.
#[derive(Debug)]
pub struct Small;

// SAFETY: 4 + 2 + 2 + 4 <= 16; sizes below 64 KiB fit the 16 size bits.
unsafe impl Format for Small {
    const HDR: usize = 4;
    const GRAIN: usize = 8;
    const MIN_BLOCK: usize = 16;
    const LINK: usize = 2;
    const MAX_AREA: usize = 64 << 10;
    const TAG_SHIFT: u32 = 16;
    const AREAS: usize = 1;
    type Areas = [Area; 1];
    const NO_AREAS: [Area; 1] = [Area { base: 0, sent: 0 }];

    #[inline(always)]
    unsafe fn rd(m: Mem, a: usize) -> usize {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<u32>(a).read() as usize }
    }
    #[inline(always)]
    unsafe fn wr(m: Mem, a: usize, v: usize) {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<u32>(a).write(v as u32) }
    }
    #[inline(always)]
    unsafe fn rd_link(m: Mem, a: usize) -> usize {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<u16>(a).read() as usize }
    }
    #[inline(always)]
    unsafe fn wr_link(m: Mem, a: usize, v: usize) {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<u16>(a).write(v as u16) }
    }
    /// The block's index: 8-byte steps from `base`, plus one.
    #[inline(always)]
    fn encode(base: usize, h: usize) -> usize {
        ((h - base) >> 3) + 1
    }
    #[inline(always)]
    fn decode(base: usize, v: usize) -> usize {
        base.wrapping_add((v - 1) << 3)
    }
}

/// Blocks with word headers, for regions above 64 KiB.
#[derive(Debug)]
pub struct Wide;

// SAFETY: 8 + 8 + 8 + 8 <= 32; sizes below 2^35 fit the 48 size bits.
unsafe impl Format for Wide {
    const HDR: usize = 8;
    const GRAIN: usize = 16;
    const MIN_BLOCK: usize = 32;
    const LINK: usize = 8;
    const MAX_AREA: usize = 1 << 35;
    const TAG_SHIFT: u32 = 48;
    const AREAS: usize = 8;
    type Areas = [Area; 8];
    const NO_AREAS: [Area; 8] = [Area { base: 0, sent: 0 }; 8];

    #[inline(always)]
    unsafe fn rd(m: Mem, a: usize) -> usize {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<usize>(a).read() }
    }
    #[inline(always)]
    unsafe fn wr(m: Mem, a: usize, v: usize) {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<usize>(a).write(v) }
    }
    #[inline(always)]
    unsafe fn rd_link(m: Mem, a: usize) -> usize {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<usize>(a).read() }
    }
    #[inline(always)]
    unsafe fn wr_link(m: Mem, a: usize, v: usize) {
        // SAFETY: the caller's contract.
        unsafe { m.ptr::<usize>(a).write(v) }
    }
    /// The block's address.
    #[inline(always)]
    fn encode(_base: usize, h: usize) -> usize {
        h
    }
    #[inline(always)]
    fn decode(_base: usize, v: usize) -> usize {
        v
    }
}
