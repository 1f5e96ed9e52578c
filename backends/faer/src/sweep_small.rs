//! The fused sweep for few right-hand sides (1 ≤ k ≤ [`MAX_K`]), X with
//! contiguous rows, `R −= η·X·P` (`FromStep`).
//!
//! With k this small the two products are matrix–vector products: a faer
//! matmul per block of rows costs more in call overhead than in arithmetic,
//! and at large d a cache-sized block is a row or less, so the blocks are
//! tiny. This path does without faer's products: the rows of X are taken
//! [`GROUP`] at a time and
//!
//! 1. `Q_g = X_g·P`: one pass along the rows of the group, every chunk of Pᵀ
//!    serving all the rows (dot products with [`LANES`] accumulators per row
//!    and column of P);
//! 2. `R_g −= η·Q_g`, `D_g = ∇ℓ(R_g)`, with Σℓ and ‖R‖² in f64;
//! 3. `Gᵀ += D_gᵀ·X_g`: a second pass along the same rows (from cache: a
//!    group is a few rows), every load and store of Gᵀ shared by the rows of
//!    the group.
//!
//! P and G are used transposed (k×d, contiguous rows, in per-thread scratch)
//! so that both passes run along the contiguous rows of X; the transposes
//! cost O(dk) per sweep. The loops are plain Rust on fixed-size arrays,
//! compiled inside `pulp`'s runtime dispatch (faer's dependency) so that
//! they are vectorized for the best instruction set of the CPU.
//!
//! Threads: one contiguous chunk of rows per thread, each with its own Gᵀ;
//! G is the sum of the chunks' Gᵀ in chunk order. Every sum runs in a fixed
//! order, so the result is bitwise reproducible for a given thread count.

use crate::scalar::FaerScalar;
use dspgd_backend::loss::{LossKernel, LossVisitor};
use dspgd_backend::{team, Loss, MatRef, Scalar, SweepStats};
use faer::reborrow::ReborrowMut;
use faer::traits::pulp::{Arch, Simd, WithSimd};

/// Largest k this path handles.
pub(crate) const MAX_K: usize = 4;
/// Rows of X per group (both passes run over the group's rows at once).
const GROUP: usize = 4;
/// Independent accumulators per dot product (and elements per step of the
/// rank update): a multiple of every vector width.
const LANES: usize = 8;

/// True when [`sweep_small`] applies: 1 ≤ k ≤ [`MAX_K`], d ≥ 1, and the rows
/// of X are contiguous.
pub(crate) fn applies<T>(x: MatRef<'_, T>, k: usize) -> bool
where
    T: Copy,
{
    (1..=MAX_K).contains(&k) && x.ncols() > 0 && (x.ncols() == 1 || x.col_stride() == 1)
}

/// The sweep with `R −= η·X·P`, for shapes where [`applies`] holds.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_small<T: FaerScalar>(
    x: MatRef<'_, T>,
    p: faer::MatRef<'_, T>,
    eta: T,
    r: faer::MatMut<'_, T>,
    loss: &Loss,
    d: faer::MatMut<'_, T>,
    g: faer::MatMut<'_, T>,
    threads: usize,
) -> SweepStats {
    debug_assert!(applies(x, r.ncols()));
    loss.dispatch(Small { x, p, eta, r, d, g, threads: threads.max(1) })
}

struct Small<'a, T> {
    x: MatRef<'a, T>,
    p: faer::MatRef<'a, T>,
    eta: T,
    r: faer::MatMut<'a, T>,
    d: faer::MatMut<'a, T>,
    g: faer::MatMut<'a, T>,
    threads: usize,
}

impl<T: FaerScalar> LossVisitor<T> for Small<'_, T> {
    type Output = SweepStats;
    fn visit<K: LossKernel<T>>(self, k: K) -> SweepStats {
        match self.r.ncols() {
            1 => self.run::<K, 1>(k),
            2 => self.run::<K, 2>(k),
            3 => self.run::<K, 3>(k),
            4 => self.run::<K, 4>(k),
            kk => unreachable!("sweep_small with k = {kk}"),
        }
    }
}

