//! The kernels of the fused sweep: the products of a few rows of X with the
//! step P (`Q += X_R·P`) and the rank-R update of the gradient
//! (`G += X_Rᵀ·D_R`), on one chunk `l0..l1` of the columns of X.
//!
//! Both work on Pᵀ and Gᵀ (k×d, row-major), so that every product runs
//! along the rows of X, which are contiguous: the vectors are taken along d.
//! The rows of X come R = 4 at a time (R = 1 for the last rows of a group),
//! so that each load of P or G serves four rows (NOTES: "The fused sweep,
//! first evidence"); the columns of P and G come J at a time (J ≤ 6 with 32
//! vector registers, J ≤ 2 with 16; see [`block_cols`]), giving R·J
//! independent accumulators.
//! Tails shorter than a vector use partial (masked) loads and stores. The
//! tiles are fixed-size arrays indexed by constants, which the compiler
//! keeps in registers after unrolling.

use crate::elem::SimdScalar;
use crate::prefetch::Prefetch;
use pulp::Simd;

/// The widest block of columns of P or G a kernel takes at once: with four
/// rows, 4·J accumulators (or coefficients) plus four vectors of X must fit
/// the register file (J = 6 with 32 vector registers, J = 2 with 16).
#[inline(always)]
fn max_block_cols<S: Simd>() -> usize {
    if S::REGISTER_COUNT >= 32 {
        6
    } else {
        2
    }
}

/// The width of the next block when `left` columns remain: as few blocks as
/// `max` allows, of equal widths (k = 10 → 5 + 5, k = 7 → 4 + 3, k = 16 →
/// 6 + 5 + 5), so that no block is left with one or two columns, which
/// reload X for little work.
#[inline(always)]
fn block_cols(left: usize, max: usize) -> usize {
    left.div_ceil(left.div_ceil(max))
}

/// Adds `x[r]·p[j]` (lanewise partial sums) to the accumulators `acc[r][j]`,
/// for R rows and J columns of Pᵀ, each accumulator a vector register.
#[inline(always)]
fn dot_block<T: SimdScalar, S: Simd, const R: usize, const J: usize>(
    s: S,
    x: [&[T]; R],
    p: [&[T]; J],
    mut acc: [[T::V<S>; J]; R],
) -> [[T::V<S>; J]; R] {
    let zero = T::vsplat(s, T::ZERO);
    let dd = p[0].len();
    let (p0v, p0t) = T::as_simd::<S>(p[0]);
    let nv = p0v.len();
    let tail = p0t.len();
    let mut pv: [&[T::V<S>]; J] = [&[]; J];
    let mut pt: [&[T]; J] = [&[]; J];
    for j in 0..J {
        let (v, t) = T::as_simd::<S>(&p[j][..dd]);
        pv[j] = &v[..nv];
        pt[j] = t;
    }
    let mut xv: [&[T::V<S>]; R] = [&[]; R];
    let mut xt: [&[T]; R] = [&[]; R];
    for r in 0..R {
        let (v, t) = T::as_simd::<S>(&x[r][..dd]);
        xv[r] = &v[..nv];
        xt[r] = t;
    }
    for i in 0..nv {
        let mut xi = [zero; R];
        for r in 0..R {
            xi[r] = xv[r][i];
        }
        for j in 0..J {
            let pj = pv[j][i];
            for r in 0..R {
                acc[r][j] = T::vfma(s, xi[r], pj, acc[r][j]);
            }
        }
    }
    if tail > 0 {
        let mut xi = [zero; R];
        for r in 0..R {
            xi[r] = T::partial_load(s, xt[r]);
        }
        for j in 0..J {
            let pj = T::partial_load(s, pt[j]);
            for r in 0..R {
                acc[r][j] = T::vfma(s, xi[r], pj, acc[r][j]);
            }
        }
    }
    acc
}

/// One block of [`q_rows`]: columns `j..j + J`, accumulators loaded from and
/// stored back to `accv` (R×k vectors, row-major).
#[inline(always)]
fn q_block<T: SimdScalar, S: Simd, const R: usize, const J: usize>(
    s: S,
    x: [&[T]; R],
    p: [&[T]; J],
    accv: &mut [T::V<S>],
    k: usize,
    j: usize,
) {
    let zero = T::vsplat(s, T::ZERO);
    let mut acc = [[zero; J]; R];
    for r in 0..R {
        acc[r].copy_from_slice(&accv[r * k + j..r * k + j + J]);
    }
    let acc = dot_block::<T, S, R, J>(s, x, p, acc);
    for r in 0..R {
        accv[r * k + j..r * k + j + J].copy_from_slice(&acc[r]);
    }
}

