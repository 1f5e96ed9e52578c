//! The line kernels: one vector pass over contiguous slices, with scalar
//! tails handled by partial (masked) loads and stores.
//!
//! Sums use two vector accumulators, are formed in the element type over at
//! most [`SimdScalar::SUM_CHUNK`] vectors, and then added in `f64` (blocked
//! summation): for `f64` this is a plain two-accumulator sum, for `f32` it
//! keeps the error of a sum of 10⁵ terms far below the 1e-5 the reference
//! (which sums in `f64`) is compared with.

use crate::elem::SimdScalar;
use crate::maps::{VLoss, VMap};
use pulp::bytemuck;
use pulp::Simd;

/// Σ of the first `len` lanes of `v`, in f64.
#[inline(always)]
pub(crate) fn sum_lanes<T: SimdScalar, S: Simd>(v: T::V<S>, len: usize) -> f64 {
    let lanes = bytemuck::cast_slice::<T::V<S>, T>(core::slice::from_ref(&v));
    let mut acc = 0.0;
    for x in &lanes[..len] {
        acc += x.to_f64();
    }
    acc
}

/// Chunk boundaries of `nv` vectors for the blocked sums.
#[inline(always)]
fn chunk_end<T: SimdScalar>(start: usize, nv: usize) -> usize {
    nv.min(start.saturating_add(T::SUM_CHUNK))
}

/// With `UPDATE`: R −= η·Q first. Then D = ∇ℓ(R); returns [Σℓ(R), ‖R‖²].
#[inline(always)]
pub(crate) fn update_grad<T: SimdScalar, S: Simd, L: VLoss<T>, const UPDATE: bool>(
    s: S,
    l: L,
    r: &mut [T],
    q: &[T],
    eta: T,
    d: &mut [T],
) -> [f64; 2] {
    let n = r.len();
    let (rv, rt) = T::as_mut_simd::<S>(r);
    let (dv, dt) = T::as_mut_simd::<S>(&mut d[..n]);
    let (qv, qt) = if UPDATE { T::as_simd::<S>(&q[..n]) } else { (&[][..], &[][..]) };
    let nv = rv.len();
    let dv = &mut dv[..nv];
    let qv = if UPDATE { &qv[..nv] } else { qv };
    let etav = T::vsplat(s, eta);
    let zero = T::vsplat(s, T::ZERO);
    let mut out = [0.0f64; 2];
    let mut start = 0;
    while start < nv {
        let end = chunk_end::<T>(start, nv);
        let (mut l0, mut l1, mut s0, mut s1) = (zero, zero, zero, zero);
        let mut i = start;
        while i + 2 <= end {
            let (mut r0, mut r1) = (rv[i], rv[i + 1]);
            if UPDATE {
                r0 = T::vfnma(s, etav, qv[i], r0);
                r1 = T::vfnma(s, etav, qv[i + 1], r1);
                rv[i] = r0;
                rv[i + 1] = r1;
            }
            let (v0, g0) = l.value_grad(s, r0);
            let (v1, g1) = l.value_grad(s, r1);
            dv[i] = g0;
            dv[i + 1] = g1;
            l0 = T::vadd(s, l0, v0);
            l1 = T::vadd(s, l1, v1);
            s0 = T::vfma(s, r0, r0, s0);
            s1 = T::vfma(s, r1, r1, s1);
            i += 2;
        }
        if i < end {
            let mut r0 = rv[i];
            if UPDATE {
                r0 = T::vfnma(s, etav, qv[i], r0);
                rv[i] = r0;
            }
            let (v0, g0) = l.value_grad(s, r0);
            dv[i] = g0;
            l0 = T::vadd(s, l0, v0);
            s0 = T::vfma(s, r0, r0, s0);
        }
        out[0] += T::vsum(s, T::vadd(s, l0, l1)).to_f64();
        out[1] += T::vsum(s, T::vadd(s, s0, s1)).to_f64();
        start = end;
    }
    let tail = rt.len();
    if tail > 0 {
        let mut r0 = T::partial_load(s, rt);
        if UPDATE {
            r0 = T::vfnma(s, etav, T::partial_load(s, qt), r0);
            T::partial_store(s, rt, r0);
        }
        let (v0, g0) = l.value_grad(s, r0);
        T::partial_store(s, dt, g0);
        out[0] += sum_lanes::<T, S>(v0, tail);
        out[1] += sum_lanes::<T, S>(T::vmul(s, r0, r0), tail);
    }
    out
}

