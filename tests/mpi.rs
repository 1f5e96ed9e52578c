//! `mpirun -np 2` and `-np 4` on loopback: `dspgd solve --shard rows` equals
//! the single-process solve to 1e-12 relative (f64) for a smooth K with
//! `auto`, separable K with a constant step and the line search (exact and
//! Armijo); every rank's W is identical (each rank's hash is in the report);
//! one allreduce per iteration for constant steps.
//!
//! Needs Open MPI's `mpirun` (Debian: `openmpi-bin`). Every `mpirun` runs
//! under `timeout 120`, so a mismatched collective fails the test instead of
//! hanging it. Runs as root are allowed through OMPI_ALLOW_RUN_AS_ROOT.

use dspgd::synthetic::gaussian_problem;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_dspgd");
const N: usize = 40;
const D: usize = 160;
const K: usize = 3;


/// Writes an f64 array (values in C order) as .npy, in C or Fortran order.
fn write_npy(path: &Path, shape: [usize; 2], values: &[f64], fortran: bool) {
    let (r, c) = (shape[0], shape[1]);
    let ordered: Vec<f64> = if fortran { (0..r * c).map(|i| values[(i % r) * c + i / r]).collect() } else { values.to_vec() };
    let mut h = format!("{{'descr': '<f8', 'fortran_order': {}, 'shape': ({r}, {c}), }}", if fortran { "True" } else { "False" });
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    for v in ordered {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out).unwrap();
}

/// The elements of a C-order .npy the CLI wrote (f8 or f4).
fn read_npy(path: &Path) -> Vec<f64> {
    let b = std::fs::read(path).unwrap();
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = std::str::from_utf8(&b[10..10 + hl]).unwrap();
    let data = &b[10 + hl..];
    if h.contains("<f4") {
        data.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap()))).collect()
    } else {
        data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
    }
}

fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn dspgd(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("DSPGD_BACKEND").output().expect("run dspgd")
}

/// `timeout 120 mpirun -np P dspgd ARGS` on loopback, oversubscribed, with
/// a session directory of its own: `mpirun`s started at once (the tests run
/// in parallel) race to create the shared `/tmp/ompi.<host>.<uid>` ("A call
/// to mkdir was unable to create the desired directory ... File exists").
fn mpirun(np: usize, args: &[&str]) -> Output {
    let np = np.to_string();
    let session = TempDir::new("ompi-session");
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "mpirun", "-np", &np, "--oversubscribe", "--bind-to", "none"])
        .args(["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"])
        .arg(BIN)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_orte_tmpdir_base", &session.0)
        .env("TMPDIR", &session.0)
        .env_remove("DSPGD_BACKEND");
    let o = cmd.output().expect("run timeout/mpirun (is Open MPI installed? apt-get install openmpi-bin)");
    assert_ne!(o.status.code(), Some(124), "mpirun -np {np} {args:?} timed out after 120 s:\n{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One problem on disk: X in C and in Fortran order, Y.
fn problem(dir: &TempDir) {
    let (x, y) = gaussian_problem::<f64>(N, D, K, 1);
    write_npy(&dir.path("X.npy"), [N, D], x.as_slice(), false);
    write_npy(&dir.path("XF.npy"), [N, D], x.as_slice(), true);
    write_npy(&dir.path("Y.npy"), [N, K], y.as_slice(), false);
}

fn u(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("report key {key}: {v}"))
}

