//! Property tests of the loss and preconditioner catalogue (SPEC §2–§3,
//! STYLE item 9): analytic gradients against central finite differences,
//! monotonicity, ∇K(0) = 0, orthogonal equivariance, the spectral map, and
//! the class / Lipschitz table.
//!
//! Every property is a loop over many random inputs drawn from the fixed-seed
//! [`Rng`]; each case has its own seed, printed in the assertion message, so a
//! failure is reproduced with `Rng::new(seed)`.
//!
//! Finite differences. The central difference (f(x+h) − f(x−h)) / 2h has
//! truncation error h²·|f'''|/6 and rounding error about ε_mach·|f|/h. In f64
//! with h = 1e-5 (relative to the scale of the input) both are ≈ 1e-10
//! relative to the gradient for the smooth inputs drawn here (kinks and
//! singular points are kept away by construction), so a relative tolerance of
//! 1e-6 leaves four orders of magnitude of margin while still catching any
//! wrong constant, sign or exponent in a formula.
// Index loops over (i, j) read as the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use dspgd_backend::rng::Rng;
use dspgd_backend::sym_eig::sym_eig;
use dspgd_backend::{Loss, Mat, Precond, PrecondClass};

const CASES: u64 = 200;
const EPS: f64 = f64::EPSILON;

// ---------------------------------------------------------------- helpers

/// The seed of case `case` of the test named by `salt` (distinct streams per test).
fn seed(salt: u64, case: u64) -> u64 {
    salt.wrapping_mul(1_000_003).wrapping_add(case)
}

/// Log-uniform in [lo, hi].
fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.uniform() * (hi.ln() - lo.ln())).exp()
}

/// Uniform integer in lo..=hi.
fn int(rng: &mut Rng, lo: usize, hi: usize) -> usize {
    lo + (rng.next_u64() % (hi - lo + 1) as u64) as usize
}

fn random_sign(rng: &mut Rng) -> f64 {
    if rng.next_u64() & 1 == 0 {
        1.0
    } else {
        -1.0
    }
}

/// A d×k matrix whose entries are `scale`·(±(0.05 + |N(0,1)|)): bounded away
/// from 0, so the elementwise kinks of `sign`, `lp:p` (p < 2) are not touched.
fn away_from_zero(rng: &mut Rng, d: usize, k: usize, scale: f64) -> Mat<f64> {
    Mat::from_fn(d, k, |_, _| scale * random_sign(rng) * (0.05 + rng.normal().abs()))
}

fn gaussian(rng: &mut Rng, d: usize, k: usize, scale: f64) -> Mat<f64> {
    Mat::from_fn(d, k, |_, _| scale * rng.normal())
}

fn matmul(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    assert_eq!(a.ncols(), b.nrows());
    Mat::from_fn(a.nrows(), b.ncols(), |i, j| (0..a.ncols()).map(|l| a.at(i, l) * b.at(l, j)).sum())
}

fn transpose(a: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(a.ncols(), a.nrows(), |i, j| a.at(j, i))
}

fn sub(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a.at(i, j) - b.at(i, j))
}

fn fro(a: &Mat<f64>) -> f64 {
    a.as_slice().iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn max_abs(a: &Mat<f64>) -> f64 {
    a.as_slice().iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn dot(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| x * y).sum()
}

fn identity(n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 })
}

/// A random orthogonal n×n matrix: modified Gram–Schmidt, run twice for
/// orthogonality to working precision, on the columns of a Gaussian matrix.
fn orthogonal(rng: &mut Rng, n: usize) -> Mat<f64> {
    let a = gaussian(rng, n, n, 1.0);
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(n);
    for j in 0..n {
        let mut v: Vec<f64> = (0..n).map(|i| a.at(i, j)).collect();
        for _pass in 0..2 {
            for q in &cols {
                let c: f64 = q.iter().zip(&v).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(q).for_each(|(x, y)| *x -= c * y);
            }
        }
        let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x /= nv);
        cols.push(v);
    }
    let q = Mat::from_fn(n, n, |i, j| cols[j][i]);
    assert!(fro(&sub(&matmul(&transpose(&q), &q), &identity(n))) < 1e-13, "orthogonal({n}) is not orthogonal");
    q
}

/// A random signed permutation n×n matrix.
fn signed_permutation(rng: &mut Rng, n: usize) -> Mat<f64> {
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        perm.swap(i, int(rng, 0, i));
    }
    let signs: Vec<f64> = (0..n).map(|_| random_sign(rng)).collect();
    Mat::from_fn(n, n, |i, j| if perm[i] == j { signs[i] } else { 0.0 })
}

