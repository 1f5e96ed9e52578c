//! End-to-end tests of the `dspgd` binary: `.npy` files in, W and a JSON
//! report out, exit codes, and the bad inputs of SPEC §8.
#![cfg(feature = "cli")]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_dspgd");

// ---------------------------------------------------------------- helpers


/// How a test file is laid out on disk.
#[derive(Clone, Copy)]
struct Layout {
    descr: &'static str,
    fortran: bool,
    version: u8,
}

const C64: Layout = Layout { descr: "<f8", fortran: false, version: 1 };

fn shape_str(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

/// Raw .npy bytes with the given header text and data.
fn npy_raw(header_dict: &str, version: u8, data: &[u8]) -> Vec<u8> {
    let mut h = header_dict.to_string();
    let pre = if version == 1 { 10 } else { 12 };
    while (pre + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Writes a C-order `values` (row-major) of `shape` in the given layout.
fn write_npy(path: &Path, shape: &[usize], values: &[f64], l: Layout) {
    assert_eq!(values.len(), shape.iter().product::<usize>());
    let ordered: Vec<f64> = if l.fortran && shape.len() == 2 {
        let (r, c) = (shape[0], shape[1]);
        (0..r * c).map(|idx| values[(idx % r) * c + idx / r]).collect()
    } else {
        values.to_vec()
    };
    let mut data = vec![];
    for v in ordered {
        match l.descr {
            "<f8" => data.extend_from_slice(&v.to_le_bytes()),
            ">f8" => data.extend_from_slice(&v.to_be_bytes()),
            "<f4" => data.extend_from_slice(&(v as f32).to_le_bytes()),
            ">f4" => data.extend_from_slice(&(v as f32).to_be_bytes()),
            other => panic!("test writer: {other}"),
        }
    }
    let f = if l.fortran { "True" } else { "False" };
    let dict = format!("{{'descr': '{}', 'fortran_order': {f}, 'shape': {}, }}", l.descr, shape_str(shape));
    std::fs::write(path, npy_raw(&dict, l.version, &data)).unwrap();
}

/// Reads a file the CLI wrote: version 1.0, little-endian, C order.
fn read_npy(path: &Path) -> (String, Vec<usize>, Vec<f64>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00", "version 1.0");
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    assert_eq!((10 + hl) % 64, 0, "header padded to 64 bytes");
    let h = std::str::from_utf8(&b[10..10 + hl]).unwrap();
    assert!(h.ends_with('\n'));
    assert!(h.contains("'fortran_order': False"), "{h}");
    let descr = h.split("'descr': '").nth(1).unwrap()[..3].to_string();
    let shape_txt = h.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> = shape_txt.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    let data = &b[10 + hl..];
    let values: Vec<f64> = match descr.as_str() {
        "<f8" => data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        "<f4" => data.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap()))).collect(),
        other => panic!("unexpected dtype {other}"),
    };
    assert_eq!(values.len(), shape.iter().product::<usize>());
    (descr, shape, values)
}

/// Deterministic pseudo-random numbers in (−1, 1).
fn noise(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// ‖XW − Y‖/‖Y‖ with X n×d, W d×k, Y n×k, all row-major.
fn rel_residual(x: &[f64], w: &[f64], y: &[f64], n: usize, d: usize, k: usize) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..n {
        for j in 0..k {
            let xw: f64 = (0..d).map(|l| x[i * d + l] * w[l * k + j]).sum();
            num += (xw - y[i * k + j]).powi(2);
            den += y[i * k + j].powi(2);
        }
    }
    (num / den).sqrt()
}

