//! The elementwise kernels: O(size) passes over R, D, G, W, P.
//!
//! Each kernel has two paths, chosen once per call: when every operand is
//! packed in the same order (the common case: the solver's matrices are
//! row-major), it walks flat slices, with several accumulators for the sums;
//! otherwise it walks faer views with `zip!`, which handles any strides.
//! Losses and separable preconditioners reach the loops through the
//! `dispatch` visitors of the kernel layer, so each loop is compiled once per
//! loss or map, with no per-element branch. Sums are accumulated in f64, and
//! products of `f32` values are formed in f64 (exactly), as the reference
//! backend does.

use crate::view::{all_packed_alike, faer_mut, faer_ref, packed};
use dspgd_backend::loss::{LossKernel, LossVisitor};
use dspgd_backend::precond::{SeparableKernel, SeparableVisitor};
use dspgd_backend::{team, Loss, MatMut, MatRef, Scalar, SweepStats};
use faer::traits::pulp::{Arch, Simd, WithSimd};
use faer::{unzip, zip};

/// Σ f(l) for l in 0..len, with four f64 accumulators (the sums of a pair of
/// values at once: `f` returns two terms).
#[inline(always)]
fn sum_pairs(len: usize, mut f: impl FnMut(usize) -> [f64; 2]) -> [f64; 2] {
    let mut a = [[0.0f64; 2]; 4];
    let mut l = 0;
    while l + 4 <= len {
        for (u, acc) in a.iter_mut().enumerate() {
            let [x, y] = f(l + u);
            acc[0] += x;
            acc[1] += y;
        }
        l += 4;
    }
    while l < len {
        let [x, y] = f(l);
        a[0][0] += x;
        a[0][1] += y;
        l += 1;
    }
    [(a[0][0] + a[1][0]) + (a[2][0] + a[3][0]), (a[0][1] + a[1][1]) + (a[2][1] + a[3][1])]
}

/// Y += α·X.
pub(crate) fn axpy<T: Scalar>(mut y: MatMut<'_, T>, alpha: T, x: MatRef<'_, T>) {
    let len = y.nrows() * y.ncols();
    if len == 0 {
        return;
    }
    if all_packed_alike(&[packed(y.rb()), packed(x)]) {
        let xs = &x.as_slice()[..len];
        for (yv, &xv) in y.as_mut_slice()[..len].iter_mut().zip(xs) {
            *yv += alpha * xv;
        }
    } else {
        zip!(faer_mut(&mut y), faer_ref(x)).for_each(|unzip!(yv, xv)| *yv += alpha * *xv);
    }
}

/// ⟨A, B⟩_F in f64.
pub(crate) fn dot<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    let len = a.nrows() * a.ncols();
    if len == 0 {
        return 0.0;
    }
    if all_packed_alike(&[packed(a), packed(b)]) {
        let (xs, ys) = (&a.as_slice()[..len], &b.as_slice()[..len]);
        Arch::new().dispatch(DotLanes { xs, ys })
    } else {
        let mut acc = 0.0;
        zip!(faer_ref(a), faer_ref(b)).for_each(|unzip!(x, y)| acc += x.to_f64() * y.to_f64());
        acc
    }
}

/// Σ xᵢyᵢ in f64 with [`LANES`] independent partial sums (element i goes to
/// sum i mod LANES; the sums are added pairwise at the end), a fixed order
/// that the compiler turns into vector code under `pulp`'s dispatch.
#[inline(always)]
fn dot_lanes<T: Scalar>(xs: &[T], ys: &[T]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let (xc, yc) = (xs.chunks_exact(LANES), ys.chunks_exact(LANES));
    let (xt, yt) = (xc.remainder(), yc.remainder());
    for (x, y) in xc.zip(yc) {
        for u in 0..LANES {
            acc[u] += x[u].to_f64() * y[u].to_f64();
        }
    }
    for (u, (x, y)) in xt.iter().zip(yt).enumerate() {
        acc[u] += x.to_f64() * y.to_f64();
    }
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for u in 0..w {
            acc[u] += acc[u + w];
        }
    }
    acc[0]
}

/// Partial sums of [`dot_lanes`]: one AVX-512 register of f64.
const LANES: usize = 8;

/// [`dot_lanes`] compiled for the instruction set `pulp` detects at run time.
struct DotLanes<'a, T> {
    xs: &'a [T],
    ys: &'a [T],
}

impl<T: Scalar> WithSimd for DotLanes<'_, T> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> f64 {
        dot_lanes(self.xs, self.ys)
    }
}

/// D = ∇ℓ(R), with Σℓ(R) and ‖R‖².
struct LossGrad<'a, 'b, T> {
    r: MatRef<'a, T>,
    d: MatMut<'b, T>,
}

