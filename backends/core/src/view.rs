//! Strided matrix views over caller memory, and the owned row-major [`Mat`].
//!
//! Views are safe slices plus two element strides (no raw pointers), so a
//! transpose is a swap of strides and a row block is a sub-slice. Strides are
//! non-negative; a mutable view is checked at construction so that no two of
//! its elements alias.

use crate::Scalar;
use core::fmt;

/// Why a view could not be made over a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewError {
    msg: String,
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ViewError {}

/// Number of slice elements a view of this shape and strides touches (0 if empty).
fn required_len(nrows: usize, ncols: usize, rs: usize, cs: usize) -> Option<usize> {
    if nrows == 0 || ncols == 0 {
        return Some(0);
    }
    (nrows - 1)
        .checked_mul(rs)?
        .checked_add((ncols - 1).checked_mul(cs)?)?
        .checked_add(1)
}

fn check(len: usize, nrows: usize, ncols: usize, rs: usize, cs: usize) -> Result<(), ViewError> {
    match required_len(nrows, ncols, rs, cs) {
        Some(need) if need <= len => Ok(()),
        Some(need) => Err(ViewError {
            msg: format!(
                "a {nrows}x{ncols} view with strides ({rs}, {cs}) needs {need} elements, the slice has {len}"
            ),
        }),
        None => Err(ViewError {
            msg: format!("a {nrows}x{ncols} view with strides ({rs}, {cs}) overflows usize"),
        }),
    }
}

/// True when distinct (i, j) map to distinct offsets.
fn no_alias(nrows: usize, ncols: usize, rs: usize, cs: usize) -> bool {
    if nrows <= 1 || ncols <= 1 {
        return (nrows <= 1 || rs > 0) && (ncols <= 1 || cs > 0);
    }
    // Sort the two axes by stride: the inner axis must fit inside one step of the outer.
    let ((s_in, n_in), s_out) = if rs <= cs { ((rs, nrows), cs) } else { ((cs, ncols), rs) };
    s_in > 0 && s_in.checked_mul(n_in).is_some_and(|span| span <= s_out)
}

/// An immutable strided view of an `nrows × ncols` matrix.
///
/// Element (i, j) is `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    nrows: usize,
    ncols: usize,
    rs: usize,
    cs: usize,
}

