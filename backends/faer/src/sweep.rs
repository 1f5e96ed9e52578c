//! The fused sweep of SPEC §7: one read of X per iteration.
//!
//! X is walked by blocks of rows small enough to stay in cache (about
//! 256 KiB of X, at least 16 rows, more when k is large so that the updates
//! of G are amortized). For each block B:
//!
//! 1. `Q_B = X_B·P` (faer, into a scratch block) and `R_B −= η·Q_B`
//!    (`FromStep`), or `R_B −= η·Q_B` with the given Q (`FromProduct`);
//! 2. `D_B = ∇ℓ(R_B)`, with Σℓ and ‖R‖² accumulated in f64, in the same
//!    elementwise loop (monomorphized per loss through `Loss::dispatch`);
//! 3. `G += X_Bᵀ·D_B` (faer; the first block overwrites G).
//!
//! X_B is read by step 1 and again by step 3 while it is still in cache, so
//! DRAM sees X once. Blocks of a chunk have equal sizes (within one row); with
//! k ≥ 32 (compute-bound) they are larger (at least 8k rows).
//!
//! For `FromStep` with 1 ≤ k ≤ 4, X with contiguous rows of at least
//! `BLOCK_BYTES / MIN_BLOCK_ROWS` bytes (16 KiB), the sweep runs
//! in `sweep_small` instead: matrix–vector products, where faer's
//! per-call costs on tiny blocks dominated.
//!
//! With several threads, the rows are cut into one contiguous chunk per
//! thread (run through [`dspgd_backend::team`]; faer runs sequentially inside each); the first
//! chunk accumulates into G itself, the others into scratch copies of G that
//! are added at the end, in chunk order, so the result does not depend on
//! scheduling (that final sum is cut by rows of G across the threads).
//! Scratch (the Q blocks and the partial G's) comes from a
//! per-thread buffer reused across calls.

use crate::elementwise::{grad_faer, update_grad_faer};
use crate::scalar::FaerScalar;
use crate::view::{faer_mut, faer_ref};
use dspgd_backend::loss::{LossKernel, LossVisitor};
use dspgd_backend::{team, Loss, MatMut, MatRef, ResidualUpdate, SweepStats};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{unzip, zip, Accum, Par};

/// Bytes of X per block (a quarter of this machine kind's 1 MiB L2 per core,
/// leaving room for the rows of R, D and the scratch Q).
const BLOCK_BYTES: usize = 256 * 1024;
/// Fewest rows in a block: below this, the per-call cost of the products
/// dominates (measured on n = 2000, d = 20000: k = 4 ran in about 42 ms with
/// 16 rows against 60 ms with 8; k = 1 was the same within noise).
const MIN_BLOCK_ROWS: usize = 16;

/// From this many right-hand sides on, the sweep is compute-bound (4k flops
/// per element of X): re-reading a block of X from L3 or even memory costs
/// less than running the products on small blocks, so blocks get at least 8k
/// rows (on S5, n = 500, d = 5000, k = 100: one block of 500 rows instead of
/// 200 + 200 + 100, a median 89 % of the best gemm GFLOP/s against 79 %, on
/// a loaded machine).
pub(crate) const LARGE_K: usize = 32;

/// Rows per block for X with `d` columns and `k` right-hand sides.
fn block_rows<T>(d: usize, k: usize) -> usize {
    let row_bytes = (d + 3 * k).max(1) * core::mem::size_of::<T>();
    // G (d×k) is read and written once per block: with at least 2k rows per
    // block that traffic stays below the traffic of X_B itself. With large k
    // the products dominate, and they run faster on fewer, larger blocks.
    let rows = (BLOCK_BYTES / row_bytes).max(MIN_BLOCK_ROWS);
    if k >= LARGE_K {
        rows.max(8 * k)
    } else {
        rows.max(2 * k)
    }
}

/// The residual update restricted to a chunk of rows, on faer views.
#[derive(Clone, Copy)]
enum Update<'a, T> {
    Keep,
    Step { p: faer::MatRef<'a, T>, eta: T },
    Product { q: faer::MatRef<'a, T>, eta: T },
}

/// One chunk of rows, processed sequentially block by block.
struct Chunk<'a, T> {
    x: faer::MatRef<'a, T>,
    update: Update<'a, T>,
    r: faer::MatMut<'a, T>,
    d: faer::MatMut<'a, T>,
    g: faer::MatMut<'a, T>,
    /// Scratch for Q_B: at least `block · k` elements (used by `Step` only).
    qbuf: &'a mut [T],
    block: usize,
}