impl<T: Scalar> LossVisitor<T> for LossGrad<'_, '_, T> {
    type Output = SweepStats;
    #[inline(always)]
    fn visit<K: LossKernel<T>>(mut self, k: K) -> SweepStats {
        let len = self.r.nrows() * self.r.ncols();
        if len == 0 {
            return SweepStats::default();
        }
        if all_packed_alike(&[packed(self.r), packed(self.d.rb())]) {
            let rs = &self.r.as_slice()[..len];
            let ds = &mut self.d.as_mut_slice()[..len];
            let [loss, r_norm2] = sum_pairs(len, |l| {
                let r = rs[l];
                ds[l] = k.grad(r);
                let rf = r.to_f64();
                [k.value(r).to_f64(), rf * rf]
            });
            SweepStats { loss, r_norm2 }
        } else {
            grad_faer(faer_ref(self.r), faer_mut(&mut self.d), k)
        }
    }
}

/// D = ∇ℓ(R) on faer views (any strides), with Σℓ(R) and ‖R‖².
#[inline(always)]
pub(crate) fn grad_faer<T: Scalar, K: LossKernel<T>>(
    r: faer::MatRef<'_, T>,
    d: faer::MatMut<'_, T>,
    k: K,
) -> SweepStats {
    let mut s = SweepStats::default();
    zip!(d, r).for_each(|unzip!(dv, rv)| {
        let r = *rv;
        *dv = k.grad(r);
        s.loss += k.value(r).to_f64();
        s.r_norm2 += r.to_f64() * r.to_f64();
    });
    s
}

/// R −= η·Q, then D = ∇ℓ(R), on faer views (any strides), with Σℓ(R) and ‖R‖².
#[inline(always)]
pub(crate) fn update_grad_faer<T: Scalar, K: LossKernel<T>>(
    r: faer::MatMut<'_, T>,
    q: faer::MatRef<'_, T>,
    eta: T,
    d: faer::MatMut<'_, T>,
    k: K,
) -> SweepStats {
    let mut s = SweepStats::default();
    zip!(r, q, d).for_each(|unzip!(rv, qv, dv)| {
        *rv -= eta * *qv;
        let r = *rv;
        *dv = k.grad(r);
        s.loss += k.value(r).to_f64();
        s.r_norm2 += r.to_f64() * r.to_f64();
    });
    s
}

/// D = ∇ℓ(R) elementwise, returning Σℓ(R) and ‖R‖².
pub(crate) fn loss_grad<T: Scalar>(r: MatRef<'_, T>, loss: &Loss, d: MatMut<'_, T>) -> SweepStats {
    loss.dispatch(LossGrad { r, d })
}

/// Σℓ(R − η·Q).
struct Along<'a, 'b, T> {
    r: MatRef<'a, T>,
    q: MatRef<'b, T>,
    eta: T,
}

impl<T: Scalar> LossVisitor<T> for Along<'_, '_, T> {
    type Output = f64;
    #[inline(always)]
    fn visit<K: LossKernel<T>>(self, k: K) -> f64 {
        let len = self.r.nrows() * self.r.ncols();
        if len == 0 {
            return 0.0;
        }
        let eta = self.eta;
        if all_packed_alike(&[packed(self.r), packed(self.q)]) {
            let (rs, qs) = (&self.r.as_slice()[..len], &self.q.as_slice()[..len]);
            let [a, b] = sum_pairs(len.div_ceil(2), |l| {
                let i = 2 * l;
                let first = k.value(rs[i] - eta * qs[i]).to_f64();
                let second = if i + 1 < len { k.value(rs[i + 1] - eta * qs[i + 1]).to_f64() } else { 0.0 };
                [first, second]
            });
            a + b
        } else {
            let mut acc = 0.0;
            zip!(faer_ref(self.r), faer_ref(self.q)).for_each(|unzip!(r, q)| acc += k.value(*r - eta * *q).to_f64());
            acc
        }
    }
}

/// Σℓ(R − η·Q): one line-search trial.
pub(crate) fn loss_along<T: Scalar>(r: MatRef<'_, T>, q: MatRef<'_, T>, eta: T, loss: &Loss) -> f64 {
    loss.dispatch(Along { r, q, eta })
}

/// Elements (d·k) from which [`step_map`] splits its pass across the
/// backend's threads: 2¹⁷, so each band has at least 64 Ki elements of W, P
/// and G (1.5 MiB in f64), which outweighs waking a thread. On S5 (d·k =
/// 5·10⁵) the pass was the serial part of a two-thread iteration.
const PAR_STEP_LEN: usize = 1 << 17;