/// A mutable strided view of an `nrows × ncols` matrix whose elements do not alias.
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    nrows: usize,
    ncols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T: Copy> MatRef<'a, T> {
    /// A view with explicit strides.
    ///
    /// # Errors
    /// When the slice is too short for the shape and strides.
    pub fn from_strided(
        data: &'a [T],
        nrows: usize,
        ncols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self, ViewError> {
        check(data.len(), nrows, ncols, row_stride, col_stride)?;
        Ok(Self { data, nrows, ncols, rs: row_stride, cs: col_stride })
    }

    /// A row-major (C order) view: `data.len()` must equal `nrows * ncols`.
    ///
    /// # Errors
    /// When the length does not match the shape.
    pub fn from_row_major(data: &'a [T], nrows: usize, ncols: usize) -> Result<Self, ViewError> {
        exact_len(data.len(), nrows, ncols)?;
        Ok(Self { data, nrows, ncols, rs: ncols.max(1), cs: 1 })
    }

    /// A column-major (Fortran order) view: `data.len()` must equal `nrows * ncols`.
    ///
    /// # Errors
    /// When the length does not match the shape.
    pub fn from_col_major(data: &'a [T], nrows: usize, ncols: usize) -> Result<Self, ViewError> {
        exact_len(data.len(), nrows, ncols)?;
        Ok(Self { data, nrows, ncols, rs: 1, cs: nrows.max(1) })
    }

    /// Number of rows.
    #[inline(always)]
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Number of columns.
    #[inline(always)]
    pub fn ncols(&self) -> usize {
        self.ncols
    }
    /// (rows, columns).
    #[inline(always)]
    pub fn shape(&self) -> (usize, usize) {
        (self.nrows, self.ncols)
    }
    /// Distance in elements between rows.
    #[inline(always)]
    pub fn row_stride(&self) -> usize {
        self.rs
    }
    /// Distance in elements between columns.
    #[inline(always)]
    pub fn col_stride(&self) -> usize {
        self.cs
    }
    /// The underlying slice (starting at element (0, 0)).
    #[inline(always)]
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }
    /// True when rows are contiguous and packed (`col_stride == 1`, `row_stride == ncols`).
    pub fn is_row_major_contiguous(&self) -> bool {
        (self.ncols <= 1 || self.cs == 1) && (self.nrows <= 1 || self.rs == self.ncols)
    }
    /// Element (i, j). Panics when out of bounds.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> T {
        debug_assert!(i < self.nrows && j < self.ncols);
        self.data[i * self.rs + j * self.cs]
    }
    /// The transpose, free (strides swapped).
    #[inline]
    pub fn transpose(self) -> MatRef<'a, T> {
        MatRef { data: self.data, nrows: self.ncols, ncols: self.nrows, rs: self.cs, cs: self.rs }
    }
    /// Rows `start..start + len`. Panics when out of range.
    pub fn rows(self, start: usize, len: usize) -> MatRef<'a, T> {
        assert!(start + len <= self.nrows, "rows {start}..{} of {}", start + len, self.nrows);
        let off = if len == 0 || self.ncols == 0 { 0 } else { start * self.rs };
        MatRef { data: &self.data[off..], nrows: len, ncols: self.ncols, rs: self.rs, cs: self.cs }
    }
    /// Row i as an iterator over its elements.
    pub fn row_iter(self, i: usize) -> impl Iterator<Item = T> + 'a {
        let (rs, cs) = (self.rs, self.cs);
        let data = self.data;
        (0..self.ncols).map(move |j| data[i * rs + j * cs])
    }
    /// Copies into an owned row-major matrix.
    pub fn to_owned(&self) -> Mat<T>
    where
        T: Default,
    {
        let mut m = Mat::zeros(self.nrows, self.ncols);
        for i in 0..self.nrows {
            for j in 0..self.ncols {
                m.data[i * self.ncols + j] = self.at(i, j);
            }
        }
        m
    }
}

fn exact_len(len: usize, nrows: usize, ncols: usize) -> Result<(), ViewError> {
    match nrows.checked_mul(ncols) {
        Some(n) if n == len => Ok(()),
        _ => Err(ViewError {
            msg: format!("a {nrows}x{ncols} matrix needs {} elements, the slice has {len}", nrows.saturating_mul(ncols)),
        }),
    }
}

