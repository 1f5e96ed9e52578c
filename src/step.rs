//! Step sizes (SPEC §5): the power iteration behind `auto`, the line search,
//! and the schedules.

use crate::backend_choice::Float;
use crate::distributed::Reducer;
use crate::options::{LearningRate, Schedule};
use crate::result::StepInfo;
use dspgd_backend::rng::Rng;
use dspgd_backend::{Backend, Loss, Mat, MatRef, Scalar};

/// Largest singular value of X by power iteration on XᵀX, from a fixed seed.
/// Returns (‖X‖₂, iterations). Stops when the estimate moves by < 1e-6 relative.
#[allow(dead_code)] // the solver calls `x_norm_in`; kept as the one-process entry point
pub(crate) fn x_norm<T: Float>(b: &dyn Backend<T>, x: MatRef<'_, T>, max_iter: usize) -> (f64, usize) {
    x_norm_in(b, x, max_iter, None)
}

/// [`x_norm`] of the whole X when `x` is one block of rows and `comm` sums
/// over the ranks (XᵀXv = Σ X_iᵀX_i v: one allreduce of d·1 per iteration).
pub(crate) fn x_norm_in<T: Float>(b: &dyn Backend<T>, x: MatRef<'_, T>, max_iter: usize, comm: Option<&Reducer<'_>>) -> (f64, usize) {
    let (n, d) = x.shape();
    let mut rng = Rng::new(0x5EED);
    let mut v: Mat<T> = rng.normal_mat(d, 1);
    let mut u: Mat<T> = Mat::zeros(n, 1);
    normalize(&mut v);
    let mut est = 0.0f64;
    for it in 1..=max_iter {
        b.gemm(u.as_mut(), T::ZERO, x, v.as_ref(), T::ONE);
        b.gemm(v.as_mut(), T::ZERO, x.transpose(), u.as_ref(), T::ONE);
        if let Some(c) = comm {
            c.sum(v.as_mut_slice());
        }
        let lambda = normalize(&mut v);
        let new = lambda.sqrt();
        if lambda == 0.0 || (new - est).abs() <= 1e-6 * new {
            return (new, it);
        }
        est = new;
    }
    (est, max_iter)
}

fn normalize<T: Scalar>(v: &mut Mat<T>) -> f64 {
    let nrm = v.norm_fro();
    if nrm > 0.0 {
        let s = T::from_f64(1.0 / nrm);
        v.as_mut_slice().iter_mut().for_each(|x| *x *= s);
    }
    nrm
}

/// Chooses η at each iteration.
pub(crate) struct StepChooser {
    pub info: StepInfo,
    pub line_search: bool,
    eta0: f64,
    schedule: Schedule,
    last_ls: f64,
}

impl StepChooser {
    pub fn new<T: Float>(
        rule: LearningRate,
        schedule: Schedule,
        b: &dyn Backend<T>,
        x: MatRef<'_, T>,
        lk: Option<f64>,
        beta: Option<f64>,
        loss: &Loss,
    ) -> Self {
        Self::new_in(rule, schedule, b, x, lk, beta, loss, None)
    }

    /// [`StepChooser::new`] when `x` is one block of rows and `comm` sums over the ranks.
    #[allow(clippy::too_many_arguments)]
    pub fn new_in<T: Float>(
        rule: LearningRate,
        schedule: Schedule,
        b: &dyn Backend<T>,
        x: MatRef<'_, T>,
        lk: Option<f64>,
        beta: Option<f64>,
        loss: &Loss,
        comm: Option<&Reducer<'_>>,
    ) -> Self {
        let mut info = StepInfo {
            rule: "constant",
            eta0: None,
            schedule: schedule.to_string(),
            x_norm2: None,
            power_iterations: 0,
            exact: false,
            trials: 0,
        };
        let mut eta0 = 0.0;
        let mut line_search = false;
        match rule {
            LearningRate::Constant(e) => {
                eta0 = e;
                info.eta0 = Some(e);
            }
            LearningRate::Auto | LearningRate::Default => {
                let (s, its) = x_norm_in(b, x, 50, comm);
                info.rule = "auto";
                info.x_norm2 = Some(s);
                info.power_iterations = its;
                let l = lk.unwrap_or(f64::INFINITY) * beta.unwrap_or(f64::INFINITY) * s * s;
                eta0 = if l > 0.0 { 1.0 / l } else { 1.0 };
                info.eta0 = Some(eta0);
            }
            LearningRate::LineSearch => {
                info.rule = "line-search";
                info.exact = loss.is_quadratic();
                line_search = true;
            }
        }
        Self { info, line_search, eta0, schedule, last_ls: 0.0 }
    }

