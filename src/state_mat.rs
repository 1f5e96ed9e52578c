//! The primal path's d×k state (W, P, G): aligned to a cache line, in the
//! layout the backend runs fastest with ([`Backend::prefers_col_major`]).
//!
//! Column-major for the SIMD backend, whose sweep works on Pᵀ and Gᵀ (k rows
//! of d): with P and G row-major it transposed both at every sweep.
//! Measured on n = 200, d = 2000, k = 10 (`dspgd bench --shape S2 --precond
//! gd`, one thread): 9 % more iterations/s in f64, 14 % in f32; faer (k < 32)
//! a third more. Aligned so that vector loads and stores of a column or row
//! never straddle two cache lines: malloc aligns to 16 bytes only, and
//! column-major without the alignment ran slower on two threads.

use dspgd_backend::{huge_pages, Backend, Mat, MatMut, MatRef, Scalar};

/// Alignment of the first element, in bytes.
pub(crate) const ALIGN: usize = 64;

/// Zeros with room for `len` elements from the returned offset on, which
/// is the first element on a cache line ([`ALIGN`] bytes).
pub(crate) fn zeros_on_a_line<T: Scalar>(len: usize) -> (Vec<T>, usize) {
    let pad = ALIGN / core::mem::size_of::<T>();
    let mut data = huge_pages::vec_with_capacity(len + pad);
    data.resize(len + pad, T::ZERO);
    let off = (data.as_ptr() as usize).wrapping_neg() % ALIGN / core::mem::size_of::<T>();
    (data, off)
}

/// A d×k matrix, row- or column-major, its first element on a cache line.
pub(crate) struct StateMat<T> {
    /// Storage, `off` elements of padding first.
    data: Vec<T>,
    off: usize,
    nrows: usize,
    ncols: usize,
    col_major: bool,
}

impl<T: Scalar> StateMat<T> {
    /// Zeros, d×k, in the layout `b` prefers.
    pub fn zeros(b: &dyn Backend<T>, nrows: usize, ncols: usize) -> Self {
        let (data, off) = zeros_on_a_line(nrows * ncols);
        Self { data, off, nrows, ncols, col_major: b.prefers_col_major(nrows, ncols) }
    }

    /// A copy of `m`, in the layout `b` prefers.
    pub fn copy_of(b: &dyn Backend<T>, m: MatRef<'_, T>) -> Self {
        let mut s = Self::zeros(b, m.nrows(), m.ncols());
        s.as_mut().copy_from(m);
        s
    }

    /// The d×k view.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        let (data, r, c) = (&self.data[self.off..self.off + self.nrows * self.ncols], self.nrows, self.ncols);
        if self.col_major { MatRef::from_col_major(data, r, c) } else { MatRef::from_row_major(data, r, c) }.expect("length checked")
    }

    /// The d×k view, mutable.
    pub fn as_mut(&mut self) -> MatMut<'_, T> {
        let (data, r, c) = (&mut self.data[self.off..self.off + self.nrows * self.ncols], self.nrows, self.ncols);
        if self.col_major { MatMut::from_col_major(data, r, c) } else { MatMut::from_row_major(data, r, c) }.expect("length checked")
    }

    /// The elements in storage order, for the sum of G across ranks (every
    /// rank runs the same kernel, so every rank's G has the same layout).
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data[self.off..self.off + self.nrows * self.ncols]
    }

    /// A row-major copy (what the solver returns).
    pub fn to_mat(&self) -> Mat<T> {
        self.as_ref().to_owned()
    }
}
