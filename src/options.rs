//! Settings of a solve: a plain struct with `Default`, validated before the
//! first iteration.

use crate::error::Error;
use dspgd_backend::{Loss, Precond, SpecError};
use core::fmt;
use core::str::FromStr;

/// The step-size rule (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum LearningRate {
    /// `auto` when K and ℓ are smooth, `line-search` otherwise.
    #[default]
    Default,
    /// η = 1/(L_K·β·‖X‖₂²), ‖X‖₂ by power iteration. Needs smooth K and ℓ.
    Auto,
    /// Exact for the squared loss, Armijo backtracking otherwise; no extra pass over X.
    LineSearch,
    /// A constant η > 0 (the paper's method), optionally with a [`Schedule`].
    Constant(f64),
}

impl FromStr for LearningRate {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let t = s.trim();
        match t {
            "default" => Ok(LearningRate::Default),
            "auto" => Ok(LearningRate::Auto),
            "line-search" | "linesearch" | "ls" => Ok(LearningRate::LineSearch),
            _ => match t.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(LearningRate::Constant(v)),
                Ok(v) => Err(SpecError { what: "step size", spec: s.into(), reason: format!("a constant step must be > 0 and finite, got {v}") }),
                Err(_) => Err(SpecError {
                    what: "step size",
                    spec: s.into(),
                    reason: "expected 'auto', 'line-search' or a positive number".into(),
                }),
            },
        }
    }
}

impl fmt::Display for LearningRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LearningRate::Default => f.write_str("default"),
            LearningRate::Auto => f.write_str("auto"),
            LearningRate::LineSearch => f.write_str("line-search"),
            LearningRate::Constant(v) => write!(f, "{v}"),
        }
    }
}

/// A decay of the step size over iterations: η_t = η₀·schedule(t).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Schedule {
    /// η_t = η₀.
    #[default]
    Constant,
    /// η_t = η₀/√(t+1).
    InvSqrt,
    /// η_t = η₀/(t+1).
    Inv,
    /// η_t = η₀·γᵗ, 0 < γ ≤ 1.
    Geom(f64),
}

impl Schedule {
    /// The factor at iteration t.
    pub fn factor(&self, t: usize) -> f64 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::InvSqrt => 1.0 / ((t + 1) as f64).sqrt(),
            Schedule::Inv => 1.0 / (t + 1) as f64,
            Schedule::Geom(g) => g.powi(t.min(i32::MAX as usize) as i32),
        }
    }
    /// True when the step shrinks to 0, which non-smooth K need with a fixed η₀.
    pub fn decays(&self) -> bool {
        !matches!(*self, Schedule::Constant) && !matches!(*self, Schedule::Geom(g) if g == 1.0)
    }
}

impl FromStr for Schedule {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let err = |reason: String| SpecError { what: "schedule", spec: s.into(), reason };
        let t = s.trim();
        match t.split_once(':') {
            None => match t {
                "const" | "constant" => Ok(Schedule::Constant),
                "invsqrt" => Ok(Schedule::InvSqrt),
                "inv" => Ok(Schedule::Inv),
                "geom" => Err(err("'geom' needs a factor γ in (0, 1], e.g. 'geom:0.999'".into())),
                "" => Err(err("the spec is empty".into())),
                other => Err(err(format!("unknown schedule '{other}'; expected one of const, invsqrt, inv, geom:γ"))),
            },
            Some(("geom", g)) => match g.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 1.0 => Ok(Schedule::Geom(v)),
                Ok(_) => Err(err(format!("γ must be in (0, 1], got {g}"))),
                Err(_) => Err(err(format!("γ must be a number, got '{g}'"))),
            },
            Some((name, _)) => Err(err(format!("'{name}' takes no parameter (only geom:γ does)"))),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant => f.write_str("const"),
            Schedule::InvSqrt => f.write_str("invsqrt"),
            Schedule::Inv => f.write_str("inv"),
            Schedule::Geom(g) => write!(f, "geom:{g}"),
        }
    }
}

/// Which solution path to run (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathChoice {
    /// Gram when the class of K allows it and it is cheaper, primal otherwise.
    #[default]
    Auto,
    /// One sweep over X per iteration; any K.
    Primal,
    /// Iterate on A with W = W₀ + XᵀA and M = XXᵀ; right-invariant (and isotropic) K only.
    Gram,
}

impl FromStr for PathChoice {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s.trim() {
            "auto" => Ok(PathChoice::Auto),
            "primal" => Ok(PathChoice::Primal),
            "gram" => Ok(PathChoice::Gram),
            other => Err(SpecError { what: "path", spec: s.into(), reason: format!("unknown path '{other}'; expected auto, primal or gram") }),
        }
    }
}

impl fmt::Display for PathChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathChoice::Auto => "auto",
            PathChoice::Primal => "primal",
            PathChoice::Gram => "gram",
        })
    }
}

/// Which backend runs the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BackendChoice {
    /// The best compiled-in backend for this CPU and shape (see [`crate::make_backend`]).
    #[default]
    Auto,
    /// Time a few iterations of every available backend on the actual problem and keep the fastest.
    Tune,
    /// Plain loops (the test oracle; slow).
    Reference,
    /// faer (feature `faer`, default).
    Faer,
    /// Hand-written SIMD with pulp: AVX-512, AVX2+FMA, NEON or scalar (feature `simd`, default).
    Simd,
    /// The system OpenBLAS (feature `openblas`, opt-in).
    OpenBlas,
}