/// Singular values of G (descending, min(d, k) of them), from the
/// eigenvalues of the smaller Gram matrix (GᵀG or GGᵀ), so that no
/// structurally zero eigenvalue (which rounding makes ±1e-16·σ_max²) enters.
fn singular_values(g: &Mat<f64>) -> Vec<f64> {
    let gram = if g.nrows() >= g.ncols() { matmul(&transpose(g), g) } else { matmul(g, &transpose(g)) };
    let n = gram.nrows();
    let mut a = gram.into_vec();
    let mut vals = vec![0.0; n];
    let mut vecs = vec![0.0; n * n];
    sym_eig(&mut a, n, &mut vals, &mut vecs);
    let mut s: Vec<f64> = vals.iter().map(|l| l.max(0.0).sqrt()).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

/// The nuclear norm ‖G‖_* = Σσᵢ.
fn nuclear_norm(g: &Mat<f64>) -> f64 {
    singular_values(g).iter().sum()
}

/// σ_max / σ_min over the min(d, k) non-trivial singular values (∞ when rank-deficient).
fn condition(g: &Mat<f64>) -> f64 {
    let s = singular_values(g);
    s[0] / s[s.len() - 1]
}

fn grad_k(k: &Precond, g: &Mat<f64>) -> Mat<f64> {
    k.grad_k(g.as_ref())
}

fn potential(k: &Precond, g: &Mat<f64>) -> f64 {
    k.potential(g.as_ref()).expect("built-in preconditioners have a potential")
}

fn p(spec: &str) -> Precond {
    spec.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// Every built-in preconditioner, with a few parameters each.
fn all_preconds() -> Vec<Precond> {
    [
        "gd",
        "clip:1",
        "clip:0.3",
        "ngd",
        "ngd:0.1",
        "ngd:1",
        "power:1.5",
        "power:2",
        "power:3",
        "spectral",
        "spectral:0.1",
        "spectral:1",
        "sign",
        "adam:0.1",
        "adam:1e-3",
        "eclip:0.5",
        "eclip:2",
        "lp:1.5",
        "lp:2",
        "lp:3",
    ]
    .iter()
    .map(|s| p(s))
    .collect()
}

fn all_losses() -> Vec<Loss> {
    vec![
        Loss::Squared,
        Loss::Huber { delta: 0.1 },
        Loss::Huber { delta: 1.0 },
        Loss::Huber { delta: 3.0 },
        Loss::LogCosh,
        Loss::Lp { p: 2.0 },
        Loss::Lp { p: 2.5 },
        Loss::Lp { p: 3.0 },
        Loss::Lp { p: 4.0 },
    ]
}

/// The kinks of ℓ (where ∇ℓ is not differentiable, so central differences
/// lose their O(h²) accuracy): ±δ for Huber, 0 for every loss.
fn loss_kinks(l: &Loss) -> Vec<f64> {
    match *l {
        Loss::Huber { delta } => vec![0.0, delta, -delta],
        _ => vec![0.0],
    }
}

// ---------------------------------------------------------------- losses

/// ∇ℓ against central differences of ℓ, f64, every loss, 200 random points each.
///
/// r = ±10^U(−1.3, 1.5), h = 1e-5·max(1, |r|); points within 10h of a kink are
/// redrawn. Tolerance: 1e-6·|∇ℓ| for the truncation error (≈ h²|ℓ'''|/6, at most
/// 1e-9 relative here) plus 10·ε·max(1, |ℓ|)/h for the rounding of ℓ itself.
#[test]
fn loss_grad_matches_finite_differences_f64() {
    for (li, loss) in all_losses().iter().enumerate() {
        for case in 0..CASES {
            let seed = seed(100 + li as u64, case);
            let mut rng = Rng::new(seed);
            let (r, h) = loop {
                let r = random_sign(&mut rng) * log_uniform(&mut rng, 0.05, 31.6);
                let h = 1e-5 * r.abs().max(1.0);
                if loss_kinks(loss).iter().all(|c| (r - c).abs() > 10.0 * h) {
                    break (r, h);
                }
            };
            let (rp, rm) = (r + h, r - h);
            let fd = (loss.value(rp) - loss.value(rm)) / (rp - rm);
            let g = loss.grad(r);
            let big = loss.value(rp).abs().max(loss.value(rm).abs()).max(1.0);
            let tol = 1e-6 * g.abs() + 10.0 * EPS * big / h;
            assert!(
                (fd - g).abs() <= tol,
                "seed {seed}: loss {loss} at r = {r:e}: ∇ℓ = {g:e}, central difference = {fd:e}, |diff| = {:e} > tol {tol:e}",
                (fd - g).abs()
            );
        }
    }
}

/// The same check in f32, on f32 values of ℓ. h = 2⁻⁸·max(1, |r|) ≈ ε_f32^{1/3}
/// balances truncation (h²|ℓ'''|/6 ≈ 3e-6·|ℓ'''|) against rounding
/// (ε_f32·|ℓ|/h ≈ 3e-5·|ℓ|), so the tolerance is 1e-3·|∇ℓ| plus
/// 20·ε_f32·max(1, |ℓ|)/h. The difference quotient divides by the exact f32
/// spacing (r+h) − (r−h), and |r| ∈ [0.1, 10].
#[test]
fn loss_grad_matches_finite_differences_f32() {
    for (li, loss) in all_losses().iter().enumerate() {
        for case in 0..CASES {
            let seed = seed(200 + li as u64, case);
            let mut rng = Rng::new(seed);
            let (r, h) = loop {
                let r = (random_sign(&mut rng) * log_uniform(&mut rng, 0.1, 10.0)) as f32;
                let h = r.abs().max(1.0) / 256.0;
                if loss_kinks(loss).iter().all(|c| (r as f64 - c).abs() > 4.0 * h as f64) {
                    break (r, h);
                }
            };
            let (rp, rm) = (r + h, r - h);
            let (vp, vm) = (loss.value(rp) as f64, loss.value(rm) as f64);
            let fd = (vp - vm) / (rp as f64 - rm as f64);
            let g = loss.grad(r) as f64;
            let tol = 1e-3 * g.abs() + 20.0 * f32::EPSILON as f64 * vp.abs().max(vm.abs()).max(1.0) / h as f64;
            assert!(
                (fd - g).abs() <= tol,
                "seed {seed}: f32 loss {loss} at r = {r:e}: ∇ℓ = {g:e}, central difference = {fd:e} (tol {tol:e})"
            );
            // The f32 kernel is the f64 kernel rounded: ∇ℓ to a few ulps.
            let g64 = loss.grad(r as f64);
            assert!(
                (g - g64).abs() <= 8.0 * f32::EPSILON as f64 * g64.abs() + f32::MIN_POSITIVE as f64,
                "seed {seed}: f32 loss {loss} at r = {r:e}: ∇ℓ_f32 = {g:e} but ∇ℓ_f64 = {g64:e}"
            );
        }
    }
}

/// Shape of every loss: ℓ(0) = 0 and ∇ℓ(0) = 0 exactly, ℓ(r) > 0 and ℓ even
/// for r ≠ 0, ∇ℓ odd and monotone (ℓ convex), and the table values at a few points.
#[test]
fn loss_is_even_convex_and_minimized_at_zero() {
    for loss in all_losses() {
        assert_eq!(loss.value(0.0_f64), 0.0, "{loss}: ℓ(0)");
        assert_eq!(loss.grad(0.0_f64), 0.0, "{loss}: ∇ℓ(0)");
        assert_eq!(loss.value(0.0_f32), 0.0, "{loss}: ℓ(0) in f32");
        assert_eq!(loss.grad(0.0_f32), 0.0, "{loss}: ∇ℓ(0) in f32");
        for case in 0..CASES {
            let seed = seed(300, case);
            let mut rng = Rng::new(seed);
            let a = random_sign(&mut rng) * log_uniform(&mut rng, 1e-3, 1e2);
            let b = random_sign(&mut rng) * log_uniform(&mut rng, 1e-3, 1e2);
            assert!(loss.value(a) > 0.0, "seed {seed}: {loss}: ℓ({a:e}) = {} ≤ 0", loss.value(a));
            assert_eq!(loss.value(a), loss.value(-a), "seed {seed}: {loss}: ℓ not even at {a:e}");
            assert_eq!(loss.grad(a), -loss.grad(-a), "seed {seed}: {loss}: ∇ℓ not odd at {a:e}");
            assert!(loss.grad(a) * a > 0.0, "seed {seed}: {loss}: ∇ℓ({a:e}) has the wrong sign");
            let mono = (loss.grad(a) - loss.grad(b)) * (a - b);
            assert!(mono >= 0.0, "seed {seed}: {loss}: ∇ℓ not monotone on ({a:e}, {b:e}): {mono:e}");
        }
    }
    // The table of SPEC §2 at hand-checked points.
    let close = |a: f64, b: f64| (a - b).abs() <= 4.0 * EPS * b.abs().max(1e-300);
    assert!(close(Loss::Squared.value(3.0), 4.5) && Loss::Squared.grad(-3.0) == -3.0);
    let h = Loss::Huber { delta: 0.5 };
    assert!(close(h.value(0.4), 0.08) && h.grad(0.4) == 0.4);
    assert!(close(h.value(-2.0), 0.875) && h.grad(-2.0) == -0.5 && h.grad(2.0) == 0.5);
    let l3 = Loss::Lp { p: 3.0 };
    assert!(close(l3.value(-2.0), 8.0 / 3.0) && close(l3.grad(-2.0), -4.0));
    assert!(close(Loss::LogCosh.grad(0.5), 0.5f64.tanh()));
}

/// log cosh r is finite and accurate for every |r| up to 1e300 (no overflow of
/// cosh), with ∇ = tanh r. For |r| ≥ 20, e^{−2|r|} < 1e-17 so log cosh r
/// equals |r| − ln 2 to working precision; for moderate |r| it equals
/// ln(cosh r) computed directly (where cosh does not overflow).
#[test]
fn logcosh_is_finite_and_accurate_for_large_arguments() {
    let l = Loss::LogCosh;
    let ln2 = core::f64::consts::LN_2;
    for case in 0..CASES {
        let seed = seed(400, case);
        let mut rng = Rng::new(seed);
        let r = random_sign(&mut rng) * log_uniform(&mut rng, 20.0, 1e300);
        let v = l.value(r);
        let want = r.abs() - ln2;
        assert!(v.is_finite(), "seed {seed}: log cosh({r:e}) = {v}");
        assert!((v - want).abs() <= 2.0 * EPS * want, "seed {seed}: log cosh({r:e}) = {v:e}, want {want:e}");
        assert_eq!(l.grad(r), r.signum(), "seed {seed}: tanh({r:e})");
        // Moderate arguments, against the direct formula.
        let r = random_sign(&mut rng) * log_uniform(&mut rng, 0.5, 300.0);
        let want = r.cosh().ln();
        let v = l.value(r);
        assert!((v - want).abs() <= 8.0 * EPS * want, "seed {seed}: log cosh({r:e}) = {v:e}, ln(cosh r) = {want:e}");
        assert!((l.grad(r) - r.tanh()).abs() <= EPS, "seed {seed}: ∇ log cosh({r:e}) ≠ tanh");
    }
    for r in [1e300, -1e300, f64::MAX, -f64::MAX] {
        let v = l.value(r);
        assert!(v.is_finite() && v == r.abs(), "log cosh({r:e}) = {v}");
        assert_eq!(l.grad(r), r.signum());
    }
    for r in [1e38_f32, -3e38, f32::MAX] {
        let v = l.value(r);
        assert!(v.is_finite() && v == r.abs(), "f32: log cosh({r:e}) = {v}");
        assert_eq!(l.grad(r), r.signum());
    }
    // f32 at moderate arguments (where f32 cosh would already overflow past 89).
    for r in [50.0_f32, 100.0, 1e4] {
        let want = (r as f64) - ln2;
        assert!(((l.value(r) as f64) - want).abs() <= 2.0 * f32::EPSILON as f64 * want, "f32: log cosh({r})");
    }
}

/// log cosh r ≈ r²/2 must be accurate *relative to its value* for small |r|:
/// the line search compares ℓ(R − ηQ) with ℓ(R) near convergence, when the
/// residuals are 1e-6…1e-12. Reference: for |r| < 1e-2 the Taylor series
/// r²/2 − r⁴/12 + r⁶/45 − 17r⁸/2520 (next term 31r¹⁰/14175, below 1e-18
/// relative); beyond, log cosh r = ln(1 + 2 sinh²(r/2)), which has no
/// cancellation (std `sinh` and `ln_1p` are accurate to an ulp or two).
/// Tolerance 1e-13 relative in f64, 1e-5 in f32.
#[test]
fn logcosh_is_accurate_for_small_arguments() {
    let l = Loss::LogCosh;
    let reference = |r: f64| {
        if r.abs() < 1e-2 {
            let x = r * r;
            x * (0.5 + x * (-1.0 / 12.0 + x * (1.0 / 45.0 - x * 17.0 / 2520.0)))
        } else {
            (2.0 * (0.5 * r).sinh().powi(2)).ln_1p()
        }
    };
    let mut worst = (0.0f64, 0.0f64);
    for case in 0..CASES {
        let seed = seed(450, case);
        let mut rng = Rng::new(seed);
        let r = random_sign(&mut rng) * log_uniform(&mut rng, 1e-100, 20.0);
        let want = reference(r);
        let rel = (l.value(r) - want).abs() / want;
        if rel > worst.1 {
            worst = (r, rel);
        }
        assert!(
            rel <= 1e-13,
            "seed {seed}: log cosh({r:e}) = {:e}, want {want:e} (relative error {rel:e}); worst so far at r = {:e}",
            l.value(r),
            worst.0
        );
        let r32 = r as f32;
        if r32.abs() >= 1e-15 {
            let want = reference(r32 as f64);
            let rel = (l.value(r32) as f64 - want).abs() / want;
            assert!(rel <= 1e-5, "seed {seed}: f32 log cosh({r32:e}) = {:e}, want {want:e} (relative error {rel:e})", l.value(r32));
        }
    }
}

/// β, the smoothness constant of ℓ (SPEC §2), and the quadratic flag.
#[test]
fn loss_beta_and_quadratic_flag() {
    assert_eq!(Loss::Squared.beta(), Some(1.0));
    assert_eq!(Loss::Huber { delta: 0.3 }.beta(), Some(1.0));
    assert_eq!(Loss::LogCosh.beta(), Some(1.0));
    assert_eq!(Loss::Lp { p: 2.0 }.beta(), Some(1.0));
    for p in [2.5, 3.0, 4.0] {
        assert_eq!(Loss::Lp { p }.beta(), None, "lp:{p} is not globally smooth");
        assert!(!Loss::Lp { p }.is_quadratic());
    }
    assert!(Loss::Squared.is_quadratic() && Loss::Lp { p: 2.0 }.is_quadratic());
    assert!(!Loss::LogCosh.is_quadratic() && !Loss::Huber { delta: 1.0 }.is_quadratic());
    assert_eq!(Loss::default(), Loss::Squared);
    // β is a Lipschitz constant of ∇ℓ, and a tight one (attained near 0).
    for loss in all_losses() {
        let Some(beta) = loss.beta() else { continue };
        for case in 0..CASES {
            let seed = seed(500, case);
            let mut rng = Rng::new(seed);
            let a = 5.0 * rng.normal();
            let b = 5.0 * rng.normal();
            assert!(
                (loss.grad(a) - loss.grad(b)).abs() <= beta * (a - b).abs() * (1.0 + 1e-12),
                "seed {seed}: {loss}: ∇ℓ not β-Lipschitz on ({a}, {b})"
            );
        }
        let t = 1e-6;
        assert!((loss.grad(t) - loss.grad(-t)) / (2.0 * t) >= 0.999 * beta, "{loss}: β = {beta} is not attained near 0");
    }
}

// ---------------------------------------------------------------- preconditioners

/// Draws a d×k test point for `k` that keeps clear of its non-differentiable set:
/// entries at least 0.05·scale away from 0 (sign, lp:p<2, adam), at least 1e-3
/// from ±τ (eclip), ‖G‖_F at least 1e-3 from τ (clip), and for `spectral` a
/// condition number at most 20 (the third derivative of ‖G‖_* grows like 1/σ_min²).
fn fd_point(rng: &mut Rng, pk: &Precond, d: usize, k: usize, scale: f64) -> Mat<f64> {
    loop {
        let g = away_from_zero(rng, d, k, scale);
        let ok = match *pk {
            Precond::Clip { tau } => (fro(&g) - tau).abs() > 1e-3,
            Precond::EClip { tau } => g.as_slice().iter().all(|x| (x.abs() - tau).abs() > 1e-3),
            Precond::Spectral { .. } => condition(&g) < 20.0,
            _ => true,
        };
        if ok {
            return g;
        }
    }
}

/// Central-difference gradient of K at `g`, entry by entry, with step h.
fn fd_grad(pk: &Precond, g: &Mat<f64>, h: f64) -> Mat<f64> {
    let mut out = Mat::zeros(g.nrows(), g.ncols());
    for i in 0..g.nrows() {
        for j in 0..g.ncols() {
            let (mut gp, mut gm) = (g.clone(), g.clone());
            *gp.at_mut(i, j) += h;
            *gm.at_mut(i, j) -= h;
            let step = gp.at(i, j) - gm.at(i, j);
            *out.at_mut(i, j) = (potential(pk, &gp) - potential(pk, &gm)) / step;
        }
    }
    out
}

/// Compares ∇K with central differences of K on one point. Tolerance per entry:
/// 1e-6·max|∇K| (truncation h²|K'''|/6 ≈ 1e-10 relative for the points of
/// `fd_point`) plus 100·ε·|K|/h for the rounding of K (the spectral potential
/// goes through an eigendecomposition, hence the larger factor).
fn check_fd(pk: &Precond, g: &Mat<f64>, h: f64, seed: u64) {
    let grad = grad_k(pk, g);
    let fd = fd_grad(pk, g, h);
    let kval = potential(pk, g).abs();
    let tol = 1e-6 * max_abs(&grad) + 100.0 * EPS * kval / h;
    let err = max_abs(&sub(&grad, &fd));
    assert!(
        err <= tol,
        "seed {seed}: {pk} on a {}x{} G (‖G‖_F = {:e}): max |∇K − FD| = {err:e} > tol {tol:e}\n∇K = {:?}\nFD = {:?}",
        g.nrows(),
        g.ncols(),
        fro(g),
        grad.as_slice(),
        fd.as_slice()
    );
}

/// ∇K against central differences of K for every built-in K: random d×k
/// with d ≤ 8, k ≤ 4 (d ≥ k for `spectral` without ε; see the next test),
/// entry scale log-uniform in [0.1, 10], h = 1e-5·scale.
#[test]
fn precond_grad_matches_finite_differences() {
    for (pi, pk) in all_preconds().iter().enumerate() {
        for case in 0..CASES {
            let seed = seed(1000 + pi as u64, case);
            let mut rng = Rng::new(seed);
            let mut d = int(&mut rng, 1, 8);
            let k = int(&mut rng, 1, 4);
            if *pk == (Precond::Spectral { eps: None }) {
                d = d.max(k);
            }
            let scale = log_uniform(&mut rng, 0.1, 10.0);
            let g = fd_point(&mut rng, pk, d, k, scale);
            check_fd(pk, &g, 1e-5 * scale, seed);
        }
    }
}

/// `spectral` on wide matrices (d < k, full row rank): K = ‖G‖_* is still
/// differentiable there, with ∇K = U Vᵀ (d×k).
#[test]
fn spectral_grad_matches_finite_differences_wide() {
    let pk = Precond::Spectral { eps: None };
    for case in 0..CASES {
        let seed = seed(1100, case);
        let mut rng = Rng::new(seed);
        let k = int(&mut rng, 2, 4);
        let d = int(&mut rng, 1, k - 1);
        let scale = log_uniform(&mut rng, 0.1, 10.0);
        let g = fd_point(&mut rng, &pk, d, k, scale);
        check_fd(&pk, &g, 1e-5 * scale, seed);
    }
}

/// ∇K is monotone (K convex): ⟨∇K(A) − ∇K(B), A − B⟩ ≥ −1e-12·scale with
/// scale = (‖∇K(A)‖ + ‖∇K(B)‖)·‖A − B‖ (the rounding of the inner product).
/// Pairs: independent, nearby (B = A + small), antipodal (B = −A) and
/// aligned (B = tA), all shapes d ≤ 8, k ≤ 4, entries possibly 0.
#[test]
fn precond_grad_is_monotone() {
    for (pi, pk) in all_preconds().iter().enumerate() {
        for case in 0..CASES {
            let seed = seed(2000 + pi as u64, case);
            let mut rng = Rng::new(seed);
            let d = int(&mut rng, 1, 8);
            let k = int(&mut rng, 1, 4);
            let s = log_uniform(&mut rng, 1e-3, 1e3);
            let a = gaussian(&mut rng, d, k, s);
            let b = match case % 4 {
                0 => {
                    let sb = log_uniform(&mut rng, 1e-3, 1e3);
                    gaussian(&mut rng, d, k, sb)
                }
                1 => {
                    let e = gaussian(&mut rng, d, k, s * 1e-4);
                    Mat::from_fn(d, k, |i, j| a.at(i, j) + e.at(i, j))
                }
                2 => Mat::from_fn(d, k, |i, j| -a.at(i, j)),
                _ => {
                    let t = rng.uniform() * 3.0;
                    Mat::from_fn(d, k, |i, j| t * a.at(i, j))
                }
            };
            let (pa, pb) = (grad_k(pk, &a), grad_k(pk, &b));
            let da = sub(&a, &b);
            let inner = dot(&sub(&pa, &pb), &da);
            let scale = (fro(&pa) + fro(&pb)) * fro(&da);
            assert!(inner >= -1e-12 * scale, "seed {seed}: {pk} ({d}x{k}): ⟨∇K(A) − ∇K(B), A − B⟩ = {inner:e} < 0 (scale {scale:e})");
        }
    }
}

/// ∇K(0) = 0 exactly, with no NaN, for every K and shape (k = 1 and d = 1
/// included); also for −0 entries, and finite for tiny G.
#[test]
fn precond_grad_at_zero_is_zero() {
    let shapes = [(1, 1), (1, 4), (8, 1), (3, 3), (2, 5), (5, 2), (8, 4), (1, 2), (7, 1)];
    for pk in all_preconds() {
        for &(d, k) in &shapes {
            for z in [0.0, -0.0] {
                let g = Mat::from_fn(d, k, |_, _| z);
                let out = grad_k(&pk, &g);
                assert_eq!(out.shape(), (d, k));
                assert!(out.as_slice().iter().all(|&x| x == 0.0), "{pk}: ∇K(0) = {:?} on {d}x{k} (zero {z})", out.as_slice());
                assert_eq!(potential(&pk, &g), 0.0, "{pk}: K(0) ≠ 0 on {d}x{k}");
            }
            let tiny = Mat::from_fn(d, k, |i, j| 1e-150 * (1.0 + (i + 2 * j) as f64));
            let out = grad_k(&pk, &tiny);
            assert!(out.as_slice().iter().all(|x| x.is_finite()), "{pk}: ∇K(1e-150·G) not finite on {d}x{k}: {:?}", out.as_slice());
        }
    }
}

/// ∇K of an empty matrix (d = 0 or k = 0) is an empty matrix of the same shape, without panicking.
#[test]
fn precond_grad_of_empty_matrix() {
    for pk in all_preconds() {
        for (d, k) in [(0, 3), (4, 0), (0, 0)] {
            let g = Mat::<f64>::zeros(d, k);
            assert_eq!(grad_k(&pk, &g).shape(), (d, k), "{pk} on {d}x{k}");
        }
    }
}

/// Isotropic ∇K commutes with orthogonal maps on both sides:
/// ∇K(Q G R) = Q ∇K(G) R; right-invariant (`spectral`, `spectral:ε`) as well,
/// checked on each side separately and on both. Tolerance 1e-12 relative for
/// isotropic K; for `spectral` 1e-12·κ(G) (U Vᵀ is κ-conditioned).
#[test]
fn isotropic_and_spectral_grad_commute_with_orthogonal_maps() {
    for (pi, pk) in all_preconds().iter().enumerate() {
        if !pk.class().is_right_invariant() {
            continue;
        }
        for case in 0..CASES {
            let seed = seed(3000 + pi as u64, case);
            let mut rng = Rng::new(seed);
            let d = int(&mut rng, 1, 8);
            let k = int(&mut rng, 1, 4);
            let s = log_uniform(&mut rng, 1e-2, 1e2);
            let g = gaussian(&mut rng, d, k, s);
            let q = orthogonal(&mut rng, d);
            let r = orthogonal(&mut rng, k);
            let pg = grad_k(pk, &g);
            let kappa = if pk.class() == PrecondClass::Isotropic { 1.0 } else { condition(&g).min(1e6) };
            let tol = 1e-12 * kappa * fro(&pg).max(f64::MIN_POSITIVE);
            let cases = [
                ("Q G R", matmul(&matmul(&q, &g), &r), matmul(&matmul(&q, &pg), &r)),
                ("Q G", matmul(&q, &g), matmul(&q, &pg)),
                ("G R", matmul(&g, &r), matmul(&pg, &r)),
            ];
            for (name, moved, want) in cases {
                let err = fro(&sub(&grad_k(pk, &moved), &want));
                assert!(err <= tol, "seed {seed}: {pk} ({d}x{k}, κ = {kappa:.1e}): ‖∇K({name}) − transformed ∇K(G)‖ = {err:e} > {tol:e}");
            }
        }
    }
}

/// Separable ∇K commutes with signed permutations on both sides (the
/// orthogonal maps that keep K(G) = Σ k(gᵢⱼ) invariant), and acts entry by entry.
#[test]
fn separable_grad_is_elementwise_and_commutes_with_signed_permutations() {
    for (pi, pk) in all_preconds().iter().enumerate() {
        if pk.class() != PrecondClass::Separable {
            continue;
        }
        for case in 0..CASES {
            let seed = seed(3500 + pi as u64, case);
            let mut rng = Rng::new(seed);
            let d = int(&mut rng, 1, 8);
            let k = int(&mut rng, 1, 4);
            let s = log_uniform(&mut rng, 1e-2, 1e2);
            let g = gaussian(&mut rng, d, k, s);
            let pg = grad_k(pk, &g);
            for i in 0..d {
                for j in 0..k {
                    let one = grad_k(pk, &Mat::from_fn(1, 1, |_, _| g.at(i, j)));
                    assert_eq!(pg.at(i, j), one.at(0, 0), "seed {seed}: {pk}: entry ({i}, {j}) depends on other entries");
                }
            }
            let (sp, sr) = (signed_permutation(&mut rng, d), signed_permutation(&mut rng, k));
            let moved = grad_k(pk, &matmul(&matmul(&sp, &g), &sr));
            let want = matmul(&matmul(&sp, &pg), &sr);
            assert_eq!(moved.as_slice(), want.as_slice(), "seed {seed}: {pk}: ∇K(S G S') ≠ S ∇K(G) S'");
        }
    }
}

/// Isotropic ∇K(G) = s·G with s ≥ 0 given by `iso_scale(‖G‖²)`.
#[test]
fn isotropic_grad_is_a_nonnegative_multiple_of_g() {
    for (pi, pk) in all_preconds().iter().enumerate() {
        if pk.class() != PrecondClass::Isotropic {
            assert_eq!(pk.iso_scale(1.0), None, "{pk} is not isotropic but has an iso_scale");
            continue;
        }
        for case in 0..CASES {
            let seed = seed(3700 + pi as u64, case);
            let mut rng = Rng::new(seed);
            let (d, k) = (int(&mut rng, 1, 8), int(&mut rng, 1, 4));
            let s = log_uniform(&mut rng, 1e-2, 1e2);
            let g = gaussian(&mut rng, d, k, s);
            let pg = grad_k(pk, &g);
            let s = pk.iso_scale(dot(&g, &g)).expect("isotropic K has a scale");
            assert!(s >= 0.0 && s.is_finite(), "seed {seed}: {pk}: s = {s}");
            let err = fro(&sub(&pg, &Mat::from_fn(d, k, |i, j| s * g.at(i, j))));
            assert!(err <= 1e-14 * fro(&pg), "seed {seed}: {pk}: ∇K(G) ≠ s·G (error {err:e})");
        }
    }
}

/// `spectral` with k = 1 (and with d = 1, or any rank-one G) equals `ngd`.
#[test]
fn spectral_with_one_column_is_ngd() {
    let (spec, ngd) = (Precond::Spectral { eps: None }, Precond::Ngd { eps: None });
    for case in 0..CASES {
        let seed = seed(4000, case);
        let mut rng = Rng::new(seed);
        let n = int(&mut rng, 1, 8);
        let s = log_uniform(&mut rng, 1e-3, 1e3);
        let col = gaussian(&mut rng, n, 1, s);
        let kr = int(&mut rng, 1, 4);
        let row = gaussian(&mut rng, 1, kr, s);
        for g in [col, row] {
            let (a, b) = (grad_k(&spec, &g), grad_k(&ngd, &g));
            let err = fro(&sub(&a, &b));
            assert!(err <= 1e-14, "seed {seed}: spectral ≠ ngd on {:?} (error {err:e})", g.shape());
            assert!((fro(&a) - 1.0).abs() <= 1e-14, "seed {seed}: ‖spectral(G)‖ = {} on a rank-one G", fro(&a));
        }
        // rank one, several columns: U Vᵀ = G/‖G‖_F too.
        let kv = int(&mut rng, 2, 4);
        let (u, v) = (gaussian(&mut rng, n.max(2), 1, 1.0), gaussian(&mut rng, 1, kv, s));
        let g = matmul(&u, &v);
        let err = fro(&sub(&grad_k(&spec, &g), &grad_k(&ngd, &g)));
        assert!(err <= 1e-7, "seed {seed}: spectral ≠ ngd on a rank-one {:?} (error {err:e})", g.shape());
    }
}

/// spectral ∇K(G) = U Vᵀ: for d ≥ k and full rank, PᵀP = I_k; for d < k,
/// P Pᵀ = I_d. In both cases PᵀG = V Σ Vᵀ is symmetric positive semidefinite
/// with trace ‖G‖_* = K(G). The Gram route squares the condition number, so
/// the tolerance is 100·k·ε·κ².
#[test]
fn spectral_grad_is_the_polar_factor() {
    let pk = Precond::Spectral { eps: None };
    for case in 0..CASES {
        let seed = seed(4100, case);
        let mut rng = Rng::new(seed);
        let (d, k) = (int(&mut rng, 1, 8), int(&mut rng, 1, 4));
        let s = log_uniform(&mut rng, 1e-3, 1e3);
        let g = gaussian(&mut rng, d, k, s);
        let kappa = condition(&g);
        if kappa > 1e4 {
            continue;
        }
        let tol = 100.0 * k as f64 * EPS * kappa * kappa;
        let pg = grad_k(&pk, &g);
        let (gram, n) = if d >= k { (matmul(&transpose(&pg), &pg), k) } else { (matmul(&pg, &transpose(&pg)), d) };
        let err = max_abs(&sub(&gram, &identity(n)));
        assert!(err <= tol, "seed {seed}: {d}x{k}, κ = {kappa:.2e}: U Vᵀ not orthonormal, error {err:e} > {tol:e}");
        let ptg = matmul(&transpose(&pg), &g);
        let scale = max_abs(&ptg);
        let asym = max_abs(&sub(&ptg, &transpose(&ptg)));
        assert!(asym <= tol * scale, "seed {seed}: PᵀG not symmetric ({asym:e})");
        let mut a = ptg.clone().into_vec();
        let (mut vals, mut vecs) = (vec![0.0; k], vec![0.0; k * k]);
        sym_eig(&mut a, k, &mut vals, &mut vecs);
        let min = vals.iter().fold(f64::INFINITY, |m, &x| m.min(x));
        assert!(min >= -tol * scale, "seed {seed}: PᵀG has eigenvalue {min:e} < 0");
        let trace: f64 = (0..k).map(|i| ptg.at(i, i)).sum();
        let nuc = nuclear_norm(&g);
        assert!((trace - nuc).abs() <= tol * nuc, "seed {seed}: tr(PᵀG) = {trace:e} but ‖G‖_* = {nuc:e}");
    }
}

/// `spectral:ε` shrinks every singular value: P = U diag(σ/√(σ² + ε²)) Vᵀ, so
/// ‖P‖₂ < 1, and it tends to `spectral` as ε → 0.
#[test]
fn spectral_eps_is_a_smoothed_polar_factor() {
    for case in 0..CASES {
        let seed = seed(4200, case);
        let mut rng = Rng::new(seed);
        let (d, k) = (int(&mut rng, 1, 8), int(&mut rng, 1, 4));
        let g = gaussian(&mut rng, d, k, 1.0);
        if condition(&g) > 100.0 {
            continue;
        }
        let eps = log_uniform(&mut rng, 1e-2, 1e2);
        let pg = grad_k(&Precond::Spectral { eps: Some(eps) }, &g);
        let sg = singular_values(&g);
        let sp = singular_values(&pg);
        for (i, (&a, &b)) in sg.iter().zip(&sp).enumerate().take(d.min(k)) {
            let want = a / (a * a + eps * eps).sqrt();
            assert!((b - want).abs() <= 1e-10, "seed {seed}: σ_{i}(P) = {b}, want {want} (ε = {eps})");
        }
        // ε = 1e-8 keeps the bias (ε²/2σ² per singular value) negligible and
        // the rounding well under the tolerance: for d < k, the null vectors of
        // GᵀG come out of a backward-stable eigensolver with a component of a
        // few u·‖G‖ in G's row space, which spectral drops and spectral:ε
        // multiplies by 1/ε (at ε = 1e-9 that reached 1.3e-6 here, and 8e-7
        // with the former Jacobi solver, against the 1e-6 tolerance).
        let limit = grad_k(&Precond::Spectral { eps: Some(1e-8) }, &g);
        let exact = grad_k(&Precond::Spectral { eps: None }, &g);
        assert!(fro(&sub(&limit, &exact)) <= 1e-6, "seed {seed}: spectral:1e-8 far from spectral");
    }
}

/// The potentials K of SPEC §3 at random points, against their closed forms:
/// `spectral` is the nuclear norm ‖G‖_* and `spectral:ε` is Σ(√(σᵢ² + ε²) − ε),
/// on tall and wide G alike (for d < k, GᵀG has k − d zero eigenvalues, which
/// must contribute 0, not √(rounding) ≈ 1e-8·σ_max).
#[test]
fn spectral_potential_is_the_nuclear_norm() {
    for case in 0..CASES {
        let seed = seed(4300, case);
        let mut rng = Rng::new(seed);
        let (d, k) = (int(&mut rng, 1, 8), int(&mut rng, 1, 4));
        let s = log_uniform(&mut rng, 1e-3, 1e3);
        let g = gaussian(&mut rng, d, k, s);
        let sv = singular_values(&g);
        let scale = sv[0];
        let got = potential(&Precond::Spectral { eps: None }, &g);
        let want = nuclear_norm(&g);
        assert!((got - want).abs() <= 1e-12 * scale, "seed {seed}: {d}x{k}: K_spectral(G) = {got:e}, ‖G‖_* = {want:e}");
        let eps = 0.1 * scale;
        let got = potential(&Precond::Spectral { eps: Some(eps) }, &g);
        let want: f64 = sv.iter().map(|s| (s * s + eps * eps).sqrt() - eps).sum();
        assert!((got - want).abs() <= 1e-12 * scale, "seed {seed}: {d}x{k}: K_spectral:ε(G) = {got:e}, want {want:e}");
    }
}

/// class() and lipschitz() as in the table of SPEC §3; is_smooth ⇔ L_K < ∞.
#[test]
fn precond_class_and_lipschitz_table() {
    use PrecondClass::*;
    let table: &[(&str, PrecondClass, Option<f64>)] = &[
        ("gd", Isotropic, Some(1.0)),
        ("clip:0.5", Isotropic, Some(1.0)),
        ("ngd", Isotropic, None),
        ("ngd:0.01", Isotropic, Some(100.0)),
        ("ngd:4", Isotropic, Some(0.25)),
        ("power:1.5", Isotropic, None),
        ("power:2", Isotropic, Some(1.0)),
        ("power:3", Isotropic, None),
        ("spectral", RightInvariant, None),
        ("spectral:0.5", RightInvariant, Some(2.0)),
        ("sign", Separable, None),
        ("adam:1e-3", Separable, Some(1e3)),
        ("adam:0.25", Separable, Some(4.0)),
        ("eclip:0.1", Separable, Some(1.0)),
        ("lp:1.5", Separable, None),
        ("lp:2", Separable, Some(1.0)),
        ("lp:3", Separable, None),
    ];
    for &(spec, class, lip) in table {
        let pk = p(spec);
        assert_eq!(pk.class(), class, "class of {spec}");
        assert_eq!(pk.lipschitz(), lip, "L_K of {spec}");
        assert_eq!(pk.is_smooth(), lip.is_some(), "is_smooth of {spec}");
    }
    assert_eq!(Precond::default(), Precond::Gd);
    assert!(Isotropic.is_right_invariant() && RightInvariant.is_right_invariant());
    assert!(!Separable.is_right_invariant() && !General.is_right_invariant());
    for (c, s) in [(Isotropic, "isotropic"), (RightInvariant, "right-invariant"), (Separable, "separable"), (General, "general")] {
        assert_eq!(c.as_str(), s);
        assert_eq!(c.to_string(), s);
    }
}

/// lipschitz() is a true and tight Lipschitz constant: for smooth K,
/// ‖∇K(A) − ∇K(B)‖ ≤ L_K‖A − B‖ on random pairs, and the ratio reaches
/// 0.99·L_K near 0; for non-smooth K the ratio exceeds 1e3 somewhere (near 0
/// or far out), so `None` is not an overly cautious answer.
#[test]
fn precond_lipschitz_constant_is_valid_and_tight() {
    for (pi, pk) in all_preconds().iter().enumerate() {
        let ratio = |a: &Mat<f64>, b: &Mat<f64>| fro(&sub(&grad_k(pk, a), &grad_k(pk, b))) / fro(&sub(a, b));
        let mut best = 0.0f64;
        for case in 0..CASES {
            let seed = seed(5000 + pi as u64, case);
            let mut rng = Rng::new(seed);
            let (d, k) = (int(&mut rng, 1, 8), int(&mut rng, 1, 4));
            let s = log_uniform(&mut rng, 1e-8, 1e6);
            let a = gaussian(&mut rng, d, k, s);
            let b = if case % 2 == 0 { Mat::from_fn(d, k, |i, j| -a.at(i, j)) } else { gaussian(&mut rng, d, k, s) };
            let r = ratio(&a, &b);
            best = best.max(r);
            if let Some(l) = pk.lipschitz() {
                assert!(r <= l * (1.0 + 1e-10), "seed {seed}: {pk}: ‖ΔP‖/‖ΔG‖ = {r} > L_K = {l}");
            }
        }
        match pk.lipschitz() {
            Some(l) => assert!(best >= 0.99 * l, "{pk}: the largest ratio seen is {best}, L_K = {l} is not tight"),
            None => assert!(best > 1e3, "{pk}: declared non-smooth but the largest ratio seen is {best}"),
        }
    }
}

/// The potential K is convex, even and vanishes only at 0 on random points,
/// and is consistent with ∇K along a segment: K(B) − K(A) = ∫ ⟨∇K, B − A⟩
/// (Simpson's rule with 256 panels; checks K and ∇K at non-differentiable
/// points too, where finite differences are not used).
#[test]
fn potential_integrates_grad_along_segments() {
    for (pi, pk) in all_preconds().iter().enumerate() {
        for case in 0..CASES / 4 {
            let seed = seed(6000 + pi as u64, case);
            let mut rng = Rng::new(seed);
            let (d, k) = (int(&mut rng, 1, 8), int(&mut rng, 1, 4));
            let mut d2 = d;
            if matches!(pk, Precond::Spectral { eps: None }) {
                d2 = d.max(k);
            }
            let a = gaussian(&mut rng, d2, k, 1.0);
            let b = gaussian(&mut rng, d2, k, 1.0);
            let (ka, kb) = (potential(pk, &a), potential(pk, &b));
            assert!(ka > 0.0 && kb > 0.0, "seed {seed}: {pk}: K ≤ 0 away from 0");
            let neg = Mat::from_fn(d2, k, |i, j| -a.at(i, j));
            assert!((potential(pk, &neg) - ka).abs() <= 1e-12 * ka, "seed {seed}: {pk}: K not even");
            let mid = Mat::from_fn(d2, k, |i, j| 0.5 * (a.at(i, j) + b.at(i, j)));
            assert!(potential(pk, &mid) <= 0.5 * (ka + kb) * (1.0 + 1e-12), "seed {seed}: {pk}: K not convex");
            let n = 256;
            let diff = sub(&b, &a);
            let mut integral = 0.0;
            for t in 0..=n {
                let w = if t == 0 || t == n {
                    1.0
                } else if t % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                let x = t as f64 / n as f64;
                let pt = Mat::from_fn(d2, k, |i, j| a.at(i, j) + x * diff.at(i, j));
                integral += w * dot(&grad_k(pk, &pt), &diff);
            }
            integral /= 3.0 * n as f64;
            // Simpson is exact to O(n⁻⁴) for smooth integrands; kinks along
            // the segment (sign, eclip, clip) leave an O(1/n) error, at most (8/3n)·‖B − A‖₁ ≈ 1e-2·(K(A) + K(B)).
            let tol = 2e-2 * (ka.abs() + kb.abs());
            assert!((integral - (kb - ka)).abs() <= tol, "seed {seed}: {pk}: ∫⟨∇K, B − A⟩ = {integral:e} but K(B) − K(A) = {:e}", kb - ka);
        }
    }
}

/// ∇K is scale-robust: no overflow or underflow of ‖G‖² for the isotropic and
/// spectral maps at entries of size 1e±170 (‖G‖²_F would be 1e±340, outside
/// f64). `ngd` and `spectral` are invariant under G → cG, c > 0, and
/// `clip:1` of a huge G is G/‖G‖_F. (`power:p` is left out: its true value
/// over- or underflows there.)
#[test]
fn precond_grad_at_extreme_scales() {
    for case in 0..CASES / 4 {
        let seed = seed(7000, case);
        let mut rng = Rng::new(seed);
        let (d, k) = (int(&mut rng, 1, 8), int(&mut rng, 1, 4));
        let g = gaussian(&mut rng, d, k, 1.0);
        for pk in [Precond::Ngd { eps: None }, Precond::Spectral { eps: None }] {
            let unit = grad_k(&pk, &g);
            for c in [1e-170, 1e170] {
                let gc = Mat::from_fn(d, k, |i, j| c * g.at(i, j));
                let out = grad_k(&pk, &gc);
                let err = fro(&sub(&out, &unit));
                assert!(
                    err <= 1e-8 * fro(&unit),
                    "seed {seed}: {pk}: ∇K({c:e}·G) ≠ ∇K(G) on {d}x{k}: {:?} vs {:?}",
                    out.as_slice(),
                    unit.as_slice()
                );
            }
        }
        let clip = Precond::Clip { tau: 1.0 };
        let gc = Mat::from_fn(d, k, |i, j| 1e170 * g.at(i, j));
        let want = grad_k(&Precond::Ngd { eps: None }, &g);
        let err = fro(&sub(&grad_k(&clip, &gc), &want));
        assert!(err <= 1e-8, "seed {seed}: clip:1 of 1e170·G is {:?}, want G/‖G‖ = {:?}", grad_k(&clip, &gc).as_slice(), want.as_slice());
    }
}

/// Loss and preconditioner typed values reject bad parameters (the typed
/// constructor path of SPEC §8), naming the parameter.
#[test]
fn validate_rejects_bad_typed_values() {
    for (loss, sym) in [
        (Loss::Huber { delta: 0.0 }, "δ"),
        (Loss::Huber { delta: -1.0 }, "δ"),
        (Loss::Huber { delta: f64::NAN }, "δ"),
        (Loss::Huber { delta: f64::INFINITY }, "δ"),
        (Loss::Lp { p: 1.5 }, "p"),
        (Loss::Lp { p: 1.999 }, "p"),
        (Loss::Lp { p: f64::NAN }, "p"),
        (Loss::Lp { p: f64::INFINITY }, "p"),
    ] {
        let e = loss.validate().expect_err(&format!("{loss:?} must be rejected"));
        assert_eq!(e.what, "loss");
        assert!(e.reason.contains(sym), "{loss:?}: message '{e}' does not name {sym}");
    }
    for loss in all_losses() {
        loss.validate().unwrap_or_else(|e| panic!("{loss}: {e}"));
    }
    for (pk, sym) in [
        (Precond::Clip { tau: 0.0 }, "τ"),
        (Precond::Clip { tau: -1.0 }, "τ"),
        (Precond::Clip { tau: f64::NAN }, "τ"),
        (Precond::EClip { tau: f64::INFINITY }, "τ"),
        (Precond::EClip { tau: -0.0 }, "τ"),
        (Precond::Ngd { eps: Some(0.0) }, "ε"),
        (Precond::Ngd { eps: Some(f64::NAN) }, "ε"),
        (Precond::Spectral { eps: Some(-1e-3) }, "ε"),
        (Precond::Spectral { eps: Some(f64::INFINITY) }, "ε"),
        (Precond::Adam { eps: 0.0 }, "ε"),
        (Precond::Adam { eps: f64::NAN }, "ε"),
        (Precond::Power { p: 1.0 }, "p"),
        (Precond::Power { p: 0.5 }, "p"),
        (Precond::Power { p: f64::INFINITY }, "p"),
        (Precond::Lp { p: 1.0 }, "p"),
        (Precond::Lp { p: f64::NAN }, "p"),
    ] {
        let e = pk.validate().expect_err(&format!("{pk:?} must be rejected"));
        assert_eq!(e.what, "preconditioner");
        assert!(e.reason.contains(sym), "{pk:?}: message '{e}' does not name {sym}");
    }
    for pk in all_preconds() {
        pk.validate().unwrap_or_else(|e| panic!("{pk}: {e}"));
    }
    Precond::Ngd { eps: None }.validate().unwrap();
    Precond::Spectral { eps: None }.validate().unwrap();
}
