//! [`SimdScalar`]: the bridge between the element type (`f32`, `f64`) and
//! pulp's per-type vector operations, so that every kernel is written once,
//! generic over both the element type and the instruction set.
//!
//! Every method is `#[inline(always)]`: the kernels run inside pulp's
//! `vectorize`, a function compiled with the level's target features, and a
//! helper that is not inlined into it would silently run without them.

use core::cell::RefCell;
use dspgd_faer::FaerScalar;
use pulp::bytemuck::Pod;
use pulp::Simd;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An element type the SIMD kernels handle: `f32` or `f64` (sealed).
///
/// The methods are the vector operations of pulp's [`Simd`] trait for this
/// type, under one name for both types; they are implementation details of
/// this crate (hidden from the docs).
pub trait SimdScalar: FaerScalar + Pod + sealed::Sealed {
    /// The vector of `Self` for the instruction set `S`.
    #[doc(hidden)]
    type V<S: Simd>: Copy + Pod + Send + Sync;
    /// The lane mask of `Self` for the instruction set `S`.
    #[doc(hidden)]
    type M<S: Simd>: Copy;

    /// Vectors summed in `Self` before the partial sum is widened to `f64`
    /// (blocked summation): small for `f32`, so that its sums keep the
    /// accuracy the reference (which sums in `f64`) is compared with;
    /// `usize::MAX` for `f64` (no blocking needed; the sweep then also
    /// accumulates G without partial blocks).
    #[doc(hidden)]
    const SUM_CHUNK: usize;

    /// Lanes per vector.
    #[doc(hidden)]
    fn lanes<S: Simd>() -> usize;
    /// All lanes = `x`.
    #[doc(hidden)]
    fn vsplat<S: Simd>(s: S, x: Self) -> Self::V<S>;
    /// a + b.
    #[doc(hidden)]
    fn vadd<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// a − b.
    #[doc(hidden)]
    fn vsub<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// a · b.
    #[doc(hidden)]
    fn vmul<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// a / b.
    #[doc(hidden)]
    fn vdiv<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// a · b + c (fused where the level has FMA).
    #[doc(hidden)]
    fn vfma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S>;
    /// c − a · b (fused where the level has FMA).
    #[doc(hidden)]
    fn vfnma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S>;
    /// Lanewise max (the second operand when either is NaN, as `maxpd`).
    #[doc(hidden)]
    fn vmax<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// Lanewise min.
    #[doc(hidden)]
    fn vmin<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// |a|.
    #[doc(hidden)]
    fn vabs<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S>;
    /// a > b.
    #[doc(hidden)]
    fn vgt<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S>;
    /// a < b.
    #[doc(hidden)]
    fn vlt<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S>;
    /// a ≤ b.
    #[doc(hidden)]
    fn vle<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S>;
    /// m ? t : f, lanewise.
    #[doc(hidden)]
    fn vselect<S: Simd>(s: S, m: Self::M<S>, t: Self::V<S>, f: Self::V<S>) -> Self::V<S>;
    /// Sum of the lanes.
    #[doc(hidden)]
    fn vsum<S: Simd>(s: S, a: Self::V<S>) -> Self;
    /// Splits a slice into whole vectors and a scalar tail.
    #[doc(hidden)]
    fn as_simd<S: Simd>(x: &[Self]) -> (&[Self::V<S>], &[Self]);
    /// Splits a mutable slice into whole vectors and a scalar tail.
    #[doc(hidden)]
    fn as_mut_simd<S: Simd>(x: &mut [Self]) -> (&mut [Self::V<S>], &mut [Self]);
    /// Loads up to one vector from `x`, the missing lanes set to 0.
    #[doc(hidden)]
    fn partial_load<S: Simd>(s: S, x: &[Self]) -> Self::V<S>;
    /// Stores the first `x.len()` lanes of `v` (at most one vector).
    #[doc(hidden)]
    fn partial_store<S: Simd>(s: S, x: &mut [Self], v: Self::V<S>);

