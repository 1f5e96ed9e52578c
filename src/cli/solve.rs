//! `dspgd solve`: read X, Y (and W0) from `.npy` files, run DSPGD, write W
//! and a JSON report atomically, and exit with a code that says how it ended.
//!
//! Order of work: parse and validate every setting, check that every output
//! path can be written, read the inputs, solve, then stage all outputs in
//! temporary files and rename them into place. Anything that fails before
//! the commit leaves no output file.

use super::args::{DTypeArg, SolveArgs};
use super::npy::{self, Array, DType, Data};
use super::report::{self, DivergedFacts, RunMeta};
use super::{atomic, Fail, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_NOT_CONVERGED, EXIT_OK, EXIT_OTHER};
use anyhow::Result;
use dspgd::kernels::huge_pages::vec_with_capacity;
use dspgd::{
    lr_rule_name, resolve_threads, solve_observed, BackendChoice, Control, Error, Float, LearningRate, Loss, Mat, Observer,
    Options, PathChoice, Precond, Progress, Schedule, StopReason,
};
use std::any::Any;
use std::path::Path;
use std::time::Instant;

/// Parses a spec string with the library's `FromStr`, naming the option on failure.
fn spec<V: std::str::FromStr>(flag: &str, s: &str) -> Result<V, Fail>
where
    V::Err: std::fmt::Display,
{
    s.parse::<V>().map_err(|e| Fail::usage(format!("{flag}: {e}")))
}

/// The library [`Options`] from the command line.
pub fn options(a: &SolveArgs) -> Result<Options, Fail> {
    let opts = Options {
        precond: spec::<Precond>("--precond", &a.precond)?,
        loss: spec::<Loss>("--loss", &a.loss)?,
        lr: match &a.lr {
            None => LearningRate::Default,
            Some(s) => spec::<LearningRate>("--lr", s)?,
        },
        schedule: spec::<Schedule>("--schedule", &a.schedule)?,
        tol: a.tol,
        max_iters: a.max_iters,
        backend: spec::<BackendChoice>("--backend", &a.backend)?,
        path: spec::<PathChoice>("--path", &a.path)?,
        threads: a.threads,
        ..Options::default()
    };
    opts.validate().map_err(|e| lib_error(&e, &Inputs::default()))?;
    Ok(opts)
}

/// What the error messages say about the input files.
#[derive(Debug, Default)]
pub(super) struct Inputs {
    pub(super) x: String,
    pub(super) y: String,
    pub(super) w0: String,
    pub(super) converted: Vec<&'static str>,
}

/// Maps a library error other than divergence to a one-line message and exit 2
/// (exit 1 for kinds this build does not know).
pub(super) fn lib_error(e: &Error, inputs: &Inputs) -> Fail {
    let file = |arg: &str| match arg {
        "x" => format!("--x {}", inputs.x),
        "y" => format!("--y {}", inputs.y),
        "w0" => format!("--w0 {}", inputs.w0),
        other => format!("--{}", other.replace('_', "-")),
    };
    match e {
        Error::Shape { arg, msg } => Fail::usage(format!("{}: {msg}", file(arg))),
        Error::NonFinite { arg, row, col, value } => {
            let note = if inputs.converted.contains(arg) { " (after conversion to the run's dtype; use --dtype f64)" } else { "" };
            Fail::usage(format!("{}: non-finite entry {value} at row {row}, column {col}{note}", file(arg)))
        }
        Error::InvalidOption { arg, msg } => Fail::usage(format!("--{}: {msg}", arg.replace('_', "-"))),
        Error::Overflow { arg, msg } => Fail::usage(format!("{}: {msg}", file(arg))),
        Error::Spec(s) => Fail::usage(s.to_string()),
        Error::BackendUnavailable { .. } => Fail::usage(format!("--backend: {e}")),
        other => Fail::other(other.to_string()),
    }
}

/// Reads one input file; any problem is exit 2 naming the option and the file.
fn read_input(flag: &str, path: &Path) -> Result<Array, Fail> {
    npy::read(path).map_err(|e| Fail::usage(format!("{flag} {}: {}", e.path.display(), e.msg)))
}

/// The converted elements in a vector that asks for huge pages when large
/// (as the loader's own vectors do).
fn converted<T>(it: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let mut v = vec_with_capacity(it.len());
    v.extend(it);
    v
}

/// Moves or converts the elements of an array into a `Mat<T>` of the given shape.
pub(super) fn to_mat<T: Float>(a: Array, rows: usize, cols: usize) -> Mat<T> {
    let v: Vec<T> = match a.data {
        Data::F64(v) => match (Box::new(v) as Box<dyn Any>).downcast::<Vec<T>>() {
            Ok(same) => *same,
            Err(b) => converted(b.downcast::<Vec<f64>>().expect("it was a Vec<f64>").into_iter().map(T::from_f64)),
        },
        Data::F32(v) => match (Box::new(v) as Box<dyn Any>).downcast::<Vec<T>>() {
            Ok(same) => *same,
            Err(b) => converted(b.downcast::<Vec<f32>>().expect("it was a Vec<f32>").into_iter().map(|x| T::from_f64(f64::from(x)))),
        },
    };
    Mat::from_row_major_vec(v, rows, cols).expect("npy::read checked the element count against the shape")
}

