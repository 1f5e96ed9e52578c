//! Solve a problem held in `nalgebra` matrices and get W back as a `DMatrix`.
//!
//! Run: `cargo run --example nalgebra --features nalgebra`.

use dspgd::interop::nalgebra::{as_nalgebra, to_dmatrix, view_dmatrix, view_or_copy};
use dspgd::{min_distance_interpolator, solve, Options};
use nalgebra::DMatrix;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let x = DMatrix::<f64>::from_fn(40, 200, |i, j| noise(i, j) * (3.0f64 / 200.0).sqrt());
    let y = DMatrix::<f64>::from_fn(40, 2, |i, j| noise(i + 1000, j));

    // A DMatrix is column-major and packed: always viewed in place.
    let (xv, yv) = (view_dmatrix(&x), view_dmatrix(&y));
    let opts = Options { precond: "eclip:0.05".parse()?, analyze: true, ..Options::default() };
    let sol = solve(xv, yv, None, &opts)?;
    assert_eq!(sol.stop_reason, dspgd::StopReason::Converged, "the example problem converges");
    let w = to_dmatrix(sol.w.as_ref()); // a copy, 200×2
    let w_gd = min_distance_interpolator(xv, yv, None)?;
    let w_gd = as_nalgebra(w_gd.as_ref()); // a view, no copy
    println!(
        "eclip:0.05: {} after {} iterations, ‖XW−Y‖/‖Y‖ = {:.2e}, ‖W−W_GD‖/‖W_GD‖ = {:.3}, ρ = {:.4}",
        sol.stop_reason,
        sol.iterations,
        (&x * &w - &y).norm() / y.norm(),
        (&w - w_gd).norm() / w_gd.norm(),
        sol.analysis.map_or(f64::NAN, |a| a.rho)
    );

    // A view of a sub-block (rows 0..20) is not packed: copied once.
    let top = x.rows(0, 20);
    let xc = view_or_copy(&top);
    let ytop = y.rows(0, 20).into_owned();
    let sol = solve(xc.as_ref(), view_dmatrix(&ytop), None, &Options::default())?;
    assert_eq!(sol.stop_reason, dspgd::StopReason::Converged, "the example problem converges");
    println!("gd on the first 20 rows (copied: {}): {} after {} iterations", !xc.is_borrowed(), sol.stop_reason, sol.iterations);
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