/// In one pass: W −= η_prev·P (skipped when η_prev = 0), then P = f(G).
/// Packed operands are cut into up to `workers` contiguous bands (each
/// element is computed the same way whatever the band, so the result does
/// not depend on the thread count), each run in vector code.
#[inline(always)]
pub(crate) fn step_map<T: Scalar, F: Fn(T) -> T + Copy + Send + Sync>(
    g: MatRef<'_, T>,
    eta_prev: T,
    mut w: MatMut<'_, T>,
    mut p: MatMut<'_, T>,
    f: F,
    workers: usize,
) {
    let len = g.nrows() * g.ncols();
    if len == 0 {
        return;
    }
    let move_w = eta_prev != T::ZERO;
    if all_packed_alike(&[packed(g), packed(w.rb()), packed(p.rb())]) {
        let gs = &g.as_slice()[..len];
        let ps = &mut p.as_mut_slice()[..len];
        let ws = if move_w { &mut w.as_mut_slice()[..len] } else { &mut [][..] };
        let bands = if len >= PAR_STEP_LEN { workers.clamp(1, len / (PAR_STEP_LEN / 2)) } else { 1 };
        if bands == 1 {
            Arch::new().dispatch(StepLanes { gs, ws, ps, eta_prev, f });
            return;
        }
        let band = len.div_ceil(bands);
        let mut jobs = Vec::with_capacity(bands);
        let mut ws = ws;
        for (gs, ps) in gs.chunks(band).zip(ps.chunks_mut(band)) {
            let take = if move_w { gs.len() } else { 0 };
            let (wb, rest) = core::mem::take(&mut ws).split_at_mut(take);
            ws = rest;
            jobs.push(Some(StepLanes { gs, ws: wb, ps, eta_prev, f }));
        }
        team::for_each_mut(&mut jobs, |_, job| {
            if let Some(job) = job.take() {
                Arch::new().dispatch(job);
            }
        });
    } else if move_w {
        zip!(faer_mut(&mut w), faer_mut(&mut p), faer_ref(g)).for_each(|unzip!(wv, pv, gv)| {
            *wv -= eta_prev * *pv;
            *pv = f(*gv);
        });
    } else {
        zip!(faer_mut(&mut p), faer_ref(g)).for_each(|unzip!(pv, gv)| *pv = f(*gv));
    }
}

/// The packed loop of [`step_map`] on one band, compiled for the instruction
/// set `pulp` detects at run time (`ws` empty: W is not moved).
struct StepLanes<'a, T, F> {
    gs: &'a [T],
    ws: &'a mut [T],
    ps: &'a mut [T],
    eta_prev: T,
    f: F,
}

impl<T: Scalar, F: Fn(T) -> T> WithSimd for StepLanes<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let StepLanes { gs, ws, ps, eta_prev, f } = self;
        if ws.is_empty() {
            for (pv, &gv) in ps.iter_mut().zip(gs) {
                *pv = f(gv);
            }
        } else {
            for ((pv, wv), &gv) in ps.iter_mut().zip(ws.iter_mut()).zip(gs) {
                *wv -= eta_prev * *pv;
                *pv = f(gv);
            }
        }
    }
}

/// [`step_map`] with the elementwise map of a separable built-in K.
pub(crate) struct SeparableStep<'a, 'b, 'c, T> {
    pub(crate) g: MatRef<'a, T>,
    pub(crate) eta_prev: T,
    pub(crate) w: MatMut<'b, T>,
    pub(crate) p: MatMut<'c, T>,
    /// Threads for the pass (see [`step_map`]).
    pub(crate) workers: usize,
}

impl<T: Scalar> SeparableVisitor<T> for SeparableStep<'_, '_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn visit<K: SeparableKernel<T>>(self, k: K) {
        step_map(self.g, self.eta_prev, self.w, self.p, move |g| k.apply(g), self.workers);
    }
}

/// W −= η_prev·P on faer views (any strides).
#[inline]
pub(crate) fn sub_scaled_faer<T: Scalar>(w: faer::MatMut<'_, T>, eta_prev: T, p: faer::MatRef<'_, T>) {
    zip!(w, p).for_each(|unzip!(wv, pv)| *wv -= eta_prev * *pv);
}

/// C ← β·C on faer views (β = 0 writes zeros, ignoring C's old contents).
#[inline]
pub(crate) fn scale_faer<T: Scalar>(c: faer::MatMut<'_, T>, beta: T) {
    if beta == T::ZERO {
        zip!(c).for_each(|unzip!(cv)| *cv = T::ZERO);
    } else {
        zip!(c).for_each(|unzip!(cv)| *cv = beta * *cv);
    }
}
