//! The products through CBLAS: `gemm` (and `gemv` where one side of the
//! result is a vector), GᵀG through `dsyrk`, and the right-invariant step
//! P = G·Φ.
//!
//! [`product_in_place`] is the one place that calls `cblas_?gemm` /
//! `cblas_?gemv`; it only takes operands CBLAS can read in place (see
//! [`crate::layout`]). [`gemm`] packs the others into scratch first.

use crate::elementwise::{scale, scale_add, sub_scaled};
use crate::layout::{blas_ok, dim, layout_of, ld_in, pack, Order};
use crate::scalar::BlasScalar;
use cblas_sys::{CBLAS_TRANSPOSE, CBLAS_UPLO};
use core::ffi::c_int;
use dspgd_backend::{MatMut, MatRef};

/// The CBLAS increment of a vector view (`len × 1`): its row stride, 1 when
/// it has at most one element.
#[inline]
fn inc(len: usize, stride: usize) -> c_int {
    if len <= 1 {
        1
    } else {
        c_int::try_from(stride).expect("checked by blas_ok")
    }
}

/// C ← β·C + α·A·B by one CBLAS call, when C, A and B can all be used in
/// place; returns false (and does nothing) otherwise. With β = 0, C's old
/// contents are ignored (C is zeroed first, so NaN in C never leaks, whatever
/// this OpenBLAS version does with β = 0). Shapes are the caller's promise.
///
/// A result with one column (or one row) is a matrix-vector product:
/// `?gemv`, with the transposes that make the vector a column.
pub(crate) fn product_in_place<T: BlasScalar>(
    c: &mut MatMut<'_, T>,
    beta: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
) -> bool {
    let (m, n) = c.shape();
    let l = a.ncols();
    debug_assert_eq!((a.nrows(), b.nrows(), b.ncols()), (m, l, n));
    if m == 0 || n == 0 {
        return true;
    }
    if l == 0 {
        // An empty sum: C ← β·C.
        scale(c, beta);
        return true;
    }
    if !(blas_ok(c.rb()) && blas_ok(a) && blas_ok(b)) {
        return false;
    }
    if beta == T::ZERO {
        scale(c, T::ZERO);
    }
    if n == 1 {
        gemv(c.rb_mut(), beta, a, b, alpha);
    } else if m == 1 {
        // C (1×n) = a·B  ⇔  Cᵀ = Bᵀ·aᵀ.
        gemv(c.rb_mut().transpose(), beta, b.transpose(), a.transpose(), alpha);
    } else {
        gemm_call(c.rb_mut(), beta, a, b, alpha);
    }
    true
}

/// y ← β·y + α·A·x, y: len×1, A: len×l, x: l×1; all checked by `blas_ok`.
fn gemv<T: BlasScalar>(mut y: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, x: MatRef<'_, T>, alpha: T) {
    let (len, l) = a.shape();
    let (order, lda) = layout_of(a).expect("checked by blas_ok");
    let incx = inc(l, x.row_stride());
    let incy = inc(len, y.row_stride());
    let (m_, n_) = (dim(len), dim(l));
    let (ap, xp) = (a.as_slice().as_ptr(), x.as_slice().as_ptr());
    let yp = y.as_mut_slice().as_mut_ptr();
    // SAFETY:
    // - `layout_of(a)` gave an order and leading dimension with which every
    //   element (i, j), i < len, j < l, sits at `i·lda + j` (row-major) or
    //   `i + j·lda` (column-major) from `ap`: `lda` equals the view's stride
    //   on every axis longer than 1 (see `layout::ld_in`), and the view was
    //   checked at construction to lie inside its slice; `lda ≥ max(1, l)`
    //   (row-major) or `≥ max(1, len)` (column-major), as CBLAS requires;
    // - x's elements j·incx, j < l, and y's elements i·incy, i < len, lie in
    //   their slices for the same reason; the increments are ≥ 1;
    // - y is written through a pointer from an exclusive borrow (`MatMut`),
    //   so it overlaps neither `a` nor `x` (shared borrows), and its elements
    //   are pairwise distinct (checked when the `MatMut` was made);
    // - all dimensions, leading dimensions and increments fit in `c_int`
    //   (`dim`, `ld_in` and `inc` check), and len, l ≥ 1 here.
    unsafe {
        T::cblas_gemv(order.cblas(), CBLAS_TRANSPOSE::CblasNoTrans, m_, n_, alpha, ap, lda, xp, incx, beta, yp, incy);
    }
}

