//! OpenBLAS's own control functions (beyond CBLAS), declared here, and the
//! link to the system library.
//!
//! The `#[link]` below is what links `libopenblas` into every program that
//! uses this crate; the CBLAS functions come from the same library through
//! the declarations of [`cblas_sys`]. These are the raw declarations; the
//! crate root wraps them in safe functions ([`crate::core_name`],
//! [`crate::set_num_threads`], ...).

use core::ffi::{c_char, c_int};

#[link(name = "openblas")]
extern "C" {
    /// Sets the number of threads OpenBLAS uses inside each call (process-wide).
    pub fn openblas_set_num_threads(num_threads: c_int);
    /// The number of threads OpenBLAS currently uses inside each call.
    pub fn openblas_get_num_threads() -> c_int;
    /// The number of processors OpenBLAS detected at start-up.
    pub fn openblas_get_num_procs() -> c_int;
    /// The name of the kernel set (the "core") OpenBLAS selected for this
    /// CPU, e.g. `"SkylakeX"` or `"Prescott"`: a pointer to a static,
    /// NUL-terminated string owned by the library.
    pub fn openblas_get_corename() -> *mut c_char;
    /// The build configuration, e.g. `"OpenBLAS 0.3.21 DYNAMIC_ARCH
    /// NO_AFFINITY SkylakeX MAX_THREADS=64"`: a pointer to a static,
    /// NUL-terminated string owned by the library.
    pub fn openblas_get_config() -> *mut c_char;
    /// How OpenBLAS parallelises: 0 sequential build, 1 pthreads, 2 OpenMP.
    pub fn openblas_get_parallel() -> c_int;
}
