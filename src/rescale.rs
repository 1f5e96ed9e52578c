//! Exact power-of-two rescaling of problems at hostile scales (SPEC §8:
//! never a silent NaN; issue 6, item 7).
//!
//! At entries near 1e±150 in f64 (1e±18 in f32) the iteration's own
//! intermediate quantities leave the floating-point range even though the
//! problem is well posed: ‖R‖², GᵀG and M·D overflow, X·P underflows, and a
//! solve then stalls at iteration 0 (Φ(∞) = 0) or stops as "diverged". The
//! iteration is equivariant under X → aX, Y → bY when a and b are powers of
//! two and the settings are mapped along with the data:
//!
//! - W' = (b/a)W, W₀' = (b/a)W₀, R' = bR, G' = abG (squared or Huber loss);
//! - the parameters of K that live on the scale of G scale by ab
//!   (clip/eclip τ, ngd/spectral/adam ε), Huber's δ scales by b;
//! - ∇K(G) = (ab)^−deg·∇K'(G') with deg the degree of ∇K (1 for gd/clip/
//!   eclip, 0 for ngd/spectral/sign/adam, p−1 for power/lp), so a constant
//!   step maps to η' = η·(b/a)·(ab)^deg; `auto` and the line search map by
//!   themselves (they are ratios of the scaled quantities);
//! - stopping (tol·‖Y‖), divergence (relative to the initial loss) and the
//!   analysis (ratios) do not change; the loss maps by b², ‖G‖ by ab, ‖X‖ by a.
//!
//! Multiplying by a power of two is exact, so the rescaled solve is the same
//! computation as the original in exact arithmetic, without its overflows.
//! It is used only when max|X| or max|Y| is far from 1 (beyond 2^±128 in
//! f64, 2^±16 in f32: ordinary data never pays for the copy of X), and only
//! for settings where the map above is exact: built-in K, squared or Huber
//! loss. Everything else runs unscaled as before.

use crate::backend_choice::Float;
use crate::error::{Diverged, Error};
use crate::observer::{Control, Observer, Progress};
use crate::options::{LearningRate, Options};
use crate::problem::MaxAbs;
use crate::result::{Solution, StepInfo};
use dspgd_backend::{Loss, Mat, MatRef, Precond};

/// The scale of a problem: X' = 2^−ex·X, Y' = 2^−ey·Y.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rescale {
    ex: i32,
    ey: i32,
    /// Degree of ∇K.
    deg: f64,
}

/// x·2^e, exact while the result is a normal number (2^e itself may be out of range).
fn ldexp(mut x: f64, mut e: i32) -> f64 {
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        x *= 2f64.powi(step);
        e -= step;
    }
    x
}

/// The exponent e with 2^e nearest to `amax` = max|m| (0 for an all-zero matrix).
fn exponent(amax: f64) -> i32 {
    if amax > 0.0 && amax.is_finite() {
        amax.log2().round() as i32
    } else {
        0
    }
}

/// `m`·2^e elementwise, through f64 (exact unless the result leaves T's range).
fn scaled<T: Float>(m: MatRef<'_, T>, e: i32) -> Mat<T> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| T::from_f64(ldexp(m.at(i, j).to_f64(), e)))
}

fn all_finite<T: Float>(m: &Mat<T>) -> bool {
    m.as_slice().iter().all(|v| v.is_finite())
}

impl Rescale {
    /// The rescaling to use for this problem, or `None` to solve as given.
    pub(crate) fn plan<T: Float>(max_abs: MaxAbs, opts: &Options) -> Option<Self> {
        let limit = if core::mem::size_of::<T>() == 4 { 16 } else { 128 };
        let deg = match opts.precond {
            Precond::Gd | Precond::Clip { .. } | Precond::EClip { .. } => 1.0,
            Precond::Ngd { .. } | Precond::Spectral { .. } | Precond::Sign | Precond::Adam { .. } => 0.0,
            Precond::Power { p } | Precond::Lp { p } => p - 1.0,
            _ => return None, // custom K: its scaling is unknown
        };
        if !matches!(opts.loss, Loss::Squared | Loss::Huber { .. }) {
            return None;
        }
        let (ex, ey) = (exponent(max_abs.x), exponent(max_abs.y));
        (ex.abs() > limit || ey.abs() > limit).then_some(Self { ex, ey, deg })
    }

    /// log2 of η'/η.
    fn eta_log2(&self) -> f64 {
        f64::from(self.ex - self.ey) + f64::from(self.ex + self.ey) * self.deg
    }

    /// The options of the scaled problem; `None` when a mapped setting leaves the f64 range.
    fn options(&self, opts: &Options) -> Option<Options> {
        let g = |v: f64| ldexp(v, -(self.ex + self.ey));
        let precond = match opts.precond {
            Precond::Clip { tau } => Precond::Clip { tau: g(tau) },
            Precond::EClip { tau } => Precond::EClip { tau: g(tau) },
            Precond::Ngd { eps } => Precond::Ngd { eps: eps.map(g) },
            Precond::Spectral { eps } => Precond::Spectral { eps: eps.map(g) },
            Precond::Adam { eps } => Precond::Adam { eps: g(eps) },
            ref other => other.clone(),
        };
        let loss = match opts.loss {
            Loss::Huber { delta } => Loss::Huber { delta: ldexp(delta, -self.ey) },
            other => other,
        };
        let lr = match opts.lr {
            LearningRate::Constant(eta) => LearningRate::Constant(eta * self.eta_log2().exp2()),
            other => other,
        };
        let scaled = Options { precond, loss, lr, ..opts.clone() };
        scaled.validate().is_ok().then_some(scaled)
    }

