//! Issue 4: no allocation inside the iteration loop. A counting global
//! allocator sees every allocation of every thread; the observer reads the
//! count at iteration 10 (scratch buffers have grown by then) and at
//! iteration 70 (after two exact recomputes of R): on one thread the two
//! must agree; with two threads, only small task bookkeeping is allowed.
//!
//! One `#[test]` only: the counter is process-wide, and tests running side
//! by side would add their allocations to it.

use dspgd::{
    compiled_backends, solve_observed, BackendChoice, Control, Mat, Options, PathChoice, Progress,
    StopReason,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

fn count(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds the `GlobalAlloc` contract; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's `layout` is passed on as given.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: `ptr` was allocated by `System` with `layout` (every
        // allocation goes through this type), as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const FIRST: usize = 10;
const LAST: usize = 70;

/// Allocations between iteration `FIRST` and iteration `LAST` of one solve,
/// and their bytes.
fn allocs_in_loop<T: dspgd::Float>(x: &Mat<T>, y: &Mat<T>, opts: &Options) -> (usize, usize) {
    let mut at = [(usize::MAX, 0); 2];
    let mut observer = |p: &Progress| {
        if p.iteration == FIRST {
            at[0] = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        } else if p.iteration == LAST {
            at[1] = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
            return Control::Stop;
        }
        Control::Continue
    };
    let sol = solve_observed(x.as_ref(), y.as_ref(), None, opts, &mut observer)
        .unwrap_or_else(|e| panic!("{opts:?}: {e}"));
    assert_eq!(
        sol.stop_reason,
        StopReason::Callback,
        "{opts:?}: stopped early at {}",
        sol.iterations
    );
    assert!(at[0].0 != usize::MAX && at[1].0 != usize::MAX, "{opts:?}: observer not called");
    (at[1].0 - at[0].0, at[1].1 - at[0].1)
}

/// With threads, the task bookkeeping (each sweep's list of chunks, rayon's
/// jobs inside faer's parallel products) allocates a few small blocks per
/// iteration: at most this many per iteration...
const TASKS_PER_ITER: usize = 64;
/// ...and at most this many bytes per iteration on average. A pool thread
/// that joins a sweep for the first time grows its own scratch once, which
/// this allows for; a buffer allocated at every iteration (say faer's
/// packing buffers in threads spawned per sweep, 64 MiB each) does not fit.
const BYTES_PER_ITER: usize = 1 << 20;

fn run<T: dspgd::Float>(failures: &mut Vec<String>) {
    // n·d·k above every backend's threshold for a parallel sweep.
    let (x, y) = dspgd::synthetic::gaussian_problem::<T>(400, 4000, 2, 7);
    let cases: [(&str, &str, PathChoice); 6] = [
        ("gd", "0.5", PathChoice::Primal),
        ("adam:1e-3", "1e-4", PathChoice::Primal),
        ("sign", "line-search", PathChoice::Primal),
        ("spectral:1e-3", "auto", PathChoice::Primal),
        ("spectral:1e-3", "auto", PathChoice::Gram),
        ("ngd:1e-3", "line-search", PathChoice::Gram),
    ];
    for name in compiled_backends() {
        let backend: BackendChoice = name.parse().unwrap();
        for threads in [1, 2] {
            for (k, lr, path) in cases {
                let mut lr: dspgd::LearningRate = lr.parse().unwrap();
                if let dspgd::LearningRate::Constant(eta) = &mut lr {
                    // ‖X‖₂² ≈ (√n + √d)² for this Gaussian X: scale the step to it.
                    *eta /= (400f64.sqrt() + 4000f64.sqrt()).powi(2);
                }
                let opts = Options {
                    precond: k.parse().unwrap(),
                    lr,
                    backend,
                    path,
                    threads,
                    tol: Some(1e-300),
                    max_iters: 1000,
                    recompute_every: 25,
                    ..Options::default()
                };
                // A first solve warms every pool thread's scratch.
                if threads > 1 {
                    allocs_in_loop(&x, &y, &opts);
                }
                let (n, bytes) = allocs_in_loop(&x, &y, &opts);
                let iters = LAST - FIRST;
                let ok = if threads == 1 { n == 0 } else { n <= TASKS_PER_ITER * iters && bytes <= BYTES_PER_ITER * iters };
                let line = format!(
                    "{} {name} threads={threads} K={k} lr={lr} path={path:?}: {n} allocations ({bytes} bytes) in iterations {FIRST}..{LAST}",
                    std::any::type_name::<T>()
                );
                eprintln!("{line}");
                if !ok {
                    failures.push(line);
                }
            }
        }
    }
}

#[test]
fn iteration_loop_does_not_allocate() {
    let mut failures = vec![];
    run::<f64>(&mut failures);
    run::<f32>(&mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