/// How CBLAS reads an operand for a product stored in `order`: in place
/// (`NoTrans`) or as the transpose of a matrix in the other order (`Trans`).
fn trans_for<T: Copy>(m: MatRef<'_, T>, order: Order) -> (CBLAS_TRANSPOSE, c_int) {
    let (r, c, rs, cs) = (m.nrows(), m.ncols(), m.row_stride(), m.col_stride());
    if let Some(ld) = ld_in(r, c, rs, cs, order) {
        (CBLAS_TRANSPOSE::CblasNoTrans, ld)
    } else {
        let ld = ld_in(r, c, rs, cs, order.other()).expect("checked by blas_ok");
        (CBLAS_TRANSPOSE::CblasTrans, ld)
    }
}

/// C ← β·C + α·A·B by `?gemm`; all checked by `blas_ok`, all dimensions ≥ 1.
fn gemm_call<T: BlasScalar>(mut c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
    let (m, n) = c.shape();
    let l = a.ncols();
    let (order, ldc) = layout_of(c.rb()).expect("checked by blas_ok");
    let (ta, lda) = trans_for(a, order);
    let (tb, ldb) = trans_for(b, order);
    let (m_, n_, l_) = (dim(m), dim(n), dim(l));
    let (ap, bp) = (a.as_slice().as_ptr(), b.as_slice().as_ptr());
    let cp = c.as_mut_slice().as_mut_ptr();
    // SAFETY:
    // - C is read in `order` with `ldc` ≥ its contiguous length; A and B are
    //   read either in `order` (NoTrans, ld ≥ their contiguous length) or as
    //   the transpose of a matrix stored in the other order (Trans, ld ≥ the
    //   length of that matrix's contiguous axis): exactly the shapes and
    //   leading-dimension bounds CBLAS requires for M = m, N = n, K = l;
    // - each leading dimension equals the view's stride on every axis longer
    //   than 1 (`layout::ld_in`), so every element CBLAS addresses is an
    //   element of the view, inside its slice (checked at construction);
    // - C comes from an exclusive borrow, so it overlaps neither A nor B, and
    //   its elements are pairwise distinct; all sizes fit in `c_int`.
    unsafe {
        T::cblas_gemm(order.cblas(), ta, tb, m_, n_, l_, alpha, ap, lda, bp, ldb, beta, cp, ldc);
    }
}

/// C ← β·C + α·A·B on any strided views: in place when CBLAS can read them,
/// otherwise through packed row-major copies in scratch.
pub(crate) fn gemm<T: BlasScalar>(mut c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
    let (m, n) = c.shape();
    let l = a.ncols();
    if product_in_place(&mut c, beta, a, b, alpha) {
        return;
    }
    let (a_ok, b_ok, c_ok) = (blas_ok(a), blas_ok(b), blas_ok(c.rb()));
    let need = |ok: bool, len: usize| if ok { 0 } else { len };
    let (la, lb, lc) = (need(a_ok, m * l), need(b_ok, l * n), need(c_ok, m * n));
    T::with_scratch(la + lb + lc, |buf| {
        let (ba, rest) = buf.split_at_mut(la);
        let (bb, bc) = rest.split_at_mut(lb);
        let a = if a_ok { a } else { pack(a, ba) };
        let b = if b_ok { b } else { pack(b, bb) };
        if c_ok {
            assert!(product_in_place(&mut c, beta, a, b, alpha), "packed operands are BLAS-readable");
        } else {
            let mut t = MatMut::from_row_major(bc, m, n).expect("exact length");
            assert!(product_in_place(&mut t, T::ZERO, a, b, alpha), "packed operands are BLAS-readable");
            scale_add(c, beta, t.rb());
        }
    });
}