fn dspgd(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("DSPGD_BACKEND").output().expect("run dspgd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally, not by a signal")
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const N: usize = 8;
const D: usize = 20;
const K: usize = 3;

/// A small problem written as X.npy and Y.npy in `dir`.
fn problem(dir: &TempDir, lx: Layout, ly: Layout) -> (Vec<f64>, Vec<f64>) {
    let x = noise(1, N * D);
    let y = noise(2, N * K);
    write_npy(&dir.path("X.npy"), &[N, D], &x, lx);
    write_npy(&dir.path("Y.npy"), &[N, K], &y, ly);
    (x, y)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ------------------------------------------------------------------ solve

#[test]
fn solve_converges_and_reports() {
    let dir = TempDir::new("basic");
    let (x, y) = problem(&dir, C64, C64);
    let (out, rep) = (dir.path("W.npy"), dir.path("report.json"));
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&out), "--report", s(&rep)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("converged"), "summary on stderr: {}", stderr(&o));
    let (descr, shape, w) = read_npy(&out);
    assert_eq!(descr, "<f8");
    assert_eq!(shape, vec![D, K]);
    assert!(rel_residual(&x, &w, &y, N, D, K) <= 1e-8);
    let r = report(&rep);
    for key in [
        "iterations", "rel_residual", "stop_reason", "lr_rule", "eta0", "backend", "kernel", "path", "dtype", "threads", "seconds",
        "setup_seconds", "iters_per_sec", "n", "d", "k", "precond", "loss", "tol", "max_iters", "warnings", "dspgd_version",
    ] {
        assert!(r.get(key).is_some(), "report lacks '{key}': {r}");
    }
    assert_eq!(r["stop_reason"], "converged");
    assert_eq!((r["n"].as_u64(), r["d"].as_u64(), r["k"].as_u64()), (Some(N as u64), Some(D as u64), Some(K as u64)));
    assert_eq!(r["dtype"], "f64");
    assert_eq!(r["precond"], "gd");
    assert_eq!(r["loss"], "squared");
    assert_eq!(r["lr_rule"], "auto");
    assert_eq!(r["threads"], 1);
    assert_eq!(r["tol"], 1e-10);
    assert!(r["rel_residual"].as_f64().unwrap() <= 1e-10);
    assert!(r["iterations"].as_u64().unwrap() >= 1);
    assert!(r["warnings"].as_array().unwrap().is_empty());
    assert_eq!(dir.files(), vec!["W.npy", "X.npy", "Y.npy", "report.json"], "no temporary file left behind");
}

#[test]
fn fortran_order_and_big_endian_inputs_give_the_same_w() {
    let base = TempDir::new("layout-c");
    problem(&base, C64, C64);
    let o = dspgd(&["solve", "--x", s(&base.path("X.npy")), "--y", s(&base.path("Y.npy")), "--out", s(&base.path("W.npy")), "-q"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "--quiet prints nothing: {}", stderr(&o));
    let (_, _, w_ref) = read_npy(&base.path("W.npy"));

    let fortran = Layout { descr: "<f8", fortran: true, version: 1 };
    let big = Layout { descr: ">f8", fortran: false, version: 2 };
    let big_fortran = Layout { descr: ">f8", fortran: true, version: 3 };
    for (name, lx, ly) in [("f-le", fortran, big), ("be-c", big, fortran), ("be-f", big_fortran, C64)] {
        let dir = TempDir::new(name);
        let (x, y) = problem(&dir, lx, ly);
        let out = dir.path("W.npy");
        let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&out), "--quiet"]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let (_, shape, w) = read_npy(&out);
        assert_eq!(shape, vec![D, K]);
        assert!(rel_residual(&x, &w, &y, N, D, K) <= 1e-8, "{name}");
        let diff = w.iter().zip(&w_ref).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(diff <= 1e-12, "{name}: W differs from the C-order run by {diff}");
    }
}

#[test]
fn one_dimensional_y_gives_one_dimensional_w_and_w0_is_used() {
    let dir = TempDir::new("1d");
    let x = noise(3, N * D);
    let y = noise(4, N);
    let w0 = noise(5, D);
    write_npy(&dir.path("X.npy"), &[N, D], &x, C64);
    write_npy(&dir.path("y.npy"), &[N], &y, C64);
    write_npy(&dir.path("w0.npy"), &[D], &w0, C64);
    let (xp, yp, w0p) = (dir.path("X.npy"), dir.path("y.npy"), dir.path("w0.npy"));
    let (out, rep) = (dir.path("w.npy"), dir.path("r.json"));
    let args = ["solve", "--x", s(&xp), "--y", s(&yp), "--out", s(&out), "--report", s(&rep)];
    let o = dspgd(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (_, shape, w) = read_npy(&out);
    assert_eq!(shape, vec![D], "1-D Y gives 1-D W");
    assert!(rel_residual(&x, &w, &y, N, D, 1) <= 1e-8);
    assert_eq!(report(&rep)["k"], 1);

    // From W0, isotropic K lands on the interpolator nearest W0, which differs from the one nearest 0.
    let mut with_w0 = args.to_vec();
    with_w0.extend(["--w0", s(&w0p)]);
    let o = dspgd(&with_w0);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (_, shape, w_from_w0) = read_npy(&out);
    assert_eq!(shape, vec![D]);
    assert!(rel_residual(&x, &w_from_w0, &y, N, D, 1) <= 1e-8);
    let moved = w.iter().zip(&w_from_w0).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(moved > 1e-3, "W0 was ignored");

    // A 1-D W0 with k > 1 is refused, naming both shapes.
    write_npy(&dir.path("Y3.npy"), &[N, K], &noise(6, N * K), C64);
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y3.npy")), "--w0", s(&dir.path("w0.npy")), "--out", s(&dir.path("w3.npy"))]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("--w0") && e.contains(&format!("({D},)")) && e.contains(&format!("({N}, {K})")), "{e}");
    assert!(!dir.path("w3.npy").exists());
}

#[test]
fn max_iters_exits_3_with_w_and_report() {
    let dir = TempDir::new("maxit");
    problem(&dir, C64, C64);
    let (out, rep) = (dir.path("W.npy"), dir.path("r.json"));
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&out), "--report", s(&rep), "--max-iters", "5", "--precond", "sign"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let (_, shape, _) = read_npy(&out);
    assert_eq!(shape, vec![D, K]);
    let r = report(&rep);
    assert_eq!(r["stop_reason"], "max_iters");
    assert_eq!(r["iterations"], 5);
    assert_eq!(r["lr_rule"], "line-search", "non-smooth K defaults to the line search");
    assert_eq!(r["exit_code"], 3);
}

