//! # dspgd-faer — the faer backend of dspgd
//!
//! [`FaerBackend`] implements the kernel layer's [`Backend`] trait for `f32`
//! and `f64` on top of [faer](https://docs.rs/faer), in pure Rust.
//!
//! | operation | how |
//! |---|---|
//! | `gemm` | `faer::linalg::matmul::matmul`; β = 0 overwrites C (old contents, even NaN, ignored), β = 1 accumulates, other β scales C first |
//! | `sweep` | the fused one-pass form of SPEC §7: X by row blocks that stay in cache, `Q_B = X_B·P`, `R_B −= η·Q_B`, `D_B = ∇ℓ(R_B)`, `G += X_Bᵀ·D_B` (faer products, elementwise loop monomorphized per loss) |
//! | `sweep`, 1 ≤ k ≤ 4 | the same, with `R −= η·X·P`, X with contiguous rows: groups of 4 rows, a dot-product pass and a rank-4 update of Gᵀ over each group (plain loops vectorized under faer's `pulp` dispatch, no faer products) |
//! | `grad_stats` | ‖G‖² in f64; GᵀG by a faer product in the element type, widened to f64 |
//! | `precond_update` | one pass W −= η_prev·P, P = s·G or separable ∇k(G); P = G·Φ by row blocks with faer |
//! | `loss_grad`, `loss_along`, `axpy`, `dot` | elementwise loops: flat slices when all operands are packed alike, faer `zip!` for any other strides |
//!
//! Sums (loss, ‖R‖², dot products) are accumulated in f64, with products of
//! `f32` values formed exactly in f64, as the reference backend does.
//!
//! ## Threads
//!
//! [`FaerBackend::new`] takes a thread count: 1 runs everything on the
//! calling thread (`faer::Par::Seq`), n > 1 uses n threads, 0 uses all cores.
//! Products run with `faer::Par::rayon(n)` (rayon's global pool). The sweep
//! instead cuts the rows of X into one chunk per thread and runs each chunk
//! sequentially, the first on the calling thread and the others on
//! whichever of it and the workers of [`dspgd_backend::team`] is free, so
//! that the threads never nest; it
//! stays on the calling thread when the problem is too small for the
//! threads to pay off. The elementwise step over P and W is cut in the same
//! way.
//!
//! ## Memory
//!
//! The scratch the kernels need (blocks of `X·P`, the per-thread partial
//! gradients of a parallel sweep, GᵀG in the element type) lives in a
//! per-thread buffer that is grown on demand and reused, so repeated calls
//! of the same size do not allocate it again. faer may still allocate
//! internally in some products, and a parallel sweep spawns scoped threads.
//!
//! ## Example
//!
//! ```
//! use dspgd_backend::{Backend, Mat};
//! use dspgd_faer::FaerBackend;
//!
//! let b = FaerBackend::new(1);
//! let a = Mat::from_fn(2, 3, |i, j| (i + j) as f64);
//! let x = Mat::from_fn(3, 1, |i, _| 1.0 + i as f64);
//! let mut c = Mat::<f64>::zeros(2, 1);
//! b.gemm(c.as_mut(), 0.0, a.as_ref(), x.as_ref(), 1.0);
//! assert_eq!(c.as_slice(), &[8.0, 14.0]);
//! ```
#![warn(missing_docs)]

mod elementwise;
mod product;
mod scalar;
mod sweep;
mod sweep_small;
mod view;

pub use scalar::FaerScalar;

use dspgd_backend::{Backend, Loss, MatMut, MatRef, ResidualUpdate, Step, SweepStats};
use faer::Par;

/// Smallest sweep (n·d·k) that is split across threads: below it, starting
/// the threads costs more than it saves.
const DEFAULT_MIN_PAR_WORK: usize = 1 << 20;

/// The faer backend (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaerBackend {
    /// Requested threads: 0 = all cores.
    threads: usize,
    /// Threads in effect (≥ 1), resolved once at construction.
    workers: usize,
    /// Smallest n·d·k for which the sweep uses more than one thread.
    min_par_work: usize,
}

impl Default for FaerBackend {
    /// One thread.
    fn default() -> Self {
        Self::new(1)
    }
}

impl FaerBackend {
    /// A backend using `threads` threads: 1 = sequential, 0 = all cores.
    ///
    /// The number of cores behind 0 is looked up here, once.
    pub fn new(threads: usize) -> Self {
        let workers = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Self { threads, workers, min_par_work: DEFAULT_MIN_PAR_WORK }
    }

    /// The thread count as requested (0 = all cores).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The thread count in effect: the requested one, or the number of
    /// cores when 0 was requested.
    pub fn effective_threads(&self) -> usize {
        self.workers
    }

    /// Sets the smallest sweep size n·d·k, and product size (multiply-adds),
    /// that is split across threads (default 2²⁰). Meant for tests (0 forces the parallel path on small
    /// shapes) and for tuning.
    #[doc(hidden)]
    pub fn with_min_parallel_work(mut self, work: usize) -> Self {
        self.min_par_work = work;
        self
    }

