//! Eigendecomposition of a small symmetric matrix (the k×k GᵀG of the
//! spectral preconditioners): Householder reduction to tridiagonal form, then
//! implicit symmetric QR steps with Wilkinson shifts, accumulating the
//! eigenvectors. Backward stable (the computed pairs are exact for a matrix
//! within a modest multiple of k·u·‖A‖ of A), O(k³) with every inner loop
//! running along a row, and allocation-free.

/// Eigendecomposition A = V diag(λ) Vᵀ of the symmetric `n × n` row-major
/// matrix in `a` (destroyed; only its symmetric part (A + Aᵀ)/2 is used).
/// Eigenvalues go to `vals` in ascending order, eigenvectors to the
/// corresponding columns of `vecs` (row-major `n × n`, orthonormal).
///
/// A non-finite entry in `a` gives NaN in every entry of `vals` and `vecs`.
/// The QR iteration is capped at 30·n steps (it needs about 2 per
/// eigenvalue); should the cap ever be hit, the current approximations are
/// returned, with `vecs` still orthonormal.
///
/// # Panics
/// If `a` or `vecs` has fewer than n² entries or `vals` fewer than n.
pub fn sym_eig(a: &mut [f64], n: usize, vals: &mut [f64], vecs: &mut [f64]) {
    assert!(a.len() >= n * n && vecs.len() >= n * n && vals.len() >= n, "sym_eig: buffers too small");
    let (a, vals, vecs) = (&mut a[..n * n], &mut vals[..n], &mut vecs[..n * n]);
    if n == 0 {
        return;
    }
    let mut amax = 0.0f64;
    for &x in a.iter() {
        if !x.is_finite() {
            vals.fill(f64::NAN);
            vecs.fill(f64::NAN);
            return;
        }
        amax = amax.max(x.abs());
    }
    if amax == 0.0 {
        vals.fill(0.0);
        set_identity(vecs, n);
        return;
    }
    // Work on 2^-p·A with max |entry| near 1 (exact: a power-of-two scaling),
    // so that squares and products below cannot overflow, and underflow only
    // in terms negligible against ‖A‖.
    let p = amax.log2().round().clamp(-1022.0, 1022.0) as i32;
    let (down, up) = (pow2(-p), pow2(p));
    for i in 0..n {
        a[i * n + i] *= down;
        for j in (i + 1)..n {
            let s = 0.5 * (a[i * n + j] * down + a[j * n + i] * down);
            a[i * n + j] = s;
            a[j * n + i] = s;
        }
    }
    tridiagonalize(a, n, vals);
    // vecs = Qᵀ, with A = Q T Qᵀ; the QR steps then rotate its rows, so that
    // it holds Vᵀ, and the transpose at the end gives V.
    form_qt(a, n, vecs);
    // Diagonal of T into `vals`, its off-diagonal into a[..n] (e[i] couples
    // i and i + 1; e[n − 1] = 0). See `tridiagonalize` for where they are.
    for i in 0..n {
        vals[i] = a[i * n + i];
    }
    if n >= 2 {
        let last = a[(n - 2) * n + n - 1];
        for j in 0..n - 2 {
            a[j] = a[(j + 1) * n + j];
        }
        a[n - 2] = last;
    }
    a[n - 1] = 0.0;
    tridiagonal_qr(vals, &mut a[..n], vecs, n);
    // Ascending order (selection sort: at most n − 1 row swaps).
    for i in 0..n {
        let mut m = i;
        for j in (i + 1)..n {
            if vals[j] < vals[m] {
                m = j;
            }
        }
        if m != i {
            vals.swap(i, m);
            let (top, bot) = vecs.split_at_mut(m * n);
            top[i * n..(i + 1) * n].swap_with_slice(&mut bot[..n]);
        }
    }
    for i in 0..n {
        for j in (i + 1)..n {
            vecs.swap(i * n + j, j * n + i);
        }
    }
    for v in vals.iter_mut() {
        *v *= up;
    }
}

