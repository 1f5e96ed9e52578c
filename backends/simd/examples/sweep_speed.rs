//! Hand timing of the fused sweep (`FromStep`, squared loss) at every SIMD
//! level this CPU has, against the faer backend, on a memory-resident shape.
//!
//! ```text
//! cargo run --release -p dspgd-simd --example sweep_speed [-- n d k1,k2,.. reps]
//! ```
//! Defaults: n = 2000, d = 20000, k = 1 and 4, 7 repetitions; both f64 and
//! f32. Prints the median and the best time per sweep, and the time of one
//! plain read of X (a sum) as the memory-bandwidth floor.
use dspgd_backend::{Backend, Loss, Mat, Precond, ResidualUpdate, Step};
use dspgd_faer::FaerBackend;
use dspgd_simd::{Level, SimdBackend, SimdScalar};
use std::time::Instant;

use dspgd_backend::conformance::pseudo_random as mat;

/// (median, best) in milliseconds.
fn time(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up (scratch buffers, page faults)
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    (t[t.len() / 2], t[0])
}

fn bench<T: SimdScalar>(n: usize, d: usize, k: usize, reps: usize)
where
    SimdBackend: Backend<T>,
{
    let x = mat::<T>(n, d, 1);
    let p = mat::<T>(d, k, 2);
    let r0 = mat::<T>(n, k, 3);
    let eta = T::from_f64(1e-3);
    let bytes = (n * d * core::mem::size_of::<T>()) as f64;
    println!("\n{} n={n} d={d} k={k}  (X = {:.0} MB)", T::NAME, bytes / 1e6);
    let (med, best) = time(reps, || {
        // Eight independent sums: vectorized by the compiler, bandwidth-bound.
        let mut acc = [T::ZERO; 8];
        let chunks = x.as_slice().chunks_exact(8);
        for c in chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += *v;
            }
        }
        std::hint::black_box(acc);
    });
    println!("  {:<22} {med:8.2} ms (best {best:8.2})  {:6.1} GB/s", "read X (sum)", bytes / best / 1e6);
    let mut backends: Vec<(String, Box<dyn Backend<T>>)> = vec![];
    for level in Level::available().into_iter().rev() {
        for threads in [1, 2] {
            let b = SimdBackend::with_level(level, threads).expect("available");
            backends.push((format!("simd/{level} x{threads}"), Box::new(b)));
        }
    }
    for threads in [1, 2] {
        backends.push((format!("faer x{threads}"), Box::new(FaerBackend::new(threads))));
    }
    // SWEEP_ONLY=<substring> restricts the backends timed (e.g. "avx512").
    let only = std::env::var("SWEEP_ONLY").unwrap_or_default();
    let mut base = None;
    for (name, b) in backends.iter().filter(|(name, _)| name.contains(only.as_str())) {
        let (mut r, mut dm, mut g) = (r0.clone(), Mat::<T>::zeros(n, k), Mat::<T>::zeros(d, k));
        let (med, best) = time(reps, || {
            r.as_mut_slice().copy_from_slice(r0.as_slice());
            b.sweep(x.as_ref(), ResidualUpdate::FromStep { p: p.as_ref(), eta }, r.as_mut(), &Loss::Squared, dm.as_mut(), g.as_mut());
        });
        let base = *base.get_or_insert(med);
        println!(
            "  {name:<22} {med:8.2} ms (best {best:8.2})  {:6.1} GB/s  x{:.2} vs scalar x1",
            bytes / best / 1e6,
            base / med
        );
    }
}

/// The O(dk) passes on a d×k matrix: precond_update (adam), loss_grad
/// (huber), grad_stats (‖G‖² and GᵀG), at every level and with faer.
fn elementwise<T: SimdScalar>(d: usize, k: usize, reps: usize)
where
    SimdBackend: Backend<T>,
{
    let g = mat::<T>(d, k, 5);
    let adam = Precond::Adam { eps: 1e-3 };
    let huber = Loss::Huber { delta: 0.1 };
    println!("\n{} elementwise passes on {d}x{k}", T::NAME);
    let mut backends: Vec<(String, Box<dyn Backend<T>>)> = vec![];
    for level in Level::available().into_iter().rev() {
        backends.push((format!("simd/{level}"), Box::new(SimdBackend::with_level(level, 1).expect("available"))));
    }
    backends.push(("faer".into(), Box::new(FaerBackend::new(1))));
    for (name, b) in &backends {
        let (mut w, mut p) = (mat::<T>(d, k, 6), mat::<T>(d, k, 7));
        let (pu, _) = time(reps, || b.precond_update(g.as_ref(), Step::Separable(&adam), T::from_f64(1e-3), w.as_mut(), p.as_mut()));
        let mut dm = Mat::<T>::zeros(d, k);
        let (lg, _) = time(reps, || {
            std::hint::black_box(b.loss_grad(g.as_ref(), &huber, dm.as_mut()));
        });
        let mut gtg = vec![0.0; k * k];
        let (gs, _) = time(reps, || {
            std::hint::black_box(b.grad_stats(g.as_ref(), Some(&mut gtg)));
        });
        println!("  {name:<14} precond_update(adam) {pu:7.2} ms   loss_grad(huber) {lg:7.2} ms   grad_stats+GtG {gs:7.2} ms");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.first().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let d = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20000);
    let ks: Vec<usize> =
        args.get(2).map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect()).unwrap_or_else(|| vec![1, 4]);
    let reps = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(7);
    println!("detected level: {}; available: {:?}", dspgd_simd::detect(), Level::available());
    for &k in &ks {
        bench::<f64>(n, d, k, reps);
        bench::<f32>(n, d, k, reps);
    }
    if std::env::var_os("SWEEP_ONLY").is_none() {
        elementwise::<f64>(250_000, 4, reps);
        elementwise::<f32>(250_000, 4, reps);
    }
}