#[test]
fn shape_mismatch_exits_2_naming_both_shapes_and_writes_nothing() {
    let dir = TempDir::new("shape");
    write_npy(&dir.path("X.npy"), &[4, 10], &noise(1, 40), C64);
    write_npy(&dir.path("Y.npy"), &[5], &noise(2, 5), C64);
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), "--report", s(&dir.path("r.json"))]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.starts_with("error: "), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    assert!(e.contains("--y") && e.contains("5x1") && e.contains("4x10"), "names both shapes: {e}");
    assert_eq!(dir.files(), vec!["X.npy", "Y.npy"], "no output file");
}

#[test]
fn bad_spec_strings_exit_2_with_the_argument_named() {
    let dir = TempDir::new("spec");
    problem(&dir, C64, C64);
    for (flag, value, needle) in [
        ("--precond", "adam:-1", "adam:-1"),
        ("--precond", "bogus", "unknown preconditioner"),
        ("--loss", "huber:0", "huber:0"),
        ("--lr", "-1", "-1"),
        ("--lr", "fast", "fast"),
        ("--schedule", "geom:2", "geom:2"),
        ("--backend", "cuda", "cuda"),
        ("--path", "sideways", "sideways"),
    ]
    .into_iter()
    // A backend that exists but was not compiled into this build.
    .chain((!cfg!(feature = "openblas")).then_some(("--backend", "openblas", "openblas")))
    {
        let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), flag, value]);
        assert_eq!(code(&o), 2, "{flag} {value}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.starts_with("error: ") && e.contains(flag) && e.contains(needle), "{flag} {value}: {e}");
    }
    // The Gram path with a separable K, and a schedule with the line search, are refused too.
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), "--precond", "sign", "--path", "gram"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--path"), "{}", stderr(&o));
    // clap's own usage errors also exit 2.
    let o = dspgd(&["solve", "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy"))]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--x"), "{}", stderr(&o));
    let o = dspgd(&["solve", "--x", "a", "--y", "b", "--out", "c", "--max-iters", "many"]);
    assert_eq!(code(&o), 2);
    assert_eq!(dir.files(), vec!["X.npy", "Y.npy"]);
}

#[test]
fn bad_files_exit_2_naming_the_file() {
    let dir = TempDir::new("badfiles");
    problem(&dir, C64, C64);
    let good = std::fs::read(dir.path("X.npy")).unwrap();
    let d8 = vec![0u8; 8 * 40];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.npy", good[..good.len() - 13].to_vec(), "truncated"),
        ("int.npy", npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (4, 10), }", 1, &d8), "<i8"),
        ("complex.npy", npy_raw("{'descr': '<c16', 'fortran_order': False, 'shape': (4, 5), }", 1, &d8), "complex"),
        ("object.npy", npy_raw("{'descr': '|O', 'fortran_order': False, 'shape': (4, 10), }", 1, &d8), "object"),
        ("three_d.npy", npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4, 5), }", 1, &d8), "3-d"),
        ("scalar.npy", npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 1, &d8[..8]), "0-d"),
        ("huge.npy", npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000, 100000), }", 1, &d8), "truncated"),
        ("garbage.npy", b"this is not an npy file at all".to_vec(), "not a .npy file"),
        ("badheader.npy", npy_raw("{'descr': '<f8', 'fortran_order': maybe, 'shape': (4, 10), }", 1, &d8), "fortran_order"),
        ("empty.npy", vec![], "not a .npy file"),
    ];
    for (name, bytes, needle) in cases {
        std::fs::write(dir.path(name), bytes).unwrap();
        let o = dspgd(&["solve", "--x", s(&dir.path(name)), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), "--report", s(&dir.path("r.json"))]);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.starts_with("error: --x") && e.contains(name) && e.contains(needle), "{name}: {e}");
        assert!(!dir.path("W.npy").exists() && !dir.path("r.json").exists(), "{name}: no output");
    }
    let o = dspgd(&["solve", "--x", s(&dir.path("missing.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy"))]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing.npy"), "{}", stderr(&o));
    // A 1-D X is refused with its shape.
    write_npy(&dir.path("x1.npy"), &[8], &noise(1, 8), C64);
    let o = dspgd(&["solve", "--x", s(&dir.path("x1.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy"))]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("(8,)") && stderr(&o).contains("2-D"), "{}", stderr(&o));
    // Non-finite data is refused with its position.
    let mut x = noise(1, N * D);
    x[D + 2] = f64::NAN;
    write_npy(&dir.path("nan.npy"), &[N, D], &x, C64);
    let o = dspgd(&["solve", "--x", s(&dir.path("nan.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy"))]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("row 1, column 2"), "{}", stderr(&o));
    assert!(!dir.path("W.npy").exists());
}

