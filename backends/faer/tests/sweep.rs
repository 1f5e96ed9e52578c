//! The sweep on shapes larger than the conformance kit's, where the
//! default settings split the rows across threads and X spans several
//! row blocks, against the reference backend.
use dspgd_backend::conformance::{rel_diff, Layout, Stored, LAYOUTS};
use dspgd_backend::{Backend, Loss, Mat, Reference, ResidualUpdate};
use dspgd_faer::{FaerBackend, FaerScalar};

use dspgd_backend::conformance::pseudo_random as mat;

fn check<T: FaerScalar>(b: &FaerBackend, n: usize, d: usize, k: usize, lx: Layout, tol: f64) {
    let x = Stored::new(mat::<T>(n, d, 1).as_ref(), lx);
    let p = mat::<T>(d, k, 2);
    let q = mat::<T>(n, k, 3);
    let r0 = mat::<T>(n, k, 4);
    let eta = T::from_f64(0.3);
    for loss in [Loss::Squared, Loss::Huber { delta: 0.1 }, Loss::LogCosh] {
        for kind in 0..3 {
            let update = match kind {
                0 => ResidualUpdate::Keep,
                1 => ResidualUpdate::FromStep { p: p.as_ref(), eta },
                _ => ResidualUpdate::FromProduct { q: q.as_ref(), eta },
            };
            let (mut rw, mut dw, mut gw) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
            let sw = Reference.sweep(x.view(), update, rw.as_mut(), &loss, dw.as_mut(), gw.as_mut());
            let nan = T::from_f64(f64::NAN);
            let mut rg = Stored::new(r0.as_ref(), Layout::ColMajor);
            let mut dg = Stored::new(Mat::from_fn(n, k, |_, _| nan).as_ref(), Layout::Padded);
            let mut gg = Stored::new(Mat::from_fn(d, k, |_, _| nan).as_ref(), Layout::RowMajor);
            let sg = b.sweep(x.view(), update, rg.view_mut(), &loss, dg.view_mut(), gg.view_mut());
            let what = format!("{b:?}, n={n} d={d} k={k}, X {lx:?}, {loss}, update #{kind}");
            assert!(rel_diff(rg.view(), rw.as_ref()) <= tol, "R: {what}");
            assert!(rel_diff(dg.view(), dw.as_ref()) <= tol, "D: {what}");
            assert!(rel_diff(gg.view(), gw.as_ref()) <= tol, "G: {what}");
            assert!((sg.loss - sw.loss).abs() <= tol * sw.loss.abs(), "loss: {what}");
            assert!((sg.r_norm2 - sw.r_norm2).abs() <= tol * sw.r_norm2.abs(), "‖R‖²: {what}");
        }
    }
}

#[test]
fn large_sweeps_match_reference_f64() {
    // n·d·k = 1 200 000 > the default parallel threshold (2²⁰); 1200 rows
    // of d = 500 make several row blocks per thread. 97 rows of d = 2100
    // make several blocks of 16 rows on one thread.
    for (i, &lx) in LAYOUTS.iter().enumerate() {
        for b in [FaerBackend::new(1), FaerBackend::new(2), FaerBackend::new(3)] {
            check::<f64>(&b, 1200, 500, 2, lx, 1e-12);
            check::<f64>(&b, 97 + i, 2100, 1, lx, 1e-12);
        }
    }
}

#[test]
fn large_sweeps_match_reference_f32() {
    for &lx in &LAYOUTS {
        for b in [FaerBackend::new(1), FaerBackend::new(2)] {
            check::<f32>(&b, 1200, 500, 2, lx, 1e-5);
        }
    }
}

/// The same sweep twice with two threads gives bit-identical results: the
/// partial gradients are added in a fixed order.
#[test]
fn parallel_sweep_is_deterministic() {
    let b = FaerBackend::new(2);
    let x = mat::<f64>(1600, 400, 7);
    let p = mat::<f64>(400, 3, 8);
    let run = || {
        let (mut r, mut d, mut g) = (mat::<f64>(1600, 3, 9), Mat::zeros(1600, 3), Mat::zeros(400, 3));
        let s = b.sweep(x.as_ref(), ResidualUpdate::FromStep { p: p.as_ref(), eta: 0.5 }, r.as_mut(), &Loss::LogCosh, d.as_mut(), g.as_mut());
        (s, r, d, g)
    };
    let (a, b2) = (run(), run());
    assert_eq!(a.0, b2.0);
    assert_eq!(a.1, b2.1);
    assert_eq!(a.2, b2.2);
    assert_eq!(a.3, b2.3);
}

/// The small-k path (FromStep, 1 ≤ k ≤ 4, X with contiguous rows of at least
/// 16 KiB) and the
/// faer path just past it (k = 5): row counts that leave a partial group of
/// 4 rows, d that is not a multiple of 8 lanes, 1 to 3 threads (chunks of
/// unequal sizes), every X layout (column-major X takes the faer path).
#[test]
fn small_k_sweeps_match_reference() {
    for (i, &lx) in LAYOUTS.iter().enumerate() {
        for b in [FaerBackend::new(1), FaerBackend::new(2), FaerBackend::new(3)] {
            let b = b.with_min_parallel_work(0);
            for k in 1..=5 {
                check::<f64>(&b, 103 + i, 2053, k, lx, 1e-12);
                check::<f32>(&b, 37, 4105 + 8 * i, k, lx, 1e-5);
            }
            check::<f64>(&b, 2, 2051, 4, lx, 1e-12);
        }
    }
}

/// k ≥ 32 (large blocks) with rows that do not divide evenly into blocks
/// or chunks.
#[test]
fn large_k_sweeps_match_reference() {
    for b in [FaerBackend::new(1), FaerBackend::new(2)] {
        check::<f64>(&b, 301, 97, 40, Layout::RowMajor, 1e-12);
        check::<f32>(&b, 301, 97, 40, Layout::Padded, 1e-4);
    }
}
