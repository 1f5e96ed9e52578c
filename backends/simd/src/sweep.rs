//! The fused sweep of SPEC §7: one read of X from memory per iteration.
//!
//! The rows of X are walked by blocks of B rows (X_B about 256 KiB, so that
//! it stays in cache; B = 4 rows for d = 20000 in f64, hundreds of rows for
//! small d). For each block:
//!
//! 1. `Q_B = X_B·P` (`FromStep`): dot products of the rows with the k
//!    columns of P, four rows at a time (see [`GROUP_ROWS`]), so that every
//!    load of P serves four rows;
//! 2. `R_B −= η·Q_B`, `D_B = ∇ℓ(R_B)`, with Σℓ and ‖R‖² accumulated in f64,
//!    in one vector pass over the block;
//! 3. `G += X_Bᵀ·D_B`: rank-4 updates of G, every load and store of G shared
//!    by four rows.
//!
//! Steps 1 and 3 walk the columns of X by chunks of 8 KiB per row (4 KiB
//! for k = 1; see [`chunk_cols`]): a chunk of four rows stays in L1 while
//! all the columns of P (or G) are applied to it, and each chunk of P and G
//! serves all the rows of the block. The
//! block is read from memory by step 1 and again, from cache, by step 3, so
//! DRAM sees X once. For X larger than L3, step 3 also prefetches the next
//! block (see [`crate::prefetch`] and [`prefetch_next_block`]). P and G are used transposed (k×d, row-major), so that
//! all products run along the contiguous rows of X: column-major P and G
//! (the primal solver's layout for this backend, see
//! `Backend::prefers_col_major`) are used in place, G accumulated into
//! directly; other layouts are transposed, O(dk) per sweep.
//!
//! X with contiguous rows (row-major or padded rows) is read in place; any
//! other layout is copied block by block into packed scratch first
//! (correct, slower). R, D and Q are used in place when their rows are
//! packed row-major, else copied to and from packed scratch.
//!
//! Threads: the rows are cut into one contiguous chunk per thread, run
//! through [`dspgd_backend::team`]: the calling thread runs the first chunk,
//! and it and the team's workers (which wait busy between sweeps) claim the
//! others. (Rayon's pool, used before, let its workers fall asleep between
//! sweeps, and with the caller ran three threads on two cores: S2 on two
//! threads ran 1.1× as fast as on one; it runs 1.4–1.6× with the team.)
//! Each chunk accumulates into its own Gᵀ, and the partial Gᵀ are added in
//! chunk order, so the result does not depend on scheduling and is bitwise
//! reproducible for a given thread count. The partials alternate between
//! two buffers from one sweep to the next (see `ALTERNATE`).

use crate::elem::SimdScalar;
use crate::kernels::{q_rows, rank_update};
use crate::layout::{gather_rows, row_run, row_run_mut, scatter_rows, transpose_from, transpose_into};
use crate::level::Token;
use crate::lines::{axpy, update_grad};
use crate::maps::{with_loss, LossOp, VLoss};
use crate::prefetch::Prefetch;
use dspgd_backend::{team, Loss, MatMut, MatRef, ResidualUpdate, SweepStats};
use pulp::{Simd, WithSimd};

/// Bytes of X per block of rows (a quarter of a 1 MiB L2).
const BLOCK_BYTES: usize = 256 * 1024;
/// Most vector accumulators of Q per block (rows × k).
const BLOCK_ACC: usize = 512;
/// The widest vector, in elements (f32 with AVX-512).
const MAX_LANES: usize = 16;
/// Rows of X per step of the kernels: every load of P and of G serves four
/// rows. Measured on n = 2000, d = 20000 (AMD Zen 4, 1 MiB L2), with steps
/// of whole groups of 8 rows: as fast as 4 for k ≤ 2 (within noise), 10 to
/// 20 % slower for k ≥ 4; groups of 16 were slower for every k.
const GROUP_ROWS: usize = 4;
/// Rows whose rank updates are summed in a partial G before it is added to G.
const FLUSH_ROWS: usize = 256;
/// Fewest rows per thread chunk.
const MIN_CHUNK_ROWS: usize = 16;
/// Smallest X (bytes) whose next blocks are prefetched (see
/// [`crate::prefetch`]): half of this machine kind's 32 MiB L3. Smaller X
/// stays in L3 between sweeps, and prefetching it was measured slower
/// (n = 200, d = 2000, k = 10: 2 430–2 610 it/s with, 2 480–2 770 without).
const PREFETCH_MIN_X_BYTES: usize = 16 << 20;

