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

/// Rows per tile of [`transpose_into`] and [`transpose_from`].
const TILE: usize = 16;

/// `dst` (k×d, row-major) = the transpose of `src` (d×k). For `src` with
/// contiguous rows (the solver's P), by tiles of [`TILE`] rows: each tile
/// is read from a few cache lines and written as k runs of [`TILE`]
/// elements, with constant-length inner loops (no bounds checks); other
/// layouts go through [`gather_rows`].
pub(crate) fn transpose_into<T: Copy>(src: MatRef<'_, T>, dst: &mut [T]) {
    let (d, k) = src.shape();
    if k <= 1 || src.col_stride() != 1 {
        gather_rows(src.transpose(), 0, k, dst);
        return;
    }
    let rs = src.row_stride();
    let s = src.as_slice();
    let dst = &mut dst[..k * d];
    let tiles = d / TILE;
    for t in 0..tiles {
        let l0 = t * TILE;
        let tile = &s[l0 * rs..(l0 + TILE - 1) * rs + k];
        for j in 0..k {
            let out: &mut [T; TILE] = (&mut dst[j * d + l0..j * d + l0 + TILE]).try_into().expect("a tile");
            for (i, o) in out.iter_mut().enumerate() {
                *o = tile[i * rs + j];
            }
        }
    }
    for l in tiles * TILE..d {
        for j in 0..k {
            dst[j * d + l] = s[l * rs + j];
        }
    }
}

/// The transpose of `src` (k×d, row-major) into `dst` (d×k): the inverse of
/// [`transpose_into`], by tiles of [`TILE`] rows of `dst` when its rows are
/// contiguous (the solver's G); other layouts go through [`scatter_rows`].
pub(crate) fn transpose_from<T: Copy>(src: &[T], dst: &mut MatMut<'_, T>) {
    let (d, k) = dst.shape();
    if k <= 1 || dst.col_stride() != 1 {
        scatter_rows(&mut dst.rb_mut().transpose(), 0, k, src);
        return;
    }
    let rs = dst.row_stride();
    let out = dst.as_mut_slice();
    let src = &src[..k * d];
    let tiles = d / TILE;
    for t in 0..tiles {
        let l0 = t * TILE;
        let tile = &mut out[l0 * rs..(l0 + TILE - 1) * rs + k];
        for j in 0..k {
            let col: &[T; TILE] = (&src[j * d + l0..j * d + l0 + TILE]).try_into().expect("a tile");
            for (i, v) in col.iter().enumerate() {
                tile[i * rs + j] = *v;
            }
        }
    }
    for l in tiles * TILE..d {
        for j in 0..k {
            out[l * rs + j] = src[j * d + l];
        }
    }
}
