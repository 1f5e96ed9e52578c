//! The losses ℓ of SPEC §2: elementwise on the residual R = XW − Y.

use crate::spec::{fmt_param, Parts, SpecError};
use crate::Scalar;
use core::fmt;
use core::str::FromStr;

/// A loss ℓ, applied elementwise to the residual and summed.
///
/// Parsed from the spec strings of SPEC §2 (`squared`, `huber:δ`, `logcosh`,
/// `lp:p`) or built directly.
///
/// ```
/// use dspgd_backend::Loss;
/// let l: Loss = "huber:0.5".parse().unwrap();
/// assert_eq!(l, Loss::Huber { delta: 0.5 });
/// assert_eq!(l.grad(2.0_f64), 0.5);
/// assert!("huber:-1".parse::<Loss>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Loss {
    /// ℓ(r) = r²/2, ∇ℓ(r) = r, β = 1.
    #[default]
    Squared,
    /// ℓ(r) = r²/2 for |r| ≤ δ, else δ|r| − δ²/2; ∇ℓ = clamp(r, −δ, δ); β = 1.
    Huber {
        /// δ > 0.
        delta: f64,
    },
    /// ℓ(r) = log cosh r; ∇ℓ = tanh r; β = 1. Evaluated without overflow.
    LogCosh,
    /// ℓ(r) = |r|ᵖ/p; ∇ℓ = sign(r)|r|ᵖ⁻¹; p ≥ 2; not globally smooth unless p = 2.
    Lp {
        /// p ≥ 2.
        p: f64,
    },
}

impl Loss {
    /// The smoothness constant β (Lipschitz constant of ∇ℓ), `None` when ℓ is not globally smooth.
    pub fn beta(&self) -> Option<f64> {
        match *self {
            Loss::Squared | Loss::Huber { .. } | Loss::LogCosh => Some(1.0),
            Loss::Lp { p: 2.0 } => Some(1.0),
            Loss::Lp { .. } => None,
        }
    }

    /// True for the squared loss (and `lp:2`), where the line search is exact.
    pub fn is_quadratic(&self) -> bool {
        matches!(*self, Loss::Squared) || matches!(*self, Loss::Lp { p } if p == 2.0)
    }

    /// Checks the parameters (the typed constructor path).
    ///
    /// # Errors
    /// When δ ≤ 0, p < 2 or a parameter is not finite.
    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |reason: String| Err(SpecError { what: "loss", spec: self.to_string(), reason });
        match *self {
            Loss::Huber { delta } if !(delta.is_finite() && delta > 0.0) => bad(format!("δ must be > 0 and finite, got {delta}")),
            Loss::Lp { p } if !(p.is_finite() && p >= 2.0) => bad(format!("p must be ≥ 2 and finite, got {p}")),
            _ => Ok(()),
        }
    }

    /// ℓ(r).
    #[inline]
    pub fn value<T: Scalar>(&self, r: T) -> T {
        self.dispatch(ValueOf(r))
    }

    /// ∇ℓ(r).
    #[inline]
    pub fn grad<T: Scalar>(&self, r: T) -> T {
        self.dispatch(GradOf(r))
    }

    /// Calls `v` with the monomorphized kernel of this loss, so that a loop
    /// written once in `v` is compiled per loss with no per-element branch.
    #[inline]
    pub fn dispatch<T: Scalar, V: LossVisitor<T>>(&self, v: V) -> V::Output {
        match *self {
            Loss::Squared => v.visit(SquaredKernel),
            Loss::Huber { delta } => v.visit(HuberKernel { delta: T::from_f64(delta) }),
            Loss::LogCosh => v.visit(LogCoshKernel),
            Loss::Lp { p: 2.0 } => v.visit(SquaredKernel),
            Loss::Lp { p } => v.visit(LpKernel { p: T::from_f64(p), pm1: T::from_f64(p - 1.0) }),
        }
    }
}

struct ValueOf<T>(T);
impl<T: Scalar> LossVisitor<T> for ValueOf<T> {
    type Output = T;
    #[inline(always)]
    fn visit<K: LossKernel<T>>(self, k: K) -> T {
        k.value(self.0)
    }
}
struct GradOf<T>(T);
impl<T: Scalar> LossVisitor<T> for GradOf<T> {
    type Output = T;
    #[inline(always)]
    fn visit<K: LossKernel<T>>(self, k: K) -> T {
        k.grad(self.0)
    }
}

