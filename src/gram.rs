//! The Gram path (SPEC §7): for right-invariant K (isotropic included),
//! W_t = W₀ + XᵀA_t, so with M = XXᵀ formed once the iteration never touches
//! d: `D = ∇ℓ(R)`, `GᵀG = Dᵀ(MD)`, `A −= η·DΦ`, `R −= η·(MD)Φ`. Cost per
//! iteration 2n²k + O(nk²); W is formed once at the end.

use crate::backend_choice::Float;
use crate::path_state::{symmetrize, PathState};
use crate::step::StepChooser;
use dspgd_backend::sym_eig::EigWorkspace;
use dspgd_backend::{Backend, Loss, Mat, MatRef, Precond, SweepStats};

pub(crate) struct Gram<'a, T: Float> {
    b: &'a dyn Backend<T>,
    x: MatRef<'a, T>,
    precond: &'a Precond,
    loss: &'a Loss,
    w0: Mat<T>,
    m: Mat<T>,
    r0: Mat<T>,
    r: Mat<T>,
    a: Mat<T>,
    a_prev: Mat<T>,
    d: Mat<T>,
    md: Mat<T>,
    q: Mat<T>,
    gtg_t: Mat<T>,
    gtg: Vec<f64>,
    phi64: Vec<f64>,
    phi: Mat<T>,
    eig: EigWorkspace,
    stats: SweepStats,
}

impl<'a, T: Float> Gram<'a, T> {
    pub fn new(
        b: &'a dyn Backend<T>,
        x: MatRef<'a, T>,
        y: MatRef<'a, T>,
        w0: Option<MatRef<'_, T>>,
        precond: &'a Precond,
        loss: &'a Loss,
    ) -> Self {
        let (n, d) = x.shape();
        let k = y.ncols();
        let w0 = w0.map(|w| w.to_owned()).unwrap_or_else(|| Mat::zeros(d, k));
        let mut m = Mat::zeros(n, n);
        b.syrk(m.as_mut(), x);
        let mut r0 = y.to_owned();
        b.gemm(r0.as_mut(), -T::ONE, x, w0.as_ref(), T::ONE);
        let mut s = Self {
            b,
            x,
            precond,
            loss,
            w0,
            m,
            r: r0.clone(),
            r0,
            a: Mat::zeros(n, k),
            a_prev: Mat::zeros(n, k),
            d: Mat::zeros(n, k),
            md: Mat::zeros(n, k),
            q: Mat::zeros(n, k),
            gtg_t: Mat::zeros(k, k),
            gtg: vec![0.0; k * k],
            phi64: vec![0.0; k * k],
            phi: Mat::zeros(k, k),
            eig: EigWorkspace::new(k),
            stats: SweepStats::default(),
        };
        s.stats = s.b.loss_grad(s.r.as_ref(), s.loss, s.d.as_mut());
        s
    }

    fn w_of(&self, a: &Mat<T>) -> Mat<T> {
        let mut w = self.w0.clone();
        self.b.gemm(w.as_mut(), T::ONE, self.x.transpose(), a.as_ref(), T::ONE);
        w
    }
}

impl<T: Float> PathState<T> for Gram<'_, T> {
    fn stats(&self) -> SweepStats {
        self.stats
    }

    fn iterate(&mut self, chooser: &mut StepChooser, t: usize) -> Option<(f64, f64)> {
        let b = self.b;
        let k = self.d.ncols();
        b.gemm(self.md.as_mut(), T::ZERO, self.m.as_ref(), self.d.as_ref(), T::ONE);
        b.gemm(self.gtg_t.as_mut(), T::ZERO, self.d.as_ref().transpose(), self.md.as_ref(), T::ONE);
        for (dst, &src) in self.gtg.iter_mut().zip(self.gtg_t.as_slice()) {
            *dst = src.to_f64();
        }
        symmetrize(&mut self.gtg, k);
        let gn2: f64 = (0..k).map(|i| self.gtg[i * k + i]).sum();
        let ok = self.precond.phi(&self.gtg, k, T::EPSILON.to_f64(), &mut self.eig, &mut self.phi64);
        assert!(ok, "the Gram path needs Φ(GᵀG); the solver checks this before choosing it");
        for (dst, &src) in self.phi.as_mut_slice().iter_mut().zip(&self.phi64) {
            *dst = T::from_f64(src);
        }
        b.gemm(self.q.as_mut(), T::ZERO, self.md.as_ref(), self.phi.as_ref(), T::ONE);
        let eta = if chooser.line_search {
            chooser.line_search(b, self.r.as_ref(), self.q.as_ref(), self.d.as_ref(), self.loss, self.stats.loss)
        } else {
            chooser.scheduled(t)
        };
        if eta == 0.0 {
            return None;
        }
        let e = T::from_f64(eta);
        self.a_prev.as_mut_slice().copy_from_slice(self.a.as_slice());
        b.gemm(self.a.as_mut(), T::ONE, self.d.as_ref(), self.phi.as_ref(), -e);
        b.axpy(self.r.as_mut(), -e, self.q.as_ref());
        self.stats = b.loss_grad(self.r.as_ref(), self.loss, self.d.as_mut());
        Some((eta, gn2.max(0.0).sqrt()))
    }

    fn recompute(&mut self) {
        self.r.as_mut_slice().copy_from_slice(self.r0.as_slice());
        self.b.gemm(self.r.as_mut(), T::ONE, self.m.as_ref(), self.a.as_ref(), T::ONE);
        self.stats = self.b.loss_grad(self.r.as_ref(), self.loss, self.d.as_mut());
    }

    fn last_finite(&self) -> Mat<T> {
        self.w_of(&self.a_prev)
    }

    fn finish(self: Box<Self>) -> Mat<T> {
        self.w_of(&self.a)
    }
}
