//! The primal path (SPEC §7): one sweep over X per iteration, any K.
//!
//! State between iterations: R_t, D_t = ∇ℓ(R_t), G_t = XᵀD_t, the last step
//! P_{t−1} and its η_{t−1}, whose update of W is applied lazily in the same
//! pass that forms the next P (`precond_update`), so W, G and P are each
//! read once per iteration. When the sweep runs on several threads
//! (`Backend::prefers_fresh_step_buffer`), P alternates between two
//! buffers (`precond_update_from`): the new step is written where the last
//! sweep did not read, so that the write does not first invalidate the
//! copies of P in the other cores' caches (two threads, n = 200, d = 2000,
//! k = 10, f64: that pass took 31 µs in place, 17 µs into the other
//! buffer). W, P and G are kept in the layout
//! the backend runs fastest with ([`StateMat`]: column-major for the SIMD
//! backend).
//!
//! Constant, `auto` and scheduled steps run the fused sweep (η known before
//! the pass: X read once). The line search needs Q = XP before it can choose
//! η, so it runs two passes: Q = X·P (gemm), then the sweep with the known Q.

use crate::backend_choice::Float;
use crate::state_mat::StateMat;
use crate::distributed::Reducer;
use crate::path_state::{symmetrize, PathState};
use crate::step::StepChooser;
use dspgd_backend::sym_eig::EigWorkspace;
use dspgd_backend::{Backend, Loss, Mat, MatRef, Precond, PrecondClass, ResidualUpdate, Step, SweepStats};

pub(crate) struct Primal<'a, T: Float> {
    b: &'a dyn Backend<T>,
    x: MatRef<'a, T>,
    y: MatRef<'a, T>,
    precond: &'a Precond,
    loss: &'a Loss,
    /// W, P and G, in the backend's preferred layout ([`StateMat`]).
    w: StateMat<T>,
    p: StateMat<T>,
    /// The other buffer of P, the step before the last, when `fresh_step`
    /// (else 0×0: P is updated in place; see the module docs).
    p_prev: StateMat<T>,
    fresh_step: bool,
    g: StateMat<T>,
    r: Mat<T>,
    d: Mat<T>,
    q: Mat<T>,
    eta_prev: T,
    stats: SweepStats,
    gtg: Vec<f64>,
    phi64: Vec<f64>,
    phi: Mat<T>,
    /// G and P row-major (d×k) for a user-defined ∇K, which may read its
    /// arguments as row-major slices (0×0 for the built-in K; unused when
    /// the state is row-major).
    g_rows: Mat<T>,
    p_rows: Mat<T>,
    eig: EigWorkspace,
    /// Row-sharded solves: sums G and the sweep statistics over the ranks
    /// after every sweep (one allreduce of d·k + 2 elements). `None`: one process.
    comm: Option<&'a Reducer<'a>>,
    /// The reduction buffer [G, loss, ‖R‖², (the observers' vote)] (empty without `comm`).
    red: Vec<T>,
}

impl<'a, T: Float> Primal<'a, T> {
    pub fn new(
        b: &'a dyn Backend<T>,
        x: MatRef<'a, T>,
        y: MatRef<'a, T>,
        w0: Option<MatRef<'_, T>>,
        precond: &'a Precond,
        loss: &'a Loss,
        line_search: bool,
    ) -> Self {
        Self::new_in(b, x, y, w0, precond, loss, line_search, None)
    }

    /// [`Primal::new`] for one shard of a row-sharded problem: X and Y hold
    /// this rank's rows, and `comm` sums G and the statistics over the ranks.
    #[allow(clippy::too_many_arguments)]
    pub fn new_in(
        b: &'a dyn Backend<T>,
        x: MatRef<'a, T>,
        y: MatRef<'a, T>,
        w0: Option<MatRef<'_, T>>,
        precond: &'a Precond,
        loss: &'a Loss,
        line_search: bool,
        comm: Option<&'a Reducer<'a>>,
    ) -> Self {
        let (n, d) = x.shape();
        let k = y.ncols();
        let w = w0.map_or_else(|| StateMat::zeros(b, d, k), |w0| StateMat::copy_of(b, w0));
        let rows_copy = matches!(precond, Precond::Custom(_)) && !w.as_ref().is_row_major_contiguous();
        let rows = || if rows_copy { Mat::zeros(d, k) } else { Mat::zeros(0, 0) };
        let fresh_step = b.prefers_fresh_step_buffer(n, d, k);
        let mut s = Self {
            b,
            x,
            y,
            precond,
            loss,
            w,
            p: StateMat::zeros(b, d, k),
            p_prev: if fresh_step { StateMat::zeros(b, d, k) } else { StateMat::zeros(b, 0, 0) },
            fresh_step,
            g: StateMat::zeros(b, d, k),
            r: Mat::zeros(n, k),
            d: Mat::zeros(n, k),
            q: if line_search { Mat::zeros(n, k) } else { Mat::zeros(0, 0) },
            eta_prev: T::ZERO,
            stats: SweepStats::default(),
            gtg: vec![0.0; k * k],
            phi64: vec![0.0; k * k],
            phi: Mat::zeros(k, k),
            g_rows: rows(),
            p_rows: rows(),
            eig: EigWorkspace::new(k),
            comm,
            red: comm.map_or(vec![], |c| vec![T::ZERO; d * k + 2 + usize::from(c.carry_vote)]),
        };
        s.recompute();
        s
    }

