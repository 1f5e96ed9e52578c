//! Facts recorded at build time by build.rs, for `dspgd info` and reports.

/// What build.rs saw when this crate was compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    /// `rustc --version` of the compiler.
    pub rustc: &'static str,
    /// Target features enabled at compile time (comma-separated), e.g. by
    /// `-C target-cpu=native`; kernels built with them dispatch statically.
    pub target_features: &'static str,
    /// Backends compiled in (comma-separated).
    pub backends: &'static str,
    /// The Cargo profile (`release`, `debug`).
    pub profile: &'static str,
    /// This crate's version.
    pub version: &'static str,
}

/// The build facts of this binary.
pub const BUILD_INFO: BuildInfo = BuildInfo {
    rustc: env!("DSPGD_RUSTC_VERSION"),
    target_features: env!("DSPGD_TARGET_FEATURES"),
    backends: env!("DSPGD_BACKENDS"),
    profile: env!("DSPGD_PROFILE"),
    version: env!("CARGO_PKG_VERSION"),
};
