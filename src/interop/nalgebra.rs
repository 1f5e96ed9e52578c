//! Conversions from and to `nalgebra` matrices (feature `nalgebra`).
//!
//! nalgebra is column-major: a `DMatrix` is always packed and becomes a
//! dspgd view without a copy ([`view`], [`view_dmatrix`]); so does a
//! `DMatrixView` of whole columns. A view of a sub-block (its columns do
//! not follow each other) is copied by [`view_or_copy`]. Going out, any
//! [`MatRef`] becomes a nalgebra view without a copy ([`as_nalgebra`]), or
//! a `DMatrix` by a copy ([`to_dmatrix`]).
//!
//! ```
//! use dspgd::interop::nalgebra::{to_dmatrix, view_dmatrix};
//! use dspgd::{solve, Options};
//! use nalgebra::DMatrix;
//!
//! // Your data in nalgebra matrices (here random, of full row rank).
//! let (g, h) = dspgd::synthetic::gaussian_problem::<f64>(8, 32, 1, 1);
//! let x = DMatrix::<f64>::from_fn(8, 32, |i, j| g.at(i, j));
//! let y = DMatrix::<f64>::from_fn(8, 1, |i, j| h.at(i, j));
//! let sol = solve(view_dmatrix(&x), view_dmatrix(&y), None, &Options::default())?;
//! let w = to_dmatrix(sol.w.as_ref()); // 32×1
//! assert!((&x * &w - &y).norm() <= 1e-8 * y.norm());
//! # Ok::<(), dspgd::Error>(())
//! ```

use super::{from_packed, packed, used_strides, MatCow, NotPacked};
use crate::{Mat, MatRef};
use ::nalgebra::storage::RawStorage;
use ::nalgebra::{DMatrix, Dyn, Matrix, MatrixView, Scalar};

/// A dspgd view of a `DMatrix`, without a copy (always possible: a
/// `DMatrix` is packed column-major).
pub fn view_dmatrix<T: Scalar + Copy>(m: &DMatrix<T>) -> MatRef<'_, T> {
    MatRef::from_col_major(m.as_slice(), m.nrows(), m.ncols()).expect("a DMatrix holds nrows·ncols elements")
}

/// A dspgd view of the same memory as `m` (a `DMatrix`, a `DMatrixView`,
/// any dynamically sized matrix), without a copy.
///
/// # Errors
/// [`NotPacked`] when the elements of `m` are not exactly `nrows·ncols`
/// consecutive elements in column- or row-major order (a view of a
/// sub-block, or with steps): use [`view_or_copy`] or [`to_mat`].
pub fn view<T, S>(m: &Matrix<T, Dyn, Dyn, S>) -> Result<MatRef<'_, T>, NotPacked>
where
    T: Scalar + Copy,
    S: RawStorage<T, Dyn, Dyn>,
{
    let (nrows, ncols) = m.shape();
    let (rs, cs) = m.strides();
    let (rs, cs) = (isize::try_from(rs).unwrap_or(isize::MAX), isize::try_from(cs).unwrap_or(isize::MAX));
    let order = packed(nrows, ncols, rs, cs).ok_or(NotPacked { nrows, ncols, row_stride: rs, col_stride: cs })?;
    let len = nrows * ncols;
    let data: &[T] = if len == 0 {
        &[]
    } else {
        // SAFETY: `m` is borrowed immutably for the lifetime of the result,
        // and its storage gives read access to each of its elements for as
        // long (an owned buffer, or a view whose own borrow outlives `m`).
        // `packed` checked that those elements are exactly the `len`
        // consecutive `T`s from `m.as_ptr()` (element (0, 0), non-null and
        // aligned for a non-empty matrix), so the slice borrows the
        // matrix's elements and nothing else.
        unsafe { core::slice::from_raw_parts(m.as_ptr(), len) }
    };
    Ok(from_packed(data, nrows, ncols, order))
}