impl<'a, T: Copy> MatMut<'a, T> {
    /// A mutable view with explicit strides.
    ///
    /// # Errors
    /// When the slice is too short, or two elements of the view would alias.
    pub fn from_strided(
        data: &'a mut [T],
        nrows: usize,
        ncols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self, ViewError> {
        check(data.len(), nrows, ncols, row_stride, col_stride)?;
        if !no_alias(nrows, ncols, row_stride, col_stride) {
            return Err(ViewError {
                msg: format!(
                    "a mutable {nrows}x{ncols} view with strides ({row_stride}, {col_stride}) aliases its elements"
                ),
            });
        }
        Ok(Self { data, nrows, ncols, rs: row_stride, cs: col_stride })
    }

    /// A row-major mutable view: `data.len()` must equal `nrows * ncols`.
    ///
    /// # Errors
    /// When the length does not match the shape.
    pub fn from_row_major(data: &'a mut [T], nrows: usize, ncols: usize) -> Result<Self, ViewError> {
        exact_len(data.len(), nrows, ncols)?;
        Ok(Self { data, nrows, ncols, rs: ncols.max(1), cs: 1 })
    }

    /// A column-major mutable view: `data.len()` must equal `nrows * ncols`.
    ///
    /// # Errors
    /// When the length does not match the shape.
    pub fn from_col_major(data: &'a mut [T], nrows: usize, ncols: usize) -> Result<Self, ViewError> {
        exact_len(data.len(), nrows, ncols)?;
        Ok(Self { data, nrows, ncols, rs: 1, cs: nrows.max(1) })
    }

    /// Number of rows.
    #[inline(always)]
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Number of columns.
    #[inline(always)]
    pub fn ncols(&self) -> usize {
        self.ncols
    }
    /// (rows, columns).
    #[inline(always)]
    pub fn shape(&self) -> (usize, usize) {
        (self.nrows, self.ncols)
    }
    /// Distance in elements between rows.
    #[inline(always)]
    pub fn row_stride(&self) -> usize {
        self.rs
    }
    /// Distance in elements between columns.
    #[inline(always)]
    pub fn col_stride(&self) -> usize {
        self.cs
    }
    /// The underlying slice (starting at element (0, 0)).
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.data
    }
    /// True when rows are contiguous and packed.
    pub fn is_row_major_contiguous(&self) -> bool {
        self.rb().is_row_major_contiguous()
    }
    /// A shorter-lived immutable view.
    #[inline(always)]
    pub fn rb(&self) -> MatRef<'_, T> {
        MatRef { data: self.data, nrows: self.nrows, ncols: self.ncols, rs: self.rs, cs: self.cs }
    }
    /// A shorter-lived mutable view.
    #[inline(always)]
    pub fn rb_mut(&mut self) -> MatMut<'_, T> {
        MatMut { data: self.data, nrows: self.nrows, ncols: self.ncols, rs: self.rs, cs: self.cs }
    }
    /// Converts into an immutable view with the same lifetime.
    pub fn into_const(self) -> MatRef<'a, T> {
        MatRef { data: self.data, nrows: self.nrows, ncols: self.ncols, rs: self.rs, cs: self.cs }
    }
    /// Element (i, j).
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> T {
        debug_assert!(i < self.nrows && j < self.ncols);
        self.data[i * self.rs + j * self.cs]
    }
    /// Mutable element (i, j).
    #[inline(always)]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut T {
        debug_assert!(i < self.nrows && j < self.ncols);
        &mut self.data[i * self.rs + j * self.cs]
    }
    /// The transpose (strides swapped).
    pub fn transpose(self) -> MatMut<'a, T> {
        MatMut { data: self.data, nrows: self.ncols, ncols: self.nrows, rs: self.cs, cs: self.rs }
    }
    /// Rows `start..start + len`. Panics when out of range.
    pub fn rows(self, start: usize, len: usize) -> MatMut<'a, T> {
        assert!(start + len <= self.nrows, "rows {start}..{} of {}", start + len, self.nrows);
        let off = if len == 0 || self.ncols == 0 { 0 } else { start * self.rs };
        MatMut { data: &mut self.data[off..], nrows: len, ncols: self.ncols, rs: self.rs, cs: self.cs }
    }
    /// Sets every element to `value`.
    pub fn fill(&mut self, value: T) {
        for i in 0..self.nrows {
            for j in 0..self.ncols {
                *self.at_mut(i, j) = value;
            }
        }
    }
    /// Copies the strict lower triangle onto the upper one, so a square
    /// matrix of which one triangle was computed (a `syrk`) is exactly
    /// symmetric. Panics when the view is not square.
    pub fn mirror_lower_to_upper(&mut self) {
        assert_eq!(self.nrows, self.ncols, "mirror_lower_to_upper: {}x{} is not square", self.nrows, self.ncols);
        for i in 0..self.nrows {
            for j in 0..i {
                *self.at_mut(j, i) = self.at(i, j);
            }
        }
    }
    /// Copies `src` (same shape) into this view. Panics on a shape mismatch.
    pub fn copy_from(&mut self, src: MatRef<'_, T>) {
        assert_eq!(self.shape(), src.shape(), "copy_from: shape mismatch");
        for i in 0..self.nrows {
            for j in 0..self.ncols {
                *self.at_mut(i, j) = src.at(i, j);
            }
        }
    }
}

