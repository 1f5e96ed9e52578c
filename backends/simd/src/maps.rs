//! The elementwise maps in vector form: the losses ℓ (value and gradient)
//! and the preconditioner steps (P = s·G and the separable ∇k).
//!
//! `squared`, `huber`, `lp:2` and the maps `sign`, `adam`, `eclip`, `lp:2`
//! and `s·G` are written with vector operations. The maps that need a
//! transcendental function — the `logcosh` loss (tanh, sinh, exp, ln_1p), the
//! `lp:p` loss and the `lp:p` preconditioner (powf) with p ≠ 2 — run the
//! kernel layer's own scalar kernel lane by lane inside the same vector pass
//! (so they compute exactly what the reference computes); so does any loss
//! or separable map added to the kernel layer later.
//!
//! The choice is made once per call by a `match` on the loss or the
//! preconditioner, which then runs a loop monomorphized for the map.

use crate::elem::SimdScalar;
use dspgd_backend::loss::{LossKernel, LossVisitor};
use dspgd_backend::precond::{SeparableKernel, SeparableVisitor};
use dspgd_backend::{Loss, Precond};
use pulp::bytemuck;
use pulp::Simd;

/// A loss ℓ applied lanewise.
pub(crate) trait VLoss<T: SimdScalar>: Copy + Send + Sync {
    /// (ℓ(r), ∇ℓ(r)).
    fn value_grad<S: Simd>(self, s: S, r: T::V<S>) -> (T::V<S>, T::V<S>);
    /// ℓ(r).
    fn value<S: Simd>(self, s: S, r: T::V<S>) -> T::V<S>;
}

/// A loop generic over the vector loss (see [`with_loss`]).
pub(crate) trait LossOp<T: SimdScalar> {
    type Output;
    fn run<L: VLoss<T>>(self, l: L) -> Self::Output;
}

/// Calls `op` with the vector kernel of `loss`.
#[inline]
pub(crate) fn with_loss<T: SimdScalar, O: LossOp<T>>(loss: &Loss, op: O) -> O::Output {
    match *loss {
        Loss::Squared => op.run(VSquared),
        Loss::Lp { p: 2.0 } => op.run(VSquared),
        Loss::Huber { delta } => op.run(VHuber { delta: T::from_f64(delta), half: T::from_f64(0.5) }),
        // logcosh, lp:p (and any loss added later): the kernel layer's scalar
        // kernel, lane by lane, inside the vector pass.
        _ => loss.dispatch(Lanewise(op)),
    }
}

struct Lanewise<O>(O);

impl<T: SimdScalar, O: LossOp<T>> LossVisitor<T> for Lanewise<O> {
    type Output = O::Output;
    #[inline(always)]
    fn visit<K: LossKernel<T>>(self, k: K) -> O::Output {
        self.0.run(ScalarLoss(k))
    }
}

/// Applies `f` to every lane of `v` (a scalar loop inside the vector pass).
#[inline(always)]
fn per_lane<T: SimdScalar, S: Simd>(mut v: T::V<S>, f: impl Fn(T) -> T) -> T::V<S> {
    for x in bytemuck::cast_slice_mut::<T::V<S>, T>(core::slice::from_mut(&mut v)) {
        *x = f(*x);
    }
    v
}

/// ℓ(r) = r²/2 (also `lp:2`).
#[derive(Clone, Copy)]
pub(crate) struct VSquared;

impl<T: SimdScalar> VLoss<T> for VSquared {
    #[inline(always)]
    fn value_grad<S: Simd>(self, s: S, r: T::V<S>) -> (T::V<S>, T::V<S>) {
        (<Self as VLoss<T>>::value(self, s, r), r)
    }
    #[inline(always)]
    fn value<S: Simd>(self, s: S, r: T::V<S>) -> T::V<S> {
        // (0.5·r)·r, the reference's order of operations.
        T::vmul(s, T::vmul(s, T::vsplat(s, T::from_f64(0.5)), r), r)
    }
}

/// Huber with threshold δ: ∇ℓ = clamp(r, −δ, δ).
#[derive(Clone, Copy)]
pub(crate) struct VHuber<T> {
    delta: T,
    half: T,
}

impl<T: SimdScalar> VLoss<T> for VHuber<T> {
    #[inline(always)]
    fn value_grad<S: Simd>(self, s: S, r: T::V<S>) -> (T::V<S>, T::V<S>) {
        let d = T::vsplat(s, self.delta);
        let g = T::vmin(s, T::vmax(s, r, T::vsplat(s, -self.delta)), d);
        (self.value(s, r), g)
    }
    #[inline(always)]
    fn value<S: Simd>(self, s: S, r: T::V<S>) -> T::V<S> {
        let half = T::vsplat(s, self.half);
        let d = T::vsplat(s, self.delta);
        let a = T::vabs(s, r);
        let quad = T::vmul(s, T::vmul(s, half, r), r);
        // δ·(|r| − δ/2), as the reference: δ * (a − 0.5·δ).
        let lin = T::vmul(s, d, T::vsub(s, a, T::vsplat(s, self.half * self.delta)));
        T::vselect(s, T::vle(s, a, d), quad, lin)
    }
}

