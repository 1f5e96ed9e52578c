//! What the iteration driver needs from a solution path.

use crate::backend_choice::Float;
use crate::step::StepChooser;
use dspgd_backend::{Mat, SweepStats};

/// One solution path (primal or Gram) as a state machine the driver steps.
pub(crate) trait PathState<T: Float> {
    /// Loss and ‖R‖² of the current iterate W_t.
    fn stats(&self) -> SweepStats;
    /// One iteration W_t → W_{t+1}. Returns (η_t, ‖G_t‖), or `None` when the
    /// line search found no decrease (nothing was changed but the pending update).
    fn iterate(&mut self, chooser: &mut StepChooser, t: usize) -> Option<(f64, f64)>;
    /// Recomputes R = XW − Y exactly (and what depends on it).
    fn recompute(&mut self);
    /// The iterate before the last step: the last one known to have a finite loss.
    fn last_finite(&self) -> Mat<T>;
    /// The current iterate W_t.
    fn finish(self: Box<Self>) -> Mat<T>;
}

/// Makes GᵀG exactly symmetric (rounding in a general matmul breaks it slightly).
pub(crate) fn symmetrize(a: &mut [f64], k: usize) {
    for i in 0..k {
        for j in (i + 1)..k {
            let m = 0.5 * (a[i * k + j] + a[j * k + i]);
            a[i * k + j] = m;
            a[j * k + i] = m;
        }
    }
}
