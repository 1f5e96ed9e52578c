//! The fused sweep of SPEC §7 around CBLAS: one read of X per iteration.
//!
//! X is walked by blocks of rows small enough to stay in the per-core cache
//! together with P and G (see [`block_rows`]). For each block B:
//!
//! 1. `Q_B = X_B·P` (`?gemv` for k = 1, `?gemm` otherwise, into a scratch
//!    block) and `R_B −= η·Q_B` (`FromStep`), or `R_B −= η·Q_B` with the given
//!    Q (`FromProduct`);
//! 2. `D_B = ∇ℓ(R_B)`, with Σℓ and ‖R‖² accumulated in f64, in the same
//!    elementwise loop (plain Rust, monomorphized per loss through
//!    `Loss::dispatch`);
//! 3. `G += X_Bᵀ·D_B` (`?gemv` / `?gemm`; the first block overwrites G).
//!
//! X_B is read by step 1 and again by step 3 while it is still in cache, so
//! memory sees X once.
//!
//! ## Threads
//!
//! With several threads, the rows are cut into one contiguous chunk per
//! thread (run through [`dspgd_backend::team`], each chunk running the
//! block loop above with single-threaded OpenBLAS calls: the caller pins
//! OpenBLAS to one thread meanwhile, so threads never multiply). The first chunk accumulates into G
//! itself, the others into scratch copies of G that are added at the end, in
//! chunk order, so the result does not depend on scheduling. OpenBLAS's own
//! threading is a poor fit here: each block is a small call (a sweep at
//! n = 2000, d = 20000, k = 4 with 16-row blocks took about 118 ms with two
//! OpenBLAS threads inside each call against 62 ms with one).
//!
//! A chunk needs R and D split by rows into disjoint slices, which a safe
//! view allows when each row lies before the next (row-major, padded rows,
//! or k = 1); other layouts run the block loop on the calling thread, with
//! OpenBLAS's threads inside each call.
//!
//! ## Scratch
//!
//! Operands CBLAS cannot read in place (see [`crate::layout`]) are packed:
//! P and G once per sweep, X and D block by block. All scratch (these, the
//! Q blocks, the partial G's) comes from one per-thread buffer of the
//! calling thread, reused across calls.

use crate::elementwise::{axpy, grad, scale, update_grad};
use crate::layout::{blas_ok, pack};
use crate::product::product_in_place;
use crate::scalar::BlasScalar;
use dspgd_backend::loss::{LossKernel, LossVisitor};
use dspgd_backend::{team, Loss, MatMut, MatRef, ResidualUpdate, SweepStats};

/// Bytes of the per-core cache a block may fill with X_B, P and G (the
/// 1 MiB L2 of this machine kind).
const CACHE_BYTES: usize = 1024 * 1024;
/// Fewest rows in a block: below this, the per-call cost of CBLAS dominates.
const MIN_BLOCK_ROWS: usize = 4;
/// Fewest rows per thread in a parallel sweep.
const MIN_CHUNK_ROWS: usize = 16;
/// Smallest sweep (n·d·k) that is split across threads by default.
pub(crate) const DEFAULT_MIN_PAR_WORK: usize = 1 << 20;

/// Rows per block for X with `d` columns and `k` right-hand sides.
///
/// X_B, P and G should fit in the per-core cache together, so that X_B is
/// still there for `G += X_Bᵀ·D_B` and P and G are not fetched from memory
/// again for every block: `len·d + 2·d·k` elements within [`CACHE_BYTES`].
/// When P and G alone do not fit, blocks of 2k rows keep G's traffic (read
/// and written once per block) below that of X_B. Measured on n = 2000,
/// d = 20000, one thread: k = 1 ran in about 18 ms with 4–8 rows against
/// 21 ms with 16; k = 4 in about 45 ms with 8 rows against 62 ms with 16.
pub(crate) fn block_rows<T>(d: usize, k: usize) -> usize {
    let elems = CACHE_BYTES / core::mem::size_of::<T>();
    let fit = (elems / d.max(1)).saturating_sub(2 * k);
    fit.max(MIN_BLOCK_ROWS).max(2 * k)
}

