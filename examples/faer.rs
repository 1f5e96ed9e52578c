//! Solve a problem held in `faer` matrices and get W back as a faer matrix.
//!
//! Run: `cargo run --example faer` (feature `faer`, on by default).

use dspgd::interop::faer::{as_faer, view_or_copy};
use dspgd::{solve, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // X: 40×200 with entries of variance 1/200, Y: 40×2.
    let x = faer::Mat::<f64>::from_fn(40, 200, |i, j| noise(i, j) * (3.0f64 / 200.0).sqrt());
    let y = faer::Mat::<f64>::from_fn(40, 2, |i, j| noise(i + 1000, j));

    // faer pads columns to an aligned length: 40 rows of f64 are not padded,
    // so these views are free; otherwise view_or_copy copies once.
    let (xv, yv) = (view_or_copy(x.as_ref()), view_or_copy(y.as_ref()));
    println!("X viewed without a copy: {}, Y: {}", xv.is_borrowed(), yv.is_borrowed());

    for k in ["gd", "adam:1e-2"] {
        let opts = Options { precond: k.parse()?, analyze: true, ..Options::default() };
        let sol = solve(xv.as_ref(), yv.as_ref(), None, &opts)?;
        assert_eq!(sol.stop_reason, dspgd::StopReason::Converged, "the example problem converges");
        // W as a faer view (no copy), used with faer's own arithmetic.
        let w = as_faer(sol.w.as_ref());
        let residual = (&x * w - &y).norm_l2() / y.norm_l2();
        println!(
            "{k:>10}: {} after {} iterations, ‖XW−Y‖/‖Y‖ = {residual:.2e} (by faer), ρ = {:.4}",
            sol.stop_reason,
            sol.iterations,
            sol.analysis.map_or(f64::NAN, |a| a.rho)
        );
    }
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
