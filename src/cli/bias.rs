//! `dspgd bias`: the implicit-bias experiment of the paper (SPEC §4.2–4.4)
//! as a command.
//!
//! One Gaussian problem, W₀ = 0. For the K under study (default
//! `adam:0.1`, separable) and for a control K (default `gd`, isotropic),
//! and for every step size η of a grid, DSPGD runs with the constant step η
//! to the tolerance, and its limit W∞(η) is compared with W_GD, the
//! interpolator nearest W₀:
//!
//! - ρ(η) = ‖W∞(η) − W₀‖/‖W_GD − W₀‖ (1 exactly when W∞ = W_GD),
//! - ‖W∞(η) − W_GD‖/‖W_GD − W₀‖,
//! - ‖W∞(η) − W∞(η_min)‖/‖W_GD − W₀‖, η_min the smallest step of the grid.
//!
//! The theory says: for the isotropic control ρ = 1 and both distances are 0
//! at every η; for a separable K, ρ > 1 and the limit moves with η. The
//! default grid is 0.05, 0.1, 0.2, 0.4, 0.8 times each K's stability bound
//! 1/(L_K·β·‖X‖₂²), which the library computes for the `auto` step rule
//! (`Solution::step.eta0`). Written: `bias.csv`, `bias.json`, `bias.svg`.

use super::args::BiasArgs;
use super::demo::format_table;
use super::plot::{self, Panel, Series};
use plotters::chart::SeriesLabelPosition;
use super::{atomic, progress, Fail, EXIT_NOT_CONVERGED, EXIT_OK};
use anyhow::Result;
use dspgd::synthetic::gaussian_problem;
use dspgd::{
    min_distance_interpolator, norm_fro_diff, solve, Error, LearningRate, MatRef, Options, PathChoice, Precond, PrecondClass,
    Solution, StopReason, BUILD_INFO,
};
use serde_json::json;
use std::fmt::Write as _;
use std::time::Instant;

/// The two roles of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Studied,
    Control,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Studied => "studied",
            Role::Control => "control",
        }
    }
}

/// One K of the experiment.
struct Subject {
    spec: String,
    precond: Precond,
    role: Role,
    /// 1/(L_K·β·‖X‖₂²), from the library's `auto` rule.
    bound: f64,
}

impl Subject {
    /// The name in the legend and the table.
    fn label(&self) -> String {
        match self.role {
            Role::Studied => self.spec.clone(),
            Role::Control => format!("{} (control)", self.spec),
        }
    }
}

/// One solve of the grid.
struct Row {
    subject: usize,
    eta: f64,
    outcome: Result<Solution<f64>, String>,
    wall: f64,
    dist_to_eta_min: Option<f64>,
}

impl Row {
    fn sol(&self) -> Option<&Solution<f64>> {
        self.outcome.as_ref().ok()
    }
    fn stop(&self) -> &'static str {
        self.sol().map_or("diverged", |s| s.stop_reason.as_str())
    }
    fn rho(&self) -> Option<f64> {
        self.sol().and_then(|s| s.analysis).map(|a| a.rho)
    }
    fn dist_to_wgd(&self) -> Option<f64> {
        self.sol().and_then(|s| s.analysis).map(|a| a.dist_to_wgd)
    }
}

/// A comma-separated list of positive numbers, sorted, without duplicates.
fn parse_list(flag: &str, s: &str) -> Result<Vec<f64>, Fail> {
    let mut v = vec![];
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => v.push(x),
            _ => return Err(Fail::usage(format!("{flag}: '{part}' is not a positive number (expected a comma-separated list such as 0.05,0.1,0.2)"))),
        }
    }
    if v.is_empty() {
        return Err(Fail::usage(format!("{flag}: the list is empty")));
    }
    v.sort_by(f64::total_cmp);
    v.dedup();
    Ok(v)
}