#[test]
fn unwritable_output_exits_2_before_solving() {
    let dir = TempDir::new("unwritable");
    problem(&dir, C64, C64);
    let out = dir.path("no_such_folder/W.npy");
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&out)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--out") && stderr(&o).contains("no_such_folder"), "{}", stderr(&o));
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), "--report", s(&dir.0)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--report"), "{}", stderr(&o));
    assert_eq!(dir.files(), vec!["X.npy", "Y.npy"]);
}

#[test]
fn divergence_exits_4_with_report_and_w_only_with_keep_last() {
    let dir = TempDir::new("diverge");
    problem(&dir, C64, C64);
    let (xp, yp, out, rep) = (dir.path("X.npy"), dir.path("Y.npy"), dir.path("W.npy"), dir.path("r.json"));
    let base = ["solve", "--x", s(&xp), "--y", s(&yp), "--out", s(&out), "--report", s(&rep), "--lr", "1e6"];
    let o = dspgd(&base);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("diverged"), "{}", stderr(&o));
    let r = report(&rep);
    assert_eq!(r["stop_reason"], "diverged");
    assert!(r["iterations"].as_u64().is_some());
    assert_eq!(r["lr_rule"], "constant");
    assert_eq!(r["eta0"], 1e6);
    assert!(!out.exists(), "no W without --keep-last");

    std::fs::remove_file(&rep).unwrap();
    let mut keep = base.to_vec();
    keep.push("--keep-last");
    let o = dspgd(&keep);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let (_, shape, w) = read_npy(&out);
    assert_eq!(shape, vec![D, K]);
    assert!(w.iter().all(|v| v.is_finite()), "the last finite iterate");
    assert_eq!(report(&rep)["w_written"], true);
}

