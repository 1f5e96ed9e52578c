//! The `Backend` trait: the few operations the solver needs from a kernel
//! library, designed so that one primal iteration reads X once (SPEC §7).

use crate::{Loss, MatMut, MatRef, Precond, Scalar};

/// How the residual R changes at the start of a [`Backend::sweep`].
#[derive(Clone, Copy)]
pub enum ResidualUpdate<'a, T> {
    /// R is already current (first iteration, after an exact recompute, or
    /// after the line search updated it).
    Keep,
    /// R −= η·X·P, with P (d×k) the last step: the fused path, X read once.
    FromStep {
        /// P (d×k).
        p: MatRef<'a, T>,
        /// η.
        eta: T,
    },
    /// R −= η·Q with Q = X·P already known (the line-search path).
    FromProduct {
        /// Q (n×k).
        q: MatRef<'a, T>,
        /// η.
        eta: T,
    },
}

/// What a sweep over the residual measured on its way.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SweepStats {
    /// Σ ℓ(rᵢⱼ) of the updated residual.
    pub loss: f64,
    /// ‖R‖_F² of the updated residual.
    pub r_norm2: f64,
}

/// The statistics of two parts of the rows (blocks, or thread chunks), together.
impl core::ops::AddAssign for SweepStats {
    fn add_assign(&mut self, other: Self) {
        self.loss += other.loss;
        self.r_norm2 += other.r_norm2;
    }
}

/// The statistics of all the parts, added in order.
impl core::iter::Sum for SweepStats {
    fn sum<I: Iterator<Item = Self>>(parts: I) -> Self {
        parts.fold(Self::default(), |mut total, part| {
            total += part;
            total
        })
    }
}

/// The preconditioner step P = ∇K(G), in the form a kernel can apply in one pass.
#[derive(Clone, Copy)]
pub enum Step<'a, T> {
    /// P = s·G (isotropic K).
    Scale(T),
    /// P = G·Φ with Φ (k×k) (right-invariant K).
    Right(MatRef<'a, T>),
    /// P = ∇k(G) elementwise (a separable built-in K).
    Separable(&'a Precond),
}

/// A kernel library: everything that touches every element of X, R, G, W.
///
/// Implementations: the reference backend in this crate (plain loops, the
/// oracle), `dspgd-faer`, and others. Shapes are the caller's promise; a
/// backend may panic on a shape mismatch (the solver validates first).
/// The trait is object safe, so the solver can choose a backend at run time.
pub trait Backend<T: Scalar>: Send + Sync {
    /// Short name: `"reference"`, `"faer"`, ...
    fn name(&self) -> &'static str;

    /// The kernel that runs: e.g. `"scalar"`, `"faer"`, `"avx512"`.
    fn kernel(&self) -> String;

    /// C ← β·C + α·A·B on strided views (A: m×l, B: l×n, C: m×n). With β = 0,
    /// C is overwritten (its old contents, even NaN, are ignored).
    fn gemm(&self, c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T);

    /// C ← A·Aᵀ (A: m×l, C: m×m, overwritten, both triangles written): the
    /// symmetric rank-l product of the Gram path's M = XXᵀ. A backend should
    /// form one triangle (half the flops of [`gemm`](Self::gemm)) and mirror
    /// it, so C is exactly symmetric; this default calls `gemm`.
    fn syrk(&self, c: MatMut<'_, T>, a: MatRef<'_, T>) {
        self.gemm(c, T::ZERO, a, a.transpose(), T::ONE);
    }

    /// One pass over X (n×d): apply `update` to R (n×k), then D = ∇ℓ(R)
    /// (n×k, overwritten) and G = XᵀD (d×k, overwritten). Returns the loss
    /// and ‖R‖² of the updated residual.
    fn sweep(
        &self,
        x: MatRef<'_, T>,
        update: ResidualUpdate<'_, T>,
        r: MatMut<'_, T>,
        loss: &Loss,
        d: MatMut<'_, T>,
        g: MatMut<'_, T>,
    ) -> SweepStats;

    /// D = ∇ℓ(R) elementwise (the Gram path), returning the loss and ‖R‖².
    fn loss_grad(&self, r: MatRef<'_, T>, loss: &Loss, d: MatMut<'_, T>) -> SweepStats;

    /// ‖G‖_F², and GᵀG (k×k, row-major, in f64) when `gtg` is given.
    fn grad_stats(&self, g: MatRef<'_, T>, gtg: Option<&mut [f64]>) -> f64;

    /// In one pass over (G, W, P): W −= η_prev·P (the previous step), then
    /// P = step(G). With η_prev = 0, W is untouched.
    fn precond_update(&self, g: MatRef<'_, T>, step: Step<'_, T>, eta_prev: T, w: MatMut<'_, T>, p: MatMut<'_, T>);

    /// [`Backend::precond_update`] with the previous step in a buffer of its
    /// own: W −= η_prev·P_prev, then P = step(G), P's old contents unread.
    /// When the backend asks for it ([`Backend::prefers_fresh_step_buffer`]),
    /// the primal solver alternates two buffers for P, so that the new P is
    /// written where the last sweep did not read: on several threads,
    /// writing over lines the other cores hold (the sweep's workers all read
    /// P) first invalidates them. The default runs an axpy, then
    /// [`Backend::precond_update`] with η_prev = 0 (a fused pass in the SIMD
    /// backend measured 13 % slower on two threads sharing one core, S2).
    fn precond_update_from(
        &self,
        g: MatRef<'_, T>,
        step: Step<'_, T>,
        eta_prev: T,
        p_prev: MatRef<'_, T>,
        mut w: MatMut<'_, T>,
        p: MatMut<'_, T>,
    ) {
        if eta_prev != T::ZERO {
            self.axpy(w.rb_mut(), -eta_prev, p_prev);
        }
        self.precond_update(g, step, T::ZERO, w, p);
    }

    /// Y += α·X.
    fn axpy(&self, y: MatMut<'_, T>, alpha: T, x: MatRef<'_, T>);

    /// ⟨A, B⟩_F.
    fn dot(&self, a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64;

    /// Σ ℓ(R − η·Q): one line-search trial, O(nk), no pass over X.
    fn loss_along(&self, r: MatRef<'_, T>, q: MatRef<'_, T>, eta: T, loss: &Loss) -> f64;

    /// True when the primal path should keep its d×k state (W, P, G)
    /// column-major for this backend at this shape: every method takes any
    /// layout, this only says which one runs faster. The default keeps them
    /// row-major.
    fn prefers_col_major(&self, d: usize, k: usize) -> bool {
        let _ = (d, k);
        false
    }

    /// True when the primal path should write each new P into a second
    /// buffer ([`Backend::precond_update_from`]) for a sweep over an n×d X
    /// with k columns: when that sweep runs on several threads. The default
    /// (false) keeps one buffer, updated in place.
    fn prefers_fresh_step_buffer(&self, n: usize, d: usize, k: usize) -> bool {
        let _ = (n, d, k);
        false
    }

    /// True when the primal path should run on a copy of an n×d X whose
    /// rows all start on a cache line (64 bytes), made once at setup, when
    /// the given X's rows do not, for k columns of W: vector loads that
    /// straddle two lines cost this backend enough to pay for the copy. The
    /// default (false) reads X where it is.
    fn prefers_aligned_rows(&self, n: usize, d: usize, k: usize) -> bool {
        let _ = (n, d, k);
        false
    }
}