/// 2^p for p in [−1022, 1022], exactly.
fn pow2(p: i32) -> f64 {
    f64::from_bits(((1023 + p) as u64) << 52)
}

fn set_identity(m: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] = if i == j { 1.0 } else { 0.0 };
        }
    }
}

/// Reduces the symmetric `a` to tridiagonal T = Qᵀ A Q, Q = H₀ H₁ ⋯ H_{n−3},
/// with reflectors H_j = I − β_j v_j v_jᵀ (v_j zero in entries 0..=j).
/// Step j maps row j of the trailing matrix, x = A[j, j+1..], to e_j·e₁ and
/// updates A[j+1.., j+1..] (both triangles, so that all reads are along
/// rows). On return: T's diagonal is on a's diagonal; e_j = T[j][j+1] is at
/// a[j+1][j] for j ≤ n − 3 and e_{n−2} at a[n−2][n−1]; v_j (from entry j+1
/// on) is in row j right of the diagonal and β_j at a[j+2][j].
/// `scratch` needs n entries.
fn tridiagonalize(a: &mut [f64], n: usize, scratch: &mut [f64]) {
    for j in 0..n.saturating_sub(2) {
        let m = n - j - 1;
        let (head, tail) = a.split_at_mut((j + 1) * n);
        let v = &mut head[j * n + j + 1..];
        let xmax = v.iter().fold(0.0f64, |s, x| s.max(x.abs()));
        let (e, beta) = if xmax < TINY {
            // Nothing (or a negligible remainder, below 1e-154 against the
            // normalised ‖A‖ ≈ 1) to eliminate: H_j = I, and the entries
            // beyond x₀ are dropped.
            (v[0], 0.0)
        } else {
            // xmax ≥ 1e-154, so the squares cannot all underflow; entries
            // stay O(n) after the normalisation, so they cannot overflow.
            let sigma = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            let x0 = v[0];
            // α = −sign(x₀)·σ avoids cancellation in v₀ = x₀ − α.
            let alpha = if x0 >= 0.0 { -sigma } else { sigma };
            v[0] = x0 - alpha;
            // vᵀv = 2σ(σ + |x₀|), β = 2 / vᵀv.
            (alpha, 1.0 / (sigma * (sigma + x0.abs())))
        };
        if beta != 0.0 {
            let v = &*v;
            // A₂₂ ← H A₂₂ H = A₂₂ − v wᵀ − w vᵀ with p = β A₂₂ v and
            // w = p − (β/2)(pᵀv) v.
            let w = &mut scratch[..m];
            for (r, wr) in w.iter_mut().enumerate() {
                let row = &tail[r * n + j + 1..(r + 1) * n];
                *wr = beta * dot(row, v);
            }
            let k = 0.5 * beta * dot(w, v);
            for (wr, &vr) in w.iter_mut().zip(v) {
                *wr -= k * vr;
            }
            for r in 0..m {
                let (vr, wr) = (v[r], w[r]);
                let row = &mut tail[r * n + j + 1..(r + 1) * n];
                for ((x, &vc), &wc) in row.iter_mut().zip(v).zip(w.iter()) {
                    *x -= vr * wc + wr * vc;
                }
            }
        }
        // Column j below the diagonal is never read again: e_j and β_j go there.
        tail[j] = e;
        tail[n + j] = beta;
    }
}

/// Writes Qᵀ = H_{n−3} ⋯ H₁ H₀ into `qt` from the reflectors that
/// [`tridiagonalize`] left in `a`, accumulating backwards, M ← M H_j: the
/// partial product differs from I only in rows and columns > j.
fn form_qt(a: &[f64], n: usize, qt: &mut [f64]) {
    set_identity(qt, n);
    for j in (0..n.saturating_sub(2)).rev() {
        let beta = a[(j + 2) * n + j];
        if beta == 0.0 {
            continue;
        }
        let v = &a[j * n + j + 1..(j + 1) * n];
        for r in (j + 1)..n {
            let row = &mut qt[r * n + j + 1..(r + 1) * n];
            let s = beta * dot(row, v);
            for (x, &vc) in row.iter_mut().zip(v) {
                *x -= s * vc;
            }
        }
    }
}

