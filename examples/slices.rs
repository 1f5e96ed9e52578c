//! Solve a problem held in plain row-major and column-major slices: no
//! conversion crate, no copy of the data.
//!
//! Run: `cargo run --example slices`.

use dspgd::{solve, MatRef, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, d, k) = (30, 120, 2);
    // X in row-major (C) order, Y in column-major (Fortran) order.
    let x: Vec<f64> = (0..n * d).map(|l| noise(l, 0) * (3.0 / d as f64).sqrt()).collect();
    let y: Vec<f64> = (0..n * k).map(|l| noise(l, 1)).collect();
    let xv = MatRef::from_row_major(&x, n, d)?;
    let yv = MatRef::from_col_major(&y, n, k)?;

    let opts = Options { precond: "ngd:1e-2".parse()?, analyze: true, ..Options::default() };
    let sol = solve(xv, yv, None, &opts)?;
    assert_eq!(sol.stop_reason, dspgd::StopReason::Converged, "the example problem converges");
    println!(
        "ngd:1e-2 ({}): {} after {} iterations, residual {:.2e}, ρ = {:.6}",
        sol.step,
        sol.stop_reason,
        sol.iterations,
        sol.rel_residual,
        sol.analysis.map_or(f64::NAN, |a| a.rho)
    );

    // W comes back row-major (d×k): a plain Vec.
    let (rows, cols) = sol.w.shape();
    let w: Vec<f64> = sol.w.into_vec();
    println!("W is {rows}×{cols}, row-major; W[0, :] = {:?}", &w[..cols]);

    // A view with strides: the first 60 columns of X, without a copy.
    let left = MatRef::from_strided(&x, n, 60, d, 1)?;
    let sol = solve(left, yv, None, &Options::default())?;
    assert_eq!(sol.stop_reason, dspgd::StopReason::Converged, "the example problem converges");
    println!("gd on X[:, :60]: {} after {} iterations, residual {:.2e}", sol.stop_reason, sol.iterations, sol.rel_residual);
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
