//! The O(size) operations of the trait (everything but `gemm` and the
//! sweep): loss gradient, line-search trial, dot, axpy, the fused
//! precondition-and-update pass, and GᵀG.
//!
//! Each is a pulp `WithSimd` operation. Packed operands (all in the same
//! order) are walked as flat slices by the line kernels of [`crate::lines`];
//! mixed or strided layouts are copied by blocks of rows into packed scratch
//! and back. The scratch is taken (outside the vectorized region) from the
//! per-thread buffer of [`SimdScalar::with_scratch`].

use crate::elem::SimdScalar;
use crate::layout::{all_packed_alike, block_rows, flat, flat_mut, gather_rows, packed, row_run, row_run_mut, scatter_rows};
use crate::level::Token;
use crate::lines;
use crate::maps::{LossOp, MapOp, VLoss, VMap};
use dspgd_backend::{MatMut, MatRef};
use pulp::{Simd, WithSimd};

/// Scratch elements for the copied path of an operation on `m×k` operands
/// with `operands` operands (0 when every operand is packed alike).
#[inline]
pub(crate) fn copy_scratch(is_flat: bool, m: usize, k: usize, operands: usize) -> usize {
    if is_flat {
        0
    } else {
        operands * block_rows(k).min(m.max(1)) * k
    }
}

// ---------------------------------------------------------------- loss_grad

/// D = ∇ℓ(R): the loss-generic entry point.
pub(crate) struct LossGradRun<'a, 'b, T> {
    pub(crate) token: Token,
    pub(crate) r: MatRef<'a, T>,
    pub(crate) d: MatMut<'b, T>,
}

impl<T: SimdScalar> LossOp<T> for LossGradRun<'_, '_, T> {
    type Output = [f64; 2];
    fn run<L: VLoss<T>>(self, l: L) -> [f64; 2] {
        let LossGradRun { token, r, d } = self;
        let is_flat = all_packed_alike(&[packed(r), packed(d.rb())]);
        let (m, k) = r.shape();
        T::simd_scratch(copy_scratch(is_flat, m, k, 2), |buf| token.run(LossGrad { l, r, d, is_flat, buf }))
    }
}

struct LossGrad<'a, 'b, 'c, T, L> {
    l: L,
    r: MatRef<'a, T>,
    d: MatMut<'b, T>,
    is_flat: bool,
    buf: &'c mut [T],
}

impl<T: SimdScalar, L: VLoss<T>> WithSimd for LossGrad<'_, '_, '_, T, L> {
    type Output = [f64; 2];
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> [f64; 2] {
        let LossGrad { l, r, mut d, is_flat, buf } = self;
        if is_flat {
            return lines::grad::<T, S, L>(s, l, flat(r), flat_mut(&mut d));
        }
        let (m, k) = r.shape();
        let rb = block_rows(k);
        let (rbuf, dbuf) = buf.split_at_mut(buf.len() / 2);
        let mut out = [0.0; 2];
        let mut i0 = 0;
        while i0 < m {
            let len = rb.min(m - i0);
            gather_rows(r, i0, len, rbuf);
            let o = lines::grad::<T, S, L>(s, l, &rbuf[..len * k], &mut dbuf[..len * k]);
            scatter_rows(&mut d, i0, len, dbuf);
            out[0] += o[0];
            out[1] += o[1];
            i0 += len;
        }
        out
    }
}

// ---------------------------------------------------------------- loss_along

/// Σℓ(R − η·Q): the loss-generic entry point.
pub(crate) struct AlongRun<'a, 'b, T> {
    pub(crate) token: Token,
    pub(crate) r: MatRef<'a, T>,
    pub(crate) q: MatRef<'b, T>,
    pub(crate) eta: T,
}

impl<T: SimdScalar> LossOp<T> for AlongRun<'_, '_, T> {
    type Output = f64;
    fn run<L: VLoss<T>>(self, l: L) -> f64 {
        let AlongRun { token, r, q, eta } = self;
        let is_flat = all_packed_alike(&[packed(r), packed(q)]);
        let (m, k) = r.shape();
        T::simd_scratch(copy_scratch(is_flat, m, k, 2), |buf| token.run(Along { l, r, q, eta, is_flat, buf }))
    }
}

