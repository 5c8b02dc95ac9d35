//! The Rust interface: `rawrt::caps::{Caps, alloc, CapsAlloc}`, the last
//! an `allocator_api2` allocator (`Vec::new_in(CapsAlloc(Caps::EXEC))`).

use super::registry::isolated;
use allocator_api2::vec::Vec;
use core::alloc::Layout;
use rawrt::caps::{self, Caps, CapsAlloc};
use rawrt::heap::caps::{registry, Kind};

fn kind_of(p: *const u8) -> Option<Kind> {
    registry::owner(p as usize).map(|e| e.kind)
}

pub fn vecs_in_exec_dma_and_default_memory() {
    isolated(|| {
        // Executable memory is read-only where it is handed out: a Vec
        // holds it, and the code is written through the writable alias.
        let v: Vec<u8, CapsAlloc> = Vec::with_capacity_in(64, CapsAlloc(Caps::EXEC));
        assert_eq!(kind_of(v.as_ptr()), Some(Kind::Exec));
        let w = caps::exec_writable(v.as_ptr());
        assert!(!w.is_null());
        // SAFETY: 64 bytes of the block, through the writable view.
        unsafe { w.write_bytes(0x5a, 64) };
        assert!(v.capacity() >= 64);
        // SAFETY: written just now, through the alias.
        assert_eq!(unsafe { *v.as_ptr().add(63) }, 0x5a);
        let mut g: Vec<u64, CapsAlloc> = Vec::new_in(CapsAlloc(Caps::DEFAULT));
        for i in 0..10_000 {
            g.push(i);
        }
        assert_eq!(g.iter().sum::<u64>(), 49_995_000);
        g.truncate(10);
        g.shrink_to_fit();
        assert_eq!(g[..], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let mut d: Vec<u8, CapsAlloc> =
            Vec::with_capacity_in(4096, CapsAlloc(Caps::DMA | Caps::BIT8));
        d.extend_from_slice(&[7; 4096]);
        assert_eq!(kind_of(d.as_ptr()), Some(Kind::Dma));
        drop(d);
        drop(v);
        // No heap has it: the allocator fails (try_reserve reports it).
        let mut none: Vec<u8, CapsAlloc> = Vec::new_in(CapsAlloc(Caps::RTCRAM));
        assert!(none.try_reserve(16).is_err());
    });
}

pub fn alloc_by_layout_and_caps() {
    isolated(|| {
        let l = Layout::from_size_align(100, 256).unwrap();
        let p = caps::alloc(l, Caps::SPIRAM).expect("spiram");
        assert_eq!(p.as_ptr() as usize % 256, 0);
        assert_eq!(kind_of(p.as_ptr()), Some(Kind::Spiram));
        let z = caps::alloc_zeroed(l, Caps::DEFAULT | Caps::BIT8).expect("default");
        // SAFETY: 100 zeroed bytes.
        assert!(unsafe { core::slice::from_raw_parts(z.as_ptr(), 100) }.iter().all(|&b| b == 0));
        assert_eq!(kind_of(z.as_ptr()), None, "the process heap");
        assert!(caps::alloc(l, Caps::INVALID).is_none());
        assert!(caps::alloc(l, Caps::EXEC | Caps::DMA).is_none());
        assert!((Caps::DMA | Caps::BIT8).contains(Caps::DMA));
        assert_eq!((Caps::DMA | Caps::BIT8).bits(), 0x0c);
        // SAFETY: live blocks, freed once.
        unsafe {
            caps::dealloc(p);
            caps::dealloc(z);
        }
    });
}
