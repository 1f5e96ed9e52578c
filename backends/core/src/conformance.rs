//! The conformance kit: every operation of a [`Backend`] against the
//! [`Reference`] backend, on hostile shapes (0, 1, 7, 8, 9, 63, 64, 65,
//! primes) and layouts (row-major, column-major, padded rows, transposed
//! storage), for every loss and every kind of step.
//!
//! A backend crate calls [`check`] from its tests:
//!
//! ```
//! use dspgd_backend::{conformance, Reference};
//! conformance::check::<f64>(&Reference, conformance::default_tol::<f64>()).unwrap();
//! ```

use crate::backend::{Backend, ResidualUpdate, Step};
use crate::rng::Rng;
use crate::{Loss, Mat, MatMut, MatRef, Precond, Reference, Scalar};

/// The tolerance of SPEC/issue 3: 1e-12 relative in f64, 1e-5 in f32.
pub fn default_tol<T: Scalar>() -> f64 {
    if T::NAME == "f64" {
        1e-12
    } else {
        1e-5
    }
}

/// The sizes the kit walks through.
pub const SIZES: &[usize] = &[0, 1, 2, 7, 8, 9, 13, 31, 63, 64, 65, 97];

/// Memory layouts of an input matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Packed row-major.
    RowMajor,
    /// Packed column-major.
    ColMajor,
    /// Row-major with 3 padding elements after each row.
    Padded,
    /// Stored as the transpose (row-major), viewed through `transpose()`.
    Transposed,
}

/// All layouts.
pub const LAYOUTS: [Layout; 4] = [Layout::RowMajor, Layout::ColMajor, Layout::Padded, Layout::Transposed];

/// Storage for one matrix in a given layout; padding is filled with NaN so a
/// backend that reads it is caught.
pub struct Stored<T> {
    data: Vec<T>,
    nrows: usize,
    ncols: usize,
    rs: usize,
    cs: usize,
}

impl<T: Scalar> Stored<T> {
    /// Copies `m` into the layout.
    pub fn new(m: MatRef<'_, T>, layout: Layout) -> Self {
        let (r, c) = m.shape();
        let (rs, cs, len) = match layout {
            Layout::RowMajor => (c.max(1), 1, r * c),
            Layout::ColMajor | Layout::Transposed => (1, r.max(1), r * c),
            Layout::Padded => (c + 3, 1, r * (c + 3)),
        };
        let mut data = vec![T::from_f64(f64::NAN); len];
        for i in 0..r {
            for j in 0..c {
                data[i * rs + j * cs] = m.at(i, j);
            }
        }
        Self { data, nrows: r, ncols: c, rs, cs }
    }
    /// An immutable view.
    pub fn view(&self) -> MatRef<'_, T> {
        MatRef::from_strided(&self.data, self.nrows, self.ncols, self.rs, self.cs).expect("valid layout")
    }
    /// A mutable view.
    pub fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut::from_strided(&mut self.data, self.nrows, self.ncols, self.rs, self.cs).expect("valid layout")
    }
    /// The logical matrix, row-major.
    pub fn to_mat(&self) -> Mat<T> {
        self.view().to_owned()
    }
}

/// A deterministic pseudo-random r×c matrix with entries in [−0.5, 0.5)
/// (xorshift from `seed`), the backends' shared test input.
pub fn pseudo_random<T: Scalar>(r: usize, c: usize, seed: u64) -> Mat<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Mat::from_fn(r, c, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        T::from_f64((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
    })
}

/// ‖a − b‖/‖b‖ in f64 (absolute when b = 0).
pub fn rel_diff<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    let nb = crate::norm_fro(b);
    let nd = crate::view::norm_fro_diff(a, b);
    if nb > 0.0 {
        nd / nb
    } else {
        nd
    }
}

fn rel_scalar(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }
}

struct Kit<'a, T: Scalar> {
    b: &'a dyn Backend<T>,
    tol: f64,
    checks: usize,
}

impl<T: Scalar> Kit<'_, T> {
    fn cmp(&mut self, what: impl Fn() -> String, got: MatRef<'_, T>, want: MatRef<'_, T>) -> Result<(), String> {
        self.checks += 1;
        let e = rel_diff(got, want);
        if e <= self.tol {
            Ok(())
        } else {
            Err(format!("{}: {} differs from reference by {e:.3e} relative (tolerance {:.0e})", what(), self.b.name(), self.tol))
        }
    }
    /// |got − want| relative to `scale`, a bound on the size of the terms.
    fn cmp_on_scale(&mut self, what: impl Fn() -> String, got: f64, want: f64, scale: f64) -> Result<(), String> {
        self.checks += 1;
        let e = if got == want { 0.0 } else { (got - want).abs() / scale.max(f64::MIN_POSITIVE) };
        if e <= self.tol {
            Ok(())
        } else {
            Err(format!("{}: {} gives {got:e}, reference {want:e} ({e:.3e} relative to {scale:e})", what(), self.b.name()))
        }
    }
    fn cmp_scalar(&mut self, what: impl Fn() -> String, got: f64, want: f64) -> Result<(), String> {
        self.checks += 1;
        let e = rel_scalar(got, want);
        if e <= self.tol {
            Ok(())
        } else {
            Err(format!("{}: {} gives {got:e}, reference {want:e} ({e:.3e} relative)", what(), self.b.name()))
        }
    }
}

