//! The O(size) operations at n·k ≈ 10⁵ (where f32 sums must stay within 1e-5
//! of the reference's f64 sums), every layout, every level, against the
//! reference backend.
use dspgd_backend::conformance::{rel_diff, separable_preconds, Layout, Stored, LAYOUTS};
use dspgd_backend::{Backend, Loss, Mat, Reference, Scalar, Step};
use dspgd_simd::{Level, SimdBackend, SimdScalar};

fn mat<T: Scalar>(r: usize, c: usize, seed: u64, scale: f64) -> Mat<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Mat::from_fn(r, c, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        T::from_f64(scale * ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5))
    })
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }
}

fn check<T: SimdScalar>(m: usize, k: usize, tol: f64)
where
    SimdBackend: Backend<T>,
{
    let g0 = mat::<T>(m, k, 11, 4.0);
    let h0 = mat::<T>(m, k, 12, 4.0);
    let w0 = mat::<T>(m, k, 13, 1.0);
    let p0 = mat::<T>(m, k, 14, 1.0);
    let phi = mat::<T>(k, k, 15, 1.0);
    let seps = separable_preconds();
    let losses = [Loss::Squared, Loss::Huber { delta: 0.5 }, Loss::LogCosh, Loss::Lp { p: 3.0 }];
    for level in Level::available() {
        let b = SimdBackend::with_level(level, 1).unwrap();
        for (li, &lay) in LAYOUTS.iter().enumerate() {
            let tag = |op: &str| format!("{} {level} {m}x{k} {lay:?}: {op}", T::NAME);
            let g = Stored::new(g0.as_ref(), lay);
            let h = Stored::new(h0.as_ref(), LAYOUTS[(li + 1) % 4]);
            for loss in &losses {
                let (mut dw, mut dg) = (Mat::zeros(m, k), Stored::new(Mat::<T>::zeros(m, k).as_ref(), LAYOUTS[(li + 2) % 4]));
                let sw = Reference.loss_grad(g.view(), loss, dw.as_mut());
                let sg = b.loss_grad(g.view(), loss, dg.view_mut());
                assert!(rel_diff(dg.view(), dw.as_ref()) <= tol, "{}", tag(&format!("loss_grad D {loss}")));
                assert!(rel(sg.loss, sw.loss) <= tol, "{}: {} vs {}", tag(&format!("loss_grad loss {loss}")), sg.loss, sw.loss);
                assert!(rel(sg.r_norm2, sw.r_norm2) <= tol, "{}", tag("loss_grad ‖R‖²"));
                let eta = T::from_f64(0.3);
                let (a, r) = (b.loss_along(g.view(), h.view(), eta, loss), Reference.loss_along(g.view(), h.view(), eta, loss));
                assert!(rel(a, r) <= tol, "{}: {a} vs {r}", tag(&format!("loss_along {loss}")));
            }
            let (a, r) = (b.dot(g.view(), h.view()), Reference.dot(g.view(), h.view()));
            // A dot product of independent vectors cancels: compare with the scale of its terms.
            let scale = (Reference.dot(g.view(), g.view()) * Reference.dot(h.view(), h.view())).sqrt();
            assert!((a - r).abs() <= tol * scale, "{}: {a} vs {r}", tag("dot"));
            let (mut gw, mut gg) = (vec![0.0; k * k], vec![0.0; k * k]);
            let nw = Reference.grad_stats(g.view(), Some(&mut gw));
            let ng = b.grad_stats(g.view(), Some(&mut gg));
            assert!(rel(ng, nw) <= tol, "{}", tag("‖G‖²"));
            let diff: f64 = gw.iter().zip(&gg).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
            let norm: f64 = gw.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!(diff <= tol * norm, "{}: {:.3e}", tag("GᵀG"), diff / norm);
            let mut yw = w0.clone();
            Reference.axpy(yw.as_mut(), T::from_f64(-0.7), g.view());
            let mut yg = Stored::new(w0.as_ref(), LAYOUTS[(li + 3) % 4]);
            b.axpy(yg.view_mut(), T::from_f64(-0.7), g.view());
            assert!(rel_diff(yg.view(), yw.as_ref()) <= tol, "{}", tag("axpy"));
            let mut steps: Vec<(String, Step<'_, T>)> = vec![("scale".into(), Step::Scale(T::from_f64(0.8))), ("right".into(), Step::Right(phi.as_ref()))];
            steps.extend(seps.iter().map(|pc| (pc.to_string(), Step::Separable(pc))));
            for (name, step) in steps {
                let eta = T::from_f64(0.25);
                let (mut ww, mut pw) = (w0.clone(), p0.clone());
                Reference.precond_update(g.view(), step, eta, ww.as_mut(), pw.as_mut());
                let mut wg = Stored::new(w0.as_ref(), LAYOUTS[(li + 1) % 4]);
                let mut pg = Stored::new(p0.as_ref(), LAYOUTS[(li + 2) % 4]);
                b.precond_update(g.view(), step, eta, wg.view_mut(), pg.view_mut());
                assert!(rel_diff(wg.view(), ww.as_ref()) <= tol, "{}", tag(&format!("precond_update W {name}")));
                assert!(rel_diff(pg.view(), pw.as_ref()) <= tol, "{}", tag(&format!("precond_update P {name}")));
            }
        }
    }
}

#[test]
fn large_elementwise_f32() {
    for (m, k) in [(100_003, 1), (25_001, 4), (7_001, 13), (3_001, 33)] {
        check::<f32>(m, k, 1e-5);
    }
}

#[test]
fn large_elementwise_f64() {
    for (m, k) in [(100_003, 1), (25_001, 4), (7_001, 13), (3_001, 33)] {
        check::<f64>(m, k, 1e-12);
    }
}

/// P = G·Φ (and W −= ηP) with G, W and P all column-major (the primal
/// solver's layout, run by columns) gives bitwise what all row-major gives
/// (run by rows), at every level; both match the reference.
fn right_step_by_columns<T: SimdScalar>(m: usize, k: usize, tol: f64)
where
    SimdBackend: Backend<T>,
{
    let g0 = mat::<T>(m, k, 21, 4.0);
    let w0 = mat::<T>(m, k, 22, 1.0);
    let p0 = mat::<T>(m, k, 23, 1.0);
    let phi = mat::<T>(k, k, 24, 1.0);
    let eta = T::from_f64(0.25);
    let (mut ww, mut pw) = (w0.clone(), p0.clone());
    Reference.precond_update(g0.as_ref(), Step::Right(phi.as_ref()), eta, ww.as_mut(), pw.as_mut());
    for level in Level::available() {
        let b = SimdBackend::with_level(level, 1).unwrap();
        let run = |lay: Layout| {
            let g = Stored::new(g0.as_ref(), lay);
            let (mut w, mut p) = (Stored::new(w0.as_ref(), lay), Stored::new(p0.as_ref(), lay));
            b.precond_update(g.view(), Step::Right(phi.as_ref()), eta, w.view_mut(), p.view_mut());
            (w.view().to_owned(), p.view().to_owned())
        };
        let (rows, cols) = (run(Layout::RowMajor), run(Layout::ColMajor));
        let bits = |m: &Mat<T>| m.as_slice().iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
        let what = format!("{} {level} {m}x{k}", T::NAME);
        assert!(bits(&rows.0) == bits(&cols.0), "{what}: W differs between the layouts");
        assert!(bits(&rows.1) == bits(&cols.1), "{what}: P differs between the layouts");
        assert!(rel_diff(cols.0.as_ref(), ww.as_ref()) <= tol, "{what}: W off the reference");
        assert!(rel_diff(cols.1.as_ref(), pw.as_ref()) <= tol, "{what}: P off the reference");
    }
}

#[test]
fn right_step_by_columns_is_bitwise_by_rows() {
    for (m, k) in [(7_001, 13), (3_001, 33), (1_000, 2)] {
        right_step_by_columns::<f64>(m, k, 1e-12);
        right_step_by_columns::<f32>(m, k, 1e-5);
    }
}

/// ⟨G, G⟩ (each vector loaded once) is bitwise ⟨G, copy of G⟩.
#[test]
fn dot_of_a_matrix_with_itself_is_bitwise_the_general_dot() {
    for (m, k) in [(100_003, 1), (3_001, 33)] {
        let g = mat::<f32>(m, k, 31, 4.0);
        let h = g.clone();
        let g64 = mat::<f64>(m, k, 32, 4.0);
        let h64 = g64.clone();
        for level in Level::available() {
            let b = SimdBackend::with_level(level, 1).unwrap();
            assert_eq!(b.dot(g.as_ref(), g.as_ref()).to_bits(), b.dot(g.as_ref(), h.as_ref()).to_bits(), "f32 {level} {m}x{k}");
            assert_eq!(b.dot(g64.as_ref(), g64.as_ref()).to_bits(), b.dot(g64.as_ref(), h64.as_ref()).to_bits(), "f64 {level} {m}x{k}");
        }
    }
}