impl BackendChoice {
    /// Name as in the CLI.
    pub fn as_str(&self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Tune => "tune",
            BackendChoice::Reference => "reference",
            BackendChoice::Faer => "faer",
            BackendChoice::Simd => "simd",
            BackendChoice::OpenBlas => "openblas",
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendChoice {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s.trim() {
            "auto" => Ok(BackendChoice::Auto),
            "tune" => Ok(BackendChoice::Tune),
            "reference" => Ok(BackendChoice::Reference),
            "faer" => Ok(BackendChoice::Faer),
            "simd" => Ok(BackendChoice::Simd),
            "openblas" => Ok(BackendChoice::OpenBlas),
            other => Err(SpecError {
                what: "backend",
                spec: s.into(),
                reason: format!(
                    "unknown backend '{other}'; expected auto, tune, reference, faer, simd or openblas (this build has {})",
                    crate::compiled_backends().join(", ")
                ),
            }),
        }
    }
}

/// Everything that configures a solve. Start from `Options::default()` and
/// set what you need; [`crate::solve`] validates it before the first iteration.
#[derive(Debug, Clone)]
pub struct Options {
    /// ∇K (default `gd`).
    pub precond: Precond,
    /// ℓ (default `squared`).
    pub loss: Loss,
    /// Step-size rule (default: `auto` for smooth K and ℓ, else `line-search`).
    pub lr: LearningRate,
    /// Decay applied to a constant or `auto` step (default none).
    pub schedule: Schedule,
    /// Stop when ‖R‖_F ≤ tol·‖Y‖_F. `None`: 1e-10 in f64, 1e-5 in f32.
    pub tol: Option<f64>,
    /// Iteration limit (default 10 000). Reaching it is a stop reason, not an error.
    pub max_iters: usize,
    /// Backend (default auto).
    pub backend: BackendChoice,
    /// Solution path (default auto).
    pub path: PathChoice,
    /// Threads for the kernels; 0 = all cores (default 1).
    pub threads: usize,
    /// Record the history every this many iterations (0 = no history).
    pub history_every: usize,
    /// Recompute R = XW − Y exactly every this many iterations (default 200).
    pub recompute_every: usize,
    /// Compute W_GD, ρ and the row-space residual at the end (costs one n×n solve).
    pub analyze: bool,
    /// Divergence bound: stop with an error when the loss exceeds this factor
    /// times the initial loss, or is not finite (default 1e12).
    pub divergence_factor: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            precond: Precond::Gd,
            loss: Loss::Squared,
            lr: LearningRate::Default,
            schedule: Schedule::Constant,
            tol: None,
            max_iters: 10_000,
            backend: BackendChoice::Auto,
            path: PathChoice::Auto,
            threads: 1,
            history_every: 0,
            recompute_every: 200,
            analyze: false,
            divergence_factor: 1e12,
        }
    }
}

impl Options {
    /// The step rule this configuration resolves to (Default → Auto or LineSearch).
    pub fn resolved_lr(&self) -> LearningRate {
        match self.lr {
            LearningRate::Default => {
                if self.precond.is_smooth() && self.loss.beta().is_some() {
                    LearningRate::Auto
                } else {
                    LearningRate::LineSearch
                }
            }
            other => other,
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// The first setting out of range, naming it and its value.
    pub fn validate(&self) -> Result<(), Error> {
        self.precond.validate()?;
        self.loss.validate()?;
        let bad = |arg: &'static str, msg: String| Err(Error::InvalidOption { arg, msg });
        if let Some(tol) = self.tol {
            if !(tol.is_finite() && tol > 0.0) {
                return bad("tol", format!("must be > 0 and finite, got {tol}"));
            }
        }
        if self.max_iters == 0 {
            return bad("max_iters", "must be at least 1".into());
        }
        if self.recompute_every == 0 {
            return bad("recompute_every", "must be at least 1".into());
        }
        if !(self.divergence_factor.is_finite() && self.divergence_factor > 1.0) {
            return bad("divergence_factor", format!("must be > 1 and finite, got {}", self.divergence_factor));
        }
        match self.lr {
            LearningRate::Constant(eta) if !(eta.is_finite() && eta > 0.0) => {
                return bad("lr", format!("a constant step must be > 0 and finite, got {eta}"))
            }
            _ => {}
        }
        if let Schedule::Geom(g) = self.schedule {
            if !(g > 0.0 && g <= 1.0) {
                return bad("schedule", format!("geom:γ needs 0 < γ ≤ 1, got {g}"));
            }
        }
        match self.resolved_lr() {
            LearningRate::Auto => {
                if !self.precond.is_smooth() {
                    return bad(
                        "lr",
                        format!("'auto' needs a smooth K, but '{}' has L_K = ∞; use line-search or a constant step with a schedule", self.precond),
                    );
                }
                if self.loss.beta().is_none() {
                    return bad("lr", format!("'auto' needs a smooth loss, but '{}' is not globally smooth; use line-search", self.loss));
                }
            }
            LearningRate::LineSearch if self.schedule != Schedule::Constant => {
                return bad("schedule", format!("a schedule ('{}') applies to a constant or auto step, not to line-search", self.schedule));
            }
            _ => {}
        }
        if self.path == PathChoice::Gram && !self.precond.class().is_right_invariant() {
            return bad("path", format!("the Gram path needs an isotropic or right-invariant K; '{}' is {}", self.precond, self.precond.class()));
        }
        Ok(())
    }
}
