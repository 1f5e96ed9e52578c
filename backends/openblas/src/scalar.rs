//! [`BlasScalar`]: the element types CBLAS multiplies (`f32`, `f64`), with
//! their `cblas_?gemm` / `cblas_?gemv` and a reusable scratch buffer.

use cblas_sys::{CBLAS_LAYOUT, CBLAS_TRANSPOSE, CBLAS_UPLO};
use core::cell::RefCell;
use core::ffi::c_int;
use dspgd_backend::Scalar;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A [`Scalar`] CBLAS can multiply: `f32` (`cblas_s*`) or `f64` (`cblas_d*`). Sealed.
///
/// Each type also owns a per-thread scratch buffer that the backend reuses
/// across calls (packed copies of operands BLAS cannot read in place, blocks
/// of X·P), so that the per-iteration kernels do not allocate once it has
/// grown to the problem's size.
pub trait BlasScalar: Scalar + sealed::Sealed {
    /// `cblas_?gemm`.
    ///
    /// # Safety
    /// The CBLAS contract: valid dimensions and leading dimensions, `a`, `b`
    /// and `c` pointing to matrices of those shapes, `c` writable and not
    /// overlapping `a` or `b`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cblas_gemm(
        layout: CBLAS_LAYOUT,
        transa: CBLAS_TRANSPOSE,
        transb: CBLAS_TRANSPOSE,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: Self,
        a: *const Self,
        lda: c_int,
        b: *const Self,
        ldb: c_int,
        beta: Self,
        c: *mut Self,
        ldc: c_int,
    );

    /// `cblas_?gemv`.
    ///
    /// # Safety
    /// The CBLAS contract: valid dimensions, leading dimension and positive
    /// increments, `a`, `x`, `y` pointing to data of those shapes, `y`
    /// writable and not overlapping `a` or `x`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cblas_gemv(
        layout: CBLAS_LAYOUT,
        trans: CBLAS_TRANSPOSE,
        m: c_int,
        n: c_int,
        alpha: Self,
        a: *const Self,
        lda: c_int,
        x: *const Self,
        incx: c_int,
        beta: Self,
        y: *mut Self,
        incy: c_int,
    );

    /// `cblas_?syrk`.
    ///
    /// # Safety
    /// The CBLAS contract: valid dimensions and leading dimensions, `a` and
    /// `c` pointing to matrices of those shapes, `c` writable and not
    /// overlapping `a`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cblas_syrk(
        layout: CBLAS_LAYOUT,
        uplo: CBLAS_UPLO,
        trans: CBLAS_TRANSPOSE,
        n: c_int,
        k: c_int,
        alpha: Self,
        a: *const Self,
        lda: c_int,
        beta: Self,
        c: *mut Self,
        ldc: c_int,
    );

    /// The same slice seen as `f64` when `Self` is `f64`, `None` for `f32`.
    #[doc(hidden)]
    fn as_f64_slice(s: &[Self]) -> Option<&[f64]>;

    /// Runs `f` with a scratch slice of `len` elements (contents unspecified).
    ///
    /// The slice comes from a buffer kept per thread and per type and grown
    /// on demand; a nested call on the same thread gets a fresh allocation.
    #[doc(hidden)]
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

macro_rules! impl_blas_scalar {
    ($t:ty, $gemm:ident, $gemv:ident, $syrk:ident, $tls:ident, $as_f64:ident) => {
        thread_local! {
            static $tls: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
        }

        impl BlasScalar for $t {
            #[inline]
            unsafe fn cblas_gemm(
                layout: CBLAS_LAYOUT,
                transa: CBLAS_TRANSPOSE,
                transb: CBLAS_TRANSPOSE,
                m: c_int,
                n: c_int,
                k: c_int,
                alpha: Self,
                a: *const Self,
                lda: c_int,
                b: *const Self,
                ldb: c_int,
                beta: Self,
                c: *mut Self,
                ldc: c_int,
            ) {
                // SAFETY: forwarded unchanged; the caller upholds the CBLAS
                // contract (this function's `# Safety`).
                unsafe { cblas_sys::$gemm(layout, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
            }

            #[inline]
            unsafe fn cblas_gemv(
                layout: CBLAS_LAYOUT,
                trans: CBLAS_TRANSPOSE,
                m: c_int,
                n: c_int,
                alpha: Self,
                a: *const Self,
                lda: c_int,
                x: *const Self,
                incx: c_int,
                beta: Self,
                y: *mut Self,
                incy: c_int,
            ) {
                // SAFETY: forwarded unchanged; the caller upholds the CBLAS
                // contract (this function's `# Safety`).
                unsafe { cblas_sys::$gemv(layout, trans, m, n, alpha, a, lda, x, incx, beta, y, incy) }
            }

            #[inline]
            unsafe fn cblas_syrk(
                layout: CBLAS_LAYOUT,
                uplo: CBLAS_UPLO,
                trans: CBLAS_TRANSPOSE,
                n: c_int,
                k: c_int,
                alpha: Self,
                a: *const Self,
                lda: c_int,
                beta: Self,
                c: *mut Self,
                ldc: c_int,
            ) {
                // SAFETY: forwarded unchanged; the caller upholds the CBLAS
                // contract (this function's `# Safety`).
                unsafe { cblas_sys::$syrk(layout, uplo, trans, n, k, alpha, a, lda, beta, c, ldc) }
            }

            #[inline(always)]
            fn as_f64_slice(s: &[Self]) -> Option<&[f64]> {
                $as_f64(s)
            }

            fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
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
                    // Re-entrant call (or thread-local storage being torn
                    // down): a private buffer.
                    None => (f.take().expect("not yet called"))(&mut vec![0.0; len]),
                }
            }
        }
    };
}

#[inline(always)]
fn f32_as_f64(_: &[f32]) -> Option<&[f64]> {
    None
}

#[inline(always)]
fn f64_as_f64(s: &[f64]) -> Option<&[f64]> {
    Some(s)
}

impl_blas_scalar!(f32, cblas_sgemm, cblas_sgemv, cblas_ssyrk, SCRATCH_F32, f32_as_f64);
impl_blas_scalar!(f64, cblas_dgemm, cblas_dgemv, cblas_dsyrk, SCRATCH_F64, f64_as_f64);
