//! Parsing of `DSPGD_SIMD` (its own test binary: it sets the variable).
use dspgd_simd::{level_from_env, Level, LevelError, SimdBackend, ENV_VAR};

#[test]
fn env_values() {
    let saved = std::env::var_os(ENV_VAR);
    let cases: [(&str, Result<Option<Level>, ()>); 9] = [
        ("", Ok(None)),
        ("scalar", Ok(Some(Level::Scalar))),
        ("v3", Ok(Some(Level::V3))),
        ("avx2", Ok(Some(Level::V3))),
        ("V4", Ok(Some(Level::V4))),
        ("avx512", Ok(Some(Level::V4))),
        ("neon", Ok(Some(Level::Neon))),
        ("avx1024", Err(())),
        ("sse2", Err(())),
    ];
    for (value, want) in cases {
        std::env::set_var(ENV_VAR, value);
        let got = level_from_env();
        match want {
            Ok(w) => assert_eq!(got, Ok(w), "{ENV_VAR}={value}"),
            Err(()) => {
                let e = got.unwrap_err();
                assert!(matches!(e, LevelError::UnknownName { .. }), "{value}: {e:?}");
                assert!(e.to_string().contains(value), "{e}");
                assert!(SimdBackend::from_env(1).is_err());
            }
        }
    }
    // A level the CPU lacks: from_env fails, naming the level.
    let missing = if cfg!(target_arch = "aarch64") { "v4" } else { "neon" };
    std::env::set_var(ENV_VAR, missing);
    let e = SimdBackend::from_env(1).unwrap_err();
    assert!(matches!(e, LevelError::Unavailable { .. }), "{e:?}");
    std::env::remove_var(ENV_VAR);
    assert_eq!(level_from_env(), Ok(None));
    assert_eq!(SimdBackend::from_env(1).unwrap().level(), dspgd_simd::detect());
    match saved {
        Some(v) => std::env::set_var(ENV_VAR, v),
        None => std::env::remove_var(ENV_VAR),
    }
}
