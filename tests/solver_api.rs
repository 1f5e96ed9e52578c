//! The solver's contract beyond the theorems: bad input as typed errors
//! (SPEC §8), divergence with the last finite iterate, observers, options,
//! user-defined K, backends agreeing.

mod common;

use common::{opts, problem, rel};
use dspgd::{
    min_distance_interpolator, solve, solve_observed, BackendChoice, Control, CustomPrecond, Error, LearningRate, Mat, MatMut, MatRef, Options,
    PathChoice, Precond, PrecondClass, Progress, StopReason,
};

#[test]
fn shape_mismatch_names_both_shapes() {
    let (x, _) = problem();
    let y = Mat::<f64>::zeros(39, 3);
    let e = solve(x.as_ref(), y.as_ref(), None, &Options::default()).unwrap_err();
    assert!(matches!(e, Error::Shape { arg: "y", .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("39x3") && msg.contains("40x160"), "{msg}");

    let (x, y) = problem();
    let w0 = Mat::<f64>::zeros(160, 2);
    let e = solve(x.as_ref(), y.as_ref(), Some(w0.as_ref()), &Options::default()).unwrap_err();
    assert!(matches!(e, Error::Shape { arg: "w0", .. }), "{e:?}");
    assert!(e.to_string().contains("160x2") && e.to_string().contains("160x3"), "{e}");
}

#[test]
fn empty_dimensions_are_errors() {
    for (n, d, k) in [(0, 5, 1), (5, 0, 1), (5, 5, 0)] {
        let x = Mat::<f64>::zeros(n, d);
        let y = Mat::<f64>::zeros(n, k);
        let e = solve(x.as_ref(), y.as_ref(), None, &Options::default()).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }), "{n}x{d}x{k}: {e:?}");
    }
}

#[test]
fn non_finite_data_is_reported_with_its_position() {
    let (mut x, mut y) = problem();
    *x.at_mut(3, 7) = f64::NAN;
    match solve(x.as_ref(), y.as_ref(), None, &Options::default()).unwrap_err() {
        Error::NonFinite { arg: "x", row: 3, col: 7, value } => assert!(value.is_nan()),
        e => panic!("{e:?}"),
    }
    let (x, _) = problem();
    *y.at_mut(0, 2) = f64::INFINITY;
    assert!(matches!(solve(x.as_ref(), y.as_ref(), None, &Options::default()), Err(Error::NonFinite { arg: "y", row: 0, col: 2, .. })));
    let (x, y) = problem();
    let mut w0 = Mat::<f64>::zeros(160, 3);
    *w0.at_mut(159, 0) = f64::NEG_INFINITY;
    assert!(matches!(solve(x.as_ref(), y.as_ref(), Some(w0.as_ref()), &Options::default()), Err(Error::NonFinite { arg: "w0", row: 159, .. })));
}

