//! Rust's global allocator is the process heap: `Vec`, `String`, `Box`
//! and friends get their memory from it, share it with C's malloc, and
//! show in its figures.

use super::util::*;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

pub fn vec_growth_keeps_contents() {
    let before = info();
    let mut v: Vec<u64> = Vec::new();
    let mut moves = 0;
    let mut last = v.as_ptr();
    for i in 0..200_000u64 {
        v.push(i * 3 + 1);
        if v.as_ptr() != last {
            moves += 1;
            last = v.as_ptr();
        }
    }
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 3 + 1));
    // Doubling growth: a few dozen reallocations at most, many in place.
    assert!(moves <= 40, "{moves} moves");
    let during = info();
    assert!(during.total_allocated_bytes >= before.total_allocated_bytes + 200_000 * 8);
    assert_eq!(during.allocated_blocks, before.allocated_blocks + 1);
    // SAFETY: the vector's buffer is a live block of the process heap.
    let usable = unsafe { malloc_usable_size(v.as_mut_ptr() as *mut u8) };
    assert!(usable >= v.capacity() * 8);
    v.truncate(10);
    v.shrink_to_fit();
    assert_eq!(v, [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]);
    drop(v);
    let after = info();
    assert_eq!(after.total_allocated_bytes, before.total_allocated_bytes);
    assert_eq!(after.allocated_blocks, before.allocated_blocks);
    heap_ok();
}

pub fn string_growth_and_formatting() {
    let mut s = String::new();
    for i in 0..20_000 {
        write!(s, "{i},").unwrap();
    }
    assert!(s.starts_with("0,1,2,3,"));
    assert!(s.ends_with(",19998,19999,"));
    assert_eq!(s.split(',').filter(|x| !x.is_empty()).count(), 20_000);
    let t = alloc::format!("{}|{}", &s[..4], s.len());
    assert_eq!(t, "0,1,|108890");
    let mut u = s.clone();
    u.push_str("end");
    assert_eq!(&u[u.len() - 9..], "19999,end");
    assert_eq!(s.len() + 3, u.len());
    heap_ok();
}

pub fn boxes_and_alignment() {
    #[repr(align(4096))]
    struct Page([u8; 4096]);
    #[repr(align(64))]
    struct Line(u64);
    let before = info();
    let mut pages: Vec<Box<Page>> = (0..20).map(|i| Box::new(Page([i as u8; 4096]))).collect();
    let lines: Vec<Box<Line>> = (0..1000).map(|i| Box::new(Line(i))).collect();
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(&**p as *const Page as usize % 4096, 0);
        assert!(p.0.iter().all(|&b| b == i as u8));
    }
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(&**l as *const Line as usize % 64, 0);
        assert_eq!(l.0, i as u64);
    }
    pages.truncate(5);
    let zeroed: Box<[u8]> = alloc::vec![0u8; 1 << 20].into_boxed_slice();
    assert!(zeroed.iter().all(|&b| b == 0));
    let big = Box::new([7u64; 40_000]); // past the mmap threshold
    assert!(big.iter().all(|&x| x == 7));
    drop((pages, lines, zeroed, big));
    let after = info();
    assert_eq!(
        (after.total_allocated_bytes, after.allocated_blocks),
        (before.total_allocated_bytes, before.allocated_blocks)
    );
    heap_ok();
}

pub fn collections_and_c_share_one_heap() {
    let mut map = BTreeMap::new();
    for i in 0..5000u32 {
        map.insert(i.wrapping_mul(2_654_435_761), alloc::format!("v{i}"));
    }
    assert_eq!(map.len(), 5000);
    assert_eq!(map[&7u32.wrapping_mul(2_654_435_761)], "v7");
    // A block from C malloc freed by Rust's allocator and the other way
    // round: one heap.
    let layout = core::alloc::Layout::from_size_align(100, 16).unwrap();
    // SAFETY: plain C call.
    let p = unsafe { malloc(100) };
    assert!(!p.is_null());
    // SAFETY: the global allocator is the process heap that malloc uses.
    unsafe { alloc::alloc::dealloc(p, layout) };
    // SAFETY: as above.
    let q = unsafe { alloc::alloc::alloc(layout) };
    assert!(!q.is_null());
    // SAFETY: C free of a block Rust allocated.
    unsafe { free(q) };
    drop(map);
    heap_ok();
}
