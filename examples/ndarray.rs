//! Solve a problem held in `ndarray` arrays and get W back as an `Array2`.
//!
//! Run: `cargo run --example ndarray --features ndarray`.

use dspgd::interop::ndarray::{into_array, view, view_or_copy};
use dspgd::{solve, Options};
use ndarray::{s, Array2};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let x = Array2::from_shape_fn((40, 200), |(i, j)| noise(i, j) * (3.0f64 / 200.0).sqrt());
    let y = Array2::from_shape_fn((40, 2), |(i, j)| noise(i + 1000, j));

    // Standard (C) and Fortran layouts are viewed in place.
    let xv = view(x.view())?;
    let yv = view(y.view())?;
    let opts = Options { precond: "spectral:1e-2".parse()?, analyze: true, ..Options::default() };
    let sol = solve(xv, yv, None, &opts)?;
    assert_eq!(sol.stop_reason, dspgd::StopReason::Converged, "the example problem converges");
    let rho = sol.analysis.map_or(f64::NAN, |a| a.rho);
    let (iterations, stop) = (sol.iterations, sol.stop_reason);
    let w: Array2<f64> = into_array(sol.w); // moves the buffer, no copy
    let residual = (x.dot(&w) - &y).iter().map(|v| v * v).sum::<f64>().sqrt() / y.iter().map(|v| v * v).sum::<f64>().sqrt();
    println!("spectral:1e-2: {stop} after {iterations} iterations, W {:?}, ‖XW−Y‖/‖Y‖ = {residual:.2e}, ρ = {rho:.6}", w.dim());

    // A strided sub-array (every other column) cannot be viewed in place:
    // view_or_copy makes one row-major copy.
    let xs = x.slice(s![.., ..;2]);
    let xc = view_or_copy(xs);
    println!("every other column: viewed in place: {}, shape {:?}", xc.is_borrowed(), xc.shape());
    let sol = solve(xc.as_ref(), yv, None, &Options::default())?;
    assert_eq!(sol.stop_reason, dspgd::StopReason::Converged, "the example problem converges");
    println!("gd on X[:, ::2]: {} after {} iterations, residual {:.2e}", sol.stop_reason, sol.iterations, sol.rel_residual);
    Ok(())
}

/// Deterministic pseudo-random data: a uniform number in [−1, 1) from (i, j)
/// (SplitMix64), so that the example needs no random-number crate.
fn noise(i: usize, j: usize) -> f64 {
    let mut z = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (j as u64).wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}
