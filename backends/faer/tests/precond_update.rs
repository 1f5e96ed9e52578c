//! `precond_update` on a G large enough (d·k ≥ 2¹⁷) that the packed pass is
//! cut into bands across threads: every thread count gives the reference's
//! result, bit for bit (each element is computed on its own, the same way
//! whatever its band), for the scaled and the separable steps, with and
//! without moving W.
use dspgd_backend::{Backend, Mat, Precond, Reference, Scalar, Step};
use dspgd_faer::{FaerBackend, FaerScalar};

use dspgd_backend::conformance::pseudo_random as mat;

fn bits<T: Scalar>(m: &Mat<T>) -> Vec<u64> {
    m.as_slice().iter().map(|v| v.to_f64().to_bits()).collect()
}

fn check<T: FaerScalar>() {
    // 701 × 190 = 133 190 elements: above the threshold, not a multiple of
    // the thread counts.
    let (d, k) = (701, 190);
    let g = mat::<T>(d, k, 1);
    let adam = "adam:0.01".parse::<Precond>().unwrap();
    for (name, step) in [("scale", Step::Scale(T::from_f64(0.75))), ("sign", Step::Separable(&Precond::Sign)), ("adam", Step::Separable(&adam))] {
        for eta_prev in [0.0, 0.3] {
            let eta_prev = T::from_f64(eta_prev);
            let (mut w0, mut p0) = (mat::<T>(d, k, 2), mat::<T>(d, k, 3));
            Reference.precond_update(g.as_ref(), step, eta_prev, w0.as_mut(), p0.as_mut());
            for threads in [1, 2, 3] {
                let (mut w, mut p) = (mat::<T>(d, k, 2), mat::<T>(d, k, 3));
                FaerBackend::new(threads).precond_update(g.as_ref(), step, eta_prev, w.as_mut(), p.as_mut());
                assert!(bits(&p) == bits(&p0), "P: {name}, η_prev {eta_prev:?}, {threads} threads");
                assert!(bits(&w) == bits(&w0), "W: {name}, η_prev {eta_prev:?}, {threads} threads");
            }
        }
    }
}

#[test]
fn banded_pass_matches_reference_f64() {
    check::<f64>();
}

#[test]
fn banded_pass_matches_reference_f32() {
    check::<f32>();
}
