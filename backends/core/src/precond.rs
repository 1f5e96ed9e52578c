//! The preconditioners ∇K of SPEC §3, their classes and constants.

use crate::spec::{fmt_param, Parts, SpecError};
use crate::sym_eig::{sym_fn, EigWorkspace};
use crate::{Mat, MatMut, MatRef, Scalar};
use core::fmt;
use core::str::FromStr;
use std::sync::Arc;

/// The structural class of K, which decides what the theory guarantees
/// (SPEC §4) and which solution paths are available (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrecondClass {
    /// K(G) = h(‖G‖_F): ∇K(G) = s·G. Limit = W_GD; Gram path available.
    Isotropic,
    /// K(QG) = K(G) for orthogonal Q: ∇K(G) = G·Φ(GᵀG). Limit = W_GD; Gram path available.
    RightInvariant,
    /// K(G) = Σ k(gᵢⱼ): elementwise. The limit depends on η (ρ ≥ 1).
    Separable,
    /// No structure known.
    General,
}

impl PrecondClass {
    /// Lower-case name as in the docs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PrecondClass::Isotropic => "isotropic",
            PrecondClass::RightInvariant => "right-invariant",
            PrecondClass::Separable => "separable",
            PrecondClass::General => "general",
        }
    }
    /// Isotropic and right-invariant K keep W − W₀ in range(Xᵀ) (SPEC §4.2–4.3).
    pub fn is_right_invariant(self) -> bool {
        matches!(self, PrecondClass::Isotropic | PrecondClass::RightInvariant)
    }
}

impl fmt::Display for PrecondClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user-defined ∇K.
///
/// Declare the class honestly: the solver uses it to pick the Gram path
/// (isotropic and right-invariant need [`CustomPrecond::phi`] for that) and
/// the tests of SPEC §4 rely on it. ∇K must be monotone with ∇K(0) = 0.
///
/// ```
/// use dspgd_backend::{CustomPrecond, MatMut, MatRef, PrecondClass};
/// /// ∇K(G) = 2G: plain gradient descent at double speed.
/// #[derive(Debug)]
/// struct Double;
/// impl CustomPrecond for Double {
///     fn name(&self) -> String { "double".into() }
///     fn class(&self) -> PrecondClass { PrecondClass::Isotropic }
///     fn lipschitz(&self) -> Option<f64> { Some(2.0) }
///     fn apply(&self, g: MatRef<'_, f64>, mut p: MatMut<'_, f64>) {
///         for i in 0..g.nrows() { for j in 0..g.ncols() { *p.at_mut(i, j) = 2.0 * g.at(i, j); } }
///     }
/// }
/// ```
pub trait CustomPrecond: Send + Sync + fmt::Debug {
    /// A short name for reports.
    fn name(&self) -> String;
    /// The class of K.
    fn class(&self) -> PrecondClass;
    /// L_K, the Lipschitz constant of ∇K; `None` when ∇K is not Lipschitz.
    fn lipschitz(&self) -> Option<f64> {
        None
    }
    /// Writes P = ∇K(G) (same shape as G).
    fn apply(&self, g: MatRef<'_, f64>, p: MatMut<'_, f64>);
    /// The f32 version; by default converts through f64 (allocates; override to avoid it).
    fn apply_f32(&self, g: MatRef<'_, f32>, mut p: MatMut<'_, f32>) {
        let g64 = g.to_owned().cast::<f64>();
        let mut p64 = Mat::<f64>::zeros(g.nrows(), g.ncols());
        self.apply(g64.as_ref(), p64.as_mut());
        p.copy_from(p64.cast::<f32>().as_ref());
    }
    /// For isotropic and right-invariant K: writes the k×k Φ with ∇K(G) = G·Φ,
    /// given GᵀG, and returns true. The default returns false (Gram path unavailable).
    fn phi(&self, gtg: MatRef<'_, f64>, phi: MatMut<'_, f64>) -> bool {
        let _ = (gtg, phi);
        false
    }
}

