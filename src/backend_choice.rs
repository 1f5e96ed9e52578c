//! Picking the backend at run time from what is compiled in and what this
//! CPU supports (DESIGN.md, "Choosing a backend").
//!
//! - Cargo features decide what is compiled: `faer` and `simd` by default,
//!   `openblas` on request.
//! - `BackendChoice::Auto` picks by shape among those (see [`auto_candidates`]);
//!   `BackendChoice::Tune` times each candidate on the problem (in `solve`).
//! - A named backend runs as asked or fails with [`Error::BackendUnavailable`].
//! - `DSPGD_BACKEND=<name>` overrides `auto` and `tune`; `DSPGD_SIMD=scalar|v3|v4`
//!   forces the SIMD level, and a level this CPU lacks is an error, never a
//!   silent fallback.

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
    /// Makes a named backend (not `Auto`/`Tune`) for this type.
    #[doc(hidden)]
    fn named_backend(choice: BackendChoice, threads: usize) -> Result<Box<dyn Backend<Self>>, Error>;
    /// Applies a user-defined ∇K in this precision.
    #[doc(hidden)]
    fn custom_apply(k: &dyn CustomPrecond, g: MatRef<'_, Self>, p: MatMut<'_, Self>);
}

#[cfg_attr(all(feature = "faer", feature = "simd", feature = "openblas"), allow(dead_code))]
fn not_compiled(name: &str, feature: &str) -> Error {
    Error::BackendUnavailable {
        name: name.into(),
        reason: format!("this build was compiled without the '{feature}' feature (rebuild with --features {feature}); compiled in: {}", compiled_backends().join(", ")),
    }
}

/// The SIMD level forced by `DSPGD_SIMD`, checked against this CPU.
#[cfg(feature = "simd")]
fn simd_level() -> Result<dspgd_simd::Level, Error> {
    match dspgd_simd::level_from_env() {
        Ok(Some(level)) if level.is_available() => Ok(level),
        Ok(Some(level)) => Err(Error::BackendUnavailable {
            name: format!("simd/{}", level.as_str()),
            reason: format!("DSPGD_SIMD asks for {} but this CPU does not support it (best here: {})", level.as_str(), dspgd_simd::detect().as_str()),
        }),
        Ok(None) => Ok(dspgd_simd::detect()),
        Err(e) => Err(Error::BackendUnavailable { name: "simd".into(), reason: format!("DSPGD_SIMD: {e}") }),
    }
}

macro_rules! impl_float {
    ($t:ty, $apply:ident) => {
        impl Float for $t {
            fn named_backend(choice: BackendChoice, threads: usize) -> Result<Box<dyn Backend<Self>>, Error> {
                let _ = threads; // unused when no threaded backend is compiled in
                match choice {
                    BackendChoice::Reference => Ok(Box::new(Reference)),
                    BackendChoice::Faer => {
                        #[cfg(feature = "faer")]
                        return Ok(Box::new(dspgd_faer::FaerBackend::new(threads)));
                        #[cfg(not(feature = "faer"))]
                        return Err(not_compiled("faer", "faer"));
                    }
                    BackendChoice::Simd => {
                        #[cfg(feature = "simd")]
                        return dspgd_simd::SimdBackend::with_level(simd_level()?, threads)
                            .map(|b| Box::new(b) as Box<dyn Backend<Self>>)
                            .map_err(|e| Error::BackendUnavailable { name: "simd".into(), reason: e.to_string() });
                        #[cfg(not(feature = "simd"))]
                        return Err(not_compiled("simd", "simd"));
                    }
                    BackendChoice::OpenBlas => {
                        #[cfg(feature = "openblas")]
                        return Ok(Box::new(dspgd_openblas::OpenBlasBackend::new(threads)));
                        #[cfg(not(feature = "openblas"))]
                        return Err(not_compiled("openblas", "openblas"));
                    }
                    BackendChoice::Auto | BackendChoice::Tune => unreachable!("resolved by make_backend"),
                }
            }
            fn custom_apply(k: &dyn CustomPrecond, g: MatRef<'_, Self>, p: MatMut<'_, Self>) {
                k.$apply(g, p)
            }
        }
    };
}
impl_float!(f32, apply_f32);
impl_float!(f64, apply);

/// The backends compiled into this build.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = vec![];
    if cfg!(feature = "simd") {
        v.push("simd");
    }
    if cfg!(feature = "faer") {
        v.push("faer");
    }
    if cfg!(feature = "openblas") {
        v.push("openblas");
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

/// The shape a backend is chosen for: X is n×d, Y is n×k, on the primal or Gram path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Workload {
    /// Rows of X.
    pub n: usize,
    /// Columns of X.
    pub d: usize,
    /// Columns of Y.
    pub k: usize,
    /// True when the Gram path runs (gemm-bound, independent of d).
    pub gram: bool,
    /// Bytes per element (8 for f64, 4 for f32).
    pub elem_size: usize,
}

