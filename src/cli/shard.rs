//! `dspgd solve ... --shard rows` under `mpirun -np P`: a row-sharded solve
//! over MPI (feature `mpi`).
//!
//! Every rank reads the headers of X and Y, then only its own contiguous
//! block of rows ([`block`]) with [`super::npy::read_rows`] (a seek and one
//! read in C order, one read per column in Fortran order: never the whole
//! file), and W0 whole. The ranks agree that everyone could read its input
//! (and that rank 0 can write the outputs) before the solve, so a failure on
//! one rank ends every rank with exit 2 instead of leaving them waiting.
//! The solve is [`dspgd::distributed::solve_distributed_observed`]; rank 0
//! writes W and the report, which adds `shard`, `ranks`, `rows_per_rank`,
//! each rank's hash of its W (`w_hashes`, FNV-1a of the bytes;
//! `w_identical_on_all_ranks`) and the allreduce counts and times. MPI is
//! initialised only in this mode. Without the feature `mpi` the option
//! fails with exit 2 and says how to build.

use std::ops::Range;

/// Rank `rank`'s block of rows of `n` over `ranks` ranks: contiguous, in
/// rank order, sizes differing by at most one.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by `--shard rows` (feature `mpi`)
pub fn block(n: usize, rank: usize, ranks: usize) -> Range<usize> {
    let at = |r: usize| ((r as u128 * n as u128) / ranks as u128) as usize;
    at(rank)..at(rank + 1)
}

/// FNV-1a (64-bit) of a byte string: the W hash each rank reports.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by `--shard rows` (feature `mpi`)
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Without MPI compiled in: exit 2 with the way to get it.
///
/// # Errors
/// Always: a usage [`super::Fail`].
#[cfg(not(feature = "mpi"))]
pub fn run(_: &super::args::SolveArgs) -> anyhow::Result<u8> {
    Err(super::Fail::usage(
        "--shard rows: this dspgd was built without MPI; rebuild it with `cargo build --release --features mpi` \
         (needs Open MPI and libclang, e.g. apt-get install libopenmpi-dev openmpi-bin libclang-dev) and start it with `mpirun -np P dspgd solve ... --shard rows`",
    )
    .into())
}

#[cfg(feature = "mpi")]
pub use imp::run;

#[cfg(feature = "mpi")]
mod imp {
    use super::super::args::{DTypeArg, SolveArgs};
    use super::super::npy::{self, Array, DType};
    use super::super::report::{self, DivergedFacts, RunMeta};
    use super::super::solve::{into_data, lib_error, options, to_mat, Inputs};
    use super::super::{atomic, Fail, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_NOT_CONVERGED, EXIT_OK, EXIT_OTHER};
    use super::{block, fnv1a64};
    use anyhow::Result;
    use dspgd::distributed::{solve_distributed_observed, Collective, MpiCollective};
    use dspgd::{lr_rule_name, resolve_threads, Control, Error, Float, Mat, Observer, Options, Progress, Scalar, StopReason};
    use serde_json::{json, Value};
    use std::path::Path;
    use std::time::Instant;