/// True when the sweep over an n×d X, k columns, runs faster enough with
/// every row of X on a cache line to pay for one copy of X (see
/// `Backend::prefers_aligned_rows`): X smaller than
/// [`PREFETCH_MIN_X_BYTES`], read from cache, where the kernels' loads of X
/// are the limit, and k ≤ [`ALIGNED_ROWS_MAX_K`]. Measured, one thread,
/// n = 200, d = 2000, X from a `Vec` (16 bytes off a line) against the
/// copy: k = 1: 11 900 → 13 574 it/s in f64, 24 082 → 27 213 in f32; k = 2,
/// 4, 10, 30: 3 to 5 % in f64, 0 to 5 % in f32. An X streamed from DRAM
/// gained nothing (n = 2000, d = 50000, k = 1) or lost (n = 1000,
/// d = 10000, k = 10, f64: 105 → 101 it/s), so it is read in place.
pub(crate) fn aligned_rows_pay<T>(n: usize, d: usize, k: usize) -> bool {
    d >= 2 * MAX_LANES && k <= ALIGNED_ROWS_MAX_K && n.saturating_mul(d).saturating_mul(core::mem::size_of::<T>()) < PREFETCH_MIN_X_BYTES
}

/// Most columns of W for which X is copied onto cache lines: with k = 100,
/// n = 500, d = 5008, f32, the copy measured 2 to 5 % slower (94 → 92 it/s;
/// 3 % faster at n = 200, d = 2000).
const ALIGNED_ROWS_MAX_K: usize = 32;

/// This machine kind's L2 per core.
const L2_BYTES: usize = 1 << 20;

/// True when X streams from DRAM (larger than [`PREFETCH_MIN_X_BYTES`]) and
/// k ≥ 2: the sweep then prefetches the next block during the rank updates
/// (when the block fits L2), and f64 takes larger blocks
/// ([`streamed_block_rows`]).
fn streamed<T>(n: usize, d: usize, k: usize, x_contig: bool) -> bool {
    x_contig && k >= 2 && d > 0 && n.saturating_mul(d).saturating_mul(core::mem::size_of::<T>()) >= PREFETCH_MIN_X_BYTES
}

/// True when the sweep prefetches the next block of rows during the rank
/// updates: X [`streamed`] and blocks that fit L2. Measured, n = 1000,
/// d = 10000: k = 2 to 16 gained 10 to 25 %, k = 1 nothing; n = 500,
/// d = 20000, k = 10, f64 (4 rows, 640 KB): 88 → 97 it/s; n = 2000,
/// d = 50000, whose 4-row blocks exceed L2 in f64: k = 1 and 2 lost 5 to
/// 10 % (f32, 800 KB, k = 2: 44 → 43 it/s, median of 5, within noise).
fn prefetch_next_block<T>(n: usize, d: usize, k: usize, block: usize, x_contig: bool) -> bool {
    streamed::<T>(n, d, k, x_contig) && block.saturating_mul(d).saturating_mul(core::mem::size_of::<T>()) <= L2_BYTES
}

/// Fewest rows per block for a [`streamed`] X, when such a block fits L2:
/// 8 in f64, where P and G (read from L3 once per block when they do not
/// fit L2 beside the block) then serve twice the rows. Measured, one
/// thread, rows 4 → 8 (with the prefetch): n = 1000, d = 10000, k = 10:
/// 98 → 102 it/s; k = 4: 167 → 181. In f32 the same change lost 3 %
/// (S3: 216 → 210; 16 rows: 203), so f32 keeps its blocks of 4 rows.
fn streamed_block_rows<T>() -> usize {
    if core::mem::size_of::<T>() >= 8 {
        2 * GROUP_ROWS
    } else {
        GROUP_ROWS
    }
}

/// What happens to R before the gradient.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Keep,
    Step,
    Product,
}

/// The number of threads a sweep of this size should use, out of `threads`.
pub(crate) fn sweep_threads(threads: usize, n: usize, d: usize, k: usize, min_par_work: usize) -> usize {
    if threads <= 1 || n < 2 * MIN_CHUNK_ROWS {
        return 1;
    }
    if n.saturating_mul(d).saturating_mul(k.max(1)) < min_par_work {
        return 1;
    }
    threads.min(n / MIN_CHUNK_ROWS)
}

