//! Timing of the fused sweep against its parts (ignored by default; run with
//! `cargo test --release -p dspgd-faer --test perf -- --ignored --nocapture`).
use dspgd_backend::{Backend, Loss, Mat, ResidualUpdate};
use dspgd_faer::FaerBackend;
use std::time::Instant;

fn median_ms(mut f: impl FnMut(), reps: usize) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

#[test]
#[ignore = "timing, run by hand in release mode"]
fn sweep_timing() {
    for &(n, d, k) in &[(2000usize, 20000usize, 1usize), (2000, 20000, 4), (500, 50000, 1), (20000, 200, 1), (2000, 5000, 32)] {
        let x = Mat::<f64>::from_fn(n, d, |i, j| ((i * 31 + j * 17) % 101) as f64 / 101.0 - 0.5);
        let p = Mat::<f64>::from_fn(d, k, |i, j| ((i + j) % 7) as f64 * 1e-3);
        let mut r = Mat::<f64>::from_fn(n, k, |i, _| (i % 5) as f64);
        let mut dm = Mat::<f64>::zeros(n, k);
        let mut g = Mat::<f64>::zeros(d, k);
        let read = median_ms(
            || {
                let s: f64 = x.as_slice().chunks(8).map(|c| c.iter().sum::<f64>()).sum();
                std::hint::black_box(s);
            },
            7,
        );
        for threads in [1, 2] {
            let b = FaerBackend::new(threads);
            let fused = median_ms(
                || {
                    let u = ResidualUpdate::FromStep { p: p.as_ref(), eta: 1e-9 };
                    b.sweep(x.as_ref(), u, r.as_mut(), &Loss::Squared, dm.as_mut(), g.as_mut());
                },
                7,
            );
            let mut q = Mat::<f64>::zeros(n, k);
            let two = median_ms(
                || {
                    b.gemm(q.as_mut(), 0.0, x.as_ref(), p.as_ref(), 1.0);
                    b.gemm(g.as_mut(), 0.0, x.as_ref().transpose(), r.as_ref(), 1.0);
                },
                7,
            );
            println!("n={n} d={d} k={k} threads={threads}: read X {read:.2} ms, fused sweep {fused:.2} ms, two faer products {two:.2} ms");
        }
    }
}