    fn unscale_step(&self, info: &mut StepInfo) {
        let back = (-self.eta_log2()).exp2();
        info.eta0 = info.eta0.map(|e| e * back);
        info.x_norm2 = info.x_norm2.map(|v| ldexp(v, self.ex));
    }

    /// Solves the scaled problem with `inner` and maps the answer back.
    /// Returns `None` when the scaled problem cannot be formed (a mapped
    /// setting or W₀ leaves the range): the caller then solves as given.
    pub(crate) fn solve<T: Float>(
        &self,
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
        w0: Option<MatRef<'_, T>>,
        opts: &Options,
        observer: &mut dyn Observer,
        inner: impl FnOnce(MatRef<'_, T>, MatRef<'_, T>, Option<MatRef<'_, T>>, &Options, &mut dyn Observer) -> Result<Solution<T>, Error>,
    ) -> Option<Result<Solution<T>, Error>> {
        let sopts = self.options(opts)?;
        let xs = scaled(x, -self.ex);
        let ys = scaled(y, -self.ey);
        let w0s = w0.map(|w| scaled(w, self.ex - self.ey));
        if !all_finite(&xs) || !all_finite(&ys) || !w0s.as_ref().is_none_or(all_finite) {
            return None;
        }
        let mut obs = Unscaled { inner: observer, loss_log2: 2 * self.ey };
        let result = inner(xs.as_ref(), ys.as_ref(), w0s.as_ref().map(|w| w.as_ref()), &sopts, &mut obs);
        let w_back = self.ey - self.ex;
        Some(match result {
            Ok(mut sol) => {
                sol.w = scaled(sol.w.as_ref(), w_back);
                if let Some((i, _)) = sol.w.as_slice().iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Some(Err(Error::Overflow {
                        arg: "x",
                        msg: format!(
                            "the solution does not fit in {}: X (entries up to about 2^{}) and Y (up to about 2^{}) make W of order 2^{}, beyond its range (entry {i} of W is {}); rescale X or Y",
                            T::NAME, self.ex, self.ey, w_back, sol.w.as_slice()[i].to_f64()
                        ),
                    }));
                }
                sol.loss = ldexp(sol.loss, 2 * self.ey);
                if !sol.loss.is_finite() {
                    // Not converged from a W₀ so far off that L(W) itself exceeds the range.
                    let arg = if w0.is_some() { "w0" } else { "y" };
                    return Some(Err(Error::Overflow {
                        arg,
                        msg: format!(
                            "the loss L(W) of the last iterate ({:?} after {} iterations) is beyond the range of f64 at the original scale of the data (Y up to about 2^{}); rescale X, Y and W0",
                            sol.stop_reason, sol.iterations, self.ey
                        ),
                    }));
                }
                self.unscale_step(&mut sol.step);
                for h in &mut sol.history {
                    h.loss = ldexp(h.loss, 2 * self.ey);
                    h.grad_norm = ldexp(h.grad_norm, self.ex + self.ey);
                    h.eta *= (-self.eta_log2()).exp2();
                }
                sol.precond = opts.precond.to_string();
                sol.loss_spec = opts.loss.to_string();
                sol.warnings.push(format!(
                    "X and Y were rescaled by the exact powers of two 2^{} and 2^{} for the iteration (their entries would overflow or underflow {}); W, the loss and the steps are reported at the original scale",
                    -self.ex,
                    -self.ey,
                    T::NAME
                ));
                Ok(sol)
            }
            Err(Error::Diverged(d)) => {
                let mut d = *d;
                let w = d.last_iterate::<T>().map(|w| scaled(w.as_ref(), w_back)).unwrap_or_else(|| Mat::zeros(0, 0));
                let mut back = Diverged::new(d.iteration, ldexp(d.loss, 2 * self.ey), ldexp(d.initial_loss, 2 * self.ey), d.eta * (-self.eta_log2()).exp2(), w);
                if let Some(step) = d.step.as_mut() {
                    self.unscale_step(step);
                }
                back.step = d.step.take();
                back.backend = d.backend;
                back.kernel = std::mem::take(&mut d.kernel);
                back.path = d.path;
                back.setup_seconds = d.setup_seconds;
                Err(Error::Diverged(Box::new(back)))
            }
            Err(e) => Err(e),
        })
    }
}

/// Shows the observer the loss at the original scale.
struct Unscaled<'a> {
    inner: &'a mut dyn Observer,
    loss_log2: i32,
}

impl Observer for Unscaled<'_> {
    fn every(&self) -> usize {
        self.inner.every()
    }
    fn observe(&mut self, p: &Progress) -> Control {
        self.inner.observe(&Progress { loss: ldexp(p.loss, self.loss_log2), ..*p })
    }
}