/// Rows per block: the block of X (about [`BLOCK_BYTES`]) stays in cache
/// between the two products (at least [`streamed_block_rows`] rows for a
/// [`streamed`] X), and at most [`BLOCK_ACC`] vector accumulators of Q are
/// live; a multiple of [`GROUP_ROWS`].
fn block_rows<T>(d: usize, k: usize, streamed: bool) -> usize {
    let size = core::mem::size_of::<T>();
    let mut by_bytes = BLOCK_BYTES / (d.max(1) * size);
    let more = streamed_block_rows::<T>();
    if streamed && more.saturating_mul(d).saturating_mul(size) <= L2_BYTES {
        by_bytes = by_bytes.max(more);
    }
    let by_acc = BLOCK_ACC / k.max(1);
    (by_bytes.min(by_acc) / GROUP_ROWS).max(1) * GROUP_ROWS
}

thread_local! {
    /// Which of the two buffers of partial Gᵀ the next threaded sweep from
    /// this thread uses. A worker's partial is read by the calling thread
    /// (the sum into G), so the lines it writes at the next sweep are still
    /// in the caller's cache: writing over them first invalidates them there.
    /// Every other sweep writes the other buffer instead (n = 200, d = 2000,
    /// k = 10, two threads: 5 031 → 5 311 it/s in f64, 8 855 → 9 816 in f32).
    static ALTERNATE: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Columns of X per chunk of the two passes: 8 KiB of each row for k ≥ 2,
/// 4 KiB for k = 1 (multiples of every lane count). Measured, one thread,
/// 4 → 8 KiB: n = 200, d = 2000, k = 10: 3 158 → 3 291 it/s in f64, 6 147 →
/// 6 461 in f32; n = 1000, d = 10000, k = 10: 102 → 105 and 220 → 225;
/// n = 500, d = 5000, k = 100: 45 → 48 and 88 → 92; k = 1 (n = 200,
/// d = 2000) lost 2–4 %; 16 KiB ran as 8 at k = 10.
fn chunk_cols<T>(k: usize) -> usize {
    (if k >= 2 { 8192 } else { 4096 }) / core::mem::size_of::<T>()
}

/// True when the rank updates of G are summed by blocks of rows (f32; see
/// [`SimdScalar::SUM_CHUNK`]: f64 sums need no blocking).
fn blocked_g<T: SimdScalar>() -> bool {
    T::SUM_CHUNK != usize::MAX
}

/// Splits `buf` into `parts` consecutive slices of `len` elements.
fn split_parts<T>(buf: &mut [T], parts: usize, len: usize) -> Vec<&mut [T]> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = buf;
    for _ in 0..parts {
        let (a, b) = rest.split_at_mut(len);
        out.push(a);
        rest = b;
    }
    out
}

/// Splits `buf` (rows of `k` elements) into chunks of `rows` rows (the last one shorter).
fn split_rows<T>(buf: &mut [T], parts: usize, rows: usize, k: usize) -> Vec<&mut [T]> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = buf;
    for _ in 0..parts {
        let take = (rows * k).min(rest.len());
        let (a, b) = rest.split_at_mut(take);
        out.push(a);
        rest = b;
    }
    out
}

/// [`dspgd_backend::Backend::sweep`] (shapes already checked, k ≥ 1).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep<T: SimdScalar>(
    token: Token,
    threads: usize,
    min_par_work: usize,
    x: MatRef<'_, T>,
    update: ResidualUpdate<'_, T>,
    r: MatMut<'_, T>,
    loss: &Loss,
    d: MatMut<'_, T>,
    g: MatMut<'_, T>,
) -> SweepStats {
    let [loss, r_norm2] = with_loss(loss, SweepRun { token, threads, min_par_work, x, update, r, d, g });
    SweepStats { loss, r_norm2 }
}

struct SweepRun<'a, T> {
    token: Token,
    threads: usize,
    min_par_work: usize,
    x: MatRef<'a, T>,
    update: ResidualUpdate<'a, T>,
    r: MatMut<'a, T>,
    d: MatMut<'a, T>,
    g: MatMut<'a, T>,
}

