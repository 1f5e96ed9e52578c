//! Checking the data before anything runs (SPEC §8).

use crate::error::Error;
use dspgd_backend::{MatRef, Scalar};

/// The validated shapes of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Samples (rows of X).
    pub n: usize,
    /// Features (columns of X).
    pub d: usize,
    /// Outputs (columns of Y).
    pub k: usize,
}

/// Checks shapes and finiteness of X (n×d), Y (n×k) and W₀ (d×k).
///
/// # Errors
/// [`Error::Shape`] naming both shapes, or [`Error::NonFinite`] with the
/// position of the first NaN or ±∞.
pub fn validate<T: Scalar>(x: MatRef<'_, T>, y: MatRef<'_, T>, w0: Option<MatRef<'_, T>>) -> Result<Dims, Error> {
    let (n, d) = x.shape();
    let k = y.ncols();
    if n == 0 || d == 0 {
        return Err(Error::Shape { arg: "x", msg: format!("X is {n}x{d}; it needs at least one row and one column") });
    }
    if y.nrows() != n {
        return Err(Error::Shape {
            arg: "y",
            msg: format!("Y is {}x{} but X is {n}x{d}: Y needs one row per row of X ({n})", y.nrows(), y.ncols()),
        });
    }
    if k == 0 {
        return Err(Error::Shape { arg: "y", msg: format!("Y is {n}x0; it needs at least one column") });
    }
    if let Some(w0) = w0 {
        if w0.shape() != (d, k) {
            return Err(Error::Shape {
                arg: "w0",
                msg: format!(
                    "W0 is {}x{} but X is {n}x{d} and Y is {n}x{k}: W0 must be {d}x{k}",
                    w0.nrows(),
                    w0.ncols()
                ),
            });
        }
    }
    finite("x", x)?;
    finite("y", y)?;
    if let Some(w0) = w0 {
        finite("w0", w0)?;
    }
    Ok(Dims { n, d, k })
}

fn finite<T: Scalar>(arg: &'static str, m: MatRef<'_, T>) -> Result<(), Error> {
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            let v = m.at(i, j);
            if !v.is_finite() {
                return Err(Error::NonFinite { arg, row: i, col: j, value: v.to_f64() });
            }
        }
    }
    Ok(())
}