struct Along<'a, 'b, 'c, T, L> {
    l: L,
    r: MatRef<'a, T>,
    q: MatRef<'b, T>,
    eta: T,
    is_flat: bool,
    buf: &'c mut [T],
}

impl<T: SimdScalar, L: VLoss<T>> WithSimd for Along<'_, '_, '_, T, L> {
    type Output = f64;
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> f64 {
        let Along { l, r, q, eta, is_flat, buf } = self;
        if is_flat {
            return lines::along::<T, S, L>(s, l, flat(r), flat(q), eta);
        }
        let (m, k) = r.shape();
        let rb = block_rows(k);
        let (rbuf, qbuf) = buf.split_at_mut(buf.len() / 2);
        let mut out = 0.0;
        let mut i0 = 0;
        while i0 < m {
            let len = rb.min(m - i0);
            gather_rows(r, i0, len, rbuf);
            gather_rows(q, i0, len, qbuf);
            out += lines::along::<T, S, L>(s, l, &rbuf[..len * k], &qbuf[..len * k], eta);
            i0 += len;
        }
        out
    }
}

// ---------------------------------------------------------------- dot

/// ⟨A, B⟩ in f64.
pub(crate) struct Dot<'a, 'b, 'c, T> {
    pub(crate) a: MatRef<'a, T>,
    pub(crate) b: MatRef<'b, T>,
    pub(crate) is_flat: bool,
    pub(crate) buf: &'c mut [T],
}

impl<T: SimdScalar> WithSimd for Dot<'_, '_, '_, T> {
    type Output = f64;
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> f64 {
        let Dot { a, b, is_flat, buf } = self;
        if is_flat {
            return lines::dot::<T, S>(s, flat(a), flat(b));
        }
        let (m, k) = a.shape();
        let rb = block_rows(k);
        let (abuf, bbuf) = buf.split_at_mut(buf.len() / 2);
        let mut out = 0.0;
        let mut i0 = 0;
        while i0 < m {
            let len = rb.min(m - i0);
            gather_rows(a, i0, len, abuf);
            gather_rows(b, i0, len, bbuf);
            out += lines::dot::<T, S>(s, &abuf[..len * k], &bbuf[..len * k]);
            i0 += len;
        }
        out
    }
}

// ---------------------------------------------------------------- axpy

/// Y += α·X.
pub(crate) struct Axpy<'a, 'b, 'c, T> {
    pub(crate) y: MatMut<'a, T>,
    pub(crate) alpha: T,
    pub(crate) x: MatRef<'b, T>,
    pub(crate) is_flat: bool,
    pub(crate) buf: &'c mut [T],
}

impl<T: SimdScalar> WithSimd for Axpy<'_, '_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let Axpy { mut y, alpha, x, is_flat, buf } = self;
        if is_flat {
            return lines::axpy::<T, S>(s, flat_mut(&mut y), alpha, flat(x));
        }
        let (m, k) = x.shape();
        let rb = block_rows(k);
        let (ybuf, xbuf) = buf.split_at_mut(buf.len() / 2);
        let mut i0 = 0;
        while i0 < m {
            let len = rb.min(m - i0);
            gather_rows(y.rb(), i0, len, ybuf);
            gather_rows(x, i0, len, xbuf);
            lines::axpy::<T, S>(s, &mut ybuf[..len * k], alpha, &xbuf[..len * k]);
            scatter_rows(&mut y, i0, len, ybuf);
            i0 += len;
        }
    }
}

// ---------------------------------------------------------------- P = map(G), W −= η_prev·P

/// The fused precondition-and-update pass with an elementwise map: the
/// map-generic entry point.
pub(crate) struct StepRun<'a, 'b, 'c, T> {
    pub(crate) token: Token,
    pub(crate) g: MatRef<'a, T>,
    pub(crate) eta_prev: T,
    pub(crate) w: MatMut<'b, T>,
    pub(crate) p: MatMut<'c, T>,
}

