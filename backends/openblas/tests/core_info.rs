//! What the backend reports about the OpenBLAS it runs on.
use dspgd_backend::Backend;
use dspgd_openblas::{
    core_level, core_name, cpu_level, is_generic_core, OpenBlasBackend, SimdLevel,
};

#[test]
fn core_name_is_reported() {
    let core = core_name();
    assert!(!core.is_empty(), "openblas_get_corename gave an empty name");
    let b = OpenBlasBackend::new(1);
    assert_eq!(Backend::<f64>::name(&b), "openblas");
    assert_eq!(Backend::<f64>::kernel(&b), format!("openblas/{core}"));
    assert!(!dspgd_openblas::config().is_empty());
    eprintln!(
        "OpenBLAS core {core} ({:?}), CPU {:?}, config '{}', threading {:?}, generic: {}",
        core_level(&core),
        cpu_level(),
        dspgd_openblas::config(),
        dspgd_openblas::threading(),
        is_generic_core()
    );
    threads_setting_round_trips();
}

#[test]
fn generic_core_warning_matches() {
    assert_eq!(dspgd_openblas::core_warning().is_some(), is_generic_core());
    if is_generic_core() {
        assert!(cpu_level() >= SimdLevel::Avx2);
        assert!(dspgd_openblas::core_warning()
            .unwrap()
            .contains("OPENBLAS_CORETYPE="));
    }
}

/// Called from the one test that makes backends: the thread count is
/// process-wide, so tests running side by side must not race on it.
fn threads_setting_round_trips() {
    let b = OpenBlasBackend::new(0);
    assert!(b.effective_threads() >= 1);
    if b.effective_threads() <= dspgd_openblas::num_procs() {
        assert_eq!(dspgd_openblas::num_threads(), b.effective_threads());
    }
    OpenBlasBackend::new(1);
    assert_eq!(dspgd_openblas::num_threads(), 1);
}
