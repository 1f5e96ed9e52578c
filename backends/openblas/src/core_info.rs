//! What OpenBLAS runs on this machine: its core (kernel set), build
//! configuration and threads, and whether the core fits the CPU.

use crate::sys;
use core::ffi::{c_char, c_int, CStr};
use std::sync::OnceLock;

/// A string owned by OpenBLAS, copied.
fn owned(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: `p` is non-null and comes from `openblas_get_corename` or
    // `openblas_get_config`, which return pointers to NUL-terminated strings
    // in static storage of the library (never freed, never written after
    // start-up); it is read once here and copied into a `String`.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The name of the kernel set ("core") OpenBLAS selected for this CPU, e.g.
/// `"SkylakeX"`, `"Haswell"`, or `"Prescott"` when it does not recognise
/// the CPU (see the crate docs). Read once and cached.
pub fn core_name() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        // SAFETY: `openblas_get_corename` takes no arguments, has no
        // preconditions and returns a pointer to a static string (see `owned`).
        let p = unsafe { sys::openblas_get_corename() };
        owned(p).trim().to_string()
    })
    .clone()
}

/// OpenBLAS's build configuration, e.g. `"OpenBLAS 0.3.21 DYNAMIC_ARCH
/// NO_AFFINITY SkylakeX MAX_THREADS=64"`. Read once and cached.
pub fn config() -> String {
    static CONFIG: OnceLock<String> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            // SAFETY: `openblas_get_config` takes no arguments, has no
            // preconditions and returns a pointer to a static string (see `owned`).
            let p = unsafe { sys::openblas_get_config() };
            owned(p).trim().to_string()
        })
        .clone()
}

/// The number of threads OpenBLAS uses inside each call (process-wide).
pub fn num_threads() -> usize {
    // SAFETY: `openblas_get_num_threads` takes no arguments, has no
    // preconditions and only reads the library's thread setting.
    let n = unsafe { sys::openblas_get_num_threads() };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// Sets the number of threads OpenBLAS uses inside each call (process-wide;
/// values below 1 count as 1, values beyond `c_int` are clamped).
///
/// [`crate::OpenBlasBackend`] calls this itself; call it directly only when
/// using OpenBLAS outside a backend.
pub fn set_num_threads(threads: usize) {
    let n = c_int::try_from(threads.max(1)).unwrap_or(c_int::MAX);
    // SAFETY: `openblas_set_num_threads` accepts any positive count (OpenBLAS
    // clamps it to its compiled-in maximum and starts or parks its worker
    // threads as needed); it has no other preconditions.
    unsafe { sys::openblas_set_num_threads(n) }
}

/// The number of processors OpenBLAS detected at start-up.
pub fn num_procs() -> usize {
    // SAFETY: `openblas_get_num_procs` takes no arguments, has no
    // preconditions and returns a value fixed at start-up.
    let n = unsafe { sys::openblas_get_num_procs() };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// How this OpenBLAS build runs its threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Threading {
    /// A single-threaded build.
    Sequential,
    /// Its own pthreads pool (Debian's default `libopenblas0-pthread`).
    Pthreads,
    /// OpenMP (`libopenblas0-openmp`).
    OpenMp,
    /// A value this crate does not know.
    Unknown,
}

/// How this OpenBLAS build runs its threads.
pub fn threading() -> Threading {
    // SAFETY: `openblas_get_parallel` takes no arguments, has no
    // preconditions and returns a constant of the build.
    match unsafe { sys::openblas_get_parallel() } {
        0 => Threading::Sequential,
        1 => Threading::Pthreads,
        2 => Threading::OpenMp,
        _ => Threading::Unknown,
    }
}

/// The widest x86 vector instructions a CPU offers, or an OpenBLAS core's
/// kernels use. Ordered: `Baseline < Avx2 < Avx512`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Below AVX2+FMA (SSE to AVX, or not x86).
    Baseline,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 (F, BW, VL, DQ, CD as OpenBLAS's SkylakeX kernels need).
    Avx512,
}

impl SimdLevel {
    /// Lower-case name: `"baseline"`, `"avx2"`, `"avx512"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SimdLevel::Baseline => "baseline",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }
}

/// The vector level of this CPU, as far as OpenBLAS's kernels go (detected
/// by the standard library once, then cached).
pub fn cpu_level() -> SimdLevel {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let avx512 = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512cd");
        if avx512 {
            return SimdLevel::Avx512;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return SimdLevel::Avx2;
        }
    }
    SimdLevel::Baseline
}