/// Adds the lanewise partial sums of `x[r][l0..l1]·Pᵀ[j][l0..l1]` to the
/// vector accumulators `accv[r·k + j]` of the R rows (`pt`: k×d row-major),
/// J columns of P at a time. The accumulators live in L1 between chunks of
/// columns and are reduced to Q once, after the last chunk.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn q_rows<T: SimdScalar, S: Simd, const R: usize>(
    s: S,
    x: [&[T]; R],
    pt: &[T],
    k: usize,
    dd: usize,
    l0: usize,
    l1: usize,
    accv: &mut [T::V<S>],
) {
    let max = max_block_cols::<S>();
    let mut xc: [&[T]; R] = [&[]; R];
    for r in 0..R {
        xc[r] = &x[r][l0..l1];
    }
    let col = |j: usize| -> &[T] { &pt[j * dd + l0..j * dd + l1] };
    let accv = &mut accv[..R * k];
    let mut j = 0;
    while j < k {
        let w = block_cols(k - j, max);
        match w {
            6 => q_block::<T, S, R, 6>(s, xc, core::array::from_fn(|c| col(j + c)), accv, k, j),
            5 => q_block::<T, S, R, 5>(s, xc, core::array::from_fn(|c| col(j + c)), accv, k, j),
            4 => q_block::<T, S, R, 4>(s, xc, core::array::from_fn(|c| col(j + c)), accv, k, j),
            3 => q_block::<T, S, R, 3>(s, xc, core::array::from_fn(|c| col(j + c)), accv, k, j),
            2 => q_block::<T, S, R, 2>(s, xc, core::array::from_fn(|c| col(j + c)), accv, k, j),
            _ => q_block::<T, S, R, 1>(s, xc, [col(j)], accv, k, j),
        }
        j += w;
    }
}

/// Gᵀ[j][l0..l1] += Σ_r D[r][j]·x[r][l0..l1] for every column j (`gt`: k×d
/// row-major, `dcoef`: R×k row-major): a rank-R update. With `assign`, Gᵀ's
/// old values are not read: Gᵀ[j][l0..l1] = Σ_r D[r][j]·x[r][l0..l1], the
/// same bits as the update of a zeroed Gᵀ (each sum starts from +0), without
/// a pass to zero it first. The columns go J at
/// a time ([`block_cols`]), so that each vector of the R rows of X is loaded
/// once per J columns and each vector of G is loaded and stored once for the
/// R rows. `next` holds the R rows that come after these (or empty slices):
/// during the first block of columns, each vector step asks `pf` for the
/// matching line of each of them (see [`crate::prefetch`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn rank_update<T: SimdScalar, S: Simd, const R: usize>(
    s: S,
    x: [&[T]; R],
    dcoef: &[T],
    k: usize,
    gt: &mut [T],
    dd: usize,
    l0: usize,
    l1: usize,
    pf: Prefetch,
    next: [&[T]; R],
    assign: bool,
) {
    if assign {
        rank_cols::<T, S, R, true>(s, x, dcoef, k, gt, dd, l0, l1, pf, next);
    } else {
        rank_cols::<T, S, R, false>(s, x, dcoef, k, gt, dd, l0, l1, pf, next);
    }
}