/// Diagonalizes the symmetric tridiagonal T (diagonal `d`, off-diagonal `e`,
/// e[i] = T[i][i+1], e[n−1] unused) by implicit QR steps with Wilkinson
/// shifts, each rotation also applied to the rows of `vt` (n × n). On
/// return `d` holds the eigenvalues (unsorted). `T` is scaled so that its
/// entries are O(1) (see [`sym_eig`]).
fn tridiagonal_qr(d: &mut [f64], e: &mut [f64], vt: &mut [f64], n: usize) {
    if n < 2 {
        return;
    }
    let tnorm = d.iter().chain(&e[..n - 1]).fold(0.0f64, |m, x| m.max(x.abs()));
    // e[i] counts as zero below u·(|d_i| + |d_{i+1}|) (which keeps small
    // eigenvalues of a graded T accurate), or below u²·‖T‖ (so that a block
    // with zero diagonal cannot keep iterating into the underflow range).
    let floor = f64::EPSILON * f64::EPSILON * tnorm;
    let negligible = |d: &[f64], e: &[f64], i: usize| {
        let x = e[i].abs();
        x <= f64::EPSILON * (d[i].abs() + d[i + 1].abs()) || x <= floor
    };
    let max_steps = 30 * n;
    let mut steps = 0;
    // Trailing block being worked on: lo..=hi, e[lo..hi] not negligible.
    let mut hi = n - 1;
    while hi > 0 {
        if negligible(d, e, hi - 1) {
            e[hi - 1] = 0.0;
            hi -= 1;
            continue;
        }
        let mut lo = hi - 1;
        while lo > 0 && !negligible(d, e, lo - 1) {
            lo -= 1;
        }
        if lo > 0 {
            e[lo - 1] = 0.0;
        }
        if steps == max_steps {
            break;
        }
        steps += 1;
        qr_step(d, e, vt, n, lo, hi);
    }
}

/// One implicit QR step on the unreduced block lo..=hi of T: the shift μ is
/// the eigenvalue of the trailing 2×2 block nearer to d[hi] (Wilkinson); the
/// first rotation is that of QR on T − μI, and the rest chase the bulge it
/// makes down the band.
fn qr_step(d: &mut [f64], e: &mut [f64], vt: &mut [f64], n: usize, lo: usize, hi: usize) {
    let delta = 0.5 * (d[hi - 1] - d[hi]);
    let b = e[hi - 1];
    let h = delta.hypot(b);
    // μ = d_hi − b²/(δ + sign(δ)·√(δ² + b²)); the denominator is ≥ |b| > 0.
    let mu = d[hi] - b * (b / (delta + if delta >= 0.0 { h } else { -h }));
    let mut x = d[lo] - mu;
    let mut z = e[lo];
    for k in lo..hi {
        // Rotation in the (k, k+1) plane with new basis vectors
        // q_k = c·e_k + s·e_{k+1}, q_{k+1} = −s·e_k + c·e_{k+1}, taking
        // (x, z) to (r, 0): for k > lo, (x, z) = (T[k−1][k], bulge T[k−1][k+1]).
        let r2 = x * x + z * z;
        let r = if r2 >= 1e-290 { r2.sqrt() } else { x.hypot(z) };
        let (c, s) = if r == 0.0 { (1.0, 0.0) } else { (x / r, z / r) };
        if k > lo {
            e[k - 1] = r;
        }
        let (dk, dk1, ek) = (d[k], d[k + 1], e[k]);
        let (cc, ss, cs) = (c * c, s * s, c * s);
        d[k] = cc * dk + 2.0 * cs * ek + ss * dk1;
        d[k + 1] = ss * dk - 2.0 * cs * ek + cc * dk1;
        e[k] = cs * (dk1 - dk) + (cc - ss) * ek;
        if k + 1 < hi {
            // The rotation fills T[k][k+2] = s·e_{k+1} (the new bulge).
            x = e[k];
            z = s * e[k + 1];
            e[k + 1] *= c;
        }
        let (top, bot) = vt.split_at_mut((k + 1) * n);
        let rk = &mut top[k * n..];
        for (p, q) in rk.iter_mut().zip(&mut bot[..n]) {
            let (vp, vq) = (*p, *q);
            *p = c * vp + s * vq;
            *q = c * vq - s * vp;
        }
    }
}

