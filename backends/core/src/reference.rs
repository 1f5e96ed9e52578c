//! The reference backend: plain loops that follow the definitions line by
//! line, accumulating in f64. Slow and obviously right: the oracle every other
//! backend is tested against.

use crate::backend::{Backend, ResidualUpdate, Step, SweepStats};
use crate::loss::{LossKernel, LossVisitor};
use crate::precond::{SeparableKernel, SeparableVisitor};
use crate::{Loss, MatMut, MatRef, Scalar};

/// The reference backend (see the module docs). Single-threaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference;

struct ResidualLoop<'a, 'b, T> {
    r: MatRef<'a, T>,
    d: MatMut<'b, T>,
}

impl<T: Scalar> LossVisitor<T> for ResidualLoop<'_, '_, T> {
    type Output = SweepStats;
    fn visit<K: LossKernel<T>>(mut self, k: K) -> SweepStats {
        let mut s = SweepStats::default();
        for i in 0..self.r.nrows() {
            for j in 0..self.r.ncols() {
                let r = self.r.at(i, j);
                s.loss += k.value(r).to_f64();
                s.r_norm2 += r.to_f64() * r.to_f64();
                *self.d.at_mut(i, j) = k.grad(r);
            }
        }
        s
    }
}

struct AlongLoop<'a, 'b, T> {
    r: MatRef<'a, T>,
    q: MatRef<'b, T>,
    eta: T,
}

impl<T: Scalar> LossVisitor<T> for AlongLoop<'_, '_, T> {
    type Output = f64;
    fn visit<K: LossKernel<T>>(self, k: K) -> f64 {
        let mut acc = 0.0;
        for i in 0..self.r.nrows() {
            for j in 0..self.r.ncols() {
                acc += k.value(self.r.at(i, j) - self.eta * self.q.at(i, j)).to_f64();
            }
        }
        acc
    }
}

struct SeparableLoop<'a, 'b, 'c, T> {
    g: MatRef<'a, T>,
    eta_prev: T,
    w: MatMut<'b, T>,
    p: MatMut<'c, T>,
}

impl<T: Scalar> SeparableVisitor<T> for SeparableLoop<'_, '_, '_, T> {
    type Output = ();
    fn visit<K: SeparableKernel<T>>(mut self, k: K) {
        for i in 0..self.g.nrows() {
            for j in 0..self.g.ncols() {
                if self.eta_prev != T::ZERO {
                    *self.w.at_mut(i, j) -= self.eta_prev * self.p.at(i, j);
                }
                *self.p.at_mut(i, j) = k.apply(self.g.at(i, j));
            }
        }
    }
}

fn assert_shape(what: &str, got: (usize, usize), want: (usize, usize)) {
    assert_eq!(got, want, "{what}: shape {got:?}, expected {want:?}");
}

