//! The guarantees of SPEC §4 on Gaussian problems (n = 40, d = 160, k = 3),
//! f64 unless said. Tolerances: the solver stops at ‖R‖ ≤ 1e-10‖Y‖; with
//! X well conditioned (Gaussian, d = 4n: σ_min/σ_max ≈ 1/3) the distance to
//! the limit is at most ‖R‖/σ_min ≈ a few 1e-10 relative, so 1e-8 leaves a
//! factor > 10 of room while any wrong limit (ρ > 1 by 1e-2 or more) fails.

mod common;

use common::{opts, out_of_row_space, problem, random_w0, rel};
use dspgd::{min_distance_interpolator, solve, Mat, Options, PathChoice, Schedule, StopReason};

const SMOOTH_K: &[&str] = &["gd", "clip:1", "ngd:1e-2", "power:2", "spectral:1e-2", "adam:1e-2", "eclip:0.05", "lp:2"];
const ALL_K: &[&str] = &[
    "gd", "clip:1", "ngd", "ngd:1e-2", "power:1.5", "power:2", "power:3", "spectral", "spectral:1e-2", "sign", "adam:1e-2",
    "eclip:0.05", "lp:1.5", "lp:3",
];
const LOSSES: &[&str] = &["squared", "huber:0.5", "logcosh", "lp:3"];

fn assert_converged(what: &str, sol: &dspgd::Solution<f64>) {
    assert_eq!(sol.stop_reason, StopReason::Converged, "{what}: stopped by {} after {} iterations at {:.3e}", sol.stop_reason, sol.iterations, sol.rel_residual);
    assert!(sol.rel_residual <= 1e-10, "{what}: relative residual {:.3e}", sol.rel_residual);
}

/// SPEC §4.1: every smooth K with `auto`, every K with `line-search`.
#[test]
fn every_smooth_k_converges_with_auto() {
    let (x, y) = problem();
    for k in SMOOTH_K {
        let sol = solve(x.as_ref(), y.as_ref(), None, &opts(k, "squared", "auto")).unwrap();
        assert_eq!(sol.step.rule, "auto");
        assert_converged(&format!("{k} auto"), &sol);
    }
}

#[test]
fn every_k_converges_with_line_search() {
    let (x, y) = problem();
    for k in ALL_K {
        for loss in LOSSES {
            let sol = solve(x.as_ref(), y.as_ref(), None, &opts(k, loss, "line-search")).unwrap();
            assert_converged(&format!("{k} {loss} line-search"), &sol);
        }
    }
}

/// The rules that converge for K (SPEC §4.5): auto and constant need a
/// smooth K and loss; non-smooth isotropic/spectral K get a geometric schedule.
fn converging_rules(k: &str, loss: &str) -> Vec<(String, Schedule)> {
    let o = opts(k, loss, "line-search");
    let mut rules = vec![("line-search".to_string(), Schedule::Constant)];
    if o.precond.is_smooth() && o.loss.beta().is_some() {
        rules.push(("auto".into(), Schedule::Constant));
        // A constant step at 1.5× the auto step: still below the stability bound 2/(L_K β ‖X‖²).
        let lk = o.precond.lipschitz().unwrap();
        rules.push((format!("{}", 1.5 / (lk * 2.26)), Schedule::Constant));
    } else if matches!(k, "ngd" | "spectral" | "power:1.5") && o.loss.beta().is_some() {
        rules.push(("0.3".into(), Schedule::Geom(0.99)));
    }
    rules
}