    /// faer's parallelism for a product of `work` multiply-adds: sequential
    /// below the backend's smallest parallel work, where waking threads costs
    /// more than it saves (the Gram path at S2, n = 200, k = 10, ran at half
    /// its one-thread rate on two threads).
    fn par(&self, work: usize) -> Par {
        match self.workers {
            1 => Par::Seq,
            _ if work < self.min_par_work => Par::Seq,
            n => Par::rayon(n),
        }
    }
}

fn assert_shape(what: &str, got: (usize, usize), want: (usize, usize)) {
    assert_eq!(got, want, "{what}: shape {got:?}, expected {want:?}");
}

impl<T: FaerScalar> Backend<T> for FaerBackend {
    fn name(&self) -> &'static str {
        "faer"
    }

    fn kernel(&self) -> String {
        "faer".into()
    }

    fn gemm(&self, c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
        assert_eq!(a.ncols(), b.nrows(), "gemm: inner dimensions {} and {}", a.ncols(), b.nrows());
        assert_shape("gemm C", c.shape(), (a.nrows(), b.ncols()));
        let work = c.nrows().saturating_mul(c.ncols()).saturating_mul(a.ncols());
        product::gemm(c, beta, a, b, alpha, self.par(work));
    }

    fn syrk(&self, c: MatMut<'_, T>, a: MatRef<'_, T>) {
        assert_shape("syrk C", c.shape(), (a.nrows(), a.nrows()));
        let work = a.nrows().saturating_mul(a.nrows()).saturating_mul(a.ncols()) / 2;
        product::syrk(c, a, self.par(work));
    }

    fn sweep(
        &self,
        x: MatRef<'_, T>,
        update: ResidualUpdate<'_, T>,
        r: MatMut<'_, T>,
        loss: &Loss,
        d: MatMut<'_, T>,
        g: MatMut<'_, T>,
    ) -> SweepStats {
        sweep::sweep(x, update, r, loss, d, g, self.workers, self.min_par_work)
    }

    fn loss_grad(&self, r: MatRef<'_, T>, loss: &Loss, d: MatMut<'_, T>) -> SweepStats {
        assert_shape("loss_grad D", d.shape(), r.shape());
        elementwise::loss_grad(r, loss, d)
    }

    fn grad_stats(&self, g: MatRef<'_, T>, gtg: Option<&mut [f64]>) -> f64 {
        if let Some(out) = gtg {
            let k = g.ncols();
            assert!(out.len() >= k * k, "grad_stats: GᵀG buffer has {} elements, needs {}", out.len(), k * k);
            product::gram(g, out, self.par(g.nrows().saturating_mul(k).saturating_mul(k)));
        }
        elementwise::dot(g, g)
    }

    fn precond_update(&self, g: MatRef<'_, T>, step: Step<'_, T>, eta_prev: T, w: MatMut<'_, T>, p: MatMut<'_, T>) {
        let (d, k) = g.shape();
        assert_shape("precond_update W", w.shape(), (d, k));
        assert_shape("precond_update P", p.shape(), (d, k));
        match step {
            Step::Scale(s) => elementwise::step_map(g, eta_prev, w, p, move |x| s * x, self.workers),
            Step::Right(phi) => {
                assert_shape("precond_update Φ", phi.shape(), (k, k));
                product::right_step(g, phi, eta_prev, w, p, self.par(d.saturating_mul(k).saturating_mul(k)));
            }
            Step::Separable(pc) => {
                pc.dispatch_separable(elementwise::SeparableStep { g, eta_prev, w, p, workers: self.workers })
                    .unwrap_or_else(|| panic!("Step::Separable needs a separable built-in K, got '{pc}'"));
            }
        }
    }

    fn axpy(&self, y: MatMut<'_, T>, alpha: T, x: MatRef<'_, T>) {
        assert_shape("axpy", y.shape(), x.shape());
        elementwise::axpy(y, alpha, x);
    }

    fn dot(&self, a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
        assert_shape("dot", a.shape(), b.shape());
        elementwise::dot(a, b)
    }

    fn loss_along(&self, r: MatRef<'_, T>, q: MatRef<'_, T>, eta: T, loss: &Loss) -> f64 {
        assert_shape("loss_along", q.shape(), r.shape());
        elementwise::loss_along(r, q, eta, loss)
    }

    /// Below 32 right-hand sides (the sweep's `LARGE_K`): faer's products on blocks
    /// of rows run faster into a column-major G (`dspgd bench --shape S2
    /// --precond gd`, k = 10: a third more iterations/s). From there on the
    /// sweep is two large products, and G = XᵀD into a row-major G ran 11 %
    /// faster in f64 (n = 500, d = 5000, k = 100).
    fn prefers_col_major(&self, _d: usize, k: usize) -> bool {
        k < sweep::LARGE_K
    }

    /// When the sweep runs on several threads (n = 200, d = 2000, k = 10,
    /// two threads: 2 346 → 2 683 it/s in f64, 4 495 → 4 879 in f32).
    fn prefers_fresh_step_buffer(&self, n: usize, d: usize, k: usize) -> bool {
        sweep::sweep_threads(self.workers, n, d, k, self.min_par_work) > 1
    }
}