impl<T: FaerScalar> Chunk<'_, T> {
    fn run<K: LossKernel<T>>(self, k: K) -> SweepStats {
        let Chunk { x, update, mut r, mut d, mut g, qbuf, block } = self;
        let (n, dd) = (x.nrows(), x.ncols());
        let kk = r.ncols();
        let mut stats = SweepStats::default();
        // Blocks of equal size (within one row): a short last block would run
        // the products at a fraction of their speed.
        let block = n.div_ceil(n.div_ceil(block.max(1)).max(1));
        if n == 0 {
            // G = Xᵀ D over no rows.
            zip!(g).for_each(|unzip!(v)| *v = T::ZERO);
            return stats;
        }
        let mut start = 0;
        while start < n {
            let len = block.min(n - start);
            let x_b = x.subrows(start, len);
            let r_b = r.rb_mut().subrows_mut(start, len);
            let mut d_b = d.rb_mut().subrows_mut(start, len);
            let s = match update {
                Update::Step { p, eta } if dd > 0 => {
                    let mut q_b = faer::MatMut::from_row_major_slice_mut(&mut qbuf[..len * kk], len, kk);
                    T::matmul(q_b.rb_mut(), Accum::Replace, x_b, p, T::ONE, Par::Seq);
                    update_grad_faer(r_b, q_b.rb(), eta, d_b.rb_mut(), k)
                }
                // d = 0: X·P = 0, R is unchanged.
                Update::Keep | Update::Step { .. } => grad_faer(r_b.rb(), d_b.rb_mut(), k),
                Update::Product { q, eta } => update_grad_faer(r_b, q.subrows(start, len), eta, d_b.rb_mut(), k),
            };
            stats += s;
            if dd > 0 {
                let accum = if start == 0 { Accum::Replace } else { Accum::Add };
                T::matmul(g.rb_mut(), accum, x_b.transpose(), d_b.rb(), T::ONE, Par::Seq);
            }
            start += len;
        }
        stats
    }
}

/// The whole sweep, generic over the loss kernel.
struct Sweep<'a, T> {
    x: faer::MatRef<'a, T>,
    update: Update<'a, T>,
    r: faer::MatMut<'a, T>,
    d: faer::MatMut<'a, T>,
    g: faer::MatMut<'a, T>,
    /// Threads to use (≥ 1), already reduced to what the problem size justifies.
    threads: usize,
}

impl<T: FaerScalar> LossVisitor<T> for Sweep<'_, T> {
    type Output = SweepStats;
    fn visit<K: LossKernel<T>>(self, k: K) -> SweepStats {
        let Sweep { x, update, r, d, g, threads } = self;
        let (n, dd) = (x.nrows(), x.ncols());
        let kk = r.ncols();
        let block = block_rows::<T>(dd, kk).min(n.max(1));
        if threads <= 1 {
            return T::with_scratch(block * kk, |qbuf| Chunk { x, update, r, d, g, qbuf, block }.run(k));
        }
        let chunk_rows = n.div_ceil(threads);
        let block = block.min(chunk_rows);
        let q_len = block * kk;
        let g_len = dd * kk;
        T::with_scratch(threads * q_len + (threads - 1) * g_len, |scratch| {
            let (qbufs, gbufs) = scratch.split_at_mut(threads * q_len);
            let mut gparts = gbufs.chunks_exact_mut(g_len.max(1));
            let mut qparts = qbufs.chunks_exact_mut(q_len.max(1));
            let mut g = g;
            // The partial G in G's own layout: faer's products into them run
            // as fast as into G, and the final sum reads them as G is stored.
            let col_major = kk > 1 && g.row_stride() == 1;
            let mut tasks = Vec::with_capacity(threads);
            let (mut x, mut r, mut d, mut update) = (x, r, d, update);
            // The first chunk accumulates into G itself.
            let mut g0 = Some(g.rb_mut());
            for _ in 0..threads {
                let len = chunk_rows.min(x.nrows());
                let (xc, xrest) = x.split_at_row(len);
                let (rc, rrest) = r.split_at_row_mut(len);
                let (dc, drest) = d.split_at_row_mut(len);
                let (uc, urest) = match update {
                    Update::Product { q, eta } => {
                        let (qc, qrest) = q.split_at_row(len);
                        (Update::Product { q: qc, eta }, Update::Product { q: qrest, eta })
                    }
                    other => (other, other),
                };
                (x, r, d, update) = (xrest, rrest, drest, urest);
                let qbuf = qparts.next().unwrap_or(&mut []);
                let gc = g0.take().unwrap_or_else(|| {
                    let gbuf = &mut gparts.next().unwrap_or(&mut [])[..g_len];
                    if col_major {
                        faer::MatMut::from_column_major_slice_mut(gbuf, dd, kk)
                    } else {
                        faer::MatMut::from_row_major_slice_mut(gbuf, dd, kk)
                    }
                });
                tasks.push((Some(Chunk { x: xc, update: uc, r: rc, d: dc, g: gc, qbuf, block }), SweepStats::default()));
            }
            // The team's workers live on, so their scratch (faer's packing
            // buffers, per thread) is allocated once, not at every sweep.
            team::for_each_mut(&mut tasks, |_, (chunk, st)| {
                if let Some(chunk) = chunk.take() {
                    *st = chunk.run(k);
                }
            });
            let stats = tasks.iter().map(|(_, s)| *s).sum::<SweepStats>();
            drop(tasks);
            if g_len > 0 {
                reduce_parts(g.rb_mut(), gbufs, col_major, threads);
            }
            stats
        })
    }
}

