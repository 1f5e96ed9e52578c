//! Conversions between dspgd's matrices ([`MatRef`], [`Mat`]) and those of
//! other crates, each behind the feature of the same name:
//!
//! | module | feature | from | to |
//! |---|---|---|---|
//! | `faer` | `faer` (default) | `faer::MatRef`, `faer::Mat` | `faer::MatRef` (no copy), `faer::Mat` |
//! | `ndarray` | `ndarray` | `ArrayView2`, `Array2` | `ArrayView2` (no copy), `Array2` (no copy from a `Mat`) |
//! | `nalgebra` | `nalgebra` | `DMatrix`, `DMatrixView`, any dynamic view | `MatrixView` (no copy), `DMatrix` |
//! | slices | always | [`MatRef::from_row_major`], [`MatRef::from_col_major`], [`MatRef::from_strided`], [`Mat::from_row_major_vec`] | [`Mat::as_slice`], [`Mat::into_vec`] (row-major) |
//!
//! Every module has the same three ways in:
//!
//! - `view(m)`: a [`MatRef`] over the same memory, no copy, when the
//!   elements are *packed*: exactly `nrows·ncols` consecutive elements in
//!   row-major or column-major order. Otherwise it fails with
//!   [`NotPacked`]: a dspgd view is a safe slice plus strides, and a slice
//!   spanning the gaps of a strided view (memory the view does not own,
//!   possibly padding or another thread's data) cannot soundly be made.
//! - `view_or_copy(m)`: that view when it exists, a row-major copy
//!   otherwise, as a [`MatCow`]; pass `.as_ref()` to [`crate::solve`].
//! - `to_mat(m)`: always a row-major copy.
//!
//! A copy of X costs one pass over it, less than one DSPGD iteration, so
//! `view_or_copy` is the convenient default.
//!
//! Going out, a [`MatRef`] (for example `solution.w.as_ref()`) becomes the
//! other crate's view without a copy, or an owned matrix by a copy.

#[cfg(feature = "faer")]
pub mod faer;
#[cfg(feature = "nalgebra")]
pub mod nalgebra;
#[cfg(feature = "ndarray")]
pub mod ndarray;

use crate::{Mat, MatRef};
use core::fmt;

/// A view that would need a copy: its elements are not packed in row- or
/// column-major order (or a stride is negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPacked {
    /// Rows of the matrix.
    pub nrows: usize,
    /// Columns of the matrix.
    pub ncols: usize,
    /// Its row stride, in elements.
    pub row_stride: isize,
    /// Its column stride, in elements.
    pub col_stride: isize,
}

impl fmt::Display for NotPacked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {}x{} matrix with strides ({}, {}) is not packed in row- or column-major order, so it cannot be viewed without a copy; use view_or_copy or to_mat",
            self.nrows, self.ncols, self.row_stride, self.col_stride
        )
    }
}

impl std::error::Error for NotPacked {}

/// How the elements of a strided matrix lie in memory, when packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // with no interop feature on, nothing asks
pub(crate) enum Packed {
    /// Row after row (also: empty, one element, one row or one column with unit stride).
    RowMajor,
    /// Column after column.
    ColMajor,
}

/// Whether an `nrows × ncols` matrix with these element strides is packed.
#[allow(dead_code)] // with no interop feature on, nothing asks
pub(crate) fn packed(nrows: usize, ncols: usize, rs: isize, cs: isize) -> Option<Packed> {
    if nrows.saturating_mul(ncols) <= 1 {
        return Some(Packed::RowMajor);
    }
    let is = |s: isize, v: usize| isize::try_from(v).is_ok_and(|v| s == v);
    if (ncols == 1 || cs == 1) && (nrows == 1 || is(rs, ncols)) {
        Some(Packed::RowMajor)
    } else if (nrows == 1 || rs == 1) && (ncols == 1 || is(cs, nrows)) {
        Some(Packed::ColMajor)
    } else {
        None
    }
}