/// A preconditioner ∇K (SPEC §3).
///
/// ```
/// use dspgd_backend::{Precond, PrecondClass};
/// let k: Precond = "spectral:1e-3".parse().unwrap();
/// assert_eq!(k.class(), PrecondClass::RightInvariant);
/// assert_eq!(k.lipschitz(), Some(1e3));
/// assert_eq!("adam:0.01".parse::<Precond>().unwrap(), Precond::Adam { eps: 0.01 });
/// let err = "adam:-1".parse::<Precond>().unwrap_err();
/// assert!(err.to_string().contains("ε"));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Precond {
    /// ∇K(G) = G (plain gradient descent).
    #[default]
    Gd,
    /// G·min(1, τ/‖G‖_F).
    Clip {
        /// τ > 0.
        tau: f64,
    },
    /// G/‖G‖_F (`eps: None`), or G/(‖G‖_F + ε).
    Ngd {
        /// ε > 0, or none.
        eps: Option<f64>,
    },
    /// ‖G‖_F^{p−2}·G, p > 1.
    Power {
        /// p > 1.
        p: f64,
    },
    /// U Vᵀ from G = UΣVᵀ (`eps: None`, Muon), or G(GᵀG + ε²I)^{−1/2}.
    Spectral {
        /// ε > 0, or none.
        eps: Option<f64>,
    },
    /// sign(g) elementwise.
    Sign,
    /// g/(|g| + ε) elementwise (memoryless Adam).
    Adam {
        /// ε > 0.
        eps: f64,
    },
    /// clamp(g, −τ, τ) elementwise.
    EClip {
        /// τ > 0.
        tau: f64,
    },
    /// sign(g)|g|^{p−1} elementwise, p > 1.
    Lp {
        /// p > 1.
        p: f64,
    },
    /// A user-defined ∇K.
    Custom(Arc<dyn CustomPrecond>),
}

