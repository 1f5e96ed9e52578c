//! The entry points and the iteration driver shared by both paths: stop
//! rules, divergence, history, observers (SPEC §6).

use crate::aligned_rows::AlignedRows;
use crate::backend_choice::{auto_candidates, resolve_choice, resolve_threads, Float, Workload};
use crate::error::{Diverged, Error};
use crate::gram::Gram;
use crate::interpolator::analyze;
use crate::observer::{Control, NoObserver, Observer, Progress};
use crate::options::{BackendChoice, LearningRate, Options, PathChoice};
use crate::path_state::PathState;
use crate::primal::Primal;
use crate::problem::{validate_measured, Dims};
use crate::rescale::Rescale;
use crate::result::{HistoryEntry, Path, Solution, StopReason, TuneTrial};
use crate::step::StepChooser;
use dspgd_backend::{norm_fro, Backend, Mat, MatRef, Precond, Scalar};
use std::time::Instant;

/// Largest Gram matrix M = XXᵀ the automatic choice will allocate.
const GRAM_AUTO_MAX_BYTES: usize = 1 << 30;

/// Solves min ℓ(XW − Y) by DSPGD from W₀ (`None` = 0) with the given options.
///
/// Memory: the state (W, P, G, R and their kin, O(dk + nk)), and on the Gram
/// path M = XXᵀ; X is read where it is, except that a backend may ask for
/// one copy of a small X with its rows on cache lines
/// (`Backend::prefers_aligned_rows`: the SIMD backend's primal path, X under
/// 16 MiB, k ≤ 32), made at setup.
///
/// ```
/// use dspgd::{solve, synthetic::gaussian_problem, Options, StopReason};
/// let (x, y) = gaussian_problem::<f64>(20, 80, 2, 7);
/// let opts = Options { precond: "ngd:1e-2".parse().unwrap(), ..Options::default() };
/// let sol = solve(x.as_ref(), y.as_ref(), None, &opts).unwrap();
/// assert_eq!(sol.stop_reason, StopReason::Converged);
/// assert!(sol.rel_residual <= 1e-10);
/// ```
///
/// # Errors
/// Bad shapes, non-finite data, invalid options, an unavailable backend
/// (all before the first iteration), or [`Error::Diverged`] with the last
/// finite iterate.
pub fn solve<T: Float>(x: MatRef<'_, T>, y: MatRef<'_, T>, w0: Option<MatRef<'_, T>>, opts: &Options) -> Result<Solution<T>, Error> {
    solve_observed(x, y, w0, opts, &mut NoObserver)
}

/// [`solve`], calling `observer` every `observer.every()` iterations; the
/// observer may stop the solve (stop reason `callback` or `interrupted`).
///
/// # Errors
/// As [`solve`].
pub fn solve_observed<T: Float>(
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    w0: Option<MatRef<'_, T>>,
    opts: &Options,
    observer: &mut dyn Observer,
) -> Result<Solution<T>, Error> {
    opts.validate()?;
    let (dims, max_abs) = validate_measured(x, y, w0)?;
    if let Some(plan) = Rescale::plan::<T>(max_abs, opts) {
        if let Some(result) = plan.solve(x, y, w0, opts, observer, |x, y, w0, o, obs| solve_validated(x, y, w0, o, obs, dims)) {
            return result;
        }
    }
    solve_validated(x, y, w0, opts, observer, dims)
}

