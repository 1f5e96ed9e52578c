//! Conversions from and to `ndarray` arrays (feature `ndarray`).
//!
//! An `ArrayView2` in standard (C) or Fortran layout becomes a dspgd view
//! without a copy ([`view`]); other layouts (a sliced sub-block, a step,
//! negative strides) are copied by [`view_or_copy`]. A [`Mat`] becomes an
//! `Array2` without a copy ([`into_array`]), and any [`MatRef`] an
//! `ArrayView2` without a copy ([`as_array_view`]).
//!
//! ```
//! use dspgd::interop::ndarray::{into_array, view_or_copy};
//! use dspgd::{solve, Options};
//! use ndarray::Array2;
//!
//! // Your data in ndarray arrays (here random, of full row rank).
//! let (g, h) = dspgd::synthetic::gaussian_problem::<f64>(8, 32, 2, 1);
//! let x = Array2::from_shape_fn((8, 32), |(i, j)| g.at(i, j));
//! let y = Array2::from_shape_fn((8, 2), |(i, j)| h.at(i, j));
//! let sol = solve(view_or_copy(x.view()).as_ref(), view_or_copy(y.view()).as_ref(), None, &Options::default())?;
//! let w: Array2<f64> = into_array(sol.w); // (32, 2), no copy
//! let r = x.dot(&w) - &y;
//! assert!(r.iter().all(|v| v.abs() < 1e-8));
//! # Ok::<(), dspgd::Error>(())
//! ```

use super::{from_packed, used_strides, MatCow, NotPacked, Packed};
use crate::{Mat, MatRef};
use ::ndarray::{Array2, ArrayView2, ShapeBuilder};

/// A dspgd view of the same memory as `a`, without a copy.
///
/// # Errors
/// [`NotPacked`] when `a` is neither in standard (row-major) nor in
/// Fortran (column-major) layout, packed: use [`view_or_copy`] or [`to_mat`].
pub fn view<T: Copy>(a: ArrayView2<'_, T>) -> Result<MatRef<'_, T>, NotPacked> {
    let (nrows, ncols) = a.dim();
    if let Some(s) = a.to_slice() {
        return Ok(from_packed(s, nrows, ncols, Packed::RowMajor));
    }
    if let Some(s) = a.reversed_axes().to_slice() {
        return Ok(from_packed(s, nrows, ncols, Packed::ColMajor));
    }
    let st = a.strides();
    Err(NotPacked { nrows, ncols, row_stride: st[0], col_stride: st[1] })
}

/// A dspgd view of `a` when its layout allows ([`view`]), a row-major copy otherwise.
pub fn view_or_copy<T: Copy + Default>(a: ArrayView2<'_, T>) -> MatCow<'_, T> {
    match view(a) {
        Ok(v) => MatCow::Borrowed(v),
        Err(_) => MatCow::Owned(to_mat(a)),
    }
}

/// A row-major copy of any 2-D array view (any strides, negative ones included).
pub fn to_mat<T: Copy + Default>(a: ArrayView2<'_, T>) -> Mat<T> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

/// An `ArrayView2` of the same memory as `m`, without a copy.
pub fn as_array_view<T: Copy>(m: MatRef<'_, T>) -> ArrayView2<'_, T> {
    // ndarray wants an empty view's strides to address nothing.
    let (rs, cs) = if m.nrows() == 0 || m.ncols() == 0 { (0, 0) } else { used_strides(m) };
    ArrayView2::from_shape(m.shape().strides((rs, cs)), m.as_slice()).expect("a dspgd view addresses only elements of its slice")
}

/// The matrix as an `Array2` in standard layout, without a copy (the
/// row-major buffer is moved).
pub fn into_array<T: Copy + Default>(m: Mat<T>) -> Array2<T> {
    let shape = m.shape();
    Array2::from_shape_vec(shape, m.into_vec()).expect("a Mat holds nrows·ncols elements")
}

/// An `Array2` with the elements of `m` (a copy, in standard layout).
pub fn to_array<T: Copy>(m: MatRef<'_, T>) -> Array2<T> {
    Array2::from_shape_fn(m.shape(), |(i, j)| m.at(i, j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::ndarray::{s, Array2};

    #[test]
    fn round_trips() {
        let a = Array2::from_shape_fn((4, 3), |(i, j)| (10 * i + j) as f64);
        let v = view(a.view()).unwrap();
        assert_eq!(v.at(3, 2), 32.0);
        assert_eq!(v.as_slice().as_ptr(), a.as_ptr());
        // Fortran layout (the transpose): free too.
        let t = view(a.t()).unwrap();
        assert_eq!(t.shape(), (3, 4));
        assert_eq!(t.at(2, 3), 32.0);
        let f = Array2::from_shape_vec((2, 3).f(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(view(f.view()).unwrap().at(1, 2), 6.0);
        // A sub-block, a step, reversed rows: copied.
        for sv in [a.slice(s![1..3, ..2]), a.slice(s![..;2, ..]), a.slice(s![..;-1, ..])] {
            assert!(view(sv).is_err());
            let c = view_or_copy(sv);
            assert!(!c.is_borrowed());
            for i in 0..sv.nrows() {
                for j in 0..sv.ncols() {
                    assert_eq!(c.as_ref().at(i, j), sv[[i, j]]);
                }
            }
        }
        // Out again.
        let m = Mat::from_fn(3, 4, |i, j| (i * 4 + j) as f64);
        assert_eq!(as_array_view(m.as_ref())[[2, 3]], 11.0);
        assert_eq!(as_array_view(m.as_ref().transpose())[[3, 2]], 11.0);
        assert_eq!(to_array(m.as_ref())[[1, 2]], 6.0);
        let ptr = m.as_slice().as_ptr();
        let arr = into_array(m);
        assert_eq!(arr.as_ptr(), ptr);
        assert_eq!(arr[[2, 1]], 9.0);
        let empty: Mat<f32> = Mat::zeros(0, 3);
        assert_eq!(as_array_view(empty.as_ref()).dim(), (0, 3));
        assert_eq!(view(into_array(empty).view()).unwrap().shape(), (0, 3));
    }
}
