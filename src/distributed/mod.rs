//! Row-sharded data-parallel solves: X and Y split by rows across ranks (processes
//! on one or many machines), W replicated.
//!
//! Each rank holds a block of rows X_i, Y_i and a replica of W. Per
//! iteration each computes its part of the gradient G_i = X_iᵀ∇ℓ(R_i), of
//! the loss and of ‖R‖²; **one allreduce** sums them, and every rank applies
//! the same update W −= η∇K(G) to its replica (SPEC §1, §7). The step rules
//! carry over: `auto` runs its power iteration with one allreduce of d
//! numbers per step at setup; the line search adds one allreduce of two
//! scalars per iteration (⟨R,Q⟩ or ⟨∇ℓ(R),Q⟩, and ‖Q‖²) and, for Armijo,
//! one of one scalar per trial. Stopping uses the global ‖R‖/‖Y‖, so every
//! rank stops at the same iteration. Only the primal path runs: the Gram
//! path would need the n×n matrix XXᵀ across ranks.
//!
//! The communication is behind the [`Collective`] trait: [`SingleProcess`]
//! (nothing to do), [`ThreadCollective`] (ranks simulated by threads, always
//! compiled, for tests) and, with the Cargo feature `mpi`, `MpiCollective`
//! over an MPI communicator (rsmpi on the system's Open MPI).
//!
//! The iterates are those of [`crate::solve`] with the primal path, up to the
//! order of the floating-point sums; W is bitwise identical on every rank
//! as long as every rank runs the same kernel (checked at setup). In `f32`
//! runs G, the loss and ‖R‖² are summed in f32.

mod collective;
#[cfg(feature = "mpi")]
mod mpi_collective;
mod solve;
mod thread_collective;

pub(crate) use collective::Reducer;
pub use collective::{allreduce_sum, Collective, CommCounts, SingleProcess};
#[cfg(feature = "mpi")]
pub use mpi_collective::MpiCollective;
pub use solve::{solve_distributed, solve_distributed_observed, CommStats, DistributedSolution};
pub use thread_collective::ThreadCollective;