#[test]
fn invalid_options_are_errors_before_any_iteration() {
    let (x, y) = problem();
    let cases: Vec<(Options, &str)> = vec![
        (Options { lr: LearningRate::Constant(0.0), ..Options::default() }, "lr"),
        (Options { lr: LearningRate::Constant(f64::NAN), ..Options::default() }, "lr"),
        (Options { tol: Some(-1.0), ..Options::default() }, "tol"),
        (Options { max_iters: 0, ..Options::default() }, "max_iters"),
        (Options { lr: LearningRate::Auto, precond: Precond::Sign, ..Options::default() }, "lr"),
        (Options { lr: LearningRate::Auto, loss: "lp:3".parse().unwrap(), ..Options::default() }, "lr"),
        (Options { lr: LearningRate::LineSearch, schedule: "inv".parse().unwrap(), ..Options::default() }, "schedule"),
        (Options { path: PathChoice::Gram, precond: "adam:0.1".parse().unwrap(), ..Options::default() }, "path"),
        (Options { precond: Precond::Adam { eps: -1.0 }, ..Options::default() }, "ε"),
        (Options { precond: Precond::Clip { tau: 0.0 }, ..Options::default() }, "τ"),
        (Options { precond: Precond::Power { p: 1.0 }, ..Options::default() }, "p"),
    ];
    for (o, needle) in cases {
        let e = solve(x.as_ref(), y.as_ref(), None, &o).unwrap_err();
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
}

#[test]
fn divergence_is_a_typed_error_with_the_last_finite_iterate() {
    let (x, y) = problem();
    let e = solve(x.as_ref(), y.as_ref(), None, &opts("gd", "squared", "100")).unwrap_err();
    let Error::Diverged(d) = e else { panic!("expected divergence, got {e:?}") };
    assert!(d.iteration > 0 && d.iteration < 60, "detected at iteration {}", d.iteration);
    let w = d.last_iterate::<f64>().expect("f64 iterate");
    assert_eq!(w.shape(), (160, 3));
    assert!(w.as_slice().iter().all(|v| v.is_finite()));
    assert!(d.last_iterate::<f32>().is_none());
}

#[test]
fn max_iters_is_a_stop_reason_not_an_error() {
    let (x, y) = problem();
    let sol = solve(x.as_ref(), y.as_ref(), None, &Options { max_iters: 5, ..Options::default() }).unwrap();
    assert_eq!((sol.stop_reason, sol.iterations), (StopReason::MaxIters, 5));
    assert!(sol.rel_residual > 1e-10);
}

#[test]
fn an_observer_stops_the_solve_at_a_chosen_iteration() {
    let (x, y) = problem();
    let mut seen = vec![];
    let mut obs = |p: &Progress| {
        seen.push(p.iteration);
        if p.iteration == 7 {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let sol = solve_observed(x.as_ref(), y.as_ref(), None, &Options::default(), &mut obs).unwrap();
    assert_eq!(sol.stop_reason, StopReason::Callback);
    assert_eq!(sol.iterations, 7);
    assert_eq!(seen, (0..=7).collect::<Vec<_>>());
}

#[test]
fn history_is_recorded_when_asked() {
    let (x, y) = problem();
    let sol = solve(x.as_ref(), y.as_ref(), None, &Options { history_every: 10, ..Options::default() }).unwrap();
    assert!(sol.history.len() >= sol.iterations / 10);
    assert_eq!(sol.history[0].iteration, 0);
    assert!(sol.history.windows(2).all(|w| w[1].loss <= w[0].loss), "gd with the auto step decreases the loss monotonically");
    assert!(solve(x.as_ref(), y.as_ref(), None, &Options::default()).unwrap().history.is_empty());
}

#[test]
fn non_smooth_k_with_a_constant_step_warns() {
    let (x, y) = problem();
    let sol = solve(x.as_ref(), y.as_ref(), None, &Options { max_iters: 50, ..opts("ngd", "squared", "0.1") }).unwrap();
    assert!(sol.warnings.iter().any(|w| w.contains("not smooth")), "{:?}", sol.warnings);
}

/// A user-defined isotropic K (∇K = 2G) with its Φ: runs on both paths and lands on W_GD.
#[derive(Debug)]
struct Double;
impl CustomPrecond for Double {
    fn name(&self) -> String {
        "double".into()
    }
    fn class(&self) -> PrecondClass {
        PrecondClass::Isotropic
    }
    fn lipschitz(&self) -> Option<f64> {
        Some(2.0)
    }
    fn apply(&self, g: MatRef<'_, f64>, mut p: MatMut<'_, f64>) {
        for i in 0..g.nrows() {
            for j in 0..g.ncols() {
                *p.at_mut(i, j) = 2.0 * g.at(i, j);
            }
        }
    }
    fn phi(&self, gtg: MatRef<'_, f64>, mut phi: MatMut<'_, f64>) -> bool {
        for i in 0..gtg.nrows() {
            for j in 0..gtg.ncols() {
                *phi.at_mut(i, j) = if i == j { 2.0 } else { 0.0 };
            }
        }
        true
    }
}

#[test]
fn a_custom_k_runs_on_both_paths() {
    let (x, y) = problem();
    let w_gd = min_distance_interpolator(x.as_ref(), y.as_ref(), None).unwrap();
    for path in [PathChoice::Primal, PathChoice::Gram] {
        let o = Options { precond: Precond::custom(Double), path, ..Options::default() };
        let sol = solve(x.as_ref(), y.as_ref(), None, &o).unwrap();
        assert_eq!(sol.stop_reason, StopReason::Converged);
        assert!(rel(&sol.w, &w_gd) <= 1e-8);
        assert_eq!(sol.precond, "custom:double");
    }
    // f32 goes through the default conversion.
    let (x, y) = dspgd::synthetic::gaussian_problem::<f32>(40, 160, 3, 1);
    let o = Options { precond: Precond::custom(Double), path: PathChoice::Primal, ..Options::default() };
    assert_eq!(solve(x.as_ref(), y.as_ref(), None, &o).unwrap().stop_reason, StopReason::Converged);
}

/// ∇K(G) = G·A (A symmetric positive definite), written over the rows of
/// row-major slices, as user code may be: the solver hands a custom K
/// row-major G and P whatever layout it keeps them in for the backend.
#[derive(Debug)]
struct RowMix {
    by_slices: bool,
}
/// A[l][j].
fn mix(l: usize, j: usize) -> f64 {
    [[1.0, 0.3, 0.0], [0.3, 0.8, 0.1], [0.0, 0.1, 0.6]][l][j]
}
impl CustomPrecond for RowMix {
    fn name(&self) -> String {
        "rowmix".into()
    }
    fn class(&self) -> PrecondClass {
        PrecondClass::General
    }
    fn lipschitz(&self) -> Option<f64> {
        Some(1.2)
    }
    fn apply(&self, g: MatRef<'_, f64>, mut p: MatMut<'_, f64>) {
        let k = g.ncols();
        if self.by_slices {
            for (gr, pr) in g.as_slice().chunks(k).zip(p.as_mut_slice().chunks_mut(k)) {
                for (j, pj) in pr.iter_mut().enumerate() {
                    *pj = (0..k).map(|l| gr[l] * mix(l, j)).sum();
                }
            }
        } else {
            for i in 0..g.nrows() {
                for j in 0..k {
                    *p.at_mut(i, j) = (0..k).map(|l| g.at(i, l) * mix(l, j)).sum();
                }
            }
        }
    }
}

#[test]
fn a_custom_k_sees_row_major_g_and_p() {
    let (x, y) = problem();
    for backend in dspgd::compiled_backends() {
        let run = |by_slices| {
            let o = Options { precond: Precond::custom(RowMix { by_slices }), backend: backend.parse().unwrap(), max_iters: 200, ..opts("gd", "squared", "1e-3") };
            solve(x.as_ref(), y.as_ref(), None, &o).unwrap().w
        };
        let (slices, indexed) = (run(true), run(false));
        assert!(slices.as_slice() == indexed.as_slice(), "{backend}: the custom K read G in another layout");
    }
}

#[test]
fn auto_path_picks_gram_for_right_invariant_k_when_n_below_d() {
    let (x, y) = problem();
    let pick = |k: &str| solve(x.as_ref(), y.as_ref(), None, &Options { max_iters: 3, ..opts(k, "squared", "line-search") }).unwrap().path;
    assert_eq!(pick("gd"), dspgd::Path::Gram);
    assert_eq!(pick("spectral"), dspgd::Path::Gram);
    assert_eq!(pick("sign"), dspgd::Path::Primal);
}

#[test]
fn every_compiled_backend_gives_the_same_solve() {
    for k in ["adam:1e-2", "spectral:1e-2"] {
        same_solve_on_every_backend(k);
    }
}

fn same_solve_on_every_backend(k: &str) {
    let (x, y) = problem();
    let base = Options { max_iters: 300, tol: Some(1e-300), path: PathChoice::Primal, ..opts(k, "squared", "auto") };
    let reference = solve(x.as_ref(), y.as_ref(), None, &Options { backend: BackendChoice::Reference, ..base.clone() }).unwrap();
    assert_eq!(reference.backend, "reference");
    for name in dspgd::compiled_backends() {
        let b: BackendChoice = name.parse().unwrap();
        for threads in [1, 2] {
            let sol = solve(x.as_ref(), y.as_ref(), None, &Options { backend: b, threads, ..base.clone() }).unwrap();
            assert_eq!(sol.backend, name);
            let d = rel(&sol.w, &reference.w);
            assert!(d <= 1e-10, "{k}: {name} with {threads} threads differs from reference by {d:.3e}");
        }
    }
}

/// A sweep on several threads: the primal path then writes each new P into
/// a second buffer (`Backend::prefers_fresh_step_buffer`, and
/// `precond_update_from`). The solve must still match the reference, for
/// every kind of step: scale (gd), separable (adam), right (spectral).
#[test]
fn threaded_sweeps_with_a_second_step_buffer_match_the_reference() {
    // n·d·k above every backend's smallest sweep split across threads.
    let (x, y) = dspgd::synthetic::gaussian_problem::<f64>(128, 2800, 3, 5);
    for k in ["gd", "adam:1e-2", "spectral:1e-2"] {
        let base = Options { max_iters: 40, tol: Some(1e-300), path: PathChoice::Primal, ..opts(k, "squared", "auto") };
        let reference = solve(x.as_ref(), y.as_ref(), None, &Options { backend: BackendChoice::Reference, ..base.clone() }).unwrap();
        for name in dspgd::compiled_backends() {
            let b: BackendChoice = name.parse().unwrap();
            let sol = solve(x.as_ref(), y.as_ref(), None, &Options { backend: b, threads: 2, ..base.clone() }).unwrap();
            let d = rel(&sol.w, &reference.w);
            assert!(d <= 1e-10, "{k}: {name} with 2 threads differs from reference by {d:.3e}");
        }
    }
}

/// Same input, backend, path and thread count ⇒ bitwise the same W.
#[test]
fn solves_are_bitwise_reproducible() {
    let (x, y) = problem();
    for name in dspgd::compiled_backends() {
        let b: BackendChoice = name.parse().unwrap();
        for threads in [1, 2] {
            for (k, path) in [("adam:1e-2", PathChoice::Primal), ("spectral:1e-2", PathChoice::Gram)] {
                let o = Options { backend: b, threads, path, max_iters: 200, ..opts(k, "huber:0.5", "auto") };
                let a = solve(x.as_ref(), y.as_ref(), None, &o).unwrap();
                let c = solve(x.as_ref(), y.as_ref(), None, &o).unwrap();
                let same = a.w.as_slice().iter().zip(c.w.as_slice()).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same, "{name} {threads} threads {k}: two runs differ");
            }
        }
    }
}

#[test]
fn solver_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Options>();
    send_sync::<dspgd::Solution<f64>>();
    send_sync::<dspgd::Solution<f32>>();
    send_sync::<Mat<f64>>();
    send_sync::<Precond>();
    send_sync::<Error>();
}

/// W of one solve as bit patterns (f32 widened to u64), for bitwise comparisons.
#[derive(Debug, PartialEq, Eq)]
struct Bits(Vec<u64>);

fn bits64(m: &Mat<f64>) -> Bits {
    Bits(m.as_slice().iter().map(|v| v.to_bits()).collect())
}

fn bits32(m: &Mat<f32>) -> Bits {
    Bits(m.as_slice().iter().map(|v| u64::from(v.to_bits())).collect())
}

/// 8 solves running at once on 8 threads (various K, both paths, f32 and
/// f64, every compiled backend, 1 thread each) give bitwise the W they give
/// when run one by one: no shared mutable state between solves (caches,
/// thread pools, the cached SIMD level, the OpenBLAS thread count).
#[test]
fn eight_concurrent_solves_match_the_sequential_ones_bitwise() {
    let (x64, y64) = problem();
    let (x32, y32) = dspgd::synthetic::gaussian_problem::<f32>(40, 160, 3, 1);
    let backends = dspgd::compiled_backends();
    let specs: [(&str, PathChoice, bool); 8] = [
        ("gd", PathChoice::Primal, false),
        ("gd", PathChoice::Gram, true),
        ("spectral:1e-2", PathChoice::Gram, false),
        ("spectral:1e-2", PathChoice::Primal, true),
        ("adam:1e-2", PathChoice::Primal, false),
        ("sign", PathChoice::Primal, true),
        ("ngd:1e-3", PathChoice::Gram, false),
        ("clip:1", PathChoice::Primal, true),
    ];
    let run = |i: usize| -> Bits {
        let (k, path, f32) = specs[i];
        let backend: BackendChoice = backends[i % backends.len()].parse().unwrap();
        let o = Options { backend, threads: 1, path, max_iters: 150, tol: Some(1e-300), ..opts(k, "squared", "default") };
        if f32 {
            bits32(&solve(x32.as_ref(), y32.as_ref(), None, &o).unwrap().w)
        } else {
            bits64(&solve(x64.as_ref(), y64.as_ref(), None, &o).unwrap().w)
        }
    };
    let sequential: Vec<Bits> = (0..8).map(run).collect();
    for round in 0..2 {
        let barrier = std::sync::Barrier::new(8);
        let concurrent: Vec<Bits> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (barrier, run) = (&barrier, &run);
                    s.spawn(move || {
                        barrier.wait();
                        run(i)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a concurrent solve panicked")).collect()
        });
        for (i, (a, b)) in sequential.iter().zip(&concurrent).enumerate() {
            assert!(a == b, "round {round}: solve {i} ({:?}, backend {}) differs when run concurrently", specs[i], backends[i % backends.len()]);
        }
    }
}

/// X's rows on cache lines (padded rows, read in place) or off them (one
/// element past a line, packed: the SIMD backend's primal path runs on an
/// aligned copy, see `Backend::prefers_aligned_rows`): bitwise the same W,
/// 1 and 2 threads, f64 and f32. On the SIMD backend only, the one that
/// asks for the copy: the others read X where it is, and OpenBLAS's bits
/// depend on X's address (its f32 solve differed in about one run in ten).
#[test]
fn x_on_or_off_cache_lines_gives_the_same_bits() {
    fn check<T: dspgd::Float>(widen: fn(&Mat<T>) -> Bits) {
        // d = 901: rows of 901 elements are off the lines even when the first is on one.
        let (x, y) = dspgd::synthetic::gaussian_problem::<T>(37, 901, 3, 11);
        let (n, d) = x.shape();
        let lane = 64 / core::mem::size_of::<T>();
        let stride = d.next_multiple_of(lane);
        let mut on = vec![T::ZERO; n * stride + lane];
        let off = (on.as_ptr() as usize).wrapping_neg() % 64 / core::mem::size_of::<T>();
        for i in 0..n {
            on[off + i * stride..][..d].copy_from_slice(&x.as_slice()[i * d..(i + 1) * d]);
        }
        let x_on = MatRef::from_strided(&on[off..], n, d, stride, 1).unwrap();
        let mut shifted = vec![T::ZERO; n * d + lane];
        let start = (shifted.as_ptr() as usize).wrapping_neg() % 64 / core::mem::size_of::<T>() + 1;
        shifted[start..start + n * d].copy_from_slice(x.as_slice());
        let x_off = MatRef::from_row_major(&shifted[start..start + n * d], n, d).unwrap();
        for name in dspgd::compiled_backends().into_iter().filter(|n| *n == "simd") {
            for threads in [1, 2] {
                for k in ["gd", "adam:1e-2"] {
                    let o = Options { backend: name.parse().unwrap(), threads, path: PathChoice::Primal, max_iters: 30, ..opts(k, "squared", "auto") };
                    let a = solve(x_on, y.as_ref(), None, &o).unwrap();
                    let b = solve(x_off, y.as_ref(), None, &o).unwrap();
                    assert_eq!(widen(&a.w), widen(&b.w), "{name}, {threads} threads, {k}, {}", T::NAME);
                }
            }
        }
    }
    check::<f64>(bits64);
    check::<f32>(bits32);
}
