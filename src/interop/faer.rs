//! Conversions from and to `faer` matrices (feature `faer`, on by default).
//!
//! faer stores an owned `Mat` column by column, with each column padded to
//! an aligned length when `nrows` is not a multiple of the SIMD width; such
//! a matrix is not packed and [`view`] declines it ([`view_or_copy`] then
//! copies). Going out, [`as_faer`] is always free.
//!
//! ```
//! use dspgd::interop::faer::{as_faer, view_or_copy};
//! use dspgd::{solve, Options};
//!
//! // Your data in faer matrices (here random, of full row rank).
//! let (g, h) = dspgd::synthetic::gaussian_problem::<f64>(8, 32, 1, 1);
//! let x = faer::Mat::<f64>::from_fn(8, 32, |i, j| g.at(i, j));
//! let y = faer::Mat::<f64>::from_fn(8, 1, |i, j| h.at(i, j));
//! let (xv, yv) = (view_or_copy(x.as_ref()), view_or_copy(y.as_ref()));
//! let sol = solve(xv.as_ref(), yv.as_ref(), None, &Options::default())?;
//! let w = as_faer(sol.w.as_ref()); // a faer view of W, no copy
//! let r = &x * w - &y;
//! assert!(r.norm_l2() <= 1e-8 * y.norm_l2());
//! # Ok::<(), dspgd::Error>(())
//! ```

use super::{from_packed, packed, used_strides, MatCow, NotPacked};
use crate::{Mat, MatRef};

/// A dspgd view of the same memory as `m`, without a copy.
///
/// # Errors
/// [`NotPacked`] when the elements of `m` are not exactly `nrows·ncols`
/// consecutive elements in row- or column-major order (padded columns,
/// a sub-block, negative strides): use [`view_or_copy`] or [`to_mat`].
pub fn view<'a, T: Copy>(m: ::faer::MatRef<'a, T>) -> Result<MatRef<'a, T>, NotPacked> {
    let (nrows, ncols) = (m.nrows(), m.ncols());
    let (rs, cs) = (m.row_stride(), m.col_stride());
    let order = packed(nrows, ncols, rs, cs).ok_or(NotPacked { nrows, ncols, row_stride: rs, col_stride: cs })?;
    let len = nrows * ncols;
    let data: &'a [T] = if len == 0 {
        &[]
    } else {
        // SAFETY: `m` is a shared faer view, valid for reads of each of its
        // elements for `'a`, with nothing writing to them meanwhile. `packed`
        // checked that those elements are exactly the `len` consecutive `T`s
        // starting at `m.as_ptr()` (element (0, 0)), with non-negative unit
        // or dimension-sized strides, so the slice covers the view's elements
        // and nothing else: no memory outside the view is borrowed.
        unsafe { core::slice::from_raw_parts(m.as_ptr(), len) }
    };
    Ok(from_packed(data, nrows, ncols, order))
}

/// A dspgd view of `m` when it is packed ([`view`]), a row-major copy otherwise.
pub fn view_or_copy<T: Copy + Default>(m: ::faer::MatRef<'_, T>) -> MatCow<'_, T> {
    match view(m) {
        Ok(v) => MatCow::Borrowed(v),
        Err(_) => MatCow::Owned(to_mat(m)),
    }
}

/// A row-major copy of any faer view (any strides, negative ones included).
pub fn to_mat<T: Copy + Default>(m: ::faer::MatRef<'_, T>) -> Mat<T> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
}

/// A faer view of the same memory as `m`, without a copy (any dspgd view
/// converts: its strides are non-negative).
pub fn as_faer<T: Copy>(m: MatRef<'_, T>) -> ::faer::MatRef<'_, T> {
    let (nrows, ncols) = m.shape();
    // Axes with at most one element report stride 0, so both fit in isize: for
    // an axis with two or more elements, (dim − 1)·stride is an offset inside
    // the slice, and no slice spans more than isize::MAX bytes.
    let (rs, cs) = used_strides(m);
    let rs = isize::try_from(rs).expect("a stride inside a slice fits in isize");
    let cs = isize::try_from(cs).expect("a stride inside a slice fits in isize");
    let data = m.as_slice();
    // SAFETY: `data.as_ptr()` is non-null and aligned, also for an empty
    // slice. Every element (i, j), i < nrows, j < ncols, is at offset
    // i·rs + j·cs < data.len() (checked when `m` was made; a zero stride is
    // used only on an axis of length ≤ 1), inside one allocation of
    // initialized `T`, borrowed immutably for the lifetime of the result.
    unsafe { ::faer::MatRef::from_raw_parts(data.as_ptr(), nrows, ncols, rs, cs) }
}

/// An owned faer matrix with the elements of `m` (a copy).
pub fn to_faer<T: Copy>(m: MatRef<'_, T>) -> ::faer::Mat<T> {
    ::faer::Mat::from_fn(m.nrows(), m.ncols(), |i, j| m.at(i, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        // 8 rows: faer's columns are not padded for f64, so the view is free.
        let a = ::faer::Mat::<f64>::from_fn(8, 3, |i, j| (10 * i + j) as f64);
        let v = view(a.as_ref()).unwrap();
        assert_eq!(v.shape(), (8, 3));
        assert_eq!(v.at(5, 2), 52.0);
        assert_eq!(v.as_slice().as_ptr(), a.as_ptr());
        // Transposed: packed row-major.
        let t = view(a.as_ref().transpose()).unwrap();
        assert_eq!(t.at(2, 5), 52.0);
        // A sub-block is not packed: view declines, view_or_copy copies.
        let sub = a.as_ref().submatrix(1, 1, 4, 2);
        assert!(view(sub).is_err());
        let c = view_or_copy(sub);
        assert!(!c.is_borrowed());
        assert_eq!(c.as_ref().at(0, 0), 11.0);
        // Reversed rows (negative stride): copied correctly.
        let rev = a.as_ref().reverse_rows();
        assert!(view(rev).is_err());
        assert_eq!(to_mat(rev).at(0, 0), 70.0);
        // Out again.
        let m = Mat::from_fn(3, 4, |i, j| (i * 4 + j) as f64);
        let f = as_faer(m.as_ref());
        assert_eq!(f[(2, 3)], 11.0);
        assert_eq!(as_faer(m.as_ref().transpose())[(3, 2)], 11.0);
        assert_eq!(to_faer(m.as_ref())[(1, 2)], 6.0);
        let empty: Mat<f64> = Mat::zeros(0, 4);
        assert_eq!(as_faer(empty.as_ref()).ncols(), 4);
        assert_eq!(view(to_faer(empty.as_ref()).as_ref()).unwrap().shape(), (0, 4));
    }

    #[test]
    fn padded_columns_are_copied() {
        let a = ::faer::Mat::<f64>::from_fn(5, 3, |i, j| (10 * i + j) as f64);
        let c = view_or_copy(a.as_ref());
        assert_eq!(c.as_ref().at(4, 2), 42.0);
        assert_eq!(c.is_borrowed(), a.col_stride() == 5);
    }
}
