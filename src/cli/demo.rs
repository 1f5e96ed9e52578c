//! `dspgd demo` (and `dspgd` without arguments): one Gaussian problem solved
//! with several preconditioners, and a table of where each one lands.
//!
//! The point of the table is SPEC §4: isotropic and right-invariant K
//! converge to W_GD, the interpolator nearest W₀ (distance ≈ 0, ρ = 1);
//! separable K converge to another interpolator, farther from W₀ (ρ > 1).
//! With `--out-dir`, the run is also written as `demo.json` and as an SVG
//! plot of the relative residual against the iteration for every K
//! (`demo.svg`), from the history the library records
//! ([`Options::history_every`]).

use super::args::DemoArgs;
use super::plot::{self, Panel, Series};
use plotters::chart::SeriesLabelPosition;
use super::{atomic, progress, Fail, EXIT_OK};
use anyhow::Result;
use dspgd::synthetic::gaussian_problem;
use dspgd::{solve, HistoryEntry, LearningRate, Options, Precond, PrecondClass, Solution, StopReason, BUILD_INFO};
use serde_json::json;
use std::fmt::Write as _;
use std::time::Instant;

/// One preconditioner of the demo and its step rule.
struct Case {
    spec: &'static str,
    lr: LearningRate,
}

/// The representative set: isotropic (gd, clip, ngd:ε), right-invariant
/// (spectral:ε), separable (sign with the line search, adam:ε, eclip:τ).
fn cases() -> Vec<Case> {
    vec![
        Case { spec: "gd", lr: LearningRate::Default },
        Case { spec: "clip:1", lr: LearningRate::Default },
        Case { spec: "ngd:1e-2", lr: LearningRate::Default },
        Case { spec: "spectral:1e-2", lr: LearningRate::Default },
        Case { spec: "sign", lr: LearningRate::LineSearch },
        Case { spec: "adam:1e-2", lr: LearningRate::Default },
        Case { spec: "eclip:0.05", lr: LearningRate::Default },
    ]
}

/// A finished row of the table.
struct Row {
    spec: &'static str,
    class: PrecondClass,
    sol: Solution<f64>,
    wall: f64,
}

/// Runs the demo; returns the exit code (0 when every K converged, 3 otherwise).
///
/// # Errors
/// Bad sizes (exit 2) or an unwritable `--out-dir` (exit 2).
pub fn run(a: &DemoArgs) -> Result<u8> {
    if a.n == 0 || a.d == 0 || a.k == 0 {
        return Err(Fail::usage(format!("--n, --d, --k must be at least 1, got n={}, d={}, k={}", a.n, a.d, a.k)).into());
    }
    if a.n > a.d {
        return Err(Fail::usage(format!("the demo needs an overparameterized problem (n ≤ d), got n={} > d={}", a.n, a.d)).into());
    }
    if a.max_iters == 0 {
        return Err(Fail::usage("--max-iters must be at least 1").into());
    }
    if let Some(dir) = &a.out_dir {
        for f in ["demo.json", "demo.svg"] {
            atomic::check_writable(&dir.join(f)).map_err(|m| Fail::usage(format!("--out-dir: {m}")))?;
        }
    }
    let (x, y) = gaussian_problem::<f64>(a.n, a.d, a.k, a.seed);
    println!(
        "dspgd {} demo: X {}×{} (Gaussian, seed {}), Y {}×{}, W0 = 0, tol 1e-10, f64, {} thread(s)\n",
        BUILD_INFO.version, a.n, a.d, a.seed, a.n, a.k, a.threads
    );
    let cases = cases();
    let bar = progress::cases(progress::wanted(false), cases.len(), "demo");
    let mut rows = vec![];
    for case in cases {
        bar.set_message(case.spec);
        let precond: Precond = case.spec.parse().expect("the demo's specs parse");
        let class = precond.class();
        let opts = Options {
            precond,
            lr: case.lr,
            max_iters: a.max_iters,
            threads: a.threads,
            analyze: true,
            history_every: if a.out_dir.is_some() { 1 } else { 0 },
            ..Options::default()
        };
        let t = Instant::now();
        let sol = solve(x.as_ref(), y.as_ref(), None, &opts).map_err(|e| Fail::other(format!("demo, K = {}: {e}", case.spec)))?;
        rows.push(Row { spec: case.spec, class, sol, wall: t.elapsed().as_secs_f64() });
        bar.inc(1);
    }
    bar.finish_and_clear();
    print!("{}", table(&rows));
    let all_converged = rows.iter().all(|r| r.sol.stop_reason == StopReason::Converged);
    println!();
    println!("‖W−W_GD‖ is relative to ‖W_GD−W0‖; ρ = ‖W−W0‖/‖W_GD−W0‖ (1 for W_GD, the interpolator nearest W0; > 1 farther).");
    println!("{}", summary(&rows));
    if !all_converged {
        println!("(* did not converge within --max-iters {}: its distance and ρ are those of the last iterate)", a.max_iters);
    }
    if let Some(dir) = &a.out_dir {
        let json = serde_json::to_string_pretty(&record(a, &rows))? + "\n";
        let svg = plot::render(&[panel(a, &rows)], (900, 540)).map_err(Fail::other)?;
        let files = vec![
            atomic::stage(&dir.join("demo.json"), json.as_bytes()).map_err(Fail::other)?,
            atomic::stage(&dir.join("demo.svg"), svg.as_bytes()).map_err(Fail::other)?,
        ];
        atomic::commit(files).map_err(Fail::other)?;
        println!("wrote {} and {}", dir.join("demo.json").display(), dir.join("demo.svg").display());
    }
    Ok(if all_converged { EXIT_OK } else { super::EXIT_NOT_CONVERGED })
}

