//! `dspgd bench`: the benchmark protocol of DESIGN.md from the command line,
//! side by side across backends in one run, held against this machine's own
//! limits measured in the same run: a streaming read of X (the memory limit)
//! and the best gemm GFLOP/s reachable here (the compute limit).
//!
//! Each figure is the median of `--repeats` timed loops of `--iters`
//! iterations with no early stop; only the iteration loop is timed
//! (`Solution::seconds`), not the setup.

use super::EXIT_OK;
use anyhow::{bail, Context, Result};
use clap::Args;
use dspgd::{
    compiled_backends, make_backend_for, solve, synthetic, BackendChoice, Float, LearningRate, Mat, MatRef, Options, PathChoice, Workload,
};
use serde_json::{json, Value};
use std::time::Instant;

/// The shapes of the protocol: (name, n, d, k).
pub const SHAPES: &[(&str, usize, usize, usize)] =
    &[("S1", 200, 2000, 1), ("S2", 200, 2000, 10), ("S3", 1000, 10000, 10), ("S4", 2000, 50000, 1), ("S5", 500, 5000, 100)];

/// `dspgd bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A shape of the protocol: S1 (200×2000, k=1), S2 (200×2000, k=10), S3 (1000×10000, k=10),
    /// S4 (2000×50000, k=1, memory-bound), S5 (500×5000, k=100, compute-bound). Overridden by --n/--d/--k.
    #[arg(long, default_value = "S2")]
    pub shape: String,
    /// Samples (rows of X).
    #[arg(long)]
    pub n: Option<usize>,
    /// Features (columns of X).
    #[arg(long)]
    pub d: Option<usize>,
    /// Outputs (columns of Y).
    #[arg(long)]
    pub k: Option<usize>,
    /// Preconditioners, comma-separated; `gd` runs with the primal path forced.
    #[arg(long, default_value = "gd,adam:1e-3,spectral:1e-3")]
    pub precond: String,
    /// Loss.
    #[arg(long, default_value = "squared")]
    pub loss: String,
    /// Element types, comma-separated (f64, f32).
    #[arg(long, default_value = "f64")]
    pub dtype: String,
    /// Kernel threads (0 = all cores).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Iterations per timed loop.
    #[arg(long, default_value_t = 20)]
    pub iters: usize,
    /// Timed loops per figure (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Backends: `all` (every compiled-in backend but reference) or a comma-separated list.
    #[arg(long, default_value = "all")]
    pub backends: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Seconds of one streaming read of X with `threads` threads (row blocks),