impl<T: Scalar> Backend<T> for Reference {
    fn name(&self) -> &'static str {
        "reference"
    }

    fn kernel(&self) -> String {
        "scalar".into()
    }

    fn gemm(&self, mut c: MatMut<'_, T>, beta: T, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
        assert_eq!(a.ncols(), b.nrows(), "gemm: inner dimensions {} and {}", a.ncols(), b.nrows());
        assert_shape("gemm C", c.shape(), (a.nrows(), b.ncols()));
        for i in 0..c.nrows() {
            for j in 0..c.ncols() {
                let mut acc = 0.0f64;
                for l in 0..a.ncols() {
                    acc += a.at(i, l).to_f64() * b.at(l, j).to_f64();
                }
                let old = if beta == T::ZERO { 0.0 } else { beta.to_f64() * c.at(i, j).to_f64() };
                *c.at_mut(i, j) = T::from_f64(old + alpha.to_f64() * acc);
            }
        }
    }

    fn syrk(&self, mut c: MatMut<'_, T>, a: MatRef<'_, T>) {
        let m = a.nrows();
        assert_shape("syrk C", c.shape(), (m, m));
        for i in 0..m {
            for j in 0..=i {
                let mut acc = 0.0f64;
                for l in 0..a.ncols() {
                    acc += a.at(i, l).to_f64() * a.at(j, l).to_f64();
                }
                *c.at_mut(i, j) = T::from_f64(acc);
                *c.at_mut(j, i) = T::from_f64(acc);
            }
        }
    }

    fn sweep(
        &self,
        x: MatRef<'_, T>,
        update: ResidualUpdate<'_, T>,
        mut r: MatMut<'_, T>,
        loss: &Loss,
        mut d: MatMut<'_, T>,
        g: MatMut<'_, T>,
    ) -> SweepStats {
        let (n, dd) = x.shape();
        let k = r.ncols();
        assert_shape("sweep R", r.shape(), (n, k));
        assert_shape("sweep D", d.shape(), (n, k));
        assert_shape("sweep G", g.shape(), (dd, k));
        match update {
            ResidualUpdate::Keep => {}
            ResidualUpdate::FromStep { p, eta } => {
                assert_shape("sweep P", p.shape(), (dd, k));
                for i in 0..n {
                    for j in 0..k {
                        let q: f64 = (0..dd).map(|l| x.at(i, l).to_f64() * p.at(l, j).to_f64()).sum();
                        *r.at_mut(i, j) = T::from_f64(r.at(i, j).to_f64() - eta.to_f64() * q);
                    }
                }
            }
            ResidualUpdate::FromProduct { q, eta } => {
                assert_shape("sweep Q", q.shape(), (n, k));
                for i in 0..n {
                    for j in 0..k {
                        *r.at_mut(i, j) -= eta * q.at(i, j);
                    }
                }
            }
        }
        let stats = loss.dispatch(ResidualLoop { r: r.rb(), d: d.rb_mut() });
        self.gemm(g, T::ZERO, x.transpose(), d.rb(), T::ONE);
        stats
    }

    fn loss_grad(&self, r: MatRef<'_, T>, loss: &Loss, mut d: MatMut<'_, T>) -> SweepStats {
        assert_shape("loss_grad D", d.shape(), r.shape());
        loss.dispatch(ResidualLoop { r, d: d.rb_mut() })
    }

    fn grad_stats(&self, g: MatRef<'_, T>, gtg: Option<&mut [f64]>) -> f64 {
        let (d, k) = g.shape();
        if let Some(out) = gtg {
            for a in 0..k {
                for b in 0..k {
                    out[a * k + b] = (0..d).map(|i| g.at(i, a).to_f64() * g.at(i, b).to_f64()).sum();
                }
            }
        }
        self.dot(g, g)
    }

    fn precond_update(&self, g: MatRef<'_, T>, step: Step<'_, T>, eta_prev: T, mut w: MatMut<'_, T>, mut p: MatMut<'_, T>) {
        let (d, k) = g.shape();
        assert_shape("precond_update W", w.shape(), (d, k));
        assert_shape("precond_update P", p.shape(), (d, k));
        match step {
            Step::Scale(s) => {
                for i in 0..d {
                    for j in 0..k {
                        if eta_prev != T::ZERO {
                            *w.at_mut(i, j) -= eta_prev * p.at(i, j);
                        }
                        *p.at_mut(i, j) = s * g.at(i, j);
                    }
                }
            }
            Step::Right(phi) => {
                assert_shape("precond_update Φ", phi.shape(), (k, k));
                for i in 0..d {
                    for j in 0..k {
                        if eta_prev != T::ZERO {
                            *w.at_mut(i, j) -= eta_prev * p.at(i, j);
                        }
                    }
                    for j in 0..k {
                        let acc: f64 = (0..k).map(|l| g.at(i, l).to_f64() * phi.at(l, j).to_f64()).sum();
                        *p.at_mut(i, j) = T::from_f64(acc);
                    }
                }
            }
            Step::Separable(pc) => {
                pc.dispatch_separable(SeparableLoop { g, eta_prev, w, p })
                    .unwrap_or_else(|| panic!("Step::Separable needs a separable built-in K, got '{pc}'"));
            }
        }
    }

    fn axpy(&self, mut y: MatMut<'_, T>, alpha: T, x: MatRef<'_, T>) {
        assert_shape("axpy", y.shape(), x.shape());
        for i in 0..y.nrows() {
            for j in 0..y.ncols() {
                *y.at_mut(i, j) += alpha * x.at(i, j);
            }
        }
    }

    fn dot(&self, a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
        assert_shape("dot", a.shape(), b.shape());
        let mut acc = 0.0;
        for i in 0..a.nrows() {
            for j in 0..a.ncols() {
                acc += a.at(i, j).to_f64() * b.at(i, j).to_f64();
            }
        }
        acc
    }

    fn loss_along(&self, r: MatRef<'_, T>, q: MatRef<'_, T>, eta: T, loss: &Loss) -> f64 {
        assert_shape("loss_along", q.shape(), r.shape());
        loss.dispatch(AlongLoop { r, q, eta })
    }
}
