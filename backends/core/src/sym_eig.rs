//! Eigendecomposition of a small symmetric matrix (the k×k GᵀG of the
//! spectral preconditioners), by cyclic Jacobi rotations: simple, accurate to
//! working precision for every eigenvalue, and allocation-free.

/// Eigendecomposition A = V diag(λ) Vᵀ of the symmetric `n × n` row-major
/// matrix in `a` (destroyed). Eigenvalues go to `vals`, eigenvectors to the
/// columns of `vecs` (row-major `n × n`).
pub fn sym_eig(a: &mut [f64], n: usize, vals: &mut [f64], vecs: &mut [f64]) {
    assert!(a.len() >= n * n && vecs.len() >= n * n && vals.len() >= n, "sym_eig: buffers too small");
    for i in 0..n {
        for j in 0..n {
            vecs[i * n + j] = if i == j { 1.0 } else { 0.0 };
        }
    }
    for _sweep in 0..64 {
        let mut off = 0.0;
        let mut diag = 0.0;
        for i in 0..n {
            diag += a[i * n + i] * a[i * n + i];
            for j in (i + 1)..n {
                off += a[i * n + j] * a[i * n + j];
            }
        }
        if off <= f64::EPSILON * f64::EPSILON * diag * 1e-2 || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let app = a[p * n + p];
                let aqq = a[q * n + q];
                // Rotation that zeroes a[p][q] (Golub & Van Loan, Alg. 8.4.1).
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = vecs[k * n + p];
                    let vkq = vecs[k * n + q];
                    vecs[k * n + p] = c * vkp - s * vkq;
                    vecs[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    for i in 0..n {
        vals[i] = a[i * n + i];
    }
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
    for i in 0..k {
        for j in 0..k {
            let mut acc = 0.0;
            for l in 0..k {
                acc += ws.vecs[i * k + l] * ws.vals[l] * ws.vecs[j * k + l];
            }
            out[i * k + j] = acc;
        }
    }
}
