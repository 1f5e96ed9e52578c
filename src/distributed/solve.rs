//! The row-sharded solve: every rank holds a block of rows of X and Y and a
//! replica of W; the primal loop of [`crate::solve`] runs on each, with one
//! allreduce per iteration.

use super::collective::{Collective, CommCounts, Reducer};
use crate::backend_choice::{resolve_choice, resolve_threads, Float, Workload};
use crate::error::Error;
use crate::observer::{Control, NoObserver, Observer, Progress};
use crate::options::{BackendChoice, Options, PathChoice};
use crate::path_state::PathState;
use crate::primal::Primal;
use crate::problem::{validate, Dims};
use crate::result::{HistoryEntry, Path, Solution};
use crate::solve::{drive, rel};
use crate::step::StepChooser;
use dspgd_backend::{norm_fro, Mat, MatRef, Scalar};
use std::time::Instant;

/// What the communication of a row-sharded solve cost on this rank.
///
/// With a constant, `auto` or scheduled step, `loop_counts.calls` is
/// `iterations + recomputes` (one allreduce of d·k + 2 elements per sweep);
/// the line search adds one allreduce of 2 scalars per iteration, and the
/// Armijo search (non-squared losses) one of 1 scalar per trial. An observer
/// passed to [`solve_distributed_observed`] adds no allreduce (its decision
/// rides on the sweep reduction, one element more).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommStats {
    /// This rank.
    pub rank: usize,
    /// The number of ranks.
    pub ranks: usize,
    /// Rows of X on this rank.
    pub local_rows: usize,
    /// Rows of X on all ranks.
    pub global_rows: usize,
    /// Setup: agreeing on the shapes and the backend, ‖Y‖, the first sweep,
    /// the power iteration of `auto`.
    pub setup: CommCounts,
    /// The iteration loop.
    pub iterations: CommCounts,
    /// The exact residual of the returned W.
    pub finish: CommCounts,
    /// Exact recomputations of R = XW − Y in the loop (each one sweep and one allreduce).
    pub recomputes: u64,
}

impl CommStats {
    /// All allreduce calls of the solve.
    pub fn allreduces(&self) -> u64 {
        self.setup.calls + self.iterations.calls + self.finish.calls
    }

    /// All seconds spent inside allreduce calls.
    pub fn seconds(&self) -> f64 {
        self.setup.seconds + self.iterations.seconds + self.finish.seconds
    }
}

/// The result of a row-sharded solve on one rank: the same [`Solution`] on
/// every rank (W bitwise identical), and this rank's communication costs.
#[derive(Debug, Clone)]
pub struct DistributedSolution<T> {
    /// The solution, as [`crate::solve`] would report it for the whole problem
    /// (`rel_residual` and `loss` are global; `path` is always primal).
    pub solution: Solution<T>,
    /// The communication of this rank.
    pub comm: CommStats,
}

