//! `dspgd demo` (and `dspgd` without arguments): one Gaussian problem solved
//! with several preconditioners, and a table of where each one lands.
//!
//! The point of the table is SPEC §4: isotropic and right-invariant K
//! converge to W_GD, the interpolator nearest W₀ (distance ≈ 0, ρ = 1);
//! separable K converge to another interpolator, farther from W₀ (ρ > 1).
//! With `--out-dir`, the run is also written as `demo.json` and as an SVG
//! plot of the residual against the iteration (`demo.svg`).

use super::args::DemoArgs;
use super::{atomic, Fail, EXIT_OK};
use anyhow::Result;
use dspgd::synthetic::gaussian_problem;
use dspgd::{solve, LearningRate, Options, Precond, Solution, BUILD_INFO};
use serde_json::json;
use std::fmt::Write as _;
use std::time::Instant;

/// One preconditioner of the demo and its step rule.
struct Case {
    spec: &'static str,
    lr: LearningRate,
}

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
    class: &'static str,
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
    let mut rows = vec![];
    for case in cases() {
        let precond: Precond = case.spec.parse().expect("the demo's specs parse");
        let class = precond.class().as_str();
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
    }
    print!("{}", table(&rows));
    let all_converged = rows.iter().all(|r| r.sol.stop_reason.as_str() == "converged");
    println!();
    println!("‖W−W_GD‖ is relative to ‖W_GD−W0‖; ρ = ‖W−W0‖/‖W_GD−W0‖. Isotropic and spectral (right-invariant) K land on W_GD,");
    println!("the interpolator nearest W0 (distance ≈ 0, ρ = 1), whatever the step; separable K land on another interpolator (ρ > 1).");
    if !all_converged {
        println!("(* did not converge within --max-iters {}: its distance and ρ are those of the last iterate)", a.max_iters);
    }
    if let Some(dir) = &a.out_dir {
        let json = serde_json::to_string_pretty(&record(a, &rows))? + "\n";
        let files = vec![
            atomic::stage(&dir.join("demo.json"), json.as_bytes()).map_err(Fail::other)?,
            atomic::stage(&dir.join("demo.svg"), svg(&rows).as_bytes()).map_err(Fail::other)?,
        ];
        atomic::commit(files).map_err(Fail::other)?;
        println!("wrote {} and {}", dir.join("demo.json").display(), dir.join("demo.svg").display());
    }
    Ok(if all_converged { EXIT_OK } else { super::EXIT_NOT_CONVERGED })
}

fn table(rows: &[Row]) -> String {
    let head = ["K", "class", "step", "path", "iters", "rel.res", "‖W−W_GD‖", "ρ", "seconds", "iters/s"];
    let mut cells: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let an = r.sol.analysis;
        let star = if r.sol.stop_reason.as_str() == "converged" { "" } else { "*" };
        cells.push(vec![
            r.spec.to_string(),
            r.class.to_string(),
            match (r.sol.step.rule, r.sol.step.eta0) {
                ("line-search", _) => format!("line-search ({})", if r.sol.step.exact { "exact" } else { "armijo" }),
                (rule, Some(eta)) => format!("{rule} η={eta:.1e}"),
                (rule, None) => rule.to_string(),
            },
            r.sol.path.to_string(),
            format!("{}{star}", r.sol.iterations),
            format!("{:.1e}", r.sol.rel_residual),
            an.map_or("-".into(), |a| format!("{:.1e}", a.dist_to_wgd)),
            an.map_or("-".into(), |a| format!("{:.4}", a.rho)),
            format!("{:.3}", r.wall),
            format!("{:.0}", r.sol.iters_per_sec),
        ]);
    }
    let widths: Vec<usize> = (0..head.len()).map(|j| cells.iter().map(|row| row[j].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let pad = widths[j] - c.chars().count();
                // Text columns left-aligned, numbers right-aligned.
                if j < 4 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
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

fn record(a: &DemoArgs, rows: &[Row]) -> serde_json::Value {
    json!({
        "dspgd_version": BUILD_INFO.version,
        "problem": { "n": a.n, "d": a.d, "k": a.k, "seed": a.seed, "w0": "zeros", "dtype": "f64" },
        "runs": rows.iter().map(|r| json!({
            "precond": r.spec,
            "class": r.class,
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
            "wall_seconds": r.wall,
            "iters_per_sec": r.sol.iters_per_sec,
            "history": {
                "iteration": r.sol.history.iter().map(|h| h.iteration).collect::<Vec<_>>(),
                "rel_residual": r.sol.history.iter().map(|h| h.rel_residual).collect::<Vec<_>>(),
            },
        })).collect::<Vec<_>>(),
    })
}

/// Residual against iteration for each K, log–log, as a standalone SVG.
fn svg(rows: &[Row]) -> String {
    const COLORS: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
    let (w, h) = (760.0, 440.0);
    let (left, right, top, bottom) = (70.0, 170.0, 40.0, 50.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max_it = rows.iter().map(|r| r.sol.iterations).max().unwrap_or(1).max(10) as f64;
    let xmax = max_it.log10().ceil().max(1.0);
    let ymin = rows
        .iter()
        .flat_map(|r| r.sol.history.iter().map(|e| e.rel_residual))
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold(1e-12f64, f64::min)
        .log10()
        .floor();
    let ymax = 1.0f64;
    let px = |it: f64| left + pw * ((it + 1.0).log10() / xmax).min(1.0);
    let py = |r: f64| top + ph * (ymax - r.max(1e-300).log10().clamp(ymin, ymax)) / (ymax - ymin);
    let mut s = String::new();
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{}" y="22" text-anchor="middle" font-size="14">DSPGD: relative residual ‖XW−Y‖/‖Y‖ against iteration</text>"#, left + pw / 2.0);
    for e in (ymin as i32)..=(ymax as i32) {
        let y = py(10f64.powi(e));
        let _ = writeln!(s, r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/>"##, left + pw);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">1e{e}</text>"#, left - 6.0, y + 4.0);
    }
    for e in 0..=(xmax as i32) {
        let x = left + pw * f64::from(e) / xmax;
        let _ = writeln!(s, r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#e5e5e5"/>"##, top + ph);
        let _ = writeln!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">1e{e}</text>"#, top + ph + 16.0);
    }
    let _ = writeln!(s, r#"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#);
    let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">iteration + 1</text>"#, left + pw / 2.0, h - 12.0);
    let _ = writeln!(s, r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">relative residual</text>"#, top + ph / 2.0, top + ph / 2.0);
    for (i, r) in rows.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let hist = &r.sol.history;
        let step = (hist.len() / 600).max(1);
        let pts: Vec<String> = hist
            .iter()
            .enumerate()
            .filter(|(j, _)| j % step == 0 || *j + 1 == hist.len())
            .map(|(_, e)| format!("{:.1},{:.1}", px(e.iteration as f64), py(e.rel_residual)))
            .collect();
        if !pts.is_empty() {
            let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{}"/>"#, pts.join(" "));
        }
        let ly = top + 14.0 + 18.0 * i as f64;
        let lx = left + pw + 12.0;
        let _ = writeln!(s, r#"<line x1="{lx}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2.5"/>"#, ly - 4.0, lx + 22.0, ly - 4.0);
        let rho = r.sol.analysis.map_or(String::new(), |a| format!(" ρ={:.3}", a.rho));
        let _ = writeln!(s, r#"<text x="{:.1}" y="{ly:.1}">{}{rho}</text>"#, lx + 28.0, r.spec);
    }
    s.push_str("</svg>\n");
    s
}