/// D = ∇ℓ(R) for a read-only R; returns [Σℓ(R), ‖R‖²].
#[inline(always)]
pub(crate) fn grad<T: SimdScalar, S: Simd, L: VLoss<T>>(s: S, l: L, r: &[T], d: &mut [T]) -> [f64; 2] {
    let n = r.len();
    let (rv, rt) = T::as_simd::<S>(r);
    let (dv, dt) = T::as_mut_simd::<S>(&mut d[..n]);
    let nv = rv.len();
    let dv = &mut dv[..nv];
    let zero = T::vsplat(s, T::ZERO);
    let mut out = [0.0f64; 2];
    let mut start = 0;
    while start < nv {
        let end = chunk_end::<T>(start, nv);
        let (mut l0, mut l1, mut s0, mut s1) = (zero, zero, zero, zero);
        let mut i = start;
        while i + 2 <= end {
            let (r0, r1) = (rv[i], rv[i + 1]);
            let (v0, g0) = l.value_grad(s, r0);
            let (v1, g1) = l.value_grad(s, r1);
            dv[i] = g0;
            dv[i + 1] = g1;
            l0 = T::vadd(s, l0, v0);
            l1 = T::vadd(s, l1, v1);
            s0 = T::vfma(s, r0, r0, s0);
            s1 = T::vfma(s, r1, r1, s1);
            i += 2;
        }
        if i < end {
            let r0 = rv[i];
            let (v0, g0) = l.value_grad(s, r0);
            dv[i] = g0;
            l0 = T::vadd(s, l0, v0);
            s0 = T::vfma(s, r0, r0, s0);
        }
        out[0] += T::vsum(s, T::vadd(s, l0, l1)).to_f64();
        out[1] += T::vsum(s, T::vadd(s, s0, s1)).to_f64();
        start = end;
    }
    let tail = rt.len();
    if tail > 0 {
        let r0 = T::partial_load(s, rt);
        let (v0, g0) = l.value_grad(s, r0);
        T::partial_store(s, dt, g0);
        out[0] += sum_lanes::<T, S>(v0, tail);
        out[1] += sum_lanes::<T, S>(T::vmul(s, r0, r0), tail);
    }
    out
}

/// Σℓ(R − η·Q).
#[inline(always)]
pub(crate) fn along<T: SimdScalar, S: Simd, L: VLoss<T>>(s: S, l: L, r: &[T], q: &[T], eta: T) -> f64 {
    let n = r.len();
    let (rv, rt) = T::as_simd::<S>(r);
    let (qv, qt) = T::as_simd::<S>(&q[..n]);
    let nv = rv.len();
    let qv = &qv[..nv];
    let etav = T::vsplat(s, eta);
    let zero = T::vsplat(s, T::ZERO);
    let mut out = 0.0f64;
    let mut start = 0;
    while start < nv {
        let end = chunk_end::<T>(start, nv);
        let (mut a0, mut a1) = (zero, zero);
        let mut i = start;
        while i + 2 <= end {
            a0 = T::vadd(s, a0, l.value(s, T::vfnma(s, etav, qv[i], rv[i])));
            a1 = T::vadd(s, a1, l.value(s, T::vfnma(s, etav, qv[i + 1], rv[i + 1])));
            i += 2;
        }
        if i < end {
            a0 = T::vadd(s, a0, l.value(s, T::vfnma(s, etav, qv[i], rv[i])));
        }
        out += T::vsum(s, T::vadd(s, a0, a1)).to_f64();
        start = end;
    }
    if !rt.is_empty() {
        let v = l.value(s, T::vfnma(s, etav, T::partial_load(s, qt), T::partial_load(s, rt)));
        out += sum_lanes::<T, S>(v, rt.len());
    }
    out
}