/// The elementwise math of one loss for one scalar type.
pub trait LossKernel<T: Scalar>: Copy + Send + Sync {
    /// ℓ(r).
    fn value(self, r: T) -> T;
    /// ∇ℓ(r).
    fn grad(self, r: T) -> T;
}

/// A loop generic over the loss kernel (see [`Loss::dispatch`]).
pub trait LossVisitor<T: Scalar> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with kernel `k`.
    fn visit<K: LossKernel<T>>(self, k: K) -> Self::Output;
}

/// r²/2.
#[derive(Clone, Copy, Debug)]
pub struct SquaredKernel;
impl<T: Scalar> LossKernel<T> for SquaredKernel {
    #[inline(always)]
    fn value(self, r: T) -> T {
        T::from_f64(0.5) * r * r
    }
    #[inline(always)]
    fn grad(self, r: T) -> T {
        r
    }
}

/// Huber with threshold δ.
#[derive(Clone, Copy, Debug)]
pub struct HuberKernel<T> {
    /// δ > 0.
    pub delta: T,
}
impl<T: Scalar> LossKernel<T> for HuberKernel<T> {
    #[inline(always)]
    fn value(self, r: T) -> T {
        let a = r.abs();
        if a <= self.delta {
            T::from_f64(0.5) * r * r
        } else {
            self.delta * (a - T::from_f64(0.5) * self.delta)
        }
    }
    #[inline(always)]
    fn grad(self, r: T) -> T {
        r.max(-self.delta).min(self.delta)
    }
}

/// log cosh r, accurate at both ends: ln(1 + 2 sinh²(r/2)) for |r| ≤ 1 (no
/// cancellation near 0, where the line search compares tiny losses), and
/// |r| + ln(1 + e^{−2|r|}) − ln 2 beyond (no overflow for large |r|).
#[derive(Clone, Copy, Debug)]
pub struct LogCoshKernel;
impl<T: Scalar> LossKernel<T> for LogCoshKernel {
    #[inline(always)]
    fn value(self, r: T) -> T {
        let a = r.abs();
        if a <= T::ONE {
            let s = (T::from_f64(0.5) * a).sinh();
            (T::from_f64(2.0) * s * s).ln_1p()
        } else {
            a + (T::from_f64(-2.0) * a).exp().ln_1p() - T::from_f64(core::f64::consts::LN_2)
        }
    }
    #[inline(always)]
    fn grad(self, r: T) -> T {
        r.tanh()
    }
}

/// |r|ᵖ/p.
#[derive(Clone, Copy, Debug)]
pub struct LpKernel<T> {
    /// p.
    pub p: T,
    /// p − 1.
    pub pm1: T,
}
impl<T: Scalar> LossKernel<T> for LpKernel<T> {
    #[inline(always)]
    fn value(self, r: T) -> T {
        r.abs().powf(self.p) / self.p
    }
    #[inline(always)]
    fn grad(self, r: T) -> T {
        r.sign() * r.abs().powf(self.pm1)
    }
}

impl FromStr for Loss {
    type Err = SpecError;
    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let s = Parts::split("loss", spec)?;
        let loss = match s.name {
            "squared" => {
                s.no_param()?;
                Loss::Squared
            }
            "huber" => Loss::Huber { delta: s.num("δ", "> 0", |v| v > 0.0)? },
            "logcosh" => {
                s.no_param()?;
                Loss::LogCosh
            }
            "lp" => Loss::Lp { p: s.num("p", "≥ 2", |v| v >= 2.0)? },
            other => {
                return Err(s.err(format!("unknown loss '{other}'; expected one of squared, huber:δ, logcosh, lp:p")))
            }
        };
        Ok(loss)
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Loss::Squared => f.write_str("squared"),
            Loss::Huber { delta } => write!(f, "huber:{}", fmt_param(delta)),
            Loss::LogCosh => f.write_str("logcosh"),
            Loss::Lp { p } => write!(f, "lp:{}", fmt_param(p)),
        }
    }
}