    /// Runs `f` with a scratch slice of `len` elements (contents unspecified),
    /// taken from a buffer kept per thread and grown on demand, so repeated
    /// calls of the same size do not allocate; a nested call on the same
    /// thread gets a fresh allocation.
    #[doc(hidden)]
    fn simd_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

macro_rules! impl_simd_scalar {
    (
        $t:ty, $tls:ident, chunk = $chunk:expr, v = $v:ident, m = $m:ident, lanes = $lanes:ident,
        splat = $splat:ident, add = $add:ident, sub = $sub:ident, mul = $mul:ident, div = $div:ident,
        mul_add = $mul_add:ident, neg_mul_add = $neg_mul_add:ident, max = $max:ident, min = $min:ident,
        abs = $abs:ident, gt = $gt:ident, lt = $lt:ident, le = $le:ident, select = $select:ident,
        reduce_sum = $reduce_sum:ident, as_simd = $as_simd:ident, as_mut_simd = $as_mut_simd:ident,
        partial_load = $partial_load:ident, partial_store = $partial_store:ident
    ) => {
        thread_local! {
            static $tls: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
        }

        impl SimdScalar for $t {
            type V<S: Simd> = S::$v;
            type M<S: Simd> = S::$m;
            const SUM_CHUNK: usize = $chunk;

            #[inline(always)]
            fn lanes<S: Simd>() -> usize {
                S::$lanes
            }
            #[inline(always)]
            fn vsplat<S: Simd>(s: S, x: Self) -> Self::V<S> {
                s.$splat(x)
            }
            #[inline(always)]
            fn vadd<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$add(a, b)
            }
            #[inline(always)]
            fn vsub<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$sub(a, b)
            }
            #[inline(always)]
            fn vmul<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$mul(a, b)
            }
            #[inline(always)]
            fn vdiv<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$div(a, b)
            }
            #[inline(always)]
            fn vfma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S> {
                s.$mul_add(a, b, c)
            }
            #[inline(always)]
            fn vfnma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S> {
                s.$neg_mul_add(a, b, c)
            }
            #[inline(always)]
            fn vmax<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$max(a, b)
            }
            #[inline(always)]
            fn vmin<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$min(a, b)
            }
            #[inline(always)]
            fn vabs<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S> {
                s.$abs(a)
            }
            #[inline(always)]
            fn vgt<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S> {
                s.$gt(a, b)
            }
            #[inline(always)]
            fn vlt<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S> {
                s.$lt(a, b)
            }
            #[inline(always)]
            fn vle<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S> {
                s.$le(a, b)
            }
            #[inline(always)]
            fn vselect<S: Simd>(s: S, m: Self::M<S>, t: Self::V<S>, f: Self::V<S>) -> Self::V<S> {
                s.$select(m, t, f)
            }
            #[inline(always)]
            fn vsum<S: Simd>(s: S, a: Self::V<S>) -> Self {
                s.$reduce_sum(a)
            }
            #[inline(always)]
            fn as_simd<S: Simd>(x: &[Self]) -> (&[Self::V<S>], &[Self]) {
                S::$as_simd(x)
            }
            #[inline(always)]
            fn as_mut_simd<S: Simd>(x: &mut [Self]) -> (&mut [Self::V<S>], &mut [Self]) {
                S::$as_mut_simd(x)
            }
            #[inline(always)]
            fn partial_load<S: Simd>(s: S, x: &[Self]) -> Self::V<S> {
                s.$partial_load(x)
            }
            #[inline(always)]
            fn partial_store<S: Simd>(s: S, x: &mut [Self], v: Self::V<S>) {
                s.$partial_store(x, v)
            }

            fn simd_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                let mut f = Some(f);
                let reused = $tls
                    .try_with(|cell| {
                        let mut buf = cell.try_borrow_mut().ok()?;
                        if buf.len() < len {
                            buf.resize(len, 0.0);
                        }
                        let f = f.take().expect("called once");
                        Some(f(&mut buf[..len]))
                    })
                    .ok()
                    .flatten();
                match reused {
                    Some(out) => out,
                    // Re-entrant call (or thread-local storage being torn down):
                    // a private buffer.
                    None => (f.take().expect("not yet called"))(&mut vec![0.0; len]),
                }
            }
        }
    };
}

impl_simd_scalar!(
    f64, SCRATCH_F64, chunk = usize::MAX, v = f64s, m = m64s, lanes = F64_LANES,
    splat = splat_f64s, add = add_f64s, sub = sub_f64s, mul = mul_f64s, div = div_f64s,
    mul_add = mul_add_e_f64s, neg_mul_add = negate_mul_add_e_f64s, max = max_f64s, min = min_f64s,
    abs = abs_f64s, gt = greater_than_f64s, lt = less_than_f64s, le = less_than_or_equal_f64s,
    select = select_f64s, reduce_sum = reduce_sum_f64s, as_simd = as_simd_f64s,
    as_mut_simd = as_mut_simd_f64s, partial_load = partial_load_f64s, partial_store = partial_store_f64s
);

impl_simd_scalar!(
    f32, SCRATCH_F32, chunk = 16, v = f32s, m = m32s, lanes = F32_LANES,
    splat = splat_f32s, add = add_f32s, sub = sub_f32s, mul = mul_f32s, div = div_f32s,
    mul_add = mul_add_e_f32s, neg_mul_add = negate_mul_add_e_f32s, max = max_f32s, min = min_f32s,
    abs = abs_f32s, gt = greater_than_f32s, lt = less_than_f32s, le = less_than_or_equal_f32s,
    select = select_f32s, reduce_sum = reduce_sum_f32s, as_simd = as_simd_f32s,
    as_mut_simd = as_mut_simd_f32s, partial_load = partial_load_f32s, partial_store = partial_store_f32s
);