/// OpenBLAS is a candidate only when it runs a kernel made for this CPU
/// (Debian's 0.3.21 falls back to SSE3 kernels on unknown CPUs: NOTES.md).
fn openblas_usable() -> bool {
    #[cfg(feature = "openblas")]
    {
        !dspgd_openblas::is_generic_core()
    }
    #[cfg(not(feature = "openblas"))]
    {
        false
    }
}

/// The candidates `auto` considers for a workload, best first.
///
/// The hand-written SIMD sweep reads X once, four rows × up to six columns
/// per step, and leads on the primal path for small k (measured on AVX-512:
/// 1.2–1.7× faer at k ≤ 4). faer's blocked matmul puts the k columns in
/// vector lanes, so it runs at full width when k fills its registers: it
/// wins at k = w and from k = 2w, w = 8 in f64 and 16 in f32 (the elements
/// of a 512-bit register), and on the gemm-bound Gram path. In between, the
/// SIMD sweep leads (measured, `dspgd bench --precond gd`, n = 200, d = 2000
/// and n = 1000, d = 10000, f64: k = 8 faer 1.2–1.4×; k = 9–12 simd 1.1–2×;
/// k = 14 even; k = 16 faer 1.2×; f32: k = 8–12 simd 1.4–2×; k = 16 even;
/// k = 20–24 simd up to 1.3×; k = 32 faer 1.2–1.3×).
pub fn auto_candidates(w: Workload) -> Vec<BackendChoice> {
    let lanes = 64 / w.elem_size.max(1);
    let gemm_bound = w.gram || w.k == lanes || w.k >= 2 * lanes;
    let mut v = vec![];
    let mut push = |b: BackendChoice, ok: bool| {
        if ok {
            v.push(b)
        }
    };
    let simd = cfg!(feature = "simd");
    let faer = cfg!(feature = "faer");
    if gemm_bound {
        push(BackendChoice::Faer, faer);
        push(BackendChoice::OpenBlas, openblas_usable());
        push(BackendChoice::Simd, simd);
    } else {
        push(BackendChoice::Simd, simd);
        push(BackendChoice::Faer, faer);
        push(BackendChoice::OpenBlas, openblas_usable());
    }
    v.push(BackendChoice::Reference);
    v
}

/// `DSPGD_BACKEND`, parsed, when set.
fn env_override() -> Result<Option<BackendChoice>, Error> {
    match std::env::var("DSPGD_BACKEND") {
        Ok(name) if !name.trim().is_empty() => name
            .parse::<BackendChoice>()
            .map(Some)
            .map_err(|e| Error::BackendUnavailable { name: name.clone(), reason: format!("DSPGD_BACKEND: {}", e.reason) }),
        _ => Ok(None),
    }
}

/// Resolves `Auto` (and `DSPGD_BACKEND`) to a named backend for a workload;
/// `Tune` stays `Tune` unless the environment names a backend.
///
/// # Errors
/// `DSPGD_BACKEND` naming an unknown backend.
pub fn resolve_choice(choice: BackendChoice, w: Workload) -> Result<BackendChoice, Error> {
    let choice = match choice {
        BackendChoice::Auto | BackendChoice::Tune => env_override()?.unwrap_or(choice),
        named => named,
    };
    Ok(match choice {
        BackendChoice::Auto => auto_candidates(w)[0],
        other => other,
    })
}

/// Makes the backend for `choice` (`Auto` resolved for a generic small-k
/// primal workload; the solver resolves it for the actual shape).
///
/// # Errors
/// [`Error::BackendUnavailable`] when the backend is not compiled in, the CPU
/// lacks the forced SIMD level, or `DSPGD_BACKEND`/`DSPGD_SIMD` name an unknown one.
pub fn make_backend<T: Float>(choice: BackendChoice, threads: usize) -> Result<Box<dyn Backend<T>>, Error> {
    make_backend_for::<T>(choice, threads, Workload { n: 1000, d: 10000, k: 1, gram: false, elem_size: core::mem::size_of::<T>() })
}

/// Makes the backend for `choice` and a workload. `Tune` is treated as `Auto` here.
///
/// # Errors
/// As [`make_backend`].
pub fn make_backend_for<T: Float>(choice: BackendChoice, threads: usize, w: Workload) -> Result<Box<dyn Backend<T>>, Error> {
    let threads = resolve_threads(threads);
    match resolve_choice(choice, w)? {
        BackendChoice::Tune => T::named_backend(auto_candidates(w)[0], threads),
        named => T::named_backend(named, threads),
    }
}
