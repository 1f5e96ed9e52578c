//! # dspgd-openblas — the OpenBLAS backend of dspgd
//!
//! [`OpenBlasBackend`] implements the kernel layer's [`Backend`] trait for
//! `f32` and `f64` with the products done by the system OpenBLAS through
//! CBLAS, and the fused passes around them in plain Rust.
//!
//! | operation | how |
//! |---|---|
//! | `gemm` | `cblas_?gemm` on the views in place (row- or column-major, with transposes as the strides say); `cblas_?gemv` when the result is a single column or row; views with no unit stride are copied to packed temporaries first. β = 0 overwrites C (old contents, even NaN, ignored) |
//! | `sweep` | the fused one-pass form of SPEC §7: X by row blocks that stay in cache, `Q_B = X_B·P` (`?gemv` for k = 1, `?gemm` otherwise), `R_B −= η·Q_B`, `D_B = ∇ℓ(R_B)` (a Rust loop monomorphized per loss), `G += X_Bᵀ·D_B` (`?gemv` / `?gemm`); rows split across the backend's threads |
//! | `grad_stats` | ‖G‖² by a Rust loop in f64; GᵀG by `cblas_dsyrk` (f64: on G in place; f32: on row blocks of G widened to f64, so the sums are f64) |
//! | `precond_update` | one pass W −= η_prev·P, P = s·G or separable ∇k(G) (Rust loops); P = G·Φ by row blocks with `?gemm` |
//! | `loss_grad`, `loss_along`, `axpy`, `dot` | Rust loops: flat slices when all operands are packed alike, element by element otherwise |
//!
//! Sums (loss, ‖R‖², dot products, GᵀG) are accumulated in f64, with
//! products of `f32` values formed exactly in f64, as the reference backend
//! does. The products inside BLAS run in the element type.
//!
//! ## Linking
//!
//! This crate links the **system** OpenBLAS (`-lopenblas`) and never
//! downloads or builds it. On Debian/Ubuntu:
//!
//! ```text
//! apt-get install libopenblas-dev
//! ```
//!
//! Its build script only checks that the library is there (the usual
//! library directories, or `OPENBLAS_LIB_DIR` if set) and otherwise stops
//! the build with one error that names the package to install. The CBLAS
//! declarations come from `cblas-sys`; the link itself and the OpenBLAS
//! control functions are in [`sys`]. (The `blas-src` / `openblas-src` route
//! is not needed: without its `system` feature openblas-src downloads
//! sources at build time.)
//!
//! ## Threads
//!
//! One setting, [`OpenBlasBackend::new`]`(threads)` (0 = all cores), and
//! threads never multiply:
//!
//! - the sweep over X (the per-iteration pass of the primal path) cuts the
//!   rows into one chunk per thread and runs them on the threads of
//!   [`dspgd_backend::team`], with OpenBLAS pinned to **one** thread meanwhile (small shapes, and R or
//!   D in a layout that cannot be split by rows, run on the calling thread
//!   with OpenBLAS threads inside each call instead);
//! - everything else (`gemm`, GᵀG, P = G·Φ) runs on the calling thread with
//!   OpenBLAS's own pool set to `threads`.
//!
//! OpenBLAS's thread count is **one process-wide setting**: the backend sets
//! it at construction and re-applies the count each operation needs before
//! its BLAS calls (a cheap read when unchanged), overriding
//! `OPENBLAS_NUM_THREADS`.
//!
//! **When the caller runs its own threads** (several solves in parallel, a
//! rayon pool calling the backend, another backend's threads working at the
//! same time) **it must pass 1**: otherwise every caller thread would run
//! `threads` OpenBLAS workers or sweep threads and the threads would
//! multiply. Two backends with different counts used at the same time from
//! different threads contend for the one OpenBLAS setting; give them the
//! same count.
//!
//! ## OpenBLAS may misread the CPU
//!
//! A `DYNAMIC_ARCH` OpenBLAS (Debian's) picks its kernels ("core") at start-up
//! from the CPU model. A model it does not know gets a generic fallback:
//! Debian's OpenBLAS 0.3.21 runs its `Prescott` (SSE3) kernels on recent
//! AVX-512 Xeons, and dgemm drops from about 49 to 8 GFLOP/s. This crate
//! reports what was chosen — [`core_name`], [`OpenBlasBackend`]'s `kernel()`
//! (`"openblas/SkylakeX"`, `"openblas/Prescott"`), [`config`] — and
//! [`is_generic_core`] / [`core_warning`] say when the core is a generic one
//! on a CPU with AVX2 or AVX-512, so that a caller can warn and prefer
//! another backend.
//!
//! The fix is the environment variable `OPENBLAS_CORETYPE` (e.g.
//! `OPENBLAS_CORETYPE=SkylakeX`, see [`suggested_coretype`]), which must be
//! set **before the process starts**: OpenBLAS reads it while the library is
//! loaded, so setting it from inside the program is too late. This crate
//! never sets it, and tests and CI must not either (a core the CPU lacks
//! crashes with an illegal instruction).
//!
//! ## Example
//!
//! ```
//! use dspgd_backend::{Backend, Mat};
//! use dspgd_openblas::OpenBlasBackend;
//!
//! let b = OpenBlasBackend::new(1);
//! let a = Mat::from_fn(2, 3, |i, j| (i + j) as f64);
//! let x = Mat::from_fn(3, 1, |i, _| 1.0 + i as f64);
//! let mut c = Mat::<f64>::zeros(2, 1);
//! b.gemm(c.as_mut(), 0.0, a.as_ref(), x.as_ref(), 1.0);
//! assert_eq!(c.as_slice(), &[8.0, 14.0]);
//! assert!(Backend::<f64>::kernel(&b).starts_with("openblas/"));
//! if dspgd_openblas::is_generic_core() {
//!     eprintln!("{}", dspgd_openblas::core_warning().unwrap());
//! }
//! ```
#![warn(missing_docs)]

