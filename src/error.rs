//! The error type of the solver layer.

use core::fmt;
use crate::result::{Path, StepInfo};
use dspgd_backend::{Mat, Scalar, SpecError};
use std::any::Any;

/// Why a solve could not run, or why it stopped without an answer.
///
/// Stopping at `max_iters` is not an error (see [`crate::StopReason`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Shapes that do not fit together, or an empty dimension.
    Shape {
        /// The argument at fault (`"x"`, `"y"`, `"w0"`).
        arg: &'static str,
        /// What was expected and what was given.
        msg: String,
    },
    /// A NaN or ±∞ in the data.
    NonFinite {
        /// The argument at fault.
        arg: &'static str,
        /// Row of the first offending entry.
        row: usize,
        /// Column of the first offending entry.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// A setting out of its range (η ≤ 0, tol ≤ 0, ...).
    InvalidOption {
        /// The option at fault (`"lr"`, `"tol"`, ...).
        arg: &'static str,
        /// What was wrong.
        msg: String,
    },
    /// A spec string or a typed loss/preconditioner with bad parameters.
    Spec(SpecError),
    /// The requested backend is not compiled in or not supported here.
    BackendUnavailable {
        /// The backend asked for.
        name: String,
        /// Why it cannot run.
        reason: String,
    },
    /// The scale of the data puts the answer outside the range of the
    /// floating-point type (e.g. X tiny and Y huge make W overflow).
    Overflow {
        /// The argument whose scale is at fault (`"x"`, `"y"`).
        arg: &'static str,
        /// The scales involved and what to do.
        msg: String,
    },
    /// The iteration diverged: the loss became non-finite or grew beyond the bound.
    Diverged(Box<Diverged>),
}

/// Details of a divergence, with the last finite iterate.
#[derive(Debug)]
pub struct Diverged {
    /// The iteration at which divergence was detected.
    pub iteration: usize,
    /// The loss at that iteration (may be NaN or ∞).
    pub loss: f64,
    /// The loss at the start.
    pub initial_loss: f64,
    /// The step size in use.
    pub eta: f64,
    /// How the step size was chosen (η₀, ‖X‖₂ for `auto`).
    pub step: Option<StepInfo>,
    /// The backend that ran.
    pub backend: &'static str,
    /// Its kernel level.
    pub kernel: String,
    /// The path that ran.
    pub path: Option<Path>,
    /// Seconds of setup before the loop.
    pub setup_seconds: f64,
    /// The last iterate whose loss was finite (a `Mat<T>` of the run's type).
    last_finite: Box<dyn Any + Send + Sync>,
}

impl Diverged {
    pub(crate) fn new<T: Scalar>(iteration: usize, loss: f64, initial_loss: f64, eta: f64, w: Mat<T>) -> Self {
        Self {
            iteration,
            loss,
            initial_loss,
            eta,
            step: None,
            backend: "",
            kernel: String::new(),
            path: None,
            setup_seconds: 0.0,
            last_finite: Box::new(w),
        }
    }

    /// The last finite iterate, if the run's scalar type is `T`.
    pub fn last_iterate<T: Scalar>(&self) -> Option<&Mat<T>> {
        self.last_finite.downcast_ref::<Mat<T>>()
    }

    /// Takes the last finite iterate out, if the run's scalar type is `T`.
    pub fn into_last_iterate<T: Scalar>(self) -> Option<Mat<T>> {
        self.last_finite.downcast::<Mat<T>>().ok().map(|b| *b)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape { arg, msg } => write!(f, "{arg}: {msg}"),
            Error::NonFinite { arg, row, col, value } => {
                write!(f, "{arg}: non-finite entry {value} at row {row}, column {col}")
            }
            Error::InvalidOption { arg, msg } => write!(f, "{arg}: {msg}"),
            Error::Overflow { arg, msg } => write!(f, "{arg}: {msg}"),
            Error::Spec(e) => write!(f, "{e}"),
            Error::BackendUnavailable { name, reason } => write!(f, "backend '{name}' is not available: {reason}"),
            Error::Diverged(d) => write!(
                f,
                "diverged at iteration {}: loss {:e} (initial {:e}) with step size {:e}; lower the step size or use line-search",
                d.iteration, d.loss, d.initial_loss, d.eta
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spec(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SpecError> for Error {
    fn from(e: SpecError) -> Self {
        Error::Spec(e)
    }
}
