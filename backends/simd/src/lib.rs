//! # dspgd-simd — the hand-written SIMD backend of dspgd
//!
//! [`SimdBackend`] implements the kernel layer's [`Backend`] trait for `f32`
//! and `f64` with kernels written once, generic over [`pulp::Simd`], and run
//! at one of these instruction-set levels ([`Level`]):
//!
//! | level | vectors | where |
//! |---|---|---|
//! | [`Level::V4`] (`"avx512"`) | 512-bit | x86-64 with AVX-512F/BW/CD/DQ/VL |
//! | [`Level::V3`] (`"avx2"`) | 256-bit | x86-64 with AVX2 + FMA |
//! | [`Level::Neon`] (`"neon"`) | 128-bit | aarch64 |
//! | [`Level::Scalar`] (`"scalar"`) | one lane | everywhere |
//!
//! The CPU is examined once ([`detect`], cached); a backend holds the pulp
//! token of its level, and every trait method branches on it once, then runs
//! a kernel compiled for that level, with every helper `#[inline(always)]`.
//! `DSPGD_SIMD=scalar|v3|v4|neon` ([`level_from_env`], [`SimdBackend::from_env`])
//! forces a level; asking for a level the CPU lacks is an error
//! ([`LevelError`]), never a silent fallback.
//!
//! ## What is hand-written, what is delegated
//!
//! | operation | how |
//! |---|---|
//! | `sweep` | hand-written, fused (one read of X): blocks of rows of X kept in cache; Q = X·P as dot products along the rows of X, four rows × up to six columns of P at a time (each load of P serves four rows), R −= ηQ and D = ∇ℓ(R) in one vector pass, then rank-4 updates G += X₄ᵀ·D₄ (each load and store of G serves four rows), both by 8 KiB chunks of the columns of X (4 KiB for k = 1); with X in DRAM (k ≥ 2), the rank updates prefetch the next block of rows; threads over chunks of rows with private partial G, added in a fixed order. No matmul is called for any k: the same blocked kernel serves k > 16 (see *Performance*) |
//! | `precond_update` | hand-written, one pass W −= η_prev·P, P = ∇K(G): `s·G`, `sign`, `adam`, `eclip`, `lp:2` vectorized; `lp:p` (powf) runs a scalar loop inside the pass; P = G·Φ row by row, vectorized along the row |
//! | `loss_grad`, `loss_along` | hand-written: `squared`, `huber`, `lp:2` vectorized; `logcosh` (tanh, sinh, exp) and `lp:p` (powf) run the kernel layer's scalar kernel lane by lane inside the vector pass |
//! | `grad_stats`, `dot`, `axpy` | hand-written: ‖G‖² as a vector dot; GᵀG as outer products of the rows of G (vectors along the row), or dot products of contiguous columns |
//! | `gemm` | **delegated** to faer's matmul, through [`dspgd_faer::FaerBackend`] with the same thread count (gemm is used for setup and the Gram path, not by the primal iteration) |
//!
//! Sums (loss, ‖R‖², dot products, GᵀG) are formed over short blocks in the
//! element type and added in `f64`; in `f32` the sweep also sums G over
//! blocks of 256 rows before adding it up. So `f32` results stay within
//! 1e-5 of the reference backend (which sums in `f64`) also for 10⁵-term
//! sums, `f64` results within 1e-12.
//!
//! Packed matrices (the solver's) are walked in place. Other layouts take a
//! simple correct path: blocks of rows are copied into packed scratch and
//! back (for X, only when its rows are not contiguous: padded rows are read
//! in place). Scratch comes from a per-thread buffer reused across calls.
//!
//! ## Performance
//!
//! One fused sweep (`FromStep`, squared loss), n = 2000, d = 20000, X
//! row-major (320 MB in f64, 160 MB in f32: memory-resident), one thread,
//! best of 3×5 runs, on a 2-core AMD EPYC (Zen 4) VM shared with other jobs
//! (load 1–2); one plain read of X takes 13.4 ms (f64) and 7.0 ms (f32):
//!
//! | ms | f64 k=1 | f32 k=1 | f64 k=4 | f32 k=4 | f64 k=8 | f32 k=8 | f64 k=16 | f32 k=16 | f64 k=32 |
//! |---|---|---|---|---|---|---|---|---|---|
//! | `scalar` | 20.2 | 12.1 | 51.0 | 36.7 | 92.7 | 71.3 | 181 | 142 | 361 |
//! | `avx2` | 17.1 | 8.4 | 30.7 | 15.0 | 50.5 | 26.1 | 90.8 | 45.1 | 179 |
//! | `avx512` | 17.6 | 8.4 | 26.7 | 13.8 | 44.4 | 22.8 | 75.1 | 38.3 | 150 |
//! | faer backend | 29.7 | 13.3 | 41.5 | 37.6 | 29.7 | 38.5 | 59.7 | 29.9 | 127 |
//!
//! Two threads, `avx512` / faer: 10.6 / 16.2 ms (f64 k=1), 5.1 / 7.2 (f32
//! k=1), 14.0 / 21.9 (f64 k=4), 7.3 / 19.5 (f32 k=4). For small k the sweep
//! is memory-bound (k = 1 runs near one read of X, so the vector levels gain
//! less over scalar there) and faster than faer's; for f64 with k ≥ 8 and
//! f32 with k ≥ 16 it is compute-bound and faer's matmul kernels are
//! 15–50 % faster (an automatic backend choice should prefer faer there).
//! `cargo run --release -p dspgd-simd --example sweep_speed` reproduces the
//! table.
//!
//! ## Threads
//!
//! [`SimdBackend::new`] takes a thread count: 1 runs everything on the
//! calling thread, n > 1 splits the sweep into n chunks of rows, the first
//! run by the calling thread and the others by the workers of
//! [`dspgd_backend::team`] (threads that wait busy for about a millisecond
//! between sweeps, then sleep), 0 uses all cores. Each chunk has its own
//! partial G, reduced in chunk order: results are identical from run to run
//! for a given thread count. Small sweeps (n·d·k below 2¹⁶) stay on one
//! thread. The O(dk) and O(nk) passes are single-threaded.
//!
//! ## Example
//!
//! ```
//! use dspgd_backend::{Backend, Loss, Mat, ResidualUpdate};
//! use dspgd_simd::{Level, SimdBackend};
//!
//! let b = SimdBackend::new(1); // the best level of this CPU
//! assert_eq!(Backend::<f64>::name(&b), "simd");
//! let x = Mat::from_fn(3, 5, |i, j| (i + 2 * j) as f64);
//! let (mut r, mut d, mut g) = (Mat::from_fn(3, 1, |i, _| i as f64), Mat::zeros(3, 1), Mat::zeros(5, 1));
//! let stats = b.sweep(x.as_ref(), ResidualUpdate::Keep, r.as_mut(), &Loss::Squared, d.as_mut(), g.as_mut());
//! assert_eq!(stats.r_norm2, 5.0);
//! assert_eq!(g.at(0, 0), 0.0 * 0.0 + 1.0 * 1.0 + 2.0 * 2.0);
//!
//! // A forced level: an error when the CPU lacks it.
//! let scalar = SimdBackend::with_level(Level::Scalar, 1).unwrap();
//! assert_eq!(Backend::<f32>::kernel(&scalar), "scalar");
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod elem;
mod kernels;
mod layout;
mod level;
mod lines;
mod maps;
mod ops;
mod prefetch;
mod sweep;