    /// η_t for the non-line-search rules.
    pub fn scheduled(&self, t: usize) -> f64 {
        self.eta0 * self.schedule.factor(t)
    }

    /// The line search along the direction with product Q = X·P (SPEC §5):
    /// exact for the squared loss, Armijo backtracking with quadratic
    /// interpolation otherwise; each trial costs O(nk), no pass over X.
    /// `dgrad` is ∇ℓ(R) and `l0` = Σℓ(R). Returns 0 when no step decreases the loss.
    pub fn line_search<T: Float>(
        &mut self,
        b: &dyn Backend<T>,
        r: MatRef<'_, T>,
        q: MatRef<'_, T>,
        dgrad: MatRef<'_, T>,
        loss: &Loss,
        l0: f64,
    ) -> f64 {
        self.line_search_in(b, r, q, dgrad, loss, l0, None)
    }

    /// [`StepChooser::line_search`] when R, Q and ∇ℓ(R) are one block of rows
    /// and `comm` sums over the ranks: one allreduce of two scalars for
    /// ‖Q‖² and ⟨R, Q⟩ (or ⟨∇ℓ(R), Q⟩), then one of one scalar per Armijo trial.
    #[allow(clippy::too_many_arguments)]
    pub fn line_search_in<T: Float>(
        &mut self,
        b: &dyn Backend<T>,
        r: MatRef<'_, T>,
        q: MatRef<'_, T>,
        dgrad: MatRef<'_, T>,
        loss: &Loss,
        l0: f64,
        comm: Option<&Reducer<'_>>,
    ) -> f64 {
        let quad = loss.is_quadratic();
        let mut sums = [b.dot(q, q), 0.0];
        if let Some(c) = comm {
            sums[1] = if quad { b.dot(r, q) } else { b.dot(dgrad, q) };
            c.sum_f64(&mut sums);
        }
        let second = |v: MatRef<'_, T>| if comm.is_some() { sums[1] } else { b.dot(v, q) };
        let qq = sums[0];
        if !(qq > 0.0 && qq.is_finite()) {
            return 0.0;
        }
        if quad {
            let eta = second(r) / qq;
            return if eta.is_finite() && eta > 0.0 { eta } else { 0.0 };
        }
        let slope = second(dgrad); // = ⟨G, P⟩ ≥ 0 by monotonicity of ∇K
        if !(slope > 0.0 && slope.is_finite()) {
            return 0.0;
        }
        const C1: f64 = 1e-4;
        let mut eta = if self.last_ls > 0.0 { 2.0 * self.last_ls } else { slope / qq };
        for _ in 0..80 {
            let mut l = b.loss_along(r, q, T::from_f64(eta), loss);
            if let Some(c) = comm {
                let mut s = [l];
                c.sum_f64(&mut s);
                l = s[0];
            }
            self.info.trials += 1;
            if l.is_finite() && l <= l0 - C1 * eta * slope {
                self.last_ls = eta;
                return eta;
            }
            // Minimizer of the quadratic through φ(0), φ'(0) = −slope, φ(η), kept in [η/10, η/2].
            let denom = 2.0 * (l - l0 + slope * eta);
            let next = if l.is_finite() && denom > 0.0 { slope * eta * eta / denom } else { 0.5 * eta };
            eta = next.clamp(0.1 * eta, 0.5 * eta);
            if eta < f64::MIN_POSITIVE {
                break;
            }
        }
        0.0
    }
}
