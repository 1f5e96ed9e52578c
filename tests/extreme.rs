//! Hostile scales (issue 6, item 7; SPEC §8 "never a silent NaN"): entries
//! near 1e±150 in f64 and 1e±18 in f32 in X, Y or W₀, for every class of K
//! and both paths. Each solve must either answer correctly (finite W and
//! reported numbers, and a converged W that really interpolates) or return
//! a typed error — never `Ok` with NaN or ±∞.

use dspgd::{solve, synthetic, Error, Float, LearningRate, Mat, Options, PathChoice, Precond, PrecondClass, StopReason};

const N: usize = 12;
const D: usize = 40;
const K: usize = 2;

/// ‖XW − Y‖/‖Y‖ computed in f64 with the entries scaled first, so that it
/// neither overflows nor underflows at any scale the inputs can have.
fn rel_residual<T: Float>(x: &Mat<T>, w: &Mat<T>, y: &Mat<T>) -> f64 {
    let f = |m: &Mat<T>| -> Vec<f64> { m.as_slice().iter().map(|v| v.to_f64()).collect() };
    let (x, w, y) = (f(x), f(w), f(y));
    let (sx, sw, sy) = (maxabs(&x), maxabs(&w), maxabs(&y));
    if sy == 0.0 {
        return 0.0;
    }
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for i in 0..N {
        for j in 0..K {
            // (XW)ᵢⱼ/sy = Σ (x/sx)(w/sw) · (sx·sw/sy), the last factor finite here.
            let xw: f64 = (0..D).map(|l| (x[i * D + l] / sx) * (w[l * K + j] / sw.max(f64::MIN_POSITIVE))).sum::<f64>() * (sx * sw.max(f64::MIN_POSITIVE) / sy);
            num += (xw - y[i * K + j] / sy).powi(2);
            den += (y[i * K + j] / sy).powi(2);
        }
    }
    (num / den).sqrt()
}

fn maxabs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn scaled<T: Float>(m: &Mat<T>, s: f64) -> Mat<T> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| T::from_f64(m.at(i, j).to_f64() * s))
}

/// The outcome of one case, or what is wrong with it. With `must_converge`
/// the case is well posed for this K at this scale (the data's own scale
/// does not matter to it), and a stop other than `Converged` is a failure.
fn check<T: Float>(x: &Mat<T>, y: &Mat<T>, w0: Option<&Mat<T>>, k: &str, path: PathChoice, must_converge: bool) -> Result<String, String> {
    let o = Options { precond: k.parse().unwrap(), lr: LearningRate::Default, path, max_iters: 3000, ..Options::default() };
    match solve(x.as_ref(), y.as_ref(), w0.map(|w| w.as_ref()), &o) {
        Ok(sol) => {
            let bad_w = sol.w.as_slice().iter().position(|v| !v.is_finite());
            if let Some(i) = bad_w {
                return Err(format!("Ok({:?}) with W[{i}] = {}", sol.stop_reason, sol.w.as_slice()[i].to_f64()));
            }
            let step = [sol.step.eta0, sol.step.x_norm2].into_iter().flatten();
            for (name, v) in [("rel_residual", sol.rel_residual), ("loss", sol.loss)].into_iter().chain(step.map(|v| ("step", v))) {
                if !v.is_finite() {
                    return Err(format!("Ok({:?}) with {name} = {v}", sol.stop_reason));
                }
            }
            if sol.stop_reason == StopReason::Converged {
                // The W returned really interpolates: ‖XW − Y‖/‖Y‖ recomputed
                // independently, at most 100× the tolerance (the reported value
                // is ≤ tol; 100× leaves room for the rounding of a recomputation).
                let r = rel_residual(x, &sol.w, y);
                let tol = 100.0 * T::DEFAULT_TOL;
                if r.is_nan() || r > tol {
                    return Err(format!("converged, reported rel_residual {:.2e}, but ‖XW−Y‖/‖Y‖ = {r:.2e}", sol.rel_residual));
                }
            } else if must_converge {
                return Err(format!(
                    "{:?} after {} iterations at rel_residual {:.2e}: this case is well posed",
                    sol.stop_reason, sol.iterations, sol.rel_residual
                ));
            }
            Ok(format!("{:?} after {} its, rel {:.1e}", sol.stop_reason, sol.iterations, sol.rel_residual))
        }
        Err(e @ (Error::Diverged(_) | Error::Overflow { .. })) if !must_converge => {
            let msg = e.to_string();
            if msg.is_empty() || msg.contains('\n') {
                return Err(format!("unclear error: {msg:?}"));
            }
            Ok(format!("Err({msg})"))
        }
        Err(e) => Err(format!("unexpected error: {e}")),
    }
}

/// (name, X, Y, W0, well posed for a K without an absolute parameter).
type Case<T> = (String, Mat<T>, Mat<T>, Option<Mat<T>>, bool);

