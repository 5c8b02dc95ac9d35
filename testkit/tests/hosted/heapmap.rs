//! The heap's picture (`rawrt_heap_svg`, `heap::svg_to_fd`) read back with
//! an XML parser (Python's `xml.etree`): its blocks, counted and summed by
//! kind, equal the heap's own figures, for the process heap
//! (`examples/heapmap.rs`) and for a multi_heap from C (`tests/c/heapmap.c`,
//! whose `multi_heap_get_info` figures are compared too).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// What `scripts/svg-blocks.py` finds in `svg`: `(count, bytes)` by kind,
/// and the figures; the script also checks that they add up.
fn read(svg: &[u8]) -> (BTreeMap<String, (usize, usize)>, [usize; 4]) {
    let mut py = Command::new("python3")
        .arg(super::root().join("scripts/svg-blocks.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    py.stdin.take().unwrap().write_all(svg).unwrap();
    let o = py.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "the picture does not parse:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (mut kinds, mut figures) = (BTreeMap::new(), [0; 4]);
    for line in String::from_utf8(o.stdout).unwrap().lines() {
        let w: Vec<&str> = line.split(' ').collect();
        let v: Vec<usize> = w[1..].iter().map(|x| x.parse().unwrap()).collect();
        if w[0] == "figures" {
            figures.copy_from_slice(&v);
        } else {
            kinds.insert(w[0].to_string(), (v[0], v[1]));
        }
    }
    (kinds, figures)
}

/// Checks that the blocks drawn add up to the figures; returns them.
fn blocks_match_figures(svg: &[u8]) -> (BTreeMap<String, (usize, usize)>, [usize; 4]) {
    let (k, f) = read(svg);
    let sum =
        |names: &[&str]| names.iter().fold((0, 0), |(n, b), name| (n + k[*name].0, b + k[*name].1));
    let (an, ab) = sum(&["used", "large"]);
    let (fn_, fb) = sum(&["free", "cached", "top"]);
    assert_eq!([an, ab, fn_, fb], f, "blocks drawn {k:?} against the heap's figures");
    (k, f)
}

pub(super) fn heap_picture_matches_statistics() {
    // The process heap after the example's fragmenting workload.
    let exe = super::profile_dir().join("examples/heapmap");
    let o = Command::new(&exe).output().unwrap();
    assert!(o.status.success(), "{}: {}", exe.display(), String::from_utf8_lossy(&o.stderr));
    let (k, _) = blocks_match_figures(&o.stdout);
    for (kind, least) in [("used", 800), ("free", 100), ("cached", 1), ("large", 1)] {
        assert!(k[kind].0 >= least, "{kind}: {:?} (at least {least} blocks expected)", k[kind]);
    }

    // A multi_heap from C; its multi_heap_get_info figures on stderr.
    let dir = super::clib::scratch("heapmap");
    let exe = dir.join("heapmap");
    super::clib::build_c_nolibc(&super::root().join("tests/c/heapmap.c"), &exe);
    let o = Command::new(&exe).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}: {stderr}", exe.display());
    let (k, f) = blocks_match_figures(&o.stdout);
    let info: BTreeMap<&str, usize> = stderr
        .lines()
        .map(|l| l.split_once(' ').map(|(a, b)| (a, b.parse().unwrap())).unwrap())
        .collect();
    let c = [
        info["allocated_blocks"],
        info["allocated_bytes"],
        info["free_blocks"],
        info["free_bytes"],
    ];
    assert_eq!(c, f, "multi_heap_get_info against the picture's figures");
    assert_eq!(k["used"].0, 266, "400 blocks allocated, every third freed");
    assert_eq!(k["large"].0 + k["cached"].0, 0, "a region heap has neither");
}
