//! The fused sweep on shapes larger than the conformance kit's (n up to
//! 1000, d up to ~3000, k from 1 to 32, so that the four-row kernels, the
//! column groups of P, the vector tails and the parallel split all get
//! exercised), in every layout of X, R, D, G and P, at every level this CPU
//! has, against the reference backend.
use dspgd_backend::conformance::{rel_diff, Layout, Stored, LAYOUTS};
use dspgd_backend::{Backend, Loss, Mat, MatRef, Reference, ResidualUpdate, Scalar, SweepStats};
use dspgd_simd::{Level, SimdBackend, SimdScalar};

use dspgd_backend::conformance::pseudo_random as mat;

/// (n, d, k): every k of the small-k kernels and two beyond, every column
/// block width (k = 5, 6, 10, 13 = 5 + 4 + 4, 16 = 6 + 5 + 5, 17, 32), and in
/// f64 one X above the prefetch threshold (997 × 3001 × 8 bytes = 24 MB,
/// k = 2: the next block of rows is prefetched, the last one is short).
const SHAPES: &[(usize, usize, usize)] = &[
    (1000, 3000, 1),
    (997, 3001, 2),
    (503, 2999, 3),
    (500, 3000, 4),
    (301, 3003, 5),
    (180, 1501, 6),
    (250, 2048, 8),
    (211, 2003, 10),
    (150, 1999, 13),
    (130, 3000, 16),
    (97, 1025, 17),
    (64, 1500, 32),
];

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }
}

fn update_of<'a, T: Scalar>(kind: usize, p: MatRef<'a, T>, q: MatRef<'a, T>, eta: T) -> ResidualUpdate<'a, T> {
    match kind {
        0 => ResidualUpdate::Keep,
        1 => ResidualUpdate::FromStep { p, eta },
        _ => ResidualUpdate::FromProduct { q, eta },
    }
}

struct Case<T> {
    update: usize,
    loss: Loss,
    want: (SweepStats, Mat<T>, Mat<T>, Mat<T>),
}

fn check_shape<T: SimdScalar>(n: usize, d: usize, k: usize, tol: f64)
where
    SimdBackend: Backend<T>,
{
    let x = mat::<T>(n, d, 1);
    // P scaled so that X·P is of order 1.
    let p = Mat::from_fn(d, k, |i, j| T::from_f64(mat::<f64>(d, k, 2).at(i, j) * 4.0 / (d as f64).sqrt()));
    let q = mat::<T>(n, k, 3);
    let r0 = mat::<T>(n, k, 4);
    let eta = T::from_f64(0.7);
    // The reference once per (update, loss): it does not depend on layouts.
    let plan = [(1, Loss::Squared), (1, Loss::LogCosh), (1, Loss::Huber { delta: 0.2 }), (2, Loss::Huber { delta: 0.2 }), (0, Loss::Lp { p: 3.0 })];
    let cases: Vec<Case<T>> = plan
        .iter()
        .map(|&(update, loss)| {
            let (mut r, mut dm, mut g) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
            let s = Reference.sweep(x.as_ref(), update_of(update, p.as_ref(), q.as_ref(), eta), r.as_mut(), &loss, dm.as_mut(), g.as_mut());
            Case { update, loss, want: (s, r, dm, g) }
        })
        .collect();
    let nan = T::from_f64(f64::NAN);
    for level in Level::available() {
        for (threads, min_work) in [(1, usize::MAX), (2, 0), (3, 0)] {
            let b = SimdBackend::with_level(level, threads).expect("available").with_min_parallel_work(min_work);
            for (li, &lx) in LAYOUTS.iter().enumerate() {
                let xs = Stored::new(x.as_ref(), lx);
                let ps = Stored::new(p.as_ref(), LAYOUTS[(li + 1) % 4]);
                for (ci, case) in cases.iter().enumerate() {
                    let lr = LAYOUTS[(li + ci) % 4];
                    let mut rg = Stored::new(r0.as_ref(), lr);
                    let mut dg = Stored::new(Mat::from_fn(n, k, |_, _| nan).as_ref(), LAYOUTS[(li + ci + 1) % 4]);
                    let mut gg = Stored::new(Mat::from_fn(d, k, |_, _| nan).as_ref(), LAYOUTS[(li + ci + 2) % 4]);
                    let sg = b.sweep(xs.view(), update_of(case.update, ps.view(), q.as_ref(), eta), rg.view_mut(), &case.loss, dg.view_mut(), gg.view_mut());
                    let (sw, rw, dw, gw) = &case.want;
                    let what = format!(
                        "{} level {level}, {threads} threads, n={n} d={d} k={k}, X {lx:?}, R {lr:?}, update #{}, {}",
                        T::NAME,
                        case.update,
                        case.loss
                    );
                    let e = [
                        ("R", rel_diff(rg.view(), rw.as_ref())),
                        ("D", rel_diff(dg.view(), dw.as_ref())),
                        ("G", rel_diff(gg.view(), gw.as_ref())),
                        ("loss", rel(sg.loss, sw.loss)),
                        ("‖R‖²", rel(sg.r_norm2, sw.r_norm2)),
                    ];
                    for (name, err) in e {
                        assert!(err <= tol, "{name} off by {err:.3e} (tolerance {tol:.0e}): {what}");
                    }
                }
            }
        }
    }
}

