//! The conformance kit of the kernel layer against the SIMD backend: every
//! operation, hostile shapes and layouts, f32 and f64, at every level this
//! CPU has, with one and two threads (and the parallel sweep forced).
use dspgd_backend::{conformance, Backend};
use dspgd_simd::{Level, LevelError, SimdBackend, SimdScalar};

fn run<T: SimdScalar>(b: SimdBackend)
where
    SimdBackend: Backend<T>,
{
    let tol = conformance::default_tol::<T>();
    let n = conformance::check::<T>(&b, tol).unwrap_or_else(|e| panic!("{b:?} ({}): {e}", T::NAME));
    assert!(n > 1000, "only {n} checks ran");
}

/// Every level this CPU can run (scalar always).
fn levels() -> Vec<Level> {
    let levels = Level::available();
    assert!(levels.contains(&Level::Scalar));
    levels
}

fn all_levels<T: SimdScalar>(threads: usize, min_par_work: Option<usize>)
where
    SimdBackend: Backend<T>,
{
    for level in levels() {
        let mut b = SimdBackend::with_level(level, threads).expect("available level");
        if let Some(w) = min_par_work {
            b = b.with_min_parallel_work(w);
        }
        assert_eq!(b.level(), level);
        run::<T>(b);
    }
}

#[test]
fn every_level_one_thread_f64() {
    all_levels::<f64>(1, None);
}

#[test]
fn every_level_one_thread_f32() {
    all_levels::<f32>(1, None);
}

#[test]
fn every_level_two_threads_f64() {
    all_levels::<f64>(2, None);
}

#[test]
fn every_level_two_threads_f32() {
    all_levels::<f32>(2, None);
}

/// The kit's shapes are below the size where the sweep goes parallel: force
/// the parallel path so that the row split and the reduction of G are checked.
#[test]
fn every_level_forced_parallel_sweep_f64() {
    all_levels::<f64>(2, Some(0));
    all_levels::<f64>(3, Some(0));
}

#[test]
fn every_level_forced_parallel_sweep_f32() {
    all_levels::<f32>(2, Some(0));
}

#[test]
fn all_cores_best_level() {
    run::<f64>(SimdBackend::new(0));
    run::<f32>(SimdBackend::new(0));
}

/// On x86-64 this machine class has AVX-512: every x86 level must be there,
/// so that the tests above really ran the vector paths.
#[test]
#[cfg(target_arch = "x86_64")]
fn x86_levels_are_detected_consistently() {
    let best = dspgd_simd::detect();
    assert!(best.is_available());
    assert_ne!(best, Level::Neon);
    if best == Level::V4 {
        assert!(Level::V3.is_available(), "a CPU with AVX-512 has AVX2 + FMA");
    }
    eprintln!("detected level: {best}; available: {:?}", Level::available());
}

#[test]
fn unavailable_level_is_an_error() {
    #[cfg(not(target_arch = "aarch64"))]
    let missing = Level::Neon;
    #[cfg(target_arch = "aarch64")]
    let missing = Level::V4;
    assert!(!missing.is_available());
    let err = SimdBackend::with_level(missing, 1).unwrap_err();
    assert!(matches!(err, LevelError::Unavailable { level, .. } if level == missing));
    let msg = err.to_string();
    assert!(msg.contains(missing.as_str()) && msg.contains("not available"), "{msg}");
}

#[test]
fn names_and_kernels() {
    use dspgd_backend::Backend;
    for level in levels() {
        let b = SimdBackend::with_level(level, 1).unwrap();
        assert_eq!(Backend::<f64>::name(&b), "simd");
        assert_eq!(Backend::<f64>::kernel(&b), level.as_str());
        assert_eq!(Backend::<f32>::kernel(&b), level.as_str());
    }
    assert_eq!(Level::Scalar.as_str(), "scalar");
    assert_eq!(Level::V3.as_str(), "avx2");
    assert_eq!(Level::V4.as_str(), "avx512");
    assert_eq!(Level::Neon.as_str(), "neon");
}

#[test]
fn level_names_parse() {
    for (s, l) in [
        ("scalar", Level::Scalar),
        ("v3", Level::V3),
        ("AVX2", Level::V3),
        ("v4", Level::V4),
        (" avx512 ", Level::V4),
        ("neon", Level::Neon),
    ] {
        assert_eq!(s.parse::<Level>().unwrap(), l, "{s}");
    }
    let err = "sse9".parse::<Level>().unwrap_err();
    assert!(matches!(err, LevelError::UnknownName { .. }));
    assert!(err.to_string().contains("sse9"));
}
