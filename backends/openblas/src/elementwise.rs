//! The elementwise kernels: O(size) passes over R, D, G, W, P, in plain Rust.
//!
//! Each kernel has two paths, chosen once per call: when every operand is
//! packed in the same order (the common case: the solver's matrices are
//! row-major) it walks flat slices, with several f64 accumulators for the
//! sums; otherwise it walks the views element by element, which handles any
//! strides. Losses and separable preconditioners reach the loops through the
//! `dispatch` visitors of the kernel layer, so each loop is compiled once per
//! loss or map, with no per-element branch. Sums are accumulated in f64, and
//! products of `f32` values are formed in f64 (exactly), as the reference
//! backend does.

use crate::layout::{all_packed_alike, packed, packed_mut};
use dspgd_backend::loss::{LossKernel, LossVisitor};
use dspgd_backend::precond::{SeparableKernel, SeparableVisitor};
use dspgd_backend::{Loss, MatMut, MatRef, Scalar, SweepStats};

/// Σ f(l) for l in 0..len, with four f64 accumulators.
#[inline(always)]
fn sum4(len: usize, mut f: impl FnMut(usize) -> f64) -> f64 {
    let mut a = [0.0f64; 4];
    let mut l = 0;
    while l + 4 <= len {
        a[0] += f(l);
        a[1] += f(l + 1);
        a[2] += f(l + 2);
        a[3] += f(l + 3);
        l += 4;
    }
    while l < len {
        a[0] += f(l);
        l += 1;
    }
    (a[0] + a[1]) + (a[2] + a[3])
}

/// Two sums at once (`f` returns both terms), with four f64 accumulators each.
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
    let (m, n) = y.shape();
    let len = m * n;
    if len == 0 {
        return;
    }
    if all_packed_alike(&[packed_mut(&y), packed(x)]) {
        let xs = &x.as_slice()[..len];
        for (yv, &xv) in y.as_mut_slice()[..len].iter_mut().zip(xs) {
            *yv += alpha * xv;
        }
    } else {
        for i in 0..m {
            for j in 0..n {
                *y.at_mut(i, j) += alpha * x.at(i, j);
            }
        }
    }
}

/// ⟨A, B⟩_F in f64.
pub(crate) fn dot<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    let (m, n) = a.shape();
    let len = m * n;
    if len == 0 {
        return 0.0;
    }
    if all_packed_alike(&[packed(a), packed(b)]) {
        let (xs, ys) = (&a.as_slice()[..len], &b.as_slice()[..len]);
        sum4(len, |l| xs[l].to_f64() * ys[l].to_f64())
    } else {
        let mut acc = 0.0;
        for i in 0..m {
            for j in 0..n {
                acc += a.at(i, j).to_f64() * b.at(i, j).to_f64();
            }
        }
        acc
    }
}

/// D = ∇ℓ(R), with Σℓ(R) and ‖R‖², any layouts.
#[inline(always)]
pub(crate) fn grad<T: Scalar, K: LossKernel<T>>(r: MatRef<'_, T>, mut d: MatMut<'_, T>, k: K) -> SweepStats {
    let (m, n) = r.shape();
    let len = m * n;
    if len == 0 {
        return SweepStats::default();
    }
    if all_packed_alike(&[packed(r), packed_mut(&d)]) {
        let rs = &r.as_slice()[..len];
        let ds = &mut d.as_mut_slice()[..len];
        let [loss, r_norm2] = sum_pairs(len, |l| {
            let v = rs[l];
            ds[l] = k.grad(v);
            let vf = v.to_f64();
            [k.value(v).to_f64(), vf * vf]
        });
        SweepStats { loss, r_norm2 }
    } else {
        let mut s = SweepStats::default();
        for i in 0..m {
            for j in 0..n {
                let v = r.at(i, j);
                *d.at_mut(i, j) = k.grad(v);
                s.loss += k.value(v).to_f64();
                s.r_norm2 += v.to_f64() * v.to_f64();
            }
        }
        s
    }
}

/// R −= η·Q, then D = ∇ℓ(R), with Σℓ(R) and ‖R‖², any layouts.
#[inline(always)]
pub(crate) fn update_grad<T: Scalar, K: LossKernel<T>>(
    mut r: MatMut<'_, T>,
    q: MatRef<'_, T>,
    eta: T,
    mut d: MatMut<'_, T>,
    k: K,
) -> SweepStats {
    let (m, n) = r.shape();
    let len = m * n;
    if len == 0 {
        return SweepStats::default();
    }
    if all_packed_alike(&[packed_mut(&r), packed(q), packed_mut(&d)]) {
        let rs = &mut r.as_mut_slice()[..len];
        let qs = &q.as_slice()[..len];
        let ds = &mut d.as_mut_slice()[..len];
        let [loss, r_norm2] = sum_pairs(len, |l| {
            let v = rs[l] - eta * qs[l];
            rs[l] = v;
            ds[l] = k.grad(v);
            let vf = v.to_f64();
            [k.value(v).to_f64(), vf * vf]
        });
        SweepStats { loss, r_norm2 }
    } else {
        let mut s = SweepStats::default();
        for i in 0..m {
            for j in 0..n {
                let v = r.at(i, j) - eta * q.at(i, j);
                *r.at_mut(i, j) = v;
                *d.at_mut(i, j) = k.grad(v);
                s.loss += k.value(v).to_f64();
                s.r_norm2 += v.to_f64() * v.to_f64();
            }
        }
        s
    }
}