/// Solves the row-sharded problem min ℓ(XW − Y): this rank holds `x` and
/// `y`, one block of rows of X and Y (any split of the rows, in any order;
/// a rank may hold none), and every rank passes the same `w0` and `opts`.
/// Every rank of `comm` must call this together. The iterates are those of
/// [`crate::solve`] on the whole problem with the primal path, up to the
/// rounding of the sums, and W is bitwise identical on every rank.
///
/// Per iteration each rank sweeps its rows (G_i = X_iᵀ∇ℓ(R_i), its part of
/// the loss and of ‖R‖²), one allreduce sums them, and every rank applies
/// the same ∇K(G) update to its replica of W. The Gram path is not used
/// (it would need the n×n matrix XXᵀ across ranks).
///
/// ```
/// use dspgd::distributed::{solve_distributed, ThreadCollective};
/// use dspgd::{synthetic::gaussian_problem, Options};
/// let (x, y) = gaussian_problem::<f64>(30, 120, 2, 3);
/// let opts = Options { precond: "adam:1e-2".parse().unwrap(), lr: "0.02".parse().unwrap(), ..Options::default() };
/// // Two ranks simulated by threads, 15 rows each.
/// let sols = ThreadCollective::run(2, |c| {
///     let rows = 15 * dspgd::distributed::Collective::rank(c);
///     solve_distributed(c, x.as_ref().rows(rows, 15), y.as_ref().rows(rows, 15), None, &opts).unwrap()
/// });
/// assert_eq!(sols[0].solution.w.as_slice(), sols[1].solution.w.as_slice());
/// assert_eq!(sols[0].comm.iterations.calls, (sols[0].solution.iterations as u64) + sols[0].comm.recomputes);
/// ```
///
/// # Errors
/// As [`crate::solve`], and: `path = gram`, `backend = tune` (each rank
/// would pick its own) or `analyze` (it needs the whole X) as
/// [`Error::InvalidOption`]; shards whose d, k or W₀ disagree between ranks
/// as [`Error::Shape`]; a backend that differs between ranks as
/// [`Error::BackendUnavailable`]. A rank whose own data is bad reports that
/// error; the other ranks report [`Error::InvalidOption`] with `arg =
/// "shard"`. Every rank returns an error together, so none is left waiting.
pub fn solve_distributed<T: Float>(
    comm: &dyn Collective,
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    w0: Option<MatRef<'_, T>>,
    opts: &Options,
) -> Result<DistributedSolution<T>, Error> {
    run(comm, x, y, w0, opts, None)
}

/// [`solve_distributed`], calling `observer` on every rank every
/// `observer.every()` iterations. The ranks agree on its decision: each
/// rank's answer travels with the next sweep's allreduce (one element more,
/// no extra call), and all ranks act on it one iteration later: if any
/// rank's observer asked to interrupt, all stop as interrupted; else if any
/// asked to stop, all stop with [`crate::StopReason::Callback`].
///
/// # Errors
/// As [`solve_distributed`].
pub fn solve_distributed_observed<T: Float>(
    comm: &dyn Collective,
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    w0: Option<MatRef<'_, T>>,
    opts: &Options,
    observer: &mut dyn Observer,
) -> Result<DistributedSolution<T>, Error> {
    run(comm, x, y, w0, opts, Some(observer))
}

/// The observer's decision, agreed on by all ranks without an allreduce of
/// its own: each rank's vote rides on the next sweep reduction, and every
/// rank acts on the sum one iteration later.
struct Agreed<'o, 'r, 'c> {
    inner: &'o mut dyn Observer,
    every: usize,
    comm: &'r Reducer<'c>,
}

impl Observer for Agreed<'_, '_, '_> {
    fn every(&self) -> usize {
        1
    }
    fn observe(&mut self, p: &Progress) -> Control {
        if p.iteration % self.every == 0 {
            let mine = match self.inner.observe(p) {
                Control::Continue => 0.0,
                Control::Stop => 1.0,
                Control::Interrupt => 1024.0,
            };
            self.comm.vote.set(self.comm.vote.get().max(mine));
        }
        match self.comm.agreed.get() {
            s if s >= 1024.0 => Control::Interrupt,
            s if s > 0.0 => Control::Stop,
            _ => Control::Continue,
        }
    }
}

/// The shard checks of [`validate`], allowing a rank without rows.
fn validate_shard<T: Scalar>(x: MatRef<'_, T>, y: MatRef<'_, T>, w0: Option<MatRef<'_, T>>) -> Result<Dims, Error> {
    if x.nrows() > 0 {
        return validate(x, y, w0);
    }
    let (d, k) = (x.ncols(), y.ncols());
    if y.nrows() != 0 {
        return Err(Error::Shape { arg: "y", msg: format!("this rank's Y has {} rows but its X has none", y.nrows()) });
    }
    // Reuse the checks of `validate` on a 1-row stand-in of the right widths.
    let xs = Mat::<T>::zeros(1, d);
    let ys = Mat::<T>::zeros(1, k);
    validate(xs.as_ref(), ys.as_ref(), w0)?;
    Ok(Dims { n: 0, d, k })
}

/// A 20-bit FNV-1a hash: small enough that sums of it and of its square over
/// thousands of ranks are exact in f64.
fn hash20(s: &str) -> f64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    f64::from(h & 0xF_FFFF)
}

