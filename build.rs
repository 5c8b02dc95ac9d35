//! Links examples and integration tests as static ELF executables with no
//! libc and no dynamic loader, using rawrt's linker script and LLVM's lld
//! (the `rust-lld` that ships with every Rust toolchain) on every
//! architecture. The library's own (hosted) unit-test binary is left alone:
//! these flags go only to the `examples` and `tests` targets.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=linker.ld");
    // For the build scripts of programs that depend on rawrt (`links`):
    // DEP_RAWRT_LINKER_SCRIPT, the path of rawrt's linker script.
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo::metadata=linker_script={manifest}/linker.ld");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let script = format!("{}/linker.ld", env::var("CARGO_MANIFEST_DIR").unwrap());
    let host = env::var("HOST").unwrap();
    let target = env::var("TARGET").unwrap();
    // `-nostdlib -static -no-pie` gives ET_EXEC with no PT_INTERP and no
    // dynamic section, for the `cc` driver and for rust-lld alike.
    let mut args: Vec<String> =
        ["-nostdlib", "-static", "-no-pie", "-T", &script].iter().map(|s| s.to_string()).collect();
    let z = |opt: &str, args: &mut Vec<String>| {
        if host == target {
            args.push(format!("-Wl,-z,{opt}"));
        } else {
            args.extend(["-z".to_string(), opt.to_string()]);
        }
    };
    if host == target {
        // The native build links through `cc`; point it at rust-lld so that
        // every architecture is linked by the same linker.
        let sysroot = rustc_sysroot();
        let gcc_ld = sysroot.join("lib/rustlib").join(&host).join("bin/gcc-ld");
        args.push("-fuse-ld=lld".into());
        args.push(format!("-B{}", gcc_ld.display()));
    }
    z("noexecstack", &mut args);
    if env::var("PROFILE").as_deref() == Ok("release") {
        // Release binaries are stripped already; without the section
        // header table they lose nothing a loader or debugger could use.
        z("nosectionheader", &mut args);
    }
    // Only for the kinds of target the package has: the published crate
    // (see `include` in Cargo.toml) has no tests, and Cargo rejects link
    // arguments for a kind of target that does not exist. (Package with
    // scripts/package.sh: plain `cargo package` verifies the crate in the
    // repository's target directory, where this script's output for the
    // crate without tests/ would then be reused for the repository's own
    // tests, which would link without these arguments.)
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    for kind in ["examples", "tests"].into_iter().filter(|k| dir.join(k).is_dir()) {
        for arg in &args {
            println!("cargo::rustc-link-arg-{kind}={arg}");
        }
    }
}

fn rustc_sysroot() -> PathBuf {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}
