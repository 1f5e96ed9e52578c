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
//! `DSPGD_BENCH_SHAPE=n,d,k` and `DSPGD_BENCH_DTYPE=f32`. Run: `cargo bench
//! --bench kernels`. On S5 (`DSPGD_BENCH_SHAPE=500,5000,100`) the
//! `two_matmuls` time is close to what the two products alone cost, a floor
//! for any iteration written with them.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dspgd::kernels::{Backend, Loss, Mat, ResidualUpdate};
use dspgd::{compiled_backends, make_backend_for, synthetic, BackendChoice, Float, Workload};
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

/// f32 when `DSPGD_BENCH_DTYPE=f32`, else f64.
fn is_f32() -> bool {
    std::env::var("DSPGD_BENCH_DTYPE").is_ok_and(|s| s.trim() == "f32")
}

/// The group name: the dtype (when f32, so that f64 keeps its old names) and the shape.
fn group_name<T: Float>(what: &str, (n, d, k): (usize, usize, usize)) -> String {
    let dtype = if T::NAME == "f64" { String::new() } else { format!("{}_", T::NAME) };
    format!("{what}/{dtype}n{n}_d{d}_k{k}")
}

struct Buffers<T> {
    x: Mat<T>,
    p: Mat<T>,
    r: Mat<T>,
    q: Mat<T>,
    d: Mat<T>,
    g: Mat<T>,
    /// P and G stored transposed: the column-major layout the solver keeps
    /// them in for backends that prefer it (`Backend::prefers_col_major`).
    p_t: Mat<T>,
    g_t: Mat<T>,
}

impl<T: Float> Buffers<T> {
    fn new((n, d, k): (usize, usize, usize)) -> Self {
        let (x, r) = synthetic::gaussian_problem::<T>(n, d, k, 1);
        let p: Mat<T> = synthetic::gaussian_matrix(d, k, 1e-3, 2);
        let p_t = p.as_ref().transpose().to_owned();
        Self { x, p, r, q: Mat::zeros(n, k), d: Mat::zeros(n, k), g: Mat::zeros(d, k), p_t, g_t: Mat::zeros(k, d) }
    }

    /// One sweep, with P and G in the layout the solver would use for `b`.
    fn fused(&mut self, b: &dyn Backend<T>) {
        let eta = T::from_f64(1e-9);
        let (r, d) = (self.r.as_mut(), self.d.as_mut());
        let (d_, k) = self.p.as_ref().shape();
        let (p, g) = if b.prefers_col_major(d_, k) {
            (self.p_t.as_ref().transpose(), self.g_t.as_mut().transpose())
        } else {
            (self.p.as_ref(), self.g.as_mut())
        };
        black_box(b.sweep(self.x.as_ref(), ResidualUpdate::FromStep { p, eta }, r, &Loss::Squared, d, g));
    }

    fn two_matmuls(&mut self, b: &dyn Backend<T>) {
        b.gemm(self.q.as_mut(), T::ZERO, self.x.as_ref(), self.p.as_ref(), T::ONE);
        b.axpy(self.r.as_mut(), T::from_f64(-1e-9), self.q.as_ref());
        black_box(b.loss_grad(self.r.as_ref(), &Loss::Squared, self.d.as_mut()));
        b.gemm(self.g.as_mut(), T::ZERO, self.x.as_ref().transpose(), self.d.as_ref(), T::ONE);
    }
}

fn sweep_vs_two_matmuls(c: &mut Criterion) {
    if is_f32() {
        sweep_vs_two_matmuls_in::<f32>(c)
    } else {
        sweep_vs_two_matmuls_in::<f64>(c)
    }
}

fn sweep_vs_two_matmuls_in<T: Float>(c: &mut Criterion) {
    let sh = shape();
    let mut buf = Buffers::<T>::new(sh);
    let size = std::mem::size_of::<T>();
    let mut group = c.benchmark_group(group_name::<T>("sweep_vs_two_matmuls", sh));
    group.throughput(Throughput::Bytes((sh.0 * sh.1 * size) as u64));
    group.sample_size(10);
    let w = Workload { n: sh.0, d: sh.1, k: sh.2, gram: false, elem_size: size };
    for name in compiled_backends().into_iter().filter(|n| *n != "reference") {
        let b = make_backend_for::<T>(name.parse::<BackendChoice>().expect("backend"), 1, w).expect("compiled backend");
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
    if is_f32() {
        simd_levels_in::<f32>(c)
    } else {
        simd_levels_in::<f64>(c)
    }
}

#[cfg(feature = "simd")]
fn simd_levels_in<T: Float>(c: &mut Criterion)
where
    dspgd_simd::SimdBackend: Backend<T>,
{
    let sh = shape();
    let mut buf = Buffers::<T>::new(sh);
    let mut group = c.benchmark_group(group_name::<T>("simd_levels", sh));
    group.throughput(Throughput::Bytes((sh.0 * sh.1 * std::mem::size_of::<T>()) as u64));
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
