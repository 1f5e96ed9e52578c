//! The conformance kit of the kernel layer against the faer backend: every
//! operation, hostile shapes and layouts, f32 and f64, one and two threads.
use dspgd_backend::conformance;
use dspgd_faer::FaerBackend;

fn run<T: dspgd_faer::FaerScalar>(b: FaerBackend) {
    let tol = conformance::default_tol::<T>();
    let n = conformance::check::<T>(&b, tol).unwrap_or_else(|e| panic!("{b:?}: {e}"));
    assert!(n > 1000, "only {n} checks ran");
}

#[test]
fn faer_one_thread_f64() {
    run::<f64>(FaerBackend::new(1));
}

#[test]
fn faer_one_thread_f32() {
    run::<f32>(FaerBackend::new(1));
}

#[test]
fn faer_two_threads_f64() {
    run::<f64>(FaerBackend::new(2));
}

#[test]
fn faer_two_threads_f32() {
    run::<f32>(FaerBackend::new(2));
}

/// The kit's shapes are below the size where the sweep goes parallel: force
/// the parallel path so that the row split and the reduction of G are checked.
#[test]
fn faer_forced_parallel_sweep_f64() {
    run::<f64>(FaerBackend::new(2).with_min_parallel_work(0));
    run::<f64>(FaerBackend::new(3).with_min_parallel_work(0));
}

#[test]
fn faer_forced_parallel_sweep_f32() {
    run::<f32>(FaerBackend::new(2).with_min_parallel_work(0));
}

#[test]
fn faer_all_cores_f64() {
    run::<f64>(FaerBackend::new(0));
}

#[test]
fn default_is_one_thread() {
    assert_eq!(FaerBackend::default(), FaerBackend::new(1));
    assert_eq!(FaerBackend::default().effective_threads(), 1);
    assert!(FaerBackend::new(0).effective_threads() >= 1);
}