/// through the fastest compiled reduction (‖X‖², each element loaded
/// once): the median of repeated reads, after one that warms up (page
/// faults, caches). The row blocks run on the kernels' thread team, as the
/// sweeps do, so that no thread is started inside the timing: X that fits
/// the cache (S1–S3) reads in tens of microseconds, less than a thread takes
/// to start, so more reads are timed for it (about 20 ms, at least
/// `repeats`).
fn stream_seconds<T: Float>(x: MatRef<'_, T>, threads: usize, repeats: usize) -> f64 {
    let b = make_backend_for::<T>(BackendChoice::Auto, 1, Workload { n: x.nrows(), d: x.ncols(), k: 1, gram: false, elem_size: std::mem::size_of::<T>() })
        .expect("auto backend");
    let n = x.nrows();
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let mut parts: Vec<(MatRef<'_, T>, f64)> = (0..n.div_ceil(chunk)).map(|t| (x.rows(t * chunk, chunk.min(n - t * chunk)), 0.0)).collect();
    let mut read = || {
        let start = Instant::now();
        dspgd::kernels::team::for_each_mut(&mut parts, |_, (rows, sum)| *sum = b.dot(*rows, *rows));
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(parts.iter().map(|p| p.1).sum::<f64>());
        secs
    };
    let first = read();
    let reads = ((0.02 / first.max(1e-9)) as usize).clamp(repeats.max(1), 1000);
    median((0..reads).map(|_| read()).collect())
}

/// The best GFLOP/s of a square gemm (m = 1024, 2m³ flops) over the compiled
/// backends but reference, with `threads` threads.
fn gemm_peak<T: Float>(threads: usize, repeats: usize) -> (f64, &'static str) {
    let m = 1024;
    let a: Mat<T> = synthetic::gaussian_matrix(m, m, 1.0, 3);
    let bm: Mat<T> = synthetic::gaussian_matrix(m, m, 1.0, 4);
    let mut c: Mat<T> = Mat::zeros(m, m);
    let mut best = (0.0, "none");
    for name in compiled_backends().into_iter().filter(|n| *n != "reference") {
        let Ok(choice) = name.parse::<BackendChoice>() else { continue };
        let Ok(b) = make_backend_for::<T>(choice, threads, Workload { n: m, d: m, k: m, gram: true, elem_size: std::mem::size_of::<T>() }) else { continue };
        b.gemm(c.as_mut(), T::ZERO, a.as_ref(), bm.as_ref(), T::ONE); // warm-up
        let secs = median(
            (0..repeats.max(1))
                .map(|_| {
                    let s = Instant::now();
                    b.gemm(c.as_mut(), T::ZERO, a.as_ref(), bm.as_ref(), T::ONE);
                    s.elapsed().as_secs_f64()
                })
                .collect(),
        );
        let gflops = 2.0 * (m as f64).powi(3) / secs / 1e9;
        if gflops > best.0 {
            best = (gflops, name);
        }
    }
    best
}

struct Row {
    backend: String,
    kernel: String,
    precond: String,
    path: String,
    iters_per_sec: f64,
    gbps: Option<f64>,
    gflops: f64,
    ms_per_iter: f64,
}

fn run_dtype<T: Float>(a: &BenchArgs, (n, d, k): (usize, usize, usize), backends: &[BackendChoice]) -> Result<Value> {
    let threads = dspgd::resolve_threads(a.threads);
    let (x, y) = synthetic::gaussian_problem::<T>(n, d, k, 1);
    let x_bytes = (n * d * std::mem::size_of::<T>()) as f64;
    let read = stream_seconds(x.as_ref(), threads, a.repeats);
    let (peak, peak_backend) = gemm_peak::<T>(threads, a.repeats);
    let mut rows = vec![];
    for spec in a.precond.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let precond: dspgd::Precond = spec.parse().with_context(|| format!("--precond {spec}"))?;
        let path = if spec == "gd" { PathChoice::Primal } else { PathChoice::Auto };
        for &backend in backends {
            let o = Options {
                precond: precond.clone(),
                loss: a.loss.parse().context("--loss")?,
                lr: LearningRate::Constant(1e-6),
                tol: Some(f64::MIN_POSITIVE),
                max_iters: a.iters.max(1),
                backend,
                path,
                threads,
                ..Options::default()
            };
            let _warm = solve(x.as_ref(), y.as_ref(), None, &Options { max_iters: 2, ..o.clone() });
            let mut secs = vec![];
            let mut last = None;
            for _ in 0..a.repeats.max(1) {
                let sol = solve(x.as_ref(), y.as_ref(), None, &o).with_context(|| format!("{backend} {spec}"))?;
                secs.push(sol.seconds / sol.iterations.max(1) as f64);
                last = Some(sol);
            }
            let sol = last.expect("at least one repeat");
            let per_iter = median(secs);
            let gram = sol.path == dspgd::Path::Gram;
            let flops = if gram { 2.0 * (n * n * k) as f64 } else { 4.0 * (n * d * k) as f64 };
            rows.push(Row {
                backend: sol.backend.to_string(),
                kernel: sol.kernel.clone(),
                precond: spec.to_string(),
                path: sol.path.to_string(),
                iters_per_sec: 1.0 / per_iter,
                gbps: (!gram).then(|| x_bytes / per_iter / 1e9),
                gflops: flops / per_iter / 1e9,
                ms_per_iter: per_iter * 1e3,
            });
        }
    }
    let limits = json!({
        "stream_read_seconds": read,
        "stream_gbps": x_bytes / read / 1e9,
        "gemm_peak_gflops": peak,
        "gemm_peak_backend": peak_backend,
    });
    let results: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "backend": r.backend, "kernel": r.kernel, "precond": r.precond, "path": r.path,
                "iters_per_sec": r.iters_per_sec, "ms_per_iter": r.ms_per_iter,
                "x_gbps": r.gbps, "gflops": r.gflops,
                "iter_over_read": r.gbps.map(|_| r.ms_per_iter / 1e3 / read),
                "fraction_of_gemm_peak": r.gflops / peak,
            })
        })
        .collect();
    if !a.json {
        println!(
            "{} n={n} d={d} k={k} threads={threads}: one streaming read of X = {:.3} ms ({:.1} GB/s); best gemm {:.1} GFLOP/s ({peak_backend})",
            T::NAME,
            read * 1e3,
            x_bytes / read / 1e9,
            peak
        );
        println!("  {:<14} {:<9} {:<16} {:<7} {:>11} {:>10} {:>8} {:>9} {:>9}", "K", "backend", "kernel", "path", "iters/s", "ms/iter", "GB/s", "GFLOP/s", "iter/read");
        for r in &rows {
            println!(
                "  {:<14} {:<9} {:<16} {:<7} {:>11.1} {:>10.3} {:>8} {:>9.1} {:>9}",
                r.precond,
                r.backend,
                r.kernel,
                r.path,
                r.iters_per_sec,
                r.ms_per_iter,
                r.gbps.map_or("-".into(), |g| format!("{g:.1}")),
                r.gflops,
                r.gbps.map_or("-".into(), |_| format!("{:.2}", r.ms_per_iter / 1e3 / read)),
            );
        }
    }
    Ok(json!({ "dtype": T::NAME, "n": n, "d": d, "k": k, "threads": threads, "iters": a.iters, "repeats": a.repeats, "limits": limits, "results": results }))
}