impl<T: SimdScalar> MapOp<T> for StepRun<'_, '_, '_, T> {
    type Output = ();
    fn run<M: VMap<T>>(self, m: M) {
        let StepRun { token, g, eta_prev, w, p } = self;
        let is_flat = all_packed_alike(&[packed(g), packed(w.rb()), packed(p.rb())]);
        let (rows, k) = g.shape();
        T::simd_scratch(copy_scratch(is_flat, rows, k, 3), |buf| {
            token.run(StepMap { m, g, eta_prev, w, p, is_flat, buf });
        });
    }
}

struct StepMap<'a, 'b, 'c, 'd, T, M> {
    m: M,
    g: MatRef<'a, T>,
    eta_prev: T,
    w: MatMut<'b, T>,
    p: MatMut<'c, T>,
    is_flat: bool,
    buf: &'d mut [T],
}

impl<T: SimdScalar, M: VMap<T>> WithSimd for StepMap<'_, '_, '_, '_, T, M> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let StepMap { m, g, eta_prev, mut w, mut p, is_flat, buf } = self;
        let move_w = eta_prev != T::ZERO;
        if is_flat {
            let (gs, ws, ps) = (flat(g), flat_mut(&mut w), flat_mut(&mut p));
            if move_w {
                lines::step::<T, S, M, true>(s, m, gs, eta_prev, ws, ps);
            } else {
                lines::step::<T, S, M, false>(s, m, gs, eta_prev, ws, ps);
            }
            return;
        }
        let (rows, k) = g.shape();
        let rb = block_rows(k);
        let third = buf.len() / 3;
        let (gbuf, rest) = buf.split_at_mut(third);
        let (wbuf, pbuf) = rest.split_at_mut(third);
        let mut i0 = 0;
        while i0 < rows {
            let len = rb.min(rows - i0);
            let n = len * k;
            gather_rows(g, i0, len, gbuf);
            gather_rows(p.rb(), i0, len, pbuf);
            if move_w {
                gather_rows(w.rb(), i0, len, wbuf);
                lines::step::<T, S, M, true>(s, m, &gbuf[..n], eta_prev, &mut wbuf[..n], &mut pbuf[..n]);
                scatter_rows(&mut w, i0, len, wbuf);
            } else {
                lines::step::<T, S, M, false>(s, m, &gbuf[..n], eta_prev, &mut wbuf[..n], &mut pbuf[..n]);
            }
            scatter_rows(&mut p, i0, len, pbuf);
            i0 += len;
        }
    }
}

// ---------------------------------------------------------------- P = G·Φ, W −= η_prev·P

/// Elements of scratch for Φ padded to whole vectors (at most 16 lanes).
#[inline]
pub(crate) fn phi_scratch(k: usize) -> usize {
    k * k.div_ceil(16) * 16
}

/// True when the rows of `g`, `w`, `p` can all be used in place.
pub(crate) fn rows_in_place<T: Copy>(g: MatRef<'_, T>, w: MatRef<'_, T>, p: MatRef<'_, T>) -> bool {
    let n = g.nrows();
    row_run(g, 0, n).is_some() && row_run(w, 0, n).is_some() && row_run(p, 0, n).is_some()
}

/// W −= η_prev·P, then P = G·Φ (Φ: k×k), row by row: each row of P is
/// Σ_l g_il·Φ[l, :], vectorized along the row (Φ padded to whole vectors).
/// With G, W and P column-major (the primal solver's layout), by columns
/// instead ([`right_cols`]).
pub(crate) struct RightStep<'a, 'b, 'c, 'd, 'e, T> {
    pub(crate) g: MatRef<'a, T>,
    pub(crate) phi: MatRef<'b, T>,
    pub(crate) eta_prev: T,
    pub(crate) w: MatMut<'c, T>,
    pub(crate) p: MatMut<'d, T>,
    pub(crate) in_place: bool,
    /// G, W and P column-major packed (their transposes in place).
    pub(crate) by_cols: bool,
    pub(crate) buf: &'e mut [T],
}