impl<T: SimdScalar> LossOp<T> for SweepRun<'_, T> {
    type Output = [f64; 2];

    fn run<L: VLoss<T>>(self, l: L) -> [f64; 2] {
        let SweepRun { token, threads, min_par_work, x, update, mut r, mut d, mut g } = self;
        let (n, dd) = x.shape();
        let k = r.ncols();
        let (mode, eta, p, q) = match update {
            ResidualUpdate::Keep => (Mode::Keep, T::ZERO, None, None),
            // d = 0: X·P = 0, R is unchanged.
            ResidualUpdate::FromStep { .. } if dd == 0 => (Mode::Keep, T::ZERO, None, None),
            ResidualUpdate::FromStep { p, eta } => (Mode::Step, eta, Some(p), None),
            ResidualUpdate::FromProduct { q, eta } => (Mode::Product, eta, None, Some(q)),
        };
        let nt = sweep_threads(threads, n, dd, k, min_par_work);
        // Pᵀ (k×d row-major) is P's own storage when P is column-major packed.
        let pt_direct = p.filter(|p| p.row_stride() == 1 && (k == 1 || p.col_stride() == dd));
        let pt_len = if mode == Mode::Step && pt_direct.is_none() { k * dd } else { 0 };
        let r_direct = row_run(r.rb(), 0, n).is_some();
        let d_direct = row_run(d.rb(), 0, n).is_some();
        let q_direct = q.is_none_or(|q| row_run(q, 0, n).is_some());
        let r_len = if r_direct { 0 } else { n * k };
        let d_len = if d_direct { 0 } else { n * k };
        let q_len = if q_direct { 0 } else { n * k };
        let gt_len = k * dd;
        // G column-major packed (the primal solver's layout): its storage is
        // Gᵀ, which the first chunk accumulates into directly.
        let gt_direct = row_run(g.rb().transpose(), 0, k).is_some();
        // The other chunks' partial Gᵀ alternate between two buffers from one
        // sweep to the next (see `ALTERNATE`), when G is column-major.
        let alternate = gt_direct && nt > 1;
        let gt_scratch = match (gt_direct, alternate) {
            (true, true) => 2 * (nt - 1) * gt_len,
            (true, false) => 0,
            _ => nt * gt_len,
        };
        let x_contig = dd <= 1 || x.col_stride() == 1;
        let chunk_rows = n.div_ceil(nt).div_ceil(4) * 4;
        let block = block_rows::<T>(dd, k, streamed::<T>(n, dd, k, x_contig)).min(chunk_rows.max(GROUP_ROWS));
        let prefetch = prefetch_next_block::<T>(n, dd, k, block, x_contig);
        // Per chunk: Q of a block, its vector accumulators, and the copied block of X.
        let gpart_len = if blocked_g::<T>() { k * dd } else { 0 };
        let per_chunk = block * k * (1 + MAX_LANES) + gpart_len + if x_contig { 0 } else { block * dd };
        let total = pt_len + r_len + d_len + q_len + gt_scratch + nt * per_chunk;

        T::simd_scratch(total, |buf| {
            let (pt_buf, rest) = buf.split_at_mut(pt_len);
            let (r_buf, rest) = rest.split_at_mut(r_len);
            let (d_buf, rest) = rest.split_at_mut(d_len);
            let (q_buf, rest) = rest.split_at_mut(q_len);
            let (gt_buf, chunk_buf) = rest.split_at_mut(gt_scratch);

            // Pᵀ.
            let pt: &[T] = match (pt_direct, p) {
                (Some(p), _) => &p.as_slice()[..k * dd],
                (None, Some(p)) if mode == Mode::Step => {
                    transpose_into(p, pt_buf);
                    pt_buf
                }
                _ => &[],
            };
            // Q rows (FromProduct).
            let q_rows_all: &[T] = match q {
                Some(q) => match row_run(q, 0, n) {
                    Some(s) => s,
                    None => {
                        gather_rows(q, 0, n, q_buf);
                        q_buf
                    }
                },
                None => &[],
            };
            // R and D, packed row-major.
            if !r_direct {
                gather_rows(r.rb(), 0, n, r_buf);
            }
            let r_all: &mut [T] = if r_direct { row_run_mut(&mut r, 0, n).unwrap_or(&mut []) } else { &mut *r_buf };
            let d_all: &mut [T] = if d_direct { row_run_mut(&mut d, 0, n).unwrap_or(&mut []) } else { &mut *d_buf };

            let mut g_t = g.rb_mut().transpose();
            let (g0, gt_rest): (&mut [T], &mut [T]) = match row_run_mut(&mut g_t, 0, k) {
                Some(g0) => {
                    let (a, b) = gt_buf.split_at_mut(gt_buf.len() / 2);
                    (g0, if !alternate || ALTERNATE.with(|c| c.replace(!c.get())) { a } else { b })
                }
                None => gt_buf.split_at_mut(gt_len),
            };
            let stats = token.run(SweepSimd {
                l,
                mode,
                eta,
                x,
                x_contig,
                prefetch,
                block,
                pt,
                q: q_rows_all,
                r: r_all,
                d: d_all,
                g0,
                gt_rest,
                chunk_buf,
                nt,
                chunk_rows,
                k,
                per_chunk,
            });

            if !gt_direct {
                // G from the (reduced) Gᵀ of chunk 0.
                transpose_from(&gt_buf[..gt_len], &mut g);
            }
            if !r_direct && mode != Mode::Keep {
                scatter_rows(&mut r, 0, n, r_buf);
            }
            if !d_direct {
                scatter_rows(&mut d, 0, n, d_buf);
            }
            stats
        })
    }
}