/// The number of threads a sweep of this size should use, out of `threads`.
pub(crate) fn sweep_threads(threads: usize, n: usize, d: usize, k: usize, min_par_work: usize) -> usize {
    if threads <= 1 || n < 2 * MIN_CHUNK_ROWS || d == 0 {
        return 1;
    }
    if n.saturating_mul(d).saturating_mul(k.max(1)) < min_par_work {
        return 1;
    }
    threads.min(n / MIN_CHUNK_ROWS)
}

/// True when the rows of `m` occupy disjoint, ordered ranges of its slice
/// (row i within `[i·rs, (i+1)·rs)`), so that it can be split by rows.
fn rows_separable<T: Copy>(m: &MatMut<'_, T>) -> bool {
    let (rows, cols) = m.shape();
    rows <= 1 || cols <= 1 || (cols - 1).checked_mul(m.col_stride()).is_some_and(|span| span < m.row_stride())
}

/// Cuts the first `len` rows (of `cols` columns, strides `rs`, `cs`) off
/// the front of `rest`, the slice of a [`rows_separable`] view from its
/// current first row on.
fn take_rows<'a, T: Copy>(
    rest: &mut &'a mut [T],
    len: usize,
    rows_left: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> MatMut<'a, T> {
    let all = core::mem::take(rest);
    // Row `len` starts at `len·rs`; every element of the first `len` rows lies
    // before it (separable), so the cut splits the view's elements cleanly.
    let cut = if len == rows_left { all.len() } else { len * rs };
    let (head, tail) = all.split_at_mut(cut);
    *rest = tail;
    MatMut::from_strided(head, len, cols, rs, cs).expect("the rows of a separable view fit before the cut")
}

/// Scratch of one chunk.
struct Bufs<'s, T> {
    /// Q_B (block × k), used by `FromStep`.
    q: &'s mut [T],
    /// Packed X_B (block × d) when X is not BLAS-readable.
    x: &'s mut [T],
    /// Packed D_B (block × k) when D is not BLAS-readable.
    d: &'s mut [T],
}

impl<T> Bufs<'_, T> {
    fn empty() -> Self {
        Bufs { q: &mut [], x: &mut [], d: &mut [] }
    }
}

