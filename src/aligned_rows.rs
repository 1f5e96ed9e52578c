//! A copy of X with every row on a cache line, for backends whose sweep
//! runs faster so ([`Backend::prefers_aligned_rows`]).
//!
//! A `Vec` is aligned to 16 bytes only (a large one from glibc starts 16
//! bytes past a cache line), so most 64-byte vector loads of a row-major X
//! in it touch two lines; rows whose length is not a multiple of 64 bytes
//! drift off the lines too. The copy starts on a line and pads each row to
//! a whole number of lines. It is made once, at setup, only when the
//! backend asks and the given X is not on lines already; its size is that
//! of X (the SIMD backend asks below 16 MiB, for k ≤ 32). It holds the same
//! values, so the solution is the same, bit for bit.

use crate::state_mat::{zeros_on_a_line, ALIGN};
use dspgd_backend::{Backend, MatRef, Scalar};

/// An n×d copy of X, rows padded to a multiple of [`ALIGN`] bytes.
pub(crate) struct AlignedRows<T> {
    /// Storage: `off` elements of padding, then n rows of `stride` elements.
    data: Vec<T>,
    off: usize,
    nrows: usize,
    ncols: usize,
    stride: usize,
}

impl<T: Scalar> AlignedRows<T> {
    /// The copy of `x` that `b` asks for (W with k columns), or `None` when
    /// it does not ask or every row of `x` already starts on a cache line.
    pub fn wanted(b: &dyn Backend<T>, x: MatRef<'_, T>, k: usize) -> Option<Self> {
        let (n, d) = x.shape();
        Self::copy_if(n > 0 && b.prefers_aligned_rows(n, d, k), x)
    }

    /// The copy of `x` when `asked` and its rows are contiguous, more than
    /// one element long and not all on cache lines.
    fn copy_if(asked: bool, x: MatRef<'_, T>) -> Option<Self> {
        let (n, d) = x.shape();
        let size = core::mem::size_of::<T>();
        if !asked || n == 0 || d < 2 || x.col_stride() != 1 || ALIGN % size != 0 {
            return None;
        }
        let first = x.as_slice().as_ptr() as usize;
        let rows_aligned = n == 1 || (x.row_stride() * size) % ALIGN == 0;
        if first % ALIGN == 0 && rows_aligned {
            return None;
        }
        let lane = ALIGN / size;
        let stride = d.next_multiple_of(lane);
        let (mut data, off) = zeros_on_a_line(n * stride);
        for i in 0..n {
            data[off + i * stride..][..d].copy_from_slice(&x.rows(i, 1).as_slice()[..d]);
        }
        Some(Self { data, off, nrows: n, ncols: d, stride })
    }

    /// The copy, as an n×d view with padded rows.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        let used = (self.nrows - 1) * self.stride + self.ncols;
        MatRef::from_strided(&self.data[self.off..self.off + used], self.nrows, self.ncols, self.stride, 1).expect("the buffer holds every row")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspgd_backend::Mat;

    #[test]
    fn copies_off_line_rows_onto_lines_with_the_same_values() {
        let x = Mat::<f64>::from_fn(5, 13, |i, j| (i * 13 + j) as f64 + 0.5);
        // One element past the start: off a line whatever the allocator did.
        let mut buf = vec![0.0; 1 + 5 * 13];
        buf[1..].copy_from_slice(x.as_slice());
        let shifted = MatRef::from_row_major(&buf[1..], 5, 13).unwrap();
        let copy = AlignedRows::copy_if(true, shifted).expect("rows off a line are copied");
        let c = copy.as_ref();
        assert_eq!(c.shape(), (5, 13));
        for i in 0..5 {
            assert_eq!(c.rows(i, 1).as_slice().as_ptr() as usize % ALIGN, 0, "row {i} on a line");
            for j in 0..13 {
                assert_eq!(c.at(i, j).to_bits(), x.at(i, j).to_bits());
            }
        }
        // Already on lines, or not asked: no copy.
        assert!(AlignedRows::copy_if(true, c).is_none());
        assert!(AlignedRows::copy_if(false, shifted).is_none());
        // Column-major: not copied (the sweep gathers its rows anyway).
        assert!(AlignedRows::copy_if(true, shifted.transpose()).is_none());
    }

    #[cfg(feature = "simd")]
    #[test]
    fn the_simd_backend_asks_for_an_x_read_from_cache_only() {
        let b = <f64 as crate::Float>::named_backend(crate::BackendChoice::Simd, 1).expect("simd is compiled");
        assert!(b.prefers_aligned_rows(200, 2000, 1));
        assert!(!b.prefers_aligned_rows(2000, 50000, 1));
        assert!(!b.prefers_aligned_rows(200, 2000, 100));
    }
}
