//! `dspgd info`: what this binary is and what this machine offers — the
//! version, the backends compiled in and the kernel level each runs, the CPU
//! features detected at run time, the threads available, and the build facts
//! recorded by build.rs. Text for people, `--json` for scripts.

use super::args::InfoArgs;
use super::EXIT_OK;
use anyhow::Result;
use dspgd::{compiled_backends, make_backend, BackendChoice, BUILD_INFO};
use serde_json::{json, Value};

/// CPU features detected at run time, as (name, present) pairs.
pub fn cpu_features() -> Vec<(&'static str, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        vec![
            ("sse4.2", std::arch::is_x86_feature_detected!("sse4.2")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx512dq", std::arch::is_x86_feature_detected!("avx512dq")),
            ("avx512vl", std::arch::is_x86_feature_detected!("avx512vl")),
        ]
    }
    #[cfg(target_arch = "aarch64")]
    {
        vec![("neon", std::arch::is_aarch64_feature_detected!("neon"))]
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        vec![]
    }
}

/// The kernel level a backend runs in f64 and f32 (None when it cannot be made).
fn kernels(name: &str) -> (Option<String>, Option<String>) {
    let Ok(choice) = name.parse::<BackendChoice>() else {
        return (None, None);
    };
    (
        make_backend::<f64>(choice, 1).ok().map(|b| b.kernel()),
        make_backend::<f32>(choice, 1).ok().map(|b| b.kernel()),
    )
}

fn split_list(s: &str) -> Vec<&str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).collect()
}

/// The OpenBLAS core and configuration, and a warning when it runs a generic
/// core on a CPU with AVX2/AVX-512 (then `auto` prefers another backend).
fn openblas_json() -> Value {
    #[cfg(feature = "openblas")]
    {
        json!({
            "core": dspgd_openblas::core_name(),
            "config": dspgd_openblas::config(),
            "generic_core": dspgd_openblas::is_generic_core(),
            "warning": dspgd_openblas::core_warning(),
        })
    }
    #[cfg(not(feature = "openblas"))]
    {
        Value::Null
    }
}

/// Everything `info` reports, as JSON.
pub fn info_json() -> Value {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let backends: Vec<Value> = compiled_backends()
        .into_iter()
        .map(|name| {
            let (k64, k32) = kernels(name);
            json!({ "name": name, "kernel_f64": k64, "kernel_f32": k32 })
        })
        .collect();
    let auto = make_backend::<f64>(BackendChoice::Auto, 1).ok().map(|b| b.name());
    let features: serde_json::Map<String, Value> = cpu_features().into_iter().map(|(n, on)| (n.to_string(), json!(on))).collect();
    json!({
        "version": BUILD_INFO.version,
        "backends": compiled_backends(),
        "backend_details": backends,
        "auto_backend": auto,
        "backend_env": std::env::var("DSPGD_BACKEND").ok(),
        "cpu": {
            "arch": std::env::consts::ARCH,
            "os": std::env::consts::OS,
            "features": features,
        },
        "available_threads": threads,
        "huge_pages": {
            "thp_mode": dspgd::kernels::huge_pages::system_mode(),
            "min_bytes": dspgd::kernels::huge_pages::MIN_BYTES,
        },
        "simd_env": std::env::var("DSPGD_SIMD").ok(),
        "openblas": openblas_json(),
        "build": {
            "rustc": BUILD_INFO.rustc,
            "profile": BUILD_INFO.profile,
            "target_features": split_list(BUILD_INFO.target_features),
            "backends": split_list(BUILD_INFO.backends),
        },
    })
}

/// Runs `dspgd info`.
///
/// # Errors
/// None in practice (writing to stdout cannot fail in a way worth reporting).
pub fn run(a: &InfoArgs) -> Result<u8> {
    let v = info_json();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(EXIT_OK);
    }
    println!("dspgd {}", BUILD_INFO.version);
    println!("backends compiled in:");
    for b in v["backend_details"].as_array().into_iter().flatten() {
        let k = |key: &str| b[key].as_str().unwrap_or("unavailable").to_string();
        println!("  {:<10} f64 kernel: {}, f32 kernel: {}", b["name"].as_str().unwrap_or("?"), k("kernel_f64"), k("kernel_f32"));
    }
    if let Some(auto) = v["auto_backend"].as_str() {
        println!("auto picks:   {auto}");
    }
    if let Some(core) = v["openblas"]["core"].as_str() {
        println!("openblas:     core {core} ({})", v["openblas"]["config"].as_str().unwrap_or(""));
        if let Some(w) = v["openblas"]["warning"].as_str() {
            println!("  warning:    {w}");
        }
    }
    if let Some(env) = v["simd_env"].as_str() {
        println!("DSPGD_SIMD={env} (forces the SIMD level)");
    }
    if let Some(env) = v["backend_env"].as_str() {
        println!("DSPGD_BACKEND={env} (overrides auto)");
    }
    let feats = cpu_features();
    let on: Vec<&str> = feats.iter().filter(|f| f.1).map(|f| f.0).collect();
    let off: Vec<&str> = feats.iter().filter(|f| !f.1).map(|f| f.0).collect();
    println!("cpu:          {} ({})", std::env::consts::ARCH, std::env::consts::OS);
    println!("  detected:   {}", if on.is_empty() { "none of the checked features".into() } else { on.join(" ") });
    if !off.is_empty() {
        println!("  missing:    {}", off.join(" "));
    }
    println!("threads:      {} available (solve uses --threads, default 1; 0 = all)", v["available_threads"]);
    match v["huge_pages"]["thp_mode"].as_str() {
        Some(mode @ ("always" | "madvise")) => {
            let mib = v["huge_pages"]["min_bytes"].as_u64().unwrap_or(0) >> 20;
            println!("huge pages:   {mode} (buffers of {mib} MiB or more, X among them, ask for them)")
        }
        Some(mode) => println!("huge pages:   {mode} (transparent huge pages are off: large X reads slower)"),
        None => println!("huge pages:   not available here"),
    }
    println!("build:");
    println!("  rustc:      {}", BUILD_INFO.rustc);
    println!("  profile:    {}", BUILD_INFO.profile);
    let tf = split_list(BUILD_INFO.target_features);
    println!("  target features (compile time): {}", if tf.is_empty() { "none".into() } else { tf.join(",") });
    Ok(EXIT_OK)
}
