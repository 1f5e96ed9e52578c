//! The minimum-distance interpolator W_GD = W₀ + Xᵀ(XXᵀ)⁻¹(Y − XW₀) (SPEC §4)
//! and the analysis of a limit against it. Computed in f64 by a Cholesky
//! solve of M = XXᵀ, never an explicit inverse; a rank-deficient X falls back
//! to the pseudo-inverse of M from its eigendecomposition.

use crate::backend_choice::{make_backend_for, Float, Workload};
use crate::error::Error;
use crate::options::BackendChoice;
use crate::problem::validate;
use crate::result::Analysis;
use dspgd_backend::sym_eig::sym_eig;
use dspgd_backend::{norm_fro, Backend, Mat, MatRef, Scalar};

/// M⁻¹ (or M⁺) applied to right-hand sides, for M = XXᵀ.
pub(crate) struct RowSpace {
    x: Mat<f64>,
    backend: Box<dyn Backend<f64>>,
    factor: Factor,
}

enum Factor {
    /// Lower Cholesky factor L (row-major n×n), M = LLᵀ.
    Cholesky(Mat<f64>),
    /// M⁺ = V diag(1/λ) Vᵀ over the eigenvalues above the rank threshold.
    Pinv(Mat<f64>),
}

impl RowSpace {
    pub fn new<T: Scalar>(x: MatRef<'_, T>) -> Self {
        let x: Mat<f64> = x.to_owned().cast();
        let w = Workload { n: x.nrows(), d: x.ncols(), k: 1, gram: true, elem_size: 8 };
        let backend = make_backend_for::<f64>(BackendChoice::Auto, 0, w).unwrap_or_else(|_| Box::new(dspgd_backend::Reference));
        let n = x.nrows();
        let mut m = Mat::zeros(n, n);
        backend.gemm(m.as_mut(), 0.0, x.as_ref(), x.as_ref().transpose(), 1.0);
        let factor = match cholesky(&m) {
            Some(l) => Factor::Cholesky(l),
            None => Factor::Pinv(pinv_sym(&m)),
        };
        Self { x, backend, factor }
    }

    /// Z = M⁻¹·B (n×k).
    fn solve_m(&self, rhs: &Mat<f64>) -> Mat<f64> {
        let n = rhs.nrows();
        let k = rhs.ncols();
        match &self.factor {
            Factor::Cholesky(l) => {
                let mut z = rhs.clone();
                for c in 0..k {
                    for i in 0..n {
                        let mut s = z.at(i, c);
                        for j in 0..i {
                            s -= l.at(i, j) * z.at(j, c);
                        }
                        *z.at_mut(i, c) = s / l.at(i, i);
                    }
                    for i in (0..n).rev() {
                        let mut s = z.at(i, c);
                        for j in (i + 1)..n {
                            s -= l.at(j, i) * z.at(j, c);
                        }
                        *z.at_mut(i, c) = s / l.at(i, i);
                    }
                }
                z
            }
            Factor::Pinv(mp) => {
                let mut z = Mat::zeros(n, k);
                self.backend.gemm(z.as_mut(), 0.0, mp.as_ref(), rhs.as_ref(), 1.0);
                z
            }
        }
    }

    /// X⁺X·V = Xᵀ M⁻¹ X V: the projection of V (d×k) onto range(Xᵀ).
    pub fn project(&self, v: &Mat<f64>) -> Mat<f64> {
        let b = &*self.backend;
        let mut xv = Mat::zeros(self.x.nrows(), v.ncols());
        b.gemm(xv.as_mut(), 0.0, self.x.as_ref(), v.as_ref(), 1.0);
        let z = self.solve_m(&xv);
        let mut out = Mat::zeros(v.nrows(), v.ncols());
        b.gemm(out.as_mut(), 0.0, self.x.as_ref().transpose(), z.as_ref(), 1.0);
        out
    }

    /// W_GD − W₀ = Xᵀ M⁻¹ (Y − X W₀).
    pub fn wgd_step(&self, y: &Mat<f64>, w0: &Mat<f64>) -> Mat<f64> {
        let b = &*self.backend;
        let mut r = y.clone();
        b.gemm(r.as_mut(), 1.0, self.x.as_ref(), w0.as_ref(), -1.0);
        let z = self.solve_m(&r);
        let mut out = Mat::zeros(w0.nrows(), w0.ncols());
        b.gemm(out.as_mut(), 0.0, self.x.as_ref().transpose(), z.as_ref(), 1.0);
        out
    }
}