/// A dspgd view of `m` when it is packed ([`view`]), a row-major copy otherwise.
pub fn view_or_copy<T, S>(m: &Matrix<T, Dyn, Dyn, S>) -> MatCow<'_, T>
where
    T: Scalar + Copy + Default,
    S: RawStorage<T, Dyn, Dyn>,
{
    match view(m) {
        Ok(v) => MatCow::Borrowed(v),
        Err(_) => MatCow::Owned(to_mat(m)),
    }
}

/// A row-major copy of any dynamically sized nalgebra matrix or view.
pub fn to_mat<T, S>(m: &Matrix<T, Dyn, Dyn, S>) -> Mat<T>
where
    T: Scalar + Copy + Default,
    S: RawStorage<T, Dyn, Dyn>,
{
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
}

/// A nalgebra view of the same memory as `m`, without a copy.
pub fn as_nalgebra<T: Scalar + Copy>(m: MatRef<'_, T>) -> MatrixView<'_, T, Dyn, Dyn, Dyn, Dyn> {
    let (nrows, ncols) = m.shape();
    // nalgebra checks len + cs + rs ≥ ncols·cs + nrows·rs + 1, which an empty
    // matrix meets only with these strides.
    let (rs, cs) = match (nrows, ncols) {
        (0, _) => (1, 0),
        (_, 0) => (0, 1),
        _ => used_strides(m),
    };
    MatrixView::from_slice_with_strides_generic(m.as_slice(), Dyn(nrows), Dyn(ncols), Dyn(rs), Dyn(cs))
}

/// A `DMatrix` with the elements of `m` (a copy).
pub fn to_dmatrix<T: Scalar + Copy>(m: MatRef<'_, T>) -> DMatrix<T> {
    DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| m.at(i, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let a = DMatrix::<f64>::from_fn(4, 3, |i, j| (10 * i + j) as f64);
        let v = view_dmatrix(&a);
        assert_eq!(v.at(3, 2), 32.0);
        assert_eq!(v.as_slice().as_ptr(), a.as_ptr());
        assert_eq!(view(&a).unwrap().at(3, 2), 32.0);
        // Whole columns: packed.
        let cols = a.columns(1, 2);
        let vc = view(&cols).unwrap();
        assert_eq!((vc.shape(), vc.at(3, 1)), ((4, 2), 32.0));
        // A row-major view: packed.
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rm = MatrixView::<f64, Dyn, Dyn, Dyn, Dyn>::from_slice_with_strides_generic(&data, Dyn(2), Dyn(3), Dyn(3), Dyn(1));
        let vr = view(&rm).unwrap();
        assert_eq!((vr.at(1, 0), vr.row_stride(), vr.col_stride()), (4.0, 3, 1));
        // A sub-block: copied.
        let sub = a.view((1, 1), (2, 2));
        assert!(view(&sub).is_err());
        let c = view_or_copy(&sub);
        assert!(!c.is_borrowed());
        assert_eq!(c.as_ref().at(1, 1), 22.0);
        // Out again.
        let m = Mat::from_fn(3, 4, |i, j| (i * 4 + j) as f64);
        assert_eq!(as_nalgebra(m.as_ref())[(2, 3)], 11.0);
        assert_eq!(as_nalgebra(m.as_ref().transpose())[(3, 2)], 11.0);
        assert_eq!(to_dmatrix(m.as_ref())[(1, 2)], 6.0);
        let empty: Mat<f64> = Mat::zeros(0, 4);
        assert_eq!(as_nalgebra(empty.as_ref()).shape(), (0, 4));
        let e2: Mat<f64> = Mat::zeros(3, 0);
        assert_eq!(as_nalgebra(e2.as_ref()).shape(), (3, 0));
        assert_eq!(view(&DMatrix::<f64>::zeros(0, 2)).unwrap().shape(), (0, 2));
    }
}