    /// After a sweep: the local G and statistics become the sums over all
    /// ranks, and the observers' votes travel along (nothing to do in one process).
    fn reduce(&mut self) {
        let Some(c) = self.comm else { return };
        let g = self.g.as_mut_slice();
        let dk = g.len();
        self.red[..dk].copy_from_slice(g);
        self.red[dk] = T::from_f64(self.stats.loss);
        self.red[dk + 1] = T::from_f64(self.stats.r_norm2);
        if c.carry_vote {
            self.red[dk + 2] = T::from_f64(c.vote.take());
        }
        c.sum(&mut self.red);
        g.copy_from_slice(&self.red[..dk]);
        self.stats.loss = self.red[dk].to_f64();
        self.stats.r_norm2 = self.red[dk + 1].to_f64();
        if c.carry_vote {
            c.agreed.set(self.red[dk + 2].to_f64());
        }
    }

    fn flush(&mut self) {
        if self.eta_prev != T::ZERO {
            self.b.axpy(self.w.as_mut(), -self.eta_prev, self.p.as_ref());
            self.eta_prev = T::ZERO;
        }
    }

    /// P = ∇K(G) (and the pending W update), returns ‖G‖².
    fn precondition(&mut self) -> f64 {
        let b = self.b;
        let k = self.g.as_ref().ncols();
        if let Precond::Custom(c) = self.precond {
            self.flush();
            let gn2 = b.grad_stats(self.g.as_ref(), None);
            if self.g.as_ref().is_row_major_contiguous() {
                T::custom_apply(&**c, self.g.as_ref(), self.p.as_mut());
            } else {
                self.g_rows.as_mut().copy_from(self.g.as_ref());
                T::custom_apply(&**c, self.g_rows.as_ref(), self.p_rows.as_mut());
                self.p.as_mut().copy_from(self.p_rows.as_ref());
            }
            return gn2;
        }
        let class = self.precond.class();
        let right = !matches!(class, PrecondClass::Separable | PrecondClass::Isotropic);
        let gn2 = b.grad_stats(self.g.as_ref(), right.then_some(&mut self.gtg[..]));
        let step = match class {
            PrecondClass::Separable => Step::Separable(self.precond),
            PrecondClass::Isotropic => {
                // ‖G‖² overflows or underflows for entries beyond ~1e±154: then take ‖G‖ with scaling.
                let s = if gn2 == 0.0 || (gn2.is_finite() && gn2 >= f64::MIN_POSITIVE) {
                    self.precond.iso_scale(gn2)
                } else {
                    self.precond.iso_scale_from_norm(dspgd_backend::norm_fro(self.g.as_ref()))
                }
                .expect("isotropic built-in");
                Step::Scale(T::from_f64(s))
            }
            _ => {
                symmetrize(&mut self.gtg, k);
                let ok = self.precond.phi(&self.gtg, k, T::EPSILON.to_f64(), &mut self.eig, &mut self.phi64);
                debug_assert!(ok, "right-invariant built-in has Φ");
                for (dst, &src) in self.phi.as_mut_slice().iter_mut().zip(&self.phi64) {
                    *dst = T::from_f64(src);
                }
                Step::Right(self.phi.as_ref())
            }
        };
        if self.fresh_step {
            core::mem::swap(&mut self.p, &mut self.p_prev);
            b.precond_update_from(self.g.as_ref(), step, self.eta_prev, self.p_prev.as_ref(), self.w.as_mut(), self.p.as_mut());
        } else {
            b.precond_update(self.g.as_ref(), step, self.eta_prev, self.w.as_mut(), self.p.as_mut());
        }
        self.eta_prev = T::ZERO;
        gn2
    }
}

impl<T: Float> PathState<T> for Primal<'_, T> {
    fn stats(&self) -> SweepStats {
        self.stats
    }

    fn iterate(&mut self, chooser: &mut StepChooser, t: usize) -> Option<(f64, f64)> {
        let gn2 = self.precondition();
        let b = self.b;
        let eta = if chooser.line_search {
            b.gemm(self.q.as_mut(), T::ZERO, self.x, self.p.as_ref(), T::ONE);
            chooser.line_search_in(b, self.r.as_ref(), self.q.as_ref(), self.d.as_ref(), self.loss, self.stats.loss, self.comm)
        } else {
            chooser.scheduled(t)
        };
        if eta == 0.0 {
            return None;
        }
        let e = T::from_f64(eta);
        let update = if chooser.line_search {
            ResidualUpdate::FromProduct { q: self.q.as_ref(), eta: e }
        } else {
            ResidualUpdate::FromStep { p: self.p.as_ref(), eta: e }
        };
        self.stats = b.sweep(self.x, update, self.r.as_mut(), self.loss, self.d.as_mut(), self.g.as_mut());
        self.reduce();
        self.eta_prev = e;
        Some((eta, gn2.sqrt()))
    }

    fn recompute(&mut self) {
        self.flush();
        self.r.as_mut().copy_from(self.y);
        self.b.gemm(self.r.as_mut(), -T::ONE, self.x, self.w.as_ref(), T::ONE);
        self.stats = self.b.sweep(self.x, ResidualUpdate::Keep, self.r.as_mut(), self.loss, self.d.as_mut(), self.g.as_mut());
        if let Some(c) = self.comm {
            c.recomputes.set(c.recomputes.get() + 1);
        }
        self.reduce();
    }

    fn last_finite(&self) -> Mat<T> {
        self.w.to_mat()
    }

    fn finish(mut self: Box<Self>) -> Mat<T> {
        self.flush();
        self.w.to_mat()
    }
}
