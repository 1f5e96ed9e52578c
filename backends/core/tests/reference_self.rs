//! The kit runs against the reference itself: it must agree exactly, which
//! checks the kit's own plumbing (layouts, NaN padding, shapes).
use dspgd_backend::{conformance, Reference};

#[test]
fn reference_passes_its_own_kit_f64() {
    let n = conformance::check::<f64>(&Reference, 0.0).unwrap();
    assert!(n > 1000, "only {n} checks ran");
}

#[test]
fn reference_passes_its_own_kit_f32() {
    conformance::check::<f32>(&Reference, 0.0).unwrap();
}
