//! The spec strings of SPEC §2 (losses) and §3 (preconditioners): every
//! valid spec parses to the right typed value, `Display` round-trips
//! (parse(display(x)) == x, including random parameters drawn from the
//! fixed-seed [`Rng`], seed printed on failure), and every malformed spec is
//! an error whose message names the problem.

use dspgd_backend::rng::Rng;
use dspgd_backend::{Loss, Precond, SpecError};

fn loss(s: &str) -> Loss {
    s.parse().unwrap_or_else(|e| panic!("'{s}' should parse: {e}"))
}

fn precond(s: &str) -> Precond {
    s.parse().unwrap_or_else(|e| panic!("'{s}' should parse: {e}"))
}

/// Log-uniform in [lo, hi].
fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.uniform() * (hi.ln() - lo.ln())).exp()
}

#[test]
fn valid_loss_specs_parse_to_the_right_value() {
    let table: &[(&str, Loss)] = &[
        ("squared", Loss::Squared),
        ("huber:0.5", Loss::Huber { delta: 0.5 }),
        ("huber:1", Loss::Huber { delta: 1.0 }),
        ("huber:1e-3", Loss::Huber { delta: 1e-3 }),
        ("huber:2.5E2", Loss::Huber { delta: 250.0 }),
        ("logcosh", Loss::LogCosh),
        ("lp:2", Loss::Lp { p: 2.0 }),
        ("lp:2.5", Loss::Lp { p: 2.5 }),
        ("lp:3", Loss::Lp { p: 3.0 }),
        ("lp:4", Loss::Lp { p: 4.0 }),
        // Surrounding blanks are ignored.
        ("  squared ", Loss::Squared),
        (" huber : 0.5 ", Loss::Huber { delta: 0.5 }),
    ];
    for (spec, want) in table {
        assert_eq!(loss(spec), *want, "'{spec}'");
        want.validate().unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(Loss::default().to_string(), "squared");
}

#[test]
fn valid_precond_specs_parse_to_the_right_value() {
    let table: &[(&str, Precond)] = &[
        ("gd", Precond::Gd),
        ("clip:1", Precond::Clip { tau: 1.0 }),
        ("clip:0.25", Precond::Clip { tau: 0.25 }),
        ("ngd", Precond::Ngd { eps: None }),
        ("ngd:1e-8", Precond::Ngd { eps: Some(1e-8) }),
        ("power:1.5", Precond::Power { p: 1.5 }),
        ("power:2", Precond::Power { p: 2.0 }),
        ("power:3", Precond::Power { p: 3.0 }),
        ("spectral", Precond::Spectral { eps: None }),
        ("spectral:1e-3", Precond::Spectral { eps: Some(1e-3) }),
        ("sign", Precond::Sign),
        ("adam:1e-8", Precond::Adam { eps: 1e-8 }),
        ("adam:0.01", Precond::Adam { eps: 0.01 }),
        ("eclip:0.1", Precond::EClip { tau: 0.1 }),
        ("lp:1.5", Precond::Lp { p: 1.5 }),
        ("lp:2", Precond::Lp { p: 2.0 }),
        ("lp:3", Precond::Lp { p: 3.0 }),
        // The alias of `spectral`, and blanks.
        ("muon", Precond::Spectral { eps: None }),
        ("muon:0.5", Precond::Spectral { eps: Some(0.5) }),
        (" adam : 1e-3 ", Precond::Adam { eps: 1e-3 }),
    ];
    for (spec, want) in table {
        assert_eq!(precond(spec), *want, "'{spec}'");
        want.validate().unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(Precond::default().to_string(), "gd");
}

/// `to_string()` gives the canonical spec (SPEC §2–§3 spelling), and parsing it back gives the same value.
#[test]
fn display_is_canonical_and_round_trips() {
    let canonical = ["squared", "huber:0.5", "logcosh", "lp:2", "lp:2.5", "lp:3", "lp:4", "huber:1e-7", "huber:12345.678"];
    for s in canonical {
        let v = loss(s);
        let shown = v.to_string();
        assert_eq!(loss(&shown), v, "'{s}' → '{shown}'");
        // Same number, possibly spelled differently (1e-7 is shown as 0.0000001).
        assert_eq!(shown.split(':').next(), s.split(':').next(), "'{s}' → '{shown}'");
    }
    for s in ["squared", "huber:0.5", "logcosh", "lp:2.5"] {
        assert_eq!(loss(s).to_string(), s);
    }
    for s in [
        "gd",
        "clip:0.5",
        "ngd",
        "ngd:1e-3",
        "power:1.5",
        "power:3",
        "spectral",
        "spectral:0.01",
        "sign",
        "adam:1e-3",
        "eclip:2",
        "lp:1.5",
        "lp:3",
    ] {
        let v = precond(s);
        assert_eq!(v.to_string(), s, "display of '{s}'");
        assert_eq!(precond(&v.to_string()), v);
    }
    assert_eq!(precond("muon").to_string(), "spectral");
    assert_eq!(precond("muon:0.5").to_string(), "spectral:0.5");
}

/// parse(display(x)) == x for typed values with random parameters over the
/// whole f64 range (1e-300 … 1e300), 200 seeds per kind.
#[test]
fn display_round_trips_random_parameters() {
    for case in 0..200u64 {
        let seed = 0x5EED_0000 + case;
        let mut rng = Rng::new(seed);
        let pos = log_uniform(&mut rng, 1e-300, 1e300);
        let p_loss = 2.0 + log_uniform(&mut rng, 1e-15, 1e6);
        let p_k = 1.0 + log_uniform(&mut rng, 1e-15, 1e6);
        let losses = [Loss::Squared, Loss::Huber { delta: pos }, Loss::LogCosh, Loss::Lp { p: p_loss }];
        for v in losses {
            let shown = v.to_string();
            let back: Loss = shown.parse().unwrap_or_else(|e| panic!("seed {seed}: '{shown}' does not parse back: {e}"));
            assert_eq!(back, v, "seed {seed}: '{shown}'");
        }
        let ks = [
            Precond::Gd,
            Precond::Clip { tau: pos },
            Precond::Ngd { eps: None },
            Precond::Ngd { eps: Some(pos) },
            Precond::Power { p: p_k },
            Precond::Spectral { eps: None },
            Precond::Spectral { eps: Some(pos) },
            Precond::Sign,
            Precond::Adam { eps: pos },
            Precond::EClip { tau: pos },
            Precond::Lp { p: p_k },
        ];
        for v in ks {
            let shown = v.to_string();
            let back: Precond = shown.parse().unwrap_or_else(|e| panic!("seed {seed}: '{shown}' does not parse back: {e}"));
            assert_eq!(back, v, "seed {seed}: '{shown}'");
        }
    }
}

/// Asserts that `r` is an error about `what` for `spec`, whose reason
/// contains every fragment of `needles`.
fn assert_err<T: std::fmt::Debug>(r: Result<T, SpecError>, what: &str, spec: &str, needles: &[&str]) {
    let e = match r {
        Ok(v) => panic!("{what} '{spec}' should be rejected, parsed as {v:?}"),
        Err(e) => e,
    };
    assert_eq!(e.what, what, "'{spec}': {e}");
    assert_eq!(e.spec, spec, "the error should quote the spec as given");
    let msg = e.to_string();
    assert!(msg.contains(&format!("invalid {what} '{spec}'")), "message '{msg}' does not quote the spec");
    for n in needles {
        assert!(e.reason.contains(n), "{what} '{spec}': message '{msg}' does not mention '{n}'");
    }
    // It is a proper error type.
    let _: &dyn std::error::Error = &e;
}

#[test]
fn malformed_loss_specs_are_errors_naming_the_problem() {
    let bad: &[(&str, &[&str])] = &[
        ("", &["empty"]),
        ("   ", &["empty"]),
        ("cubic", &["unknown loss 'cubic'", "squared", "huber:δ", "logcosh", "lp:p"]),
        ("gd", &["unknown loss 'gd'"]),
        (":1", &["unknown loss ''"]),
        ("huber", &["needs a parameter", "δ"]),
        ("lp", &["needs a parameter", "p", "≥ 2"]),
        ("huber:", &["δ", "must be a number", "''"]),
        ("huber:abc", &["δ", "must be a number", "'abc'"]),
        ("huber:1:2", &["δ", "must be a number"]),
        ("huber:0", &["δ", "> 0", "got 0"]),
        ("huber:-1", &["δ", "> 0", "got -1"]),
        ("huber:nan", &["δ", "> 0"]),
        ("huber:inf", &["δ", "> 0"]),
        ("lp:1.5", &["p", "≥ 2", "got 1.5"]),
        ("lp:1", &["p", "≥ 2"]),
        ("lp:-inf", &["p", "≥ 2"]),
        ("squared:1", &["'squared' takes no parameter", ":1"]),
        ("logcosh:1", &["'logcosh' takes no parameter", ":1"]),
        ("squared:", &["'squared' takes no parameter"]),
    ];
    for (spec, needles) in bad {
        assert_err(spec.parse::<Loss>(), "loss", spec, needles);
    }
}

#[test]
fn malformed_precond_specs_are_errors_naming_the_problem() {
    let all_names = ["gd", "clip:τ", "ngd", "ngd:ε", "power:p", "spectral", "spectral:ε", "sign", "adam:ε", "eclip:τ", "lp:p"];
    let e = "newton".parse::<Precond>().unwrap_err();
    for n in all_names {
        assert!(e.reason.contains(n), "the unknown-name message should list '{n}': {e}");
    }
    let bad: &[(&str, &[&str])] = &[
        ("", &["empty"]),
        (" ", &["empty"]),
        ("newton", &["unknown preconditioner 'newton'"]),
        ("squared", &["unknown preconditioner 'squared'"]),
        ("clip", &["needs a parameter", "τ", "> 0"]),
        ("eclip", &["needs a parameter", "τ"]),
        ("adam", &["needs a parameter", "ε"]),
        ("power", &["needs a parameter", "p", "> 1"]),
        ("lp", &["needs a parameter", "p", "> 1"]),
        ("adam:abc", &["ε", "must be a number", "'abc'"]),
        ("clip:", &["τ", "must be a number"]),
        ("ngd:", &["ε", "must be a number"]),
        ("spectral:x", &["ε", "must be a number", "'x'"]),
        ("power:two", &["p", "must be a number"]),
        ("clip:1:2", &["τ", "must be a number"]),
        ("clip:0", &["τ", "> 0", "got 0"]),
        ("clip:-1", &["τ", "> 0", "got -1"]),
        ("eclip:-0.5", &["τ", "> 0"]),
        ("ngd:0", &["ε", "> 0", "got 0"]),
        ("spectral:0", &["ε", "> 0"]),
        ("spectral:-1e-3", &["ε", "> 0"]),
        ("adam:0", &["ε", "> 0"]),
        ("adam:nan", &["ε", "> 0", "nan"]),
        ("adam:NaN", &["ε", "> 0"]),
        ("adam:inf", &["ε", "> 0", "inf"]),
        ("adam:-inf", &["ε", "> 0"]),
        ("clip:1e400", &["τ", "> 0"]),
        ("power:1", &["p", "> 1", "got 1"]),
        ("power:0.5", &["p", "> 1"]),
        ("lp:0.5", &["p", "> 1", "got 0.5"]),
        ("lp:1", &["p", "> 1"]),
        ("gd:1", &["'gd' takes no parameter", ":1"]),
        ("sign:2", &["'sign' takes no parameter", ":2"]),
        ("gd:", &["'gd' takes no parameter"]),
    ];
    for (spec, needles) in bad {
        assert_err(spec.parse::<Precond>(), "preconditioner", spec, needles);
    }
}

/// The "needs a parameter" message gives an example that itself parses.
#[test]
fn missing_parameter_message_suggests_a_valid_example() {
    for name in ["clip", "eclip", "adam", "power", "lp"] {
        let e = name.parse::<Precond>().unwrap_err();
        let example = e.reason.split("e.g. '").nth(1).and_then(|r| r.split('\'').next());
        let example = example.unwrap_or_else(|| panic!("no example in '{e}'"));
        example.parse::<Precond>().unwrap_or_else(|e2| panic!("the example '{example}' of '{e}' does not parse: {e2}"));
    }
    for name in ["huber", "lp"] {
        let e = name.parse::<Loss>().unwrap_err();
        let example = e.reason.split("e.g. '").nth(1).and_then(|r| r.split('\'').next());
        let example = example.unwrap_or_else(|| panic!("no example in '{e}'"));
        example.parse::<Loss>().unwrap_or_else(|e2| panic!("the example '{example}' of '{e}' does not parse: {e2}"));
    }
}