mod core_info;
mod elementwise;
mod layout;
mod product;
mod scalar;
mod sweep;
pub mod sys;

pub use core_info::{
    config, core_level, core_name, core_warning, cpu_level, is_generic_core, num_procs, num_threads, set_num_threads,
    suggested_coretype, threading, SimdLevel, Threading,
};
pub use scalar::BlasScalar;

use dspgd_backend::{Backend, Loss, MatMut, MatRef, ResidualUpdate, Step, SweepStats};

/// The OpenBLAS backend (see the crate docs).
///
/// # Panics
/// Besides the shape mismatches every backend may panic on, a dimension
/// beyond `i32::MAX` panics: Debian's OpenBLAS has the 32-bit CBLAS interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenBlasBackend {
    /// Requested threads: 0 = all cores.
    threads: usize,
    /// Threads in effect (≥ 1), resolved once at construction.
    workers: usize,
    /// Rows per sweep block; 0 = automatic.
    block_rows: usize,
    /// Smallest sweep (n·d·k) split across threads.
    min_par_work: usize,
}

impl Default for OpenBlasBackend {
    /// One thread.
    fn default() -> Self {
        Self::new(1)
    }
}

impl OpenBlasBackend {
    /// A backend using `threads` threads: 1 = sequential, 0 = all cores
    /// (looked up here, once). Sets OpenBLAS's (process-wide) thread count to
    /// it now; the sweep uses the same number of its own threads with
    /// OpenBLAS pinned to one (see the crate docs).
    ///
    /// Pass 1 when the caller runs its own threads, so that threads never
    /// multiply.
    pub fn new(threads: usize) -> Self {
        let workers = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let b = Self { threads, workers, block_rows: 0, min_par_work: sweep::DEFAULT_MIN_PAR_WORK };
        b.pin_threads(b.workers);
        b
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

    /// Sets the rows per block of the sweep (0 = automatic, the default).
    /// Meant for tests (small blocks on small shapes) and for tuning.
    #[doc(hidden)]
    pub fn with_sweep_block_rows(mut self, rows: usize) -> Self {
        self.block_rows = rows;
        self
    }

    /// Sets the smallest sweep size n·d·k that is split across threads
    /// (default 2²⁰). Meant for tests (0 forces the parallel path on small
    /// shapes) and for tuning.
    #[doc(hidden)]
    pub fn with_min_parallel_work(mut self, work: usize) -> Self {
        self.min_par_work = work;
        self
    }

    /// Makes `threads` the count OpenBLAS uses (a cheap read when it already is).
    fn pin_threads(&self, threads: usize) {
        if num_threads() != threads {
            set_num_threads(threads);
        }
    }
}

fn assert_shape(what: &str, got: (usize, usize), want: (usize, usize)) {
    assert_eq!(got, want, "{what}: shape {got:?}, expected {want:?}");
}

impl<T: BlasScalar> Backend<T> for OpenBlasBackend {
    fn name(&self) -> &'static str {
        "openblas"
    }