/// [`solve_observed`] after validation, on the data as given.
fn solve_validated<T: Float>(
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    w0: Option<MatRef<'_, T>>,
    opts: &Options,
    observer: &mut dyn Observer,
    dims: Dims,
) -> Result<Solution<T>, Error> {
    let threads = resolve_threads(opts.threads);
    let path = choose_path::<T>(opts, dims)?;
    let workload = Workload { n: dims.n, d: dims.d, k: dims.k, gram: path == Path::Gram, elem_size: core::mem::size_of::<T>() };
    let (backend, tuning) = match resolve_choice(opts.backend, workload)? {
        BackendChoice::Tune => tune(x, y, w0, opts, path, threads, workload)?,
        named => (T::named_backend(named, threads)?, vec![]),
    };
    let b = &*backend;
    let rule = opts.resolved_lr();

    let setup_start = Instant::now();
    // The primal path's sweeps read X every iteration: on a copy with its
    // rows on cache lines when the backend asks (same values, same bits).
    let x_copy = if path == Path::Primal { AlignedRows::wanted(b, x, dims.k) } else { None };
    let x = x_copy.as_ref().map_or(x, AlignedRows::as_ref);
    let mut chooser = StepChooser::new(rule, opts.schedule, b, x, opts.precond.lipschitz(), opts.loss.beta(), &opts.loss);
    let state: Box<dyn PathState<T> + '_> = match path {
        Path::Primal => Box::new(Primal::new(b, x, y, w0, &opts.precond, &opts.loss, chooser.line_search)),
        Path::Gram => Box::new(Gram::new(b, x, y, w0, &opts.precond, &opts.loss)),
    };
    let setup_seconds = setup_start.elapsed().as_secs_f64();

    let y_norm = norm_fro(y);
    let tol = opts.tol.unwrap_or(T::DEFAULT_TOL);
    let (w, iterations, stop_reason, history, seconds) = drive(state, &mut chooser, opts, observer, y_norm, tol).map_err(|e| match e {
        Error::Diverged(mut d) => {
            d.step = Some(chooser.info.clone());
            d.backend = b.name();
            d.kernel = b.kernel();
            d.path = Some(path);
            d.setup_seconds = setup_seconds;
            Error::Diverged(d)
        }
        other => other,
    })?;

    // Report the residual of the W we return, computed exactly.
    let mut r = y.to_owned();
    b.gemm(r.as_mut(), -T::ONE, x, w.as_ref(), T::ONE);
    let mut scratch = Mat::zeros(dims.n, dims.k);
    let fin = b.loss_grad(r.as_ref(), &opts.loss, scratch.as_mut());
    let rel_residual = rel(fin.r_norm2.sqrt(), y_norm);

    let mut warnings = vec![];
    if !chooser.line_search && !opts.precond.is_smooth() && !opts.schedule.decays() {
        warnings.push(format!(
            "'{}' is not smooth: with a constant step its step length never shrinks, so it stalls at a residual of order η (SPEC §4.5); use --lr line-search or a decaying schedule",
            opts.precond
        ));
    }
    let analysis = opts.analyze.then(|| analyze(x, y, w0, &w));
    let mut history = history;
    if opts.history_every > 0 {
        history.push(HistoryEntry { iteration: iterations, loss: fin.loss, rel_residual, grad_norm: f64::NAN, eta: 0.0 });
    }
    Ok(Solution {
        w,
        iterations,
        rel_residual,
        loss: fin.loss,
        stop_reason,
        step: chooser.info,
        seconds,
        setup_seconds,
        iters_per_sec: if seconds > 0.0 { iterations as f64 / seconds } else { 0.0 },
        backend: b.name(),
        kernel: b.kernel(),
        path,
        threads,
        dtype: T::NAME,
        precond: opts.precond.to_string(),
        loss_spec: opts.loss.to_string(),
        history,
        analysis,
        warnings,
        tuning,
    })
}

/// Iterations each candidate runs when tuning.
const TUNE_ITERS: usize = 5;

/// `BackendChoice::Tune`: runs a few iterations of every available candidate
/// on this problem (same path, threads and step rule) and keeps the fastest
/// loop. Candidates that cannot run here are skipped; the reference backend
/// is timed only when nothing else is compiled in.
#[allow(clippy::type_complexity)]
fn tune<T: Float>(
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    w0: Option<MatRef<'_, T>>,
    opts: &Options,
    path: Path,
    threads: usize,
    workload: Workload,
) -> Result<(Box<dyn Backend<T>>, Vec<TuneTrial>), Error> {
    let mut candidates = auto_candidates(workload);
    if candidates.len() > 1 {
        candidates.retain(|c| *c != BackendChoice::Reference);
    }
    let path_choice = match path {
        Path::Primal => PathChoice::Primal,
        Path::Gram => PathChoice::Gram,
    };
    let mut trials = vec![];
    let mut best: Option<(f64, BackendChoice)> = None;
    for c in candidates {
        let trial = Options {
            backend: c,
            path: path_choice,
            threads,
            max_iters: TUNE_ITERS,
            tol: Some(f64::MIN_POSITIVE),
            analyze: false,
            history_every: 0,
            ..opts.clone()
        };
        let Ok(sol) = solve(x, y, w0, &trial) else { continue };
        trials.push(TuneTrial { backend: sol.backend, kernel: sol.kernel.clone(), iters_per_sec: sol.iters_per_sec });
        if best.is_none_or(|(ips, _)| sol.iters_per_sec > ips) {
            best = Some((sol.iters_per_sec, c));
        }
    }
    let chosen = best.map_or(auto_candidates(workload)[0], |(_, c)| c);
    Ok((T::named_backend(chosen, threads)?, trials))
}

