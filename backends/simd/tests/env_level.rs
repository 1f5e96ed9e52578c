//! `DSPGD_SIMD`: CI runs `DSPGD_SIMD=scalar|v3|v4 cargo test -p dspgd-simd`;
//! this test then runs the conformance kit at exactly that level, and fails
//! loudly when the CPU lacks it, so a forced path can never pass untested.
use dspgd_backend::{conformance, Backend};
use dspgd_simd::{level_from_env, SimdBackend, ENV_VAR};

#[test]
fn forced_level_runs_the_kit() {
    let level = match level_from_env() {
        Ok(Some(level)) => level,
        Ok(None) => {
            eprintln!("{ENV_VAR} is not set: no level forced (the conformance tests cover every available level)");
            return;
        }
        Err(e) => panic!("{ENV_VAR}: {e}"),
    };
    for threads in [1, 2] {
        let b = SimdBackend::from_env(threads)
            .unwrap_or_else(|e| panic!("{ENV_VAR}={level} was forced, but: {e}"))
            .with_min_parallel_work(0);
        assert_eq!(b.level(), level);
        assert_eq!(Backend::<f64>::kernel(&b), level.as_str());
        let n = conformance::check::<f64>(&b, conformance::default_tol::<f64>()).unwrap_or_else(|e| panic!("{level} f64: {e}"));
        assert!(n > 1000);
        let n = conformance::check::<f32>(&b, conformance::default_tol::<f32>()).unwrap_or_else(|e| panic!("{level} f32: {e}"));
        assert!(n > 1000);
        eprintln!("{ENV_VAR}={level}: conformance kit passed with {threads} thread(s)");
    }
}