impl PartialEq for Precond {
    fn eq(&self, other: &Self) -> bool {
        use Precond::*;
        match (self, other) {
            (Gd, Gd) | (Sign, Sign) => true,
            (Clip { tau: a }, Clip { tau: b }) | (EClip { tau: a }, EClip { tau: b }) => a == b,
            (Ngd { eps: a }, Ngd { eps: b }) | (Spectral { eps: a }, Spectral { eps: b }) => a == b,
            (Power { p: a }, Power { p: b }) | (Lp { p: a }, Lp { p: b }) => a == b,
            (Adam { eps: a }, Adam { eps: b }) => a == b,
            (Custom(a), Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Precond {
    /// Wraps a user-defined ∇K.
    pub fn custom(k: impl CustomPrecond + 'static) -> Self {
        Precond::Custom(Arc::new(k))
    }

    /// The class of K.
    pub fn class(&self) -> PrecondClass {
        use Precond::*;
        match self {
            Gd | Clip { .. } | Ngd { .. } | Power { .. } => PrecondClass::Isotropic,
            Spectral { .. } => PrecondClass::RightInvariant,
            Sign | Adam { .. } | EClip { .. } | Lp { .. } => PrecondClass::Separable,
            Custom(c) => c.class(),
        }
    }

    /// L_K, the Lipschitz constant of ∇K; `None` means ∞ (non-smooth K).
    pub fn lipschitz(&self) -> Option<f64> {
        use Precond::*;
        match *self {
            Gd | Clip { .. } | EClip { .. } => Some(1.0),
            Ngd { eps } | Spectral { eps } => eps.map(|e| 1.0 / e),
            Power { p } | Lp { p } => (p == 2.0).then_some(1.0),
            Sign => None,
            Adam { eps } => Some(1.0 / eps),
            Custom(ref c) => c.lipschitz(),
        }
    }

    /// True when ∇K is Lipschitz (L_K < ∞): the `auto` step is defined.
    pub fn is_smooth(&self) -> bool {
        self.lipschitz().is_some()
    }

    /// Checks the parameters of a typed value (the parser checks them too).
    ///
    /// # Errors
    /// When τ ≤ 0, ε ≤ 0, p ≤ 1, or a parameter is not finite.
    pub fn validate(&self) -> Result<(), SpecError> {
        use Precond::*;
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(SpecError { what: "preconditioner", spec: self.to_string(), reason: format!("{name} must be > 0 and finite, got {v}") })
            }
        };
        match *self {
            Clip { tau } | EClip { tau } => pos("τ", tau),
            Ngd { eps: Some(e) } | Spectral { eps: Some(e) } | Adam { eps: e } => pos("ε", e),
            Power { p } | Lp { p } if !(p.is_finite() && p > 1.0) => Err(SpecError {
                what: "preconditioner",
                spec: self.to_string(),
                reason: format!("p must be > 1 and finite, got {p}"),
            }),
            _ => Ok(()),
        }
    }

    /// For isotropic K: the scale s with ∇K(G) = s·G, given ‖G‖_F² (guarded: s·G = 0 at G = 0).
    pub fn iso_scale(&self, norm2: f64) -> Option<f64> {
        self.iso_scale_from_norm(norm2.sqrt())
    }

    /// As [`Precond::iso_scale`], from ‖G‖_F itself (computed with scaling, e.g.
    /// by [`crate::norm_fro`], it has no overflow or underflow of ‖G‖²).
    pub fn iso_scale_from_norm(&self, norm: f64) -> Option<f64> {
        use Precond::*;
        let s = match *self {
            Gd => 1.0,
            Clip { tau } => {
                if norm > tau {
                    tau / norm
                } else {
                    1.0
                }
            }
            Ngd { eps: None } => {
                if norm > 0.0 {
                    1.0 / norm
                } else {
                    0.0
                }
            }
            Ngd { eps: Some(e) } => 1.0 / (norm + e),
            Power { p } => {
                if norm > 0.0 {
                    norm.powf(p - 2.0)
                } else {
                    0.0
                }
            }
            _ => return None,
        };
        Some(s)
    }

    /// For isotropic and right-invariant K: writes Φ (k×k, row-major) with
    /// ∇K(G) = G·Φ from GᵀG (row-major k×k). `rel_eps` is the precision of GᵀG
    /// (eigenvalues below `k·rel_eps·λ_max` count as zero for `spectral`).
    /// Returns false when K has no such form (separable, general, or a custom
    /// K without [`CustomPrecond::phi`]).
    pub fn phi(&self, gtg: &[f64], k: usize, rel_eps: f64, ws: &mut EigWorkspace, out: &mut [f64]) -> bool {
        if let Some(s) = self.iso_scale((0..k).map(|i| gtg[i * k + i]).sum::<f64>().max(0.0)) {
            for i in 0..k {
                for j in 0..k {
                    out[i * k + j] = if i == j { s } else { 0.0 };
                }
            }
            return true;
        }
        match *self {
            Precond::Spectral { eps: Some(e) } => {
                let e2 = e * e;
                sym_fn(gtg, k, ws, |l, _| 1.0 / (l.max(0.0) + e2).sqrt(), out);
                true
            }
            Precond::Spectral { eps: None } => {
                let thr = rel_eps * (k.max(1) as f64) * 16.0;
                sym_fn(gtg, k, ws, |l, lmax| if l > thr * lmax && l > 0.0 { 1.0 / l.sqrt() } else { 0.0 }, out);
                true
            }
            Precond::Custom(ref c) if c.class().is_right_invariant() => {
                let g = MatRef::from_row_major(&gtg[..k * k], k, k).expect("k×k");
                let p = MatMut::from_row_major(&mut out[..k * k], k, k).expect("k×k");
                c.phi(g, p)
            }
            _ => false,
        }
    }

    /// Calls `v` with the monomorphized elementwise kernel of a separable
    /// built-in K; returns `None` for the other preconditioners.
    #[inline]
    pub fn dispatch_separable<T: Scalar, V: SeparableVisitor<T>>(&self, v: V) -> Option<V::Output> {
        Some(match *self {
            Precond::Sign => v.visit(SignKernel),
            Precond::Adam { eps } => v.visit(AdamKernel { eps: T::from_f64(eps) }),
            Precond::EClip { tau } => v.visit(EClipKernel { tau: T::from_f64(tau) }),
            Precond::Lp { p: 2.0 } => v.visit(IdentityKernel),
            Precond::Lp { p } => v.visit(LpPrecondKernel { pm1: T::from_f64(p - 1.0) }),
            _ => return None,
        })
    }

    /// ∇K(G) computed directly in f64 (plain loops; the definition used by the
    /// tests and the oracle for the fused kernels).
    pub fn grad_k(&self, g: MatRef<'_, f64>) -> Mat<f64> {
        let (d, k) = g.shape();
        let mut p = Mat::<f64>::zeros(d, k);
        if let Precond::Custom(c) = self {
            c.apply(g, p.as_mut());
            return p;
        }
        if let Some(pv) = self.dispatch_separable(MapInto { g, p: p.as_mut() }) {
            return pv;
        }
        if let Some(s) = self.iso_scale_from_norm(crate::norm_fro(g)) {
            for i in 0..d {
                for j in 0..k {
                    *p.at_mut(i, j) = s * g.at(i, j);
                }
            }
            return p;
        }
        // Spectral: GᵀG of c·G, c a power of two near 1/max|gᵢⱼ|, so that it neither
        // overflows nor underflows; then Φ(GᵀG) = c·Φ_{cε}((cG)ᵀ(cG)).
        let amax = (0..d).flat_map(|i| (0..k).map(move |j| g.at(i, j).abs())).fold(0.0f64, f64::max);
        let e = if amax > 0.0 && amax.is_finite() { amax.log2().round().clamp(-1022.0, 1023.0) as i32 } else { 0 };
        let c = 2f64.powi(-e);
        let mut gtg = vec![0.0; k * k];
        for a in 0..k {
            for b in 0..k {
                gtg[a * k + b] = (0..d).map(|i| (c * g.at(i, a)) * (c * g.at(i, b))).sum();
            }
        }
        let scaled = match *self {
            Precond::Spectral { eps } => Precond::Spectral { eps: eps.map(|x| x * c) },
            _ => self.clone(),
        };
        let mut phi = vec![0.0; k * k];
        let ok = scaled.phi(&gtg, k, f64::EPSILON, &mut EigWorkspace::new(k), &mut phi);
        assert!(ok, "non-separable built-in preconditioners have a Φ");
        phi.iter_mut().for_each(|x| *x *= c);
        for i in 0..d {
            for j in 0..k {
                *p.at_mut(i, j) = (0..k).map(|l| g.at(i, l) * phi[l * k + j]).sum();
            }
        }
        p
    }

    /// The potential K(G) with K(0) = 0, in f64; `None` for custom K.
    /// Used by the tests (∇K against finite differences of K).
    pub fn potential(&self, g: MatRef<'_, f64>) -> Option<f64> {
        use Precond::*;
        let (d, k) = g.shape();
        let elems = || (0..d).flat_map(move |i| (0..k).map(move |j| g.at(i, j)));
        let norm = elems().map(|x| x * x).sum::<f64>().sqrt();
        let v = match *self {
            Gd => 0.5 * norm * norm,
            Clip { tau } => huber(norm, tau),
            Ngd { eps: None } => norm,
            Ngd { eps: Some(e) } => norm - e * (norm / e).ln_1p(),
            Power { p } => norm.powf(p) / p,
            Spectral { eps } => {
                let mut gtg = vec![0.0; k * k];
                for a in 0..k {
                    for b in 0..k {
                        gtg[a * k + b] = (0..d).map(|i| g.at(i, a) * g.at(i, b)).sum();
                    }
                }
                let mut ws = EigWorkspace::new(k);
                crate::sym_eig::sym_eig(&mut gtg, k, &mut ws.vals, &mut ws.vecs);
                let e = eps.unwrap_or(0.0);
                // As in `phi`: without ε, eigenvalues at rounding level are structural
                // zeros of GᵀG (d < k or rank-deficient G) and contribute 0, not √(rounding).
                let lmax = ws.vals.iter().fold(0.0f64, |m, &x| m.max(x));
                let thr = f64::EPSILON * (k.max(1) as f64) * 16.0 * lmax;
                ws.vals.iter().map(|&l| if eps.is_some() || l > thr { (l.max(0.0) + e * e).sqrt() - e } else { 0.0 }).sum()
            }
            Sign => elems().map(f64::abs).sum(),
            Adam { eps } => elems().map(|x| x.abs() - eps * (x.abs() / eps).ln_1p()).sum(),
            EClip { tau } => elems().map(|x| huber(x.abs(), tau)).sum(),
            Lp { p } => elems().map(|x| x.abs().powf(p) / p).sum(),
            Custom(_) => return None,
        };
        Some(v)
    }
}

fn huber(a: f64, tau: f64) -> f64 {
    if a <= tau {
        0.5 * a * a
    } else {
        tau * a - 0.5 * tau * tau
    }
}

struct MapInto<'a, 'b> {
    g: MatRef<'a, f64>,
    p: MatMut<'b, f64>,
}
impl SeparableVisitor<f64> for MapInto<'_, '_> {
    type Output = Mat<f64>;
    fn visit<K: SeparableKernel<f64>>(mut self, k: K) -> Mat<f64> {
        for i in 0..self.g.nrows() {
            for j in 0..self.g.ncols() {
                *self.p.at_mut(i, j) = k.apply(self.g.at(i, j));
            }
        }
        self.p.rb().to_owned()
    }
}

/// The elementwise map of a separable K, for one scalar type.
pub trait SeparableKernel<T: Scalar>: Copy + Send + Sync {
    /// ∇k(g).
    fn apply(self, g: T) -> T;
}

/// A loop generic over the separable kernel (see [`Precond::dispatch_separable`]).
pub trait SeparableVisitor<T: Scalar> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with kernel `k`.
    fn visit<K: SeparableKernel<T>>(self, k: K) -> Self::Output;
}

/// sign(g), 0 at 0.
#[derive(Clone, Copy, Debug)]
pub struct SignKernel;
impl<T: Scalar> SeparableKernel<T> for SignKernel {
    #[inline(always)]
    fn apply(self, g: T) -> T {
        g.sign()
    }
}

/// g/(|g| + ε).
#[derive(Clone, Copy, Debug)]
pub struct AdamKernel<T> {
    /// ε > 0.
    pub eps: T,
}
impl<T: Scalar> SeparableKernel<T> for AdamKernel<T> {
    #[inline(always)]
    fn apply(self, g: T) -> T {
        g / (g.abs() + self.eps)
    }
}

/// clamp(g, −τ, τ).
#[derive(Clone, Copy, Debug)]
pub struct EClipKernel<T> {
    /// τ > 0.
    pub tau: T,
}
impl<T: Scalar> SeparableKernel<T> for EClipKernel<T> {
    #[inline(always)]
    fn apply(self, g: T) -> T {
        g.max(-self.tau).min(self.tau)
    }
}

/// sign(g)|g|^{p−1}.
#[derive(Clone, Copy, Debug)]
pub struct LpPrecondKernel<T> {
    /// p − 1 > 0.
    pub pm1: T,
}
impl<T: Scalar> SeparableKernel<T> for LpPrecondKernel<T> {
    #[inline(always)]
    fn apply(self, g: T) -> T {
        g.sign() * g.abs().powf(self.pm1)
    }
}

/// g (for `lp:2`).
#[derive(Clone, Copy, Debug)]
pub struct IdentityKernel;
impl<T: Scalar> SeparableKernel<T> for IdentityKernel {
    #[inline(always)]
    fn apply(self, g: T) -> T {
        g
    }
}

impl FromStr for Precond {
    type Err = SpecError;
    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let s = Parts::split("preconditioner", spec)?;
        let pos = |v: f64| v > 0.0;
        let k = match s.name {
            "gd" => {
                s.no_param()?;
                Precond::Gd
            }
            "clip" => Precond::Clip { tau: s.num("τ", "> 0", pos)? },
            "ngd" => Precond::Ngd { eps: s.opt_num("ε", "> 0", pos)? },
            "power" => Precond::Power { p: s.num("p", "> 1", |v| v > 1.0)? },
            "spectral" | "muon" => Precond::Spectral { eps: s.opt_num("ε", "> 0", pos)? },
            "sign" => {
                s.no_param()?;
                Precond::Sign
            }
            "adam" => Precond::Adam { eps: s.num("ε", "> 0", pos)? },
            "eclip" => Precond::EClip { tau: s.num("τ", "> 0", pos)? },
            "lp" => Precond::Lp { p: s.num("p", "> 1", |v| v > 1.0)? },
            other => {
                return Err(s.err(format!(
                    "unknown preconditioner '{other}'; expected one of gd, clip:τ, ngd, ngd:ε, power:p, spectral, spectral:ε, sign, adam:ε, eclip:τ, lp:p"
                )))
            }
        };
        Ok(k)
    }
}

impl fmt::Display for Precond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Precond::*;
        match self {
            Gd => f.write_str("gd"),
            Clip { tau } => write!(f, "clip:{}", fmt_param(*tau)),
            Ngd { eps: None } => f.write_str("ngd"),
            Ngd { eps: Some(e) } => write!(f, "ngd:{}", fmt_param(*e)),
            Power { p } => write!(f, "power:{}", fmt_param(*p)),
            Spectral { eps: None } => f.write_str("spectral"),
            Spectral { eps: Some(e) } => write!(f, "spectral:{}", fmt_param(*e)),
            Sign => f.write_str("sign"),
            Adam { eps } => write!(f, "adam:{}", fmt_param(*eps)),
            EClip { tau } => write!(f, "eclip:{}", fmt_param(*tau)),
            Lp { p } => write!(f, "lp:{}", fmt_param(*p)),
            Custom(c) => write!(f, "custom:{}", c.name()),
        }
    }
}