/// The vector level of an x86 OpenBLAS core's kernels, or `None` for a name
/// this crate does not know (other architectures, future cores).
pub fn core_level(core: &str) -> Option<SimdLevel> {
    let c = core.trim().to_ascii_lowercase();
    let level = match c.as_str() {
        "skylakex" | "cooperlake" | "sapphirerapids" => SimdLevel::Avx512,
        "haswell" | "zen" | "skylake" => SimdLevel::Avx2,
        "katmai" | "coppermine" | "northwood" | "prescott" | "banias" | "atom" | "core2" | "penryn" | "dunnington"
        | "nehalem" | "athlon" | "opteron" | "opteron(sse3)" | "barcelona" | "bobcat" | "nano" | "sandybridge"
        | "bulldozer" | "piledriver" | "steamroller" | "excavator" | "generic" | "unknown" => SimdLevel::Baseline,
        _ => return None,
    };
    Some(level)
}

/// True when OpenBLAS fell back to a generic, pre-AVX2 core (`Prescott`,
/// `Core2`, `Nehalem`, `Sandybridge`, ...) although this CPU has AVX2+FMA or
/// AVX-512: it then runs several times below the machine's speed (see the
/// crate docs). False on CPUs without AVX2, for cores this crate does not
/// know, and off x86.
pub fn is_generic_core() -> bool {
    generic_for(&core_name(), cpu_level())
}

fn generic_for(core: &str, cpu: SimdLevel) -> bool {
    cpu >= SimdLevel::Avx2 && core_level(core) == Some(SimdLevel::Baseline)
}

/// The `OPENBLAS_CORETYPE` value that suits this CPU (`"SkylakeX"` with
/// AVX-512, `"Haswell"` with AVX2), or `None`.
pub fn suggested_coretype() -> Option<&'static str> {
    match cpu_level() {
        SimdLevel::Avx512 => Some("SkylakeX"),
        SimdLevel::Avx2 => Some("Haswell"),
        SimdLevel::Baseline => None,
    }
}

/// A one-paragraph warning when [`is_generic_core`] holds, for `dspgd info`
/// and reports; `None` when the core fits the CPU.
pub fn core_warning() -> Option<String> {
    if !is_generic_core() {
        return None;
    }
    let suggest = suggested_coretype().unwrap_or("SkylakeX");
    Some(format!(
        "OpenBLAS selected its generic '{}' kernels, but this CPU has {}: OpenBLAS products run several times \
         below the machine's speed. Prefer another backend, or start the process with \
         OPENBLAS_CORETYPE={suggest} set in the environment (it cannot be set from inside the program).",
        core_name(),
        cpu_level().as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_cores_are_recognised() {
        for c in ["Prescott", "Core2", "Nehalem", "Sandybridge", "prescott"] {
            assert!(generic_for(c, SimdLevel::Avx512), "{c}");
            assert!(generic_for(c, SimdLevel::Avx2), "{c}");
            assert!(!generic_for(c, SimdLevel::Baseline), "{c}");
        }
        for c in ["SkylakeX", "Haswell", "Zen", "Cooperlake", "NEOVERSEN1", ""] {
            assert!(!generic_for(c, SimdLevel::Avx512), "{c}");
        }
        assert_eq!(core_level("SkylakeX"), Some(SimdLevel::Avx512));
        assert_eq!(core_level("ARMV8"), None);
    }
}