fn parse_precond(flag: &str, s: &str) -> Result<Precond, Fail> {
    let p: Precond = s.parse().map_err(|e| Fail::usage(format!("{flag}: {e}")))?;
    if !p.is_smooth() {
        return Err(Fail::usage(format!(
            "{flag}: '{s}' is not smooth (L_K = ∞): with a constant step its step length never shrinks, so it does not converge and has no stability bound; \
             use a smooth K such as adam:ε, eclip:τ, ngd:ε, spectral:ε, clip:τ or gd"
        )));
    }
    Ok(p)
}

/// The stability bound 1/(L_K·β·‖X‖₂²) of `precond` on X, as the library's
/// `auto` rule computes it (power iteration on XᵀX; one iteration is run).
fn stability_bound(x: MatRef<'_, f64>, y: MatRef<'_, f64>, precond: &Precond, threads: usize) -> Result<f64, Fail> {
    let opts = Options { precond: precond.clone(), lr: LearningRate::Auto, max_iters: 1, path: PathChoice::Primal, threads, ..Options::default() };
    let sol = solve(x, y, None, &opts).map_err(|e| Fail::other(format!("stability bound of '{precond}': {e}")))?;
    sol.step.eta0.ok_or_else(|| Fail::other(format!("the library gave no step size for '{precond}' with lr auto")))
}