/// What the table shows, in one line, from the numbers it shows.
fn summary(rows: &[Row]) -> String {
    let (inv, sep): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.class.is_right_invariant());
    let names = |v: &[&Row]| v.iter().map(|r| r.spec).collect::<Vec<_>>().join(", ");
    let dists = |v: &[&Row]| v.iter().filter_map(|r| r.sol.analysis.map(|a| a.dist_to_wgd)).fold(0.0f64, f64::max);
    let rhos: Vec<f64> = sep.iter().filter_map(|r| r.sol.analysis.map(|a| a.rho)).collect();
    let (lo, hi) = rhos.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let mut s = String::new();
    if !inv.is_empty() {
        let _ = write!(s, "Isotropic and right-invariant K ({}) land on W_GD (‖W−W_GD‖ ≤ {:.1e}, ρ = 1)", names(&inv), dists(&inv));
    }
    if !sep.is_empty() {
        let _ = write!(
            s,
            "{}separable K ({}) land on another interpolator (ρ = {lo:.3}–{hi:.3} > 1).",
            if s.is_empty() { "" } else { "; " },
            names(&sep)
        );
    }
    s
}

/// The step rule as the table shows it.
fn step_text(sol: &Solution<f64>) -> String {
    match (sol.step.rule, sol.step.eta0) {
        ("line-search", _) => format!("line-search ({})", if sol.step.exact { "exact" } else { "armijo" }),
        (rule, Some(eta)) => format!("{rule} η={eta:.1e}"),
        (rule, None) => rule.to_string(),
    }
}

fn table(rows: &[Row]) -> String {
    let head = ["K", "class", "step rule", "iters", "rel.res", "‖W−W_GD‖", "ρ", "seconds", "iters/s", "backend/path"];
    let cells = rows
        .iter()
        .map(|r| {
            let an = r.sol.analysis;
            let star = if r.sol.stop_reason == StopReason::Converged { "" } else { "*" };
            vec![
                r.spec.to_string(),
                r.class.as_str().to_string(),
                step_text(&r.sol),
                format!("{}{star}", r.sol.iterations),
                format!("{:.1e}", r.sol.rel_residual),
                an.map_or("-".into(), |a| format!("{:.1e}", a.dist_to_wgd)),
                an.map_or("-".into(), |a| format!("{:.4}", a.rho)),
                format!("{:.3}", r.wall),
                format!("{:.0}", r.sol.iters_per_sec),
                format!("{}/{}", r.sol.backend, r.sol.path),
            ]
        })
        .collect();
    format_table(&head, cells, &[0, 1, 2, 9])
}