fn scaled<T: Scalar>(rng: &mut Rng, r: usize, c: usize, s: f64) -> Mat<T> {
    Mat::from_fn(r, c, |_, _| T::from_f64(s * rng.normal()))
}

/// The losses the kit runs.
pub fn losses() -> Vec<Loss> {
    vec![Loss::Squared, Loss::Huber { delta: 0.5 }, Loss::LogCosh, Loss::Lp { p: 3.0 }]
}

/// The separable preconditioners the kit runs.
pub fn separable_preconds() -> Vec<Precond> {
    vec![Precond::Sign, Precond::Adam { eps: 0.1 }, Precond::EClip { tau: 0.5 }, Precond::Lp { p: 3.0 }, Precond::Lp { p: 2.0 }]
}

/// Runs the whole kit against [`Reference`]; returns the number of checks,
/// or a message naming the first operation, shape and layout that differ by
/// more than `tol` (relative, Frobenius).
///
/// # Errors
/// The first mismatch found.
pub fn check<T: Scalar>(backend: &dyn Backend<T>, tol: f64) -> Result<usize, String> {
    let mut kit = Kit { b: backend, tol, checks: 0 };
    let mut rng = Rng::new(0xD5_96D);
    check_gemm(&mut kit, &mut rng)?;
    check_syrk(&mut kit, &mut rng)?;
    check_sweep(&mut kit, &mut rng)?;
    check_elementwise(&mut kit, &mut rng)?;
    Ok(kit.checks)
}

fn check_gemm<T: Scalar>(kit: &mut Kit<'_, T>, rng: &mut Rng) -> Result<(), String> {
    let r = Reference;
    let mut shapes = vec![];
    for (i, &s) in SIZES.iter().enumerate() {
        shapes.push((s, 9, 7));
        shapes.push((13, s, 8));
        shapes.push((7, 65, s));
        shapes.push((s, SIZES[(i + 3) % SIZES.len()], SIZES[(i + 7) % SIZES.len()]));
    }
    for (idx, &(m, l, n)) in shapes.iter().enumerate() {
        for (v, &la) in LAYOUTS.iter().enumerate() {
            let lb = LAYOUTS[(v + idx) % 4];
            let lc = LAYOUTS[(v + 2 * idx + 1) % 4];
            let a = Stored::new(scaled::<T>(rng, m, l, 1.0).as_ref(), la);
            let b = Stored::new(scaled::<T>(rng, l, n, 1.0).as_ref(), lb);
            let c0 = scaled::<T>(rng, m, n, 1.0);
            for (beta, alpha) in [(0.0, 1.0), (0.5, -0.75)] {
                let (beta, alpha) = (T::from_f64(beta), T::from_f64(alpha));
                let mut want = c0.clone();
                r.gemm(want.as_mut(), beta, a.view(), b.view(), alpha);
                // β = 0 must ignore C's old contents: start from NaN.
                let init = if beta == T::ZERO { Mat::from_fn(m, n, |_, _| T::from_f64(f64::NAN)) } else { c0.clone() };
                let mut got = Stored::new(init.as_ref(), lc);
                kit.b.gemm(got.view_mut(), beta, a.view(), b.view(), alpha);
                kit.cmp(|| format!("gemm {m}x{l} * {l}x{n}, layouts {la:?}/{lb:?}/{lc:?}, beta {beta}"), got.view(), want.as_ref())?;
            }
        }
    }
    Ok(())
}

fn check_syrk<T: Scalar>(kit: &mut Kit<'_, T>, rng: &mut Rng) -> Result<(), String> {
    for (i, &m) in SIZES.iter().enumerate() {
        let l = SIZES[(i + 5) % SIZES.len()];
        for (v, &la) in LAYOUTS.iter().enumerate() {
            let lc = LAYOUTS[(v + i + 1) % 4];
            let a = Stored::new(scaled::<T>(rng, m, l, 1.0).as_ref(), la);
            let mut want = Mat::zeros(m, m);
            Reference.syrk(want.as_mut(), a.view());
            // C's old contents are ignored: start from NaN.
            let mut got = Stored::new(Mat::from_fn(m, m, |_, _| T::from_f64(f64::NAN)).as_ref(), lc);
            kit.b.syrk(got.view_mut(), a.view());
            kit.cmp(|| format!("syrk {m}x{l}, layouts {la:?}/{lc:?}"), got.view(), want.as_ref())?;
            let c = got.view();
            if (0..m).any(|r| (0..r).any(|s| c.at(r, s) != c.at(s, r))) {
                return Err(format!("syrk {m}x{l}, layouts {la:?}/{lc:?}: C is not exactly symmetric"));
            }
        }
    }
    Ok(())
}