/// Runs `dspgd bench`.
///
/// # Errors
/// Unknown shapes, dtypes, backends or spec strings (exit 2 through the caller).
pub fn run(a: &BenchArgs) -> Result<u8> {
    let (mut n, mut d, mut k) = match SHAPES.iter().find(|s| s.0.eq_ignore_ascii_case(a.shape.trim())) {
        Some(&(_, n, d, k)) => (n, d, k),
        None => bail!("--shape {}: unknown shape; expected one of S1, S2, S3, S4, S5", a.shape),
    };
    n = a.n.unwrap_or(n);
    d = a.d.unwrap_or(d);
    k = a.k.unwrap_or(k);
    if n == 0 || d == 0 || k == 0 {
        bail!("--n/--d/--k: every dimension must be at least 1 (got {n}x{d}, k={k})");
    }
    let backends: Vec<BackendChoice> = if a.backends.trim() == "all" {
        compiled_backends().into_iter().filter(|b| *b != "reference").map(|b| b.parse().expect("compiled backend")).collect()
    } else {
        a.backends.split(',').map(|s| s.trim().parse::<BackendChoice>().with_context(|| format!("--backends {s}"))).collect::<Result<_>>()?
    };
    uptime_note(a.json);
    let mut out = vec![];
    for dt in a.dtype.split(',').map(str::trim) {
        out.push(match dt {
            "f64" => run_dtype::<f64>(a, (n, d, k), &backends)?,
            "f32" => run_dtype::<f32>(a, (n, d, k), &backends)?,
            other => bail!("--dtype {other}: expected f32 or f64"),
        });
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "load_average": load_average(), "runs": out }))?);
    }
    Ok(EXIT_OK)
}

fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn uptime_note(json: bool) {
    if !json {
        if let Some(l) = load_average() {
            println!("load average before the run: {l} (figures are medians; a loaded machine reads slower)");
        }
    }
}