impl<T: FaerScalar> Small<'_, T> {
    fn run<K: LossKernel<T>, const KK: usize>(self, k: K) -> SweepStats {
        let Small { x, p, eta, r, d, mut g, threads } = self;
        let (n, dd) = x.shape();
        let len = KK * dd;
        T::with_scratch(len * (1 + threads), |scratch| {
            let (pt, gts) = scratch.split_at_mut(len);
            for (j, row) in pt.chunks_exact_mut(dd).enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = p[(c, j)];
                }
            }
            let pt = &*pt;
            let stats = if threads == 1 {
                chunk::<T, K, KK>(x, pt, eta, r, d, gts, k)
            } else {
                let chunk_rows = n.div_ceil(threads);
                let mut tasks = Vec::with_capacity(threads);
                let (mut x, mut r, mut d) = (x, r, d);
                for gt in gts.chunks_exact_mut(len) {
                    let rows = chunk_rows.min(x.nrows());
                    let xc = x.rows(0, rows);
                    x = x.rows(rows, x.nrows() - rows);
                    let (rc, rrest) = r.split_at_row_mut(rows);
                    let (dc, drest) = d.split_at_row_mut(rows);
                    (r, d) = (rrest, drest);
                    tasks.push((Some((xc, rc, dc, gt)), SweepStats::default()));
                }
                team::for_each_mut(&mut tasks, |_, (task, st)| {
                    if let Some((xc, rc, dc, gt)) = task.take() {
                        *st = chunk::<T, K, KK>(xc, pt, eta, rc, dc, gt, k);
                    }
                });
                tasks.iter().map(|(_, s)| *s).sum()
            };
            // G = Σ_t Gᵀ_t (transposed back), chunks in order.
            for c in 0..dd {
                for j in 0..KK {
                    let mut v = gts[j * dd + c];
                    for t in 1..threads {
                        v += gts[t * len + j * dd + c];
                    }
                    g[(c, j)] = v;
                }
            }
            stats
        })
    }
}

/// One chunk of rows: `gt` (k×d, contiguous rows) receives X_cᵀ·D_c transposed.
fn chunk<T: Scalar, K: LossKernel<T>, const KK: usize>(
    x: MatRef<'_, T>,
    pt: &[T],
    eta: T,
    r: faer::MatMut<'_, T>,
    d: faer::MatMut<'_, T>,
    gt: &mut [T],
    k: K,
) -> SweepStats {
    Arch::new().dispatch(ChunkBody::<T, K, KK> { x, pt, eta, r, d, gt, k })
}

/// [`chunk_body`] compiled for the instruction set `pulp` detects at run
/// time (a closure handed to `Arch::dispatch` is compiled without it).
struct ChunkBody<'a, T, K, const KK: usize> {
    x: MatRef<'a, T>,
    pt: &'a [T],
    eta: T,
    r: faer::MatMut<'a, T>,
    d: faer::MatMut<'a, T>,
    gt: &'a mut [T],
    k: K,
}

impl<T: Scalar, K: LossKernel<T>, const KK: usize> WithSimd for ChunkBody<'_, T, K, KK> {
    type Output = SweepStats;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> SweepStats {
        let ChunkBody { x, pt, eta, r, d, gt, k } = self;
        chunk_body::<T, K, KK>(x, pt, eta, r, d, gt, k)
    }
}

#[inline(always)]
fn chunk_body<T: Scalar, K: LossKernel<T>, const KK: usize>(
    x: MatRef<'_, T>,
    pt: &[T],
    eta: T,
    mut r: faer::MatMut<'_, T>,
    mut d: faer::MatMut<'_, T>,
    gt: &mut [T],
    k: K,
) -> SweepStats {
    let (n, dd) = x.shape();
    let gt = &mut gt[..KK * dd];
    gt.fill(T::ZERO);
    let mut stats = SweepStats::default();
    let (xs, rs) = (x.as_slice(), x.row_stride());
    let row = |i: usize| &xs[i * rs..i * rs + dd];
    let mut i = 0;
    while i < n {
        if i + GROUP <= n {
            let rows: [&[T]; GROUP] = core::array::from_fn(|u| row(i + u));
            group::<T, K, KK, GROUP>(rows, pt, eta, r.rb_mut(), d.rb_mut(), i, gt, k, &mut stats);
            i += GROUP;
        } else {
            group::<T, K, KK, 1>([row(i)], pt, eta, r.rb_mut(), d.rb_mut(), i, gt, k, &mut stats);
            i += 1;
        }
    }
    stats
}