    /// Runs `dspgd solve --shard rows` on this MPI rank; returns the exit code.
    ///
    /// # Errors
    /// A [`Fail`] with exit code 2 for bad input or usage (on every rank), 1 otherwise.
    pub fn run(a: &SolveArgs) -> Result<u8> {
        let wall = Instant::now();
        let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Funneled) else {
            return Err(Fail::other("--shard rows: MPI was already initialised").into());
        };
        let comm = MpiCollective::new(universe.world());
        super::super::interrupt::install();
        let (rank, ranks) = (comm.rank(), comm.size());
        let out = go(a, &comm, wall);
        // Every rank leaves through here and finalises MPI (dropping the universe).
        drop(comm);
        drop(universe);
        out.map_err(|e| match e.downcast::<Fail>() {
            Ok(f) if ranks > 1 => Fail { code: f.code, msg: format!("rank {rank} of {ranks}: {}", f.msg) }.into(),
            Ok(f) => f.into(),
            Err(e) => e,
        })
    }

    /// This rank's inputs.
    struct Loaded {
        x: Array,
        y: Array,
        w0: Option<Array>,
        meta: RunMeta,
        inputs: Inputs,
    }

    fn show(p: &Path) -> String {
        p.display().to_string()
    }

    fn io(flag: &str, e: npy::NpyError) -> Fail {
        Fail::usage(format!("{flag} {}: {}", e.path.display(), e.msg))
    }

    /// Checks the outputs (rank 0), reads the headers and this rank's rows.
    fn load(a: &SolveArgs, opts: &Options, rank: usize, ranks: usize) -> Result<Loaded, Fail> {
        if rank == 0 {
            if a.report.as_ref() == Some(&a.out) {
                return Err(Fail::usage(format!("--report and --out are the same file '{}'", a.out.display())));
            }
            atomic::check_writable(&a.out).map_err(|m| Fail::usage(format!("--out: {m}")))?;
            if let Some(r) = &a.report {
                atomic::check_writable(r).map_err(|m| Fail::usage(format!("--report: {m}")))?;
            }
        }
        let (xs, x_dtype) = npy::read_shape(&a.x).map_err(|e| io("--x", e))?;
        let [n, d] = xs[..] else {
            return Err(Fail::usage(format!("--x {}: X must be a 2-D array of shape (n, d), got shape {}", a.x.display(), npy::shape_str(&xs))));
        };
        let (ys, _) = npy::read_shape(&a.y).map_err(|e| io("--y", e))?;
        let (yn, k) = if let [m] = ys[..] { (m, 1) } else { (ys[0], ys[1]) };
        if yn != n {
            return Err(Fail::usage(format!(
                "--y {}: Y has shape {} but X has shape {}: Y needs one row per row of X ({n})",
                a.y.display(),
                npy::shape_str(&ys),
                npy::shape_str(&xs)
            )));
        }
        let rows = block(n, rank, ranks);
        let x = npy::read_rows(&a.x, rows.clone()).map_err(|e| io("--x", e))?;
        let y = npy::read_rows(&a.y, rows).map_err(|e| io("--y", e))?;
        let w0 = a.w0.as_deref().map(|p| npy::read(p).map_err(|e| io("--w0", e))).transpose()?;
        if let Some(w0) = &w0 {
            if w0.shape.len() == 1 && k != 1 {
                return Err(Fail::usage(format!(
                    "--w0 {}: a 1-D W0 of shape {} fits only k = 1, but Y has shape {} (k = {k}); W0 must have shape ({d}, {k})",
                    a.w0.as_deref().map(show).unwrap_or_default(),
                    npy::shape_str(&w0.shape),
                    npy::shape_str(&ys)
                )));
            }
        }
        let dtype = match a.dtype {
            Some(DTypeArg::F32) => DType::F32,
            Some(DTypeArg::F64) => DType::F64,
            None => x_dtype,
        };
        let mut inputs = Inputs { x: show(&a.x), y: show(&a.y), w0: a.w0.as_deref().map(show).unwrap_or_default(), converted: vec![] };
        for (name, arr) in [("x", Some(&x)), ("y", Some(&y)), ("w0", w0.as_ref())] {
            if arr.is_some_and(|arr| arr.dtype() == DType::F64 && dtype == DType::F32) {
                inputs.converted.push(name);
            }
        }
        let meta = RunMeta {
            x: show(&a.x),
            y: show(&a.y),
            w0: a.w0.as_deref().map(show),
            out: show(&a.out),
            n,
            d,
            k,
            y_shape: ys,
            x_dtype: x_dtype.name(),
            dtype: dtype.name(),
            precond: opts.precond.to_string(),
            precond_class: opts.precond.class().as_str(),
            loss: opts.loss.to_string(),
            lr_requested: opts.lr.to_string(),
            lr_rule: lr_rule_name(opts.resolved_lr()),
            schedule: opts.schedule.to_string(),
            tol: opts.tol.unwrap_or(match dtype {
                DType::F32 => <f32 as Scalar>::DEFAULT_TOL,
                DType::F64 => <f64 as Scalar>::DEFAULT_TOL,
            }),
            max_iters: opts.max_iters,
            backend_requested: a.backend.clone(),
            path_requested: a.path.clone(),
        };
        Ok(Loaded { x, y, w0, meta, inputs })
    }

    fn go(a: &SolveArgs, comm: &MpiCollective, wall: Instant) -> Result<u8> {
        let opts = options(a)?; // the same verdict on every rank: no need to agree
        let (rank, ranks) = (comm.rank(), comm.size());
        let loaded = load(a, &opts, rank, ranks);
        let mut failed = [f64::from(u8::from(loaded.is_err()))];
        comm.allreduce_sum_f64(&mut failed);
        let loaded = loaded?;
        if failed[0] > 0.0 {
            return Err(Fail::usage(format!("{} other rank(s) could not read their input or check the outputs (see their errors)", failed[0])).into());
        }
        let run = Sharded { a, opts: &opts, comm, wall };
        match loaded.meta.dtype {
            "f32" => run.solve::<f32>(loaded),
            _ => run.solve::<f64>(loaded),
        }
    }

    struct Sharded<'a> {
        a: &'a SolveArgs,
        opts: &'a Options,
        comm: &'a MpiCollective,
        wall: Instant,
    }

    impl Sharded<'_> {
        fn w_array<T: Float>(&self, w: Mat<T>, y_1d: bool) -> Array {
            let (d, k) = w.shape();
            Array { shape: if y_1d { vec![d] } else { vec![d, k] }, data: into_data(w) }
        }

        fn solve<T: Float>(&self, l: Loaded) -> Result<u8> {
            let (a, comm) = (self.a, self.comm);
            let (rank, ranks) = (comm.rank(), comm.size());
            let (m, d) = l.x.dims2();
            let k = l.meta.k;
            let y_1d = l.meta.y_shape.len() == 1;
            let x: Mat<T> = to_mat(l.x, m, d);
            let y: Mat<T> = to_mat(l.y, m, k);
            let w0: Option<Mat<T>> = l.w0.map(|w| {
                let (r, c) = w.dims2();
                to_mat(w, r, c)
            });
            let show_bar = rank == 0 && super::super::progress::wanted(a.quiet);
            let mut watch = Watch { bar: super::super::progress::SolveBar::new(show_bar, self.opts.max_iters) };
            let result = solve_distributed_observed(comm, x.as_ref(), y.as_ref(), w0.as_ref().map(|w| w.as_ref()), self.opts, &mut watch);
            watch.bar.finish();
            drop((x, y, w0));
            let (meta, inputs) = (&l.meta, &l.inputs);
            match result {
                Ok(ds) => {
                    let sol = ds.solution;
                    let c = ds.comm;
                    let code = match sol.stop_reason {
                        StopReason::Converged => EXIT_OK,
                        StopReason::MaxIters | StopReason::Stalled => EXIT_NOT_CONVERGED,
                        StopReason::Interrupted => EXIT_INTERRUPTED,
                        _ => EXIT_OTHER,
                    };
                    // Every rank's rows and W hash, gathered with one allreduce (slots per rank).
                    let hash = fnv1a64(sol.w.as_slice().iter().flat_map(|v| v.to_f64().to_le_bytes()));
                    let mut g = vec![0.0; 3 * ranks];
                    g[3 * rank] = c.local_rows as f64;
                    g[3 * rank + 1] = (hash >> 32) as f64;
                    g[3 * rank + 2] = (hash & 0xFFFF_FFFF) as f64;
                    comm.allreduce_sum_f64(&mut g);
                    let hashes: Vec<u64> = g.chunks(3).map(|s| ((s[1] as u64) << 32) | s[2] as u64).collect();
                    let rows: Vec<usize> = g.chunks(3).map(|s| s[0] as usize).collect();
                    if rank != 0 {
                        return Ok(code);
                    }
                    for w in &sol.warnings {
                        eprintln!("warning: {w}");
                    }
                    let identical = hashes.iter().all(|&h| h == hashes[0]);
                    if !identical {
                        eprintln!("warning: the ranks' W differ (hashes {hashes:x?}); rank 0's is written");
                    }
                    let mut sol = sol;
                    let w = std::mem::replace(&mut sol.w, Mat::zeros(0, 0));
                    let mut staged = vec![atomic::stage(&a.out, &npy::encode(&self.w_array(w, y_1d))).map_err(|m| Fail::other(format!("--out: {m}")))?];
                    if let Some(r) = &a.report {
                        let mut rep = report::solution_report(meta, &sol, self.wall.elapsed().as_secs_f64(), code, true);
                        if let Value::Object(o) = &mut rep {
                            o.insert("shard".into(), json!("rows"));
                            o.insert("ranks".into(), json!(ranks));
                            o.insert("rows_per_rank".into(), json!(rows));
                            o.insert("w_hashes".into(), json!(hashes.iter().map(|h| format!("{h:016x}")).collect::<Vec<_>>()));
                            o.insert("w_identical_on_all_ranks".into(), json!(identical));
                            o.insert("allreduces".into(), json!(c.allreduces()));
                            o.insert("allreduces_setup".into(), json!(c.setup.calls));
                            o.insert("allreduces_loop".into(), json!(c.iterations.calls));
                            o.insert("allreduces_finish".into(), json!(c.finish.calls));
                            o.insert("recomputes".into(), json!(c.recomputes));
                            o.insert("allreduce_elements_loop".into(), json!(c.iterations.elements));
                            o.insert("allreduce_seconds_loop".into(), json!(c.iterations.seconds));
                            o.insert("allreduce_seconds".into(), json!(c.seconds()));
                        }
                        staged.push(atomic::stage(r, &report::to_bytes(&rep)).map_err(|m| Fail::other(format!("--report: {m}")))?);
                    }
                    atomic::commit(staged).map_err(Fail::other)?;
                    if !a.quiet {
                        eprintln!("{}", report::summary(&sol, meta.tol));
                        eprintln!(
                            "       ranks={ranks} rows={rows:?} allreduces={} ({} in the loop, {:.3} s of the loop's {:.3} s on rank 0)",
                            c.allreduces(),
                            c.iterations.calls,
                            c.iterations.seconds,
                            sol.seconds
                        );
                        eprintln!("       wrote {}{}", a.out.display(), a.report.as_ref().map(|r| format!(" and {}", r.display())).unwrap_or_default());
                    }
                    if sol.stop_reason == StopReason::Interrupted {
                        eprintln!("dspgd: interrupted at iteration {}; wrote the last iterate (exit code 130)", sol.iterations);
                    }
                    Ok(code)
                }
                Err(e @ Error::Diverged(_)) => {
                    let text = e.to_string();
                    let Error::Diverged(dv) = e else { unreachable!("matched above") };
                    if rank != 0 {
                        return Ok(EXIT_DIVERGED);
                    }
                    let facts = DivergedFacts::new(&dv, text.clone(), resolve_threads(self.opts.threads));
                    let mut staged = vec![];
                    let mut w_written = false;
                    if a.keep_last {
                        if let Some(w) = dv.into_last_iterate::<T>() {
                            staged.push(atomic::stage(&a.out, &npy::encode(&self.w_array(w, y_1d))).map_err(|m| Fail::other(format!("--out: {m}")))?);
                            w_written = true;
                        }
                    }
                    if let Some(r) = &a.report {
                        let mut rep = report::diverged_report(meta, &facts, self.wall.elapsed().as_secs_f64(), EXIT_DIVERGED, w_written);
                        if let Value::Object(o) = &mut rep {
                            o.insert("shard".into(), json!("rows"));
                            o.insert("ranks".into(), json!(ranks));
                        }
                        staged.push(atomic::stage(r, &report::to_bytes(&rep)).map_err(|m| Fail::other(format!("--report: {m}")))?);
                    }
                    atomic::commit(staged).map_err(Fail::other)?;
                    eprintln!("error: {text}");
                    Ok(EXIT_DIVERGED)
                }
                Err(e) => Err(lib_error(&e, inputs).into()),
            }
        }
    }

    /// Progress on rank 0's terminal; Ctrl-C on any rank stops every rank
    /// (the ranks agree on the observer's decision).
    struct Watch {
        bar: super::super::progress::SolveBar,
    }

    impl Observer for Watch {
        fn every(&self) -> usize {
            8
        }
        fn observe(&mut self, p: &Progress) -> Control {
            if super::super::interrupt::requested() {
                return Control::Interrupt;
            }
            self.bar.update(p);
            Control::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::npy::{self, Array, Data};
    use super::*;

    #[test]
    fn blocks_cover_the_rows_in_order() {
        for (n, p) in [(10, 3), (3, 5), (40, 4), (1, 1), (7, 7)] {
            let b: Vec<_> = (0..p).map(|r| block(n, r, p)).collect();
            assert_eq!(b[0].start, 0);
            assert_eq!(b[p - 1].end, n);
            assert!(b.windows(2).all(|w| w[0].end == w[1].start));
            assert!(b.iter().all(|r| r.len() == n / p || r.len() == n / p + 1), "{n} {p}: {b:?}");
        }
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dspgd-shard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// An npy file with an arbitrary header (order, byte order) written by hand.
    fn raw(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}", if fortran { "True" } else { "False" });
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn read_rows_reads_the_block_of_every_layout() {
        let (n, d) = (7usize, 5usize);
        let val = |i: usize, j: usize| (i * 10 + j) as f64 + 0.25;
        let c_order: Vec<f64> = (0..n).flat_map(|i| (0..d).map(move |j| val(i, j))).collect();
        let f_order: Vec<f64> = (0..d).flat_map(|j| (0..n).map(move |i| val(i, j))).collect();
        let le = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let be = |v: &[f64]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        let le32 = |v: &[f64]| v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect::<Vec<u8>>();
        let files = [
            ("c.npy", raw("<f8", false, "(7, 5)", &le(&c_order))),
            ("f.npy", raw("<f8", true, "(7, 5)", &le(&f_order))),
            ("fbe.npy", raw(">f8", true, "(7, 5)", &be(&f_order))),
            ("c32.npy", raw("<f4", false, "(7, 5)", &le32(&c_order))),
            ("f32.npy", raw("<f4", true, "(7, 5)", &le32(&f_order))),
        ];
        for (name, bytes) in files {
            let p = tmp(name);
            std::fs::write(&p, bytes).unwrap();
            let whole = npy::read(&p).unwrap();
            for rows in [0..7, 0..3, 3..7, 2..3, 4..4] {
                let part = npy::read_rows(&p, rows.clone()).unwrap();
                assert_eq!(part.shape, vec![rows.len(), d], "{name} {rows:?}");
                let expect: Array = match &whole.data {
                    Data::F64(v) => Array { shape: part.shape.clone(), data: Data::F64(v[rows.start * d..rows.end * d].to_vec()) },
                    Data::F32(v) => Array { shape: part.shape.clone(), data: Data::F32(v[rows.start * d..rows.end * d].to_vec()) },
                };
                assert_eq!(part, expect, "{name} {rows:?}");
            }
            assert!(npy::read_rows(&p, 5..8).unwrap_err().msg.contains("7 rows"));
            assert_eq!(npy::read_shape(&p).unwrap().0, vec![n, d]);
        }
        // 1-D: rows are elements.
        let p = tmp("y.npy");
        std::fs::write(&p, raw("<f8", false, "(7,)", &le(&c_order[..7]))).unwrap();
        let part = npy::read_rows(&p, 2..5).unwrap();
        assert_eq!(part, Array { shape: vec![3], data: Data::F64(c_order[2..5].to_vec()) });
        // A truncated file is refused before any data is read.
        let p = tmp("short.npy");
        std::fs::write(&p, raw("<f8", false, "(7, 5)", &le(&c_order[..30]))).unwrap();
        assert!(npy::read_rows(&p, 0..1).unwrap_err().msg.contains("truncated"));
    }

    #[test]
    fn fnv_hash_is_stable() {
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