/// A plain-text table: a header, a rule, the rows; the columns in `left`
/// left-aligned, the others (numbers) right-aligned.
pub(crate) fn format_table(head: &[&str], rows: Vec<Vec<String>>, left: &[usize]) -> String {
    let mut cells: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    cells.extend(rows);
    let widths: Vec<usize> = (0..head.len()).map(|j| cells.iter().map(|row| row[j].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let pad = " ".repeat(widths[j] - c.chars().count());
                if left.contains(&j) {
                    format!("{c}{pad}")
                } else {
                    format!("{pad}{c}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "─".repeat(total));
        }
    }
    out
}

/// The history thinned for plotting and the record: every entry up to
/// iteration 100, then about 100 per decade (log-spaced), and the last one.
fn thinned(h: &[HistoryEntry]) -> Vec<HistoryEntry> {
    let mut out: Vec<HistoryEntry> = vec![];
    let mut last_bin = i64::MIN;
    for (i, e) in h.iter().enumerate() {
        let bin = if e.iteration <= 100 { e.iteration as i64 } else { 1000 + ((e.iteration as f64).log10() * 100.0).floor() as i64 };
        if bin != last_bin || i + 1 == h.len() {
            out.push(*e);
            last_bin = bin;
        }
    }
    out
}

fn record(a: &DemoArgs, rows: &[Row]) -> serde_json::Value {
    json!({
        "dspgd_version": BUILD_INFO.version,
        "problem": { "n": a.n, "d": a.d, "k": a.k, "seed": a.seed, "w0": "zeros", "dtype": "f64", "tol": 1e-10 },
        "columns": {
            "dist_to_wgd": "‖W − W_GD‖ / ‖W_GD − W0‖",
            "rho": "‖W − W0‖ / ‖W_GD − W0‖",
            "history": "relative residual ‖XW_t − Y‖/‖Y‖ recorded every iteration, thinned to every iteration up to 100 and ~100 per decade after (the last iteration always kept)",
        },
        "runs": rows.iter().map(|r| {
            let h = thinned(&r.sol.history);
            json!({
                "precond": r.spec,
                "class": r.class.as_str(),
                "lr_rule": r.sol.step.rule,
                "eta0": r.sol.step.eta0,
                "path": r.sol.path.as_str(),
                "backend": r.sol.backend,
                "kernel": r.sol.kernel,
                "iterations": r.sol.iterations,
                "stop_reason": r.sol.stop_reason.as_str(),
                "rel_residual": r.sol.rel_residual,
                "dist_to_wgd": r.sol.analysis.map(|x| x.dist_to_wgd),
                "rho": r.sol.analysis.map(|x| x.rho),
                "row_space_residual": r.sol.analysis.map(|x| x.row_space_residual),
                "seconds": r.sol.seconds,
                "setup_seconds": r.sol.setup_seconds,
                "wall_seconds": r.wall,
                "iters_per_sec": r.sol.iters_per_sec,
                "history": {
                    "iteration": h.iter().map(|e| e.iteration).collect::<Vec<_>>(),
                    "rel_residual": h.iter().map(|e| e.rel_residual).collect::<Vec<_>>(),
                },
            })
        }).collect::<Vec<_>>(),
    })
}

/// Relative residual against iteration, log–log, one series per K; the
/// legend names K and its ρ.
fn panel(a: &DemoArgs, rows: &[Row]) -> Panel {
    Panel {
        title: format!("DSPGD on a Gaussian problem, n={}, d={}, k={}", a.n, a.d, a.k),
        x_desc: "iteration".into(),
        y_desc: "relative residual ‖XW−Y‖/‖Y‖".into(),
        x_log: true,
        y_log: true,
        markers: false,
        // Residual curves fall to the right: the lower left stays empty.
        legend: SeriesLabelPosition::LowerLeft,
        series: rows
            .iter()
            .map(|r| Series {
                label: match r.sol.analysis {
                    Some(an) => format!("{} ({}, ρ={:.3})", r.spec, r.class.as_str(), an.rho),
                    None => r.spec.to_string(),
                },
                // Iteration 0 has no place on a log axis; the residual there is 1 (W0 = 0).
                points: thinned(&r.sol.history).iter().filter(|e| e.iteration > 0).map(|e| (e.iteration as f64, e.rel_residual)).collect(),
            })
            .collect(),
    }
}