/// Below this a row of the trailing matrix is treated as already reduced:
/// √(smallest normal f64) ≈ 1.5e-154.
const TINY: f64 = 1.4916681462400413e-154;

fn dot(x: &[f64], y: &[f64]) -> f64 {
    // Four partial sums: independent chains that the compiler can keep in
    // vector registers (a single accumulator serialises on the add latency).
    let mut acc = [0.0f64; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
}

/// Scratch for [`sym_eig`] and the spectral maps, sized once for k.
#[derive(Debug, Clone, Default)]
pub struct EigWorkspace {
    pub(crate) a: Vec<f64>,
    pub(crate) vecs: Vec<f64>,
    pub(crate) vals: Vec<f64>,
}

impl EigWorkspace {
    /// Scratch for k×k problems.
    pub fn new(k: usize) -> Self {
        Self { a: vec![0.0; k * k], vecs: vec![0.0; k * k], vals: vec![0.0; k] }
    }
}

/// Φ = f(S) for the symmetric k×k `s` (row-major): V diag(f(λ)) Vᵀ.
pub fn sym_fn(s: &[f64], k: usize, ws: &mut EigWorkspace, f: impl Fn(f64, f64) -> f64, out: &mut [f64]) {
    if ws.vals.len() < k {
        *ws = EigWorkspace::new(k);
    }
    ws.a[..k * k].copy_from_slice(&s[..k * k]);
    sym_eig(&mut ws.a, k, &mut ws.vals, &mut ws.vecs);
    let lmax = ws.vals[..k].iter().fold(0.0f64, |m, &x| m.max(x));
    for i in 0..k {
        ws.vals[i] = f(ws.vals[i], lmax);
    }
    // W = V diag(f(λ)) into the (now free) `a`; then Φ = W Vᵀ, symmetric, so
    // each entry is one row-by-row dot product, computed once for both halves.
    for i in 0..k {
        for l in 0..k {
            ws.a[i * k + l] = ws.vecs[i * k + l] * ws.vals[l];
        }
    }
    for i in 0..k {
        let w = &ws.a[i * k..(i + 1) * k];
        for j in i..k {
            let acc = dot(w, &ws.vecs[j * k..(j + 1) * k]);
            out[i * k + j] = acc;
            out[j * k + i] = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    const U: f64 = f64::EPSILON;

    /// Bound constant: backward-stable pairs satisfy ‖AV − VΛ‖_F ≤ C·k·u·‖A‖_F
    /// and ‖VᵀV − I‖_F ≤ C·k·u. The a priori analysis (Householder reduction:
    /// Wilkinson; implicit QR: Golub & Van Loan §8.3.6) gives such bounds with
    /// a low-degree polynomial in k in place of C·k: each row of V meets O(k)
    /// reflections and rotations, each with O(u) error, and the test's own
    /// dot products add about u per entry. Observed over the matrices below
    /// (k from 1 to 150): residuals up to 0.92·k·u·‖A‖ (largest at k = 3,
    /// about 0.15 at k = 100), orthogonality up to 1.7·k·u (about 1.2 at
    /// k = 100; the old Jacobi solver gave 0.83 and 7.7 there). C = 4 keeps a
    /// margin of 2.4× over the worst case, and the tests still fail when
    /// precision is lost (e.g. with the rotations' c and s rounded to f32, or
    /// a loose deflation test).
    const C: f64 = 4.0;

    /// The old cyclic Jacobi solver, as a reference.
    fn jacobi(a: &mut [f64], n: usize, vals: &mut [f64], vecs: &mut [f64]) {
        set_identity(vecs, n);
        for _sweep in 0..64 {
            let (mut off, mut diag) = (0.0, 0.0);
            for i in 0..n {
                diag += a[i * n + i] * a[i * n + i];
                for j in (i + 1)..n {
                    off += a[i * n + j] * a[i * n + j];
                }
            }
            if off <= U * U * diag * 1e-2 || off == 0.0 {
                break;
            }
            for p in 0..n {
                for q in (p + 1)..n {
                    let apq = a[p * n + q];
                    if apq == 0.0 {
                        continue;
                    }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                    let t = if theta == 0.0 { 1.0 } else { theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt()) };
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for k in 0..n {
                        let (x, y) = (a[k * n + p], a[k * n + q]);
                        a[k * n + p] = c * x - s * y;
                        a[k * n + q] = s * x + c * y;
                    }
                    for k in 0..n {
                        let (x, y) = (a[p * n + k], a[q * n + k]);
                        a[p * n + k] = c * x - s * y;
                        a[q * n + k] = s * x + c * y;
                    }
                    for k in 0..n {
                        let (x, y) = (vecs[k * n + p], vecs[k * n + q]);
                        vecs[k * n + p] = c * x - s * y;
                        vecs[k * n + q] = s * x + c * y;
                    }
                }
            }
        }
        for i in 0..n {
            vals[i] = a[i * n + i];
        }
    }

    fn fro(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    fn eig(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
        let (mut w, mut vals, mut vecs) = (a.to_vec(), vec![0.0; n], vec![0.0; n * n]);
        sym_eig(&mut w, n, &mut vals, &mut vecs);
        (vals, vecs)
    }

    /// (‖AV − VΛ‖_F / ‖A‖_F, ‖VᵀV − I‖_F), both in units of k·u.
    fn errors(a: &[f64], n: usize, vals: &[f64], vecs: &[f64]) -> (f64, f64) {
        let mut r = vec![0.0; n * n];
        let mut o = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let av: f64 = (0..n).map(|l| a[i * n + l] * vecs[l * n + j]).sum();
                r[i * n + j] = av - vecs[i * n + j] * vals[j];
                let vtv: f64 = (0..n).map(|l| vecs[l * n + i] * vecs[l * n + j]).sum();
                o[i * n + j] = vtv - if i == j { 1.0 } else { 0.0 };
            }
        }
        let norm = fro(&a[..n * n]);
        let res = if norm == 0.0 { fro(&r) } else { fro(&r) / norm };
        (res / (n as f64 * U), fro(&o) / (n as f64 * U))
    }

    /// Decomposes `a`, checks the residual, orthogonality and order, returns (Λ, V).
    fn check(a: &[f64], n: usize, what: &str) -> (Vec<f64>, Vec<f64>) {
        let (vals, vecs) = eig(a, n);
        let (res, orth) = errors(a, n, &vals, &vecs);
        assert!(res <= C, "{what}, k = {n}: ‖AV − VΛ‖ = {res:.3}·k·u·‖A‖");
        assert!(orth <= C, "{what}, k = {n}: ‖VᵀV − I‖ = {orth:.3}·k·u");
        assert!(vals.windows(2).all(|w| w[0] <= w[1]), "{what}, k = {n}: eigenvalues not ascending: {vals:?}");
        (vals, vecs)
    }

    fn random_sym(rng: &mut Rng, n: usize) -> Vec<f64> {
        let b: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = 0.5 * (b[i * n + j] + b[j * n + i]);
            }
        }
        a
    }

    /// GᵀG for a d×n Gaussian G (rank min(d, n)).
    fn gram(rng: &mut Rng, d: usize, n: usize) -> Vec<f64> {
        let g: Vec<f64> = (0..d * n).map(|_| rng.normal()).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..d).map(|l| g[l * n + i] * g[l * n + j]).sum();
            }
        }
        a
    }

    /// H diag(λ) H with the reflector H = I − 2uuᵀ/uᵀu of a random u: known
    /// eigenvalues, a dense matrix.
    fn with_spectrum(rng: &mut Rng, lambda: &[f64]) -> Vec<f64> {
        let n = lambda.len();
        let u: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let uu: f64 = u.iter().map(|x| x * x).sum();
        let h = |i: usize, j: usize| if i == j { 1.0 } else { 0.0 } - 2.0 * u[i] * u[j] / uu;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|l| h(i, l) * lambda[l] * h(l, j)).sum();
            }
        }
        a
    }

    const SIZES: [usize; 7] = [1, 2, 3, 7, 50, 100, 150];

    #[test]
    fn random_symmetric_and_gram_matrices() {
        for (s, &n) in SIZES.iter().enumerate() {
            let seed = 7100 + s as u64;
            let mut rng = Rng::new(seed);
            check(&random_sym(&mut rng, n), n, &format!("seed {seed}: random symmetric"));
            check(&gram(&mut rng, n + 5, n), n, &format!("seed {seed}: GᵀG, full rank"));
            // d < k: GᵀG has k − d structural zero eigenvalues.
            let d = n.div_ceil(2);
            let (vals, _) = check(&gram(&mut rng, d, n), n, &format!("seed {seed}: GᵀG, rank-deficient"));
            let lmax = vals[n - 1];
            for &l in &vals[..n - d] {
                assert!(l.abs() <= C * n as f64 * U * lmax, "seed {seed}: k = {n}: structural zero eigenvalue {l:e} (λ_max {lmax:e})");
            }
        }
    }

    /// Eigenvalues agree with the old Jacobi solver's to within the two
    /// backward errors (Weyl: |Δλ| ≤ ‖E_qr‖₂ + ‖E_jacobi‖₂), and eigenvectors
    /// of well-separated eigenvalues agree up to sign (Davis–Kahan:
    /// sin∠ ≤ ‖E‖₂ / gap).
    #[test]
    fn agrees_with_jacobi() {
        for (s, &n) in [3usize, 7, 50, 100].iter().enumerate() {
            let seed = 7200 + s as u64;
            let mut rng = Rng::new(seed);
            for a in [random_sym(&mut rng, n), gram(&mut rng, n + 2, n)] {
                let (vals, vecs) = check(&a, n, &format!("seed {seed}: vs Jacobi"));
                let (mut w, mut jv, mut jx) = (a.clone(), vec![0.0; n], vec![0.0; n * n]);
                jacobi(&mut w, n, &mut jv, &mut jx);
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&i, &j| jv[i].total_cmp(&jv[j]));
                let tol = 2.0 * C * n as f64 * U * fro(&a);
                for (i, &o) in order.iter().enumerate() {
                    assert!((vals[i] - jv[o]).abs() <= tol, "seed {seed}: k = {n}: λ_{i} = {} vs Jacobi {}", vals[i], jv[o]);
                    let gap = (0..n).filter(|&j| j != i).map(|j| (vals[j] - vals[i]).abs()).fold(f64::INFINITY, f64::min);
                    if gap > 1e6 * tol {
                        let cos: f64 = (0..n).map(|r| vecs[r * n + i] * jx[r * n + o]).sum();
                        assert!(1.0 - cos.abs() <= (tol / gap).powi(2) + 1e3 * U, "seed {seed}: k = {n}: eigenvector {i}: |cos| = {cos}");
                    }
                }
            }
        }
    }

    /// Against closed forms: the second-difference matrix tridiag(−1, 2, −1)
    /// has λ_j = 2 − 2cos(jπ/(k+1)); H diag(λ) H has λ, including repeated
    /// values and clusters.
    #[test]
    fn known_spectra() {
        for &n in &SIZES {
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                a[i * n + i] = 2.0;
                if i + 1 < n {
                    a[i * n + i + 1] = -1.0;
                    a[(i + 1) * n + i] = -1.0;
                }
            }
            let (vals, _) = check(&a, n, "second difference");
            for (j, &l) in vals.iter().enumerate() {
                let exact = 2.0 - 2.0 * ((j + 1) as f64 * core::f64::consts::PI / (n + 1) as f64).cos();
                assert!((l - exact).abs() <= C * n as f64 * U * 4.0, "k = {n}: λ_{j} = {l} vs {exact}");
            }
        }
        let mut rng = Rng::new(7300);
        for &n in &SIZES[2..] {
            let spectra: [Vec<f64>; 3] = [
                // Few distinct values, each repeated.
                (0..n).map(|i| [1.0, 2.0, -3.0][i % 3]).collect(),
                // A tight cluster beside isolated values.
                (0..n).map(|i| if i % 2 == 0 { 1.0 + i as f64 * 1e-12 } else { i as f64 }).collect(),
                // Identity plus rank one.
                (0..n).map(|i| if i == 0 { 10.0 } else { 1.0 }).collect(),
            ];
            for lambda in spectra {
                let a = with_spectrum(&mut rng, &lambda);
                let (vals, _) = check(&a, n, "known spectrum (seed 7300)");
                let mut sorted = lambda.clone();
                sorted.sort_by(f64::total_cmp);
                // Forming A adds O(k·u·‖A‖) error of its own.
                let tol = 2.0 * C * n as f64 * U * fro(&a);
                for (l, e) in vals.iter().zip(&sorted) {
                    assert!((l - e).abs() <= tol, "k = {n}: {l} vs {e}");
                }
            }
        }
    }

    #[test]
    fn zero_diagonal_and_rank_one() {
        for &n in &SIZES {
            let (vals, vecs) = eig(&vec![0.0; n * n], n);
            assert!(vals.iter().all(|&l| l == 0.0));
            assert!((0..n * n).all(|i| vecs[i] == if i % (n + 1) == 0 { 1.0 } else { 0.0 }), "k = {n}: zero matrix: V ≠ I");

            // A diagonal matrix is already diagonal: exact eigenvalues, and V a
            // permutation.
            let diag: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                a[i * n + i] = diag[i];
            }
            let (vals, vecs) = check(&a, n, "diagonal");
            let mut sorted = diag.clone();
            sorted.sort_by(f64::total_cmp);
            assert_eq!(vals, sorted);
            assert!(vecs.iter().all(|&x| x == 0.0 || x.abs() == 1.0), "k = {n}: diagonal: V not a permutation");

            // GᵀG of a rank-one G = g hᵀ: ‖g‖²·h hᵀ, one eigenvalue ‖g‖²‖h‖².
            let seed = 7400 + n as u64;
            let mut rng = Rng::new(seed);
            let h: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let g2: f64 = (0..5).map(|_| rng.normal().powi(2)).sum();
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] = g2 * h[i] * h[j];
                }
            }
            let (vals, vecs) = check(&a, n, &format!("seed {seed}: rank one"));
            let top = g2 * h.iter().map(|x| x * x).sum::<f64>();
            assert!((vals[n - 1] - top).abs() <= C * n as f64 * U * top, "seed {seed}: k = {n}: {} vs {top}", vals[n - 1]);
            assert!(vals[..n - 1].iter().all(|l| l.abs() <= C * n as f64 * U * top), "seed {seed}: k = {n}: rank one: {vals:?}");
            let hn = h.iter().map(|x| x * x).sum::<f64>().sqrt();
            let cos: f64 = (0..n).map(|r| vecs[r * n + n - 1] * h[r] / hn).sum();
            assert!(1.0 - cos.abs() <= C * n as f64 * U, "seed {seed}: k = {n}: rank one: top eigenvector off h ({cos})");
        }
    }

    /// Scaling A scales Λ and leaves V: no overflow or underflow for entries
    /// far from 1.
    #[test]
    fn huge_and_tiny_scales() {
        for (s, &n) in SIZES.iter().enumerate() {
            let seed = 7500 + s as u64;
            let mut rng = Rng::new(seed);
            let a = gram(&mut rng, n + 1, n);
            for scale in [1e150, 1e-150, 1e300, 1e-300, 1e-310] {
                // Keep the largest entry finite (k(k+1)·1e300 would overflow).
                let f = scale / fro(&a);
                let big: Vec<f64> = a.iter().map(|x| x * f).collect();
                let (vals, vecs) = eig(&big, n);
                // Check against A itself: Λ/f are its eigenvalues (the rounding of
                // x·f adds u·‖A‖ at most, or subnormal spacing at 1e-310).
                let back: Vec<f64> = vals.iter().map(|l| l / f).collect();
                let (res, orth) = errors(&a, n, &back, &vecs);
                let slack = if scale < 1e-300 { 1e-8 / (n as f64 * U) } else { 0.0 };
                assert!(res <= C + slack && orth <= C, "seed {seed}: k = {n}, scale {scale:e}: residual {res:.3}, orthogonality {orth:.3} (·k·u)");
                assert!(vals.windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }

    #[test]
    fn non_finite_input_gives_nan_and_returns() {
        for &n in &SIZES {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut a = random_sym(&mut Rng::new(7600), n);
                a[(n / 2) * n + n - 1] = bad;
                let (vals, vecs) = eig(&a, n);
                assert!(vals.iter().chain(&vecs).all(|x| x.is_nan()), "k = {n}: {bad} in A");
            }
        }
    }

    /// Only the symmetric part is used: an antisymmetric addition (as rounding
    /// leaves in a computed PᵀG) changes nothing beyond rounding.
    #[test]
    fn uses_the_symmetric_part() {
        let n = 20;
        let mut rng = Rng::new(7700);
        let a = random_sym(&mut rng, n);
        let mut skew = a.clone();
        for i in 0..n {
            for j in (i + 1)..n {
                let t = 1e-3 * rng.normal();
                skew[i * n + j] += t;
                skew[j * n + i] -= t;
            }
        }
        let (v1, _) = eig(&a, n);
        let (v2, vecs) = eig(&skew, n);
        let (res, _) = errors(&a, n, &v2, &vecs);
        assert!(res <= C, "residual against the symmetric part {res:.3}·k·u");
        for (x, y) in v1.iter().zip(&v2) {
            assert!((x - y).abs() <= C * n as f64 * U * fro(&a));
        }
    }

    /// sym_fn: f = λ gives back S, f = 1 gives I, f = 1/√λ gives S^(−1/2).
    #[test]
    fn sym_fn_applies_f_to_the_spectrum() {
        for &n in &[1usize, 7, 100] {
            let mut rng = Rng::new(7800 + n as u64);
            let s = gram(&mut rng, n + 3, n);
            let mut ws = EigWorkspace::new(n);
            let mut out = vec![0.0; n * n];
            sym_fn(&s, n, &mut ws, |l, _| l, &mut out);
            let diff: Vec<f64> = out.iter().zip(&s).map(|(x, y)| x - y).collect();
            assert!(fro(&diff) <= C * n as f64 * U * fro(&s), "k = {n}: V Λ Vᵀ ≠ S");
            sym_fn(&s, n, &mut ws, |_, _| 1.0, &mut out);
            let diff: Vec<f64> = (0..n * n).map(|i| out[i] - if i % (n + 1) == 0 { 1.0 } else { 0.0 }).collect();
            assert!(fro(&diff) <= C * n as f64 * U, "k = {n}: V Vᵀ ≠ I");
            // Φ S Φ = I for Φ = S^(−1/2); S is well conditioned (d = k + 3 rows).
            sym_fn(&s, n, &mut ws, |l, _| 1.0 / l.sqrt(), &mut out);
            let ps: Vec<f64> = (0..n * n).map(|ij| (0..n).map(|l| out[ij / n * n + l] * s[l * n + ij % n]).sum()).collect();
            let psp: Vec<f64> = (0..n * n).map(|ij| (0..n).map(|l| ps[ij / n * n + l] * out[l * n + ij % n]).sum()).collect();
            let diff: Vec<f64> = (0..n * n).map(|i| psp[i] - if i % (n + 1) == 0 { 1.0 } else { 0.0 }).collect();
            assert!(fro(&diff) <= 1e-8, "k = {n}: Φ S Φ ≠ I ({:e})", fro(&diff));
            assert!((0..n).all(|i| (0..n).all(|j| out[i * n + j] == out[j * n + i])), "Φ not symmetric");
        }
    }
}