pub(crate) fn rel(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        num
    }
}

/// Gram when allowed and cheaper: per iteration it costs 2n²k against the
/// primal 4ndk, and forming M costs about n/(2k) primal iterations, so it
/// pays off for n < d once a solve runs more than a few dozen iterations.
fn choose_path<T: Scalar>(opts: &Options, dims: Dims) -> Result<Path, Error> {
    let phi_known = !matches!(opts.precond, Precond::Custom(_)) || has_custom_phi(&opts.precond, dims.k);
    let allowed = opts.precond.class().is_right_invariant() && phi_known;
    match opts.path {
        PathChoice::Primal => Ok(Path::Primal),
        PathChoice::Gram if allowed => Ok(Path::Gram),
        PathChoice::Gram => Err(Error::InvalidOption {
            arg: "path",
            msg: format!("the Gram path needs an isotropic or right-invariant K with a known Φ(GᵀG); '{}' has none", opts.precond),
        }),
        PathChoice::Auto => {
            let bytes = dims.n.saturating_mul(dims.n).saturating_mul(core::mem::size_of::<T>());
            Ok(if allowed && dims.n < dims.d && bytes <= GRAM_AUTO_MAX_BYTES { Path::Gram } else { Path::Primal })
        }
    }
}

fn has_custom_phi(p: &Precond, k: usize) -> bool {
    let gtg = vec![0.0; k * k];
    let mut out = vec![0.0; k * k];
    p.phi(&gtg, k, f64::EPSILON, &mut dspgd_backend::sym_eig::EigWorkspace::new(k), &mut out)
}

pub(crate) type DriveOut<T> = (Mat<T>, usize, StopReason, Vec<HistoryEntry>, f64);

pub(crate) fn drive<T: Float>(
    mut state: Box<dyn PathState<T> + '_>,
    chooser: &mut StepChooser,
    opts: &Options,
    observer: &mut dyn Observer,
    y_norm: f64,
    tol: f64,
) -> Result<DriveOut<T>, Error> {
    let threshold = if y_norm > 0.0 { tol * y_norm } else { tol };
    let initial_loss = state.stats().loss;
    let every = observer.every().max(1);
    let mut history = vec![];
    let mut last_eta = 0.0;
    let start = Instant::now();
    let mut t = 0usize;
    let reason = loop {
        let s = state.stats();
        let r_norm = s.r_norm2.sqrt();
        let bound = opts.divergence_factor * initial_loss.max(f64::MIN_POSITIVE);
        if !s.loss.is_finite() || !r_norm.is_finite() || (t > 0 && s.loss > bound) {
            return Err(Error::Diverged(Box::new(Diverged::new(t, s.loss, initial_loss, last_eta, state.last_finite()))));
        }
        if r_norm <= threshold {
            // The recurrence says converged: confirm on the exact residual.
            state.recompute();
            if state.stats().r_norm2.sqrt() <= threshold {
                break StopReason::Converged;
            }
        }
        if t >= opts.max_iters {
            break StopReason::MaxIters;
        }
        if t % every == 0 {
            let p = Progress {
                iteration: t,
                max_iters: opts.max_iters,
                rel_residual: rel(r_norm, y_norm),
                loss: s.loss,
                elapsed: start.elapsed().as_secs_f64(),
            };
            match observer.observe(&p) {
                Control::Continue => {}
                Control::Stop => break StopReason::Callback,
                Control::Interrupt => break StopReason::Interrupted,
            }
        }
        if t > 0 && t % opts.recompute_every == 0 {
            state.recompute();
        }
        let s = state.stats();
        let Some((eta, g_norm)) = state.iterate(chooser, t) else {
            break StopReason::Stalled;
        };
        if opts.history_every > 0 && t % opts.history_every == 0 {
            history.push(HistoryEntry { iteration: t, loss: s.loss, rel_residual: rel(s.r_norm2.sqrt(), y_norm), grad_norm: g_norm, eta });
        }
        last_eta = eta;
        t += 1;
    };
    let seconds = start.elapsed().as_secs_f64();
    Ok((state.finish(), t, reason, history, seconds))
}

/// The step-size rule name for reports (`auto`, `line-search`, `constant`).
pub fn lr_rule_name(lr: LearningRate) -> &'static str {
    match lr {
        LearningRate::Auto | LearningRate::Default => "auto",
        LearningRate::LineSearch => "line-search",
        LearningRate::Constant(_) => "constant",
    }
}

#[allow(dead_code)]
fn _assert_object_safe<T: Float>(_: &dyn Backend<T>) {}
