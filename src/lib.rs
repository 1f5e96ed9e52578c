//! # dspgd — dual space preconditioned gradient descent
//!
//! Solves overparameterized linear problems `XW = Y` (X: n×d with n < d,
//! Y: n×k) by minimizing `L(W) = ℓ(XW − Y)`, ℓ elementwise and convex with
//! its minimum at 0 (so the minimizers are exactly the interpolators).
//!
//! ## The update rule
//!
//! ```text
//! R_t = X W_t − Y          residual               (n×k)
//! D_t = ∇ℓ(R_t)            loss gradient          (n×k, elementwise)
//! G_t = Xᵀ D_t             gradient of L          (d×k)
//! P_t = ∇K(G_t)            preconditioned step    (d×k)
//! W_{t+1} = W_t − η_t P_t
//! ```
//!
//! ∇K, the *preconditioner*, acts on the gradient (the dual space), not on
//! W: this is not mirror descent, and there is no momentum or other state.
//! The residual is carried by the recurrence `R_{t+1} = R_t − η_t X P_t`
//! (recomputed exactly every [`Options::recompute_every`] iterations and at
//! the end), which also makes the line search free of extra passes over X.
//! The step η_t is `auto` (1/(L_K·β·‖X‖₂²), ‖X‖₂ by power iteration), an
//! exact or Armijo line search, or a constant with an optional decay
//! ([`LearningRate`], [`Schedule`]). Losses: `squared`, `huber:δ`,
//! `logcosh`, `lp:p` ([`Loss`]).
//!
//! ## The classes of K
//!
//! | class | ∇K(G) | built in | where W_t goes |
//! |---|---|---|---|
//! | isotropic | s(G)·G, s a scalar: K(G) = h(‖G‖_F) | `gd`, `clip:τ`, `ngd`, `ngd:ε`, `power:p` | to W_GD, the interpolator nearest W₀, for every step size |
//! | right-invariant | G·Φ(GᵀG), Φ k×k: K(QG) = K(G) for orthogonal Q | `spectral`, `spectral:ε` (Muon) | to W_GD as well (W_t − W₀ stays in range(Xᵀ)) |
//! | separable | elementwise: K(G) = Σ k(g_ij) | `sign`, `adam:ε`, `eclip:τ`, `lp:p` | to another interpolator, farther from W₀ (ρ > 1), that depends on η |
//! | general | anything else | your own [`CustomPrecond`] | no guarantee beyond convergence |
//!
//! W_GD = W₀ + Xᵀ(XXᵀ)⁻¹(Y − XW₀) is [`min_distance_interpolator`];
//! `Options::analyze` reports ρ = ‖W − W₀‖/‖W_GD − W₀‖ ([`Analysis`]).
//! Spec strings (`"adam:1e-2"`) parse into [`Precond`] and [`Loss`] with `FromStr`.
//! Two paths compute the same iterates: the **primal** path reads X once per
//! iteration (any K); the **Gram** path works on M = XXᵀ and never touches d
//! (isotropic and right-invariant K). [`PathChoice::Auto`] picks.
//!
//! ## Example
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
//! Data comes in as views over your memory ([`MatRef::from_row_major`],
//! [`MatRef::from_col_major`], [`MatRef::from_strided`]) or from `faer`,
//! `ndarray` and `nalgebra` matrices through [`interop`]. To watch a solve
//! or stop it early, pass an [`Observer`] (any `FnMut(&Progress) -> Control`)
//! to [`solve_observed`]; the library never prints.
//!
//! ## Errors
//!
//! Every fallible function returns [`Error`]: bad shapes, non-finite data
//! and invalid options are reported before the first iteration, naming the
//! argument; divergence is [`Error::Diverged`] and keeps the last finite
//! iterate. Reaching `max_iters` is not an error but a [`StopReason`].
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `faer` | yes | the faer backend (pure-Rust matrix products, threads) and `interop::faer` |
//! | `simd` | yes | the hand-written SIMD backend (pulp): AVX-512, AVX2+FMA or scalar kernels picked at run time (`DSPGD_SIMD=scalar\|v3\|v4` forces one) |
//! | `openblas` | no | the OpenBLAS backend: BLAS products from the system's OpenBLAS (needs the library installed, e.g. `apt-get install libopenblas-dev`) |
//! | `cli` | yes | the `dspgd` program, see `dspgd --help` (clap, serde_json, anyhow, plotters for SVG plots, indicatif for progress bars); the library does not use it |
//! | `ndarray` | no | `interop::ndarray`: `ArrayView2`/`Array2` from and to dspgd matrices |
//! | `nalgebra` | no | `interop::nalgebra`: `DMatrix`/`DMatrixView` from and to dspgd matrices |
//! | `mpi` | no | `distributed::MpiCollective`: row-sharded solves over MPI ([`distributed`]; rsmpi on the system's Open MPI, e.g. `apt-get install libopenmpi-dev openmpi-bin libclang-dev`) and `dspgd solve --shard rows` under `mpirun`; without it nothing of MPI is compiled |
//!
//! Without `faer`, the `reference` backend (plain loops) runs everything.
#![warn(missing_docs)]

mod aligned_rows;
mod backend_choice;
mod build_info;
mod state_mat;
mod error;
mod gram;
mod interpolator;
mod observer;
mod options;
mod path_state;
mod primal;
mod problem;
mod rescale;
mod result;
mod solve;
mod step;
pub mod distributed;
pub mod interop;
pub mod synthetic;

pub use build_info::{BuildInfo, BUILD_INFO};
pub use backend_choice::{auto_candidates, compiled_backends, make_backend, make_backend_for, resolve_choice, resolve_threads, Float, Workload};
pub use dspgd_backend as kernels;
pub use dspgd_backend::{norm_fro, norm_fro_diff, Backend, CustomPrecond, Loss, Mat, MatMut, MatRef, Precond, PrecondClass, Scalar, SpecError};
pub use error::{Diverged, Error};
pub use interpolator::min_distance_interpolator;
pub use observer::{Control, NoObserver, Observer, Progress};
pub use options::{BackendChoice, LearningRate, Options, PathChoice, Schedule};
pub use problem::{validate, Dims};
pub use result::{Analysis, HistoryEntry, Path, Solution, StepInfo, StopReason, TuneTrial};
pub use solve::{lr_rule_name, solve, solve_observed};

/// The README's Rust example runs as a doctest, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
