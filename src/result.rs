//! What a solve returns: the weights and the diagnostics.

use core::fmt;
use dspgd_backend::Mat;

/// Why the iteration stopped (not an error: see [`crate::Error`] for those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// ‖R‖ ≤ tol·‖Y‖.
    Converged,
    /// The iteration limit was reached first.
    MaxIters,
    /// The line search found no step that decreases the loss (rounding floor reached).
    Stalled,
    /// An observer asked to stop.
    Callback,
    /// Interrupted (e.g. Ctrl-C in the CLI, through an observer).
    Interrupted,
}

impl StopReason {
    /// The name used in reports: `converged`, `max_iters`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::Converged => "converged",
            StopReason::MaxIters => "max_iters",
            StopReason::Stalled => "stalled",
            StopReason::Callback => "callback",
            StopReason::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which solution path ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// One sweep over X per iteration.
    Primal,
    /// Iterations on the n×n Gram matrix M = XXᵀ.
    Gram,
}

impl Path {
    /// `"primal"` or `"gram"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Path::Primal => "primal",
            Path::Gram => "gram",
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryEntry {
    /// Iteration t (0 = the starting point).
    pub iteration: usize,
    /// L(W_t).
    pub loss: f64,
    /// ‖R_t‖/‖Y‖.
    pub rel_residual: f64,
    /// ‖G_t‖_F (NaN at the final entry, where G is not formed).
    pub grad_norm: f64,
    /// The step η_t taken from W_t (0 at the last entry).
    pub eta: f64,
}

/// How the step size was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    /// `"auto"`, `"line-search"` or `"constant"`.
    pub rule: &'static str,
    /// The base step η₀ (auto or constant), before any schedule.
    pub eta0: Option<f64>,
    /// The schedule (`const`, `invsqrt`, `inv`, `geom:γ`).
    pub schedule: String,
    /// ‖X‖₂ estimated by power iteration (auto only).
    pub x_norm2: Option<f64>,
    /// Power iterations spent on it.
    pub power_iterations: usize,
    /// Line search: whether it was exact (squared loss) or Armijo.
    pub exact: bool,
    /// Line search: loss evaluations in all.
    pub trials: usize,
}

impl fmt::Display for StepInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            "line-search" => write!(f, "line-search ({})", if self.exact { "exact" } else { "armijo" }),
            rule => {
                write!(f, "{rule}")?;
                if let Some(e) = self.eta0 {
                    write!(f, " η={e:.3e}")?;
                }
                if self.schedule != "const" {
                    write!(f, " {}", self.schedule)?;
                }
                Ok(())
            }
        }
    }
}

/// Where the limit lies relative to W_GD (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analysis {
    /// ρ = ‖W − W₀‖/‖W_GD − W₀‖ (≥ 1 for an interpolating limit; 1 for isotropic and right-invariant K).
    pub rho: f64,
    /// ‖X⁺X(W − W₀) − (W_GD − W₀)‖/‖W_GD − W₀‖: the row-space part matches W_GD when 0.
    pub row_space_residual: f64,
    /// ‖W − W_GD‖/‖W_GD − W₀‖.
    pub dist_to_wgd: f64,
    /// ‖W − W_GD‖/‖W_GD‖.
    pub rel_dist_to_wgd: f64,
}

/// The result of a solve.
#[derive(Debug, Clone)]
pub struct Solution<T> {
    /// The weights (d×k).
    pub w: Mat<T>,
    /// Iterations run.
    pub iterations: usize,
    /// ‖XW − Y‖/‖Y‖, recomputed exactly from W.
    pub rel_residual: f64,
    /// The loss L(W) at the end.
    pub loss: f64,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// How η was chosen.
    pub step: StepInfo,
    /// Seconds in the iteration loop (setup excluded).
    pub seconds: f64,
    /// Seconds of setup (power iteration, Gram matrix, ...).
    pub setup_seconds: f64,
    /// Iterations per second of the loop.
    pub iters_per_sec: f64,
    /// The backend that ran.
    pub backend: &'static str,
    /// The kernel level that ran.
    pub kernel: String,
    /// The path that ran.
    pub path: Path,
    /// Kernel threads.
    pub threads: usize,
    /// `f32` or `f64`.
    pub dtype: &'static str,
    /// The preconditioner spec.
    pub precond: String,
    /// The loss spec.
    pub loss_spec: String,
    /// Recorded iterations (when `history_every > 0`).
    pub history: Vec<HistoryEntry>,
    /// ρ and the row-space residual (when `analyze`).
    pub analysis: Option<Analysis>,
    /// Things the caller should know (e.g. a non-smooth K with a constant step).
    pub warnings: Vec<String>,
    /// With `BackendChoice::Tune`: what each candidate reached (the fastest ran).
    pub tuning: Vec<TuneTrial>,
}

/// One candidate timed by `BackendChoice::Tune`.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneTrial {
    /// The backend.
    pub backend: &'static str,
    /// Its kernel level.
    pub kernel: String,
    /// Iterations per second of its short run.
    pub iters_per_sec: f64,
}
