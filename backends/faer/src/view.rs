//! Conversions from the kernel layer's safe strided views to faer's views.
//!
//! The only `unsafe` of the crate lives here. Our views are a slice plus two
//! `usize` element strides, checked at construction (see
//! `dspgd_backend::view`): every element `(i, j)` with `i < nrows`,
//! `j < ncols` sits at `data[i * row_stride + j * col_stride]` inside the
//! slice, and the elements of a mutable view are pairwise distinct. Those
//! are exactly the conditions of faer's `from_raw_parts` constructors.

use dspgd_backend::{MatMut, MatRef};

/// A stride as faer's `isize`.
///
/// For an axis with two or more elements the stride always fits: the
/// element `(dim − 1)·stride` is inside a slice, and no slice spans more than
/// `isize::MAX` bytes. For an axis with at most one element the stride never
/// multiplies a non-zero index, so any value would do; one too large for
/// `isize` is replaced by 0 (harmless for a single element, even in a
/// mutable view: no two elements share the address).
#[inline]
fn stride(s: usize, dim: usize) -> isize {
    match isize::try_from(s) {
        Ok(v) => v,
        Err(_) => {
            assert!(dim <= 1, "stride {s} does not fit in isize");
            0
        }
    }
}

/// A faer view of the same elements as `m`.
#[inline]
pub(crate) fn faer_ref<'a, T: Copy>(m: MatRef<'a, T>) -> faer::MatRef<'a, T> {
    let (nrows, ncols) = m.shape();
    let rs = stride(m.row_stride(), nrows);
    let cs = stride(m.col_stride(), ncols);
    let data = m.as_slice();
    // SAFETY:
    // - `data.as_ptr()` is non-null and aligned for `T`, even when the slice
    //   is empty (faer requires this for zero-sized views too);
    // - `MatRef::from_strided` / `from_row_major` / `from_col_major` checked
    //   that `(nrows − 1)·rs + (ncols − 1)·cs < data.len()` for a non-empty
    //   view, so every element faer can address, `(i, j)` with `i < nrows`
    //   and `j < ncols`, lies inside `data`, a single allocation of
    //   initialized `T` (strides are non-negative, and equal to the original
    //   ones on every axis with more than one element, see `stride`);
    // - the slice is borrowed immutably for `'a`, the lifetime of the result,
    //   so nothing writes to these elements while the faer view lives.
    unsafe { faer::MatRef::from_raw_parts(data.as_ptr(), nrows, ncols, rs, cs) }
}

/// A mutable faer view of the same elements as `m`, borrowing `m`.
#[inline]
pub(crate) fn faer_mut<'a, T: Copy>(m: &'a mut MatMut<'_, T>) -> faer::MatMut<'a, T> {
    let (nrows, ncols) = m.shape();
    let rs = stride(m.row_stride(), nrows);
    let cs = stride(m.col_stride(), ncols);
    let data = m.as_mut_slice();
    // SAFETY:
    // - `data.as_mut_ptr()` is non-null and aligned for `T`, even when the
    //   slice is empty;
    // - `MatMut::from_strided` / `from_row_major` / `from_col_major` checked
    //   that every element `(i, j)` with `i < nrows`, `j < ncols` lies inside
    //   `data` (a single allocation of initialized `T`), and that no two of
    //   them share an offset (no self-aliasing); replacing the stride of an
    //   axis with at most one element (see `stride`) changes no address;
    // - `data` is borrowed mutably from `m` for `'a`, the lifetime of the
    //   result, so no other reference can read or write these elements while
    //   the faer view lives.
    unsafe { faer::MatMut::from_raw_parts_mut(data.as_mut_ptr(), nrows, ncols, rs, cs) }
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
        // A vector: packed when its one stride is 1 (or it has ≤ 1 element).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faer_views_address_the_same_elements() {
        let data: Vec<f64> = (0..40).map(f64::from).collect();
        // 3×4 with padded rows (stride 7) and its transpose.
        let m = MatRef::from_strided(&data, 3, 4, 7, 1).unwrap();
        for v in [m, m.transpose()] {
            let f = faer_ref(v);
            assert_eq!((f.nrows(), f.ncols()), v.shape());
            for i in 0..v.nrows() {
                for j in 0..v.ncols() {
                    assert_eq!(f[(i, j)], v.at(i, j));
                }
            }
        }
        let mut buf = vec![0.0f64; 12];
        let mut mm = MatMut::from_col_major(&mut buf, 3, 4).unwrap();
        faer_mut(&mut mm)[(2, 1)] = 5.0;
        assert_eq!(mm.at(2, 1), 5.0);
        assert_eq!(buf[5], 5.0);
    }

    #[test]
    fn empty_and_degenerate_views_convert() {
        let empty: [f32; 0] = [];
        let e = faer_ref(MatRef::from_row_major(&empty, 0, 5).unwrap());
        assert_eq!((e.nrows(), e.ncols()), (0, 5));
        // One row: its row stride is never used, even when it does not fit in isize.
        let data = [1.0f32, 2.0];
        let v = MatRef::from_strided(&data, 1, 2, usize::MAX, 1).unwrap();
        let f = faer_ref(v);
        assert_eq!((f[(0, 0)], f[(0, 1)]), (1.0, 2.0));
    }

    #[test]
    fn packed_layouts() {
        let data = [0.0f64; 24];
        let rm = MatRef::from_row_major(&data[..6], 2, 3).unwrap();
        let cm = MatRef::from_col_major(&data[..6], 2, 3).unwrap();
        let padded = MatRef::from_strided(&data, 2, 3, 5, 1).unwrap();
        let row = MatRef::from_row_major(&data[..3], 1, 3).unwrap();
        let col = MatRef::from_col_major(&data[..3], 3, 1).unwrap();
        assert_eq!(packed(rm), Some(Packed::Rows));
        assert_eq!(packed(cm), Some(Packed::Cols));
        assert_eq!(packed(padded), None);
        assert_eq!(packed(row), Some(Packed::Any));
        assert_eq!(packed(col), Some(Packed::Any));
        assert_eq!(packed(rm.transpose()), Some(Packed::Cols));
        assert!(all_packed_alike(&[packed(rm), packed(rm), packed(row.transpose())]));
        assert!(!all_packed_alike(&[packed(rm), packed(cm)]));
        assert!(!all_packed_alike(&[packed(rm), packed(padded)]));
        assert!(all_packed_alike(&[packed(row), packed(cm)]));
    }
}