/// Runs the experiment; returns the exit code (0 when every solve converged, 3 otherwise).
///
/// # Errors
/// Bad sizes, specs or lists, a non-smooth K, or an unwritable `--out-dir`
/// (exit 2); a failing solve other than divergence (exit 1).
pub fn run(a: &BiasArgs) -> Result<u8> {
    if a.n == 0 || a.d == 0 || a.k == 0 {
        return Err(Fail::usage(format!("--n, --d, --k must be at least 1, got n={}, d={}, k={}", a.n, a.d, a.k)).into());
    }
    if a.n > a.d {
        return Err(Fail::usage(format!("the experiment needs an overparameterized problem (n ≤ d), got n={} > d={}", a.n, a.d)).into());
    }
    if a.max_iters == 0 {
        return Err(Fail::usage("--max-iters must be at least 1").into());
    }
    if !(a.tol.is_finite() && a.tol > 0.0) {
        return Err(Fail::usage(format!("--tol must be > 0 and finite, got {}", a.tol)).into());
    }
    let studied = parse_precond("--precond", &a.precond)?;
    let control = parse_precond("--control", &a.control)?;
    let (grid, absolute) = match &a.lrs {
        Some(l) => (parse_list("--lrs", l)?, true),
        None => (parse_list("--fracs", &a.fracs)?, false),
    };
    if let Some(dir) = &a.out_dir {
        for f in ["bias.csv", "bias.json", "bias.svg"] {
            atomic::check_writable(&dir.join(f)).map_err(|m| Fail::usage(format!("--out-dir: {m}")))?;
        }
    }

    let (x, y) = gaussian_problem::<f64>(a.n, a.d, a.k, a.seed);
    let w_gd = min_distance_interpolator(x.as_ref(), y.as_ref(), None).map_err(|e| Fail::other(format!("W_GD: {e}")))?;
    let wgd_norm = w_gd.norm_fro(); // = ‖W_GD − W0‖, W0 = 0
    let mut subjects = vec![];
    for (spec, precond, role) in [(&a.precond, studied, Role::Studied), (&a.control, control, Role::Control)] {
        let bound = stability_bound(x.as_ref(), y.as_ref(), &precond, a.threads)?;
        subjects.push(Subject { spec: spec.trim().to_string(), precond, role, bound });
    }
    println!(
        "dspgd {} bias: X {}×{} (Gaussian, seed {}), Y {}×{}, W0 = 0, constant steps, tol {:.0e}, f64",
        BUILD_INFO.version, a.n, a.d, a.seed, a.n, a.k, a.tol
    );
    for s in &subjects {
        println!("  {:<22} {:<15} stability bound 1/(L_K·β·‖X‖₂²) = {:.4e}", s.label(), s.precond.class().as_str(), s.bound);
    }
    println!();

    let bar = progress::cases(progress::wanted(a.quiet), subjects.len() * grid.len(), "bias");
    let mut rows = vec![];
    for (si, s) in subjects.iter().enumerate() {
        for &g in &grid {
            let eta = if absolute { g } else { g * s.bound };
            bar.set_message(format!("{} η={eta:.3e}", s.spec));
            let opts = Options {
                precond: s.precond.clone(),
                lr: LearningRate::Constant(eta),
                tol: Some(a.tol),
                max_iters: a.max_iters,
                threads: a.threads,
                analyze: true,
                ..Options::default()
            };
            let t = Instant::now();
            let outcome = match solve(x.as_ref(), y.as_ref(), None, &opts) {
                Ok(sol) => Ok(sol),
                Err(Error::Diverged(d)) => Err(format!("diverged at iteration {}", d.iteration)),
                Err(e) => return Err(Fail::other(format!("bias, K = {}, η = {eta:e}: {e}", s.spec)).into()),
            };
            rows.push(Row { subject: si, eta, outcome, wall: t.elapsed().as_secs_f64(), dist_to_eta_min: None });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    // ‖W∞(η) − W∞(η_min)‖ within each K.
    for si in 0..subjects.len() {
        let idx: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].subject == si).collect();
        let Some(&first) = idx.iter().min_by(|&&i, &&j| rows[i].eta.total_cmp(&rows[j].eta)) else { continue };
        let Some(w_min) = rows[first].sol().map(|s| s.w.clone()) else { continue };
        for &i in &idx {
            let d = rows[i].sol().map(|s| norm_fro_diff(s.w.as_ref(), w_min.as_ref()) / wgd_norm.max(f64::MIN_POSITIVE));
            rows[i].dist_to_eta_min = d;
        }
    }

    print!("{}", table(&subjects, &rows));
    println!();
    println!("ρ = ‖W∞−W0‖/‖W_GD−W0‖; distances are relative to ‖W_GD−W0‖; η_min is the smallest step of the grid.");
    for (si, s) in subjects.iter().enumerate() {
        println!("{}", summary(s, rows.iter().filter(|r| r.subject == si)));
    }
    let all_converged = rows.iter().all(|r| r.sol().is_some_and(|s| s.stop_reason == StopReason::Converged));
    if !all_converged {
        println!("(* did not converge within --max-iters {} (or diverged): its numbers are those of the last iterate)", a.max_iters);
    }

    if let Some(dir) = &a.out_dir {
        let csv = csv(&subjects, &rows);
        let json = serde_json::to_string_pretty(&record(a, &subjects, &rows, absolute, &grid, wgd_norm))? + "\n";
        let svg = plot::render(&panels(&subjects, &rows), (1100, 460)).map_err(Fail::other)?;
        let files = vec![
            atomic::stage(&dir.join("bias.csv"), csv.as_bytes()).map_err(Fail::other)?,
            atomic::stage(&dir.join("bias.json"), json.as_bytes()).map_err(Fail::other)?,
            atomic::stage(&dir.join("bias.svg"), svg.as_bytes()).map_err(Fail::other)?,
        ];
        atomic::commit(files).map_err(Fail::other)?;
        println!("wrote {}, {} and {}", dir.join("bias.csv").display(), dir.join("bias.json").display(), dir.join("bias.svg").display());
    }
    Ok(if all_converged { EXIT_OK } else { EXIT_NOT_CONVERGED })
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

fn table(subjects: &[Subject], rows: &[Row]) -> String {
    let head = ["K", "class", "η", "η/bound", "iters", "rel.res", "ρ", "‖W∞−W_GD‖", "‖W∞−W∞(η_min)‖", "seconds"];
    let cells = rows
        .iter()
        .map(|r| {
            let s = &subjects[r.subject];
            let star = if r.sol().is_some_and(|s| s.stop_reason == StopReason::Converged) { "" } else { "*" };
            vec![
                s.label(),
                s.precond.class().as_str().to_string(),
                format!("{:.3e}", r.eta),
                format!("{:.3}", r.eta / s.bound),
                match r.sol() {
                    Some(sol) => format!("{}{star}", sol.iterations),
                    None => "diverged*".into(),
                },
                opt(r.sol().map(|s| s.rel_residual), |v| format!("{v:.1e}")),
                opt(r.rho(), |v| format!("{v:.6}")),
                opt(r.dist_to_wgd(), |v| format!("{v:.2e}")),
                opt(r.dist_to_eta_min, |v| if v == 0.0 { "0".into() } else { format!("{v:.2e}") }),
                format!("{:.3}", r.wall),
            ]
        })
        .collect();
    format_table(&head, cells, &[0, 1])
}

/// One line per K: what the grid shows.
fn summary<'a>(s: &Subject, rows: impl Iterator<Item = &'a Row>) -> String {
    let rows: Vec<&Row> = rows.collect();
    let max = |f: &dyn Fn(&Row) -> Option<f64>| rows.iter().filter_map(|r| f(r)).fold(f64::NAN, f64::max);
    let rhos: Vec<f64> = rows.iter().filter_map(|r| r.rho()).collect();
    let (lo, hi) = rhos.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let dev = max(&|r| r.rho().map(|v| (v - 1.0).abs()));
    let dwgd = max(&|r| r.dist_to_wgd());
    let dmin = max(&|r| r.dist_to_eta_min);
    let role = if s.role == Role::Control { "control " } else { "" };
    let mut out = format!("{role}{} ({}): ", s.spec, s.precond.class().as_str());
    if rhos.is_empty() {
        out.push_str("no solve reached a limit.");
        return out;
    }
    if s.precond.class().is_right_invariant() {
        let _ = write!(out, "|ρ−1| ≤ {dev:.1e} and ‖W∞−W_GD‖ ≤ {dwgd:.1e} at every η: the limit is W_GD whatever the step (SPEC §4.2–4.3).");
    } else if s.precond.class() == PrecondClass::Separable {
        let _ = write!(
            out,
            "ρ(η) from {lo:.4} to {hi:.4} and ‖W∞(η)−W∞(η_min)‖ up to {dmin:.1e}: the limit is not W_GD and it moves with the step (SPEC §4.4)."
        );
    } else {
        let _ = write!(out, "ρ(η) from {lo:.4} to {hi:.4}; ‖W∞−W_GD‖ up to {dwgd:.1e}; ‖W∞(η)−W∞(η_min)‖ up to {dmin:.1e}.");
    }
    out
}