#[test]
fn sharded_solves_equal_the_single_process_solve_at_2_and_4_ranks() {
    let dir = TempDir::new("equal");
    problem(&dir);
    let cases: [(&str, &[&str]); 5] = [
        ("gd auto", &["--precond", "gd", "--lr", "auto"]),
        ("ngd:1e-1 auto", &["--precond", "ngd:1e-1", "--lr", "auto"]),
        ("adam:1e-1 constant", &["--precond", "adam:1e-1", "--lr", "0.05"]),
        ("sign line-search (exact)", &["--precond", "sign", "--lr", "line-search"]),
        ("spectral:1e-2 huber line-search (armijo)", &["--precond", "spectral:1e-2", "--loss", "huber:0.5", "--lr", "line-search"]),
    ];
    let (x, y) = (dir.path("X.npy"), dir.path("Y.npy"));
    let mut summary = vec![];
    for (what, opts) in cases {
        let (w1, r1) = (dir.path("W1.npy"), dir.path("R1.json"));
        let mut args = vec!["solve", "--x", s(&x), "--y", s(&y), "--path", "primal", "--quiet", "--out", s(&w1), "--report", s(&r1)];
        args.extend_from_slice(opts);
        let single = dspgd(&args);
        assert_eq!(code(&single), 0, "{what}: {}", String::from_utf8_lossy(&single.stderr));
        let (w_ref, rep1) = (read_npy(&w1), report(&r1));
        for np in [2usize, 4] {
            // -np 4 reads the Fortran-order copy of X: the column-wise block reader.
            let xin = if np == 4 { dir.path("XF.npy") } else { x.clone() };
            let (wp, rp) = (dir.path(&format!("W{np}.npy")), dir.path(&format!("R{np}.json")));
            let mut args = vec!["solve", "--x", s(&xin), "--y", s(&y), "--shard", "rows", "--quiet", "--out", s(&wp), "--report", s(&rp)];
            args.extend_from_slice(opts);
            let o = mpirun(np, &args);
            assert_eq!(code(&o), 0, "{what} -np {np}: {}", String::from_utf8_lossy(&o.stderr));
            let rep = report(&rp);
            let diff = rel_diff(&read_npy(&wp), &w_ref);
            summary.push(format!(
                "{what:42} -np {np}: {} iterations, ‖W_P − W_1‖/‖W_1‖ = {diff:.2e}, allreduces in the loop {}",
                u(&rep, "iterations"),
                u(&rep, "allreduces_loop")
            ));
            assert!(diff <= 1e-12, "{what} -np {np}: relative difference {diff:.3e}");
            assert_eq!(u(&rep, "ranks"), np as u64);
            assert_eq!(rep["shard"], "rows");
            assert_eq!(rep["path"], "primal");
            let rows: Vec<u64> = rep["rows_per_rank"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            assert_eq!(rows.iter().sum::<u64>(), N as u64);
            assert_eq!(rows.len(), np);
            let hashes = rep["w_hashes"].as_array().unwrap();
            assert_eq!(hashes.len(), np);
            assert!(hashes.iter().all(|h| h == &hashes[0]), "{what} -np {np}: W differs between ranks: {hashes:?}");
            assert_eq!(rep["w_identical_on_all_ranks"], true);
            assert_eq!(u(&rep, "iterations"), u(&rep1, "iterations"), "{what} -np {np}");
            let (it, rc) = (u(&rep, "iterations"), u(&rep, "recomputes"));
            let expect = if rep["lr_rule"] == "line-search" {
                let armijo = if rep["line_search_exact"] == true { 0 } else { u(&rep, "line_search_trials") };
                2 * it + armijo + u64::from(rep["stop_reason"] == "stalled")
            } else {
                it
            };
            assert_eq!(u(&rep, "allreduces_loop"), expect + rc, "{what} -np {np}: allreduces in the loop");
        }
    }
    for l in summary {
        println!("{l}");
    }
}

#[test]
fn one_allreduce_per_iteration_and_identical_ranks_in_f32() {
    let dir = TempDir::new("count");
    problem(&dir);
    let (x, y, w, r) = (dir.path("X.npy"), dir.path("Y.npy"), dir.path("W.npy"), dir.path("R.json"));
    let base = ["solve", "--x", s(&x), "--y", s(&y), "--shard", "rows", "--quiet", "--out", s(&w), "--report", s(&r)];
    // 50 iterations of a constant step, no early stop: 50 allreduces of [G, loss, ‖R‖², vote].
    let mut args = base.to_vec();
    args.extend_from_slice(&["--precond", "adam:1e-3", "--lr", "2e-6", "--max-iters", "50", "--tol", "1e-300"]);
    let o = mpirun(4, &args);
    assert_eq!(code(&o), 3, "max_iters is exit 3: {}", String::from_utf8_lossy(&o.stderr));
    let rep = report(&r);
    assert_eq!((u(&rep, "iterations"), u(&rep, "allreduces_loop"), u(&rep, "recomputes")), (50, 50, 0));
    assert_eq!(u(&rep, "allreduce_elements_loop"), 50 * (D * K + 3) as u64);
    println!(
        "constant step, 50 iterations at -np 4: {} allreduces in all ({} setup, 50 loop, {} finish)",
        u(&rep, "allreduces"),
        u(&rep, "allreduces_setup"),
        u(&rep, "allreduces_finish")
    );

    // f32: the ranks still agree bitwise.
    let mut args = base.to_vec();
    args.extend_from_slice(&["--precond", "ngd:1e-1", "--dtype", "f32"]);
    let o = mpirun(2, &args);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let rep = report(&r);
    assert_eq!(rep["dtype"], "f32");
    assert_eq!(rep["w_identical_on_all_ranks"], true);
}

#[test]
fn bad_input_ends_every_rank_with_exit_2() {
    let dir = TempDir::new("bad");
    problem(&dir);
    let (x, w) = (dir.path("X.npy"), dir.path("W.npy"));
    let missing = dir.path("missing.npy");
    let o = mpirun(2, &["solve", "--x", s(&x), "--y", s(&missing), "--shard", "rows", "--out", s(&w)]);
    assert_eq!(code(&o), 2, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.npy"));
    let o = mpirun(2, &["solve", "--x", s(&x), "--y", s(&dir.path("Y.npy")), "--shard", "rows", "--path", "gram", "--out", s(&w)]);
    assert_eq!(code(&o), 2, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Gram path is not available"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!w.exists(), "no W after a failed run");
}
