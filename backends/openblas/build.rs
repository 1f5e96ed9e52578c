//! Checks that the system OpenBLAS is installed, so that a missing library
//! is one clear error naming the package to install instead of a page of
//! linker output. Never downloads or builds anything.
//!
//! - `DOCS_RS` set: does nothing (docs.rs builds documentation only).
//! - `OPENBLAS_LIB_DIR` set: that directory must hold `libopenblas`; it is
//!   added to the linker's search path.
//! - Otherwise the usual library directories are probed (no pkg-config);
//!   a hit outside the linker's default path is added to the search path.

use std::env;
use std::path::{Path, PathBuf};

/// File names that count as an installed OpenBLAS a linker can use with `-lopenblas`.
const NAMES: &[&str] = &["libopenblas.so", "libopenblas.dylib", "libopenblas.a", "openblas.lib", "libopenblas.dll.a"];

fn find_in(dir: &Path) -> Option<PathBuf> {
    NAMES.iter().map(|n| dir.join(n)).find(|p| p.exists())
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=DOCS_RS");
    println!("cargo::rerun-if-env-changed=OPENBLAS_LIB_DIR");
    if env::var_os("DOCS_RS").is_some() {
        return;
    }

    const INSTALL: &str = "install it with `apt-get install libopenblas-dev` (Debian/Ubuntu; \
                           `dnf install openblas-devel` on Fedora, `brew install openblas` on macOS), \
                           or set OPENBLAS_LIB_DIR to the directory that holds libopenblas";

    if let Some(dir) = env::var_os("OPENBLAS_LIB_DIR") {
        let dir = PathBuf::from(dir);
        match find_in(&dir) {
            Some(lib) => {
                println!("cargo::rerun-if-changed={}", lib.display());
                println!("cargo::rustc-link-search=native={}", dir.display());
            }
            None => println!(
                "cargo::error=dspgd-openblas: OPENBLAS_LIB_DIR={} holds no libopenblas (looked for {}); point it at the \
                 directory that does, or unset it after installing the library (`apt-get install libopenblas-dev` on \
                 Debian/Ubuntu)",
                dir.display(),
                NAMES.join(", ")
            ),
        }
        return;
    }

    // The linker's default directories first (no search path needed), then
    // places where a package manager puts OpenBLAS outside them.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86" => "i386-linux-gnu".to_string(),
        "arm" => "arm-linux-gnueabihf".to_string(),
        "powerpc64" if env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() == Ok("little") => "powerpc64le-linux-gnu".into(),
        a => format!("{a}-linux-gnu"),
    };
    let default_dirs =
        [format!("/usr/lib/{multiarch}"), "/usr/lib64".into(), "/usr/lib".into(), "/usr/local/lib".into()];
    let extra_dirs = [
        format!("/usr/lib/{multiarch}/openblas-pthread"),
        format!("/usr/lib/{multiarch}/openblas-openmp"),
        format!("/usr/lib/{multiarch}/openblas-serial"),
        "/usr/lib64/openblas".into(),
        "/opt/homebrew/opt/openblas/lib".into(),
        "/usr/local/opt/openblas/lib".into(),
    ];
    let from_env: Vec<String> = env::var("LIBRARY_PATH")
        .map(|v| env::split_paths(&v).map(|p| p.display().to_string()).collect())
        .unwrap_or_default();

    for dir in default_dirs.iter().chain(&from_env) {
        if let Some(lib) = find_in(Path::new(dir)) {
            println!("cargo::rerun-if-changed={}", lib.display());
            return;
        }
    }
    for dir in &extra_dirs {
        if let Some(lib) = find_in(Path::new(dir)) {
            println!("cargo::rerun-if-changed={}", lib.display());
            println!("cargo::rustc-link-search=native={dir}");
            return;
        }
    }
    let searched: Vec<&str> = default_dirs.iter().chain(&from_env).chain(&extra_dirs).map(String::as_str).collect();
    println!(
        "cargo::error=dspgd-openblas: the system OpenBLAS library (libopenblas) was not found; {INSTALL}. Searched: {}",
        searched.join(", ")
    );
}
