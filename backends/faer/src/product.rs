//! The products: `gemm`, GᵀG, and the right-invariant step P = G·Φ.

use crate::elementwise::{scale_faer, sub_scaled_faer};
use crate::scalar::FaerScalar;
use crate::view::{faer_mut, faer_ref};
use dspgd_backend::{MatMut, MatRef};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Par};

/// C ← β·C + α·A·B.
pub(crate) fn gemm<T: FaerScalar>(mut c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T, par: Par) {
    let (m, n) = c.shape();
    if m == 0 || n == 0 {
        return;
    }
    let mut cf = faer_mut(&mut c);
    if a.ncols() == 0 {
        // An empty sum: C ← β·C.
        scale_faer(cf, beta);
        return;
    }
    let accum = if beta == T::ZERO {
        Accum::Replace
    } else {
        if beta != T::ONE {
            scale_faer(cf.rb_mut(), beta);
        }
        Accum::Add
    };
    T::matmul(cf, accum, faer_ref(a), faer_ref(b), alpha, par);
}

/// C ← A·Aᵀ: faer's triangular product forms the lower triangle (half the
/// flops of a gemm), which is then mirrored so C is exactly symmetric.
pub(crate) fn syrk<T: FaerScalar>(mut c: MatMut<'_, T>, a: MatRef<'_, T>, par: Par) {
    if c.nrows() == 0 {
        return;
    }
    if a.ncols() == 0 {
        c.fill(T::ZERO);
        return;
    }
    T::syrk_lower(faer_mut(&mut c), faer_ref(a), par);
    c.mirror_lower_to_upper();
}

/// GᵀG (k×k, row-major, f64) into `out[..k·k]`, formed in `T` by faer and widened.
pub(crate) fn gram<T: FaerScalar>(g: MatRef<'_, T>, out: &mut [f64], par: Par) {
    let (d, k) = g.shape();
    let out = &mut out[..k * k];
    if k == 0 {
        return;
    }
    if d == 0 {
        out.fill(0.0);
        return;
    }
    T::with_scratch(k * k, |buf| {
        let gf = faer_ref(g);
        let dst = faer::MatMut::from_row_major_slice_mut(buf, k, k);
        T::matmul(dst, Accum::Replace, gf.transpose(), gf, T::ONE, par);
        for (o, &v) in out.iter_mut().zip(buf.iter()) {
            *o = v.to_f64();
        }
    });
}

/// Rows per block of the right-invariant step: W_B and P_B stay in cache
/// between the update of W and the product that overwrites P.
const RIGHT_BLOCK_ROWS: usize = 256;

/// W −= η_prev·P, then P = G·Φ, block of rows by block of rows.
pub(crate) fn right_step<T: FaerScalar>(
    g: MatRef<'_, T>,
    phi: MatRef<'_, T>,
    eta_prev: T,
    mut w: MatMut<'_, T>,
    mut p: MatMut<'_, T>,
    par: Par,
) {
    let (d, k) = g.shape();
    if d == 0 || k == 0 {
        return;
    }
    let (gf, phif) = (faer_ref(g), faer_ref(phi));
    let mut wf = faer_mut(&mut w);
    let mut pf = faer_mut(&mut p);
    if eta_prev == T::ZERO {
        T::matmul(pf, Accum::Replace, gf, phif, T::ONE, par);
        return;
    }
    let mut start = 0;
    while start < d {
        let len = RIGHT_BLOCK_ROWS.min(d - start);
        let pb = pf.rb_mut().subrows_mut(start, len);
        sub_scaled_faer(wf.rb_mut().subrows_mut(start, len), eta_prev, pb.rb());
        T::matmul(pb, Accum::Replace, gf.subrows(start, len), phif, T::ONE, Par::Seq);
        start += len;
    }
}