impl<T: SimdScalar> WithSimd for RightStep<'_, '_, '_, '_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let RightStep { g, phi, eta_prev, mut w, mut p, in_place, by_cols, buf } = self;
        let (rows, k) = g.shape();
        if rows == 0 || k == 0 {
            return;
        }
        let lanes = T::lanes::<S>();
        let kp = k.div_ceil(lanes) * lanes;
        let (phip, rest) = buf.split_at_mut(k * kp);
        for (l, prow) in phip.chunks_exact_mut(kp).enumerate() {
            for (j, v) in prow.iter_mut().enumerate() {
                *v = if j < k { phi.at(l, j) } else { T::ZERO };
            }
        }
        let phip: &[T] = phip;
        let move_w = eta_prev != T::ZERO;
        if in_place {
            let gs = row_run(g, 0, rows).unwrap_or(&[]);
            let ws = row_run_mut(&mut w, 0, rows).unwrap_or(&mut []);
            let ps = row_run_mut(&mut p, 0, rows).unwrap_or(&mut []);
            right_rows::<T, S>(s, gs, phip, kp, k, eta_prev, move_w, ws, ps);
            return;
        }
        if by_cols {
            let gs = row_run(g.transpose(), 0, k).unwrap_or(&[]);
            let mut wt = w.rb_mut().transpose();
            let ws = row_run_mut(&mut wt, 0, k).unwrap_or(&mut []);
            let mut pt = p.rb_mut().transpose();
            let ps = row_run_mut(&mut pt, 0, k).unwrap_or(&mut []);
            right_cols::<T, S>(s, gs, phip, kp, k, eta_prev, move_w, ws, ps);
            return;
        }
        let rb = block_rows(k);
        let third = rest.len() / 3;
        let (gbuf, rest) = rest.split_at_mut(third);
        let (wbuf, pbuf) = rest.split_at_mut(third);
        let mut i0 = 0;
        while i0 < rows {
            let len = rb.min(rows - i0);
            let n = len * k;
            gather_rows(g, i0, len, gbuf);
            gather_rows(p.rb(), i0, len, pbuf);
            if move_w {
                gather_rows(w.rb(), i0, len, wbuf);
            }
            right_rows::<T, S>(s, &gbuf[..n], phip, kp, k, eta_prev, move_w, &mut wbuf[..n], &mut pbuf[..n]);
            if move_w {
                scatter_rows(&mut w, i0, len, wbuf);
            }
            scatter_rows(&mut p, i0, len, pbuf);
            i0 += len;
        }
    }
}

/// The rows of [`RightStep`] on packed row-major slices.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn right_rows<T: SimdScalar, S: Simd>(
    s: S,
    g: &[T],
    phip: &[T],
    kp: usize,
    k: usize,
    eta_prev: T,
    move_w: bool,
    w: &mut [T],
    p: &mut [T],
) {
    let lanes = T::lanes::<S>();
    let ev = T::vsplat(s, eta_prev);
    let zero = T::vsplat(s, T::ZERO);
    let nvec = kp / lanes;
    for (i, (grow, prow)) in g.chunks_exact(k).zip(p.chunks_exact_mut(k)).enumerate() {
        if move_w {
            let wrow = &mut w[i * k..(i + 1) * k];
            let (wv, wt) = T::as_mut_simd::<S>(wrow);
            let (pv, pt) = T::as_simd::<S>(prow);
            for (wv, pv) in wv.iter_mut().zip(pv) {
                *wv = T::vfnma(s, ev, *pv, *wv);
            }
            if !wt.is_empty() {
                let v = T::vfnma(s, ev, T::partial_load(s, pt), T::partial_load(s, wt));
                T::partial_store(s, wt, v);
            }
        }
        for c in 0..nvec {
            let mut acc = zero;
            for (l, &gl) in grow.iter().enumerate() {
                let (phv, _) = T::as_simd::<S>(&phip[l * kp + c * lanes..l * kp + (c + 1) * lanes]);
                acc = T::vfma(s, T::vsplat(s, gl), phv[0], acc);
            }
            let dst = &mut prow[c * lanes..((c + 1) * lanes).min(k)];
            T::partial_store(s, dst, acc);
        }
    }
}