/// One chunk of rows, processed sequentially block by block.
struct Chunk<'a, 's, T> {
    x: MatRef<'a, T>,
    /// P (BLAS-readable) and η when there is a product X·P to form.
    step: Option<(MatRef<'a, T>, T)>,
    /// Q's rows for this chunk and η for `FromProduct`.
    product: Option<(MatRef<'a, T>, T)>,
    r: MatMut<'a, T>,
    d: MatMut<'a, T>,
    /// G or a partial of it (BLAS-readable), overwritten.
    g: MatMut<'a, T>,
    bufs: Bufs<'s, T>,
    block: usize,
    x_ok: bool,
    d_ok: bool,
}

impl<T: BlasScalar> Chunk<'_, '_, T> {
    fn run<K: LossKernel<T>>(self, k: K) -> SweepStats {
        let Chunk { x, step, product, mut r, mut d, mut g, bufs, block, x_ok, d_ok } = self;
        let (n, dd) = x.shape();
        let kk = r.ncols();
        let mut stats = SweepStats::default();
        if n == 0 {
            // G = Xᵀ·D over no rows.
            scale(&mut g, T::ZERO);
            return stats;
        }
        let mut start = 0;
        while start < n {
            let len = block.min(n - start);
            let x_b = if x_ok { x.rows(start, len) } else { pack(x.rows(start, len), &mut *bufs.x) };
            let r_b = r.rb_mut().rows(start, len);
            let d_b = d.rb_mut().rows(start, len);
            let s = match (step, product) {
                (Some((p, eta)), _) => {
                    let mut q_b = MatMut::from_row_major(&mut bufs.q[..len * kk], len, kk).expect("exact length");
                    assert!(product_in_place(&mut q_b, T::ZERO, x_b, p, T::ONE), "BLAS-readable operands");
                    update_grad(r_b, q_b.rb(), eta, d_b, k)
                }
                (None, Some((q, eta))) => update_grad(r_b, q.rows(start, len), eta, d_b, k),
                (None, None) => grad(r_b.into_const(), d_b, k),
            };
            stats += s;
            if dd > 0 {
                let d_b = d.rb().rows(start, len);
                let d_b = if d_ok { d_b } else { pack(d_b, &mut *bufs.d) };
                let beta = if start == 0 { T::ZERO } else { T::ONE };
                assert!(product_in_place(&mut g, beta, x_b.transpose(), d_b, T::ONE), "BLAS-readable operands");
            }
            start += len;
        }
        stats
    }
}

/// The whole sweep, generic over the loss kernel.
struct Sweep<'a, T> {
    x: MatRef<'a, T>,
    update: ResidualUpdate<'a, T>,
    r: MatMut<'a, T>,
    d: MatMut<'a, T>,
    g: MatMut<'a, T>,
    /// Rows per block (≥ 1).
    block: usize,
    /// Threads (≥ 1), already reduced to what the problem and layouts allow.
    threads: usize,
}

impl<T: BlasScalar> LossVisitor<T> for Sweep<'_, T> {
    type Output = SweepStats;
    fn visit<K: LossKernel<T>>(self, k: K) -> SweepStats {
        let Sweep { x, update, r, d, mut g, block, threads } = self;
        let (n, dd) = x.shape();
        let kk = r.ncols();
        let chunk_rows = n.div_ceil(threads).max(1);
        let block = block.min(chunk_rows).max(1);
        // P when there is a product X·P to form (d = 0: X·P = 0, R unchanged).
        let step = match update {
            ResidualUpdate::FromStep { p, eta } if dd > 0 => Some((p, eta)),
            _ => None,
        };
        let product = match update {
            ResidualUpdate::FromProduct { q, eta } => Some((q, eta)),
            _ => None,
        };
        let (x_ok, d_ok, g_ok) = (blas_ok(x), blas_ok(d.rb()), blas_ok(g.rb()));
        let p_ok = step.is_none_or(|(p, _)| blas_ok(p));
        let need = |ok: bool, len: usize| if ok { 0 } else { len };
        // Per chunk: Q_B, packed X_B, packed D_B.
        let per_chunk = [if step.is_some() { block * kk } else { 0 }, need(x_ok, block * dd), need(d_ok, block * kk)];
        let chunk_len: usize = per_chunk.iter().sum();
        // Shared: packed P, packed G, partial G's of chunks 1.. .
        let shared = [need(p_ok, dd * kk), need(g_ok, dd * kk), (threads - 1) * dd * kk];
        T::with_scratch(threads * chunk_len + shared.iter().sum::<usize>(), |buf| {
            let (chunk_bufs, rest) = buf.split_at_mut(threads * chunk_len);
            let (pbuf, rest) = rest.split_at_mut(shared[0]);
            let (gbuf, partials_buf) = rest.split_at_mut(shared[1]);
            let step = step.map(|(p, eta)| (if p_ok { p } else { pack(p, pbuf) }, eta));
            let mut bufs = chunk_bufs.chunks_mut(chunk_len.max(1)).map(|c| {
                let (q, rest) = c.split_at_mut(per_chunk[0]);
                let (x, d) = rest.split_at_mut(per_chunk[1]);
                Bufs { q, x, d }
            });
            let mut packed_g = (!g_ok).then(|| MatMut::from_row_major(gbuf, dd, kk).expect("exact length"));
            let g_eff: MatMut<'_, T> = match packed_g.as_mut() {
                Some(pg) => pg.rb_mut(),
                None => g.rb_mut(),
            };

            let stats = if threads <= 1 {
                let bufs = bufs.next().unwrap_or_else(Bufs::empty);
                Chunk { x, step, product, r, d, g: g_eff, bufs, block, x_ok, d_ok }.run(k)
            } else {
                let mut g_eff = g_eff;
                let mut partials = partials_buf.chunks_exact_mut((dd * kk).max(1));
                let (cols, rrs, rcs, drs, dcs) = (kk, r.row_stride(), r.col_stride(), d.row_stride(), d.col_stride());
                let (mut r, mut d) = (r, d);
                let (mut r_rest, mut d_rest) = (r.as_mut_slice(), d.as_mut_slice());
                let mut tasks = Vec::with_capacity(threads);
                let (mut x, mut product) = (x, product);
                // The first chunk accumulates into G itself.
                let mut g0 = Some(g_eff.rb_mut());
                for _ in 0..threads {
                    let len = chunk_rows.min(x.nrows());
                    let (xc, xrest) = (x.rows(0, len), x.rows(len, x.nrows() - len));
                    let rows_left = x.nrows();
                    let rc = take_rows(&mut r_rest, len, rows_left, cols, rrs, rcs);
                    let dc = take_rows(&mut d_rest, len, rows_left, cols, drs, dcs);
                    let (pc, prest) = match product {
                        Some((q, eta)) => (Some((q.rows(0, len), eta)), Some((q.rows(len, q.nrows() - len), eta))),
                        None => (None, None),
                    };
                    (x, product) = (xrest, prest);
                    // (No scratch per chunk at all: `chunks_mut` yields nothing.)
                    let bufs = bufs.next().unwrap_or_else(Bufs::empty);
                    let g = g0.take().unwrap_or_else(|| {
                        let gp = partials.next().expect("one partial per chunk");
                        MatMut::from_row_major(&mut gp[..dd * kk], dd, kk).expect("exact length")
                    });
                    let chunk = Chunk { x: xc, step, product: pc, r: rc, d: dc, g, bufs, block, x_ok, d_ok };
                    tasks.push((Some(chunk), SweepStats::default()));
                }
                team::for_each_mut(&mut tasks, |_, (chunk, st)| {
                    if let Some(chunk) = chunk.take() {
                        *st = chunk.run(k);
                    }
                });
                let stats = tasks.iter().map(|(_, s)| *s).sum::<SweepStats>();
                drop(tasks);
                if dd * kk > 0 {
                    for part in partials_buf.chunks_exact(dd * kk) {
                        axpy(g_eff.rb_mut(), T::ONE, MatRef::from_row_major(part, dd, kk).expect("exact length"));
                    }
                }
                stats
            };
            if let Some(pg) = packed_g {
                g.copy_from(pg.into_const());
            }
            stats
        })
    }
}