/// The vectorized part of the sweep: the chunks (one per thread) and the
/// reduction of their partial Gᵀ.
struct SweepSimd<'a, T, L> {
    l: L,
    mode: Mode,
    eta: T,
    x: MatRef<'a, T>,
    x_contig: bool,
    prefetch: bool,
    block: usize,
    pt: &'a [T],
    q: &'a [T],
    r: &'a mut [T],
    d: &'a mut [T],
    /// The first chunk's Gᵀ (G's own storage when it is column-major), into
    /// which the others' are added...
    g0: &'a mut [T],
    /// ...and theirs, one after the other.
    gt_rest: &'a mut [T],
    chunk_buf: &'a mut [T],
    nt: usize,
    chunk_rows: usize,
    k: usize,
    per_chunk: usize,
}

impl<T: SimdScalar, L: VLoss<T>> WithSimd for SweepSimd<'_, T, L> {
    type Output = [f64; 2];

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> [f64; 2] {
        let SweepSimd { l, mode, eta, x, x_contig, prefetch, block, pt, q, r, d, g0, gt_rest, chunk_buf, nt, chunk_rows, k, per_chunk } =
            self;
        let (n, dd) = x.shape();
        let gt_len = k * dd;
        if nt == 1 {
            let chunk = Chunk { l, mode, eta, x, x_contig, prefetch, block, pt, q, r, d, gt: g0, scratch: chunk_buf, k };
            // Through `vectorize` (free: the same instruction set) so that the
            // chunk is compiled as a function of its own, as on the threads.
            return s.vectorize(chunk);
        }
        let gts = core::iter::once(&mut *g0).chain(split_parts(&mut *gt_rest, nt - 1, gt_len));
        let scratches = split_parts(chunk_buf, nt, per_chunk);
        let rs = split_rows(r, nt, chunk_rows, k);
        let ds = split_rows(d, nt, chunk_rows, k);
        let parts = gts.into_iter().zip(scratches).zip(rs).zip(ds).enumerate();
        let mut tasks: Vec<_> = parts
            .map(|(c, (((gt, scratch), r), d))| {
                let start = (c * chunk_rows).min(n);
                let len = chunk_rows.min(n - start);
                let xc = x.rows(start, len);
                let qc = if mode == Mode::Product { &q[start * k..(start + len) * k] } else { &[][..] };
                (Some(Chunk { l, mode, eta, x: xc, x_contig, prefetch, block, pt, q: qc, r, d, gt, scratch, k }), [0.0; 2])
            })
            .collect();
        team::for_each_mut(&mut tasks, |_, (chunk, st)| {
            if let Some(chunk) = chunk.take() {
                *st = s.vectorize(chunk);
            }
        });
        let stats = tasks.iter().fold([0.0; 2], |a, (_, b)| [a[0] + b[0], a[1] + b[1]]);
        drop(tasks);
        // Σ of the partial Gᵀ, in chunk order, into the first.
        for part in gt_rest.chunks_exact(gt_len.max(1)).take(nt - 1) {
            axpy::<T, S>(s, g0, T::ONE, part);
        }
        stats
    }
}