/// G += Σ parts (d×k each, row-major or, with `col_major`, column-major;
/// added in order), the rows of G cut into one band per thread.
fn reduce_parts<T: FaerScalar>(g: faer::MatMut<'_, T>, parts: &[T], col_major: bool, threads: usize) {
    let (dd, kk) = (g.nrows(), g.ncols());
    let band = dd.div_ceil(threads).max(1);
    let add = |mut gb: faer::MatMut<'_, T>, start: usize| {
        let rows = gb.nrows();
        for part in parts.chunks_exact(dd * kk) {
            let pb = if col_major {
                faer::MatRef::from_column_major_slice_with_stride(&part[start..], rows, kk, dd)
            } else {
                faer::MatRef::from_row_major_slice(&part[start * kk..(start + rows) * kk], rows, kk)
            };
            zip!(gb.rb_mut(), pb).for_each(|unzip!(gv, pv)| *gv += *pv);
        }
    };
    let mut bands = Vec::with_capacity(threads);
    let mut rest = g;
    let mut start = 0;
    while rest.nrows() > 0 {
        let rows = band.min(rest.nrows());
        let (gb, tail) = rest.split_at_row_mut(rows);
        rest = tail;
        bands.push((gb, start));
        start += rows;
    }
    team::for_each_mut(&mut bands, |_, (gb, start)| add(gb.rb_mut(), *start));
}

fn assert_shape(what: &str, got: (usize, usize), want: (usize, usize)) {
    assert_eq!(got, want, "{what}: shape {got:?}, expected {want:?}");
}

/// The number of threads a sweep of this size should use, out of `threads`.
pub(crate) fn sweep_threads(threads: usize, n: usize, d: usize, k: usize, min_par_work: usize) -> usize {
    if threads <= 1 || n < 2 * MIN_BLOCK_ROWS {
        return 1;
    }
    let work = n.saturating_mul(d).saturating_mul(k.max(1));
    if work < min_par_work {
        return 1;
    }
    threads.min(n / MIN_BLOCK_ROWS)
}

/// [`dspgd_backend::Backend::sweep`]: `threads` is the resolved thread count (≥ 1).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep<T: FaerScalar>(
    x: MatRef<'_, T>,
    update: ResidualUpdate<'_, T>,
    mut r: MatMut<'_, T>,
    loss: &Loss,
    mut d: MatMut<'_, T>,
    mut g: MatMut<'_, T>,
    threads: usize,
    min_par_work: usize,
) -> SweepStats {
    let (n, dd) = x.shape();
    let k = r.ncols();
    assert_shape("sweep R", r.shape(), (n, k));
    assert_shape("sweep D", d.shape(), (n, k));
    assert_shape("sweep G", g.shape(), (dd, k));
    let update = match update {
        ResidualUpdate::Keep => Update::Keep,
        ResidualUpdate::FromStep { p, eta } => {
            assert_shape("sweep P", p.shape(), (dd, k));
            Update::Step { p: faer_ref(p), eta }
        }
        ResidualUpdate::FromProduct { q, eta } => {
            assert_shape("sweep Q", q.shape(), (n, k));
            Update::Product { q: faer_ref(q), eta }
        }
    };
    if k == 0 {
        return SweepStats::default();
    }
    let threads = sweep_threads(threads, n, dd, k, min_par_work);
    if let Update::Step { p, eta } = update {
        // Only where faer's blocks would be cut to MIN_BLOCK_ROWS rows of more
        // than BLOCK_BYTES: with shorter rows faer's SIMD products are faster
        // (S1, d = 2000: 0.107 ms against 0.125 in f64, 0.047 against 0.086 in f32).
        let long_rows = dd.saturating_mul(core::mem::size_of::<T>()).saturating_mul(MIN_BLOCK_ROWS) >= BLOCK_BYTES;
        if long_rows && crate::sweep_small::applies(x, k) {
            return crate::sweep_small::sweep_small(x, p, eta, faer_mut(&mut r), loss, faer_mut(&mut d), faer_mut(&mut g), threads);
        }
    }
    loss.dispatch(Sweep { x: faer_ref(x), update, r: faer_mut(&mut r), d: faer_mut(&mut d), g: faer_mut(&mut g), threads })
}