/// [`grad`] through [`Loss::dispatch`].
struct LossGrad<'a, 'b, T> {
    r: MatRef<'a, T>,
    d: MatMut<'b, T>,
}

impl<T: Scalar> LossVisitor<T> for LossGrad<'_, '_, T> {
    type Output = SweepStats;
    #[inline(always)]
    fn visit<K: LossKernel<T>>(self, k: K) -> SweepStats {
        grad(self.r, self.d, k)
    }
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
        let Along { r, q, eta } = self;
        let (m, n) = r.shape();
        let len = m * n;
        if len == 0 {
            return 0.0;
        }
        if all_packed_alike(&[packed(r), packed(q)]) {
            let (rs, qs) = (&r.as_slice()[..len], &q.as_slice()[..len]);
            sum4(len, |l| k.value(rs[l] - eta * qs[l]).to_f64())
        } else {
            let mut acc = 0.0;
            for i in 0..m {
                for j in 0..n {
                    acc += k.value(r.at(i, j) - eta * q.at(i, j)).to_f64();
                }
            }
            acc
        }
    }
}

/// Σℓ(R − η·Q): one line-search trial.
pub(crate) fn loss_along<T: Scalar>(r: MatRef<'_, T>, q: MatRef<'_, T>, eta: T, loss: &Loss) -> f64 {
    loss.dispatch(Along { r, q, eta })
}

/// In one pass: W −= η_prev·P (skipped when η_prev = 0), then P = f(G).
#[inline(always)]
pub(crate) fn step_map<T: Scalar>(
    g: MatRef<'_, T>,
    eta_prev: T,
    mut w: MatMut<'_, T>,
    mut p: MatMut<'_, T>,
    f: impl Fn(T) -> T,
) {
    let (m, n) = g.shape();
    let len = m * n;
    if len == 0 {
        return;
    }
    let move_w = eta_prev != T::ZERO;
    if all_packed_alike(&[packed(g), packed_mut(&w), packed_mut(&p)]) {
        let gs = &g.as_slice()[..len];
        let ps = &mut p.as_mut_slice()[..len];
        if move_w {
            let ws = &mut w.as_mut_slice()[..len];
            for ((pv, wv), &gv) in ps.iter_mut().zip(ws.iter_mut()).zip(gs) {
                *wv -= eta_prev * *pv;
                *pv = f(gv);
            }
        } else {
            for (pv, &gv) in ps.iter_mut().zip(gs) {
                *pv = f(gv);
            }
        }
    } else {
        for i in 0..m {
            for j in 0..n {
                if move_w {
                    *w.at_mut(i, j) -= eta_prev * p.at(i, j);
                }
                *p.at_mut(i, j) = f(g.at(i, j));
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
}

impl<T: Scalar> SeparableVisitor<T> for SeparableStep<'_, '_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn visit<K: SeparableKernel<T>>(self, k: K) {
        step_map(self.g, self.eta_prev, self.w, self.p, |g| k.apply(g));
    }
}

/// W −= η·P, any layouts.
pub(crate) fn sub_scaled<T: Scalar>(mut w: MatMut<'_, T>, eta: T, p: MatRef<'_, T>) {
    axpy(w.rb_mut(), -eta, p);
}

/// C ← β·C (β = 0 writes zeros, ignoring C's old contents, even NaN).
pub(crate) fn scale<T: Scalar>(c: &mut MatMut<'_, T>, beta: T) {
    if beta == T::ONE {
        return;
    }
    let (m, n) = c.shape();
    if packed_mut(c).is_some() {
        let s = &mut c.as_mut_slice()[..m * n];
        if beta == T::ZERO {
            s.fill(T::ZERO);
        } else {
            s.iter_mut().for_each(|v| *v *= beta);
        }
    } else {
        for i in 0..m {
            for j in 0..n {
                let v = c.at_mut(i, j);
                *v = if beta == T::ZERO { T::ZERO } else { beta * *v };
            }
        }
    }
}

/// C ← β·C + T (β = 0: C ← T, C's old contents ignored).
pub(crate) fn scale_add<T: Scalar>(mut c: MatMut<'_, T>, beta: T, t: MatRef<'_, T>) {
    let (m, n) = c.shape();
    for i in 0..m {
        for j in 0..n {
            let v = c.at_mut(i, j);
            *v = if beta == T::ZERO { t.at(i, j) } else { beta * *v + t.at(i, j) };
        }
    }
}
