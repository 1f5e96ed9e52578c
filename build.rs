//! Build facts for `dspgd info`: the backends compiled in, the target
//! features enabled at compile time, and the rustc version. Reads only the
//! environment Cargo provides; never touches the network.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    println!("cargo::rustc-check-cfg=cfg(dspgd_static_avx512)");
    println!("cargo::rustc-check-cfg=cfg(dspgd_static_avx2)");
    if std::env::var_os("DOCS_RS").is_some() {
        println!("cargo:rustc-env=DSPGD_RUSTC_VERSION=unknown");
        println!("cargo:rustc-env=DSPGD_TARGET_FEATURES=");
        println!("cargo:rustc-env=DSPGD_BACKENDS=");
        println!("cargo:rustc-env=DSPGD_PROFILE=unknown");
        return;
    }

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DSPGD_RUSTC_VERSION={version}");

    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    println!("cargo:rustc-env=DSPGD_TARGET_FEATURES={features}");
    let has = |f: &str| features.split(',').any(|x| x == f);
    if has("avx512f") {
        println!("cargo:rustc-cfg=dspgd_static_avx512");
    }
    if has("avx2") && has("fma") {
        println!("cargo:rustc-cfg=dspgd_static_avx2");
    }

    let mut backends = vec!["reference"];
    for (feature, name) in [("CARGO_FEATURE_FAER", "faer"), ("CARGO_FEATURE_SIMD", "simd"), ("CARGO_FEATURE_OPENBLAS", "openblas")] {
        if std::env::var_os(feature).is_some() {
            backends.push(name);
        }
    }
    println!("cargo:rustc-env=DSPGD_BACKENDS={}", backends.join(","));
    println!("cargo:rustc-env=DSPGD_PROFILE={}", std::env::var("PROFILE").unwrap_or_default());
}