fn check_sweep<T: Scalar>(kit: &mut Kit<'_, T>, rng: &mut Rng) -> Result<(), String> {
    let reference = Reference;
    let mut shapes = vec![];
    for &s in SIZES {
        shapes.push((s, 31, 2));
        shapes.push((9, s, 3));
        shapes.push((13, 17, s.min(17)));
    }
    shapes.push((64, 65, 1));
    shapes.push((65, 128, 16));
    for (idx, &(n, d, k)) in shapes.iter().enumerate() {
        let lx = LAYOUTS[idx % 4];
        let x = Stored::new(scaled::<T>(rng, n, d, 1.0).as_ref(), lx);
        let r0 = scaled::<T>(rng, n, k, 1.0);
        let p = Stored::new(scaled::<T>(rng, d, k, 1.0 / (d.max(1) as f64).sqrt()).as_ref(), LAYOUTS[(idx + 1) % 4]);
        let q = scaled::<T>(rng, n, k, 1.0);
        let eta = T::from_f64(0.3);
        for loss in losses() {
            for kind in 0..3 {
                let update = match kind {
                    0 => ResidualUpdate::Keep,
                    1 => ResidualUpdate::FromStep { p: p.view(), eta },
                    _ => ResidualUpdate::FromProduct { q: q.as_ref(), eta },
                };
                let (mut rw, mut dw, mut gw) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
                let sw = reference.sweep(x.view(), update, rw.as_mut(), &loss, dw.as_mut(), gw.as_mut());
                let lr = LAYOUTS[(idx + kind) % 4];
                let mut rg = Stored::new(r0.as_ref(), lr);
                let mut dg = Stored::new(Mat::from_fn(n, k, |_, _| T::from_f64(f64::NAN)).as_ref(), LAYOUTS[(idx + 2) % 4]);
                let mut gg = Stored::new(Mat::from_fn(d, k, |_, _| T::from_f64(f64::NAN)).as_ref(), LAYOUTS[(idx + 3) % 4]);
                let sg = kit.b.sweep(x.view(), update, rg.view_mut(), &loss, dg.view_mut(), gg.view_mut());
                let what = |o: &str| format!("sweep {o} (n={n}, d={d}, k={k}, X {lx:?}, update #{kind}, loss {loss})");
                kit.cmp(|| what("R"), rg.view(), rw.as_ref())?;
                kit.cmp(|| what("D"), dg.view(), dw.as_ref())?;
                kit.cmp(|| what("G"), gg.view(), gw.as_ref())?;
                kit.cmp_scalar(|| what("loss"), sg.loss, sw.loss)?;
                kit.cmp_scalar(|| what("‖R‖²"), sg.r_norm2, sw.r_norm2)?;
            }
        }
    }
    Ok(())
}