#[test]
fn large_sweeps_match_reference_f64() {
    for &(n, d, k) in SHAPES {
        check_shape::<f64>(n, d, k, 1e-12);
    }
}

#[test]
fn large_sweeps_match_reference_f32() {
    for &(n, d, k) in SHAPES {
        check_shape::<f32>(n, d, k, 1e-5);
    }
}

/// The same parallel sweep twice gives bit-identical results (partial
/// gradients added in a fixed order), at every level.
#[test]
fn parallel_sweep_is_deterministic() {
    let (n, d, k) = (1600, 400, 3);
    let x = mat::<f64>(n, d, 7);
    let p = mat::<f64>(d, k, 8);
    for level in Level::available() {
        let b = SimdBackend::with_level(level, 2).unwrap().with_min_parallel_work(0);
        let run = || {
            let (mut r, mut dm, mut g) = (mat::<f64>(n, k, 9), Mat::zeros(n, k), Mat::zeros(d, k));
            let s = b.sweep(x.as_ref(), ResidualUpdate::FromStep { p: p.as_ref(), eta: 0.5 }, r.as_mut(), &Loss::LogCosh, dm.as_mut(), g.as_mut());
            (s, r, dm, g)
        };
        let (a, b2) = (run(), run());
        assert_eq!(a.0, b2.0, "{level}");
        assert!(a.1 == b2.1 && a.2 == b2.2 && a.3 == b2.3, "{level}: results differ between runs");
    }
}

/// Empty shapes: n = 0 gives G = 0; d = 0 leaves R as is (X·P = 0).
#[test]
fn empty_dimensions() {
    for level in Level::available() {
        let b = SimdBackend::with_level(level, 2).unwrap().with_min_parallel_work(0);
        let x = Mat::<f64>::zeros(0, 5);
        let p = mat::<f64>(5, 2, 1);
        let (mut r, mut dm, mut g) = (Mat::zeros(0, 2), Mat::zeros(0, 2), Mat::from_fn(5, 2, |_, _| f64::NAN));
        let s = b.sweep(x.as_ref(), ResidualUpdate::FromStep { p: p.as_ref(), eta: 1.0 }, r.as_mut(), &Loss::Squared, dm.as_mut(), g.as_mut());
        assert_eq!(s, SweepStats::default());
        assert!(g.as_slice().iter().all(|&v| v == 0.0), "{level}");
        let x = Mat::<f64>::zeros(40, 0);
        let p = Mat::<f64>::zeros(0, 3);
        let r0 = mat::<f64>(40, 3, 2);
        let (mut r, mut dm, mut g) = (r0.clone(), Mat::zeros(40, 3), Mat::zeros(0, 3));
        b.sweep(x.as_ref(), ResidualUpdate::FromStep { p: p.as_ref(), eta: 1.0 }, r.as_mut(), &Loss::Squared, dm.as_mut(), g.as_mut());
        assert!(r == r0 && dm == r0, "{level}");
    }
}

/// Layout sanity for the test itself: every layout is used for X.
#[test]
fn layouts_cover_all() {
    assert_eq!(LAYOUTS.len(), 4);
    assert!(LAYOUTS.contains(&Layout::Padded) && LAYOUTS.contains(&Layout::Transposed));
}

/// A tall X (n ≈ 10⁵ rows): G is a sum over 10⁵ rows, which in f32 must
/// still match the reference's f64 sums within 1e-5 (blocked summation).
#[test]
fn tall_sweep_f32_within_tolerance() {
    let (n, d, k) = (100_003, 37, 2);
    let x = mat::<f32>(n, d, 21);
    let p = mat::<f32>(d, k, 22);
    let r0 = Mat::from_fn(n, k, |i, j| 0.25 + 0.01 * ((i * 7 + j) % 13) as f32);
    for loss in [Loss::Squared, Loss::Huber { delta: 0.3 }] {
        let (mut rw, mut dw, mut gw) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
        let sw = Reference.sweep(x.as_ref(), ResidualUpdate::FromStep { p: p.as_ref(), eta: 0.1 }, rw.as_mut(), &loss, dw.as_mut(), gw.as_mut());
        for level in Level::available() {
            for threads in [1, 2] {
                let b = SimdBackend::with_level(level, threads).unwrap();
                let (mut r, mut dm, mut g) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
                let s = b.sweep(x.as_ref(), ResidualUpdate::FromStep { p: p.as_ref(), eta: 0.1 }, r.as_mut(), &loss, dm.as_mut(), g.as_mut());
                let what = format!("{level}, {threads} threads, {loss}");
                assert!(rel_diff(g.as_ref(), gw.as_ref()) <= 1e-5, "G {:.2e}: {what}", rel_diff(g.as_ref(), gw.as_ref()));
                assert!(rel_diff(r.as_ref(), rw.as_ref()) <= 1e-5, "R: {what}");
                assert!(rel(s.loss, sw.loss) <= 1e-5 && rel(s.r_norm2, sw.r_norm2) <= 1e-5, "stats: {what}");
            }
        }
    }
}
