//! Watching a solve as it runs, and stopping it: the library never prints.

/// A snapshot handed to an [`Observer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Iteration t.
    pub iteration: usize,
    /// The iteration limit.
    pub max_iters: usize,
    /// ‖R_t‖/‖Y‖ (from the residual recurrence).
    pub rel_residual: f64,
    /// L(W_t).
    pub loss: f64,
    /// Seconds since the loop started.
    pub elapsed: f64,
}

/// What an observer wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now with [`crate::StopReason::Callback`].
    Stop,
    /// Stop now with [`crate::StopReason::Interrupted`].
    Interrupt,
}

/// Called every [`Observer::every`] iterations (and at iteration 0).
pub trait Observer {
    /// How often to be called (≥ 1).
    fn every(&self) -> usize {
        1
    }
    /// Sees the progress; may stop the solve.
    fn observe(&mut self, progress: &Progress) -> Control;
}

/// Any `FnMut(&Progress) -> Control` observes every iteration.
impl<F: FnMut(&Progress) -> Control> Observer for F {
    fn observe(&mut self, progress: &Progress) -> Control {
        self(progress)
    }
}

/// The observer that never stops anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn every(&self) -> usize {
        usize::MAX
    }
    fn observe(&mut self, _: &Progress) -> Control {
        Control::Continue
    }
}