/// The elements of a `Mat<T>` as npy data, without a copy.
pub(super) fn into_data<T: Float>(w: Mat<T>) -> Data {
    let v: Box<dyn Any> = Box::new(w.into_vec());
    match v.downcast::<Vec<f64>>() {
        Ok(v) => Data::F64(*v),
        Err(v) => Data::F32(*v.downcast::<Vec<f32>>().expect("Float is f32 or f64")),
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// Runs `dspgd solve`; returns the exit code.
///
/// # Errors
/// A [`Fail`] with exit code 2 for bad input or usage, 1 otherwise.
pub fn run(a: &SolveArgs) -> Result<u8> {
    if a.shard.is_some() {
        return super::shard::run(a);
    }
    let wall = Instant::now();
    super::interrupt::install();
    let opts = options(a)?;

    // Outputs: distinct, writable, checked before any work.
    if let Some(r) = &a.report {
        if r == &a.out {
            return Err(Fail::usage(format!("--report and --out are the same file '{}'", r.display())).into());
        }
    }
    atomic::check_writable(&a.out).map_err(|m| Fail::usage(format!("--out: {m}")))?;
    if let Some(r) = &a.report {
        atomic::check_writable(r).map_err(|m| Fail::usage(format!("--report: {m}")))?;
    }

    let x = read_input("--x", &a.x)?;
    if x.shape.len() != 2 {
        return Err(Fail::usage(format!(
            "--x {}: X must be a 2-D array of shape (n, d), got shape {}",
            a.x.display(),
            npy::shape_str(&x.shape)
        ))
        .into());
    }
    let y = read_input("--y", &a.y)?;
    let w0 = a.w0.as_deref().map(|p| read_input("--w0", p)).transpose()?;
    let (n, d) = x.dims2();
    let (yn, k) = y.dims2();
    if let Some(w0) = &w0 {
        if w0.shape.len() == 1 && k != 1 {
            return Err(Fail::usage(format!(
                "--w0 {}: a 1-D W0 of shape {} fits only k = 1, but Y has shape {} (k = {k}); W0 must have shape ({d}, {k})",
                show(a.w0.as_deref().unwrap_or(Path::new(""))),
                npy::shape_str(&w0.shape),
                npy::shape_str(&y.shape)
            ))
            .into());
        }
    }

    let dtype = match a.dtype {
        Some(DTypeArg::F32) => DType::F32,
        Some(DTypeArg::F64) => DType::F64,
        None => x.dtype(),
    };
    let mut inputs = Inputs { x: show(&a.x), y: show(&a.y), w0: a.w0.as_deref().map(show).unwrap_or_default(), converted: vec![] };
    for (name, arr) in [("x", Some(&x)), ("y", Some(&y)), ("w0", w0.as_ref())] {
        if let Some(arr) = arr {
            if arr.dtype() == DType::F64 && dtype == DType::F32 {
                inputs.converted.push(name);
            }
        }
    }
    let meta = RunMeta {
        x: show(&a.x),
        y: show(&a.y),
        w0: a.w0.as_deref().map(show),
        out: show(&a.out),
        n,
        d,
        k,
        y_shape: y.shape.clone(),
        x_dtype: x.dtype().name(),
        dtype: dtype.name(),
        precond: opts.precond.to_string(),
        precond_class: opts.precond.class().as_str(),
        loss: opts.loss.to_string(),
        lr_requested: opts.lr.to_string(),
        lr_rule: lr_rule_name(opts.resolved_lr()),
        schedule: opts.schedule.to_string(),
        tol: opts.tol.unwrap_or(match dtype {
            DType::F32 => <f32 as dspgd::Scalar>::DEFAULT_TOL,
            DType::F64 => <f64 as dspgd::Scalar>::DEFAULT_TOL,
        }),
        max_iters: opts.max_iters,
        backend_requested: a.backend.clone(),
        path_requested: a.path.clone(),
    };
    let y_1d = y.shape.len() == 1;
    let run = Run { args: a, opts: &opts, meta: &meta, inputs: &inputs, y_1d, wall };
    match dtype {
        DType::F32 => run.go::<f32>(to_mat(x, n, d), to_mat(y, yn, k), w0.map(|w| {
            let (r, c) = w.dims2();
            to_mat(w, r, c)
        })),
        DType::F64 => run.go::<f64>(to_mat(x, n, d), to_mat(y, yn, k), w0.map(|w| {
            let (r, c) = w.dims2();
            to_mat(w, r, c)
        })),
    }
}

struct Run<'a> {
    args: &'a SolveArgs,
    opts: &'a Options,
    meta: &'a RunMeta,
    inputs: &'a Inputs,
    y_1d: bool,
    wall: Instant,
}

impl Run<'_> {
    fn w_array<T: Float>(&self, w: Mat<T>) -> Array {
        let (d, k) = w.shape();
        let shape = if self.y_1d { vec![d] } else { vec![d, k] };
        Array { shape, data: into_data(w) }
    }

    fn go<T: Float>(&self, x: Mat<T>, y: Mat<T>, w0: Option<Mat<T>>) -> Result<u8> {
        let a = self.args;
        let mut watch = Watch { bar: super::progress::SolveBar::new(super::progress::wanted(a.quiet), self.opts.max_iters) };
        let result = solve_observed(x.as_ref(), y.as_ref(), w0.as_ref().map(|w| w.as_ref()), self.opts, &mut watch);
        watch.bar.finish();
        drop((x, y, w0));
        match result {
            Ok(mut sol) => {
                let code = match sol.stop_reason {
                    StopReason::Converged => EXIT_OK,
                    StopReason::MaxIters | StopReason::Stalled => EXIT_NOT_CONVERGED,
                    StopReason::Interrupted => EXIT_INTERRUPTED,
                    _ => EXIT_OTHER,
                };
                for w in &sol.warnings {
                    eprintln!("warning: {w}");
                }
                let w = std::mem::replace(&mut sol.w, Mat::zeros(0, 0));
                let (wd, wk) = w.shape();
                let w_bytes = npy::encode(&self.w_array(w));
                let mut staged = vec![atomic::stage(&a.out, &w_bytes).map_err(|m| Fail::other(format!("--out: {m}")))?];
                if let Some(r) = &a.report {
                    let rep = report::solution_report(self.meta, &sol, self.wall.elapsed().as_secs_f64(), code, true);
                    staged.push(atomic::stage(r, &report::to_bytes(&rep)).map_err(|m| Fail::other(format!("--report: {m}")))?);
                }
                atomic::commit(staged).map_err(Fail::other)?;
                if !a.quiet {
                    eprintln!("{}", report::summary(&sol, self.meta.tol));
                    let what = if self.y_1d { format!("({wd},)") } else { format!("({wd}, {wk})") };
                    match &a.report {
                        Some(r) => eprintln!("       wrote {} {what} {} and {}", a.out.display(), sol.dtype, r.display()),
                        None => eprintln!("       wrote {} {what} {}", a.out.display(), sol.dtype),
                    }
                }
                match sol.stop_reason {
                    StopReason::MaxIters if !a.quiet => {
                        eprintln!("dspgd: not converged: reached --max-iters {} (exit code 3)", self.opts.max_iters)
                    }
                    StopReason::Stalled if !a.quiet => eprintln!(
                        "dspgd: not converged: the line search found no step that lowers the loss (rounding floor reached; exit code 3)"
                    ),
                    StopReason::Interrupted => eprintln!("dspgd: interrupted at iteration {}; wrote the last iterate (exit code 130)", sol.iterations),
                    _ => {}
                }
                Ok(code)
            }
            Err(e @ Error::Diverged(_)) => {
                let text = e.to_string();
                let Error::Diverged(dv) = e else { unreachable!("matched above") };
                let facts = DivergedFacts::new(&dv, text.clone(), resolve_threads(self.opts.threads));
                let mut staged = vec![];
                let mut w_written = false;
                if a.keep_last {
                    if let Some(w) = dv.into_last_iterate::<T>() {
                        let bytes = npy::encode(&self.w_array(w));
                        staged.push(atomic::stage(&a.out, &bytes).map_err(|m| Fail::other(format!("--out: {m}")))?);
                        w_written = true;
                    }
                }
                if let Some(r) = &a.report {
                    let rep = report::diverged_report(self.meta, &facts, self.wall.elapsed().as_secs_f64(), EXIT_DIVERGED, w_written);
                    staged.push(atomic::stage(r, &report::to_bytes(&rep)).map_err(|m| Fail::other(format!("--report: {m}")))?);
                }
                atomic::commit(staged).map_err(Fail::other)?;
                eprintln!("error: {text}");
                if w_written {
                    eprintln!("       wrote the last finite iterate to {} (--keep-last)", a.out.display());
                } else if !a.quiet {
                    eprintln!("       no W written (pass --keep-last to keep the last finite iterate)");
                }
                Ok(EXIT_DIVERGED)
            }
            Err(e) => Err(lib_error(&e, self.inputs).into()),
        }
    }
}

/// Watches the solve: feeds the progress bar (on a terminal, not with
/// `--quiet`) and turns Ctrl-C into a clean stop at the next check.
struct Watch {
    bar: super::progress::SolveBar,
}

impl Observer for Watch {
    fn every(&self) -> usize {
        8
    }
    fn observe(&mut self, p: &Progress) -> Control {
        if super::interrupt::requested() {
            return Control::Interrupt;
        }
        self.bar.update(p);
        Control::Continue
    }
}