/// A number for the CSV: the shortest representation that reads back exactly; empty when missing.
fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x:e}"))
}

fn csv(subjects: &[Subject], rows: &[Row]) -> String {
    let mut out = String::from(
        "precond,class,role,eta,eta_fraction,eta_bound,iterations,stop_reason,rel_residual,rho,dist_to_wgd,dist_to_eta_min,row_space_residual,seconds\n",
    );
    for r in rows {
        let s = &subjects[r.subject];
        let sol = r.sol();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            s.spec,
            s.precond.class().as_str(),
            s.role.as_str(),
            num(Some(r.eta)),
            num(Some(r.eta / s.bound)),
            num(Some(s.bound)),
            sol.map_or(String::new(), |s| s.iterations.to_string()),
            r.stop(),
            num(sol.map(|s| s.rel_residual)),
            num(r.rho()),
            num(r.dist_to_wgd()),
            num(r.dist_to_eta_min),
            num(sol.and_then(|s| s.analysis).map(|a| a.row_space_residual)),
            num(Some(r.wall)),
        );
    }
    out
}

fn record(a: &BiasArgs, subjects: &[Subject], rows: &[Row], absolute: bool, grid: &[f64], wgd_norm: f64) -> serde_json::Value {
    json!({
        "dspgd_version": BUILD_INFO.version,
        "problem": { "n": a.n, "d": a.d, "k": a.k, "seed": a.seed, "w0": "zeros", "dtype": "f64", "loss": "squared" },
        "tol": a.tol,
        "max_iters": a.max_iters,
        "grid": { "kind": if absolute { "absolute" } else { "fraction_of_bound" }, "values": grid },
        "wgd_norm": wgd_norm,
        "columns": {
            "eta_bound": "1/(L_K·β·‖X‖₂²), the library's auto step",
            "rho": "‖W∞ − W0‖ / ‖W_GD − W0‖",
            "dist_to_wgd": "‖W∞(η) − W_GD‖ / ‖W_GD − W0‖",
            "dist_to_eta_min": "‖W∞(η) − W∞(η_min)‖ / ‖W_GD − W0‖, η_min the smallest η of this K",
            "row_space_residual": "‖X⁺X(W∞ − W0) − (W_GD − W0)‖ / ‖W_GD − W0‖",
        },
        "preconds": subjects.iter().map(|s| json!({
            "precond": s.spec,
            "class": s.precond.class().as_str(),
            "role": s.role.as_str(),
            "lipschitz": s.precond.lipschitz(),
            "eta_bound": s.bound,
        })).collect::<Vec<_>>(),
        "runs": rows.iter().map(|r| {
            let s = &subjects[r.subject];
            let sol = r.sol();
            json!({
                "precond": s.spec,
                "role": s.role.as_str(),
                "eta": r.eta,
                "eta_fraction": r.eta / s.bound,
                "iterations": sol.map(|s| s.iterations),
                "stop_reason": r.stop(),
                "error": r.outcome.as_ref().err(),
                "rel_residual": sol.map(|s| s.rel_residual),
                "rho": r.rho(),
                "dist_to_wgd": r.dist_to_wgd(),
                "dist_to_eta_min": r.dist_to_eta_min,
                "row_space_residual": sol.and_then(|s| s.analysis).map(|a| a.row_space_residual),
                "path": sol.map(|s| s.path.as_str()),
                "backend": sol.map(|s| s.backend),
                "seconds": sol.map(|s| s.seconds),
                "wall_seconds": r.wall,
                "iters_per_sec": sol.map(|s| s.iters_per_sec),
            })
        }).collect::<Vec<_>>(),
    })
}