/// One chunk of rows, processed on one thread.
struct Chunk<'a, T, L> {
    l: L,
    mode: Mode,
    eta: T,
    x: MatRef<'a, T>,
    x_contig: bool,
    /// Prefetch the next block during the rank updates ([`prefetch_next_block`]).
    prefetch: bool,
    block: usize,
    pt: &'a [T],
    q: &'a [T],
    r: &'a mut [T],
    d: &'a mut [T],
    gt: &'a mut [T],
    scratch: &'a mut [T],
    k: usize,
}

impl<T: SimdScalar, L: VLoss<T>> WithSimd for Chunk<'_, T, L> {
    type Output = [f64; 2];

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> [f64; 2] {
        self.run(s)
    }
}

impl<T: SimdScalar, L: VLoss<T>> Chunk<'_, T, L> {
    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> [f64; 2] {
        let Chunk { l, mode, eta, x, x_contig, prefetch, block, pt, q, r, d, gt, scratch, k } = self;
        let (n, dd) = x.shape();
        let gt = &mut gt[..k * dd];
        if n == 0 {
            gt.fill(T::ZERO);
        }
        let (qb, rest) = scratch.split_at_mut(block * k);
        let (accbuf, rest) = rest.split_at_mut(block * k * MAX_LANES);
        // f32 with more than FLUSH_ROWS rows: the rank updates go into a
        // partial Gᵀ, added to the chunk's Gᵀ every FLUSH_ROWS rows (blocked
        // summation: a running f32 sum over 10⁵ rows would drift by about
        // 1e-5 relative). Otherwise straight into Gᵀ.
        let blocked = blocked_g::<T>() && n > FLUSH_ROWS;
        let (gpart, xb) = rest.split_at_mut(if blocked_g::<T>() { k * dd } else { 0 });
        let (gsum, mut gtotal): (&mut [T], Option<&mut [T]>) = if blocked { (gpart, Some(gt)) } else { (gt, None) };
        // The first rank update after a flush (and of the sweep) assigns
        // instead of adding, so no pass zeroes G or the partial; the first
        // flush copies.
        let mut fresh_sum = true;
        let mut fresh_total = true;
        let mut unflushed = 0;
        let lc = chunk_cols::<T>(k);
        let mut stats = [0.0f64; 2];
        let pf = Prefetch::new(prefetch);
        let mut b0 = 0;
        while b0 < n {
            let blen = block.min(n - b0);
            let (xs, xrs): (&[T], usize) = if x_contig {
                (x.as_slice(), x.row_stride())
            } else {
                gather_rows(x, b0, blen, xb);
                (&xb[..blen * dd], dd)
            };
            let xoff = if x_contig { b0 } else { 0 };
            let rows = BlockRows { xs, stride: xrs, off: xoff, d: dd, len: blen };
            // The next block, prefetched during the rank updates (X in place only).
            let next_len = if pf.is_on() { block.min(n - b0 - blen) } else { 0 };
            let next = BlockRows { xs, stride: xrs, off: b0 + blen, d: dd, len: next_len };
            let rb = &mut r[b0 * k..(b0 + blen) * k];
            let db = &mut d[b0 * k..(b0 + blen) * k];
            // 1–2: R_B −= η·X_B·P (or the given Q), D_B = ∇ℓ(R_B).
            let st = match mode {
                Mode::Step => {
                    let qg = &mut qb[..blen * k];
                    s.vectorize(QPass { x: rows, pt, k, lc, accbuf: &mut *accbuf, q: &mut *qg });
                    update_grad::<T, S, L, true>(s, l, rb, qg, eta, db)
                }
                Mode::Product => update_grad::<T, S, L, true>(s, l, rb, &q[b0 * k..(b0 + blen) * k], eta, db),
                Mode::Keep => update_grad::<T, S, L, false>(s, l, rb, &[], eta, db),
            };
            stats[0] += st[0];
            stats[1] += st[1];
            // 3: G += X_Bᵀ·D_B, each chunk of G updated by all the rows of the block.
            s.vectorize(GPass { x: rows, next, dcoef: db, k, lc, g: &mut *gsum, pf, assign: fresh_sum });
            fresh_sum = false;
            b0 += blen;
            unflushed += blen;
            if let Some(total) = gtotal.as_deref_mut() {
                if unflushed >= FLUSH_ROWS || b0 >= n {
                    if fresh_total {
                        total.copy_from_slice(gsum);
                        fresh_total = false;
                    } else {
                        axpy::<T, S>(s, total, T::ONE, gsum);
                    }
                    fresh_sum = true;
                    unflushed = 0;
                }
            }
        }
        stats
    }
}