/// A scalar loss kernel of the kernel layer, lane by lane (transcendental losses).
#[derive(Clone, Copy)]
pub(crate) struct ScalarLoss<K>(K);

impl<T: SimdScalar, K: LossKernel<T>> VLoss<T> for ScalarLoss<K> {
    #[inline(always)]
    fn value_grad<S: Simd>(self, _s: S, r: T::V<S>) -> (T::V<S>, T::V<S>) {
        let k = self.0;
        (per_lane::<T, S>(r, |x| k.value(x)), per_lane::<T, S>(r, |x| k.grad(x)))
    }
    #[inline(always)]
    fn value<S: Simd>(self, _s: S, r: T::V<S>) -> T::V<S> {
        let k = self.0;
        per_lane::<T, S>(r, |x| k.value(x))
    }
}

/// An elementwise map P = f(G) (the step of an isotropic or separable K).
pub(crate) trait VMap<T: SimdScalar>: Copy + Send + Sync {
    fn apply<S: Simd>(self, s: S, g: T::V<S>) -> T::V<S>;
}

/// A loop generic over the vector map (see [`with_separable`]).
pub(crate) trait MapOp<T: SimdScalar> {
    type Output;
    fn run<M: VMap<T>>(self, m: M) -> Self::Output;
}

/// Calls `op` with the vector map of a separable built-in K; `None` for the
/// preconditioners that are not separable built-ins.
#[inline]
pub(crate) fn with_separable<T: SimdScalar, O: MapOp<T>>(pc: &Precond, op: O) -> Option<O::Output> {
    Some(match *pc {
        Precond::Sign => op.run(VSign),
        Precond::Adam { eps } => op.run(VAdam { eps: T::from_f64(eps) }),
        Precond::EClip { tau } => op.run(VClamp { tau: T::from_f64(tau) }),
        Precond::Lp { p: 2.0 } => op.run(VScale { s: T::ONE }),
        // lp:p (powf) and any separable map added later: the kernel layer's
        // scalar kernel, lane by lane, inside the vector pass.
        _ => return pc.dispatch_separable(LanewiseMap(op)),
    })
}

struct LanewiseMap<O>(O);

impl<T: SimdScalar, O: MapOp<T>> SeparableVisitor<T> for LanewiseMap<O> {
    type Output = O::Output;
    #[inline(always)]
    fn visit<K: SeparableKernel<T>>(self, k: K) -> O::Output {
        self.0.run(ScalarMap(k))
    }
}

/// P = s·G.
#[derive(Clone, Copy)]
pub(crate) struct VScale<T> {
    pub(crate) s: T,
}

impl<T: SimdScalar> VMap<T> for VScale<T> {
    #[inline(always)]
    fn apply<S: Simd>(self, s: S, g: T::V<S>) -> T::V<S> {
        T::vmul(s, T::vsplat(s, self.s), g)
    }
}

/// sign(g), 0 at 0 (and at NaN, as the reference).
#[derive(Clone, Copy)]
struct VSign;

impl<T: SimdScalar> VMap<T> for VSign {
    #[inline(always)]
    fn apply<S: Simd>(self, s: S, g: T::V<S>) -> T::V<S> {
        let zero = T::vsplat(s, T::ZERO);
        let neg = T::vselect(s, T::vlt(s, g, zero), T::vsplat(s, -T::ONE), zero);
        T::vselect(s, T::vgt(s, g, zero), T::vsplat(s, T::ONE), neg)
    }
}

/// g/(|g| + ε).
#[derive(Clone, Copy)]
struct VAdam<T> {
    eps: T,
}

impl<T: SimdScalar> VMap<T> for VAdam<T> {
    #[inline(always)]
    fn apply<S: Simd>(self, s: S, g: T::V<S>) -> T::V<S> {
        T::vdiv(s, g, T::vadd(s, T::vabs(s, g), T::vsplat(s, self.eps)))
    }
}

/// clamp(g, −τ, τ).
#[derive(Clone, Copy)]
struct VClamp<T> {
    tau: T,
}

impl<T: SimdScalar> VMap<T> for VClamp<T> {
    #[inline(always)]
    fn apply<S: Simd>(self, s: S, g: T::V<S>) -> T::V<S> {
        T::vmin(s, T::vmax(s, g, T::vsplat(s, -self.tau)), T::vsplat(s, self.tau))
    }
}

/// A scalar separable kernel of the kernel layer, lane by lane (`lp:p`, powf).
#[derive(Clone, Copy)]
struct ScalarMap<K>(K);

impl<T: SimdScalar, K: SeparableKernel<T>> VMap<T> for ScalarMap<K> {
    #[inline(always)]
    fn apply<S: Simd>(self, _s: S, g: T::V<S>) -> T::V<S> {
        let k = self.0;
        per_lane::<T, S>(g, |x| k.apply(x))
    }
}