#[test]
fn dtype_follows_x_unless_asked() {
    let dir = TempDir::new("dtype");
    let f32c = Layout { descr: "<f4", fortran: false, version: 1 };
    let f32be = Layout { descr: ">f4", fortran: true, version: 1 };
    let (x, y) = problem(&dir, f32c, f32be);
    let (out, rep) = (dir.path("W.npy"), dir.path("r.json"));
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&out), "--report", s(&rep)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (descr, shape, w) = read_npy(&out);
    assert_eq!((descr.as_str(), shape), ("<f4", vec![D, K]), "f32 in, f32 out");
    assert_eq!(report(&rep)["dtype"], "f32");
    let xr: Vec<f64> = x.iter().map(|&v| f64::from(v as f32)).collect();
    let yr: Vec<f64> = y.iter().map(|&v| f64::from(v as f32)).collect();
    assert!(rel_residual(&xr, &w, &yr, N, D, K) <= 1e-4);

    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&out), "--dtype", "f64"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (descr, _, w) = read_npy(&out);
    assert_eq!(descr, "<f8", "--dtype f64 overrides X's dtype");
    assert!(rel_residual(&xr, &w, &yr, N, D, K) <= 1e-8);

    // f64 Y with f32 X: the run is f32.
    write_npy(&dir.path("Y64.npy"), &[N, K], &y, C64);
    let o = dspgd(&["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y64.npy")), "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_npy(&out).0, "<f4");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_with_130_and_writes_the_last_iterate() {
    use std::time::{Duration, Instant};
    let dir = TempDir::new("sigint");
    problem(&dir, C64, C64);
    let (out, rep) = (dir.path("W.npy"), dir.path("r.json"));
    // sign with a small constant step never reaches the tolerance: it runs until stopped.
    let mut child = Command::new(BIN)
        .args(["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&out), "--report", s(&rep)])
        .args(["--precond", "sign", "--lr", "1e-4", "--tol", "1e-300", "--max-iters", "4000000000", "--quiet"])
        .env_remove("DSPGD_BACKEND")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("dspgd did not stop within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "{status:?}");
    let r = report(&rep);
    assert_eq!(r["stop_reason"], "interrupted");
    assert!(r["iterations"].as_u64().unwrap() > 0);
    let (_, shape, w) = read_npy(&out);
    assert_eq!(shape, vec![D, K]);
    assert!(w.iter().all(|v| v.is_finite()));
}

// ----------------------------------------------------------- info, demo

#[test]
fn info_json_lists_the_backends() {
    let o = dspgd(&["info", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("info --json is JSON");
    let backends: Vec<&str> = v["backends"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    assert!(backends.contains(&"reference"), "{v}");
    if cfg!(feature = "faer") {
        assert!(backends.contains(&"faer"), "{v}");
    }
    if cfg!(feature = "openblas") {
        assert!(backends.contains(&"openblas"), "{v}");
        assert!(!v["openblas"]["core"].as_str().unwrap().is_empty(), "{v}");
    }
    if cfg!(feature = "simd") {
        assert!(backends.contains(&"simd"), "{v}");
        let simd = v["backend_details"].as_array().unwrap().iter().find(|b| b["name"] == "simd").expect("simd details");
        // The level the SIMD kernels run must be the best this CPU has (DSPGD_SIMD unset here).
        #[cfg(target_arch = "x86_64")]
        {
            let want = if std::arch::is_x86_feature_detected!("avx512f") {
                "avx512"
            } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                "avx2"
            } else {
                "scalar"
            };
            if std::env::var_os("DSPGD_SIMD").is_none() {
                assert_eq!(simd["kernel_f64"], want, "{v}");
                assert_eq!(simd["kernel_f32"], want, "{v}");
            }
        }
    }
    assert!(v["version"].is_string());
    assert!(v["available_threads"].as_u64().unwrap() >= 1);
    assert_eq!(v["huge_pages"]["min_bytes"], 4 << 20, "{v}");
    if cfg!(target_os = "linux") && std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
        assert!(v["huge_pages"]["thp_mode"].is_string(), "{v}");
    }
    assert!(v["build"]["rustc"].as_str().unwrap().contains("rustc") || v["build"]["rustc"] == "unknown");
    assert!(v["cpu"]["features"].is_object());
    let o = dspgd(&["info"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("reference"));
}

#[test]
fn no_arguments_runs_the_demo_table() {
    let o = dspgd(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in ["K", "class", "ρ", "gd", "spectral:1e-2", "sign", "adam:1e-2", "eclip:0.05", "W_GD"] {
        assert!(out.contains(needle), "'{needle}' missing from:\n{out}");
    }
    // Isotropic K land on W_GD (ρ = 1), separable ones do not (ρ > 1).
    let rho = |k: &str| -> f64 {
        let line = out.lines().find(|l| l.split_whitespace().next() == Some(k)).unwrap_or_else(|| panic!("no row {k}:\n{out}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        cols[cols.len() - 4].parse().unwrap() // ρ, seconds, iters/s, backend/path
    };
    assert!((rho("gd") - 1.0).abs() < 1e-6, "{out}");
    assert!(rho("sign") > 1.01, "{out}");
}

#[test]
fn demo_out_dir_writes_json_and_svg() {
    let dir = TempDir::new("demo");
    let o = dspgd(&["demo", "--n", "20", "--d", "80", "--k", "2", "--seed", "3", "--out-dir", s(&dir.0)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(dir.path("demo.json")).unwrap()).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 7);
    assert!(v["runs"][0]["history"]["rel_residual"].as_array().unwrap().len() > 1);
    let svg = std::fs::read_to_string(dir.path("demo.svg")).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains("polyline"));
    let o = dspgd(&["demo", "--n", "30", "--d", "10"]);
    assert_eq!(code(&o), 2, "n > d is refused");
}

// ------------------------------------------- bad input: the rest of SPEC §8

/// Runs `dspgd solve` with `extra` arguments on the files of `dir` and
/// checks the bad-input contract: exit 2, one line `error: ...` naming every
/// needle (the argument and the offending value or shape), no panic, and no
/// file added to `dir`.
fn refused(dir: &TempDir, case: &str, args: &[&str], needles: &[&str]) {
    let before = dir.files();
    let o = dspgd(args);
    let e = stderr(&o);
    assert_eq!(code(&o), 2, "{case}: {e}");
    assert!(!e.contains("panicked"), "{case}: {e}");
    assert!(e.starts_with("error: "), "{case}: {e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{case}: one line: {e}");
    for needle in needles {
        assert!(e.contains(needle), "{case}: '{needle}' missing from: {e}");
    }
    assert_eq!(dir.files(), before, "{case}: no output file");
}

/// The solve command on X.npy, Y.npy (or the given files) of `dir`, writing W.npy and r.json there.
fn solve_args<'a>(dir: &'a TempDir, x: &'a str, y: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = ["solve", "--x", s(&dir.path(x)), "--y", s(&dir.path(y)), "--out", s(&dir.path("W.npy")), "--report", s(&dir.path("r.json"))]
        .iter()
        .map(|a| a.to_string())
        .collect();
    v.extend(extra.iter().map(|a| a.to_string()));
    v
}

fn refused_solve(dir: &TempDir, case: &str, x: &str, y: &str, extra: &[&str], needles: &[&str]) {
    let args = solve_args(dir, x, y, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(dir, case, &args, needles);
}

#[test]
fn corrupt_headers_and_unsupported_dtypes_exit_2_naming_file_and_problem() {
    let dir = TempDir::new("badheaders");
    problem(&dir, C64, C64);
    let d8 = vec![0u8; 8 * N * D];
    let good = std::fs::read(dir.path("X.npy")).unwrap();
    let dict = |descr: &str, shape: &str| format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let with = |pre: &[u8], rest: &[u8]| [pre, rest].concat();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("x", "c8.npy", npy_raw(&dict("<c8", "(8, 20)"), 1, &d8), "'<c8' (complex)"),
        ("x", "c16.npy", npy_raw(&dict("<c16", "(8, 10)"), 1, &d8), "'<c16' (complex)"),
        ("x", "f2.npy", npy_raw(&dict("<f2", "(8, 20)"), 1, &d8[..2 * N * D]), "'<f2'"),
        ("x", "bool.npy", npy_raw(&dict("|b1", "(8, 20)"), 1, &d8[..N * D]), "boolean"),
        ("x", "str.npy", npy_raw(&dict("<U3", "(8, 20)"), 1, &d8), "string"),
        ("x", "pickle.npy", npy_raw(&dict("|O", "(8, 20)"), 1, &d8), "'|O' (Python object)"),
        ("x", "datetime.npy", npy_raw(&dict("<M8[D]", "(8, 20)"), 1, &d8), "datetime"),
        (
            "x",
            "struct.npy",
            npy_raw("{'descr': [('a', '<f8'), ('b', '<f8')], 'fortran_order': False, 'shape': (8, 10), }", 1, &d8),
            "unsupported dtype",
        ),
        ("x", "noshape.npy", npy_raw("{'descr': '<f8', 'fortran_order': False, }", 1, &d8), "no 'shape' key"),
        ("x", "nodescr.npy", npy_raw("{'fortran_order': False, 'shape': (8, 20), }", 1, &d8), "no 'descr' key"),
        ("x", "noorder.npy", npy_raw("{'descr': '<f8', 'shape': (8, 20), }", 1, &d8), "no 'fortran_order' key"),
        ("x", "unterminated.npy", npy_raw("{'descr': '<f8, 'fortran_order': False, 'shape': (8, 20), }", 1, &d8), "corrupt header"),
        ("x", "list.npy", npy_raw("['<f8', False, (8, 20)]", 1, &d8), "expected '{'"),
        ("x", "negative.npy", npy_raw(&dict("<f8", "(-8, 20)"), 1, &d8), "non-negative integer"),
        ("x", "badshape.npy", npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': [8, 20], }", 1, &d8), "'shape' must be a tuple"),
        ("x", "magic.npy", with(b"\x93NUMPX", &good[6..]), "magic string"),
        ("x", "version.npy", with(b"\x93NUMPY\x09\x00", &good[8..]), "unsupported .npy format version 9.0"),
        ("x", "hlen.npy", with(b"\x93NUMPY\x01\x00\xff\xff", &good[10..200]), "header should be 65535 bytes"),
        ("x", "trailing.npy", [good.clone(), vec![0; 5]].concat(), "corrupt"),
        ("y", "y_int.npy", npy_raw(&dict("<i4", "(8, 3)"), 1, &d8[..4 * N * K]), "'<i4' (integer)"),
        ("y", "y_3d.npy", npy_raw(&dict("<f8", "(8, 3, 1)"), 1, &d8[..8 * N * K]), "3-d"),
        ("w0", "w0_pickle.npy", npy_raw(&dict("|O", "(20, 3)"), 1, &d8[..8 * D * K]), "Python object"),
        ("w0", "w0_scalar.npy", npy_raw(&dict("<f8", "()"), 1, &d8[..8]), "0-d"),
    ];
    for (arg, name, bytes, needle) in cases {
        std::fs::write(dir.path(name), bytes).unwrap();
        let w0 = dir.path(name);
        let (x, y, extra): (&str, &str, Vec<&str>) = match arg {
            "x" => (name, "Y.npy", vec![]),
            "y" => ("X.npy", name, vec![]),
            _ => ("X.npy", "Y.npy", vec!["--w0", s(&w0)]),
        };
        refused_solve(&dir, name, x, y, &extra, &[&format!("--{arg}"), name, needle]);
    }
}

#[test]
fn non_finite_and_empty_inputs_exit_2_with_position_or_shape() {
    let dir = TempDir::new("nonfinite");
    problem(&dir, C64, C64);
    let mut y = noise(2, N * K);
    y[2 * K + 1] = f64::INFINITY;
    write_npy(&dir.path("y_inf.npy"), &[N, K], &y, C64);
    refused_solve(&dir, "inf in Y", "X.npy", "y_inf.npy", &[], &["--y", "y_inf.npy", "inf", "row 2, column 1"]);
    let mut y1 = noise(2, N);
    y1[5] = f64::NAN;
    write_npy(&dir.path("y_nan.npy"), &[N], &y1, C64);
    refused_solve(&dir, "NaN in 1-D Y", "X.npy", "y_nan.npy", &[], &["--y", "NaN", "row 5, column 0"]);
    let mut w0 = noise(3, D * K);
    w0[D * K - 1] = f64::NEG_INFINITY;
    write_npy(&dir.path("w0_inf.npy"), &[D, K], &w0, C64);
    refused_solve(&dir, "-inf in W0", "X.npy", "Y.npy", &["--w0", s(&dir.path("w0_inf.npy"))], &["--w0", "-inf", &format!("row {}, column {}", D - 1, K - 1)]);
    // f64 data that overflows f32 is non-finite after --dtype f32: the message says so.
    let mut x = noise(1, N * D);
    x[3] = 1e300;
    write_npy(&dir.path("x_big.npy"), &[N, D], &x, C64);
    refused_solve(&dir, "overflow on conversion", "x_big.npy", "Y.npy", &["--dtype", "f32"], &["--x", "row 0, column 3", "conversion"]);
    // X tiny and Y huge: W would be about 1e320, beyond f64.
    write_npy(&dir.path("x_tiny.npy"), &[N, D], &noise(1, N * D).iter().map(|v| v * 1e-160).collect::<Vec<_>>(), C64);
    write_npy(&dir.path("y_huge.npy"), &[N, K], &noise(2, N * K).iter().map(|v| v * 1e160).collect::<Vec<_>>(), C64);
    refused_solve(&dir, "W overflows", "x_tiny.npy", "y_huge.npy", &[], &["--x", "x_tiny.npy", "does not fit in f64"]);
    // Zero rows, zero columns, zero targets.
    write_npy(&dir.path("x0.npy"), &[0, D], &[], C64);
    write_npy(&dir.path("y0.npy"), &[0, K], &[], C64);
    refused_solve(&dir, "n = 0", "x0.npy", "y0.npy", &[], &["--x", "0x20", "at least one row"]);
    write_npy(&dir.path("xd0.npy"), &[N, 0], &[], C64);
    refused_solve(&dir, "d = 0", "xd0.npy", "Y.npy", &[], &["--x", "8x0", "at least one row and one column"]);
    write_npy(&dir.path("yk0.npy"), &[N, 0], &[], C64);
    refused_solve(&dir, "k = 0", "X.npy", "yk0.npy", &[], &["--y", "8x0"]);
    // A 2-D W0 of the wrong shape names both shapes.
    write_npy(&dir.path("w0_shape.npy"), &[D + 1, K], &noise(4, (D + 1) * K), C64);
    refused_solve(&dir, "W0 shape", "X.npy", "Y.npy", &["--w0", s(&dir.path("w0_shape.npy"))], &["--w0", "21x3", "20x3"]);
}

#[test]
fn every_malformed_spec_and_option_exits_2_naming_the_argument() {
    let dir = TempDir::new("specs");
    problem(&dir, C64, C64);
    let cases: &[(&str, &str, &str)] = &[
        // Empty.
        ("--precond", "", "empty"),
        ("--loss", "", "empty"),
        ("--lr", "", "step size"),
        ("--schedule", "", "empty"),
        ("--backend", "", "unknown backend"),
        ("--path", "", "unknown path"),
        // Unknown name.
        ("--loss", "hinge", "unknown loss 'hinge'"),
        ("--schedule", "cosine", "unknown schedule 'cosine'"),
        ("--precond", "GD", "unknown preconditioner 'GD'"),
        // Missing parameter.
        ("--precond", "clip", "needs a parameter τ"),
        ("--precond", "adam", "needs a parameter ε"),
        ("--precond", "power", "needs a parameter p"),
        ("--loss", "huber", "needs a parameter δ"),
        ("--schedule", "geom", "needs a factor γ"),
        ("--precond", "adam:", "must be a number"),
        // Non-numeric parameter.
        ("--precond", "adam:abc", "must be a number, got 'abc'"),
        ("--precond", "power:two", "'two'"),
        ("--loss", "huber:x", "'x'"),
        ("--schedule", "geom:half", "'half'"),
        ("--lr", "1e-3x", "1e-3x"),
        // Out of range.
        ("--precond", "clip:0", "τ of 'clip' must be > 0"),
        ("--precond", "eclip:-1", "τ of 'eclip' must be > 0"),
        ("--precond", "ngd:0", "ε of 'ngd' must be > 0"),
        ("--precond", "spectral:-1e-3", "ε of 'spectral' must be > 0"),
        ("--precond", "power:1", "p of 'power' must be > 1"),
        ("--precond", "lp:0.5", "p of 'lp' must be > 1"),
        ("--precond", "adam:inf", "must be > 0, got inf"),
        ("--precond", "adam:NaN", "got NaN"),
        ("--loss", "lp:1", "p of 'lp' must be ≥ 2"),
        ("--loss", "huber:-0.5", "δ of 'huber' must be > 0"),
        ("--lr", "0", "must be > 0"),
        ("--lr", "inf", "must be > 0 and finite"),
        ("--lr", "NaN", "NaN"),
        ("--schedule", "geom:0", "γ must be in (0, 1]"),
        ("--schedule", "geom:1.5", "γ must be in (0, 1]"),
        // A parameter where none is taken.
        ("--precond", "gd:1", "takes no parameter"),
        ("--loss", "squared:2", "takes no parameter"),
        ("--schedule", "inv:2", "takes no parameter"),
        // Numeric options.
        ("--tol", "0", "--tol"),
        ("--tol", "-1e-6", "--tol"),
        ("--tol", "NaN", "--tol"),
    ];
    for &(flag, value, needle) in cases {
        refused_solve(&dir, &format!("{flag} {value:?}"), "X.npy", "Y.npy", &[flag, value], &[flag, needle]);
    }
    // clap's value checks: an unknown dtype, a negative count.
    // (Their messages are clap's: a line and a usage hint.)
    for (flag, value) in [("--dtype", "f16"), ("--max-iters", "-3"), ("--threads", "two")] {
        let arg = format!("{flag}={value}");
        let o = dspgd(&solve_args(&dir, "X.npy", "Y.npy", &[&arg]).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&o), 2, "{flag} {value}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag) && stderr(&o).contains(value), "{flag} {value}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    assert_eq!(dir.files(), vec!["X.npy", "Y.npy"]);
}

#[test]
fn unwritable_outputs_exit_2_before_reading_or_solving() {
    let dir = TempDir::new("unwritable2");
    problem(&dir, C64, C64);
    let under_file = dir.path("X.npy/W.npy");
    refused(&dir, "--out under a regular file", &["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&under_file)], &["--out", "is a file, not a folder"]);
    refused(
        &dir,
        "--report under a regular file",
        &["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), "--report", s(&dir.path("Y.npy/r.json"))],
        &["--report", "Y.npy/r.json"],
    );
    refused(&dir, "--out is a folder", &["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.0)], &["--out", "is a folder"]);
    refused(
        &dir,
        "--report same as --out",
        &["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), "--report", s(&dir.path("W.npy"))],
        &["--report", "--out", "same file"],
    );
    // The outputs are checked before the inputs are read: a bad X is not even opened.
    refused(&dir, "bad --out and bad --x", &["solve", "--x", s(&dir.path("nope.npy")), "--y", s(&dir.path("Y.npy")), "--out", "/etc/passwd/W.npy"], &["--out", "/etc/passwd"]);
    // An existing output is replaced only on success: a failed run leaves the old file as it was.
    std::fs::write(dir.path("W.npy"), b"old").unwrap();
    refused(
        &dir,
        "old W survives a failed run",
        &["solve", "--x", s(&dir.path("X.npy")), "--y", s(&dir.path("Y.npy")), "--out", s(&dir.path("W.npy")), "--precond", "bogus"],
        &["--precond"],
    );
    assert_eq!(std::fs::read(dir.path("W.npy")).unwrap(), b"old");
}

#[test]
fn bad_backend_environment_variables_exit_2_naming_them() {
    let dir = TempDir::new("envvars");
    problem(&dir, C64, C64);
    let cases = [("DSPGD_BACKEND", "bogus", "auto", "unknown backend 'bogus'"), ("DSPGD_SIMD", "v9", "simd", "unknown SIMD level 'v9'")];
    // DSPGD_SIMD is read by the SIMD backend only.
    for (var, value, backend, needle) in cases.into_iter().filter(|c| c.0 != "DSPGD_SIMD" || cfg!(feature = "simd")) {
        let o = Command::new(BIN).args(solve_args(&dir, "X.npy", "Y.npy", &["--backend", backend])).env(var, value).output().unwrap();
        let e = stderr(&o);
        assert_eq!(code(&o), 2, "{var}={value}: {e}");
        assert!(e.starts_with("error: ") && e.trim_end().lines().count() == 1, "{var}={value}: {e}");
        assert!(e.contains(var) && e.contains(needle), "{var}={value}: {e}");
        assert_eq!(dir.files(), vec!["X.npy", "Y.npy"], "{var}={value}: no output");
    }
}