pub use elem::SimdScalar;
pub use level::{detect, level_from_env, Level, LevelError, ENV_VAR};

use dspgd_backend::{Backend, Loss, MatMut, MatRef, ResidualUpdate, Step, SweepStats};
use dspgd_faer::FaerBackend;
use layout::{all_packed_alike, packed};
use level::Token;
use maps::{with_loss, with_separable, VScale};
use ops::{copy_scratch, gram_scratch, phi_scratch, rows_in_place};

/// Smallest sweep (n·d·k) that is split across threads. Measured with two
/// threads (`dspgd bench --precond gd`, 2 000 iterations, 5 rounds): n·d·k =
/// 10⁵ (n = 200, d = 500) ran 1.55× faster split in f64, 1.45× in f32;
/// 3·10⁴ (n = 100, d = 300) ran slower (the hand-off costs a few µs).
const DEFAULT_MIN_PAR_WORK: usize = 1 << 16;

/// The SIMD backend (see the crate docs).
#[derive(Debug, Clone, Copy)]
pub struct SimdBackend {
    level: Level,
    token: Token,
    /// Requested threads: 0 = all cores.
    threads: usize,
    /// Threads in effect (≥ 1).
    workers: usize,
    min_par_work: usize,
    /// The delegate of `gemm`.
    faer: FaerBackend,
}