fn check_elementwise<T: Scalar>(kit: &mut Kit<'_, T>, rng: &mut Rng) -> Result<(), String> {
    let reference = Reference;
    let mut shapes: Vec<(usize, usize)> = SIZES.iter().map(|&s| (s, 3)).collect();
    shapes.extend(SIZES.iter().map(|&s| (37, s.min(20))));
    shapes.push((1000, 1));
    for (idx, &(m, k)) in shapes.iter().enumerate() {
        let lay = LAYOUTS[idx % 4];
        let g = Stored::new(scaled::<T>(rng, m, k, 1.0).as_ref(), lay);
        let h = Stored::new(scaled::<T>(rng, m, k, 1.0).as_ref(), LAYOUTS[(idx + 1) % 4]);
        let w0 = scaled::<T>(rng, m, k, 1.0);
        let p0 = scaled::<T>(rng, m, k, 1.0);
        let tag = |o: &str| format!("{o} ({m}x{k}, {lay:?})");

        // loss_grad and loss_along for every loss.
        for loss in losses() {
            let mut dw = Mat::zeros(m, k);
            let sw = reference.loss_grad(g.view(), &loss, dw.as_mut());
            let mut dg = Stored::new(Mat::from_fn(m, k, |_, _| T::from_f64(f64::NAN)).as_ref(), LAYOUTS[(idx + 2) % 4]);
            let sg = kit.b.loss_grad(g.view(), &loss, dg.view_mut());
            kit.cmp(|| tag(&format!("loss_grad D, {loss}")), dg.view(), dw.as_ref())?;
            kit.cmp_scalar(|| tag(&format!("loss_grad loss, {loss}")), sg.loss, sw.loss)?;
            kit.cmp_scalar(|| tag("loss_grad ‖R‖²"), sg.r_norm2, sw.r_norm2)?;
            let eta = T::from_f64(0.37);
            let a = kit.b.loss_along(g.view(), h.view(), eta, &loss);
            let b = reference.loss_along(g.view(), h.view(), eta, &loss);
            kit.cmp_scalar(|| tag(&format!("loss_along, {loss}")), a, b)?;
        }

        // grad_stats, dot, axpy.
        let mut gtg_w = vec![0.0; k * k];
        let mut gtg_g = vec![0.0; k * k];
        let nw = reference.grad_stats(g.view(), Some(&mut gtg_w));
        let ng = kit.b.grad_stats(g.view(), Some(&mut gtg_g));
        kit.cmp_scalar(|| tag("grad_stats ‖G‖²"), ng, nw)?;
        let ng2 = kit.b.grad_stats(g.view(), None);
        kit.cmp_scalar(|| tag("grad_stats ‖G‖² without GᵀG"), ng2, nw)?;
        let gw = Mat::from_row_major_vec(gtg_w.iter().map(|&v| T::from_f64(v)).collect(), k, k).expect("k×k");
        let gg = Mat::from_row_major_vec(gtg_g.iter().map(|&v| T::from_f64(v)).collect(), k, k).expect("k×k");
        kit.cmp(|| tag("grad_stats GᵀG"), gg.as_ref(), gw.as_ref())?;
        // A dot product's rounding error is bounded by γ·Σ|gᵢhᵢ| ≤ γ·‖G‖‖H‖
        // (not by its possibly cancelled value): compare on that scale.
        let scale = crate::norm_fro(g.view()) * crate::norm_fro(h.view());
        kit.cmp_on_scale(|| tag("dot"), kit.b.dot(g.view(), h.view()), reference.dot(g.view(), h.view()), scale)?;
        let mut yw = w0.clone();
        reference.axpy(yw.as_mut(), T::from_f64(-0.7), g.view());
        let mut yg = Stored::new(w0.as_ref(), LAYOUTS[(idx + 3) % 4]);
        kit.b.axpy(yg.view_mut(), T::from_f64(-0.7), g.view());
        kit.cmp(|| tag("axpy"), yg.view(), yw.as_ref())?;

        // precond_update for every kind of step.
        let phi = scaled::<T>(rng, k, k, 1.0);
        let seps = separable_preconds();
        let mut steps: Vec<(String, Step<'_, T>)> =
            vec![("scale".into(), Step::Scale(T::from_f64(0.8))), ("right".into(), Step::Right(phi.as_ref()))];
        steps.extend(seps.iter().map(|pc| (pc.to_string(), Step::Separable(pc))));
        for (name, step) in steps {
            for eta_prev in [0.0, 0.25] {
                let eta_prev = T::from_f64(eta_prev);
                let (mut ww, mut pw) = (w0.clone(), p0.clone());
                reference.precond_update(g.view(), step, eta_prev, ww.as_mut(), pw.as_mut());
                let mut wg = Stored::new(w0.as_ref(), LAYOUTS[(idx + 1) % 4]);
                let mut pg = Stored::new(p0.as_ref(), LAYOUTS[(idx + 2) % 4]);
                kit.b.precond_update(g.view(), step, eta_prev, wg.view_mut(), pg.view_mut());
                kit.cmp(|| tag(&format!("precond_update W, step {name}, eta_prev {eta_prev}")), wg.view(), ww.as_ref())?;
                kit.cmp(|| tag(&format!("precond_update P, step {name}, eta_prev {eta_prev}")), pg.view(), pw.as_ref())?;
                // The same step with P_prev in its own buffer and a new P whose old contents must not matter.
                let prev = Stored::new(p0.as_ref(), LAYOUTS[(idx + 3) % 4]);
                let mut wf = Stored::new(w0.as_ref(), LAYOUTS[(idx + 1) % 4]);
                let mut pf = Stored::new(w0.as_ref(), LAYOUTS[(idx + 2) % 4]);
                kit.b.precond_update_from(g.view(), step, eta_prev, prev.view(), wf.view_mut(), pf.view_mut());
                kit.cmp(|| tag(&format!("precond_update_from W, step {name}, eta_prev {eta_prev}")), wf.view(), ww.as_ref())?;
                kit.cmp(|| tag(&format!("precond_update_from P, step {name}, eta_prev {eta_prev}")), pf.view(), pw.as_ref())?;
            }
        }
    }
    Ok(())
}