    /// `"openblas/<core>"`, the core being OpenBLAS's kernel set for this
    /// CPU (e.g. `"openblas/SkylakeX"`, or `"openblas/Prescott"` when it
    /// misread the CPU).
    fn kernel(&self) -> String {
        format!("openblas/{}", core_name())
    }

    fn gemm(&self, c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
        assert_eq!(a.ncols(), b.nrows(), "gemm: inner dimensions {} and {}", a.ncols(), b.nrows());
        assert_shape("gemm C", c.shape(), (a.nrows(), b.ncols()));
        self.pin_threads(self.workers);
        product::gemm(c, beta, a, b, alpha);
    }

    fn syrk(&self, c: MatMut<'_, T>, a: MatRef<'_, T>) {
        assert_shape("syrk C", c.shape(), (a.nrows(), a.nrows()));
        self.pin_threads(self.workers);
        product::syrk(c, a);
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
        let threads = sweep::planned_threads(self.workers, self.min_par_work, x, &r, &d);
        // Our own threads → OpenBLAS on one; otherwise OpenBLAS's pool inside each call.
        self.pin_threads(if threads > 1 { 1 } else { self.workers });
        sweep::sweep(x, update, r, loss, d, g, self.block_rows, threads)
    }

    fn loss_grad(&self, r: MatRef<'_, T>, loss: &Loss, d: MatMut<'_, T>) -> SweepStats {
        assert_shape("loss_grad D", d.shape(), r.shape());
        elementwise::loss_grad(r, loss, d)
    }

    fn grad_stats(&self, g: MatRef<'_, T>, gtg: Option<&mut [f64]>) -> f64 {
        if let Some(out) = gtg {
            let k = g.ncols();
            assert!(out.len() >= k * k, "grad_stats: GᵀG buffer has {} elements, needs {}", out.len(), k * k);
            self.pin_threads(self.workers);
            product::gram(g, out);
        }
        elementwise::dot(g, g)
    }

    fn precond_update(&self, g: MatRef<'_, T>, step: Step<'_, T>, eta_prev: T, w: MatMut<'_, T>, p: MatMut<'_, T>) {
        let (d, k) = g.shape();
        assert_shape("precond_update W", w.shape(), (d, k));
        assert_shape("precond_update P", p.shape(), (d, k));
        match step {
            Step::Scale(s) => elementwise::step_map(g, eta_prev, w, p, |x| s * x),
            Step::Right(phi) => {
                assert_shape("precond_update Φ", phi.shape(), (k, k));
                self.pin_threads(self.workers);
                product::right_step(g, phi, eta_prev, w, p);
            }
            Step::Separable(pc) => {
                pc.dispatch_separable(elementwise::SeparableStep { g, eta_prev, w, p })
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
}