impl Default for SimdBackend {
    /// The best level of this CPU, one thread.
    fn default() -> Self {
        Self::new(1)
    }
}

impl SimdBackend {
    /// A backend at the best level this CPU supports ([`detect`]), using
    /// `threads` threads (1 = sequential, 0 = all cores).
    pub fn new(threads: usize) -> Self {
        match Self::with_level(detect(), threads) {
            Ok(b) => b,
            // `detect` only returns available levels; scalar always is.
            Err(_) => Self::build(Level::Scalar, Token::Scalar, threads),
        }
    }

    /// A backend at exactly `level`.
    ///
    /// # Errors
    /// [`LevelError::Unavailable`] when this CPU (or target) lacks the level.
    ///
    /// ```
    /// use dspgd_simd::{Level, LevelError, SimdBackend};
    /// #[cfg(not(target_arch = "aarch64"))]
    /// assert!(matches!(SimdBackend::with_level(Level::Neon, 1), Err(LevelError::Unavailable { .. })));
    /// ```
    pub fn with_level(level: Level, threads: usize) -> Result<Self, LevelError> {
        match Token::new(level) {
            Some(token) => Ok(Self::build(level, token, threads)),
            None => Err(LevelError::Unavailable { level, detected: detect() }),
        }
    }

    /// The level named by `DSPGD_SIMD` when it is set, else the best level.
    ///
    /// # Errors
    /// When the variable names an unknown level, or one this CPU lacks.
    pub fn from_env(threads: usize) -> Result<Self, LevelError> {
        match level_from_env()? {
            Some(level) => Self::with_level(level, threads),
            None => Ok(Self::new(threads)),
        }
    }

    fn build(level: Level, token: Token, threads: usize) -> Self {
        let workers = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Self { level, token, threads, workers, min_par_work: DEFAULT_MIN_PAR_WORK, faer: FaerBackend::new(threads) }
    }

    /// The instruction-set level the kernels run at.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The thread count as requested (0 = all cores).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The thread count in effect (the number of cores when 0 was requested).
    pub fn effective_threads(&self) -> usize {
        self.workers
    }

    /// Sets the smallest sweep size n·d·k that is split across threads
    /// (default 2¹⁶). Meant for tests (0 forces the parallel path on small
    /// shapes) and for tuning.
    #[doc(hidden)]
    pub fn with_min_parallel_work(mut self, work: usize) -> Self {
        self.min_par_work = work;
        self
    }
}

fn assert_shape(what: &str, got: (usize, usize), want: (usize, usize)) {
    assert_eq!(got, want, "{what}: shape {got:?}, expected {want:?}");
}

/// The kernels, written once over the element type. [`SimdBackend`]'s
/// `Backend<f32>` and `Backend<f64>` (below) forward to them from concrete,
/// non-generic methods, so the kernels are compiled once, in this crate,
/// instead of again in every crate that uses the backend (each instantiation
/// is every SIMD level × every loss: minutes of compile time per crate).
struct Kernels<'a>(&'a SimdBackend);

impl core::ops::Deref for Kernels<'_> {
    type Target = SimdBackend;
    fn deref(&self) -> &SimdBackend {
        self.0
    }
}