/// ⟨a, b⟩ in f64 (blocked). ⟨a, a⟩ (‖G‖² every iteration, ‖X‖² in
/// `dspgd bench`'s read of X) loads each vector once instead of twice: the
/// same instructions on the same values, so the same bits, and for data in
/// cache about 1.4× as fast.
#[inline(always)]
pub(crate) fn dot<T: SimdScalar, S: Simd>(s: S, a: &[T], b: &[T]) -> f64 {
    if core::ptr::eq(a, &b[..a.len()]) {
        dot_of::<T, S, true>(s, a, a)
    } else {
        dot_of::<T, S, false>(s, a, b)
    }
}

/// [`dot`]; with `SAME`, `b` is `a` and is not loaded.
#[inline(always)]
fn dot_of<T: SimdScalar, S: Simd, const SAME: bool>(s: S, a: &[T], b: &[T]) -> f64 {
    let n = a.len();
    let (av, at) = T::as_simd::<S>(a);
    let (bv, bt) = if SAME { (av, at) } else { T::as_simd::<S>(&b[..n]) };
    let nv = av.len();
    let bv = &bv[..nv];
    let zero = T::vsplat(s, T::ZERO);
    let mut out = 0.0f64;
    let mut start = 0;
    while start < nv {
        let end = chunk_end::<T>(start, nv);
        let (mut a0, mut a1, mut a2, mut a3) = (zero, zero, zero, zero);
        let mut i = start;
        while i + 4 <= end {
            a0 = T::vfma(s, av[i], bv[i], a0);
            a1 = T::vfma(s, av[i + 1], bv[i + 1], a1);
            a2 = T::vfma(s, av[i + 2], bv[i + 2], a2);
            a3 = T::vfma(s, av[i + 3], bv[i + 3], a3);
            i += 4;
        }
        while i < end {
            a0 = T::vfma(s, av[i], bv[i], a0);
            i += 1;
        }
        out += T::vsum(s, T::vadd(s, T::vadd(s, a0, a1), T::vadd(s, a2, a3))).to_f64();
        start = end;
    }
    if !at.is_empty() {
        out += T::vsum(s, T::vmul(s, T::partial_load(s, at), T::partial_load(s, bt))).to_f64();
    }
    out
}

/// y += α·x.
#[inline(always)]
pub(crate) fn axpy<T: SimdScalar, S: Simd>(s: S, y: &mut [T], alpha: T, x: &[T]) {
    let n = y.len();
    let (yv, yt) = T::as_mut_simd::<S>(y);
    let (xv, xt) = T::as_simd::<S>(&x[..n]);
    let av = T::vsplat(s, alpha);
    for (y, x) in yv.iter_mut().zip(xv) {
        *y = T::vfma(s, av, *x, *y);
    }
    if !yt.is_empty() {
        let v = T::vfma(s, av, T::partial_load(s, xt), T::partial_load(s, yt));
        T::partial_store(s, yt, v);
    }
}

/// In one pass: w −= η_prev·p (when `MOVE_W`), then p = map(g).
#[inline(always)]
pub(crate) fn step<T: SimdScalar, S: Simd, M: VMap<T>, const MOVE_W: bool>(
    s: S,
    m: M,
    g: &[T],
    eta_prev: T,
    w: &mut [T],
    p: &mut [T],
) {
    let n = g.len();
    let (gv, gt) = T::as_simd::<S>(g);
    let (pv, pt) = T::as_mut_simd::<S>(&mut p[..n]);
    let (wv, wt) = if MOVE_W { T::as_mut_simd::<S>(&mut w[..n]) } else { (&mut [][..], &mut [][..]) };
    let nv = gv.len();
    let pv = &mut pv[..nv];
    let ev = T::vsplat(s, eta_prev);
    if MOVE_W {
        let wv = &mut wv[..nv];
        for i in 0..nv {
            wv[i] = T::vfnma(s, ev, pv[i], wv[i]);
            pv[i] = m.apply(s, gv[i]);
        }
    } else {
        for i in 0..nv {
            pv[i] = m.apply(s, gv[i]);
        }
    }
    if !gt.is_empty() {
        if MOVE_W {
            let v = T::vfnma(s, ev, T::partial_load(s, pt), T::partial_load(s, wt));
            T::partial_store(s, wt, v);
        }
        let v = m.apply(s, T::partial_load(s, gt));
        T::partial_store(s, pt, v);
    }
}