/// ρ against η, and ‖W∞ − W_GD‖ against η, both K as series, log x.
fn panels(subjects: &[Subject], rows: &[Row]) -> Vec<Panel> {
    let series = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<Series> {
        subjects
            .iter()
            .enumerate()
            .map(|(si, s)| Series {
                label: s.label(),
                points: rows.iter().filter(|r| r.subject == si).filter_map(|r| f(r).map(|v| (r.eta, v))).collect(),
            })
            .collect()
    };
    vec![
        Panel {
            title: "ρ = ‖W∞−W0‖ / ‖W_GD−W0‖ against η".into(),
            x_desc: "step size η".into(),
            y_desc: "ρ".into(),
            x_log: true,
            y_log: false,
            markers: true,
            // The studied K lies above, the control at ρ = 1.
            legend: SeriesLabelPosition::MiddleRight,
            series: series(&|r| r.rho()),
        },
        Panel {
            title: "‖W∞−W_GD‖ / ‖W_GD−W0‖ against η".into(),
            x_desc: "step size η".into(),
            y_desc: "distance to W_GD".into(),
            x_log: true,
            y_log: true,
            markers: true,
            legend: SeriesLabelPosition::MiddleRight,
            // Exactly 0 has no place on a log axis: show it at the f64 floor.
            series: series(&|r| r.dist_to_wgd().map(|v| v.max(1e-17))),
        },
    ]
}