/// C ← A·Aᵀ (A: m×l, C: m×m) by `?syrk`, which forms the lower triangle
/// (half the flops of `?gemm`), mirrored after so C is exactly symmetric.
/// Operands CBLAS cannot read in place go through a packed copy.
pub(crate) fn syrk<T: BlasScalar>(mut c: MatMut<'_, T>, a: MatRef<'_, T>) {
    let (m, l) = a.shape();
    if m == 0 {
        return;
    }
    if l == 0 {
        c.fill(T::ZERO);
        return;
    }
    let a_ok = blas_ok(a);
    let c_ok = blas_ok(c.rb());
    let la = if a_ok { 0 } else { m * l };
    let lc = if c_ok { 0 } else { m * m };
    T::with_scratch(la + lc, |buf| {
        let (ba, bc) = buf.split_at_mut(la);
        let a = if a_ok { a } else { pack(a, ba) };
        if c_ok {
            syrk_lower(c.rb_mut(), a);
            c.mirror_lower_to_upper();
        } else {
            let mut t = MatMut::from_row_major(bc, m, m).expect("exact length");
            syrk_lower(t.rb_mut(), a);
            t.mirror_lower_to_upper();
            c.copy_from(t.rb());
        }
    });
}

/// The lower triangle of C ← A·Aᵀ by one `?syrk` call; C and A readable in
/// place (`blas_ok`), m, l ≥ 1.
fn syrk_lower<T: BlasScalar>(mut c: MatMut<'_, T>, a: MatRef<'_, T>) {
    let (m, l) = a.shape();
    let (order, ldc) = layout_of(c.rb()).expect("checked by blas_ok");
    // A in C's order is the N×K operand of `NoTrans`; A stored in the other
    // order is Aᵀ (l×m) in C's order, read with `Trans`.
    let (trans, lda) = trans_for(a, order);
    let (m_, l_) = (dim(m), dim(l));
    let ap = a.as_slice().as_ptr();
    let cp = c.as_mut_slice().as_mut_ptr();
    // SAFETY:
    // - C (m×m) is read in `order` with `ldc` ≥ m; with `CblasLower` in that
    //   order, CBLAS writes exactly the elements (i, j), i ≥ j, of the view;
    // - A is read in `order` (NoTrans: m×l, lda ≥ its contiguous length) or
    //   as the transpose of an l×m matrix stored in the other order (Trans),
    //   as CBLAS requires for N = m, K = l; `ld_in` checked that each leading
    //   dimension is the view's stride on every axis longer than 1, so every
    //   element addressed lies inside the view's slice (checked at
    //   construction);
    // - C comes from an exclusive borrow, so it does not overlap A, and its
    //   elements are pairwise distinct; m, l ≥ 1 and fit in `c_int` (`dim`).
    unsafe {
        T::cblas_syrk(order.cblas(), CBLAS_UPLO::CblasLower, trans, m_, l_, T::ONE, ap, lda, T::ZERO, cp, ldc);
    }
}

/// Rows of G widened to f64 per `dsyrk` call on the f32 (or unreadable) path.
const GRAM_BLOCK_ROWS: usize = 256;