fn run_all<T: Float>(big: f64) {
    let (x, y) = synthetic::gaussian_problem::<T>(N, D, K, 7);
    let w0 = synthetic::gaussian_matrix::<T>(D, K, 1.0, 8);
    let mut failures = vec![];
    let mut converged = 0;
    for s in [big, 1.0 / big] {
        let cases: Vec<Case<T>> = vec![
            (format!("X,Y×{s:e}"), scaled(&x, s), scaled(&y, s), None, true),
            (format!("Y×{s:e}"), x.clone(), scaled(&y, s), None, true),
            (format!("X×{s:e}"), scaled(&x, s), y.clone(), None, true),
            // W0 far off: W − W0 must cancel W0 to 16 digits, impossible when W0 is huge.
            (format!("W0×{s:e}"), x.clone(), y.clone(), Some(scaled(&w0, s)), s < 1.0),
            (format!("X,Y,W0×{s:e}"), scaled(&x, s), scaled(&y, s), Some(scaled(&w0, s)), s < 1.0),
        ];
        for (name, xs, ys, w0s, well_posed) in &cases {
            for k in ["gd", "ngd", "spectral", "spectral:1e-3", "sign", "adam:1e-2", "clip:1"] {
                // K with an absolute parameter (ε, τ on the scale of G) is a different method at each scale.
                let scale_free = !k.contains(':');
                let class = k.parse::<Precond>().unwrap().class();
                let paths: &[PathChoice] = if class == PrecondClass::Separable { &[PathChoice::Primal] } else { &[PathChoice::Primal, PathChoice::Gram] };
                for &path in paths {
                    match check(xs, ys, w0s.as_ref(), k, path, *well_posed && scale_free) {
                        Ok(what) => {
                            converged += usize::from(what.starts_with("Converged"));
                            eprintln!("{} {name:14} {k:14} {path:7}: {what}", T::NAME);
                        }
                        Err(what) => {
                            eprintln!("{} {name:14} {k:14} {path:7}: FAIL {what}", T::NAME);
                            failures.push(format!("{name} {k} {path}: {what}"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(converged >= 60, "only {converged} cases converged");
}

#[test]
fn f64_entries_near_1e150_and_1e_minus_150() {
    run_all::<f64>(1e150);
}

#[test]
fn f32_entries_near_1e18_and_1e_minus_18() {
    run_all::<f32>(1e18);
}

/// The internal rescaling (src/rescale.rs) maps every setting along with the
/// data: a problem scaled by 2^±200 with its scale-carrying settings mapped
/// by hand (η by its degree, τ and ε by the scale of G, δ by the scale of
/// Y) gives the W of the unscaled problem. The two runs differ only in
/// rounding (X' = 2^−e·X is exact, but e differs from 0 by the data's own
/// exponent), so they agree to 1e-9 relative after a few hundred iterations.
#[test]
fn rescaled_solves_give_the_unscaled_answer() {
    let (x, y) = synthetic::gaussian_problem::<f64>(N, D, K, 7);
    let w0 = synthetic::gaussian_matrix::<f64>(D, K, 1.0, 8);
    for (sx, sy) in [(200, 200), (-200, -200), (200, -200), (0, 250), (-250, 0)] {
        let (a, b) = (2f64.powi(sx), 2f64.powi(sy));
        let c = a * b; // G scales by ab
        let xs = scaled(&x, a);
        let ys = scaled(&y, b);
        let w0s = scaled(&w0, b / a);
        // (unscaled settings, scaled settings): (K, loss, lr).
        let cases: Vec<(String, String, LearningRate, LearningRate)> = vec![
            ("gd".into(), "gd".into(), LearningRate::Auto, LearningRate::Auto),
            ("gd".into(), "gd".into(), LearningRate::Constant(0.05), LearningRate::Constant(0.05 / (a * a))),
            ("spectral".into(), "spectral".into(), LearningRate::LineSearch, LearningRate::LineSearch),
            ("ngd:0.5".into(), format!("ngd:{:e}", 0.5 * c), LearningRate::Auto, LearningRate::Auto),
            ("clip:2".into(), format!("clip:{:e}", 2.0 * c), LearningRate::Constant(0.05), LearningRate::Constant(0.05 / (a * a))),
            ("adam:0.1".into(), format!("adam:{:e}", 0.1 * c), LearningRate::Constant(0.01), LearningRate::Constant(0.01 * b / a)),
            ("power:3".into(), "power:3".into(), LearningRate::Constant(0.01), LearningRate::Constant(0.01 * b / a / (c * c))),
        ];
        for (k, ks, lr, lrs) in cases {
            for (loss, loss_s) in [("squared".to_string(), "squared".to_string()), ("huber:0.3".into(), format!("huber:{:e}", 0.3 * b))] {
                let base = Options { max_iters: 300, tol: Some(1e-300), ..Options::default() };
                let o = Options { precond: k.parse().unwrap(), loss: loss.parse().unwrap(), lr, ..base.clone() };
                let os = Options { precond: ks.parse().unwrap(), loss: loss_s.parse().unwrap(), lr: lrs, ..base };
                let want = solve(x.as_ref(), y.as_ref(), Some(w0.as_ref()), &o).unwrap();
                let got = solve(xs.as_ref(), ys.as_ref(), Some(w0s.as_ref()), &os).unwrap();
                assert!(got.warnings.iter().any(|w| w.contains("rescaled")), "2^{sx}, 2^{sy}: the rescaling did not run");
                let back = scaled(&got.w, a / b);
                let diff = dspgd::norm_fro_diff(back.as_ref(), want.w.as_ref()) / want.w.norm_fro();
                assert!(diff <= 1e-9, "2^{sx}, 2^{sy}, {k} {loss} {lr:?}: W differs by {diff:.2e}");
                let loss_ratio = got.loss * b.powi(-2) / want.loss;
                assert!((loss_ratio - 1.0).abs() <= 1e-6 || want.loss < 1e-200, "{k} {loss}: loss {} vs {}", got.loss, want.loss);
            }
        }
    }
}

/// When the answer itself is out of range (X tiny and Y huge make W ≈ 1e320),
/// the error says so, naming X and the scales.
#[test]
fn a_solution_beyond_the_range_is_a_typed_error() {
    let (x, y) = synthetic::gaussian_problem::<f64>(N, D, K, 7);
    let e = solve(scaled(&x, 1e-160).as_ref(), scaled(&y, 1e160).as_ref(), None, &Options::default()).unwrap_err();
    assert!(matches!(e, Error::Overflow { arg: "x", .. }), "{e:?}");
    assert!(e.to_string().contains("does not fit in f64"), "{e}");
}
