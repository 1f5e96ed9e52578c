//! Shared helpers for the integration tests.
#![allow(dead_code)]

use dspgd::{min_distance_interpolator, norm_fro_diff, synthetic, Mat, Options};

/// The Gaussian problem of issue 2: n = 40, d = 160, k = 3 (fixed seed).
pub fn problem() -> (Mat<f64>, Mat<f64>) {
    synthetic::gaussian_problem::<f64>(40, 160, 3, 1)
}

/// A random W₀ (fixed seed) for the problem's shapes.
pub fn random_w0(d: usize, k: usize) -> Mat<f64> {
    synthetic::gaussian_matrix(d, k, 0.3, 99)
}

/// Options with a preconditioner, loss and step rule given as spec strings.
pub fn opts(k: &str, loss: &str, lr: &str) -> Options {
    Options {
        precond: k.parse().unwrap(),
        loss: loss.parse().unwrap(),
        lr: lr.parse().unwrap(),
        max_iters: 100_000,
        ..Options::default()
    }
}

/// ‖a − b‖/‖b‖.
pub fn rel(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    norm_fro_diff(a.as_ref(), b.as_ref()) / b.norm_fro()
}

/// ‖(I − X⁺X)V‖/‖V‖: how far V (d×k) is from range(Xᵀ). Uses W_GD of the
/// problem (X, XV) from 0, which is exactly X⁺XV.
pub fn out_of_row_space(x: &Mat<f64>, v: &Mat<f64>) -> f64 {
    let (n, k) = (x.nrows(), v.ncols());
    let xv = Mat::from_fn(n, k, |i, j| (0..x.ncols()).map(|l| x.at(i, l) * v.at(l, j)).sum());
    let proj = min_distance_interpolator(x.as_ref(), xv.as_ref(), None).unwrap();
    norm_fro_diff(proj.as_ref(), v.as_ref()) / v.norm_fro().max(f64::MIN_POSITIVE)
}

/// A fresh, empty folder under the system temp dir, removed on drop (the
/// CLI, front and MPI tests write their .npy files and outputs there).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// `dspgd-test-<pid>-<counter>-<name>` under the temp dir.
    pub fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!("dspgd-test-{}-{}-{name}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    /// The path of `f` inside the folder.
    pub fn path(&self, f: &str) -> std::path::PathBuf {
        self.0.join(f)
    }
    /// The names of the files in the folder, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
