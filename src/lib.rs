//! # dspgd — dual space preconditioned gradient descent
//!
//! Solves overparameterized linear problems `XW = Y` (X: n×d with n < d,
//! Y: n×k) by minimizing `L(W) = ℓ(XW − Y)` with
//!
//! ```text
//! W ← W − η ∇K(Xᵀ ∇ℓ(XW − Y))
//! ```
//!
//! where ∇K, the *preconditioner*, acts on the gradient (the dual space):
//! plain GD (`gd`), gradient clipping (`clip:τ`), normalized GD (`ngd`,
//! `ngd:ε`), `power:p`, Muon (`spectral`, `spectral:ε`), sign descent
//! (`sign`), memoryless Adam (`adam:ε`), elementwise clipping (`eclip:τ`)
//! and `lp:p`, or your own through [`CustomPrecond`].
//!
//! The class of K decides where the iteration lands (SPEC §4):
//! **isotropic** and **right-invariant** K converge to the interpolator
//! nearest W₀, `W_GD` ([`min_distance_interpolator`]), whatever the step;
//! **separable** K converge to an interpolator at least as far (ρ ≥ 1)
//! that depends on the step size.
//!
//! ```
//! use dspgd::{solve, synthetic::gaussian_problem, min_distance_interpolator, norm_fro_diff, Options};
//! let (x, y) = gaussian_problem::<f64>(40, 160, 3, 1);
//! let opts = Options { precond: "spectral:1e-2".parse().unwrap(), analyze: true, ..Options::default() };
//! let sol = solve(x.as_ref(), y.as_ref(), None, &opts).unwrap();
//! let w_gd = min_distance_interpolator(x.as_ref(), y.as_ref(), None).unwrap();
//! assert!(sol.rel_residual <= 1e-10);
//! assert!(norm_fro_diff(sol.w.as_ref(), w_gd.as_ref()) <= 1e-8 * w_gd.norm_fro());
//! ```
//!
//! Two paths compute the same iterates: the **primal** path reads X once per
//! iteration (any K); the **Gram** path works on M = XXᵀ and never touches d
//! (isotropic and right-invariant K). `PathChoice::Auto` picks.
#![warn(missing_docs)]

mod backend_choice;
mod build_info;
mod error;
mod gram;
mod interpolator;
mod observer;
mod options;
mod path_state;
mod primal;
mod problem;
mod result;
mod solve;
mod step;
pub mod synthetic;

pub use build_info::{BuildInfo, BUILD_INFO};
pub use backend_choice::{compiled_backends, make_backend, resolve_threads, Float};
pub use dspgd_backend as kernels;
pub use dspgd_backend::{norm_fro, norm_fro_diff, Backend, CustomPrecond, Loss, Mat, MatMut, MatRef, Precond, PrecondClass, Scalar, SpecError};
pub use error::{Diverged, Error};
pub use interpolator::min_distance_interpolator;
pub use observer::{Control, NoObserver, Observer, Progress};
pub use options::{BackendChoice, LearningRate, Options, PathChoice, Schedule};
pub use problem::{validate, Dims};
pub use result::{Analysis, HistoryEntry, Path, Solution, StepInfo, StopReason};
pub use solve::{lr_rule_name, solve, solve_observed};

/// The README's Rust example runs as a doctest, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
