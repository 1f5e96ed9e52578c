//! The conformance kit with three sweep threads, forced parallel, so the row
//! split is uneven (its own test binary: OpenBLAS's thread count is
//! process-wide, and the two-thread tests assert theirs).
use dspgd_backend::conformance;
use dspgd_openblas::OpenBlasBackend;

#[test]
fn openblas_three_threads_uneven_split() {
    for b in [
        OpenBlasBackend::new(3).with_min_parallel_work(0),
        OpenBlasBackend::new(3)
            .with_min_parallel_work(0)
            .with_sweep_block_rows(4),
    ] {
        let n64 = conformance::check::<f64>(&b, conformance::default_tol::<f64>())
            .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        let n32 = conformance::check::<f32>(&b, conformance::default_tol::<f32>())
            .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        assert!(n64 > 1000 && n32 > 1000, "only {n64}/{n32} checks ran");
    }
    // A parallel sweep pins OpenBLAS to one thread while it runs; a new
    // backend sets the process-wide count to its own.
    OpenBlasBackend::new(3);
    assert_eq!(dspgd_openblas::num_threads(), 3);
}
