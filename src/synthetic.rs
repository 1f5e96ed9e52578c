//! Reproducible synthetic problems for demos, tests and benchmarks.

use dspgd_backend::rng::Rng;
use dspgd_backend::{Mat, Scalar};

/// A Gaussian overparameterized problem: X (n×d) with N(0, 1/d) entries (so
/// ‖X‖₂ ≈ 1 + √(n/d)), Y (n×k) with N(0, 1) entries, from a fixed seed. X has
/// full row rank with probability one when n ≤ d.
pub fn gaussian_problem<T: Scalar>(n: usize, d: usize, k: usize, seed: u64) -> (Mat<T>, Mat<T>) {
    let mut rng = Rng::new(seed);
    let s = 1.0 / (d.max(1) as f64).sqrt();
    let x = Mat::from_fn(n, d, |_, _| T::from_f64(s * rng.normal()));
    let y = rng.normal_mat(n, k);
    (x, y)
}

/// A d×k matrix of N(0, σ²) entries (e.g. a random W₀).
pub fn gaussian_matrix<T: Scalar>(nrows: usize, ncols: usize, sigma: f64, seed: u64) -> Mat<T> {
    let mut rng = Rng::new(seed);
    Mat::from_fn(nrows, ncols, |_, _| T::from_f64(sigma * rng.normal()))
}
