//! Iterations per second of the solve loop: each compiled backend × the
//! shapes S1–S5 of DESIGN.md's protocol × f64/f32 × 1 and 2 threads × {gd
//! with the primal path forced, adam:1e-3, spectral:1e-3}.
//! `Throughput::Elements(1)` per iteration makes criterion report
//! iterations/s. Only the loop is timed (`Solution::seconds`), not the setup.
//!
//! Run: `cargo bench --bench iterations` (all of it takes long; filter, e.g.
//! `cargo bench --bench iterations -- f64/S4`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dspgd::{compiled_backends, solve, synthetic, BackendChoice, Float, LearningRate, Options, PathChoice};
use std::time::Duration;

const SHAPES: &[(&str, usize, usize, usize)] =
    &[("S1", 200, 2000, 1), ("S2", 200, 2000, 10), ("S3", 1000, 10000, 10), ("S4", 2000, 50000, 1), ("S5", 500, 5000, 100)];
const THREADS: &[usize] = &[1, 2];
const KS: &[(&str, PathChoice)] = &[("gd", PathChoice::Primal), ("adam:1e-3", PathChoice::Auto), ("spectral:1e-3", PathChoice::Auto)];

fn bench_dtype<T: Float>(c: &mut Criterion) {
    for &(shape, n, d, k) in SHAPES {
        let (x, y) = synthetic::gaussian_problem::<T>(n, d, k, 1);
        for &(precond, path) in KS {
            let mut group = c.benchmark_group(format!("iterations/{}/{shape}/{precond}", T::NAME));
            group.throughput(Throughput::Elements(1));
            group.sample_size(10);
            for (name, &threads) in compiled_backends().into_iter().filter(|n| *n != "reference").flat_map(|n| THREADS.iter().map(move |t| (n, t))) {
                let backend: BackendChoice = name.parse().expect("compiled backend");
                group.bench_function(BenchmarkId::new(format!("{name}/{threads}t"), shape), |b| {
                    b.iter_custom(|iters| {
                        let o = Options {
                            precond: precond.parse().expect("spec"),
                            lr: LearningRate::Constant(1e-3),
                            tol: Some(1e-300),
                            max_iters: iters.max(1) as usize,
                            backend,
                            path,
                            threads,
                            ..Options::default()
                        };
                        let sol = solve(x.as_ref(), y.as_ref(), None, &o).expect("solve");
                        Duration::from_secs_f64(sol.seconds)
                    })
                });
            }
            group.finish();
        }
    }
}

fn benches(c: &mut Criterion) {
    bench_dtype::<f64>(c);
    bench_dtype::<f32>(c);
}

criterion_group!(iterations, benches);
criterion_main!(iterations);
