//! Kernel benchmarks on a memory-bound shape (X larger than any cache):
//!
//! - `sweep_vs_two_matmuls/<backend>`: one fused primal iteration (X read
//!   once: `Q_B = X_B P`, `R_B −= ηQ_B`, `D_B = ∇ℓ(R_B)`, `G += X_Bᵀ D_B`)
//!   against the naive form on the same backend (`Q = XP`, `R −= ηQ`,
//!   `D = ∇ℓ(R)`, `G = XᵀD`: X read twice), plus one streaming read of X
//!   (a dot product of X with itself) as the memory limit;
//! - `simd_levels/<level>`: the SIMD backend's sweep at every level this CPU
//!   has, so a helper that silently runs scalar shows up as no speedup.
//!
//! `Throughput::Bytes` is the size of X, so criterion reports GB/s of X.
//! Shape: n = 2000, d = 50000, k = 1 (S4 of DESIGN.md), f64; override with
//! `DSPGD_BENCH_SHAPE=n,d,k`. Run: `cargo bench --bench kernels`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dspgd::kernels::{Backend, Loss, Mat, ResidualUpdate};
use dspgd::{compiled_backends, make_backend_for, synthetic, BackendChoice, Workload};
use std::hint::black_box;

fn shape() -> (usize, usize, usize) {
    std::env::var("DSPGD_BENCH_SHAPE")
        .ok()
        .and_then(|s| {
            let v: Vec<usize> = s.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            (v.len() == 3).then(|| (v[0], v[1], v[2]))
        })
        .unwrap_or((2000, 50_000, 1))
}

struct Buffers {
    x: Mat<f64>,
    p: Mat<f64>,
    r: Mat<f64>,
    q: Mat<f64>,
    d: Mat<f64>,
    g: Mat<f64>,
}

impl Buffers {
    fn new((n, d, k): (usize, usize, usize)) -> Self {
        let (x, r) = synthetic::gaussian_problem::<f64>(n, d, k, 1);
        Self { x, p: synthetic::gaussian_matrix(d, k, 1e-3, 2), r, q: Mat::zeros(n, k), d: Mat::zeros(n, k), g: Mat::zeros(d, k) }
    }

    fn fused(&mut self, b: &dyn Backend<f64>) {
        let u = ResidualUpdate::FromStep { p: self.p.as_ref(), eta: 1e-9 };
        black_box(b.sweep(self.x.as_ref(), u, self.r.as_mut(), &Loss::Squared, self.d.as_mut(), self.g.as_mut()));
    }

    fn two_matmuls(&mut self, b: &dyn Backend<f64>) {
        b.gemm(self.q.as_mut(), 0.0, self.x.as_ref(), self.p.as_ref(), 1.0);
        b.axpy(self.r.as_mut(), -1e-9, self.q.as_ref());
        black_box(b.loss_grad(self.r.as_ref(), &Loss::Squared, self.d.as_mut()));
        b.gemm(self.g.as_mut(), 0.0, self.x.as_ref().transpose(), self.d.as_ref(), 1.0);
    }
}

fn sweep_vs_two_matmuls(c: &mut Criterion) {
    let sh = shape();
    let mut buf = Buffers::new(sh);
    let bytes = (sh.0 * sh.1 * 8) as u64;
    let mut group = c.benchmark_group(format!("sweep_vs_two_matmuls/n{}_d{}_k{}", sh.0, sh.1, sh.2));
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    let w = Workload { n: sh.0, d: sh.1, k: sh.2, gram: false, elem_size: 8 };
    for name in compiled_backends().into_iter().filter(|n| *n != "reference") {
        let b = make_backend_for::<f64>(name.parse::<BackendChoice>().expect("backend"), 1, w).expect("compiled backend");
        group.bench_function(BenchmarkId::new("fused", name), |bench| bench.iter(|| buf.fused(&*b)));
        group.bench_function(BenchmarkId::new("two_matmuls", name), |bench| bench.iter(|| buf.two_matmuls(&*b)));
        if name == compiled_backends()[0] {
            group.bench_function(BenchmarkId::new("stream_read", name), |bench| {
                bench.iter(|| black_box(b.dot(buf.x.as_ref(), buf.x.as_ref())))
            });
        }
    }
    group.finish();
}

#[cfg(feature = "simd")]
fn simd_levels(c: &mut Criterion) {
    let sh = shape();
    let mut buf = Buffers::new(sh);
    let mut group = c.benchmark_group(format!("simd_levels/n{}_d{}_k{}", sh.0, sh.1, sh.2));
    group.throughput(Throughput::Bytes((sh.0 * sh.1 * 8) as u64));
    group.sample_size(10);
    for level in dspgd_simd::Level::available() {
        let b = dspgd_simd::SimdBackend::with_level(level, 1).expect("available level");
        group.bench_function(BenchmarkId::new("fused", level.as_str()), |bench| bench.iter(|| buf.fused(&b)));
    }
    group.finish();
}

#[cfg(not(feature = "simd"))]
fn simd_levels(_: &mut Criterion) {}

criterion_group!(kernels, sweep_vs_two_matmuls, simd_levels);
criterion_main!(kernels);