/// The rows of one block of X: row i is `xs[(off + i)·stride..][..d]`, for
/// i < len (an empty slice beyond).
#[derive(Clone, Copy)]
struct BlockRows<'a, T> {
    xs: &'a [T],
    stride: usize,
    off: usize,
    d: usize,
    len: usize,
}

impl<'a, T> BlockRows<'a, T> {
    #[inline(always)]
    fn row(self, i: usize) -> &'a [T] {
        if self.d == 0 || i >= self.len {
            return &[];
        }
        let start = (self.off + i) * self.stride;
        &self.xs[start..start + self.d]
    }
}

/// Step 1 of a block: Q_B = X_B·P into `q` (`x.len`×k), through vector
/// accumulators in `accbuf`, by chunks of `lc` columns. Its own `WithSimd`
/// (run through `vectorize`), not generic over the loss: the kernels are
/// compiled once per element type and level, not once per loss as well.
struct QPass<'a, T> {
    x: BlockRows<'a, T>,
    pt: &'a [T],
    k: usize,
    lc: usize,
    accbuf: &'a mut [T],
    q: &'a mut [T],
}

impl<T: SimdScalar> WithSimd for QPass<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let QPass { x, pt, k, lc, accbuf, q } = self;
        let (blen, dd) = (x.len, x.d);
        let (accv, _) = T::as_mut_simd::<S>(accbuf);
        let acc = &mut accv[..blen * k];
        acc.fill(T::vsplat(s, T::ZERO));
        let mut l0 = 0;
        while l0 < dd {
            let l1 = dd.min(l0 + lc);
            let mut t = 0;
            while t + GROUP_ROWS <= blen {
                let x4 = [x.row(t), x.row(t + 1), x.row(t + 2), x.row(t + 3)];
                q_rows::<T, S, 4>(s, x4, pt, k, dd, l0, l1, &mut acc[t * k..(t + 4) * k]);
                t += GROUP_ROWS;
            }
            while t < blen {
                q_rows::<T, S, 1>(s, [x.row(t)], pt, k, dd, l0, l1, &mut acc[t * k..(t + 1) * k]);
                t += 1;
            }
            l0 = l1;
        }
        for (qv, av) in q.iter_mut().zip(acc.iter()) {
            *qv = T::vsum(s, *av);
        }
    }
}

/// Step 3 of a block: G += X_Bᵀ·D_B (`g`: Gᵀ, k×d), each chunk of `lc`
/// columns of G updated by all the rows of the block, the rows of `next`
/// prefetched on the way. Not generic over the loss (see [`QPass`]).
struct GPass<'a, T> {
    x: BlockRows<'a, T>,
    next: BlockRows<'a, T>,
    dcoef: &'a [T],
    k: usize,
    lc: usize,
    g: &'a mut [T],
    pf: Prefetch,
    /// The first rows assign G instead of adding to it (see [`rank_update`]).
    assign: bool,
}

impl<T: SimdScalar> WithSimd for GPass<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let GPass { x, next, dcoef, k, lc, g, pf, assign } = self;
        let (blen, dd) = (x.len, x.d);
        let mut l0 = 0;
        while l0 < dd {
            let l1 = dd.min(l0 + lc);
            let mut t = 0;
            while t + GROUP_ROWS <= blen {
                let x4 = [x.row(t), x.row(t + 1), x.row(t + 2), x.row(t + 3)];
                let nx = [next.row(t), next.row(t + 1), next.row(t + 2), next.row(t + 3)];
                rank_update::<T, S, 4>(s, x4, &dcoef[t * k..(t + 4) * k], k, g, dd, l0, l1, pf, nx, assign && t == 0);
                t += GROUP_ROWS;
            }
            while t < blen {
                rank_update::<T, S, 1>(s, [x.row(t)], &dcoef[t * k..(t + 1) * k], k, g, dd, l0, l1, pf, [next.row(t)], assign && t == 0);
                t += 1;
            }
            l0 = l1;
        }
    }
}
