//! The JSON report of a `dspgd solve` run and the summary printed to stderr.
//!
//! Keys (DESIGN.md, "CLI contract"; SPEC §6): `iterations`, `rel_residual`,
//! `stop_reason` (`converged` | `max_iters` | `stalled` | `diverged` |
//! `interrupted` | `callback`), `lr_rule`, `eta0`, `schedule`, `backend`,
//! `kernel`, `path`, `dtype`, `threads`, `seconds`, `setup_seconds`,
//! `iters_per_sec`, `n`, `d`, `k`, `precond`, `precond_class`, `loss`,
//! `tol`, `max_iters`, `warnings`, `dspgd_version`, plus the inputs, the
//! final loss value (`final_loss`), the line-search and power-iteration
//! counts, the wall time of the whole command and the exit code. A value the
//! run did not produce (e.g. the residual of a diverged run) is `null`.

use dspgd::{Diverged, Solution, StepInfo, BUILD_INFO};
use serde_json::{json, Map, Value};

/// What the report says about the problem and the settings, known before solving.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// Paths of the inputs and outputs.
    pub x: String,
    /// Y's path.
    pub y: String,
    /// W0's path, if any.
    pub w0: Option<String>,
    /// W's path.
    pub out: String,
    /// Samples.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// Outputs.
    pub k: usize,
    /// Shape of Y as read (1-D or 2-D).
    pub y_shape: Vec<usize>,
    /// dtype of X on disk.
    pub x_dtype: &'static str,
    /// dtype of the run.
    pub dtype: &'static str,
    /// Preconditioner spec.
    pub precond: String,
    /// Its class.
    pub precond_class: &'static str,
    /// Loss spec.
    pub loss: String,
    /// The step rule as asked (`default`, `auto`, `line-search`, η).
    pub lr_requested: String,
    /// The rule it resolves to (`auto`, `line-search`, `constant`).
    pub lr_rule: &'static str,
    /// Schedule spec.
    pub schedule: String,
    /// The tolerance in force.
    pub tol: f64,
    /// Iteration limit.
    pub max_iters: usize,
    /// Backend as asked.
    pub backend_requested: String,
    /// Path as asked.
    pub path_requested: String,
}

