//! Links the program as a static ELF executable with no libc, no C start
//! files and no dynamic loader, laid out by rawrt's linker script (whose
//! path rawrt's build script passes on as DEP_RAWRT_LINKER_SCRIPT).

fn main() {
    let script = std::env::var("DEP_RAWRT_LINKER_SCRIPT")
        .expect("DEP_RAWRT_LINKER_SCRIPT: rawrt must be a dependency");
    println!("cargo::rerun-if-env-changed=DEP_RAWRT_LINKER_SCRIPT");
    for arg in ["-nostdlib", "-static", "-no-pie", "-T", &script, "-Wl,-z,noexecstack"] {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
}