/// Elements of each column per pass of [`right_cols`]: the k columns of G
/// (2 KiB each in f64) stay in L1 while the k columns of P are formed.
const COL_CHUNK: usize = 256;

/// [`RightStep`] on column-major slices (`g`, `w`, `p`: k columns of d
/// elements one after the other): column c of P is Σ_l Φ[l, c]·(column l of
/// G), vectorized along the columns, by chunks of [`COL_CHUNK`] rows. Each
/// element is the same fused multiply-adds in the same order (l = 0..k) as
/// in [`right_rows`], so both layouts give the same bits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn right_cols<T: SimdScalar, S: Simd>(
    s: S,
    g: &[T],
    phip: &[T],
    kp: usize,
    k: usize,
    eta_prev: T,
    move_w: bool,
    w: &mut [T],
    p: &mut [T],
) {
    let d = g.len() / k;
    if move_w {
        // w − η·p as one fused multiply-add, as in `right_rows`.
        lines::axpy::<T, S>(s, w, T::ZERO - eta_prev, p);
    }
    let zero = T::vsplat(s, T::ZERO);
    let lanes = T::lanes::<S>();
    let load = |x: &[T]| if x.len() == lanes { T::as_simd::<S>(x).0[0] } else { T::partial_load(s, x) };
    let mut a = 0;
    while a < d {
        let len = COL_CHUNK.min(d - a);
        for c in 0..k {
            let out = &mut p[c * d + a..c * d + a + len];
            let mut i = 0;
            while i < len {
                let m = lanes.min(len - i);
                let mut acc = zero;
                for l in 0..k {
                    let gl = &g[l * d + a + i..l * d + a + i + m];
                    acc = T::vfma(s, T::vsplat(s, phip[l * kp + c]), load(gl), acc);
                }
                let dst = &mut out[i..i + m];
                if m == lanes {
                    T::as_mut_simd::<S>(dst).0[0] = acc;
                } else {
                    T::partial_store(s, dst, acc);
                }
                i += m;
            }
        }
        a += len;
    }
}

// ---------------------------------------------------------------- GᵀG

/// GᵀG (k×k, row-major, f64) into `out[..k·k]`.
///
/// Rows of G in place (row-major, padded) or copied by blocks: each row adds
/// its outer product g_iᵀg_i to k accumulator rows (vectors along the row),
/// flushed to f64 every few rows (blocked sums). Column-major G: the dot
/// products of its contiguous columns.
pub(crate) struct Gram<'a, 'b, 'c, T> {
    pub(crate) g: MatRef<'a, T>,
    pub(crate) out: &'b mut [f64],
    pub(crate) buf: &'c mut [T],
}

/// Scratch elements for [`Gram`] on a d×k matrix.
pub(crate) fn gram_scratch<T: Copy>(g: MatRef<'_, T>) -> usize {
    let (d, k) = g.shape();
    let copy = if row_run(g, 0, d).is_some() || g.row_stride() == 1 { 0 } else { block_rows(k).min(d.max(1)) * k };
    phi_scratch(k) + copy
}

impl<T: SimdScalar> WithSimd for Gram<'_, '_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let Gram { g, out, buf } = self;
        let (d, k) = g.shape();
        let out = &mut out[..k * k];
        out.fill(0.0);
        if k == 0 || d == 0 {
            return;
        }
        if let Some(rows) = row_run(g, 0, d) {
            let (acc, _) = buf.split_at_mut(phi_scratch(k));
            gram_rows::<T, S>(s, rows, k, acc, out);
            return;
        }
        if g.row_stride() == 1 {
            // Contiguous columns.
            let data = g.as_slice();
            let cs = g.col_stride();
            for a in 0..k {
                let ca = &data[a * cs..a * cs + d];
                for b in a..k {
                    let v = lines::dot::<T, S>(s, ca, &data[b * cs..b * cs + d]);
                    out[a * k + b] = v;
                    out[b * k + a] = v;
                }
            }
            return;
        }
        let (acc, gbuf) = buf.split_at_mut(phi_scratch(k));
        let rb = block_rows(k);
        let mut i0 = 0;
        while i0 < d {
            let len = rb.min(d - i0);
            gather_rows(g, i0, len, gbuf);
            gram_rows::<T, S>(s, &gbuf[..len * k], k, acc, out);
            i0 += len;
        }
    }
}