/// An owned, dense, row-major (C order) matrix. Its constructors ask for
/// huge pages when the buffer is 4 MiB or more ([`crate::huge_pages`]).
#[derive(Clone, PartialEq)]
pub struct Mat<T> {
    data: Vec<T>,
    nrows: usize,
    ncols: usize,
}

impl<T: fmt::Debug> fmt::Debug for Mat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mat").field("nrows", &self.nrows).field("ncols", &self.ncols).field("data", &self.data).finish()
    }
}

impl<T: Copy + Default> Mat<T> {
    /// An `nrows × ncols` matrix of zeros (`T::default()`).
    pub fn zeros(nrows: usize, ncols: usize) -> Self {
        let len = nrows * ncols;
        let mut data = crate::huge_pages::vec_with_capacity(len);
        data.resize(len, T::default());
        Self { data, nrows, ncols }
    }
    /// Takes ownership of a row-major vector.
    ///
    /// # Errors
    /// When `data.len() != nrows * ncols`.
    pub fn from_row_major_vec(data: Vec<T>, nrows: usize, ncols: usize) -> Result<Self, ViewError> {
        exact_len(data.len(), nrows, ncols)?;
        Ok(Self { data, nrows, ncols })
    }
    /// Builds a matrix from a function of (i, j).
    pub fn from_fn(nrows: usize, ncols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = crate::huge_pages::vec_with_capacity(nrows * ncols);
        for i in 0..nrows {
            for j in 0..ncols {
                data.push(f(i, j));
            }
        }
        Self { data, nrows, ncols }
    }
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }
    /// (rows, columns).
    pub fn shape(&self) -> (usize, usize) {
        (self.nrows, self.ncols)
    }
    /// Element (i, j).
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.ncols + j]
    }
    /// Mutable element (i, j).
    #[inline(always)]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut T {
        &mut self.data[i * self.ncols + j]
    }
    /// The row-major data.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }
    /// The row-major data, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }
    /// Gives back the row-major vector.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }
    /// An immutable view.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef { data: &self.data, nrows: self.nrows, ncols: self.ncols, rs: self.ncols.max(1), cs: 1 }
    }
    /// A mutable view.
    pub fn as_mut(&mut self) -> MatMut<'_, T> {
        MatMut { data: &mut self.data, nrows: self.nrows, ncols: self.ncols, rs: self.ncols.max(1), cs: 1 }
    }
}

impl<T: Scalar> Mat<T> {
    /// Frobenius norm, accumulated in f64 with scaling so it neither overflows nor underflows.
    pub fn norm_fro(&self) -> f64 {
        norm_fro(self.as_ref())
    }
    /// Converts the element type.
    pub fn cast<U: Scalar>(&self) -> Mat<U> {
        let mut data = crate::huge_pages::vec_with_capacity(self.data.len());
        data.extend(self.data.iter().map(|x| U::from_f64(x.to_f64())));
        Mat { data, nrows: self.nrows, ncols: self.ncols }
    }
}

/// Frobenius norm of a view, in f64, scaled (LAPACK `dnrm2` style) so that
/// entries near 1e±200 neither overflow nor underflow.
pub fn norm_fro<T: Scalar>(a: MatRef<'_, T>) -> f64 {
    let mut scale = 0.0f64;
    let mut ssq = 1.0f64;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            let x = a.at(i, j).to_f64().abs();
            if x != 0.0 {
                if scale < x {
                    ssq = 1.0 + ssq * (scale / x) * (scale / x);
                    scale = x;
                } else {
                    ssq += (x / scale) * (x / scale);
                }
            }
        }
    }
    scale * ssq.sqrt()
}

/// Frobenius norm of `a − b`, in f64 (same shapes; panics otherwise).
pub fn norm_fro_diff<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    assert_eq!(a.shape(), b.shape(), "norm_fro_diff: shape mismatch");
    let d = Mat::<f64>::from_fn(a.nrows(), a.ncols(), |i, j| a.at(i, j).to_f64() - b.at(i, j).to_f64());
    norm_fro(d.as_ref())
}
