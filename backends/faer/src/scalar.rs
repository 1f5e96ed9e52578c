//! [`FaerScalar`]: what this backend needs from the element type beyond
//! [`Scalar`], implemented for `f32` and `f64` only.
//!
//! Keeping faer's own field traits out of the generic bounds avoids method
//! name clashes between them and [`Scalar`] (`abs`, `sqrt`, ...): the generic
//! code only sees [`Scalar`], and the few calls into faer go through this
//! trait, implemented once per concrete type.

use core::cell::RefCell;
use dspgd_backend::Scalar;
use faer::{Accum, Par};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A [`Scalar`] faer can multiply: `f32` or `f64` (sealed).
///
/// Each type also owns a per-thread scratch buffer that the backend reuses
/// across calls, so that the per-iteration kernels do not allocate once the
/// buffer has grown to the problem's size.
pub trait FaerScalar: Scalar + sealed::Sealed {
    /// `dst ← lhs·rhs·alpha` (`Accum::Replace`) or `dst += lhs·rhs·alpha` (`Accum::Add`).
    #[doc(hidden)]
    fn matmul(
        dst: faer::MatMut<'_, Self>,
        accum: Accum,
        lhs: faer::MatRef<'_, Self>,
        rhs: faer::MatRef<'_, Self>,
        alpha: Self,
        par: Par,
    );

    /// The lower triangle (diagonal included) of `dst ← lhs·lhsᵀ`; the strict
    /// upper triangle is not touched. Half the flops of `matmul`.
    #[doc(hidden)]
    fn syrk_lower(dst: faer::MatMut<'_, Self>, lhs: faer::MatRef<'_, Self>, par: Par);

    /// Runs `f` with a scratch slice of `len` elements (contents unspecified).
    ///
    /// The slice comes from a buffer kept per thread and per type and grown on
    /// demand; a nested call on the same thread gets a fresh allocation.
    #[doc(hidden)]
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

macro_rules! impl_faer_scalar {
    ($t:ty, $tls:ident) => {
        thread_local! {
            static $tls: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
        }

        impl FaerScalar for $t {
            #[inline]
            fn matmul(
                dst: faer::MatMut<'_, Self>,
                accum: Accum,
                lhs: faer::MatRef<'_, Self>,
                rhs: faer::MatRef<'_, Self>,
                alpha: Self,
                par: Par,
            ) {
                faer::linalg::matmul::matmul(dst, accum, lhs, rhs, alpha, par);
            }

            #[inline]
            fn syrk_lower(dst: faer::MatMut<'_, Self>, lhs: faer::MatRef<'_, Self>, par: Par) {
                use faer::linalg::matmul::triangular::{matmul, BlockStructure};
                matmul(
                    dst,
                    BlockStructure::TriangularLower,
                    Accum::Replace,
                    lhs,
                    BlockStructure::Rectangular,
                    lhs.transpose(),
                    BlockStructure::Rectangular,
                    1.0,
                    par,
                );
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
                    // Re-entrant call (or thread-local storage being torn down):
                    // fall back to a private buffer.
                    None => (f.take().expect("not yet called"))(&mut vec![0.0; len]),
                }
            }
        }
    };
}

impl_faer_scalar!(f32, SCRATCH_F32);
impl_faer_scalar!(f64, SCRATCH_F64);