/// Adds GᵀG of the packed rows `g` (row-major, k columns) to `out` (f64).
#[inline(always)]
fn gram_rows<T: SimdScalar, S: Simd>(s: S, g: &[T], k: usize, acc: &mut [T], out: &mut [f64]) {
    let lanes = T::lanes::<S>();
    if k <= lanes {
        // One vector per row: the accumulators stay in registers.
        match k {
            1 => return gram_rows_small::<T, S, 1>(s, g, out),
            2 => return gram_rows_small::<T, S, 2>(s, g, out),
            3 => return gram_rows_small::<T, S, 3>(s, g, out),
            4 => return gram_rows_small::<T, S, 4>(s, g, out),
            5 => return gram_rows_small::<T, S, 5>(s, g, out),
            6 => return gram_rows_small::<T, S, 6>(s, g, out),
            7 => return gram_rows_small::<T, S, 7>(s, g, out),
            8 => return gram_rows_small::<T, S, 8>(s, g, out),
            _ => {}
        }
    }
    let kp = k.div_ceil(lanes) * lanes;
    let nvec = kp / lanes;
    let acc = &mut acc[..k * kp];
    // Rows summed in T before the flush to f64.
    let flush = T::SUM_CHUNK.saturating_mul(4);
    let nrows = g.len() / k;
    let mut i0 = 0;
    while i0 < nrows {
        let len = flush.min(nrows - i0);
        acc.fill(T::ZERO);
        for grow in g[i0 * k..(i0 + len) * k].chunks_exact(k) {
            for c in 0..nvec {
                let gv = T::partial_load(s, &grow[c * lanes..((c + 1) * lanes).min(k)]);
                for (a, &ga) in grow.iter().enumerate() {
                    let (av, _) = T::as_mut_simd::<S>(&mut acc[a * kp + c * lanes..a * kp + (c + 1) * lanes]);
                    av[0] = T::vfma(s, T::vsplat(s, ga), gv, av[0]);
                }
            }
        }
        for a in 0..k {
            for b in 0..k {
                out[a * k + b] += acc[a * kp + b].to_f64();
            }
        }
        i0 += len;
    }
}

/// [`gram_rows`] for K ≤ lanes columns: row i adds g_ia·g_i (one vector) to
/// accumulator a, two rows at a time with two sets of accumulators, all in
/// registers; flushed to f64 every few rows (blocked sums).
#[inline(always)]
fn gram_rows_small<T: SimdScalar, S: Simd, const K: usize>(s: S, g: &[T], out: &mut [f64]) {
    let zero = T::vsplat(s, T::ZERO);
    let flush = T::SUM_CHUNK.saturating_mul(8);
    let lanes = T::lanes::<S>();
    for block in g.chunks(flush.saturating_mul(K)) {
        let mut acc0 = [zero; K];
        let mut acc1 = [zero; K];
        let mut pairs = block.chunks_exact(2 * K);
        for pair in &mut pairs {
            let (r0, r1) = pair.split_at(K);
            let (v0, v1) = (T::partial_load(s, r0), T::partial_load(s, r1));
            for a in 0..K {
                acc0[a] = T::vfma(s, T::vsplat(s, r0[a]), v0, acc0[a]);
                acc1[a] = T::vfma(s, T::vsplat(s, r1[a]), v1, acc1[a]);
            }
        }
        let rest = pairs.remainder();
        if rest.len() == K {
            let v0 = T::partial_load(s, rest);
            for a in 0..K {
                acc0[a] = T::vfma(s, T::vsplat(s, rest[a]), v0, acc0[a]);
            }
        }
        for a in 0..K {
            let v = T::vadd(s, acc0[a], acc1[a]);
            let lanes_of = pulp::bytemuck::cast_slice::<T::V<S>, T>(core::slice::from_ref(&v));
            for (b, x) in lanes_of[..K.min(lanes)].iter().enumerate() {
                out[a * K + b] += x.to_f64();
            }
        }
    }
}