impl<T: SimdScalar> Backend<T> for Kernels<'_> {
    fn name(&self) -> &'static str {
        "simd"
    }

    fn kernel(&self) -> String {
        self.level.as_str().into()
    }

    fn gemm(&self, c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
        // Delegated to faer (see the crate docs).
        self.faer.gemm(c, beta, a, b, alpha);
    }

    fn syrk(&self, c: MatMut<'_, T>, a: MatRef<'_, T>) {
        // Delegated to faer, like gemm.
        self.faer.syrk(c, a);
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
        let (n, dd) = x.shape();
        let k = r.ncols();
        assert_shape("sweep R", r.shape(), (n, k));
        assert_shape("sweep D", d.shape(), (n, k));
        assert_shape("sweep G", g.shape(), (dd, k));
        match update {
            ResidualUpdate::Keep => {}
            ResidualUpdate::FromStep { p, .. } => assert_shape("sweep P", p.shape(), (dd, k)),
            ResidualUpdate::FromProduct { q, .. } => assert_shape("sweep Q", q.shape(), (n, k)),
        }
        if k == 0 {
            return SweepStats::default();
        }
        sweep::sweep(self.token, self.workers, self.min_par_work, x, update, r, loss, d, g)
    }

    fn loss_grad(&self, r: MatRef<'_, T>, loss: &Loss, d: MatMut<'_, T>) -> SweepStats {
        assert_shape("loss_grad D", d.shape(), r.shape());
        let [loss, r_norm2] = with_loss(loss, ops::LossGradRun { token: self.token, r, d });
        SweepStats { loss, r_norm2 }
    }

    fn grad_stats(&self, g: MatRef<'_, T>, gtg: Option<&mut [f64]>) -> f64 {
        if let Some(out) = gtg {
            let k = g.ncols();
            assert!(out.len() >= k * k, "grad_stats: GᵀG buffer has {} elements, needs {}", out.len(), k * k);
            let token = self.token;
            T::simd_scratch(gram_scratch(g), |buf| token.run(ops::Gram { g, out, buf }));
        }
        Backend::<T>::dot(self, g, g)
    }

    fn precond_update(&self, g: MatRef<'_, T>, step: Step<'_, T>, eta_prev: T, w: MatMut<'_, T>, p: MatMut<'_, T>) {
        let (d, k) = g.shape();
        assert_shape("precond_update W", w.shape(), (d, k));
        assert_shape("precond_update P", p.shape(), (d, k));
        let run = ops::StepRun { token: self.token, g, eta_prev, w, p };
        match step {
            Step::Scale(s) => maps::MapOp::run(run, VScale { s }),
            Step::Right(phi) => {
                assert_shape("precond_update Φ", phi.shape(), (k, k));
                let ops::StepRun { token, g, eta_prev, w, p } = run;
                let in_place = rows_in_place(g, w.rb(), p.rb());
                let by_cols = !in_place && rows_in_place(g.transpose(), w.rb().transpose(), p.rb().transpose());
                let scratch = phi_scratch(k) + if in_place || by_cols { 0 } else { copy_scratch(false, d, k, 3) };
                T::simd_scratch(scratch, |buf| token.run(ops::RightStep { g, phi, eta_prev, w, p, in_place, by_cols, buf }));
            }
            Step::Separable(pc) => {
                with_separable(pc, run)
                    .unwrap_or_else(|| panic!("Step::Separable needs a separable built-in K, got '{pc}'"));
            }
        }
    }

    fn axpy(&self, y: MatMut<'_, T>, alpha: T, x: MatRef<'_, T>) {
        assert_shape("axpy", y.shape(), x.shape());
        let is_flat = all_packed_alike(&[packed(y.rb()), packed(x)]);
        let (m, k) = x.shape();
        let token = self.token;
        T::simd_scratch(copy_scratch(is_flat, m, k, 2), |buf| token.run(ops::Axpy { y, alpha, x, is_flat, buf }));
    }

    fn dot(&self, a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
        assert_shape("dot", a.shape(), b.shape());
        let is_flat = all_packed_alike(&[packed(a), packed(b)]);
        let (m, k) = a.shape();
        let token = self.token;
        T::simd_scratch(copy_scratch(is_flat, m, k, 2), |buf| token.run(ops::Dot { a, b, is_flat, buf }))
    }

    fn loss_along(&self, r: MatRef<'_, T>, q: MatRef<'_, T>, eta: T, loss: &Loss) -> f64 {
        assert_shape("loss_along", q.shape(), r.shape());
        with_loss(loss, ops::AlongRun { token: self.token, r, q, eta })
    }

    /// Always: the sweep works on Pᵀ and Gᵀ, which column-major P and G are
    /// in place (row-major, it transposes both at every sweep).
    fn prefers_col_major(&self, _d: usize, _k: usize) -> bool {
        true
    }

    /// When the sweep runs on several threads (n = 200, d = 2000, k = 10,
    /// two threads, f64: 4 573 → 4 978 it/s).
    fn prefers_fresh_step_buffer(&self, n: usize, d: usize, k: usize) -> bool {
        sweep::sweep_threads(self.workers, n, d, k, self.min_par_work) > 1
    }

    /// When X is read from cache ([`sweep::aligned_rows_pay`]).
    fn prefers_aligned_rows(&self, n: usize, d: usize, k: usize) -> bool {
        sweep::aligned_rows_pay::<T>(n, d, k)
    }
}

