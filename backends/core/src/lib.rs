//! # dspgd-backend — the kernel layer of dspgd
//!
//! Everything that touches every element of the data, and nothing of the
//! solver's logic:
//!
//! - [`MatRef`] / [`MatMut`] strided views and the owned row-major [`Mat`];
//! - [`Scalar`], implemented for `f32` and `f64`;
//! - the losses ℓ ([`Loss`]) and preconditioners ∇K ([`Precond`]) of the
//!   catalogue, with their classes and constants, and the elementwise kernels
//!   they compile to;
//! - the [`Backend`] trait: `gemm`, the fused `sweep` (one read of X per
//!   iteration), `precond_update` (P = ∇K(G) and W −= ηP in one pass), and
//!   the small reductions;
//! - the [`Reference`] backend (plain loops, the oracle) and the
//!   [`conformance`] kit every backend runs against it.
#![warn(missing_docs)]

pub mod backend;
pub mod conformance;
pub mod huge_pages;
pub mod loss;
pub mod precond;
pub mod reference;
pub mod rng;
pub mod scalar;
mod spec;
pub mod sym_eig;
pub mod team;
pub mod view;

pub use backend::{Backend, ResidualUpdate, Step, SweepStats};
pub use loss::Loss;
pub use precond::{CustomPrecond, Precond, PrecondClass};
pub use reference::Reference;
pub use scalar::Scalar;
pub use spec::SpecError;
pub use view::{norm_fro, norm_fro_diff, Mat, MatMut, MatRef, ViewError};
