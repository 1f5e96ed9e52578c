//! The conformance kit against the OpenBLAS backend with two OpenBLAS
//! threads, f32 and f64 (its own test binary: the thread count is
//! process-wide, and every test here asks for the same count).
use dspgd_backend::conformance;
use dspgd_openblas::{BlasScalar, OpenBlasBackend};

fn run<T: BlasScalar>(b: OpenBlasBackend) {
    let tol = conformance::default_tol::<T>();
    let n = conformance::check::<T>(&b, tol)
        .unwrap_or_else(|e| panic!("{b:?} ({}): {e}", dspgd_openblas::core_name()));
    assert!(n > 1000, "only {n} checks ran");
}

#[test]
fn openblas_two_threads_f64() {
    let b = OpenBlasBackend::new(2);
    // Not `num_threads()`: it is process-wide, and the parallel sweeps of the
    // other tests here pin it to 1 while they run.
    assert_eq!(b.effective_threads(), 2);
    run::<f64>(b);
}

#[test]
fn openblas_two_threads_f32() {
    run::<f32>(OpenBlasBackend::new(2));
}

#[test]
fn openblas_two_threads_small_sweep_blocks() {
    run::<f64>(OpenBlasBackend::new(2).with_sweep_block_rows(5));
}

/// The kit's shapes are below the size where the sweep goes parallel: force
/// the parallel path so that the row split and the reduction of G are
/// checked (with R and D in layouts that cannot be split, it stays sequential).
#[test]
fn openblas_forced_parallel_sweep() {
    run::<f64>(OpenBlasBackend::new(2).with_min_parallel_work(0));
    run::<f32>(
        OpenBlasBackend::new(2)
            .with_min_parallel_work(0)
            .with_sweep_block_rows(3),
    );
}

/// A sweep large enough to go parallel with the default settings (n·d·k =
/// 1.2·10⁶ > 2²⁰), several row blocks per thread, against the reference.
#[test]
fn openblas_default_parallel_sweep_matches_reference() {
    use dspgd_backend::conformance::{rel_diff, Layout, Stored};
    use dspgd_backend::{Backend, Loss, Mat, Reference, ResidualUpdate, Scalar};
    fn mat<T: Scalar>(r: usize, c: usize, seed: u64) -> Mat<T> {
        let mut rng = dspgd_backend::rng::Rng::new(seed);
        Mat::from_fn(r, c, |_, _| T::from_f64(rng.normal()))
    }
    fn check<T: BlasScalar>(tol: f64) {
        let b = OpenBlasBackend::new(2);
        let (n, d, k) = (1200, 500, 2);
        for lx in [Layout::RowMajor, Layout::ColMajor] {
            let x = Stored::new(mat::<T>(n, d, 1).as_ref(), lx);
            let p = mat::<T>(d, k, 2);
            let r0 = mat::<T>(n, k, 3);
            let update = ResidualUpdate::FromStep {
                p: p.as_ref(),
                eta: T::from_f64(0.01),
            };
            let loss = Loss::Huber { delta: 1.0 };
            let (mut rw, mut dw, mut gw) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
            let sw = Reference.sweep(
                x.view(),
                update,
                rw.as_mut(),
                &loss,
                dw.as_mut(),
                gw.as_mut(),
            );
            let (mut rg, mut dg, mut gg) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
            let sg = b.sweep(
                x.view(),
                update,
                rg.as_mut(),
                &loss,
                dg.as_mut(),
                gg.as_mut(),
            );
            assert!(rel_diff(rg.as_ref(), rw.as_ref()) <= tol, "R, X {lx:?}");
            assert!(rel_diff(dg.as_ref(), dw.as_ref()) <= tol, "D, X {lx:?}");
            assert!(rel_diff(gg.as_ref(), gw.as_ref()) <= tol, "G, X {lx:?}");
            assert!((sg.loss - sw.loss).abs() <= tol * sw.loss, "loss, X {lx:?}");
        }
    }
    check::<f64>(1e-12);
    check::<f32>(1e-5);
}
