//! Picking the backend at run time from what is compiled in.

use crate::error::Error;
use crate::options::BackendChoice;
use dspgd_backend::{Backend, CustomPrecond, MatMut, MatRef, Reference, Scalar};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types the solver runs in: `f32` and `f64`.
///
/// A [`Scalar`] that every compiled-in backend supports.
pub trait Float: Scalar + sealed::Sealed {
    /// The faer backend for this type, when compiled in.
    #[doc(hidden)]
    fn faer_backend(threads: usize) -> Option<Box<dyn Backend<Self>>>;
    /// Applies a user-defined ∇K in this precision.
    #[doc(hidden)]
    fn custom_apply(k: &dyn CustomPrecond, g: MatRef<'_, Self>, p: MatMut<'_, Self>);
}

macro_rules! impl_float {
    ($t:ty, $apply:ident) => {
        impl Float for $t {
            fn custom_apply(k: &dyn CustomPrecond, g: MatRef<'_, Self>, p: MatMut<'_, Self>) {
                k.$apply(g, p)
            }
            fn faer_backend(threads: usize) -> Option<Box<dyn Backend<Self>>> {
                #[cfg(feature = "faer")]
                {
                    Some(Box::new(dspgd_faer::FaerBackend::new(threads)))
                }
                #[cfg(not(feature = "faer"))]
                {
                    let _ = threads;
                    None
                }
            }
        }
    };
}
impl_float!(f32, apply_f32);
impl_float!(f64, apply);

/// The backends compiled into this build, in order of preference.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = vec![];
    if cfg!(feature = "faer") {
        v.push("faer");
    }
    v.push("reference");
    v
}

/// Resolves the thread setting: 0 means all cores.
pub fn resolve_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        threads
    }
}

/// Makes the backend for `choice`. The environment variable `DSPGD_BACKEND`
/// overrides `Auto` (and only `Auto`).
///
/// # Errors
/// [`Error::BackendUnavailable`] when the backend is not compiled in, or
/// `DSPGD_BACKEND` names an unknown one.
pub fn make_backend<T: Float>(choice: BackendChoice, threads: usize) -> Result<Box<dyn Backend<T>>, Error> {
    let threads = resolve_threads(threads);
    let choice = match choice {
        BackendChoice::Auto => match std::env::var("DSPGD_BACKEND") {
            Ok(name) if !name.is_empty() => name.parse::<BackendChoice>().map_err(|e| Error::BackendUnavailable {
                name: name.clone(),
                reason: format!("DSPGD_BACKEND: {}", e.reason),
            })?,
            _ => BackendChoice::Auto,
        },
        other => other,
    };
    match choice {
        BackendChoice::Reference => Ok(Box::new(Reference)),
        BackendChoice::Faer => T::faer_backend(threads).ok_or_else(|| Error::BackendUnavailable {
            name: "faer".into(),
            reason: "this build was compiled without the 'faer' feature".into(),
        }),
        BackendChoice::Auto => Ok(T::faer_backend(threads).unwrap_or_else(|| Box::new(Reference))),
    }
}