/// SPEC §4.2–4.3: isotropic and right-invariant K land on W_GD, from W₀ = 0
/// and from a random W₀, for every loss and every converging rule.
#[test]
fn isotropic_and_spectral_k_converge_to_w_gd() {
    let (x, y) = problem();
    let w0r = random_w0(160, 3);
    let mut runs = 0;
    for w0 in [None, Some(&w0r)] {
        let w_gd = min_distance_interpolator(x.as_ref(), y.as_ref(), w0.map(|w| w.as_ref())).unwrap();
        for k in ["gd", "clip:1", "ngd", "ngd:1e-2", "power:3", "power:1.5", "spectral", "spectral:1e-2"] {
            for loss in LOSSES {
                for (lr, schedule) in converging_rules(k, loss) {
                    let o = Options { schedule, ..opts(k, loss, &lr) };
                    let what = format!("{k} {loss} lr={lr} {schedule} w0={}", w0.is_some());
                    let sol = solve(x.as_ref(), y.as_ref(), w0.map(|w| w.as_ref()), &o).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_converged(&what, &sol);
                    let e = rel(&sol.w, &w_gd);
                    assert!(e <= 1e-8, "{what}: ‖W − W_GD‖/‖W_GD‖ = {e:.3e}");
                    runs += 1;
                }
            }
        }
    }
    assert!(runs >= 100, "only {runs} runs");
}

/// SPEC §4.3: W_t − W₀ ∈ range(Xᵀ) at every step, for isotropic and right-invariant K.
#[test]
fn iterates_stay_in_the_row_space() {
    let (x, y) = problem();
    let w0 = random_w0(160, 3);
    for k in ["gd", "clip:1", "ngd", "power:3", "spectral", "spectral:1e-2"] {
        for t in 1..=12 {
            let o = Options { max_iters: t, ..opts(k, "huber:0.5", "line-search") };
            let sol = solve(x.as_ref(), y.as_ref(), Some(w0.as_ref()), &o).unwrap();
            let moved = Mat::from_fn(160, 3, |i, j| sol.w.at(i, j) - w0.at(i, j));
            let off = out_of_row_space(&x, &moved);
            assert!(off <= 1e-10, "{k} t={t}: W_t − W₀ leaves range(Xᵀ) by {off:.3e} relative");
        }
    }
}

/// SPEC §4.4: separable K interpolate with ρ ≥ 1 and the row-space part of
/// W − W₀ equal to W_GD − W₀; the limit depends on η, unlike isotropic K.
#[test]
fn separable_k_keep_the_row_space_part_and_have_rho_at_least_one() {
    let (x, y) = problem();
    let w0r = random_w0(160, 3);
    for w0 in [None, Some(&w0r)] {
        for k in ["sign", "adam:1e-2", "eclip:0.05", "lp:3"] {
            for loss in ["squared", "logcosh"] {
                let o = Options { analyze: true, ..opts(k, loss, "line-search") };
                let sol = solve(x.as_ref(), y.as_ref(), w0.map(|w| w.as_ref()), &o).unwrap();
                let what = format!("{k} {loss} w0={}", w0.is_some());
                assert_converged(&what, &sol);
                let a = sol.analysis.unwrap();
                assert!(a.rho >= 1.0 - 1e-9, "{what}: ρ = {}", a.rho);
                assert!(a.row_space_residual <= 1e-8, "{what}: row-space residual {:.3e}", a.row_space_residual);
                // Separable K genuinely leave the row space: the limit is not W_GD.
                assert!(a.rho > 1.0 + 1e-3, "{what}: ρ = {} (expected the null-space energy of a separable K)", a.rho);
            }
        }
    }
}

#[test]
fn separable_limits_depend_on_the_step_size_isotropic_do_not() {
    let (x, y) = problem();
    let limit = |k: &str, eta: f64| {
        let sol = solve(x.as_ref(), y.as_ref(), None, &opts(k, "squared", &eta.to_string())).unwrap();
        assert_converged(&format!("{k} η={eta}"), &sol);
        sol.w
    };
    for (k, e1, e2) in [("adam:1e-2", 2e-3, 4e-3), ("eclip:0.05", 0.2, 0.4)] {
        let d = rel(&limit(k, e1), &limit(k, e2));
        assert!(d > 1e-5, "{k}: limits for η = {e1} and {e2} differ by only {d:.3e}");
    }
    for (k, e1, e2) in [("gd", 0.2, 0.6), ("clip:1", 0.2, 0.6), ("ngd:1e-2", 2e-3, 6e-3), ("spectral:1e-2", 2e-3, 6e-3)] {
        let d = rel(&limit(k, e1), &limit(k, e2));
        assert!(d <= 1e-8, "{k}: limits for η = {e1} and {e2} differ by {d:.3e}");
    }
}

