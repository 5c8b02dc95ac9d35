//! `atexit` under each linker layout: `tests/c/atexit_layouts.c` linked by
//! lld with rawrt's linker.ld, by GNU ld with its own layout, and by lld
//! with no script. The first two run the handler at exit; the third cannot
//! (lld leaves the handlers' destructor out of `.fini_array`), and
//! `atexit` reports it with -1 and `ENOSYS` instead of a handler that
//! would silently never run. `main` gets its arguments in every layout.

use std::process::Command;

pub(super) fn atexit_in_each_layout() {
    let dir = super::clib::scratch("atexit-layouts");
    let src = super::root().join("tests/c/atexit_layouts.c");
    let script = super::root().join("linker.ld");
    // rust-lld behind the `cc` driver, as build.rs links the examples.
    let rustc = |args: &[&str]| {
        String::from_utf8(Command::new("rustc").args(args).output().unwrap().stdout).unwrap()
    };
    let sysroot = rustc(&["--print", "sysroot"]);
    let vv = rustc(&["-vV"]);
    let host = vv.lines().find_map(|l| l.strip_prefix("host: ")).unwrap();
    let gcc_ld = format!("-B{}/lib/rustlib/{host}/bin/gcc-ld", sysroot.trim());
    let lld_script =
        ["-fuse-ld=lld".to_string(), gcc_ld.clone(), format!("-Wl,-T,{}", script.display())];
    let lld_bare = ["-fuse-ld=lld".to_string(), gcc_ld];
    let cases: [(&str, &[String], &str); 3] = [
        ("lld-linker-ld", &lld_script, "atexit 0\nargc 3\nhandler\n"),
        ("gnu-ld", &[], "atexit 0\nargc 3\nhandler\n"),
        ("lld-no-script", &lld_bare, "atexit -1 errno 38\nargc 3\n"),
    ];
    for (name, flags, want) in cases {
        let exe = dir.join(name);
        let mut c = super::clib::cc_nolibc();
        c.args(flags).arg(&src).arg(super::clib::default_lib()).arg("-o").arg(&exe);
        let o = c.output().expect("cc");
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        let o = Command::new(&exe).args(["a", "b"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), want, "{name}");
    }
}