/// True when every rank's value was the same, from Σv and Σv² (exact integers).
fn all_equal(sum: f64, sum_sq: f64, ranks: usize) -> bool {
    // P·Σv² − (Σv)² = Σ_{i<j} (v_i − v_j)², zero only when all are equal.
    (ranks as u128) * (sum_sq as u128) == (sum as u128) * (sum as u128)
}

fn another_rank(what: &str) -> Error {
    Error::InvalidOption { arg: "shard", msg: format!("another rank {what} (see its error); this rank stopped with it") }
}

fn run<T: Float>(
    comm: &dyn Collective,
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    w0: Option<MatRef<'_, T>>,
    opts: &Options,
    observer: Option<&mut dyn Observer>,
) -> Result<DistributedSolution<T>, Error> {
    // Checks that depend only on the options give the same answer on every rank.
    opts.validate()?;
    let bad = |arg: &'static str, msg: &str| Err(Error::InvalidOption { arg, msg: msg.into() });
    if opts.path == PathChoice::Gram {
        return bad("path", "the Gram path is not available in a row-sharded solve (it needs XXᵀ across ranks); use path auto or primal");
    }
    if opts.analyze {
        return bad("analyze", "the analysis needs the whole X; it is not available in a row-sharded solve");
    }
    let reducer = Reducer::new(comm, observer.is_some());
    let (rank, ranks) = (comm.rank(), comm.size());

    // Round 1: every rank's verdict on its shard, the rows, rank 0's shapes, ‖Y_i‖².
    let local = validate_shard(x, y, w0);
    let (n_i, d, k) = (x.nrows(), x.ncols(), y.ncols());
    let root = |v: usize| if rank == 0 { v as f64 } else { 0.0 };
    let y_norm2 = if local.is_ok() { norm_fro(y).powi(2) } else { 0.0 };
    let mut agree = [f64::from(u8::from(local.is_err())), n_i as f64, root(d), root(k), root(usize::from(w0.is_some())), y_norm2];
    reducer.sum_f64(&mut agree);
    local?;
    if agree[0] > 0.0 {
        return Err(another_rank("rejected its shard"));
    }
    let n = agree[1] as usize;
    let (d0, k0, w0_0) = (agree[2] as usize, agree[3] as usize, agree[4] > 0.0);
    let y_norm = if ranks == 1 { norm_fro(y) } else { agree[5].sqrt() };

    // Round 2: shapes against rank 0, the backend (chosen for the whole problem), its kernel.
    let mismatch = if (d, k, w0.is_some()) != (d0, k0, w0_0) {
        Some(Error::Shape {
            arg: "x",
            msg: format!(
                "rank {rank} holds X with {d} columns, Y with {k} and {} W0, but rank 0 holds {d0}, {k0} and {} W0: every rank needs the same d, k and W0",
                if w0.is_some() { "a" } else { "no" },
                if w0_0 { "a" } else { "no" }
            ),
        })
    } else if n == 0 {
        Some(Error::Shape { arg: "x", msg: "no rank holds any row of X".into() })
    } else {
        None
    };
    let threads = resolve_threads(opts.threads);
    let workload = Workload { n, d, k, gram: false, elem_size: core::mem::size_of::<T>() };
    let backend = resolve_choice(opts.backend, workload).and_then(|c| match c {
        BackendChoice::Tune => Err(Error::InvalidOption {
            arg: "backend",
            msg: "'tune' is not available in a row-sharded solve (each rank would time its own); name a backend or use auto".into(),
        }),
        named => T::named_backend(named, threads),
    });
    let h = backend.as_ref().map_or(0.0, |b| hash20(&format!("{}/{}", b.name(), b.kernel())));
    let mut agree = [f64::from(u8::from(mismatch.is_some())), f64::from(u8::from(backend.is_err())), h, h * h];
    reducer.sum_f64(&mut agree);
    if let Some(e) = mismatch {
        return Err(e);
    }
    let backend = backend?;
    if agree[0] > 0.0 {
        return Err(another_rank("holds a shard whose shapes differ from rank 0's"));
    }
    if agree[1] > 0.0 {
        return Err(another_rank("could not make its backend"));
    }
    let b = &*backend;
    if !all_equal(agree[2], agree[3], ranks) {
        return Err(Error::BackendUnavailable {
            name: b.name().into(),
            reason: format!(
                "the ranks run different kernels (this rank: {} {}); W stays identical on every rank only with the same kernel everywhere: name one with backend (and DSPGD_SIMD)",
                b.name(),
                b.kernel()
            ),
        });
    }

    let rule = opts.resolved_lr();
    let setup_start = Instant::now();
    let mut chooser = StepChooser::new_in(rule, opts.schedule, b, x, opts.precond.lipschitz(), opts.loss.beta(), &opts.loss, Some(&reducer));
    let state: Box<dyn PathState<T> + '_> = Box::new(Primal::new_in(b, x, y, w0, &opts.precond, &opts.loss, chooser.line_search, Some(&reducer)));
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    let setup = reducer.counts();
    let recomputes_before = reducer.recomputes.get();

    let tol = opts.tol.unwrap_or(T::DEFAULT_TOL);
    let driven = match observer {
        None => drive(state, &mut chooser, opts, &mut NoObserver, y_norm, tol),
        Some(inner) => {
            let every = inner.every().max(1);
            drive(state, &mut chooser, opts, &mut Agreed { inner, every, comm: &reducer }, y_norm, tol)
        }
    };
    let (w, iterations, stop_reason, history, seconds) = driven.map_err(|e| match e {
        Error::Diverged(mut dv) => {
            dv.step = Some(chooser.info.clone());
            dv.backend = b.name();
            dv.kernel = b.kernel();
            dv.path = Some(Path::Primal);
            dv.setup_seconds = setup_seconds;
            Error::Diverged(dv)
        }
        other => other,
    })?;
    let in_loop = reducer.counts();
    let recomputes = reducer.recomputes.get() - recomputes_before;

    // The exact residual of the W we return, summed over the ranks.
    let mut r = y.to_owned();
    b.gemm(r.as_mut(), -T::ONE, x, w.as_ref(), T::ONE);
    let mut scratch = Mat::zeros(n_i, k);
    let fin = b.loss_grad(r.as_ref(), &opts.loss, scratch.as_mut());
    let mut s = [fin.loss, fin.r_norm2];
    reducer.sum_f64(&mut s);
    let (loss, rel_residual) = (s[0], rel(s[1].sqrt(), y_norm));
    let done = reducer.counts();

    let mut warnings = vec![];
    if !chooser.line_search && !opts.precond.is_smooth() && !opts.schedule.decays() {
        warnings.push(format!(
            "'{}' is not smooth: with a constant step its step length never shrinks, so it stalls at a residual of order η (SPEC §4.5); use --lr line-search or a decaying schedule",
            opts.precond
        ));
    }
    let mut history = history;
    if opts.history_every > 0 {
        history.push(HistoryEntry { iteration: iterations, loss, rel_residual, grad_norm: f64::NAN, eta: 0.0 });
    }
    let diff = |a: CommCounts, b: CommCounts| CommCounts { calls: a.calls - b.calls, elements: a.elements - b.elements, seconds: a.seconds - b.seconds };
    let solution = Solution {
        w,
        iterations,
        rel_residual,
        loss,
        stop_reason,
        step: chooser.info,
        seconds,
        setup_seconds,
        iters_per_sec: if seconds > 0.0 { iterations as f64 / seconds } else { 0.0 },
        backend: b.name(),
        kernel: b.kernel(),
        path: Path::Primal,
        threads,
        dtype: T::NAME,
        precond: opts.precond.to_string(),
        loss_spec: opts.loss.to_string(),
        history,
        analysis: None,
        warnings,
        tuning: vec![],
    };
    let comm = CommStats { rank, ranks, local_rows: n_i, global_rows: n, setup, iterations: diff(in_loop, setup), finish: diff(done, in_loop), recomputes };
    Ok(DistributedSolution { solution, comm })
}