/// A view over a packed slice in the given order.
#[allow(dead_code)] // with no interop feature on, nothing asks
pub(crate) fn from_packed<T: Copy>(data: &[T], nrows: usize, ncols: usize, order: Packed) -> MatRef<'_, T> {
    let v = match order {
        Packed::RowMajor => MatRef::from_row_major(data, nrows, ncols),
        Packed::ColMajor => MatRef::from_col_major(data, nrows, ncols),
    };
    v.expect("a packed slice holds exactly nrows·ncols elements")
}

/// Strides for a view of `m` in a crate that multiplies every stride by
/// its dimension: on an axis with at most one element the stride is never
/// used, and is reported as 0 (it may be anything in a [`MatRef`]).
#[allow(dead_code)] // with no interop feature on, nothing asks
pub(crate) fn used_strides<T: Copy>(m: MatRef<'_, T>) -> (usize, usize) {
    let rs = if m.nrows() <= 1 { 0 } else { m.row_stride() };
    let cs = if m.ncols() <= 1 { 0 } else { m.col_stride() };
    (rs, cs)
}

/// A matrix borrowed without a copy when possible, owned otherwise: what
/// the `view_or_copy` functions return. [`MatCow::as_ref`] is what
/// [`crate::solve`] takes.
#[derive(Clone)]
pub enum MatCow<'a, T> {
    /// The caller's memory, viewed in place.
    Borrowed(MatRef<'a, T>),
    /// A row-major copy.
    Owned(Mat<T>),
}

impl<'a, T: Copy + Default> MatCow<'a, T> {
    /// The matrix as a view.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        match self {
            MatCow::Borrowed(v) => *v,
            MatCow::Owned(m) => m.as_ref(),
        }
    }
    /// True when no copy was made.
    pub fn is_borrowed(&self) -> bool {
        matches!(self, MatCow::Borrowed(_))
    }
    /// An owned matrix (copies a borrowed view).
    pub fn into_owned(self) -> Mat<T> {
        match self {
            MatCow::Borrowed(v) => v.to_owned(),
            MatCow::Owned(m) => m,
        }
    }
    /// (rows, columns).
    pub fn shape(&self) -> (usize, usize) {
        self.as_ref().shape()
    }
}

impl<T: Copy + Default> fmt::Debug for MatCow<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatCow::Borrowed(v) => write!(f, "MatCow::Borrowed({}x{})", v.nrows(), v.ncols()),
            MatCow::Owned(m) => write!(f, "MatCow::Owned({}x{})", m.nrows(), m.ncols()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_orders() {
        assert_eq!(packed(0, 5, 7, 3), Some(Packed::RowMajor));
        assert_eq!(packed(1, 1, -4, 9), Some(Packed::RowMajor));
        assert_eq!(packed(2, 3, 3, 1), Some(Packed::RowMajor));
        assert_eq!(packed(2, 3, 1, 2), Some(Packed::ColMajor));
        assert_eq!(packed(2, 3, 4, 1), None); // padded rows
        assert_eq!(packed(2, 3, 1, 8), None); // padded columns (faer)
        assert_eq!(packed(2, 3, -3, 1), None);
        assert_eq!(packed(1, 4, 100, 1), Some(Packed::RowMajor));
        assert_eq!(packed(4, 1, 1, 100), Some(Packed::RowMajor));
        assert_eq!(packed(4, 1, 2, 1), None);
        assert_eq!(packed(1, 4, 1, -1), None);
    }

    #[test]
    fn cow() {
        let data = [1.0, 2.0, 3.0, 4.0];
        let b = MatCow::Borrowed(MatRef::from_row_major(&data, 2, 2).unwrap());
        assert!(b.is_borrowed());
        assert_eq!(b.shape(), (2, 2));
        assert_eq!(b.clone().into_owned().as_slice(), &data);
        let o: MatCow<'_, f64> = MatCow::Owned(Mat::zeros(1, 3));
        assert!(!o.is_borrowed());
        assert_eq!(format!("{o:?}"), "MatCow::Owned(1x3)");
    }
}