/// [`rank_update`], J columns at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rank_cols<T: SimdScalar, S: Simd, const R: usize, const ASSIGN: bool>(
    s: S,
    x: [&[T]; R],
    dcoef: &[T],
    k: usize,
    gt: &mut [T],
    dd: usize,
    l0: usize,
    l1: usize,
    pf: Prefetch,
    next: [&[T]; R],
) {
    let max = max_block_cols::<S>();
    let mut xc: [&[T]; R] = [&[]; R];
    for r in 0..R {
        xc[r] = &x[r][l0..l1];
    }
    let mut nc: [&[T]; R] = [&[]; R];
    for r in 0..R {
        if !next[r].is_empty() {
            nc[r] = &next[r][l0..l1];
        }
    }
    let dcoef = &dcoef[..R * k];
    let mut j = 0;
    while j < k {
        let w = block_cols(k - j, max);
        let nc = if j == 0 { nc } else { [&[][..]; R] };
        match w {
            6 => rank_block::<T, S, R, 6, ASSIGN>(s, xc, dcoef, k, j, gt, dd, l0, l1, pf, nc),
            5 => rank_block::<T, S, R, 5, ASSIGN>(s, xc, dcoef, k, j, gt, dd, l0, l1, pf, nc),
            4 => rank_block::<T, S, R, 4, ASSIGN>(s, xc, dcoef, k, j, gt, dd, l0, l1, pf, nc),
            3 => rank_block::<T, S, R, 3, ASSIGN>(s, xc, dcoef, k, j, gt, dd, l0, l1, pf, nc),
            2 => rank_block::<T, S, R, 2, ASSIGN>(s, xc, dcoef, k, j, gt, dd, l0, l1, pf, nc),
            _ => rank_block::<T, S, R, 1, ASSIGN>(s, xc, dcoef, k, j, gt, dd, l0, l1, pf, nc),
        }
        j += w;
    }
}

/// Columns `j0..j0 + J` of [`rank_update`] (`x`: the R rows restricted to `l0..l1`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rank_block<T: SimdScalar, S: Simd, const R: usize, const J: usize, const ASSIGN: bool>(
    s: S,
    x: [&[T]; R],
    dcoef: &[T],
    k: usize,
    j0: usize,
    gt: &mut [T],
    dd: usize,
    l0: usize,
    l1: usize,
    pf: Prefetch,
    next: [&[T]; R],
) {
    let zero = T::vsplat(s, T::ZERO);
    let len = l1 - l0;
    let lanes = T::lanes::<S>();
    let mut c = [[zero; J]; R];
    for r in 0..R {
        for j in 0..J {
            c[r][j] = T::vsplat(s, dcoef[r * k + j0 + j]);
        }
    }
    let mut xv: [&[T::V<S>]; R] = [&[]; R];
    let mut xt: [&[T]; R] = [&[]; R];
    for r in 0..R {
        let (v, t) = T::as_simd::<S>(&x[r][..len]);
        xv[r] = v;
        xt[r] = t;
    }
    // The J columns of Gᵀ, restricted to l0..l1.
    let mut cols: [&mut [T]; J] = core::array::from_fn(|_| &mut [][..]);
    let mut rest = &mut gt[j0 * dd..(j0 + J) * dd];
    for col in cols.iter_mut() {
        let (a, b) = rest.split_at_mut(dd);
        *col = &mut a[l0..l1];
        rest = b;
    }
    let mut gv: [&mut [T::V<S>]; J] = core::array::from_fn(|_| &mut [][..]);
    let mut gtail: [&mut [T]; J] = core::array::from_fn(|_| &mut [][..]);
    for (j, col) in cols.into_iter().enumerate() {
        let (v, t) = T::as_mut_simd::<S>(col);
        gv[j] = v;
        gtail[j] = t;
    }
    let nv = xv[0].len();
    for v in xv.iter_mut() {
        *v = &v[..nv];
    }
    let do_pf = !next[0].is_empty();
    for i in 0..nv {
        if do_pf {
            for row in next {
                pf.line(row, i * lanes);
            }
        }
        let mut xi = [zero; R];
        for r in 0..R {
            xi[r] = xv[r][i];
        }
        for j in 0..J {
            let mut acc = if ASSIGN { zero } else { gv[j][i] };
            for r in 0..R {
                acc = T::vfma(s, xi[r], c[r][j], acc);
            }
            gv[j][i] = acc;
        }
    }
    if !xt[0].is_empty() {
        let mut xi = [zero; R];
        for r in 0..R {
            xi[r] = T::partial_load(s, xt[r]);
        }
        for j in 0..J {
            let mut acc = if ASSIGN { zero } else { T::partial_load(s, gtail[j]) };
            for r in 0..R {
                acc = T::vfma(s, xi[r], c[r][j], acc);
            }
            T::partial_store(s, gtail[j], acc);
        }
    }
}
