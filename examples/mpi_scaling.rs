//! The measurements behind the README's scaling model of the row-sharded
//! solve: on each rank, the time of one sweep over its shard of X, of one
//! precondition-and-update pass over W, and of one allreduce of the d·k + 2
//! numbers a primal iteration sums; then a fixed number of iterations of the
//! real sharded solve.
//!
//! Run (feature `mpi`, Open MPI installed):
//!
//! ```text
//! cargo build --release --features mpi --example mpi_scaling
//! mpirun -np 2 --mca btl self,tcp --mca btl_tcp_if_include lo \
//!     target/release/examples/mpi_scaling [n d k]...
//! ```
//!
//! Without shape arguments it measures the benchmark protocol's S2
//! (200, 2000, 10), S3 (1000, 10000, 10) and S4 (2000, 50000, 1), f64,
//! one thread per rank. Rank 0 prints one line per shape: medians in
//! milliseconds (T_ar(1): an allreduce of one number, the latency), the
//! iterations per second of the real solve at P = 1 and at this P, and the
//! speedup the model predicts for P = 2, 4, 8, 16 (see the README).

use dspgd::distributed::{solve_distributed, Collective, MpiCollective};
use dspgd::kernels::{ResidualUpdate, Step};
use dspgd::{make_backend_for, synthetic, BackendChoice, Loss, Mat, Options, PathChoice, Workload};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `f` `reps` times (after one warm-up), returns the median in seconds.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let universe = mpi::initialize().expect("MPI is initialised once");
    let comm = MpiCollective::new(universe.world());
    let (rank, p) = (comm.rank(), comm.size());
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("shape arguments are integers: n d k ...")).collect();
    let shapes: Vec<(usize, usize, usize)> =
        if args.is_empty() { vec![(200, 2000, 10), (1000, 10_000, 10), (2000, 50_000, 1)] } else { args.chunks(3).map(|c| (c[0], c[1], c[2])).collect() };
    if rank == 0 {
        println!("ranks {p}; medians in ms; T_sweep = one sweep over this rank's n/P rows; T_upd = ∇K and W update (d·k); T_ar = allreduce of d·k+2 f64");
        println!(
            "{:>6} {:>6} {:>3} | {:>9} {:>9} {:>9} {:>9} {:>9} | {:>10} {:>10} | model S(2) S(4) S(8) S(16)",
            "n", "d", "k", "T_sweep1", "T_sweep", "T_upd", "T_ar", "T_ar(1)", "it/s P=1", "it/s P"
        );
    }
    for (n, d, k) in shapes {
        let (x, y) = synthetic::gaussian_problem::<f64>(n, d, k, 1);
        let rows = (rank * n / p)..((rank + 1) * n / p);
        let xs = x.as_ref().rows(rows.start, rows.len());
        let ys = y.as_ref().rows(rows.start, rows.len());
        let work = Workload { n, d, k, gram: false, elem_size: 8 };
        let b = make_backend_for::<f64>(BackendChoice::Auto, 1, work).expect("a backend");
        let loss = Loss::Squared;
        let pm: Mat<f64> = synthetic::gaussian_matrix(d, k, 1e-3, 2);
        let reps = 30;
        // One sweep over this rank's rows, and (for reference) over all rows.
        let (mut r, mut dd, mut g) = (ys.to_owned(), Mat::zeros(rows.len(), k), Mat::zeros(d, k));
        let t_sweep = time(reps, || {
            b.sweep(xs, ResidualUpdate::FromStep { p: pm.as_ref(), eta: 1e-9 }, r.as_mut(), &loss, dd.as_mut(), g.as_mut());
        });
        let (mut r1, mut d1, mut g1) = (y.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
        let t_sweep1 = time(reps, || {
            b.sweep(x.as_ref(), ResidualUpdate::FromStep { p: pm.as_ref(), eta: 1e-9 }, r1.as_mut(), &loss, d1.as_mut(), g1.as_mut());
        });
        let (mut w, mut pp) = (Mat::zeros(d, k), Mat::zeros(d, k));
        let t_upd = time(reps, || b.precond_update(g.as_ref(), Step::Scale(1.0), 1e-9, w.as_mut(), pp.as_mut()));
        // The allreduce of one iteration: d·k + 2 numbers, and of one number (the latency).
        let mut buf = vec![1.0f64; d * k + 2];
        let mut one = [1.0f64];
        let mut sync = [0.0];
        comm.allreduce_sum_f64(&mut sync);
        let t_ar = time(100, || comm.allreduce_sum_f64(&mut buf));
        let t_lat = time(200, || comm.allreduce_sum_f64(&mut one));
        // The real thing: 40 iterations of a constant step, no early stop.
        let opts = Options { lr: "1e-9".parse().unwrap(), max_iters: 40, tol: Some(1e-300), path: PathChoice::Primal, ..Options::default() };
        let ips = solve_distributed(&comm, xs, ys, None, &opts).expect("solve").solution.iters_per_sec;
        let single = if rank == 0 { dspgd::solve(x.as_ref(), y.as_ref(), None, &opts).expect("solve").iters_per_sec } else { 0.0 };
        // Rank 0 reports the slowest rank's times (the iteration waits for it).
        let mut mx = vec![0.0; 5 * p];
        mx[5 * rank..5 * rank + 5].copy_from_slice(&[t_sweep, t_upd, t_ar, t_sweep1, t_lat]);
        comm.allreduce_sum_f64(&mut mx);
        if rank == 0 {
            let worst = |i: usize| (0..p).map(|r| mx[5 * r + i]).fold(0.0f64, f64::max);
            let (ts, tu, ta, t1, tl) = (worst(0), worst(1), worst(2), worst(3), worst(4));
            // Model: T(P) = T_sweep(n)/P + T_upd + T_ar(P) with the reduce-scatter + allgather
            // allreduce: T_ar(P) = 2·log2(P)·α + 2·(P−1)/P·m/B; at P = 2 a 1-number allreduce
            // gives α = T_lat/2 and the d·k+2 one m/B = T_ar − 2α.
            let alpha = tl / 2.0;
            let mb = (ta - 2.0 * alpha).max(0.0);
            let model = |q: f64| (t1 + tu) / (t1 / q + tu + 2.0 * q.log2() * alpha + 2.0 * (q - 1.0) / q * mb);
            println!(
                "{n:>6} {d:>6} {k:>3} | {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.4} | {:>10.1} {:>10.1} | {:.2} {:.2} {:.2} {:.2}",
                t1 * 1e3,
                ts * 1e3,
                tu * 1e3,
                ta * 1e3,
                tl * 1e3,
                single,
                ips,
                model(2.0),
                model(4.0),
                model(8.0),
                model(16.0)
            );
        }
    }
}