/// SPEC §7: the Gram path computes the primal iterates (up to rounding).
#[test]
fn gram_path_equals_primal_path_after_50_iterations() {
    let (x, y) = problem();
    let w0 = random_w0(160, 3);
    for (k, lr) in [
        ("gd", "auto"),
        ("clip:1", "0.5"),
        ("ngd:1e-2", "auto"),
        ("ngd", "line-search"),
        ("power:3", "line-search"),
        ("spectral", "line-search"),
        ("spectral:1e-2", "auto"),
        ("spectral:1e-2", "line-search"),
    ] {
        for loss in ["squared", "huber:0.5"] {
            let base = Options { max_iters: 50, tol: Some(1e-300), ..opts(k, loss, lr) };
            let p = solve(x.as_ref(), y.as_ref(), Some(w0.as_ref()), &Options { path: PathChoice::Primal, ..base.clone() }).unwrap();
            let g = solve(x.as_ref(), y.as_ref(), Some(w0.as_ref()), &Options { path: PathChoice::Gram, ..base.clone() }).unwrap();
            assert_eq!((p.path, g.path), (dspgd::Path::Primal, dspgd::Path::Gram));
            assert_eq!((p.iterations, g.iterations), (50, 50), "{k} {loss}");
            let d = rel(&g.w, &p.w);
            assert!(d <= 1e-10, "{k} {loss} {lr}: Gram and primal iterates differ by {d:.3e} after 50 iterations");
        }
    }
}

/// f32 runs reach the f32 default tolerance 1e-5.
#[test]
fn f32_runs_converge() {
    let (x, y) = dspgd::synthetic::gaussian_problem::<f32>(40, 160, 3, 1);
    for k in ["gd", "ngd:1e-2", "spectral:1e-2", "spectral", "adam:1e-2", "sign", "eclip:0.05"] {
        let o = Options { precond: k.parse().unwrap(), max_iters: 100_000, ..Options::default() };
        for path in [PathChoice::Primal, PathChoice::Auto] {
            let sol = solve(x.as_ref(), y.as_ref(), None, &Options { path, ..o.clone() }).unwrap();
            assert_eq!(sol.dtype, "f32");
            assert_eq!(sol.stop_reason, StopReason::Converged, "{k} f32 {path:?}: {} at {:.3e}", sol.stop_reason, sol.rel_residual);
            assert!(sol.rel_residual <= 1e-5, "{k} f32: {:.3e}", sol.rel_residual);
        }
    }
}

/// The closed form: X·W_GD = Y, and W_GD − W₀ ∈ range(Xᵀ); rank-deficient X
/// gets the pseudo-inverse solution.
#[test]
fn min_distance_interpolator_is_the_nearest_interpolator() {
    let (x, y) = problem();
    let w0 = random_w0(160, 3);
    let w = min_distance_interpolator(x.as_ref(), y.as_ref(), Some(w0.as_ref())).unwrap();
    let xw = Mat::from_fn(40, 3, |i, j| (0..160).map(|l| x.at(i, l) * w.at(l, j)).sum());
    assert!(rel(&xw, &y) <= 1e-12);
    let moved = Mat::from_fn(160, 3, |i, j| w.at(i, j) - w0.at(i, j));
    assert!(out_of_row_space(&x, &moved) <= 1e-12);

    // Duplicate a row: X loses rank, the consistent system keeps the same W_GD.
    let x2 = Mat::from_fn(41, 160, |i, j| x.at(i.min(39), j));
    let y2 = Mat::from_fn(41, 3, |i, j| y.at(i.min(39), j));
    let w2 = min_distance_interpolator(x2.as_ref(), y2.as_ref(), Some(w0.as_ref())).unwrap();
    assert!(rel(&w2, &w) <= 1e-9, "rank-deficient X: {:.3e}", rel(&w2, &w));
}