/// Rows `i0..i0 + M` (`rows`): the three steps of the module docs.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn group<T: Scalar, K: LossKernel<T>, const KK: usize, const M: usize>(
    rows: [&[T]; M],
    pt: &[T],
    eta: T,
    mut r: faer::MatMut<'_, T>,
    mut d: faer::MatMut<'_, T>,
    i0: usize,
    gt: &mut [T],
    k: K,
    stats: &mut SweepStats,
) {
    let q = dots::<T, KK, M>(rows, pt);
    let mut dg = [[T::ZERO; KK]; M];
    for (u, (qu, du)) in q.iter().zip(dg.iter_mut()).enumerate() {
        for (j, (&qv, dv)) in qu.iter().zip(du.iter_mut()).enumerate() {
            let rv = &mut r[(i0 + u, j)];
            *rv -= eta * qv;
            let rr = *rv;
            *dv = k.grad(rr);
            d[(i0 + u, j)] = *dv;
            stats.loss += k.value(rr).to_f64();
            stats.r_norm2 += rr.to_f64() * rr.to_f64();
        }
    }
    rank_update::<T, KK, M>(rows, &dg, gt);
}

/// `q[u][j] = Σ_c rows[u][c]·pt[j·d + c]`, with [`LANES`] partial sums
/// (lane l takes the columns c ≡ l mod LANES), added pairwise, then the
/// columns past the last full chunk in order.
#[inline(always)]
fn dots<T: Scalar, const KK: usize, const M: usize>(rows: [&[T]; M], pt: &[T]) -> [[T; KK]; M] {
    let dd = rows[0].len();
    let rows: [&[T]; M] = core::array::from_fn(|u| &rows[u][..dd]);
    let pts: [&[T]; KK] = core::array::from_fn(|j| &pt[j * dd..(j + 1) * dd]);
    let full = dd - dd % LANES;
    let mut acc = [[[T::ZERO; LANES]; KK]; M];
    let mut c = 0;
    while c < full {
        let xc: [&[T; LANES]; M] = core::array::from_fn(|u| lanes(rows[u], c));
        for (j, pj) in pts.iter().enumerate() {
            let pc = lanes(pj, c);
            for u in 0..M {
                for l in 0..LANES {
                    acc[u][j][l] += xc[u][l] * pc[l];
                }
            }
        }
        c += LANES;
    }
    let mut q = [[T::ZERO; KK]; M];
    for u in 0..M {
        for j in 0..KK {
            let mut s = reduce_lanes(acc[u][j]);
            for cc in full..dd {
                s += rows[u][cc] * pts[j][cc];
            }
            q[u][j] = s;
        }
    }
    q
}

/// `gt[j·d + c] += Σ_u rows[u][c]·dg[u][j]`, rows added in order.
#[inline(always)]
fn rank_update<T: Scalar, const KK: usize, const M: usize>(rows: [&[T]; M], dg: &[[T; KK]; M], gt: &mut [T]) {
    let dd = rows[0].len();
    let rows: [&[T]; M] = core::array::from_fn(|u| &rows[u][..dd]);
    let full = dd - dd % LANES;
    for (j, gj) in gt.chunks_exact_mut(dd).enumerate() {
        let (head, tail) = gj.split_at_mut(full);
        for (cb, gc) in head.chunks_exact_mut(LANES).enumerate() {
            let c = cb * LANES;
            let mut v: [T; LANES] = core::array::from_fn(|l| gc[l]);
            for u in 0..M {
                let xc = lanes(rows[u], c);
                let s = dg[u][j];
                for l in 0..LANES {
                    v[l] += xc[l] * s;
                }
            }
            gc.copy_from_slice(&v);
        }
        for (cc, gv) in tail.iter_mut().enumerate() {
            for u in 0..M {
                *gv += rows[u][full + cc] * dg[u][j];
            }
        }
    }
}

#[inline(always)]
fn lanes<T>(s: &[T], c: usize) -> &[T; LANES] {
    s[c..c + LANES].try_into().expect("LANES elements")
}

/// Σ of the lanes, pairwise in a fixed tree.
#[inline(always)]
fn reduce_lanes<T: Scalar>(a: [T; LANES]) -> T {
    let b: [T; 4] = core::array::from_fn(|l| a[l] + a[l + 4]);
    (b[0] + b[2]) + (b[1] + b[3])
}
