//! The conformance kit of the kernel layer against the OpenBLAS backend with
//! one OpenBLAS thread: every operation, hostile shapes and layouts, f32 and
//! f64. (Two threads run in a separate test binary: OpenBLAS's thread count
//! is process-wide.)
use dspgd_backend::conformance;
use dspgd_openblas::{BlasScalar, OpenBlasBackend};

fn run<T: BlasScalar>(b: OpenBlasBackend) {
    let tol = conformance::default_tol::<T>();
    let n = conformance::check::<T>(&b, tol)
        .unwrap_or_else(|e| panic!("{b:?} ({}): {e}", dspgd_openblas::core_name()));
    assert!(n > 1000, "only {n} checks ran");
}

#[test]
fn openblas_one_thread_f64() {
    run::<f64>(OpenBlasBackend::new(1));
    assert_eq!(dspgd_openblas::num_threads(), 1);
}

#[test]
fn openblas_one_thread_f32() {
    run::<f32>(OpenBlasBackend::new(1));
}

/// The kit's shapes fit in one sweep block: force small blocks so that the
/// block loop (G overwritten by the first block, accumulated after) is checked.
#[test]
fn openblas_small_sweep_blocks() {
    for rows in [1, 3, 16] {
        run::<f64>(OpenBlasBackend::new(1).with_sweep_block_rows(rows));
        run::<f32>(OpenBlasBackend::new(1).with_sweep_block_rows(rows));
    }
}

#[test]
fn default_is_one_thread() {
    assert_eq!(OpenBlasBackend::default(), OpenBlasBackend::new(1));
    assert_eq!(OpenBlasBackend::default().effective_threads(), 1);
}