/// `Backend<$t>` for [`SimdBackend`], forwarding to [`Kernels`].
macro_rules! concrete_backend {
    ($t:ty) => {
        impl Backend<$t> for SimdBackend {
            fn name(&self) -> &'static str {
                <Kernels<'_> as Backend<$t>>::name(&Kernels(self))
            }
            fn kernel(&self) -> String {
                <Kernels<'_> as Backend<$t>>::kernel(&Kernels(self))
            }
            fn gemm(&self, c: MatMut<'_, $t>, beta: $t, a: MatRef<'_, $t>, b: MatRef<'_, $t>, alpha: $t) {
                Kernels(self).gemm(c, beta, a, b, alpha)
            }
            fn syrk(&self, c: MatMut<'_, $t>, a: MatRef<'_, $t>) {
                Kernels(self).syrk(c, a)
            }
            fn sweep(
                &self,
                x: MatRef<'_, $t>,
                update: ResidualUpdate<'_, $t>,
                r: MatMut<'_, $t>,
                loss: &Loss,
                d: MatMut<'_, $t>,
                g: MatMut<'_, $t>,
            ) -> SweepStats {
                Kernels(self).sweep(x, update, r, loss, d, g)
            }
            fn loss_grad(&self, r: MatRef<'_, $t>, loss: &Loss, d: MatMut<'_, $t>) -> SweepStats {
                Kernels(self).loss_grad(r, loss, d)
            }
            fn grad_stats(&self, g: MatRef<'_, $t>, gtg: Option<&mut [f64]>) -> f64 {
                Kernels(self).grad_stats(g, gtg)
            }
            fn precond_update(&self, g: MatRef<'_, $t>, step: Step<'_, $t>, eta_prev: $t, w: MatMut<'_, $t>, p: MatMut<'_, $t>) {
                Kernels(self).precond_update(g, step, eta_prev, w, p)
            }
            fn axpy(&self, y: MatMut<'_, $t>, alpha: $t, x: MatRef<'_, $t>) {
                Kernels(self).axpy(y, alpha, x)
            }
            fn dot(&self, a: MatRef<'_, $t>, b: MatRef<'_, $t>) -> f64 {
                Kernels(self).dot(a, b)
            }
            fn loss_along(&self, r: MatRef<'_, $t>, q: MatRef<'_, $t>, eta: $t, loss: &Loss) -> f64 {
                Kernels(self).loss_along(r, q, eta, loss)
            }
            fn prefers_col_major(&self, d: usize, k: usize) -> bool {
                <Kernels<'_> as Backend<$t>>::prefers_col_major(&Kernels(self), d, k)
            }
            fn prefers_fresh_step_buffer(&self, n: usize, d: usize, k: usize) -> bool {
                <Kernels<'_> as Backend<$t>>::prefers_fresh_step_buffer(&Kernels(self), n, d, k)
            }
            fn prefers_aligned_rows(&self, n: usize, d: usize, k: usize) -> bool {
                <Kernels<'_> as Backend<$t>>::prefers_aligned_rows(&Kernels(self), n, d, k)
            }
        }
    };
}

concrete_backend!(f32);
concrete_backend!(f64);