/// GᵀG (k×k, row-major, f64) into `out[..k·k]`, summed in f64: `dsyrk` on G
/// itself for f64 views CBLAS can read, otherwise on row blocks of G widened
/// to f64 (products of f32 values are exact in f64).
pub(crate) fn gram<T: BlasScalar>(g: MatRef<'_, T>, out: &mut [f64]) {
    let (d, k) = g.shape();
    let out = &mut out[..k * k];
    out.fill(0.0);
    if k == 0 || d == 0 {
        return;
    }
    let upper_in_row_major = match (T::as_f64_slice(g.as_slice()), layout_of(g)) {
        (Some(gs), Some((order, ld))) => {
            syrk_upper(order, gs, ld, d, k, 0.0, out);
            order == Order::Row
        }
        _ => {
            let block = GRAM_BLOCK_ROWS.min(d);
            f64::with_scratch(block * k, |buf| {
                let mut start = 0;
                while start < d {
                    let len = block.min(d - start);
                    let b = &mut buf[..len * k];
                    for i in 0..len {
                        for (j, v) in b[i * k..(i + 1) * k].iter_mut().enumerate() {
                            *v = g.at(start + i, j).to_f64();
                        }
                    }
                    syrk_upper(Order::Row, b, dim(k.max(1)), len, k, 1.0, out);
                    start += len;
                }
            });
            true
        }
    };
    // `dsyrk` wrote one triangle: the upper one of the row-major `out` when
    // called row-major, the lower one (its upper one, read column-major) otherwise.
    for i in 0..k {
        for j in i + 1..k {
            if upper_in_row_major {
                out[j * k + i] = out[i * k + j];
            } else {
                out[i * k + j] = out[j * k + i];
            }
        }
    }
}

/// The upper triangle (in `order`) of C ← β·C + AᵀA, A: `d × k` stored in
/// `order` with leading dimension `lda` (≥ its contiguous length), C: k×k in `out`.
fn syrk_upper(order: Order, a: &[f64], lda: c_int, d: usize, k: usize, beta: f64, out: &mut [f64]) {
    assert!(out.len() >= k * k);
    // The last element of A the call touches, as a bound check.
    let last = match order {
        Order::Row => (d - 1) * lda as usize + (k - 1),
        Order::Col => (d - 1) + (k - 1) * lda as usize,
    };
    assert!(last < a.len(), "syrk operand out of its slice");
    let (n_, k_) = (dim(k), dim(d));
    // SAFETY:
    // - A is `d × k` in `order` with `lda` ≥ the length of its contiguous
    //   axis (k row-major, d column-major): with `CblasTrans`, that is the
    //   K × N = d × k operand CBLAS expects; its last element is inside `a`
    //   (asserted above), so all are;
    // - C is k×k with ldc = k inside `out` (asserted), an exclusive borrow
    //   that cannot overlap `a`; k, d ≥ 1 and fit in `c_int` (`dim`).
    unsafe {
        cblas_sys::cblas_dsyrk(
            order.cblas(),
            CBLAS_UPLO::CblasUpper,
            CBLAS_TRANSPOSE::CblasTrans,
            n_,
            k_,
            1.0,
            a.as_ptr(),
            lda,
            beta,
            out.as_mut_ptr(),
            n_,
        );
    }
}

/// Rows per block of the right-invariant step: W_B and P_B stay in cache
/// between the update of W and the product that overwrites P.
const RIGHT_BLOCK_ROWS: usize = 256;

/// W −= η_prev·P, then P = G·Φ, block of rows by block of rows.
pub(crate) fn right_step<T: BlasScalar>(
    g: MatRef<'_, T>,
    phi: MatRef<'_, T>,
    eta_prev: T,
    mut w: MatMut<'_, T>,
    mut p: MatMut<'_, T>,
) {
    let (d, k) = g.shape();
    if d == 0 || k == 0 {
        return;
    }
    if eta_prev == T::ZERO {
        gemm(p, T::ZERO, g, phi, T::ONE);
        return;
    }
    let mut start = 0;
    while start < d {
        let len = RIGHT_BLOCK_ROWS.min(d - start);
        let mut p_b = p.rb_mut().rows(start, len);
        sub_scaled(w.rb_mut().rows(start, len), eta_prev, p_b.rb());
        gemm(p_b.rb_mut(), T::ZERO, g.rows(start, len), phi, T::ONE);
        start += len;
    }
}