fn base(meta: &RunMeta) -> Map<String, Value> {
    let v = json!({
        "dspgd_version": BUILD_INFO.version,
        "x": meta.x,
        "y": meta.y,
        "w0": meta.w0,
        "out": meta.out,
        "n": meta.n,
        "d": meta.d,
        "k": meta.k,
        "y_shape": meta.y_shape,
        "x_dtype": meta.x_dtype,
        "dtype": meta.dtype,
        "precond": meta.precond,
        "precond_class": meta.precond_class,
        "loss": meta.loss,
        "lr": meta.lr_requested,
        "lr_rule": meta.lr_rule,
        "schedule": meta.schedule,
        "tol": meta.tol,
        "max_iters": meta.max_iters,
        "backend_requested": meta.backend_requested,
        "path_requested": meta.path_requested,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

fn step_fields(m: &mut Map<String, Value>, s: &StepInfo) {
    m.insert("lr_rule".into(), json!(s.rule));
    m.insert("eta0".into(), json!(s.eta0));
    m.insert("schedule".into(), json!(s.schedule));
    m.insert("x_norm2".into(), json!(s.x_norm2));
    m.insert("power_iterations".into(), json!(s.power_iterations));
    m.insert("line_search_exact".into(), json!(s.rule == "line-search" && s.exact));
    m.insert("line_search_trials".into(), json!(s.trials));
}

/// The report of a run that returned a [`Solution`].
pub fn solution_report<T>(meta: &RunMeta, sol: &Solution<T>, wall_seconds: f64, exit_code: u8, w_written: bool) -> Value {
    let mut m = base(meta);
    m.insert("iterations".into(), json!(sol.iterations));
    m.insert("rel_residual".into(), json!(sol.rel_residual));
    m.insert("final_loss".into(), json!(sol.loss));
    m.insert("stop_reason".into(), json!(sol.stop_reason.as_str()));
    step_fields(&mut m, &sol.step);
    m.insert("backend".into(), json!(sol.backend));
    m.insert("kernel".into(), json!(sol.kernel));
    m.insert("path".into(), json!(sol.path.as_str()));
    m.insert("threads".into(), json!(sol.threads));
    m.insert("dtype".into(), json!(sol.dtype));
    m.insert("precond".into(), json!(sol.precond));
    m.insert("loss".into(), json!(sol.loss_spec));
    m.insert("seconds".into(), json!(sol.seconds));
    m.insert("setup_seconds".into(), json!(sol.setup_seconds));
    m.insert("iters_per_sec".into(), json!(sol.iters_per_sec));
    m.insert("wall_seconds".into(), json!(wall_seconds));
    m.insert("warnings".into(), json!(sol.warnings));
    m.insert("w_written".into(), json!(w_written));
    m.insert("exit_code".into(), json!(exit_code));
    Value::Object(m)
}

/// What is known about a diverged run.
#[derive(Debug, Clone)]
pub struct DivergedFacts {
    /// The iteration at which divergence was detected.
    pub iteration: usize,
    /// The loss then (NaN/∞ become null).
    pub loss: f64,
    /// The loss at the start.
    pub initial_loss: f64,
    /// The step size in use.
    pub eta: f64,
    /// The base step, when it is known without the solver (a constant η).
    pub eta0: Option<f64>,
    /// The backend that ran.
    pub backend: &'static str,
    /// Its kernel level.
    pub kernel: String,
    /// The path that ran.
    pub path: Option<&'static str>,
    /// Seconds of setup before the loop.
    pub setup_seconds: f64,
    /// Kernel threads.
    pub threads: usize,
    /// The library's message.
    pub message: String,
}

impl DivergedFacts {
    /// The facts of `dv` (whose error message is `message`) for a run on `threads` kernel threads.
    pub fn new(dv: &Diverged, message: String, threads: usize) -> Self {
        Self {
            iteration: dv.iteration,
            loss: dv.loss,
            initial_loss: dv.initial_loss,
            eta: dv.eta,
            eta0: dv.step.as_ref().and_then(|s| s.eta0),
            backend: dv.backend,
            kernel: dv.kernel.clone(),
            path: dv.path.map(|p| p.as_str()),
            setup_seconds: dv.setup_seconds,
            threads,
            message,
        }
    }
}

/// The report of a run that ended in `Error::Diverged`.
pub fn diverged_report(meta: &RunMeta, f: &DivergedFacts, wall_seconds: f64, exit_code: u8, w_written: bool) -> Value {
    let mut m = base(meta);
    m.insert("iterations".into(), json!(f.iteration));
    m.insert("rel_residual".into(), Value::Null);
    m.insert("final_loss".into(), json!(f.loss));
    m.insert("initial_loss".into(), json!(f.initial_loss));
    m.insert("eta".into(), json!(f.eta));
    m.insert("eta0".into(), json!(f.eta0));
    m.insert("stop_reason".into(), json!("diverged"));
    m.insert("backend".into(), json!(f.backend));
    m.insert("kernel".into(), json!(f.kernel));
    m.insert("path".into(), json!(f.path));
    m.insert("threads".into(), json!(f.threads));
    m.insert("seconds".into(), json!(wall_seconds));
    m.insert("setup_seconds".into(), json!(f.setup_seconds));
    m.insert("iters_per_sec".into(), json!(if wall_seconds > 0.0 { f.iteration as f64 / wall_seconds } else { 0.0 }));
    m.insert("wall_seconds".into(), json!(wall_seconds));
    m.insert("warnings".into(), json!([f.message]));
    m.insert("w_written".into(), json!(w_written));
    m.insert("exit_code".into(), json!(exit_code));
    Value::Object(m)
}

/// Serializes a report, pretty-printed, with a final newline.
pub fn to_bytes(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).expect("a JSON value always serializes");
    s.push('\n');
    s.into_bytes()
}

/// The short human summary of a finished solve (two lines).
pub fn summary<T>(sol: &Solution<T>, tol: f64) -> String {
    format!(
        "dspgd: {} after {} iterations, rel residual {:.3e} (tol {:.0e}), {:.3} s ({:.0} it/s, setup {:.3} s)\n       K={} loss={} step={} backend={} ({}) path={} dtype={} threads={}",
        match sol.stop_reason.as_str() {
            "converged" => "converged",
            "max_iters" => "stopped at max iterations",
            "stalled" => "stalled",
            other => other,
        },
        sol.iterations,
        sol.rel_residual,
        tol,
        sol.seconds,
        sol.iters_per_sec,
        sol.setup_seconds,
        sol.precond,
        sol.loss_spec,
        sol.step,
        sol.backend,
        sol.kernel,
        sol.path,
        sol.dtype,
        sol.threads,
    )
}
