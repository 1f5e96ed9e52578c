//! How our strided views map onto what CBLAS can read in place.
//!
//! CBLAS takes a matrix as a pointer, an order (row- or column-major) and a
//! leading dimension: one of the two strides must be 1 and the other at
//! least the length of the contiguous axis. A view of the kernel layer
//! (`dspgd_backend::view`: a slice starting at element (0, 0) and two
//! non-negative element strides) qualifies when
//!
//! - row-major: `col_stride == 1` and `row_stride ≥ ncols` (the leading
//!   dimension is `row_stride`);
//! - column-major: `row_stride == 1` and `col_stride ≥ nrows`;
//!
//! where the stride of an axis of length ≤ 1 does not matter (it never
//! multiplies a non-zero index; the leading dimension then is the length of
//! the other axis). Everything else (both strides > 1, broadcast rows with a
//! zero stride, strides beyond `c_int`) is copied to a packed row-major
//! temporary by the callers.
//!
//! The flat-slice helpers at the end serve the elementwise kernels.

use core::ffi::c_int;
use dspgd_backend::{MatMut, MatRef};

/// Storage order as CBLAS names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Order {
    /// `CblasRowMajor`.
    Row,
    /// `CblasColMajor`.
    Col,
}

impl Order {
    pub(crate) fn other(self) -> Order {
        match self {
            Order::Row => Order::Col,
            Order::Col => Order::Row,
        }
    }
    pub(crate) fn cblas(self) -> cblas_sys::CBLAS_LAYOUT {
        match self {
            Order::Row => cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
            Order::Col => cblas_sys::CBLAS_LAYOUT::CblasColMajor,
        }
    }
}

/// A dimension as CBLAS's `int` (32-bit OpenBLAS interface).
///
/// # Panics
/// When `n` does not fit: the 32-bit interface cannot express it.
#[inline]
pub(crate) fn dim(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or_else(|_| {
        panic!("dspgd-openblas: dimension {n} exceeds the 32-bit CBLAS interface (at most {})", c_int::MAX)
    })
}

/// The leading dimension of an `nrows × ncols` view with strides
/// (`rs`, `cs`) read in `order`, or `None` when CBLAS cannot read it so.
#[inline]
pub(crate) fn ld_in(nrows: usize, ncols: usize, rs: usize, cs: usize, order: Order) -> Option<c_int> {
    // (length, stride) of the contiguous axis and of the other axis.
    let ((n_in, s_in), (n_out, s_out)) = match order {
        Order::Row => ((ncols, cs), (nrows, rs)),
        Order::Col => ((nrows, rs), (ncols, cs)),
    };
    if n_in > 1 && s_in != 1 {
        return None;
    }
    let ld = if n_out <= 1 { n_in.max(1) } else { s_out };
    if ld < n_in.max(1) {
        return None;
    }
    c_int::try_from(ld).ok()
}

/// The order and leading dimension CBLAS can read `m` with (row-major
/// preferred when both work), or `None`.
#[inline]
pub(crate) fn layout_of<T: Copy>(m: MatRef<'_, T>) -> Option<(Order, c_int)> {
    let (r, c, rs, cs) = (m.nrows(), m.ncols(), m.row_stride(), m.col_stride());
    ld_in(r, c, rs, cs, Order::Row)
        .map(|ld| (Order::Row, ld))
        .or_else(|| ld_in(r, c, rs, cs, Order::Col).map(|ld| (Order::Col, ld)))
}

/// True when CBLAS can read (or write) `m` in place.
#[inline]
pub(crate) fn blas_ok<T: Copy>(m: MatRef<'_, T>) -> bool {
    layout_of(m).is_some()
}

/// Copies `src` into `dst[..nrows·ncols]`, row-major, and returns the packed view.
pub(crate) fn pack<'a, T: Copy>(src: MatRef<'_, T>, dst: &'a mut [T]) -> MatRef<'a, T> {
    let (r, c) = src.shape();
    let dst = &mut dst[..r * c];
    for i in 0..r {
        for (j, v) in dst[i * c..(i + 1) * c].iter_mut().enumerate() {
            *v = src.at(i, j);
        }
    }
    MatRef::from_row_major(dst, r, c).expect("packed buffer has the exact length")
}

/// How the elements of a view lie in its slice, when they are packed
/// (exactly `nrows·ncols` consecutive elements from the start).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Packed {
    /// A single row or column (or an empty view): both readings agree.
    Any,
    /// Rows one after the other.
    Rows,
    /// Columns one after the other.
    Cols,
}