fn assert_shape(what: &str, got: (usize, usize), want: (usize, usize)) {
    assert_eq!(got, want, "{what}: shape {got:?}, expected {want:?}");
}

/// The thread count [`sweep`] will use for these shapes (1 = sequential,
/// OpenBLAS may then use its own threads inside each call).
pub(crate) fn planned_threads<T: Copy>(
    threads: usize,
    min_par_work: usize,
    x: MatRef<'_, T>,
    r: &MatMut<'_, T>,
    d: &MatMut<'_, T>,
) -> usize {
    let (n, dd) = x.shape();
    let t = sweep_threads(threads, n, dd, r.ncols(), min_par_work);
    if t > 1 && rows_separable(r) && rows_separable(d) {
        t
    } else {
        1
    }
}

/// [`dspgd_backend::Backend::sweep`] with `threads` chunks (from [`planned_threads`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep<T: BlasScalar>(
    x: MatRef<'_, T>,
    update: ResidualUpdate<'_, T>,
    r: MatMut<'_, T>,
    loss: &Loss,
    d: MatMut<'_, T>,
    g: MatMut<'_, T>,
    block: usize,
    threads: usize,
) -> SweepStats {
    let (n, dd) = x.shape();
    let k = r.ncols();
    assert_shape("sweep R", r.shape(), (n, k));
    assert_shape("sweep D", d.shape(), (n, k));
    assert_shape("sweep G", g.shape(), (dd, k));
    match update {
        ResidualUpdate::Keep => {}
        ResidualUpdate::FromStep { p, .. } => assert_shape("sweep P", p.shape(), (dd, k)),
        ResidualUpdate::FromProduct { q, .. } => assert_shape("sweep Q", q.shape(), (n, k)),
    }
    if k == 0 {
        return SweepStats::default();
    }
    let block = if block == 0 { block_rows::<T>(dd, k) } else { block };
    loss.dispatch(Sweep { x, update, r, d, g, block, threads: threads.max(1) })
}
