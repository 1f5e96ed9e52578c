//! How the kernels walk strided views: packed operands are walked as flat
//! slices (the fast path: the solver's matrices are packed), anything else
//! is copied by blocks of rows into packed scratch and back (a simple,
//! correct path for unusual layouts).

use dspgd_backend::{MatMut, MatRef};

/// Rows per block when a layout needs a copy: about `BLOCK_ELEMS` elements.
pub(crate) const BLOCK_ELEMS: usize = 2048;

/// How the elements of a view lie in its slice when they are packed
/// (exactly `nrows·ncols` consecutive elements from the start).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Packed {
    /// A single row or column, or an empty view: both readings agree.
    Any,
    /// Rows one after the other (C order).
    Rows,
    /// Columns one after the other (Fortran order).
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

/// True when all views are packed in one common order, so that element `l`
/// of each flat slice is the same `(i, j)`.
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

/// The flat slice of a packed view.
#[inline]
pub(crate) fn flat<'a, T: Copy>(m: MatRef<'a, T>) -> &'a [T] {
    &m.as_slice()[..m.nrows() * m.ncols()]
}

/// The flat mutable slice of a packed view.
#[inline]
pub(crate) fn flat_mut<'a, T: Copy>(m: &'a mut MatMut<'_, T>) -> &'a mut [T] {
    let len = m.nrows() * m.ncols();
    &mut m.as_mut_slice()[..len]
}

/// True when rows `i0..i0 + len` of a view with `ncols` columns and these
/// strides are one packed row-major run.
#[inline]
fn is_row_run(ncols: usize, rs: usize, cs: usize, len: usize) -> bool {
    len == 0 || ncols == 0 || ((ncols == 1 || cs == 1) && (len == 1 || rs == ncols))
}

/// Rows `i0..i0 + len` of `m` as one packed row-major slice, when they are stored so.
#[inline]
pub(crate) fn row_run<'a, T: Copy>(m: MatRef<'a, T>, i0: usize, len: usize) -> Option<&'a [T]> {
    let k = m.ncols();
    if !is_row_run(k, m.row_stride(), m.col_stride(), len) {
        return None;
    }
    if len == 0 || k == 0 {
        return Some(&[]);
    }
    let start = i0 * m.row_stride();
    Some(&m.as_slice()[start..start + len * k])
}

/// Rows `i0..i0 + len` of `m` as one packed row-major mutable slice, when they are stored so.
#[inline]
pub(crate) fn row_run_mut<'a, T: Copy>(m: &'a mut MatMut<'_, T>, i0: usize, len: usize) -> Option<&'a mut [T]> {
    let k = m.ncols();
    if !is_row_run(k, m.row_stride(), m.col_stride(), len) {
        return None;
    }
    if len == 0 || k == 0 {
        return Some(&mut []);
    }
    let start = i0 * m.row_stride();
    Some(&mut m.as_mut_slice()[start..start + len * k])
}

/// Copies rows `i0..i0 + len` of `m` into `buf` (row-major, `len·ncols` elements).
pub(crate) fn gather_rows<T: Copy>(m: MatRef<'_, T>, i0: usize, len: usize, buf: &mut [T]) {
    let k = m.ncols();
    let (rs, cs) = (m.row_stride(), m.col_stride());
    let data = m.as_slice();
    let buf = &mut buf[..len * k];
    if rs <= cs {
        // Column-like storage: read down the columns, contiguous in memory.
        for j in 0..k {
            for i in 0..len {
                buf[i * k + j] = data[(i0 + i) * rs + j * cs];
            }
        }
    } else {
        for (i, row) in buf.chunks_exact_mut(k.max(1)).enumerate() {
            let base = (i0 + i) * rs;
            for (j, v) in row.iter_mut().enumerate() {
                *v = data[base + j * cs];
            }
        }
    }
}

/// Copies `buf` (row-major, `len·ncols` elements) into rows `i0..i0 + len` of `m`.
pub(crate) fn scatter_rows<T: Copy>(m: &mut MatMut<'_, T>, i0: usize, len: usize, buf: &[T]) {
    let k = m.ncols();
    let (rs, cs) = (m.row_stride(), m.col_stride());
    let data = m.as_mut_slice();
    let buf = &buf[..len * k];
    if rs <= cs {
        for j in 0..k {
            for i in 0..len {
                data[(i0 + i) * rs + j * cs] = buf[i * k + j];
            }
        }
    } else {
        for (i, row) in buf.chunks_exact(k.max(1)).enumerate() {
            let base = (i0 + i) * rs;
            for (j, v) in row.iter().enumerate() {
                data[base + j * cs] = *v;
            }
        }
    }
}

/// Rows per copied block for a matrix with `ncols` columns.
#[inline]
pub(crate) fn block_rows(ncols: usize) -> usize {
    (BLOCK_ELEMS / ncols.max(1)).max(1)
}