/// How `m` is packed, or `None` when it is not.
#[inline]
pub(crate) fn packed<T: Copy>(m: MatRef<'_, T>) -> Option<Packed> {
    let (nrows, ncols) = m.shape();
    if nrows <= 1 || ncols <= 1 {
        let s = if nrows <= 1 { m.col_stride() } else { m.row_stride() };
        return (nrows * ncols <= 1 || s == 1).then_some(Packed::Any);
    }
    if m.col_stride() == 1 && m.row_stride() == ncols {
        Some(Packed::Rows)
    } else if m.row_stride() == 1 && m.col_stride() == nrows {
        Some(Packed::Cols)
    } else {
        None
    }
}

/// True when all views are packed in one common order, so that they can be
/// walked as flat slices, element `l` of each being the same `(i, j)`.
#[inline]
pub(crate) fn all_packed_alike(layouts: &[Option<Packed>]) -> bool {
    let mut order = Packed::Any;
    for l in layouts {
        match (*l, order) {
            (None, _) => return false,
            (Some(Packed::Any), _) => {}
            (Some(p), Packed::Any) => order = p,
            (Some(p), o) if p == o => {}
            _ => return false,
        }
    }
    true
}

/// `packed` of a mutable view.
#[inline]
pub(crate) fn packed_mut<T: Copy>(m: &MatMut<'_, T>) -> Option<Packed> {
    packed(m.rb())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blas_layouts() {
        let data = [0.0f64; 64];
        let rm = MatRef::from_row_major(&data[..6], 2, 3).unwrap();
        assert_eq!(layout_of(rm), Some((Order::Row, 3)));
        assert_eq!(layout_of(rm.transpose()), Some((Order::Col, 3)));
        let padded = MatRef::from_strided(&data, 2, 3, 5, 1).unwrap();
        assert_eq!(layout_of(padded), Some((Order::Row, 5)));
        // Both strides > 1, and a broadcast row (stride 0): not readable in place.
        assert_eq!(layout_of(MatRef::from_strided(&data, 3, 4, 10, 2).unwrap()), None);
        assert_eq!(layout_of(MatRef::from_strided(&data, 3, 4, 0, 1).unwrap()), None);
        // A row stride smaller than the row: overlapping rows.
        assert_eq!(layout_of(MatRef::from_strided(&data, 3, 4, 2, 1).unwrap()), None);
        // Vectors: only the stride of the long axis matters.
        let col = MatRef::from_strided(&data, 5, 1, 7, 123).unwrap();
        assert_eq!(layout_of(col), Some((Order::Row, 7)));
        let row = MatRef::from_strided(&data, 1, 5, 999, 3).unwrap();
        assert_eq!(layout_of(row), Some((Order::Col, 3)));
        let one = MatRef::from_strided(&data, 1, 1, 999, 999).unwrap();
        assert_eq!(layout_of(one), Some((Order::Row, 1)));
        // A huge stride on a single-element axis is fine, on a longer axis it is not.
        assert_eq!(layout_of(MatRef::from_strided(&data, 1, 4, usize::MAX, 1).unwrap()), Some((Order::Row, 4)));
        assert!(ld_in(2, 4, (c_int::MAX as usize) + 1, 1, Order::Row).is_none());
    }

    #[test]
    fn packing_copies_row_major() {
        let data: Vec<f64> = (0..12).map(f64::from).collect();
        let v = MatRef::from_strided(&data, 2, 3, 1, 4).unwrap();
        let mut buf = vec![0.0; 8];
        let p = pack(v, &mut buf);
        assert_eq!(p.as_slice(), &[0.0, 4.0, 8.0, 1.0, 5.0, 9.0]);
    }

    #[test]
    fn packed_layouts() {
        let data = [0.0f64; 24];
        let rm = MatRef::from_row_major(&data[..6], 2, 3).unwrap();
        let cm = MatRef::from_col_major(&data[..6], 2, 3).unwrap();
        let padded = MatRef::from_strided(&data, 2, 3, 5, 1).unwrap();
        let row = MatRef::from_row_major(&data[..3], 1, 3).unwrap();
        assert_eq!(packed(rm), Some(Packed::Rows));
        assert_eq!(packed(cm), Some(Packed::Cols));
        assert_eq!(packed(padded), None);
        assert_eq!(packed(row), Some(Packed::Any));
        assert!(all_packed_alike(&[packed(rm), packed(row)]));
        assert!(!all_packed_alike(&[packed(rm), packed(cm)]));
    }
}