/// Lower Cholesky factor, or `None` when a pivot is not clearly positive
/// (relative to the largest diagonal entry): X is then rank-deficient.
fn cholesky(m: &Mat<f64>) -> Option<Mat<f64>> {
    let n = m.nrows();
    let maxdiag = (0..n).map(|i| m.at(i, i)).fold(0.0f64, f64::max);
    let thr = maxdiag * (n as f64) * f64::EPSILON * 4.0;
    let mut l = Mat::<f64>::zeros(n, n);
    for j in 0..n {
        let mut s = m.at(j, j);
        for p in 0..j {
            s -= l.at(j, p) * l.at(j, p);
        }
        if s.is_nan() || s <= thr {
            return None;
        }
        let ljj = s.sqrt();
        *l.at_mut(j, j) = ljj;
        for i in (j + 1)..n {
            let mut s = m.at(i, j);
            for p in 0..j {
                s -= l.at(i, p) * l.at(j, p);
            }
            *l.at_mut(i, j) = s / ljj;
        }
    }
    Some(l)
}

/// Pseudo-inverse of a symmetric positive semidefinite matrix.
fn pinv_sym(m: &Mat<f64>) -> Mat<f64> {
    let n = m.nrows();
    let mut a = m.as_slice().to_vec();
    let mut vals = vec![0.0; n];
    let mut vecs = vec![0.0; n * n];
    sym_eig(&mut a, n, &mut vals, &mut vecs);
    let lmax = vals.iter().fold(0.0f64, |x, &y| x.max(y));
    let thr = lmax * (n as f64) * f64::EPSILON * 16.0;
    Mat::from_fn(n, n, |i, j| (0..n).filter(|&l| vals[l] > thr).map(|l| vecs[i * n + l] * vecs[j * n + l] / vals[l]).sum())
}

/// The interpolator nearest to W₀: W_GD = W₀ + X⁺(Y − XW₀) (SPEC §4), the
/// limit of plain gradient descent from W₀ and of every isotropic or
/// right-invariant K. `w0 = None` means zero. Computed in f64.
///
/// ```
/// use dspgd::{min_distance_interpolator, Mat};
/// let x = Mat::<f64>::from_row_major_vec(vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0], 2, 3).unwrap();
/// let y = Mat::from_row_major_vec(vec![2.0, 3.0], 2, 1).unwrap();
/// let w = min_distance_interpolator(x.as_ref(), y.as_ref(), None).unwrap();
/// // x₀ + x₂ = 2 is met by the smallest w: w₀ = w₂ = 1; x₁ = 3.
/// assert!((w.at(0, 0) - 1.0).abs() < 1e-12 && (w.at(1, 0) - 3.0).abs() < 1e-12 && (w.at(2, 0) - 1.0).abs() < 1e-12);
/// ```
///
/// # Errors
/// Shape mismatches and non-finite entries, as [`crate::solve`].
pub fn min_distance_interpolator<T: Float>(x: MatRef<'_, T>, y: MatRef<'_, T>, w0: Option<MatRef<'_, T>>) -> Result<Mat<T>, Error> {
    let dims = validate(x, y, w0)?;
    let rs = RowSpace::new(x);
    let w0: Mat<f64> = w0.map(|w| w.to_owned().cast()).unwrap_or_else(|| Mat::zeros(dims.d, dims.k));
    let mut w = rs.wgd_step(&y.to_owned().cast(), &w0);
    for (a, b) in w.as_mut_slice().iter_mut().zip(w0.as_slice()) {
        *a += b;
    }
    Ok(w.cast())
}

/// ρ, the row-space residual and the distance to W_GD of a solution `w` (SPEC §4.4).
pub(crate) fn analyze<T: Scalar>(x: MatRef<'_, T>, y: MatRef<'_, T>, w0: Option<MatRef<'_, T>>, w: &Mat<T>) -> Analysis {
    let rs = RowSpace::new(x);
    let (d, k) = w.shape();
    let w0: Mat<f64> = w0.map(|w| w.to_owned().cast()).unwrap_or_else(|| Mat::zeros(d, k));
    let step = rs.wgd_step(&y.to_owned().cast(), &w0); // W_GD − W₀
    let w: Mat<f64> = w.cast();
    let moved = Mat::from_fn(d, k, |i, j| w.at(i, j) - w0.at(i, j)); // W − W₀
    let proj = rs.project(&moved);
    let step_norm = step.norm_fro();
    let wgd = Mat::from_fn(d, k, |i, j| w0.at(i, j) + step.at(i, j));
    let dist = dspgd_backend::norm_fro_diff(w.as_ref(), wgd.as_ref());
    let safe = |num: f64, den: f64| if den > 0.0 { num / den } else { num };
    Analysis {
        rho: safe(moved.norm_fro(), step_norm),
        row_space_residual: safe(dspgd_backend::norm_fro_diff(proj.as_ref(), step.as_ref()), step_norm),
        dist_to_wgd: safe(dist, step_norm),
        rel_dist_to_wgd: safe(dist, norm_fro(wgd.as_ref())),
    }
}
